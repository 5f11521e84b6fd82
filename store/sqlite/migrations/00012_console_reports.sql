-- +goose Up
-- What the console's charts read fast.
--
-- Net usage per account path, credit type and UTC month, kept with the
-- daily rollups (every write to those writes here too): a year of usage
-- by two hundred children is 2,400 rows here, not 73,000 days.
CREATE TABLE credit_usage_months (
    usage_path TEXT NOT NULL,
    type       TEXT NOT NULL,
    month      TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (usage_path, type, month)
) WITHOUT ROWID;
INSERT INTO credit_usage_months (usage_path, type, month, amount)
    SELECT usage_path, type, substr(day, 1, 7), sum(amount) FROM credit_usage_days GROUP BY usage_path, type, substr(day, 1, 7);

-- Daily rollups by day first: the last 30 days of a subtree are 30 short
-- ranges here, however long its history.
CREATE INDEX credit_usage_days_by_day ON credit_usage_days (day, usage_path, type, amount);

-- The grants and transfers that move an account's balance, apart from its
-- many usage debits: a balance's history is these few entries and the
-- usage rollups.
CREATE INDEX credit_ledger_moves_in ON credit_ledger (credit_account, at) WHERE kind IN ('grant', 'transfer');
CREATE INDEX credit_ledger_moves_out ON credit_ledger (debit_account, at) WHERE kind IN ('grant', 'transfer');

-- +goose Down
DROP INDEX credit_ledger_moves_out;
DROP INDEX credit_ledger_moves_in;
DROP INDEX credit_usage_days_by_day;
DROP TABLE credit_usage_months;
