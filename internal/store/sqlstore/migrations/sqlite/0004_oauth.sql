-- OpenID Connect provider: registered clients, remembered consent, and
-- grants. A grant is one authorization: its single-use code, then the family
-- of refresh tokens rotated from it; revoking the grant revokes them all.
-- Secrets, codes and refresh tokens are stored only as SHA-256 hashes.

CREATE TABLE oauth_client (
    id                        text NOT NULL PRIMARY KEY,
    name                      text NOT NULL,
    secret_hash               text,
    public                    integer NOT NULL DEFAULT 0,
    redirect_uris             text NOT NULL,
    post_logout_redirect_uris text NOT NULL,
    grant_types               text NOT NULL,
    scopes                    text NOT NULL,
    skip_consent              integer NOT NULL DEFAULT 0,
    disabled                  integer NOT NULL DEFAULT 0,
    access_token_ttl          integer,
    id_token_ttl              integer,
    refresh_token_ttl         integer,
    created_at                text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at                text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE oauth_consent (
    id         text NOT NULL PRIMARY KEY,
    client_id  text NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    scopes     text NOT NULL,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX oauth_consent_client_user_key ON oauth_consent (client_id, user_id);
CREATE INDEX oauth_consent_user_id_idx ON oauth_consent (user_id);

CREATE TABLE oauth_grant (
    id              text NOT NULL PRIMARY KEY,
    client_id       text NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    session_id      text,
    scopes          text NOT NULL,
    nonce           text,
    auth_time       text NOT NULL,
    redirect_uri    text NOT NULL,
    code_hash       text UNIQUE,
    code_challenge  text,
    code_expires_at text,
    code_used_at    text,
    revoked_at      text,
    created_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX oauth_grant_user_id_idx ON oauth_grant (user_id);
CREATE INDEX oauth_grant_session_id_idx ON oauth_grant (session_id);
CREATE INDEX oauth_grant_client_id_idx ON oauth_grant (client_id);

CREATE TABLE oauth_refresh_token (
    id         text NOT NULL PRIMARY KEY,
    grant_id   text NOT NULL REFERENCES oauth_grant (id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    expires_at text NOT NULL,
    used_at    text,
    created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX oauth_refresh_token_grant_id_idx ON oauth_refresh_token (grant_id);
CREATE INDEX oauth_refresh_token_expires_at_idx ON oauth_refresh_token (expires_at);
