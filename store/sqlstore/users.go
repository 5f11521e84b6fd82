package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const personCols = `p.id, p.email, p.email_verified_at, p.pending_email, p.username, p.name, p.password_hash,
	p.password_changed_at, p.last_login_at, p.created_at, p.updated_at`

// personDest returns scan destinations for personCols and a function that
// builds the person from them.
func personDest() ([]any, func() *canopy.Person) {
	var (
		p                        canopy.Person
		verified, changed, login dbTime
		created, updated         dbTime
		pending, username, hash  sql.NullString
	)
	dest := []any{&p.ID, &p.Email, &verified, &pending, &username, &p.Name, &hash, &changed, &login, &created, &updated}
	return dest, func() *canopy.Person {
		p.EmailVerifiedAt, p.PendingEmail, p.Username, p.PasswordHash = verified.ptr(), pending.String, username.String, hash.String
		p.PasswordChangedAt, p.LastLoginAt, p.CreatedAt, p.UpdatedAt = changed.ptr(), login.ptr(), created.T, updated.T
		return &p
	}
}

func scanPerson(r rowScanner) (*canopy.Person, error) {
	dest, build := personDest()
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	return build(), nil
}

func (t *tx) InsertPerson(ctx context.Context, p *canopy.Person) (bool, error) {
	// DO NOTHING on any unique violation: a taken address or username must
	// not abort the transaction (PostgreSQL would), since the caller goes on
	// without telling anyone which it was.
	res, err := t.exec(ctx, `INSERT INTO people (id, email, email_norm, email_verified_at, pending_email, pending_email_norm,
		username, username_norm, name, password_hash, password_changed_at, last_login_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, p.Email, canopy.NormalizeEmail(p.Email), timePtrArg(p.EmailVerifiedAt), nullable(p.PendingEmail),
		nullable(canopy.NormalizeEmail(p.PendingEmail)), nullable(p.Username), nullable(canopy.NormalizeEmail(p.Username)),
		p.Name, nullable(p.PasswordHash), timePtrArg(p.PasswordChangedAt), timePtrArg(p.LastLoginAt), p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return false, fmt.Errorf("insert person: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) GetPerson(ctx context.Context, id string) (*canopy.Person, error) {
	p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people p WHERE p.id = ?`, id))
	return p, t.db.mapErr(err)
}

func (t *tx) GetPersonByEmail(ctx context.Context, email string) (*canopy.Person, error) {
	p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people p WHERE p.email_norm = ?`, email))
	return p, t.db.mapErr(err)
}

func (t *tx) GetPersonByUsername(ctx context.Context, username string) (*canopy.Person, error) {
	p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people p WHERE p.username_norm = ?`, username))
	return p, t.db.mapErr(err)
}

func (t *tx) UpdatePerson(ctx context.Context, p *canopy.Person) error {
	res, err := t.exec(ctx, `UPDATE people SET email = ?, email_norm = ?, email_verified_at = ?, pending_email = ?,
		pending_email_norm = ?, username = ?, username_norm = ?, name = ?, password_hash = ?, password_changed_at = ?,
		last_login_at = ?, updated_at = ? WHERE id = ?`,
		p.Email, canopy.NormalizeEmail(p.Email), timePtrArg(p.EmailVerifiedAt), nullable(p.PendingEmail),
		nullable(canopy.NormalizeEmail(p.PendingEmail)), nullable(p.Username), nullable(canopy.NormalizeEmail(p.Username)),
		p.Name, nullable(p.PasswordHash), timePtrArg(p.PasswordChangedAt), timePtrArg(p.LastLoginAt), p.UpdatedAt, p.ID)
	if err != nil {
		return fmt.Errorf("update person: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeletePerson(ctx context.Context, id string) error {
	// Tokens and sessions go with the person (ON DELETE CASCADE).
	res, err := t.exec(ctx, `DELETE FROM people WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete person: %w", err)
	}
	return expectOne(res)
}

const userCols = `m.id, m.account_id, m.person_id, m.role, m.status, m.is_master, m.invited_email, m.invited_username,
	m.invited_name, m.joined_at, m.created_at, m.updated_at, m.created_by_account, ` + personCols

const userFrom = ` FROM memberships m JOIN people p ON p.id = m.person_id`

func scanUser(r rowScanner) (*canopy.User, error) {
	var (
		u                        canopy.User
		joined, created, updated dbTime
	)
	pdest, person := personDest()
	dest := append([]any{&u.ID, &u.AccountID, &u.PersonID, &u.Role, &u.Status, &u.Master, &u.InvitedEmail,
		&u.InvitedUsername, &u.InvitedName, &joined, &created, &updated, &u.CreatedByAccount}, pdest...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	u.JoinedAt, u.CreatedAt, u.UpdatedAt, u.Person = joined.ptr(), created.T, updated.T, person()
	u.Show()
	return &u, nil
}

func (t *tx) InsertUser(ctx context.Context, u *canopy.User) error {
	_, err := t.exec(ctx, `INSERT INTO memberships (id, account_id, person_id, role, status, is_master, invited_email,
		invited_username, invited_name, joined_at, created_at, updated_at, created_by_account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, u.PersonID, string(u.Role), string(u.Status), u.Master, u.InvitedEmail, u.InvitedUsername,
		u.InvitedName, timePtrArg(u.JoinedAt), u.CreatedAt, u.UpdatedAt, u.CreatedByAccount)
	if err != nil {
		return fmt.Errorf("insert membership: %w", err)
	}
	return nil
}

func (t *tx) GetUser(ctx context.Context, id string) (*canopy.User, error) {
	u, err := scanUser(t.queryRow(ctx, `SELECT `+userCols+userFrom+` WHERE m.id = ?`, id))
	return u, t.db.mapErr(err)
}

func (t *tx) UpdateUser(ctx context.Context, u *canopy.User) error {
	res, err := t.exec(ctx, `UPDATE memberships SET person_id = ?, role = ?, status = ?, invited_email = ?,
		invited_username = ?, invited_name = ?, joined_at = ?, updated_at = ? WHERE id = ?`,
		u.PersonID, string(u.Role), string(u.Status), u.InvitedEmail, u.InvitedUsername, u.InvitedName,
		timePtrArg(u.JoinedAt), u.UpdatedAt, u.ID)
	if err != nil {
		return fmt.Errorf("update membership: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteUser(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM memberships WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete membership: %w", err)
	}
	return expectOne(res)
}

func (t *tx) CountAdmins(ctx context.Context, accountID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM memberships WHERE account_id = ? AND role = 'admin' AND status <> 'disabled'`,
		accountID).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) ListUsers(ctx context.Context, accountID string, p store.Page) ([]*canopy.User, error) {
	return scanAll(ctx, t, scanUser, `SELECT `+userCols+userFrom+` WHERE m.account_id = ? AND m.id > ? ORDER BY m.id LIMIT ?`,
		accountID, p.After, p.Limit)
}

func (t *tx) ListPersonUsers(ctx context.Context, personID string) ([]*canopy.User, error) {
	return scanAll(ctx, t, scanUser, `SELECT `+userCols+userFrom+` WHERE m.person_id = ? ORDER BY m.id`, personID)
}

func (t *tx) DeleteMembershipsMadeBy(ctx context.Context, path canopy.Path, makers []string) ([]string, error) {
	if len(makers) == 0 {
		return nil, nil
	}
	in, inArgs := padded(makers)
	args := append(inArgs, string(path), string(path.SubtreeEnd()))
	return scanAll(ctx, t, func(r rowScanner) (string, error) {
		var person string
		return person, r.Scan(&person)
	}, `DELETE FROM memberships WHERE created_by_account IN (`+in+`)
		AND account_id IN (SELECT id FROM accounts WHERE path >= ? AND path < ?) RETURNING person_id`, args...)
}
