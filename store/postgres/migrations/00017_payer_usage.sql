-- +goose Up
-- Net usage per paying account, credit type and UTC day (rule 8,
-- docs/rules.md): what each debit took from its payer's balance, less the
-- refunds given back to it, kept with the other usage rollups. A balance's
-- history is then its grants and transfers and these rows — a year of
-- days is a few hundred rows, however many accounts below it used credits.
-- Keyed by the day before the type: the last 30 days are one short range.
-- Every debit of a batch paid by one account adds to one row; with room
-- left on its page (fillfactor) the update stays there and writes no index
-- entry.
CREATE TABLE credit_payer_days (
    account_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    day        TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, type)
) WITH (fillfactor = 70);
-- The usage already in the ledger: a debit's payer is the account it
-- debits, a refund's the account it credits.
INSERT INTO credit_payer_days (account_id, type, day, amount)
    SELECT CASE kind WHEN 'usage' THEN debit_account ELSE credit_account END, type,
        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(CASE kind WHEN 'usage' THEN amount ELSE -amount END)
    FROM credit_ledger WHERE kind IN ('usage', 'refund') GROUP BY 1, 2, 3;

-- +goose Down
DROP TABLE credit_payer_days;
