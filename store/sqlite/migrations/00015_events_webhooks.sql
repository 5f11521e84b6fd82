-- +goose Up
-- Events for integrations: every audited change (and a few facts no audit
-- event records, such as a balance running low) as a typed event, written
-- in the change's transaction. pending marks the events not yet fanned
-- out to webhook endpoints; the partial index keeps that queue small. Old
-- events and deliveries are pruned by id (ULIDs sort by time), so neither
-- needs an index by time.
CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    occurred_at      INTEGER NOT NULL,
    account_id       TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    actor_account_id TEXT NOT NULL DEFAULT '',
    target_type      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    request_id       TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT '{}',
    pending          INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID; -- one b-tree, by id, not a rowid table and its id index: each change writes one
CREATE INDEX events_account ON events (account_id, id);
CREATE INDEX events_pending ON events (id) WHERE pending;

-- Webhook endpoints: the signing secret is kept to sign with (it cannot
-- be a hash); the previous one signs too until its overlap ends.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    account_id                 TEXT NOT NULL REFERENCES accounts (id),
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    event_types                TEXT NOT NULL DEFAULT '[]',
    enabled                    INTEGER NOT NULL DEFAULT 1,
    disabled_reason            TEXT NOT NULL DEFAULT '',
    failing_since              INTEGER,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

-- One event on its way to one endpoint: a leased queue like the outbox.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_body       TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
