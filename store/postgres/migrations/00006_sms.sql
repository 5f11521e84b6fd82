-- +goose Up
-- The SMS outbox (issue 6, SMS sharing): messages queued in the same
-- transaction that charged their message credits, delivered by a leased
-- worker with retries, refunded to their payer when they finally fail.
CREATE TABLE sms_outbox (
    id              TEXT PRIMARY KEY,
    batch_id        TEXT NOT NULL,
    form_id         TEXT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    recipient       TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('structured', 'interactive')),
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    provider_id     TEXT NOT NULL DEFAULT '',
    -- The usage entry that paid for the message and the account it
    -- debited: a failed message is refunded to that account.
    charge_entry_id TEXT NOT NULL,
    payer_id        TEXT NOT NULL,
    refund_entry_id TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX sms_outbox_due ON sms_outbox (status, next_attempt_at);
CREATE INDEX sms_outbox_account ON sms_outbox (account_id, id);
CREATE INDEX sms_outbox_batch ON sms_outbox (batch_id);

-- +goose Down
DROP TABLE sms_outbox;
