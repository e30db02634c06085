-- Better Auth's core tables with snake_case columns.
-- Timestamps are ISO-8601 UTC text with milliseconds ("2026-01-02T03:04:05.000Z"),
-- as Better Auth writes them on SQLite; fixed width, so they compare as text.
-- Columns are declared text (not date) so the driver hands the text to Auther
-- unparsed; Auther parses this one fixed format itself, which is much cheaper.
-- Booleans are integers 0/1.

CREATE TABLE "user" (
    id             text    NOT NULL PRIMARY KEY,
    name           text    NOT NULL,
    email          text    NOT NULL UNIQUE,
    email_verified integer NOT NULL DEFAULT 0,
    image          text,
    created_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- token holds the SHA-256 (hex) of the session token, never the token.
CREATE TABLE session (
    id         text NOT NULL PRIMARY KEY,
    expires_at text NOT NULL,
    token      text NOT NULL UNIQUE,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ip_address text,
    user_agent text,
    user_id    text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE
);
CREATE INDEX session_user_id_idx ON session (user_id);
CREATE INDEX session_expires_at_idx ON session (expires_at);

CREATE TABLE account (
    id                       text NOT NULL PRIMARY KEY,
    account_id               text NOT NULL,
    provider_id              text NOT NULL,
    user_id                  text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    access_token             text,
    refresh_token            text,
    id_token                 text,
    access_token_expires_at  text,
    refresh_token_expires_at text,
    scope                    text,
    password                 text,
    created_at               text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX account_user_id_idx ON account (user_id);
CREATE UNIQUE INDEX account_provider_id_account_id_key ON account (provider_id, account_id);

-- No foreign key to "user" on purpose: a verification can exist before its user.
CREATE TABLE verification (
    id         text NOT NULL PRIMARY KEY,
    identifier text NOT NULL,
    value      text NOT NULL,
    expires_at text NOT NULL,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX verification_identifier_idx ON verification (identifier);
CREATE INDEX verification_expires_at_idx ON verification (expires_at);
