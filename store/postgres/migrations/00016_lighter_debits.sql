-- +goose Up
-- What each debit writes, fewer pages of it (rule 8, docs/rules.md).
--
-- The daily rollups by day no longer carry the amount: an index entry that
-- holds it changes with every debit, which also kept every update of a
-- rollup from being a heap-only (HOT) update. Without it no index of the
-- rollups, balances or month counts changes when a debit adds to them, and
-- with room left on their pages (fillfactor) the update stays on the
-- row's page and writes no index entry at all.
DROP INDEX credit_usage_days_by_day;
CREATE INDEX credit_usage_days_by_day ON credit_usage_days (day, usage_path, type);
ALTER TABLE credit_usage_days SET (fillfactor = 70);
ALTER TABLE credit_usage_months SET (fillfactor = 70);
ALTER TABLE credit_balances SET (fillfactor = 50);
ALTER TABLE credit_month_usage SET (fillfactor = 50);

-- References by the reference first: references that grow (order numbers,
-- times, ULIDs) then land at the end of the index, on one page a batch,
-- where keyed by the account first each debit wrote a page in its
-- account's part of the index. Random references land at random either
-- way. The columns and the name are the same, so lookups and conflicts
-- are too (the migration's transaction holds every writer off meanwhile).
DROP INDEX credit_ledger_idempotency;
CREATE UNIQUE INDEX credit_ledger_idempotency ON credit_ledger (idempotency_key, usage_account_id)
    WHERE idempotency_key IS NOT NULL;

-- Entries by the account they credit, without the usage debits: those
-- credit the consumption book, which is no account and is never listed,
-- so every debit wrote an entry here that nothing reads. (A ledger
-- listing's credit half says kind <> 'usage' to use it.)
DROP INDEX credit_ledger_credit;
CREATE INDEX credit_ledger_credit ON credit_ledger (credit_account, id) WHERE kind <> 'usage';

-- +goose Down
DROP INDEX credit_ledger_credit;
CREATE INDEX credit_ledger_credit ON credit_ledger (credit_account, id);
DROP INDEX credit_ledger_idempotency;
CREATE UNIQUE INDEX credit_ledger_idempotency ON credit_ledger (usage_account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE credit_month_usage RESET (fillfactor);
ALTER TABLE credit_balances RESET (fillfactor);
ALTER TABLE credit_usage_months RESET (fillfactor);
ALTER TABLE credit_usage_days RESET (fillfactor);
DROP INDEX credit_usage_days_by_day;
CREATE INDEX credit_usage_days_by_day ON credit_usage_days (day, usage_path, type, amount);
