-- +goose Up
-- What the console's charts read fast: the grants and transfers that move
-- an account's balance, apart from its many usage debits, so that a
-- balance's history is these few entries and the daily usage rollups.
CREATE INDEX credit_ledger_moves_in ON credit_ledger (credit_account, at) WHERE kind IN ('grant', 'transfer');
CREATE INDEX credit_ledger_moves_out ON credit_ledger (debit_account, at) WHERE kind IN ('grant', 'transfer');

-- +goose Down
DROP INDEX credit_ledger_moves_out;
DROP INDEX credit_ledger_moves_in;
