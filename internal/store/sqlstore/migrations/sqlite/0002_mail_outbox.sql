-- Outgoing mail, written in the same transaction as the change that causes it
-- and sent by a worker, so a crash or an SMTP outage delays mail but never
-- loses it. Bodies are sealed (AES-GCM, key derived from AUTHER_SECRET)
-- because they carry sign-in links, and are cleared once the mail is sent.

CREATE TABLE mail_outbox (
    id              text    NOT NULL PRIMARY KEY,
    recipient       text    NOT NULL,
    subject         text    NOT NULL,
    body_text       text    NOT NULL,
    body_html       text    NOT NULL,
    status          text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at text    NOT NULL,
    locked_until    text,
    last_error      text,
    sent_at         text,
    created_at      text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);
