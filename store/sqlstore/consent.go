package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
)

// boundary is the condition on an accounts row whose link is a consent
// boundary; the accounts_boundaries index has the same predicate.
const boundary = `link_origin = 'invited' AND NOT link_delegated_admin`

func (t *tx) ListBoundaries(ctx context.Context, path canopy.Path) ([]*canopy.Account, error) {
	return scanAll(ctx, t, scanAccount, selectAccounts+` WHERE `+boundary+` AND path > ? AND path < ? ORDER BY path`,
		string(path), string(path.SubtreeEnd()))
}

func (t *tx) RevokeKeysMadeBy(ctx context.Context, path canopy.Path, makers []string, at time.Time) (int64, error) {
	if len(makers) == 0 {
		return 0, nil
	}
	in, inArgs := padded(makers)
	args := append([]any{at}, inArgs...)
	args = append(args, string(path), string(path.SubtreeEnd()))
	res, err := t.exec(ctx, `UPDATE api_keys SET revoked_at = ?
		WHERE revoked_at IS NULL AND created_by_account IN (`+in+`)
		AND account_id IN (SELECT id FROM accounts WHERE path >= ? AND path < ?)`, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke keys: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) ReactivateSuspendedBy(ctx context.Context, path canopy.Path, by string, at time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE accounts SET status = 'active', suspended_by = NULL, updated_at = ?
		WHERE path >= ? AND path < ? AND status = 'suspended' AND suspended_by = ?`,
		at, string(path), string(path.SubtreeEnd()), by)
	if err != nil {
		return 0, fmt.Errorf("reactivate: %w", err)
	}
	return res.RowsAffected()
}

// outside returns the conditions that keep col out of every subtree in
// except, and their arguments. The list is padded to a power of two with
// its last subtree, so a few statement texts serve every length.
func outside(col string, except []canopy.Path) (string, []any) {
	if len(except) == 0 {
		return "", nil
	}
	n := widthBucket(len(except))
	var b strings.Builder
	args := make([]any, 0, 2*n)
	for i := range n {
		p := except[min(i, len(except)-1)]
		b.WriteString(` AND NOT (` + col + ` >= ? AND ` + col + ` < ?)`)
		args = append(args, string(p), string(p.SubtreeEnd()))
	}
	return b.String(), args
}

// padded returns an IN list for ids, padded to a power of two with its
// last id, and its arguments.
func padded(ids []string) (string, []any) {
	args := make([]any, widthBucket(len(ids)))
	for i := range args {
		args[i] = ids[min(i, len(ids)-1)]
	}
	return placeholders(len(args)), args
}
