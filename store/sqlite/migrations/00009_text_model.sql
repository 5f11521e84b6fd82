-- +goose Up
-- Failed sign-ins are counted under a fixed-size digest of the normalised
-- login, not the login itself (see the PostgreSQL migration of the same
-- number). Counts kept under raw logins are throttling state that expires
-- within minutes; they are dropped rather than rehashed. Record answers
-- are TEXT here already.
DELETE FROM login_attempts;

-- +goose Down
SELECT 1;
