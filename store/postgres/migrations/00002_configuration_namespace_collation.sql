-- +goose Up
-- ListConfigurations orders by namespace. Under the database's default
-- collation that order depends on how the database was created (ICU and
-- glibc locales put '_' before '-' and '.', or ignore punctuation), while
-- SQLite compares bytes. "C" makes PostgreSQL compare bytes too, whatever
-- the database's locale, as accounts.path already does.
ALTER TABLE account_configurations ALTER COLUMN namespace TYPE TEXT COLLATE "C";

-- +goose Down
ALTER TABLE account_configurations ALTER COLUMN namespace TYPE TEXT COLLATE "default";
