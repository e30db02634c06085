-- Lifecycle events and their webhook deliveries. An event is written in the
-- same transaction as the change that causes it, together with one delivery
-- row per subscribed, active endpoint; a worker sends deliveries and records
-- every attempt, so a crash or a receiver outage delays events but never
-- loses them.

CREATE TABLE webhook_endpoint (
    id                         text        PRIMARY KEY,
    url                        text        NOT NULL,
    description                text        NOT NULL DEFAULT '',
    secret                     text        NOT NULL, -- sealed
    previous_secret            text,                 -- sealed; signs too until it expires
    previous_secret_expires_at timestamptz,
    retry_policy               text        NOT NULL DEFAULT 'standard' CHECK (retry_policy IN ('none', 'standard')),
    disabled                   boolean     NOT NULL DEFAULT false,
    created_at                 timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at                 timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE webhook_subscription (
    endpoint_id text NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
    event_type  text NOT NULL, -- '*' for every type
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (endpoint_id, event_type)
);
CREATE INDEX webhook_subscription_type_idx ON webhook_subscription (event_type);

CREATE TABLE webhook_event (
    seq        bigserial   PRIMARY KEY,
    id         text        NOT NULL UNIQUE,
    type       text        NOT NULL,
    subject    text        NOT NULL, -- events of one subject are delivered in order
    payload    text        NOT NULL, -- the exact JSON body receivers get
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX webhook_event_updated_idx ON webhook_event (updated_at);

CREATE TABLE webhook_delivery (
    id               text        PRIMARY KEY,
    event_seq        bigint      NOT NULL REFERENCES webhook_event (seq) ON DELETE CASCADE,
    endpoint_id      text        NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
    subject          text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    retry_from       timestamptz NOT NULL,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- The hot queries only look at pending rows; partial indexes keep them fast
-- however many delivered rows are retained.
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_order_idx ON webhook_delivery (endpoint_id, subject, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_delivery_event_idx ON webhook_delivery (event_seq);
CREATE INDEX webhook_delivery_list_idx ON webhook_delivery (endpoint_id, event_seq);

CREATE TABLE webhook_attempt (
    id            text        PRIMARY KEY,
    delivery_id   text        NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    status_code   integer,
    error         text,
    duration_ms   integer     NOT NULL,
    response_body text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX webhook_attempt_delivery_idx ON webhook_attempt (delivery_id, created_at);
