package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const accountCols = `id, parent_id, path, name, email, plan, status, metadata,
	link_origin, link_auto_share_role, link_billing, linked_at, created_at, updated_at, closed_at,
	link_delegated_admin, suspended_by`

// accountSelect is the column list that reads an account of table (or
// alias) tbl, with its parent's plan, which the effective plan follows.
func accountSelect(tbl string) string {
	return prefixed(tbl+".", accountCols) + `, (SELECT pp.plan FROM accounts pp WHERE pp.id = ` + tbl + `.parent_id)`
}

// selectAccounts starts a query of accounts.
var selectAccounts = `SELECT ` + accountSelect("accounts") + ` FROM accounts`

func scanAccount(r rowScanner) (*canopy.Account, error) {
	var a canopy.Account
	// The row's other scan targets in one value: handed to Scan, each
	// local escaped and was allocated on its own (a dozen allocations an
	// account, on pages that list hundreds).
	var v struct {
		parentID               sql.NullString
		path, metadata         string
		origin, share, billing sql.NullString
		linkedAt, closedAt     dbTime
		createdAt, updatedAt   dbTime
		parentPlan             sql.NullString
		delegated              sql.NullBool
		suspendedBy            sql.NullString
	}
	if err := r.Scan(&a.ID, &v.parentID, &v.path, &a.Name, &a.Email, &a.Plan, &a.Status, &v.metadata,
		&v.origin, &v.share, &v.billing, &v.linkedAt, &v.createdAt, &v.updatedAt, &v.closedAt, &v.delegated, &v.suspendedBy, &v.parentPlan); err != nil {
		return nil, err
	}
	a.ParentPlan = canopy.Plan(v.parentPlan.String)
	a.ParentID, a.SuspendedBy = v.parentID.String, v.suspendedBy.String
	a.Path = canopy.Path(v.path)
	a.CreatedAt, a.UpdatedAt, a.ClosedAt = v.createdAt.T, v.updatedAt.T, v.closedAt.ptr()
	// Most accounts have no metadata: "{}" needs no decoder (pages that
	// name hundreds of accounts spent a third of their reads' allocations
	// decoding it).
	if v.metadata == "{}" {
		a.Metadata = map[string]string{}
	} else if err := json.Unmarshal([]byte(v.metadata), &a.Metadata); err != nil {
		return nil, fmt.Errorf("account %s metadata: %w", a.ID, err)
	}
	if a.Metadata == nil {
		a.Metadata = map[string]string{}
	}
	if v.origin.Valid {
		a.Link = &canopy.Link{
			Origin:         canopy.Origin(v.origin.String),
			AutoShareRole:  canopy.Role(v.share.String),
			Billing:        canopy.Billing(v.billing.String),
			DelegatedAdmin: v.delegated.Bool,
			CreatedAt:      v.linkedAt.T,
		}
	}
	return &a, nil
}

func metadataJSON(md map[string]string) (string, error) {
	if md == nil {
		md = map[string]string{}
	}
	b, err := json.Marshal(md)
	return string(b), err
}

type linkArgs struct {
	origin, share, billing, at any
	delegated                  bool
}

func linkCols(l *canopy.Link) linkArgs {
	if l == nil {
		return linkArgs{}
	}
	return linkArgs{string(l.Origin), string(l.AutoShareRole), string(l.Billing), l.CreatedAt, l.DelegatedAdmin}
}

func (t *tx) InsertAccount(ctx context.Context, a *canopy.Account) error {
	md, err := metadataJSON(a.Metadata)
	if err != nil {
		return err
	}
	l := linkCols(a.Link)
	_, err = t.exec(ctx, `INSERT INTO accounts (`+accountCols+`, depth)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, nullable(a.ParentID), string(a.Path), a.Name, a.Email, string(a.Plan), string(a.Status), md,
		l.origin, l.share, l.billing, l.at, a.CreatedAt, a.UpdatedAt, timePtrArg(a.ClosedAt),
		l.delegated, nullable(a.SuspendedBy), a.Path.Depth())
	if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	return nil
}

func (t *tx) getAccount(ctx context.Context, suffix, where string, args ...any) (*canopy.Account, error) {
	a, err := scanAccount(t.queryRow(ctx, selectAccounts+` WHERE `+where+suffix, args...))
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	return a, nil
}

func (t *tx) GetAccount(ctx context.Context, id string) (*canopy.Account, error) {
	return t.getAccount(ctx, "", "id = ?", id)
}

func (t *tx) GetAccountForShare(ctx context.Context, id string) (*canopy.Account, error) {
	return t.getAccount(ctx, t.db.dialect.ForShare(), "id = ?", id)
}

func (t *tx) GetRootAccount(ctx context.Context) (*canopy.Account, error) {
	return t.getAccount(ctx, "", "parent_id IS NULL")
}

func (t *tx) GetAccounts(ctx context.Context, ids []string) ([]*canopy.Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return scanAll(ctx, t, scanAccount, selectAccounts+` WHERE id IN (`+placeholders(len(ids))+`)`, args...)
}

func (t *tx) GetAccountsForShare(ctx context.Context, ids, also []string) ([]*canopy.Account, error) {
	if len(ids) == 0 {
		return t.GetAccounts(ctx, also)
	}
	lockIn, lockArgs := t.idList(ids)
	// In id order, so that two writers locking overlapping sets take the
	// locks in the same order.
	q := `SELECT * FROM (` + selectAccounts + ` WHERE id ` + lockIn + ` ORDER BY id` + t.db.dialect.ForShare() + `) AS locked`
	args := lockArgs
	if len(also) > 0 {
		// The others in the same statement, a round trip less; an id in
		// both lists is read once, locked.
		alsoIn, alsoArgs := t.idList(also)
		q += ` UNION ALL ` + selectAccounts + ` WHERE id ` + alsoIn + ` AND NOT (id ` + lockIn + `)`
		args = append(append(args, alsoArgs...), lockArgs...)
	}
	return scanAll(ctx, t, scanAccount, q, args...)
}

// idList is the condition that an id is one of ids (IN (…) or, on
// engines with Arrays, = ANY (…)) and its arguments. An IN list is padded
// with its last id to a power of two, so that a few statement texts serve
// every length and stay prepared.
func (t *tx) idList(ids []string) (string, []any) {
	if t.db.dialect.Arrays() {
		return `= ANY (CAST(? AS TEXT[]))`, []any{ids}
	}
	in, args := padded(ids)
	return `IN (` + in + `)`, args
}

// widthBucket rounds a list's width up to a power of two.
func widthBucket(n int) int {
	w := 1
	for w < n {
		w *= 2
	}
	return w
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rows returns n parenthesised groups of width placeholders, for a
// multi-row VALUES list.
func rows(n, width int) string {
	row := "(" + placeholders(width) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (t *tx) UpdateAccount(ctx context.Context, a *canopy.Account) error {
	md, err := metadataJSON(a.Metadata)
	if err != nil {
		return err
	}
	l := linkCols(a.Link)
	res, err := t.exec(ctx, `UPDATE accounts SET name = ?, email = ?, plan = ?, status = ?, metadata = ?,
		link_origin = ?, link_auto_share_role = ?, link_billing = ?, linked_at = ?, link_delegated_admin = ?,
		suspended_by = ?, updated_at = ?, closed_at = ?
		WHERE id = ?`,
		a.Name, a.Email, string(a.Plan), string(a.Status), md, l.origin, l.share, l.billing, l.at, l.delegated,
		nullable(a.SuspendedBy), a.UpdatedAt, timePtrArg(a.ClosedAt), a.ID)
	if err != nil {
		return fmt.Errorf("update account: %w", err)
	}
	return expectOne(res)
}

func expectOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) ListChildren(ctx context.Context, parentID string, p store.Page) ([]*canopy.Account, error) {
	return scanAll(ctx, t, scanAccount, selectAccounts+`
		WHERE parent_id = ? AND id > ? ORDER BY id LIMIT ?`, parentID, p.After, p.Limit)
}

func (t *tx) CountOpenChildren(ctx context.Context, id string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM accounts WHERE parent_id = ? AND status <> 'closed'`, id).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) ListSubtree(ctx context.Context, path canopy.Path, maxDepth int, p store.Page) ([]*canopy.Account, error) {
	after := string(path)
	if p.After > after {
		after = p.After
	}
	end := string(path.SubtreeEnd())
	if maxDepth <= 0 {
		return scanAll(ctx, t, scanAccount, selectAccounts+`
			WHERE path > ? AND path < ? ORDER BY path LIMIT ?`, after, end, p.Limit)
	}
	// Filtering one path range by depth would walk the whole subtree to
	// find a few shallow accounts. Instead take the first page of each
	// level from the (depth, path) index and merge them in path order.
	parts := make([]string, 0, maxDepth)
	args := make([]any, 0, 4*maxDepth+1)
	for d := path.Depth() + 1; d <= path.Depth()+maxDepth; d++ {
		parts = append(parts, `SELECT * FROM (SELECT `+accountCols+` FROM accounts
			WHERE depth = ? AND path > ? AND path < ? ORDER BY path LIMIT ?) AS level`+strconv.Itoa(d))
		args = append(args, d, after, end, p.Limit)
	}
	args = append(args, p.Limit)
	return scanAll(ctx, t, scanAccount, `SELECT `+accountSelect("levels")+` FROM (`+strings.Join(parts, " UNION ALL ")+`) AS levels
		ORDER BY path LIMIT ?`, args...)
}

func (t *tx) SearchSubtree(ctx context.Context, path canopy.Path, text string, p store.Page) ([]*canopy.Account, error) {
	after := max(string(path), p.After)
	pattern := "%" + likeEscaper.Replace(text) + "%"
	// The range scan still reads every account of the subtree, but in the
	// database: the caller decodes only the matches.
	return scanAll(ctx, t, scanAccount, selectAccounts+`
		WHERE path > ? AND path < ? AND (lower(name) LIKE ? ESCAPE '\' OR lower(id) LIKE ? ESCAPE '\')
		ORDER BY path LIMIT ?`, after, string(path.SubtreeEnd()), pattern, pattern, p.Limit)
}

// likeEscaper makes a text match itself in a LIKE pattern with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (t *tx) LockSubtree(ctx context.Context, path canopy.Path) error {
	lock := t.db.dialect.ForUpdate()
	if lock == "" {
		return nil
	}
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT id FROM accounts WHERE path >= ? AND path < ?`+lock+`) locked`,
		string(path), string(path.SubtreeEnd())).Scan(&n)
	if err != nil {
		return fmt.Errorf("lock subtree: %w", t.db.mapErr(err))
	}
	return nil
}

func (t *tx) SubtreeMaxDepth(ctx context.Context, path canopy.Path) (int, error) {
	// max over no rows is one NULL row, not sql.ErrNoRows: an empty range
	// means the account at path does not exist.
	var d sql.NullInt64
	err := t.queryRow(ctx, `SELECT max(depth) FROM accounts WHERE path >= ? AND path < ?`,
		string(path), string(path.SubtreeEnd())).Scan(&d)
	if err != nil {
		return 0, t.db.mapErr(err)
	}
	if !d.Valid {
		return 0, store.ErrNotFound
	}
	return int(d.Int64), nil
}

func (t *tx) MovePaths(ctx context.Context, from, to canopy.Path) (int64, error) {
	res, err := t.exec(ctx, `UPDATE accounts SET path = ? || substr(path, ?), depth = depth + ?
		WHERE path >= ? AND path < ?`,
		string(to), len(from)+1, to.Depth()-from.Depth(), string(from), string(from.SubtreeEnd()))
	if err != nil {
		return 0, fmt.Errorf("move paths: %w", err)
	}
	// The forms of the moved accounts go with them.
	if _, err := t.exec(ctx, `UPDATE forms SET owner_path = ? || substr(owner_path, ?)
		WHERE owner_path >= ? AND owner_path < ?`,
		string(to), len(from)+1, string(from), string(from.SubtreeEnd())); err != nil {
		return 0, fmt.Errorf("move form paths: %w", err)
	}
	if _, err := t.exec(ctx, `UPDATE form_shares SET owner_path = ? || substr(owner_path, ?)
		WHERE owner_path >= ? AND owner_path < ?`,
		string(to), len(from)+1, string(from), string(from.SubtreeEnd())); err != nil {
		return 0, fmt.Errorf("move form share paths: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) SetParent(ctx context.Context, id, parentID string, l *canopy.Link, at time.Time) error {
	la := linkCols(l)
	res, err := t.exec(ctx, `UPDATE accounts SET parent_id = ?, link_origin = ?, link_auto_share_role = ?,
		link_billing = ?, linked_at = ?, link_delegated_admin = ?, updated_at = ? WHERE id = ?`,
		parentID, la.origin, la.share, la.billing, la.at, la.delegated, at, id)
	if err != nil {
		return fmt.Errorf("set parent: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CloseSubtree(ctx context.Context, path canopy.Path, at time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE accounts SET status = 'closed', closed_at = ?, updated_at = ?
		WHERE path >= ? AND path < ? AND status <> 'closed'`, at, at, string(path), string(path.SubtreeEnd()))
	if err != nil {
		return 0, fmt.Errorf("close subtree: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) ListWorkflows(ctx context.Context, accountID string) ([]string, error) {
	names, err := scanAll(ctx, t, func(r rowScanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	}, `SELECT name FROM account_workflows WHERE account_id = ? ORDER BY position`, accountID)
	if names == nil && err == nil {
		names = []string{}
	}
	return names, err
}

func (t *tx) ReplaceWorkflows(ctx context.Context, accountID string, names []string) error {
	if _, err := t.exec(ctx, `DELETE FROM account_workflows WHERE account_id = ?`, accountID); err != nil {
		return fmt.Errorf("clear workflows: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(names))
	for i, n := range names {
		args = append(args, accountID, i, n)
	}
	if _, err := t.exec(ctx, `INSERT INTO account_workflows (account_id, position, name) VALUES `+rows(len(names), 3), args...); err != nil {
		return fmt.Errorf("insert workflows: %w", err)
	}
	return nil
}
