package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const formCols = `id, owner_id, owner_path, name, description, questions, example, copied_from, version, created_at, updated_at`

func scanForm(r rowScanner) (*canopy.Form, error) {
	f, questions, err := scanListedForm(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(questions, &f.Questions); err != nil {
		return nil, fmt.Errorf("form %s questions: %w", f.ID, err)
	}
	if f.Questions == nil {
		f.Questions = []canopy.Question{}
	}
	return f, nil
}

// scanListedForm scans formCols, then extra, leaving the questions as
// stored: listings pass them on undecoded.
func scanListedForm(r rowScanner, extra ...any) (*canopy.Form, []byte, error) {
	var (
		f                canopy.Form
		path             string
		questions        []byte
		copied           sql.NullString
		created, updated dbTime
	)
	dest := append([]any{&f.ID, &f.OwnerID, &path, &f.Name, &f.Description, &questions, &f.Example, &copied, &f.Version, &created, &updated}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, nil, err
	}
	f.OwnerPath, f.CopiedFrom, f.CreatedAt, f.UpdatedAt = canopy.Path(path), copied.String, created.T, updated.T
	return &f, questions, nil
}

// scanListed scans a listing's row (formCols, then extra) into a
// store.ListedForm whose questions are JSON without HTML escapes, as the
// API writes it. SQLite keeps what json.Marshal wrote, which escapes <, >
// and & — rare in a definition, so such a one is decoded and written
// again. PostgreSQL prints JSONB with a space after each colon and comma,
// which JSON allows and which is left as it is: compacting every row cost
// more than the rest of its listing.
func scanListed(r rowScanner, extra ...any) (store.ListedForm, error) {
	f, qs, err := scanListedForm(r, extra...)
	if err != nil {
		return store.ListedForm{}, err
	}
	if bytes.Contains(qs, []byte(`\u00`)) {
		var questions []canopy.Question
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := json.Unmarshal(qs, &questions); err == nil {
			err = enc.Encode(questions)
		}
		if err != nil {
			return store.ListedForm{}, fmt.Errorf("form %s questions: %w", f.ID, err)
		}
		qs = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	return store.ListedForm{Form: f, Questions: qs}, nil
}

func questionsJSON(qs []canopy.Question) (string, error) {
	if qs == nil {
		qs = []canopy.Question{}
	}
	b, err := json.Marshal(qs)
	return string(b), err
}

func (t *tx) InsertForm(ctx context.Context, f *canopy.Form) error {
	qs, err := questionsJSON(f.Questions)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO forms (`+formCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.OwnerID, string(f.OwnerPath), f.Name, f.Description, qs, f.Example, nullable(f.CopiedFrom), f.Version, f.CreatedAt, f.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert form: %w", err)
	}
	return nil
}

func (t *tx) GetForm(ctx context.Context, id string) (*canopy.Form, error) {
	f, err := scanForm(t.queryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = ?`, id))
	return f, t.db.mapErr(err)
}

func (t *tx) GetFormFor(ctx context.Context, id, viewer string) (*store.FormFor, error) {
	var role, path sql.NullString
	f, err := scanForm(rowFunc(func(dest ...any) error {
		return t.queryRow(ctx, `SELECT `+prefixed("f.", formCols)+`, s.role,
				(SELECT path FROM accounts WHERE id = ?)
			FROM forms f LEFT JOIN form_shares s ON s.form_id = f.id AND s.account_id = ? WHERE f.id = ?`, viewer, viewer, id).
			Scan(append(dest, &role, &path)...)
	}))
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	out := &store.FormFor{Form: f, ViewerPath: canopy.Path(path.String)}
	if role.Valid {
		r := canopy.Role(role.String)
		out.Explicit = &r
	}
	return out, nil
}

// rowFunc adapts a scan with extra columns to a rowScanner.
type rowFunc func(dest ...any) error

func (r rowFunc) Scan(dest ...any) error { return r(dest...) }

func (t *tx) UpdateForm(ctx context.Context, f *canopy.Form, fromVersion int) error {
	qs, err := questionsJSON(f.Questions)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE forms SET name = ?, description = ?, questions = ?, example = ?, version = ?, updated_at = ?
		WHERE id = ? AND version = ?`, f.Name, f.Description, qs, f.Example, f.Version, f.UpdatedAt, f.ID, fromVersion)
	if err != nil {
		return fmt.Errorf("update form: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteForm(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM forms WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete form: %w", err)
	}
	return expectOne(res)
}

// pathRange is a half-open range [lo, hi) of owner paths — (lo, hi) when
// strict — or with no hi the one path lo.
type pathRange struct {
	lo, hi string
	strict bool
}

// where is the range as a condition on col.
func (r pathRange) where(col string) (string, []any) {
	switch {
	case r.hi == "":
		return col + ` = ?`, []any{r.lo}
	case r.strict:
		return col + ` > ? AND ` + col + ` < ?`, []any{r.lo, r.hi}
	default:
		return col + ` >= ? AND ` + col + ` < ?`, []any{r.lo, r.hi}
	}
}

// without takes the one path p out of ranges: a listing that leaves out an
// owner's forms is then still plain range scans of the path index, with
// no probe of each row's owner.
func without(ranges []pathRange, p string) []pathRange {
	if p == "" {
		return ranges
	}
	out := ranges[:0:0]
	for _, r := range ranges {
		switch {
		case r.hi == "" && r.lo == p:
		case r.hi == "" || p < r.lo || p >= r.hi || (p == r.lo && r.strict):
			out = append(out, r)
		case p == r.lo:
			out = append(out, pathRange{lo: r.lo, hi: r.hi, strict: true})
		default:
			out = append(out, pathRange{lo: r.lo, hi: p, strict: r.strict}, pathRange{lo: p, hi: r.hi, strict: true})
		}
	}
	return out
}

// visibleRanges splits a subtree listing into the ranges of owner paths
// between its cuts, in order, from the cursor on. One range per statement
// keeps every statement a plain range scan of the path index: written as
// one statement with a NOT clause per cut, PostgreSQL multiplies the cuts'
// selectivities, expects no rows and picks a full scan and a sort (1.3 s
// instead of milliseconds with a hundred cuts).
func visibleRanges(q store.SubtreeForms) []pathRange {
	return without(subtreeRanges(q), string(q.ExcludeOwnerPath))
}

func subtreeRanges(q store.SubtreeForms) []pathRange {
	lo, hi := string(q.Path), string(q.Path.SubtreeEnd())
	if q.OwnerID != "" {
		// Exactly the owner's path, unless a cut hides it or the cursor
		// is past it.
		for _, c := range q.Cuts {
			if strings.HasPrefix(lo, string(c)) {
				return nil
			}
		}
		if string(q.After.OwnerPath) > lo {
			return nil
		}
		return []pathRange{{lo: lo}}
	}
	if after := string(q.After.OwnerPath); after > lo {
		lo = after
	}
	var out []pathRange
	for _, c := range q.Cuts { // sorted, none inside another
		cut, cutEnd := string(c), string(c.SubtreeEnd())
		if cutEnd <= lo {
			continue
		}
		if cut >= hi {
			break
		}
		if cut > lo {
			out = append(out, pathRange{lo: lo, hi: cut})
		}
		lo = cutEnd
	}
	if lo < hi {
		out = append(out, pathRange{lo: lo, hi: hi})
	}
	return out
}

// subtreeWhere is the filter of one range of a subtree listing, after the
// cursor.
func (t *tx) subtreeWhere(q store.SubtreeForms, r pathRange) (string, []any) {
	cond, args := r.where(`f.owner_path`)
	conds := []string{cond}
	if q.OwnerID != "" {
		conds = append(conds, `f.owner_id = ?`)
		args = append(args, q.OwnerID)
	}
	if q.Example != nil {
		conds = append(conds, `f.example = ?`)
		args = append(args, *q.Example)
	}
	if q.After.ID != "" && r.lo == string(q.After.OwnerPath) {
		conds = append(conds, `(f.owner_path > ? OR f.id > ?)`)
		args = append(args, r.lo, q.After.ID)
	}
	if q.Viewer != "" {
		conds = append(conds, `NOT EXISTS (SELECT 1 FROM form_shares s WHERE s.form_id = f.id AND s.account_id = ?`+t.db.dialect.ProbeEach()+`)`)
		args = append(args, q.Viewer)
	}
	return strings.Join(conds, ` AND `), args
}

func (t *tx) ListSubtreeForms(ctx context.Context, q store.SubtreeForms) ([]store.ListedForm, error) {
	var out []store.ListedForm
	for _, r := range visibleRanges(q) {
		if len(out) >= q.Limit {
			break
		}
		where, args := t.subtreeWhere(q, r)
		args = append(args, q.Limit-len(out))
		forms, err := scanAll(ctx, t, func(r rowScanner) (store.ListedForm, error) { return scanListed(r) }, `SELECT `+listedFormCols+` FROM forms f WHERE `+where+` ORDER BY f.owner_path, f.id LIMIT ?`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, forms...)
	}
	return out, nil
}

// listedFormCols are formCols of the forms table aliased f.
var listedFormCols = prefixed("f.", formCols)

func (t *tx) CountSubtreeForms(ctx context.Context, q store.SubtreeForms, max int) (int, error) {
	if q.Viewer != "" && q.After.ID == "" {
		return t.countSubtreeLessShares(ctx, q, max)
	}
	return t.countSubtree(ctx, q, max)
}

// countSubtreeLessShares counts the subtree's forms that have no explicit
// share for q.Viewer as two index range counts — the subtree's forms, less
// the viewer's shares of forms in it (form_shares keeps each form's owner
// path) — rather than probing the shares for every form counted. Counting
// the subtree up to max plus those shares keeps the result exact up to max.
func (t *tx) countSubtreeLessShares(ctx context.Context, q store.SubtreeForms, max int) (int, error) {
	shared := 0
	for _, r := range visibleRanges(q) {
		cond, args := r.where(`s.owner_path`)
		conds := []string{`s.account_id = ?`, cond}
		args = append([]any{q.Viewer}, args...)
		from := `form_shares s`
		if q.OwnerID != "" || q.Example != nil {
			from += ` JOIN forms f ON f.id = s.form_id`
			if q.OwnerID != "" {
				conds, args = append(conds, `f.owner_id = ?`), append(args, q.OwnerID)
			}
			if q.Example != nil {
				conds, args = append(conds, `f.example = ?`), append(args, *q.Example)
			}
		}
		var n int
		if err := t.queryRow(ctx, `SELECT count(*) FROM `+from+` WHERE `+strings.Join(conds, ` AND `), args...).Scan(&n); err != nil {
			return 0, t.db.mapErr(err)
		}
		shared += n
	}
	all := q
	all.Viewer = ""
	n, err := t.countSubtree(ctx, all, max+shared)
	if err != nil {
		return 0, err
	}
	return min(n-shared, max), nil
}

// countSubtree counts the forms of q's ranges, up to max.
func (t *tx) countSubtree(ctx context.Context, q store.SubtreeForms, max int) (int, error) {
	total := 0
	for _, r := range visibleRanges(q) {
		if total >= max {
			break
		}
		where, args := t.subtreeWhere(q, r)
		args = append(args, max-total)
		var n int
		err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM forms f WHERE `+where+` LIMIT ?) AS capped`, args...).Scan(&n)
		if err != nil {
			return 0, t.db.mapErr(err)
		}
		total += n
	}
	return total, nil
}

func (t *tx) ListSharedForms(ctx context.Context, viewer string, example *bool, after store.FormCursor, limit int) ([]store.ListedForm, error) {
	q := `SELECT ` + listedFormCols + `, s.role FROM form_shares s JOIN forms f ON f.id = s.form_id
		WHERE s.account_id = ?`
	// Filtered and ordered on the share's copy of the owner path, so the
	// page comes off form_shares_viewer without sorting all the shares.
	args := []any{viewer}
	if example != nil {
		q += ` AND f.example = ?`
		args = append(args, *example)
	}
	if after.ID != "" {
		q += ` AND s.owner_path >= ? AND (s.owner_path > ? OR s.form_id > ?)`
		args = append(args, string(after.OwnerPath), string(after.OwnerPath), after.ID)
	}
	q += ` ORDER BY s.owner_path, s.form_id LIMIT ?`
	args = append(args, limit)
	return scanAll(ctx, t, func(r rowScanner) (store.ListedForm, error) {
		var role canopy.Role
		lf, err := scanListed(r, &role)
		lf.Explicit = &role
		return lf, err
	}, q, args...)
}

func (t *tx) CountSharedForms(ctx context.Context, viewer string, max int) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM form_shares WHERE account_id = ? AND role <> 'none' LIMIT ?) AS capped`,
		viewer, max).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) ViewerShares(ctx context.Context, viewer string, formIDs []string) (map[string]canopy.Role, error) {
	out := map[string]canopy.Role{}
	if len(formIDs) == 0 {
		return out, nil
	}
	args := []any{viewer}
	for _, id := range formIDs {
		args = append(args, id)
	}
	type pair struct {
		form string
		role canopy.Role
	}
	rows, err := scanAll(ctx, t, func(r rowScanner) (pair, error) {
		var p pair
		return p, r.Scan(&p.form, &p.role)
	}, `SELECT form_id, role FROM form_shares WHERE account_id = ? AND form_id IN (`+placeholders(len(formIDs))+`)`, args...)
	for _, p := range rows {
		out[p.form] = p.role
	}
	return out, err
}

// exampleWhere selects the example forms of the given owners that viewer
// has not been explicitly denied.
func (t *tx) exampleWhere(ownerIDs []string, viewer string) (string, []any) {
	args := make([]any, 0, len(ownerIDs)+5)
	for _, id := range ownerIDs {
		args = append(args, id)
	}
	args = append(args, true, viewer)
	return `f.owner_id IN (` + placeholders(len(ownerIDs)) + `) AND f.example = ?
		AND NOT EXISTS (SELECT 1 FROM form_shares s WHERE s.form_id = f.id AND s.account_id = ? AND s.role = 'none'` + t.db.dialect.ProbeEach() + `)`, args
}

func (t *tx) ListExampleForms(ctx context.Context, ownerIDs []string, viewer string, after store.FormCursor, limit int) ([]*canopy.Form, error) {
	if len(ownerIDs) == 0 {
		return nil, nil
	}
	where, args := t.exampleWhere(ownerIDs, viewer)
	if after.ID != "" {
		where += ` AND (f.owner_path > ? OR (f.owner_path = ? AND f.id > ?))`
		args = append(args, string(after.OwnerPath), string(after.OwnerPath), after.ID)
	}
	args = append(args, limit)
	return scanAll(ctx, t, scanForm, `SELECT `+prefixed("f.", formCols)+` FROM forms f WHERE `+where+
		` ORDER BY f.owner_path, f.id LIMIT ?`, args...)
}

func (t *tx) CountExampleForms(ctx context.Context, ownerIDs []string, viewer string, max int) (int, error) {
	if len(ownerIDs) == 0 {
		return 0, nil
	}
	where, args := t.exampleWhere(ownerIDs, viewer)
	args = append(args, max)
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM forms f WHERE `+where+` LIMIT ?) AS capped`, args...).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) ShareCuts(ctx context.Context, path canopy.Path) ([]canopy.Path, error) {
	return scanAll(ctx, t, func(r rowScanner) (canopy.Path, error) {
		var p string
		return canopy.Path(p), r.Scan(&p)
	}, `SELECT path FROM accounts WHERE link_auto_share_role = 'none' AND path > ? AND path < ? ORDER BY path`,
		string(path), string(path.SubtreeEnd()))
}

func scanShare(r rowScanner) (*canopy.Share, error) {
	var (
		s                canopy.Share
		created, updated dbTime
	)
	if err := r.Scan(&s.FormID, &s.AccountID, &s.Role, &created, &updated); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = created.T, updated.T
	return &s, nil
}

func (t *tx) GetShare(ctx context.Context, formID, accountID string) (*canopy.Share, error) {
	s, err := scanShare(t.queryRow(ctx, `SELECT form_id, account_id, role, created_at, updated_at FROM form_shares
		WHERE form_id = ? AND account_id = ?`, formID, accountID))
	return s, t.db.mapErr(err)
}

func (t *tx) PutShare(ctx context.Context, s *canopy.Share) error {
	res, err := t.exec(ctx, `INSERT INTO form_shares (form_id, account_id, role, owner_path, created_at, updated_at)
		SELECT id, ?, ?, owner_path, ?, ? FROM forms WHERE id = ?
		ON CONFLICT (form_id, account_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		s.AccountID, string(s.Role), s.CreatedAt, s.UpdatedAt, s.FormID)
	if err != nil {
		return fmt.Errorf("put share: %w", err)
	}
	return expectOne(res) // no form, no share
}

func (t *tx) DeleteShare(ctx context.Context, formID, accountID string) error {
	res, err := t.exec(ctx, `DELETE FROM form_shares WHERE form_id = ? AND account_id = ?`, formID, accountID)
	if err != nil {
		return fmt.Errorf("delete share: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ListShares(ctx context.Context, formID string) ([]*canopy.Share, error) {
	return scanAll(ctx, t, scanShare, `SELECT form_id, account_id, role, created_at, updated_at FROM form_shares
		WHERE form_id = ? ORDER BY account_id`, formID)
}

const recordCols = `id, form_id, account_id, answers, version, created_by, created_at, updated_at`

func scanRecord(r rowScanner) (*canopy.Record, error) {
	var (
		rec              canopy.Record
		answers          string
		created, updated dbTime
	)
	if err := r.Scan(&rec.ID, &rec.FormID, &rec.AccountID, &answers, &rec.Version, &rec.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	rec.CreatedAt, rec.UpdatedAt = created.T, updated.T
	if err := json.Unmarshal([]byte(answers), &rec.Answers); err != nil {
		return nil, fmt.Errorf("record %s answers: %w", rec.ID, err)
	}
	return &rec, nil
}

func answersJSON(a map[string]json.RawMessage) (string, error) {
	if a == nil {
		a = map[string]json.RawMessage{}
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// recordArgs are a record's values in recordCols order (InsertRecords
// writes many).
func recordArgs(r *canopy.Record) ([]any, error) {
	answers, err := answersJSON(r.Answers)
	return []any{r.ID, r.FormID, r.AccountID, answers, r.Version, r.CreatedBy, r.CreatedAt, r.UpdatedAt}, err
}

func (t *tx) InsertRecord(ctx context.Context, r *canopy.Record) error {
	args, err := recordArgs(r)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO records (`+recordCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("insert record: %w", err)
	}
	return nil
}

func (t *tx) GetRecord(ctx context.Context, id string) (*canopy.Record, error) {
	r, err := scanRecord(t.queryRow(ctx, `SELECT `+recordCols+` FROM records WHERE id = ?`, id))
	return r, t.db.mapErr(err)
}

func (t *tx) UpdateRecord(ctx context.Context, r *canopy.Record, fromVersion int) error {
	answers, err := answersJSON(r.Answers)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE records SET answers = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
		answers, r.Version, r.UpdatedAt, r.ID, fromVersion)
	if err != nil {
		return fmt.Errorf("update record: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteRecord(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM records WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ListRecords(ctx context.Context, formID string, from, to time.Time, p store.Page) ([]*canopy.Record, error) {
	q := `SELECT ` + recordCols + ` FROM records WHERE form_id = ? AND id > ?`
	args := []any{formID, p.After}
	if !from.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, from)
	}
	if !to.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, to)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, p.Limit)
	return scanAll(ctx, t, scanRecord, q, args...)
}

func (t *tx) CountOwnedForms(ctx context.Context, ownerID string, max int) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM forms WHERE owner_id = ? LIMIT ?) AS owned`, ownerID, max).Scan(&n)
	return n, t.db.mapErr(err)
}
