package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const invitationCols = `id, umbrella_id, umbrella_name, invitee_account_id, email, first_name, last_name, mobile, message,
	auto_share_role, billing, status, token_hash, contact_id, expires_at, created_at, updated_at, responded_at, delegated_admin`

func scanInvitation(r rowScanner) (*canopy.Invitation, error) {
	var (
		i                               canopy.Invitation
		invitee, token, contact         sql.NullString
		expires, created, updated, resp dbTime
	)
	if err := r.Scan(&i.ID, &i.UmbrellaID, &i.UmbrellaName, &invitee, &i.Email, &i.FirstName, &i.LastName, &i.Mobile,
		&i.Message, &i.AutoShareRole, &i.Billing, &i.Status, &token, &contact, &expires, &created, &updated, &resp, &i.DelegatedAdmin); err != nil {
		return nil, err
	}
	i.InviteeAccountID, i.TokenHash, i.ContactID = invitee.String, token.String, contact.String
	i.ExpiresAt, i.CreatedAt, i.UpdatedAt, i.RespondedAt = expires.T, created.T, updated.T, resp.ptr()
	return &i, nil
}

func (t *tx) InsertInvitation(ctx context.Context, i *canopy.Invitation) error {
	_, err := t.exec(ctx, `INSERT INTO invitations (`+invitationCols+`, email_norm, invitee_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.UmbrellaID, i.UmbrellaName, nullable(i.InviteeAccountID), i.Email, i.FirstName, i.LastName, i.Mobile, i.Message,
		string(i.AutoShareRole), string(i.Billing), string(i.Status), nullable(i.TokenHash), nullable(i.ContactID),
		i.ExpiresAt, i.CreatedAt, i.UpdatedAt, timePtrArg(i.RespondedAt), i.DelegatedAdmin, canopy.NormalizeEmail(i.Email), i.InviteeKey())
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	}
	return nil
}

func (t *tx) GetInvitation(ctx context.Context, id string) (*canopy.Invitation, error) {
	i, err := scanInvitation(t.queryRow(ctx, `SELECT `+invitationCols+` FROM invitations WHERE id = ?`, id))
	return i, t.db.mapErr(err)
}

func (t *tx) GetInvitations(ctx context.Context, ids []string) ([]*canopy.Invitation, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return scanAll(ctx, t, scanInvitation, `SELECT `+invitationCols+` FROM invitations WHERE id IN (`+placeholders(len(ids))+`)`, args...)
}

func (t *tx) ListInvitations(ctx context.Context, f store.InvitationFilter) ([]*canopy.Invitation, error) {
	var (
		who  []string
		args []any
	)
	if f.UmbrellaID != "" {
		who = append(who, `umbrella_id = ?`)
		args = append(args, f.UmbrellaID)
	}
	if f.InviteeAccountID != "" {
		who = append(who, `invitee_account_id = ?`)
		args = append(args, f.InviteeAccountID)
	}
	if len(f.Emails) > 0 {
		// Addressed by email and not yet taken by an account.
		who = append(who, `(invitee_account_id IS NULL AND email_norm IN (`+placeholders(len(f.Emails))+`))`)
		for _, e := range f.Emails {
			args = append(args, e)
		}
	}
	if len(who) == 0 {
		return nil, nil
	}
	q := `SELECT ` + invitationCols + ` FROM invitations WHERE (` + strings.Join(who, ` OR `) + `)`
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.Before != "" {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	return scanAll(ctx, t, scanInvitation, q, args...)
}

func (t *tx) TransitionInvitation(ctx context.Context, tr store.InvitationTransition) error {
	res, err := t.exec(ctx, `UPDATE invitations SET status = ?, responded_at = ?, updated_at = ?,
		invitee_account_id = COALESCE(?, invitee_account_id) WHERE id = ? AND status = 'pending'`,
		string(tr.To), tr.At, tr.At, nullable(tr.InviteeAccountID), tr.ID)
	if err != nil {
		return fmt.Errorf("transition invitation: %w", err)
	}
	return expectOne(res)
}

func (t *tx) SetInvitationToken(ctx context.Context, id, hash string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE invitations SET token_hash = ?, updated_at = ? WHERE id = ?`, hash, at, id)
	if err != nil {
		return fmt.Errorf("set invitation token: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ExpireInvitations(ctx context.Context, now time.Time, limit int) ([]*canopy.Invitation, error) {
	return scanAll(ctx, t, scanInvitation, `UPDATE invitations SET status = 'expired', responded_at = expires_at, updated_at = ?
		WHERE id IN (SELECT id FROM invitations WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?`+
		t.db.dialect.SkipLocked()+`) RETURNING `+invitationCols, now, now, limit)
}

const contactCols = `id, account_id, email, first_name, last_name, mobile, notes, invitation_id, created_at, updated_at`

func scanContact(r rowScanner) (*canopy.Contact, error) {
	var (
		c                canopy.Contact
		invitation       sql.NullString
		created, updated dbTime
	)
	if err := r.Scan(&c.ID, &c.AccountID, &c.Email, &c.FirstName, &c.LastName, &c.Mobile, &c.Notes, &invitation, &created, &updated); err != nil {
		return nil, err
	}
	c.InvitationID, c.CreatedAt, c.UpdatedAt = invitation.String, created.T, updated.T
	return &c, nil
}

func (t *tx) InsertContact(ctx context.Context, c *canopy.Contact) error {
	_, err := t.exec(ctx, `INSERT INTO contacts (`+contactCols+`, email_norm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.AccountID, c.Email, c.FirstName, c.LastName, c.Mobile, c.Notes, nullable(c.InvitationID), c.CreatedAt, c.UpdatedAt,
		canopy.NormalizeEmail(c.Email))
	if err != nil {
		return fmt.Errorf("insert contact: %w", err)
	}
	return nil
}

func (t *tx) GetContact(ctx context.Context, id string) (*canopy.Contact, error) {
	c, err := scanContact(t.queryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = ?`, id))
	return c, t.db.mapErr(err)
}

func (t *tx) UpdateContact(ctx context.Context, c *canopy.Contact) error {
	res, err := t.exec(ctx, `UPDATE contacts SET email = ?, email_norm = ?, first_name = ?, last_name = ?, mobile = ?, notes = ?,
		invitation_id = ?, updated_at = ? WHERE id = ?`,
		c.Email, canopy.NormalizeEmail(c.Email), c.FirstName, c.LastName, c.Mobile, c.Notes, nullable(c.InvitationID), c.UpdatedAt, c.ID)
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteContact(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM contacts WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ListContacts(ctx context.Context, accountID string, p store.Page) ([]*canopy.Contact, error) {
	return scanAll(ctx, t, scanContact, `SELECT `+contactCols+` FROM contacts WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, p.After, p.Limit)
}
