package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func (t *tx) FindRecords(ctx context.Context, f store.RecordFilter) ([]*canopy.Record, error) {
	// A record's answer to the question whose id is the next argument, as
	// text (SQLite's and PostgreSQL's ->> agree on it), and as JSON.
	answers := t.db.dialect.JSON("answers")
	answerOf := `(` + answers + ` ->> CAST(? AS TEXT))`
	q := `SELECT ` + recordCols + ` FROM records WHERE form_id = ?`
	args := []any{f.FormID}
	if f.After != "" {
		if f.Desc {
			q += ` AND id < ?`
		} else {
			q += ` AND id > ?`
		}
		args = append(args, f.After)
	}
	if !f.From.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, f.From)
	}
	if !f.To.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, f.To)
	}
	order := ` ORDER BY id`
	if f.Desc {
		order += ` DESC`
	}
	var conds []string
	for _, a := range f.Answers {
		if a.Equals != "" {
			conds = append(conds, answerOf+` = ?`)
			args = append(args, a.QuestionID, a.Equals)
		}
		if a.Has != "" {
			conds = append(conds, t.db.dialect.JSONArrayHas(answers+` -> CAST(? AS TEXT)`))
			args = append(args, a.QuestionID, a.Has)
		}
		if a.From != "" {
			conds = append(conds, answerOf+` >= ?`)
			args = append(args, a.QuestionID, a.From)
		}
		if a.To != "" {
			conds = append(conds, answerOf+` <= ?`)
			args = append(args, a.QuestionID, a.To)
		}
	}
	if len(conds) > 0 {
		// The form's records in order, behind a fence, then the answers:
		// the planner cannot tell how many records an answer matches, and,
		// guessing few, PostgreSQL parsed every record of the form and
		// sorted them, where walking the form's index in order stops at
		// the page's last match (records-filtered on 1,000 records: 6.6 →
		// 1.3 ms).
		q = `SELECT * FROM (` + q + order + t.db.dialect.Fence() + `) AS r WHERE ` + strings.Join(conds, ` AND `) + order
	} else {
		q += order
	}
	q += ` LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scanRecord, q, args...)
}

func (t *tx) PaidUsage(ctx context.Context, accountID string, since time.Time, byMonth bool) ([]store.DayAmount, error) {
	period, from := `day`, canopy.DayOf(since)
	if byMonth {
		// Months from their first day: "2026-11" sorts before "2026-11-01".
		period, from = `substr(day, 1, 7)`, canopy.MonthOf(since)
	}
	return scanAll(ctx, t, func(r rowScanner) (store.DayAmount, error) {
		var d store.DayAmount
		err := r.Scan(&d.Day, &d.Type, &d.Amount)
		return d, err
	}, `SELECT `+period+`, type, sum(amount) FROM credit_payer_days WHERE account_id = ? AND day >= ?
		GROUP BY 1, 2 ORDER BY 1, 2`, accountID, from)
}

func (t *tx) CreditMoves(ctx context.Context, accountID string, since time.Time) ([]*canopy.LedgerEntry, error) {
	// Two halves, each on its own partial index: an account's own debits
	// are mostly usage, which the moves index leaves out.
	return scanAll(ctx, t, scanEntry, `SELECT * FROM (
			SELECT `+ledgerCols+` FROM credit_ledger WHERE credit_account = ? AND kind IN ('grant', 'transfer') AND at >= ?
			UNION ALL
			SELECT `+ledgerCols+` FROM credit_ledger WHERE debit_account = ? AND kind IN ('grant', 'transfer') AND at >= ?
		) AS m ORDER BY id`, accountID, since, accountID, since)
}

// customPlans makes the transaction's next statements planned for their
// arguments (see Dialect.CustomPlanSQL).
func (t *tx) customPlans(ctx context.Context) error {
	q := t.db.dialect.CustomPlanSQL()
	if q == "" || t.customPlanned {
		return nil
	}
	if _, err := t.exec(ctx, q); err != nil {
		return fmt.Errorf("custom plans: %w", err)
	}
	// A savepoint rolled back would undo it; outside a transaction it
	// lasts for nothing.
	t.customPlanned = t.tx != nil && t.depth == 0
	return nil
}
