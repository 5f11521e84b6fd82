package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func (t *tx) InsertUserToken(ctx context.Context, tok *canopy.UserToken) error {
	_, err := t.exec(ctx, `INSERT INTO person_tokens (id, person_id, membership_id, purpose, email_norm, token_hash,
		created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tok.ID, tok.PersonID, nullable(tok.UserID),
		string(tok.Purpose), canopy.NormalizeEmail(tok.Email), tok.Hash, tok.CreatedAt, tok.ExpiresAt, timePtrArg(tok.UsedAt))
	if err != nil {
		return fmt.Errorf("insert user token: %w", err)
	}
	return nil
}

func (t *tx) GetUserTokenByHash(ctx context.Context, hash string) (*canopy.UserToken, error) {
	var (
		tok                    canopy.UserToken
		membership             sql.NullString
		created, expires, used dbTime
	)
	err := t.queryRow(ctx, `SELECT id, person_id, membership_id, purpose, email_norm, token_hash, created_at, expires_at, used_at
		FROM person_tokens WHERE token_hash = ?`, hash).
		Scan(&tok.ID, &tok.PersonID, &membership, &tok.Purpose, &tok.Email, &tok.Hash, &created, &expires, &used)
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	tok.UserID, tok.CreatedAt, tok.ExpiresAt, tok.UsedAt = membership.String, created.T, expires.T, used.ptr()
	return &tok, nil
}

func (t *tx) ClaimUserToken(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE person_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`, at, id)
	if err != nil {
		return fmt.Errorf("claim user token: %w", err)
	}
	return expectOne(res)
}

func (t *tx) UsePersonTokens(ctx context.Context, personID string, at time.Time) error {
	if _, err := t.exec(ctx, `UPDATE person_tokens SET used_at = ? WHERE person_id = ? AND used_at IS NULL`, at, personID); err != nil {
		return fmt.Errorf("use person tokens: %w", err)
	}
	return nil
}

func (t *tx) InsertSession(ctx context.Context, s *canopy.Session) error {
	_, err := t.exec(ctx, `INSERT INTO sessions (id, person_id, membership_id, token_hash, created_at, expires_at, last_seen_at,
		revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.PersonID, nullable(s.UserID), s.Hash, s.CreatedAt, s.ExpiresAt,
		s.LastSeenAt, timePtrArg(s.RevokedAt))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

func (t *tx) GetSessionByHash(ctx context.Context, hash string) (*canopy.Session, error) {
	var (
		s                               canopy.Session
		membership                      sql.NullString
		created, expires, seen, revoked dbTime
	)
	err := t.queryRow(ctx, `SELECT id, person_id, membership_id, token_hash, created_at, expires_at, last_seen_at, revoked_at
		FROM sessions WHERE token_hash = ?`, hash).
		Scan(&s.ID, &s.PersonID, &membership, &s.Hash, &created, &expires, &seen, &revoked)
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	s.UserID = membership.String
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt, s.RevokedAt = created.T, expires.T, seen.T, revoked.ptr()
	return &s, nil
}

func (t *tx) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, at, id)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return expectOne(res)
}

func (t *tx) RevokeSession(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, at, id)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return expectOne(res)
}

func (t *tx) RevokePersonSessions(ctx context.Context, personID string, at time.Time) error {
	if _, err := t.exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL`, at, personID); err != nil {
		return fmt.Errorf("revoke person sessions: %w", err)
	}
	return nil
}

func (t *tx) GetLoginAttempts(ctx context.Context, login string) (*canopy.LoginAttempts, error) {
	var (
		a            canopy.LoginAttempts
		last, locked dbTime
	)
	err := t.queryRow(ctx, `SELECT login_norm, failures, last_failure_at, locked_until FROM login_attempts
		WHERE login_norm = ?`, login).Scan(&a.Login, &a.Failures, &last, &locked)
	if err != nil {
		return nil, t.db.mapErr(err)
	}
	a.LastFailureAt, a.LockedUntil = last.T, locked.ptr()
	return &a, nil
}

func (t *tx) RecordLoginFailure(ctx context.Context, login string, at time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `INSERT INTO login_attempts (login_norm, failures, last_failure_at) VALUES (?, 1, ?)
		ON CONFLICT (login_norm) DO UPDATE SET failures = login_attempts.failures + 1, last_failure_at = excluded.last_failure_at
		RETURNING failures`, login, at).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("record login failure: %w", t.db.mapErr(err))
	}
	return n, nil
}

func (t *tx) LockLogin(ctx context.Context, login string, until time.Time) error {
	res, err := t.exec(ctx, `UPDATE login_attempts SET locked_until = ?, failures = 0 WHERE login_norm = ?`, until, login)
	if err != nil {
		return fmt.Errorf("lock login: %w", err)
	}
	return expectOne(res)
}

func (t *tx) DeleteLoginAttempts(ctx context.Context, login string) error {
	if _, err := t.exec(ctx, `DELETE FROM login_attempts WHERE login_norm = ?`, login); err != nil {
		return fmt.Errorf("delete login attempts: %w", err)
	}
	return nil
}

func (t *tx) InsertResetRequest(ctx context.Context, r *store.ResetRequest) error {
	_, err := t.exec(ctx, `INSERT INTO reset_requests (id, email_norm, created_at) VALUES (?, ?, ?)`, r.ID, r.Email, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert reset request: %w", err)
	}
	return nil
}

func (t *tx) TakeResetRequests(ctx context.Context, limit int) ([]*store.ResetRequest, error) {
	return scanAll(ctx, t, func(r rowScanner) (*store.ResetRequest, error) {
		var (
			req     store.ResetRequest
			created dbTime
		)
		if err := r.Scan(&req.ID, &req.Email, &created); err != nil {
			return nil, err
		}
		req.CreatedAt = created.T
		return &req, nil
	}, `DELETE FROM reset_requests WHERE id IN (SELECT id FROM reset_requests ORDER BY id LIMIT ?`+t.db.dialect.SkipLocked()+`)
		RETURNING id, email_norm, created_at`, limit)
}
