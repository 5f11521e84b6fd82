-- +goose Up
-- Forms, their records and explicit shares (issue 5).
CREATE TABLE forms (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES accounts (id),
    -- The owner's path, kept in step with it on moves: the forms an account
    -- sees through the tree are one range of this index.
    owner_path  TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    questions   TEXT NOT NULL,
    example     INTEGER NOT NULL DEFAULT 0,
    copied_from TEXT,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX forms_owner_path ON forms (owner_path, id);
CREATE INDEX forms_owner ON forms (owner_id, id);
CREATE INDEX forms_examples ON forms (owner_id, id) WHERE example = 1;

-- An owner's explicit grant of a role on one form to one ancestor or
-- descendant; 'none' hides the form from an ancestor the tree would show
-- it to.
CREATE TABLE form_shares (
    form_id    TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('editor', 'dataManager', 'viewer', 'none')),
    -- The form's owner_path, kept in step with it: an account's shared
    -- forms come off form_shares_viewer in listing order, however many.
    owner_path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (form_id, account_id)
);
CREATE INDEX form_shares_account ON form_shares (account_id, form_id);
CREATE INDEX form_shares_viewer ON form_shares (account_id, owner_path, form_id);
-- Moves rewrite the paths of a subtree's shares by this index.
CREATE INDEX form_shares_owner_path ON form_shares (owner_path);

CREATE TABLE records (
    id         TEXT PRIMARY KEY,
    form_id    TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    answers    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX records_form ON records (form_id, id);

-- Accounts whose link shares nothing upward cut their subtree out of their
-- ancestors' form listings; listings find the cuts with this index.
CREATE INDEX accounts_share_cuts ON accounts (path) WHERE link_auto_share_role = 'none';

-- +goose Down
DROP INDEX accounts_share_cuts;
DROP TABLE records;
DROP TABLE form_shares;
DROP TABLE forms;
