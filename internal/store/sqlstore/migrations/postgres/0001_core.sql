-- Better Auth's core tables with snake_case columns.
-- "user" is a reserved word in PostgreSQL and is always quoted.

CREATE TABLE "user" (
    id             text        PRIMARY KEY,
    name           text        NOT NULL,
    email          text        NOT NULL UNIQUE,
    email_verified boolean     NOT NULL DEFAULT false,
    image          text,
    created_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- token holds the SHA-256 (hex) of the session token, never the token.
CREATE TABLE session (
    id         text        PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    token      text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ip_address text,
    user_agent text,
    user_id    text        NOT NULL REFERENCES "user" (id) ON DELETE CASCADE
);
CREATE INDEX session_user_id_idx ON session (user_id);
CREATE INDEX session_expires_at_idx ON session (expires_at);

CREATE TABLE account (
    id                       text        PRIMARY KEY,
    account_id               text        NOT NULL,
    provider_id              text        NOT NULL,
    user_id                  text        NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    access_token             text,
    refresh_token            text,
    id_token                 text,
    access_token_expires_at  timestamptz,
    refresh_token_expires_at timestamptz,
    scope                    text,
    password                 text,
    created_at               timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at               timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX account_user_id_idx ON account (user_id);
CREATE UNIQUE INDEX account_provider_id_account_id_key ON account (provider_id, account_id);

-- No foreign key to "user" on purpose: a verification can exist before its user.
CREATE TABLE verification (
    id         text        PRIMARY KEY,
    identifier text        NOT NULL,
    value      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX verification_identifier_idx ON verification (identifier);
CREATE INDEX verification_expires_at_idx ON verification (expires_at);
