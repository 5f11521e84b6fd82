-- +goose Up
-- People and memberships (rule 11, docs/rules.md): a person has one login
-- (email, optional username, password, sessions); a membership puts a person
-- in an account with a role. Each old user becomes one person and one
-- membership with the same id, so usr_ ids, password hashes, sessions and
-- outstanding links keep working.
CREATE TABLE people (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL,
    email_norm          TEXT NOT NULL,
    -- Set when a link sent to the address is redeemed; null until then.
    email_verified_at   TIMESTAMPTZ,
    -- A change of address waiting for its confirmation link.
    pending_email       TEXT,
    pending_email_norm  TEXT,
    username            TEXT,
    username_norm       TEXT,
    name                TEXT NOT NULL DEFAULT '',
    password_hash       TEXT,
    password_changed_at TIMESTAMPTZ,
    last_login_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX people_email ON people (email_norm);
CREATE UNIQUE INDEX people_username ON people (username_norm) WHERE username_norm IS NOT NULL;

-- An address counts as verified when its user set a password from an
-- emailed link and the address has not been changed since (changes were
-- never confirmed before this migration). Usernames that look like an
-- address are dropped: a username can never be mistaken for an email.
INSERT INTO people (id, email, email_norm, email_verified_at, username, username_norm, name,
                    password_hash, password_changed_at, last_login_at, created_at, updated_at)
SELECT 'per_' || substr(u.id, 5), u.email, u.email_norm,
       CASE WHEN u.password_hash IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM audit_events e
                WHERE e.target_id = u.id AND e.action = 'user.updated'
                  AND e.details->>'email' IS NOT NULL
                  AND e.occurred_at >= COALESCE(u.password_changed_at, '-infinity'))
            THEN COALESCE(u.password_changed_at, u.updated_at) END,
       CASE WHEN strpos(u.username, '@') = 0 THEN u.username END,
       CASE WHEN strpos(u.username, '@') = 0 THEN u.username_norm END,
       u.name, u.password_hash, u.password_changed_at, u.last_login_at, u.created_at, u.updated_at
FROM users u;

-- A membership shows the email, username and name it was invited with until
-- the person joins; after that, the person's own.
CREATE TABLE memberships (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    person_id        TEXT NOT NULL REFERENCES people (id),
    role             TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    status           TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    is_master        BOOLEAN NOT NULL DEFAULT FALSE,
    invited_email    TEXT NOT NULL,
    invited_username TEXT NOT NULL DEFAULT '',
    invited_name     TEXT NOT NULL DEFAULT '',
    -- When the person joined (set a password from the invitation, or
    -- accepted it); a disabled membership enabled again returns to
    -- active only if it had joined.
    joined_at        TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX memberships_person_account ON memberships (person_id, account_id);
CREATE INDEX memberships_account ON memberships (account_id, id);
INSERT INTO memberships (id, account_id, person_id, role, status, is_master, invited_email, invited_username,
                         invited_name, joined_at, created_at, updated_at)
SELECT id, account_id, 'per_' || substr(id, 5), role, status, is_master, email,
       CASE WHEN strpos(username, '@') = 0 THEN username ELSE '' END, name,
       CASE WHEN password_hash IS NOT NULL THEN COALESCE(password_changed_at, updated_at) END, created_at, updated_at
FROM users;

-- One-time links belong to a person and name the address they were sent to
-- and, for welcome and invitation emails, the membership they answer.
CREATE TABLE person_tokens (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    membership_id TEXT,
    purpose       TEXT NOT NULL CHECK (purpose IN ('set-password', 'reset', 'email-change')),
    email_norm    TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);
CREATE UNIQUE INDEX person_tokens_hash ON person_tokens (token_hash);
CREATE INDEX person_tokens_person ON person_tokens (person_id);
INSERT INTO person_tokens (id, person_id, membership_id, purpose, email_norm, token_hash, created_at, expires_at, used_at)
SELECT t.id, 'per_' || substr(t.user_id, 5), t.user_id, t.purpose, u.email_norm, t.token_hash, t.created_at,
       t.expires_at, t.used_at
FROM user_tokens t JOIN users u ON u.id = t.user_id;
DROP TABLE user_tokens;

-- Sessions belong to a person; membership_id is the account they signed in
-- to, which requests act as when they name no other.
CREATE TABLE person_sessions (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    membership_id TEXT,
    token_hash    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
INSERT INTO person_sessions (id, person_id, membership_id, token_hash, created_at, expires_at, last_seen_at, revoked_at)
SELECT id, 'per_' || substr(user_id, 5), user_id, token_hash, created_at, expires_at, last_seen_at, revoked_at
FROM sessions;
DROP TABLE sessions;
ALTER TABLE person_sessions RENAME TO sessions;
CREATE UNIQUE INDEX sessions_hash ON sessions (token_hash);
CREATE INDEX sessions_person ON sessions (person_id);

DROP TABLE users;

-- The audit trail names the account of the credential that acted, apart
-- from the account it acted as, so an action on another's behalf shows.
ALTER TABLE audit_events ADD COLUMN actor_account_id TEXT NOT NULL DEFAULT '';

-- Idempotent replays go only to the credential that made the request.
ALTER TABLE idempotency_keys ADD COLUMN credential TEXT NOT NULL DEFAULT '';

-- Outbound email counted per account and day, for the quotas by plan.
CREATE TABLE email_counts (
    account_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    sent       INTEGER NOT NULL,
    PRIMARY KEY (account_id, day)
);

-- Password resets asked for by address: the request writes one row and
-- answers at once, known address or not; the worker decides later.
CREATE TABLE reset_requests (
    id         TEXT PRIMARY KEY,
    email_norm TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Installation-wide secrets (the key that signs list cursors), made once.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
-- Irreversible: a person may hold several memberships by now, which the old
-- users table cannot express. Restore a backup taken before the upgrade.
