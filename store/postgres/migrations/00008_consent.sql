-- +goose Up
-- Consent across the tree (rules 2 and 9): delegated admin on invited
-- links, who suspended an account, which account made each API key, and
-- configuration namespaces that flow down to descendants.
ALTER TABLE accounts ADD COLUMN link_delegated_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN suspended_by TEXT;
-- The consent boundaries of a subtree (invited links without delegated
-- admin) are read from this index, not by scanning the subtree.
CREATE INDEX accounts_boundaries ON accounts (path) WHERE link_origin = 'invited' AND NOT link_delegated_admin;
ALTER TABLE invitations ADD COLUMN delegated_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN created_by_account TEXT;
ALTER TABLE account_configurations ADD COLUMN inheritable BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE account_configurations DROP COLUMN inheritable;
ALTER TABLE api_keys DROP COLUMN created_by_account;
ALTER TABLE invitations DROP COLUMN delegated_admin;
DROP INDEX accounts_boundaries;
ALTER TABLE accounts DROP COLUMN suspended_by;
ALTER TABLE accounts DROP COLUMN link_delegated_admin;
