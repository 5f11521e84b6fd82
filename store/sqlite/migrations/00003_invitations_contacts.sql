-- +goose Up
-- Umbrella invitations and the contacts they can be sent from (issue 4).
CREATE TABLE invitations (
    id                 TEXT PRIMARY KEY,
    umbrella_id        TEXT NOT NULL REFERENCES accounts (id),
    umbrella_name      TEXT NOT NULL,
    -- Addressed to an account (invitee_account_id) or to a person (email);
    -- an email invitation gets its invitee account when it is accepted.
    invitee_account_id TEXT,
    email              TEXT NOT NULL DEFAULT '',
    email_norm         TEXT NOT NULL DEFAULT '',
    -- The account id or 'email:<address>': at most one pending invitation
    -- per umbrella and invitee.
    invitee_key        TEXT NOT NULL,
    first_name         TEXT NOT NULL DEFAULT '',
    last_name          TEXT NOT NULL DEFAULT '',
    mobile             TEXT NOT NULL DEFAULT '',
    message            TEXT NOT NULL DEFAULT '',
    auto_share_role    TEXT NOT NULL,
    billing            TEXT NOT NULL CHECK (billing IN ('parent', 'self')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    -- Hash of the sign-up link's token, for addresses with no account yet.
    token_hash         TEXT,
    contact_id         TEXT,
    expires_at         INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    responded_at       INTEGER
);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (umbrella_id, invitee_key) WHERE status = 'pending';
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX invitations_umbrella ON invitations (umbrella_id, id);
CREATE INDEX invitations_invitee ON invitations (invitee_account_id, id);
CREATE INDEX invitations_email ON invitations (email_norm, id);
CREATE INDEX invitations_due ON invitations (status, expires_at);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    mobile        TEXT NOT NULL DEFAULT '',
    notes         TEXT NOT NULL DEFAULT '',
    invitation_id TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_email ON contacts (account_id, email_norm);
CREATE INDEX contacts_account ON contacts (account_id, id);

-- +goose Down
DROP TABLE contacts;
DROP TABLE invitations;
