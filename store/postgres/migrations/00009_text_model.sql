-- +goose Up
-- Failed sign-ins are counted under a fixed-size digest of the normalised
-- login, not the login itself: a login of a few kilobytes no longer
-- overflows the primary key's index (a 500 on a public endpoint). Counts
-- kept under raw logins are throttling state that expires within minutes;
-- they are dropped rather than rehashed.
DELETE FROM login_attempts;

-- Record answers are kept as the text the service wrote, as SQLite keeps
-- them: JSONB rewrote numbers (1e3 as 1000), escapes and key order, so the
-- two engines answered the same record differently, and a PATCH that
-- changed nothing looked like a change on PostgreSQL only.
ALTER TABLE records ALTER COLUMN answers TYPE TEXT USING answers::text;

-- +goose Down
ALTER TABLE records ALTER COLUMN answers TYPE JSONB USING answers::jsonb;
