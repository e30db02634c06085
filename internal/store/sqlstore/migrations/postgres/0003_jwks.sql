-- Token signing keys. The newest key signs; a rotated key keeps being
-- published (expires_at = when it stops) until every token it signed has
-- expired. private_key is sealed (AES-GCM, key derived from AUTHER_SECRET).
CREATE TABLE jwks (
    id          text        PRIMARY KEY,
    alg         text        NOT NULL,
    crv         text,
    public_key  text        NOT NULL,
    private_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at  timestamptz
);
CREATE INDEX jwks_created_at_idx ON jwks (created_at);
