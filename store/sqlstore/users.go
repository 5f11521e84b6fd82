package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const userCols = `id, account_id, email, username, name, role, status, is_master, created_at, updated_at,
	password_hash, password_changed_at, last_login_at`

func scanUser(r rowScanner) (*canopy.User, error) {
	var (
		u                      canopy.User
		created, updated       dbTime
		hash                   sql.NullString
		passwordChanged, login dbTime
	)
	if err := r.Scan(&u.ID, &u.AccountID, &u.Email, &u.Username, &u.Name, &u.Role, &u.Status, &u.Master, &created, &updated,
		&hash, &passwordChanged, &login); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = created.T, updated.T
	u.PasswordHash, u.PasswordChangedAt, u.LastLoginAt = hash.String, passwordChanged.ptr(), login.ptr()
	return &u, nil
}

func (t *tx) InsertUser(ctx context.Context, u *canopy.User) error {
	_, err := t.exec(ctx, `INSERT INTO users (`+userCols+`, email_norm, username_norm)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, u.Email, u.Username, u.Name, string(u.Role), string(u.Status), u.Master,
		u.CreatedAt, u.UpdatedAt, nullable(u.PasswordHash), timePtrArg(u.PasswordChangedAt), timePtrArg(u.LastLoginAt),
		canopy.NormalizeEmail(u.Email), canopy.NormalizeEmail(u.Username))
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

func (t *tx) GetUser(ctx context.Context, id string) (*canopy.User, error) {
	u, err := scanUser(t.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, t.db.mapErr(err)
}

func (t *tx) GetUserByLogin(ctx context.Context, login string) (*canopy.User, error) {
	u, err := scanUser(t.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email_norm = ? OR username_norm = ?
		ORDER BY (email_norm = ?) DESC LIMIT 1`, login, login, login))
	return u, t.db.mapErr(err)
}

func (t *tx) GetUserByEmail(ctx context.Context, email string) (*canopy.User, error) {
	u, err := scanUser(t.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email_norm = ?`, email))
	return u, t.db.mapErr(err)
}

func (t *tx) UpdateUser(ctx context.Context, u *canopy.User) error {
	res, err := t.exec(ctx, `UPDATE users SET email = ?, email_norm = ?, username = ?, username_norm = ?, name = ?, role = ?,
		status = ?, password_hash = ?, password_changed_at = ?, last_login_at = ?, updated_at = ? WHERE id = ?`,
		u.Email, canopy.NormalizeEmail(u.Email), u.Username, canopy.NormalizeEmail(u.Username), u.Name, string(u.Role),
		string(u.Status), nullable(u.PasswordHash), timePtrArg(u.PasswordChangedAt), timePtrArg(u.LastLoginAt), u.UpdatedAt, u.ID)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteUser(ctx context.Context, id string) error {
	// Tokens and sessions go with the user (ON DELETE CASCADE).
	res, err := t.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CountAdmins(ctx context.Context, accountID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM users WHERE account_id = ? AND role = 'admin' AND status <> 'disabled'`,
		accountID).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) ListUsers(ctx context.Context, accountID string, p store.Page) ([]*canopy.User, error) {
	return scanAll(ctx, t, scanUser, `SELECT `+userCols+` FROM users WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, p.After, p.Limit)
}
