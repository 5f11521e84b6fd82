-- +goose Up
-- Credits: balances, the append-only double-entry ledger they always equal
-- the sum of, monthly caps on children and the usage counted against them
-- (issue 6).
CREATE TABLE credit_balances (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    type       TEXT NOT NULL,
    balance    BIGINT NOT NULL CHECK (balance >= 0),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, type)
);

CREATE TABLE credit_ledger (
    id               TEXT PRIMARY KEY,
    at               TIMESTAMPTZ NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('grant', 'transfer', 'usage', 'refund')),
    type             TEXT NOT NULL,
    amount           BIGINT NOT NULL CHECK (amount > 0),
    -- An account id, or the book 'issuance' / 'consumption'.
    debit_account    TEXT NOT NULL,
    credit_account   TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    usage_account_id TEXT,
    -- Where the usage account stood in the tree when it used the credits:
    -- usage rolls up per child by this path.
    usage_path       TEXT COLLATE "C",
    usage_ref        TEXT,
    idempotency_key  TEXT,
    request_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX credit_ledger_debit ON credit_ledger (debit_account, id);
CREATE INDEX credit_ledger_credit ON credit_ledger (credit_account, id);
-- Usage by time, for the parts of a report that are not whole days. It
-- only ever appends, where an index by usage path would write a random
-- page for every debit.
CREATE INDEX credit_ledger_usage_at ON credit_ledger (at) WHERE usage_path IS NOT NULL;

-- Net usage (usage less refunds) per account path, credit type and UTC
-- day, kept with each debit and refund: reports read whole days here.
-- Its rows are small and few (one per account and day), so a batch of
-- debits rewrites a handful of pages.
CREATE TABLE credit_usage_days (
    usage_path TEXT COLLATE "C" NOT NULL,
    type       TEXT NOT NULL,
    day        TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (usage_path, type, day)
);
-- A retried debit finds the first one here and is not charged again.
CREATE UNIQUE INDEX credit_ledger_idempotency ON credit_ledger (usage_account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- A cap an ancestor put on what an account (with its subtree) may draw
-- from the credits of an ancestor in one calendar month (UTC).
CREATE TABLE credit_limits (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    type       TEXT NOT NULL,
    monthly    BIGINT NOT NULL CHECK (monthly >= 0),
    set_by     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, type)
);

-- What a capped account's subtree drew in a month, kept with each debit.
CREATE TABLE credit_month_usage (
    account_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    month      TEXT NOT NULL,
    used       BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (account_id, type, month)
);

-- +goose Down
DROP TABLE credit_usage_days;
DROP TABLE credit_month_usage;
DROP TABLE credit_limits;
DROP TABLE credit_ledger;
DROP TABLE credit_balances;
