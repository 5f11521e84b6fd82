-- +goose Up
-- Credentials, one-time tokens, sessions and login throttling (issue 3),
-- and leases so that outbox rows are delivered by one worker at a time.
ALTER TABLE users ADD COLUMN password_changed_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;

-- One-time links (set-password, reset): only a hash of the token is kept.
CREATE TABLE user_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('set-password', 'reset')),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX user_tokens_hash ON user_tokens (token_hash);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX sessions_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins per login string, whether or not a user has it, so that
-- throttling never tells who exists.
CREATE TABLE login_attempts (
    login_norm      TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ
);

ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE outbox DROP COLUMN claimed_until;
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE user_tokens;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN password_changed_at;
