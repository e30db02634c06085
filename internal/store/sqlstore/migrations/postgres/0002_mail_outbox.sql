-- Outgoing mail, written in the same transaction as the change that causes it
-- and sent by a worker, so a crash or an SMTP outage delays mail but never
-- loses it. Bodies are sealed (AES-GCM, key derived from AUTHER_SECRET)
-- because they carry sign-in links, and are cleared once the mail is sent.

CREATE TABLE mail_outbox (
    id              text        PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    body_html       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);
