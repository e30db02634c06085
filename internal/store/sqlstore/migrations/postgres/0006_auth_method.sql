-- How a session was signed in ("pwd" password, "otp" a one-time link or code
-- sent by email), carried into OAuth grants so ID tokens tell relying
-- parties the truth in their amr claim (RFC 8176).
ALTER TABLE session ADD COLUMN auth_method text;
ALTER TABLE oauth_grant ADD COLUMN amr text;
