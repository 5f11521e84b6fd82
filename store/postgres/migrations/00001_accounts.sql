-- +goose Up
-- Structural changes to the tree (moves, reparenting closes, accepted
-- invitations) take this row's lock so that they never interleave.
CREATE TABLE tree_lock (id INTEGER PRIMARY KEY CHECK (id = 1));
INSERT INTO tree_lock (id) VALUES (1);

CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    parent_id            TEXT REFERENCES accounts (id),
    path                 TEXT COLLATE "C" NOT NULL,
    depth                INTEGER NOT NULL,
    name                 TEXT NOT NULL,
    email                TEXT NOT NULL DEFAULT '',
    plan                 TEXT NOT NULL CHECK (plan IN ('basic', 'pro', 'enterprise')),
    status               TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    metadata             JSONB NOT NULL DEFAULT '{}',
    link_origin          TEXT CHECK (link_origin IN ('created', 'invited')),
    link_auto_share_role TEXT,
    link_billing         TEXT CHECK (link_billing IN ('parent', 'self')),
    linked_at            TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    closed_at            TIMESTAMPTZ
);
-- The subtree of an account is a range of paths: this index serves
-- descendants, subtree checks and moves.
CREATE UNIQUE INDEX accounts_path ON accounts (path);
CREATE INDEX accounts_parent ON accounts (parent_id, id);
-- Depth-limited listings read one path range per level from this index, so
-- their cost follows depth × page size, not the size of the subtree.
CREATE INDEX accounts_depth_path ON accounts (depth, path);
-- Exactly one platform root.
CREATE UNIQUE INDEX accounts_one_root ON accounts ((parent_id IS NULL)) WHERE parent_id IS NULL;

CREATE TABLE account_workflows (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- Namespaces compare bytewise ("C"), as in SQLite, whatever the database's
-- locale: ICU and glibc locales would order '_' before '-' and '.'.
CREATE TABLE account_configurations (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    namespace  TEXT COLLATE "C" NOT NULL,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, namespace)
);

CREATE TABLE external_references (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    parent_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    metadata    JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX external_references_scope ON external_references (parent_id, type, value);
CREATE INDEX external_references_lookup ON external_references (type, value);
CREATE INDEX external_references_account ON external_references (account_id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL,
    username      TEXT NOT NULL,
    username_norm TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    status        TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    is_master     BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email_norm);
CREATE UNIQUE INDEX users_username ON users (username_norm);
CREATE INDEX users_account ON users (account_id, id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL DEFAULT '',
    prefix      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_account ON api_keys (account_id, id);

CREATE TABLE audit_events (
    id                TEXT PRIMARY KEY,
    occurred_at       TIMESTAMPTZ NOT NULL,
    account_id        TEXT NOT NULL,
    acting_account_id TEXT NOT NULL,
    actor_type        TEXT NOT NULL,
    actor_id          TEXT NOT NULL,
    action            TEXT NOT NULL,
    target_type       TEXT NOT NULL,
    target_id         TEXT NOT NULL,
    channel           TEXT NOT NULL DEFAULT '',
    username          TEXT NOT NULL DEFAULT '',
    request_id        TEXT NOT NULL DEFAULT '',
    details           JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    user_id         TEXT,
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    data            JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_account ON outbox (account_id, id);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body        BYTEA NOT NULL,
    location    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE external_references;
DROP TABLE account_configurations;
DROP TABLE account_workflows;
DROP TABLE accounts;
DROP TABLE tree_lock;
