package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func scanBalance(r rowScanner) (store.Balance, error) {
	var b store.Balance
	return b, r.Scan(&b.AccountID, &b.Type, &b.Balance)
}

func (t *tx) Balances(ctx context.Context, accountID string) ([]store.Balance, error) {
	return scanAll(ctx, t, scanBalance, `SELECT account_id, type, balance FROM credit_balances
		WHERE account_id = ? ORDER BY type`, accountID)
}

func (t *tx) AddCredits(ctx context.Context, accountID string, ct canopy.CreditType, amount int64, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO credit_balances (account_id, type, balance, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, type) DO UPDATE SET balance = credit_balances.balance + excluded.balance,
			updated_at = excluded.updated_at`, accountID, string(ct), amount, at)
	if err != nil {
		return fmt.Errorf("add credits: %w", err)
	}
	return nil
}

func (t *tx) TakeCredits(ctx context.Context, accountID string, ct canopy.CreditType, amount int64, at time.Time) (bool, int64, error) {
	// The condition and the change are one statement: two debits racing
	// for the last credit cannot both pass it.
	var balance int64
	err := t.queryRow(ctx, `UPDATE credit_balances SET balance = balance - ?, updated_at = ?
		WHERE account_id = ? AND type = ? AND balance >= ? RETURNING balance`, amount, at, accountID, string(ct), amount).Scan(&balance)
	if err == nil {
		return true, balance, nil
	}
	if err != sql.ErrNoRows {
		return false, 0, fmt.Errorf("take credits: %w", err)
	}
	err = t.queryRow(ctx, `SELECT balance FROM credit_balances WHERE account_id = ? AND type = ?`, accountID, string(ct)).Scan(&balance)
	if err != nil && err != sql.ErrNoRows {
		return false, 0, fmt.Errorf("read balance: %w", err)
	}
	return false, balance, nil
}

const ledgerCols = `id, at, kind, type, amount, debit_account, credit_account, reason,
	usage_account_id, usage_path, usage_ref, idempotency_key, request_id`

// ledgerColsL is ledgerCols of the ledger aliased l.
var ledgerColsL = prefixed("l.", ledgerCols)

func scanEntry(r rowScanner) (*canopy.LedgerEntry, error) {
	var (
		e                       canopy.LedgerEntry
		at                      dbTime
		usageAcc, path, ref, ik sql.NullString
	)
	if err := r.Scan(&e.ID, &at, &e.Kind, &e.Type, &e.Amount, &e.Debit, &e.Credit, &e.Reason,
		&usageAcc, &path, &ref, &ik, &e.RequestID); err != nil {
		return nil, err
	}
	e.At = at.T
	e.UsageAccountID, e.UsagePath, e.UsageRef, e.IdempotencyKey = usageAcc.String, canopy.Path(path.String), ref.String, ik.String
	return &e, nil
}

func (t *tx) InsertLedgerEntry(ctx context.Context, e *canopy.LedgerEntry) error {
	_, err := t.exec(ctx, `INSERT INTO credit_ledger (`+ledgerCols+`) VALUES (`+placeholders(13)+`)`,
		e.ID, e.At, string(e.Kind), string(e.Type), e.Amount, e.Debit, e.Credit, e.Reason,
		nullable(e.UsageAccountID), nullable(string(e.UsagePath)), nullable(e.UsageRef), nullable(e.IdempotencyKey), e.RequestID)
	if err != nil {
		return fmt.Errorf("insert ledger entry: %w", err)
	}
	return nil
}

// ledgerRowsPerStatement keeps a multi-row statement far below both
// engines' limits on bound parameters.
const ledgerRowsPerStatement = 128

func (t *tx) InsertLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) error {
	if t.db.dialect.Arrays() {
		if _, err := t.exec(ctx, ledgerInsertFromArrays, ledgerArrays(es)...); err != nil {
			return fmt.Errorf("insert ledger entries: %w", err)
		}
		return nil
	}
	for len(es) > 0 {
		// See Dialect.ExactRowCounts.
		n := t.rowsPerStatement(len(es), ledgerRowsPerStatement)
		if _, err := t.exec(ctx, `INSERT INTO credit_ledger (`+ledgerCols+`) VALUES `+rows(n, 13), ledgerArgs(es[:n])...); err != nil {
			return fmt.Errorf("insert ledger entries: %w", err)
		}
		es = es[n:]
	}
	return nil
}

// ledgerArgs are the arguments of es in a VALUES list, a row of 13 each.
func ledgerArgs(es []*canopy.LedgerEntry) []any {
	args := make([]any, 0, len(es)*13)
	for _, e := range es {
		args = append(args, e.ID, e.At, string(e.Kind), string(e.Type), e.Amount, e.Debit, e.Credit, e.Reason,
			nullable(e.UsageAccountID), nullable(string(e.UsagePath)), nullable(e.UsageRef), nullable(e.IdempotencyKey), e.RequestID)
	}
	return args
}

// ledgerInsertFromArrays inserts the entries of ledgerArrays' columns
// (see Dialect.Arrays); the usage columns' empty strings are NULLs, as
// nullable makes them in a VALUES list.
var ledgerInsertFromArrays = `INSERT INTO credit_ledger (` + ledgerCols + `)
	SELECT id, at, kind, type, amount, debit_account, credit_account, reason,
		NULLIF(usage_account_id, ''), NULLIF(usage_path, ''), NULLIF(usage_ref, ''), NULLIF(idempotency_key, ''), request_id
	FROM ` + unnest("TEXT", "TIMESTAMPTZ", "TEXT", "TEXT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT") + `
		AS e (` + ledgerCols + `)`

// ledgerArrays are es a column at a time, for ledgerInsertFromArrays.
func ledgerArrays(es []*canopy.LedgerEntry) []any {
	n := len(es)
	var (
		ids, kinds, types, debits, credits, reasons = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		accounts, paths, refs, keys, requests       = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ats                                         = make([]time.Time, n)
		amounts                                     = make([]int64, n)
	)
	for i, e := range es {
		ids[i], ats[i], kinds[i], types[i], amounts[i] = e.ID, e.At, string(e.Kind), string(e.Type), e.Amount
		debits[i], credits[i], reasons[i] = e.Debit, e.Credit, e.Reason
		accounts[i], paths[i], refs[i], keys[i], requests[i] = e.UsageAccountID, string(e.UsagePath), e.UsageRef, e.IdempotencyKey, e.RequestID
	}
	return []any{ids, ats, kinds, types, amounts, debits, credits, reasons, accounts, paths, refs, keys, requests}
}

func (t *tx) InsertNewLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) ([]string, error) {
	const onConflict = `
		ON CONFLICT (usage_account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id`
	scanID := func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}
	if t.db.dialect.Arrays() {
		// The statement answers with the entries it left out, rarely any,
		// rather than with every one it inserted (a row each to read).
		args := ledgerArrays(es)
		taken, err := scanAll(ctx, t, scanID, `WITH inserted AS (`+ledgerInsertFromArrays+onConflict+`)
			SELECT id FROM unnest(CAST(? AS TEXT[])) AS e (id) WHERE id NOT IN (SELECT id FROM inserted)`, append(args, args[0])...)
		if err != nil {
			return nil, fmt.Errorf("insert new ledger entries: %w", err)
		}
		return taken, nil
	}
	inserted := map[string]bool{}
	for rest := es; len(rest) > 0; {
		n := t.rowsPerStatement(len(rest), ledgerRowsPerStatement)
		ids, err := scanAll(ctx, t, scanID, `INSERT INTO credit_ledger (`+ledgerCols+`) VALUES `+rows(n, 13)+onConflict, ledgerArgs(rest[:n])...)
		if err != nil {
			return nil, fmt.Errorf("insert new ledger entries: %w", err)
		}
		for _, id := range ids {
			inserted[id] = true
		}
		rest = rest[n:]
	}
	var taken []string
	for _, e := range es {
		if !inserted[e.ID] {
			taken = append(taken, e.ID)
		}
	}
	return taken, nil
}

func (t *tx) LedgerEntriesByKeys(ctx context.Context, keys []store.LedgerKey) ([]*canopy.LedgerEntry, error) {
	if t.db.dialect.Arrays() {
		accounts, ks := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			accounts[i], ks[i] = k.UsageAccountID, k.Key
		}
		// Each key one probe of the idempotency index, however many there
		// are: PostgreSQL planned a plain join from the keys as a hash join
		// over the whole ledger once its statistics lagged behind a growing
		// table (6 ms a batch of 128 after 40,000 debits, 20 ms after
		// 120,000), and an OR of (account, key) equalities as one index
		// scan per term on every batch (2.4 ms a batch of 128). A lateral
		// subquery kept from the join probes once a key.
		es, err := scanAll(ctx, t, scanEntry, `SELECT `+ledgerColsL+` FROM `+unnest("TEXT", "TEXT")+` AS k (account, key)
			CROSS JOIN LATERAL (SELECT `+ledgerCols+` FROM credit_ledger
				WHERE usage_account_id = k.account AND idempotency_key = k.key AND idempotency_key IS NOT NULL`+
			t.db.dialect.ProbeEach()+`) l`, accounts, ks)
		if err != nil {
			return nil, fmt.Errorf("ledger entries by keys: %w", err)
		}
		return es, nil
	}
	var out []*canopy.LedgerEntry
	for len(keys) > 0 {
		// The keys are a list of rows the query starts from, each one probe
		// of the idempotency index. The list is padded to a power of two
		// with a pair no entry has (no account id is empty), so a few
		// statement texts serve every count and stay prepared.
		n := min(len(keys), ledgerRowsPerStatement)
		w := widthBucket(n)
		args := make([]any, 0, 2*w)
		for i := range w {
			if i < n {
				args = append(args, keys[i].UsageAccountID, keys[i].Key)
			} else {
				args = append(args, "", "")
			}
		}
		es, err := scanAll(ctx, t, scanEntry, `WITH k (account, key) AS (VALUES `+rows(w, 2)+`) SELECT `+ledgerColsL+` FROM k
			JOIN credit_ledger l ON l.usage_account_id = k.account AND l.idempotency_key = k.key AND l.idempotency_key IS NOT NULL`, args...)
		if err != nil {
			return nil, fmt.Errorf("ledger entries by keys: %w", err)
		}
		out = append(out, es...)
		keys = keys[n:]
	}
	return out, nil
}

func (t *tx) BalanceForUpdate(ctx context.Context, accountID string, ct canopy.CreditType) (int64, error) {
	var balance int64
	err := t.queryRow(ctx, `SELECT balance FROM credit_balances WHERE account_id = ? AND type = ?`+t.db.dialect.ForUpdate(),
		accountID, string(ct)).Scan(&balance)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read balance: %w", err)
	}
	return balance, nil
}

func (t *tx) GetLedgerEntry(ctx context.Context, id string) (*canopy.LedgerEntry, error) {
	e, err := scanEntry(t.queryRow(ctx, `SELECT `+ledgerCols+` FROM credit_ledger WHERE id = ?`, id))
	return e, t.db.mapErr(err)
}

func (t *tx) ListLedger(ctx context.Context, f store.LedgerFilter) ([]*canopy.LedgerEntry, error) {
	// One side at a time keeps each half an index range; UNION ALL cannot
	// repeat an entry because debit and credit accounts always differ.
	half := func(col string) (string, []any) {
		q := `SELECT ` + ledgerCols + ` FROM credit_ledger WHERE ` + col + ` = ?`
		if col == "credit_account" {
			// Usage credits the consumption book, never an account; saying
			// so lets the credit half use its partial index (migration 16).
			q += ` AND kind <> 'usage'`
		}
		args := []any{f.AccountID}
		if len(f.Counterparts) > 0 {
			other := "credit_account"
			if col == "credit_account" {
				other = "debit_account"
			}
			in, inArgs := padded(f.Counterparts)
			q += ` AND ` + other + ` IN (` + in + `)`
			args = append(args, inArgs...)
		}
		if f.Type != "" {
			q += ` AND type = ?`
			args = append(args, string(f.Type))
		}
		if f.Kind != "" {
			q += ` AND kind = ?`
			args = append(args, string(f.Kind))
		}
		if !f.From.IsZero() {
			q += ` AND at >= ?`
			args = append(args, f.From)
		}
		if !f.To.IsZero() {
			q += ` AND at < ?`
			args = append(args, f.To)
		}
		if f.Before != "" {
			q += ` AND id < ?`
			args = append(args, f.Before)
		}
		q += ` ORDER BY id DESC LIMIT ?`
		return q, append(args, f.Limit)
	}
	q1, a1 := half("debit_account")
	q2, a2 := half("credit_account")
	q := `SELECT * FROM (SELECT * FROM (` + q1 + `) AS d UNION ALL SELECT * FROM (` + q2 + `) AS c) AS e ORDER BY id DESC LIMIT ?`
	args := append(append(a1, a2...), f.Limit)
	return scanAll(ctx, t, scanEntry, q, args...)
}

func (t *tx) AddUsageDays(ctx context.Context, days []store.UsageDay) error {
	if len(days) == 0 {
		return nil
	}
	rollups := usageRollups(days)
	if t.db.dialect.Arrays() {
		// The three rollups in one statement, a round trip where they were
		// one a rollup (and a hundred rows).
		with, args := rollupsWith(rollups)
		// A data-modifying WITH runs to its end whether or not the
		// statement reads it.
		if _, err := t.exec(ctx, `WITH `+with+` SELECT 1`, args...); err != nil {
			return fmt.Errorf("add usage to the rollups: %w", err)
		}
		return nil
	}
	const chunk = 100
	for _, r := range rollups {
		batch := r.rows
		for len(batch) > 0 {
			n := min(len(batch), chunk)
			args := make([]any, 0, 4*n)
			for _, d := range batch[:n] {
				args = append(args, d.owner, string(d.t), d.period, d.amount)
			}
			if _, err := t.exec(ctx, r.upsert(`VALUES `+rows(n, 4)), args...); err != nil {
				return fmt.Errorf("add usage to %s: %w", r.table, err)
			}
			batch = batch[n:]
		}
	}
	return nil
}

func (t *tx) TakeCreditsForUsage(ctx context.Context, takes []store.CreditTake, at time.Time, days []store.UsageDay) ([]store.CreditTaken, error) {
	out := make([]store.CreditTaken, len(takes))
	if !t.db.dialect.Arrays() || len(takes) == 0 {
		for i, k := range takes {
			var err error
			if k.Amount == 0 {
				out[i].Balance, err = t.BalanceForUpdate(ctx, k.AccountID, k.Type)
				out[i].OK = true
			} else {
				out[i].OK, out[i].Balance, err = t.TakeCredits(ctx, k.AccountID, k.Type, k.Amount, at)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, t.AddUsageDays(ctx, days)
	}
	// One statement: a balance an UPDATE of its own, each read by the
	// statement in order, so that each is locked in the order given; the
	// rollups, which the statement does not read, after them.
	var with, reads []string
	var args []any
	for i, k := range takes {
		if k.Amount == 0 {
			with = append(with, fmt.Sprintf(`b%d AS (SELECT balance FROM credit_balances WHERE account_id = ? AND type = ?`+t.db.dialect.ForUpdate()+`)`, i))
			args = append(args, k.AccountID, string(k.Type))
		} else {
			with = append(with, fmt.Sprintf(`b%d AS (UPDATE credit_balances SET balance = balance - ?, updated_at = ?
				WHERE account_id = ? AND type = ? AND balance >= ? RETURNING balance)`, i))
			args = append(args, k.Amount, at, k.AccountID, string(k.Type), k.Amount)
		}
		reads = append(reads, fmt.Sprintf(`SELECT %d, balance FROM b%d`, i, i))
		out[i].OK = k.Amount == 0 // nothing always fits
	}
	if len(days) > 0 {
		w, a := rollupsWith(usageRollups(days))
		with = append(with, w)
		args = append(args, a...)
	}
	rows, err := t.query(ctx, `WITH `+strings.Join(with, ", ")+` `+strings.Join(reads, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("take credits for usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var balance int64
		if err := rows.Scan(&i, &balance); err != nil {
			return nil, fmt.Errorf("take credits for usage: %w", err)
		}
		out[i] = store.CreditTaken{OK: true, Balance: balance}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("take credits for usage: %w", err)
	}
	return out, nil
}

// usageRollups are the rows days add to each rollup. A statement may add
// to a row only once, so each rollup takes one row per key: the daily
// rollups per path, type and day, the monthly ones per path, type and
// month, the payers' per payer, type and day (in key order, the order
// concurrent batches lock them in).
func usageRollups(days []store.UsageDay) []rollup {
	byPayer := rollupRows(days, func(d store.UsageDay) (rollupRow, bool) {
		return rollupRow{d.Payer, d.Type, d.Day, 0}, d.Payer != ""
	})
	slices.SortFunc(byPayer, func(a, b rollupRow) int {
		return cmp.Or(cmp.Compare(a.owner, b.owner), cmp.Compare(a.period, b.period), cmp.Compare(a.t, b.t))
	})
	return []rollup{
		{"credit_usage_days", "usage_path", "day", rollupRows(days, func(d store.UsageDay) (rollupRow, bool) {
			return rollupRow{string(d.Path), d.Type, d.Day, 0}, true
		})},
		{"credit_usage_months", "usage_path", "month", rollupRows(days, func(d store.UsageDay) (rollupRow, bool) {
			return rollupRow{string(d.Path), d.Type, d.Day[:7], 0}, true
		})},
		{"credit_payer_days", "account_id", "day", byPayer},
	}
}

// rollupsWith is the WITH list (r0, r1 …) that adds to the rollups from
// arrays, on engines with Arrays, and its arguments.
func rollupsWith(rollups []rollup) (string, []any) {
	var with []string
	var args []any
	for i, r := range rollups {
		owners, types, periods, amounts := make([]string, len(r.rows)), make([]string, len(r.rows)), make([]string, len(r.rows)), make([]int64, len(r.rows))
		for j, row := range r.rows {
			owners[j], types[j], periods[j], amounts[j] = row.owner, string(row.t), row.period, row.amount
		}
		with = append(with, fmt.Sprintf("r%d AS (%s)", i, r.upsert(`SELECT * FROM `+unnest("TEXT", "TEXT", "TEXT", "BIGINT"))))
		args = append(args, owners, types, periods, amounts)
	}
	return strings.Join(with, ", "), args
}

// rollup is one usage rollup's table, its owner and period columns, and
// the rows to add to it.
type rollup struct {
	table, owner, col string
	rows              []rollupRow
}

// upsert adds the rows of source (owner, type, period, amount) to r's.
func (r rollup) upsert(source string) string {
	return `INSERT INTO ` + r.table + ` (` + r.owner + `, type, ` + r.col + `, amount) ` + source + `
		ON CONFLICT (` + r.owner + `, type, ` + r.col + `) DO UPDATE SET amount = ` + r.table + `.amount + excluded.amount`
}

// rollupRow is one row a rollup adds to: its owner (a usage path or a
// payer), credit type and period (a day or a month).
type rollupRow struct {
	owner  string
	t      canopy.CreditType
	period string
	amount int64
}

// rollupRows sums days into the rows key names, in the order their keys
// first come; key says false to leave a day out.
func rollupRows(days []store.UsageDay, key func(store.UsageDay) (rollupRow, bool)) []rollupRow {
	var out []rollupRow
	at := map[rollupRow]int{}
	for _, d := range days {
		k, ok := key(d)
		if !ok {
			continue
		}
		i, seen := at[k]
		if !seen {
			i = len(out)
			at[k] = i
			out = append(out, k)
		}
		out[i].amount += d.Amount
	}
	return out
}

// UsageByPrefix reads whole UTC months from the monthly rollups, whole
// days around them from the daily ones, and the parts of days at either
// end of [from, to) from the ledger, by time. Most of a month is read as
// the month less the days it does not take (see byMonthLess).
func (t *tx) UsageByPrefix(ctx context.Context, path canopy.Path, prefixLen int, from, to time.Time) ([]store.UsageRow, error) {
	from, to = from.UTC(), to.UTC()
	if err := t.customPlans(ctx); err != nil {
		return nil, err
	}
	type key struct {
		prefix canopy.Path
		t      canopy.CreditType
	}
	sums := map[key]int64{}
	// less holds the keys that days were taken from: one whose sum is then
	// zero had its usage on those days, and is left out as it would have
	// been had the period's days been read. (One that also used credits in
	// the period but had them all refunded in it is left out as well, where
	// the days listed it at 0.)
	less := map[key]bool{}
	sign := int64(1)
	scan := func(r rowScanner) (store.UsageRow, error) {
		var u store.UsageRow
		var p string
		err := r.Scan(&p, &u.Type, &u.Amount)
		u.Prefix = canopy.Path(p)
		return u, err
	}
	read := func(q string, args ...any) error {
		rows, err := scanAll(ctx, t, scan, q, args...)
		for _, r := range rows {
			k := key{r.Prefix, r.Type}
			sums[k] += sign * r.Amount
			if sign < 0 {
				less[k] = true
			}
		}
		return err
	}
	fromLedger := func(a, b time.Time) error {
		return read(`SELECT substr(usage_path, 1, ?), type, sum(CASE kind WHEN 'usage' THEN amount ELSE -amount END)
			FROM credit_ledger
			WHERE at >= ? AND at < ? AND usage_path IS NOT NULL AND usage_path >= ? AND usage_path < ?
			GROUP BY 1, 2`, prefixLen, a, b, string(path), string(path.SubtreeEnd()))
	}
	rollup := func(table, col string, a, b string) error {
		return read(`SELECT substr(usage_path, 1, ?), type, sum(amount) FROM `+table+`
			WHERE usage_path >= ? AND usage_path < ? AND `+col+` >= ? AND `+col+` < ?
			GROUP BY 1, 2`, prefixLen, string(path), string(path.SubtreeEnd()), a, b)
	}
	for _, p := range joined(byMonthLess(splitPeriod(from, to))) {
		var err error
		sign = 1
		if p.less {
			sign = -1
		}
		switch p.by {
		case "month":
			err = rollup("credit_usage_months", "month", canopy.MonthOf(p.from), canopy.MonthOf(p.to))
		case "day":
			err = rollup("credit_usage_days", "day", canopy.DayOf(p.from), canopy.DayOf(p.to))
		default:
			err = fromLedger(p.from, p.to)
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]store.UsageRow, 0, len(sums))
	for k, v := range sums {
		if v == 0 && less[k] {
			continue
		}
		out = append(out, store.UsageRow{Prefix: k.prefix, Type: k.t, Amount: v})
	}
	slices.SortFunc(out, func(a, b store.UsageRow) int {
		return cmp.Or(cmp.Compare(a.Prefix, b.Prefix), cmp.Compare(a.Type, b.Type))
	})
	return out, nil
}

// period is a part of a usage report's time range and where it is read:
// the monthly rollups ("month"), the daily ones ("day") or the ledger;
// less when it is taken away rather than added.
type period struct {
	from, to time.Time
	by       string
	less     bool
}

// byMonthLess reads the days of a month that a period takes, when they
// are most of it, as the month less the days it does not take: a row per
// path from the monthly rollups and the few other days, rather than a row
// per path and day. A report that ends today reads this month so, less
// the days still to come, which have no rows. (The monthly rollups take
// every amount the daily ones do, in the same transaction.)
func byMonthLess(periods []period) []period {
	var out []period
	for _, p := range periods {
		if p.by != "day" {
			out = append(out, p)
			continue
		}
		for a := p.from; a.Before(p.to); {
			month := time.Date(a.Year(), a.Month(), 1, 0, 0, 0, 0, time.UTC)
			next := month.AddDate(0, 1, 0)
			b := next
			if p.to.Before(b) {
				b = p.to
			}
			taken := b.Sub(a)
			if left := next.Sub(month) - taken; left < taken {
				out = append(out, period{month, next, "month", false})
				if month.Before(a) {
					out = append(out, period{month, a, "day", true})
				}
				if b.Before(next) {
					out = append(out, period{b, next, "day", true})
				}
			} else {
				out = append(out, period{a, b, "day", false})
			}
			a = b
		}
	}
	return out
}

// joined merges each period into the one before it when both are read
// the same way and meet: a year that ends this month is then one read of
// the monthly rollups, not the whole months and this month apart.
func joined(periods []period) []period {
	var out []period
	for _, p := range periods {
		if n := len(out); n > 0 && out[n-1].by == p.by && out[n-1].less == p.less && out[n-1].to.Equal(p.from) {
			out[n-1].to = p.to
			continue
		}
		out = append(out, p)
	}
	return out
}

// splitPeriod cuts [from, to) into the whole UTC months inside it, the
// whole days around them and the parts of days at either end.
func splitPeriod(from, to time.Time) []period {
	if !from.Before(to) {
		return nil
	}
	ceil := func(t time.Time, step func(time.Time) time.Time, floor func(time.Time) time.Time) time.Time {
		f := floor(t)
		if !f.Equal(t) {
			f = step(f)
		}
		return f
	}
	day := func(t time.Time) time.Time { return t.Truncate(24 * time.Hour) }
	nextDay := func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	month := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	nextMonth := func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	firstDay, lastDay := ceil(from, nextDay, day), day(to)
	if !firstDay.Before(lastDay) {
		return []period{{from: from, to: to, by: "ledger"}}
	}
	var out []period
	add := func(a, b time.Time, by string) {
		if a.Before(b) {
			out = append(out, period{from: a, to: b, by: by})
		}
	}
	add(from, firstDay, "ledger")
	firstMonth, lastMonth := ceil(firstDay, nextMonth, month), month(lastDay)
	if firstMonth.Before(lastMonth) {
		add(firstDay, firstMonth, "day")
		add(firstMonth, lastMonth, "month")
		add(lastMonth, lastDay, "day")
	} else {
		add(firstDay, lastDay, "day")
	}
	add(lastDay, to, "ledger")
	return out
}

func scanLimit(r rowScanner) (store.CreditLimit, error) {
	var (
		l  store.CreditLimit
		at dbTime
	)
	err := r.Scan(&l.AccountID, &l.Type, &l.Monthly, &l.SetBy, &at)
	l.UpdatedAt = at.T
	return l, err
}

const limitCols = `account_id, type, monthly, set_by, updated_at`

func (t *tx) CreditLimits(ctx context.Context, accountIDs []string, ct canopy.CreditType) ([]store.CreditLimit, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	args := []any{string(ct)}
	for _, id := range accountIDs {
		args = append(args, id)
	}
	return scanAll(ctx, t, scanLimit, `SELECT `+limitCols+` FROM credit_limits
		WHERE type = ? AND account_id IN (`+placeholders(len(accountIDs))+`)`, args...)
}

func (t *tx) PutCreditLimit(ctx context.Context, l *store.CreditLimit) error {
	_, err := t.exec(ctx, `INSERT INTO credit_limits (`+limitCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, type) DO UPDATE SET monthly = excluded.monthly, set_by = excluded.set_by,
			updated_at = excluded.updated_at`, l.AccountID, string(l.Type), l.Monthly, l.SetBy, l.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put credit limit: %w", err)
	}
	return nil
}

func (t *tx) DeleteCreditLimit(ctx context.Context, accountID string, ct canopy.CreditType) error {
	res, err := t.exec(ctx, `DELETE FROM credit_limits WHERE account_id = ? AND type = ?`, accountID, string(ct))
	if err != nil {
		return fmt.Errorf("delete credit limit: %w", err)
	}
	return expectOne(res)
}

func (t *tx) AddMonthUsage(ctx context.Context, accountID string, ct canopy.CreditType, month string, amount, max int64) (bool, int64, error) {
	if amount > max {
		used, err := t.MonthUsage(ctx, accountID, ct, month)
		return false, used, err
	}
	var used int64
	err := t.queryRow(ctx, `INSERT INTO credit_month_usage (account_id, type, month, used) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, type, month) DO UPDATE SET used = credit_month_usage.used + excluded.used
		WHERE credit_month_usage.used + excluded.used <= ? RETURNING used`, accountID, string(ct), month, amount, max).Scan(&used)
	if err == nil {
		return true, used, nil
	}
	if err != sql.ErrNoRows {
		return false, 0, fmt.Errorf("count month usage: %w", err)
	}
	used, err = t.MonthUsage(ctx, accountID, ct, month)
	return false, used, err
}

func (t *tx) ReturnMonthUsage(ctx context.Context, accountID string, ct canopy.CreditType, month string, amount int64) error {
	_, err := t.exec(ctx, `UPDATE credit_month_usage SET used = CASE WHEN used > ? THEN used - ? ELSE 0 END
		WHERE account_id = ? AND type = ? AND month = ?`, amount, amount, accountID, string(ct), month)
	if err != nil {
		return fmt.Errorf("return month usage: %w", err)
	}
	return nil
}

func (t *tx) SetMonthUsage(ctx context.Context, accountID string, ct canopy.CreditType, month string, used int64) error {
	_, err := t.exec(ctx, `INSERT INTO credit_month_usage (account_id, type, month, used) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, type, month) DO UPDATE SET used = excluded.used`, accountID, string(ct), month, used)
	if err != nil {
		return fmt.Errorf("set month usage: %w", err)
	}
	return nil
}

func (t *tx) MonthUsage(ctx context.Context, accountID string, ct canopy.CreditType, month string) (int64, error) {
	return t.monthUsage(ctx, "", accountID, ct, month)
}

func (t *tx) MonthUsageForUpdate(ctx context.Context, accountID string, ct canopy.CreditType, month string) (int64, error) {
	return t.monthUsage(ctx, t.db.dialect.ForUpdate(), accountID, ct, month)
}

func (t *tx) monthUsage(ctx context.Context, lock, accountID string, ct canopy.CreditType, month string) (int64, error) {
	var used int64
	err := t.queryRow(ctx, `SELECT used FROM credit_month_usage WHERE account_id = ? AND type = ? AND month = ?`+lock,
		accountID, string(ct), month).Scan(&used)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read month usage: %w", err)
	}
	return used, nil
}

func (t *tx) AllBalances(ctx context.Context) ([]store.Balance, error) {
	return scanAll(ctx, t, scanBalance, `SELECT account_id, type, balance FROM credit_balances ORDER BY account_id, type`)
}

func (t *tx) LedgerSums(ctx context.Context) ([]store.Balance, error) {
	return scanAll(ctx, t, scanBalance, `SELECT account, type, sum(delta) FROM (
			SELECT credit_account AS account, type, amount AS delta FROM credit_ledger
			UNION ALL
			SELECT debit_account, type, -amount FROM credit_ledger
		) AS sides GROUP BY account, type ORDER BY account, type`)
}

func (t *tx) PayerUsageTotals(ctx context.Context, fromLedger bool) ([]store.Balance, error) {
	q := `SELECT account_id, type, sum(amount) FROM credit_payer_days GROUP BY 1, 2 ORDER BY 1, 2`
	if fromLedger {
		q = `SELECT CASE kind WHEN 'usage' THEN debit_account ELSE credit_account END, type,
				sum(CASE kind WHEN 'usage' THEN amount ELSE -amount END)
			FROM credit_ledger WHERE kind IN ('usage', 'refund') GROUP BY 1, 2 ORDER BY 1, 2`
	}
	return scanAll(ctx, t, scanBalance, q)
}

func (t *tx) UsageTotals(ctx context.Context, fromLedger bool) ([]store.UsageRow, error) {
	q := `SELECT usage_path, type, sum(amount) FROM credit_usage_days GROUP BY 1, 2 ORDER BY 1, 2`
	if fromLedger {
		q = `SELECT usage_path, type, sum(CASE kind WHEN 'usage' THEN amount ELSE -amount END) FROM credit_ledger
			WHERE usage_path IS NOT NULL AND kind IN ('usage', 'refund') GROUP BY 1, 2 ORDER BY 1, 2`
	}
	return t.usageTotals(ctx, q)
}

func (t *tx) MonthlyUsageTotals(ctx context.Context) ([]store.UsageRow, error) {
	return t.usageTotals(ctx, `SELECT usage_path, type, sum(amount) FROM credit_usage_months GROUP BY 1, 2 ORDER BY 1, 2`)
}

func (t *tx) usageTotals(ctx context.Context, q string) ([]store.UsageRow, error) {
	return scanAll(ctx, t, func(r rowScanner) (store.UsageRow, error) {
		var u store.UsageRow
		var p string
		err := r.Scan(&p, &u.Type, &u.Amount)
		u.Prefix = canopy.Path(p)
		return u, err
	}, q)
}
