package sqlstore

import (
	"context"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const userCols = `id, account_id, email, username, name, role, status, is_master, created_at, updated_at`

func scanUser(r rowScanner) (*canopy.User, error) {
	var (
		u                canopy.User
		created, updated dbTime
	)
	if err := r.Scan(&u.ID, &u.AccountID, &u.Email, &u.Username, &u.Name, &u.Role, &u.Status, &u.Master, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = created.T, updated.T
	return &u, nil
}

func (t *tx) InsertUser(ctx context.Context, u *canopy.User) error {
	_, err := t.exec(ctx, `INSERT INTO users (`+userCols+`, email_norm, username_norm)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, u.Email, u.Username, u.Name, string(u.Role), string(u.Status), u.Master,
		u.CreatedAt, u.UpdatedAt, canopy.NormalizeEmail(u.Email), canopy.NormalizeEmail(u.Username))
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

func (t *tx) ListUsers(ctx context.Context, accountID string, p store.Page) ([]*canopy.User, error) {
	return scanAll(ctx, t, scanUser, `SELECT `+userCols+` FROM users WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, p.After, p.Limit)
}
