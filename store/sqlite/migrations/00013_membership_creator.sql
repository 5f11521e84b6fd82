-- +goose Up
-- Which account's credential made each membership, so that ending an
-- invited link removes the memberships the umbrella's side planted in the
-- sub-account (rule 9, docs/rules.md), as it revokes the keys it made.
ALTER TABLE memberships ADD COLUMN created_by_account TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE memberships DROP COLUMN created_by_account;
