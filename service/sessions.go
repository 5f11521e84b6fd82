package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/store"
)

var (
	errSessionExpired = canopy.Errorf(canopy.KindUnauthorized, canopy.CodeUnauthorized,
		"the session has expired or was ended; sign in again")
	// One answer for a wrong password, an unknown login and a user without
	// a password yet, so a login attempt tells nobody who exists.
	errInvalidCredentials = canopy.Errorf(canopy.KindUnauthorized, canopy.CodeInvalidCredentials,
		"the login or the password is wrong")
	errInvalidToken = canopy.Errorf(canopy.KindBadRequest, canopy.CodeInvalidToken,
		"this link is invalid, was already used or has expired; ask for a new one")
)

// touchEvery is how stale a session's last-seen time may get before a
// request refreshes it: often enough for the idle timeout, rarely enough
// that reads do not all become writes.
const touchEvery = time.Minute

// authenticateSession resolves a session token to its user's principal.
func (s *Service) authenticateSession(ctx context.Context, secret string) (Principal, error) {
	hash := canopy.HashSecret(secret)
	now := s.now()
	var (
		sess *canopy.Session
		user *canopy.User
	)
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if sess, err = tx.GetSessionByHash(ctx, hash); err != nil {
			return err
		}
		user, err = tx.GetUser(ctx, sess.UserID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, errSessionExpired
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) ||
		user.Status != canopy.UserActive {
		return Principal{}, errSessionExpired
	}
	home, err := s.account(ctx, user.AccountID)
	if err != nil {
		return Principal{}, err
	}
	if !home.found || home.status == canopy.StatusClosed {
		return Principal{}, errSessionExpired
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		err := s.store.Write(ctx, func(tx store.Tx) error { return tx.TouchSession(ctx, sess.ID, now) })
		if err != nil {
			// The request may go on: a missed touch only shortens the session.
			s.log.WarnContext(ctx, "touch session", "err", err.Error())
		}
	}
	return Principal{Actor: canopy.Actor{Type: "user", ID: user.ID}, AccountID: user.AccountID, Role: user.Role, SessionID: sess.ID}, nil
}

// LoginInput is a sign-in request; Login is a username or an email.
type LoginInput struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// LoginResult is a new session.
type LoginResult struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expiresAt"`
	User      *canopy.User `json:"user"`
}

// RequestInfo is what the audit trail records of a request that has no
// authenticated caller yet.
type RequestInfo struct {
	RequestID string
	Channel   string
	Username  string
}

// Login checks a user's password and opens a session. Repeated failures
// for one login are slowed, then locked for a while — counted per login
// string, whether or not a user has it, and an unknown login costs the same
// password hashing as a known one, so nothing tells who exists.
//
// Errors: validation-failed; invalid-credentials (401); login-throttled and
// login-locked (429, with RetryAfter); user-disabled and account-closed
// (403, only after a correct password).
func (s *Service) Login(ctx context.Context, in LoginInput, info RequestInfo) (*LoginResult, error) {
	var v canopy.Validator
	v.Check(strings.TrimSpace(in.Login) != "", "login", "required", "must be your username or email address")
	validLogin(&v, in.Login)
	v.Check(in.Password != "", "password", "required", "must not be empty")
	v.Check(len(in.Password) <= 1024, "password", "too-long", "must be at most 1024 bytes")
	if err := v.Err(); err != nil {
		return nil, err
	}
	login := canopy.NormalizeEmail(in.Login)
	attemptsKey := loginAttemptsKey(login)
	now := s.now()

	var (
		user     *canopy.User
		attempts *canopy.LoginAttempts
	)
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := tx.GetLoginAttempts(ctx, attemptsKey)
		if err == nil {
			attempts = a
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u, err := tx.GetUserByLogin(ctx, login)
		if err == nil {
			user = u
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up login: %w", err)
	}
	if err := s.throttle(attempts, now); err != nil {
		return nil, err
	}

	hash := password.DummyHash()
	if user != nil && user.PasswordHash != "" {
		hash = user.PasswordHash
	}
	ok, rehash, err := s.verifyPassword(ctx, in.Password, hash)
	if err != nil {
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if !ok || user == nil || user.PasswordHash == "" {
		if err := s.recordLoginFailure(ctx, attemptsKey, now); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	}
	if user.Status == canopy.UserDisabled {
		return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeUserDisabled, "this user is disabled; an admin of the account can enable it")
	}
	home, err := s.account(ctx, user.AccountID)
	if err != nil {
		return nil, err
	}
	if home.status == canopy.StatusClosed {
		return nil, closedError(user.AccountID)
	}

	secret, err := canopy.NewSecret(canopy.SessionPrefix)
	if err != nil {
		return nil, err
	}
	upgraded := ""
	if rehash { // the hash predates the current parameters: upgrade it now
		if upgraded, err = s.hashPassword(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	sess := &canopy.Session{
		ID: s.ids.New(canopy.PrefixSession), UserID: user.ID, Hash: canopy.HashSecret(secret),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), LastSeenAt: now,
	}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		// Re-read: only what signing in changes is written, so a change
		// made meanwhile (a new role, a disable, a new password) stands.
		u, err := tx.GetUser(ctx, user.ID)
		if err != nil {
			return err
		}
		if u.Status != canopy.UserActive || u.PasswordHash != user.PasswordHash {
			return errInvalidCredentials
		}
		if err := tx.DeleteLoginAttempts(ctx, attemptsKey); err != nil {
			return err
		}
		u.LastLoginAt = &now
		if upgraded != "" {
			u.PasswordHash = upgraded
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		user = u
		return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "user", ID: u.ID}, u.AccountID,
			"session.created", "session", sess.ID, nil)
	})
	if errors.Is(err, errInvalidCredentials) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &LoginResult{Token: secret, ExpiresAt: sess.ExpiresAt, User: user}, nil
}

// throttle refuses an attempt while login is locked, or sooner than its
// failures allow: after SlowAfter failures each further attempt must wait
// twice as long as the one before (1 s, 2 s, 4 s … up to a minute).
func (s *Service) throttle(a *canopy.LoginAttempts, now time.Time) error {
	if a == nil {
		return nil
	}
	if a.LockedUntil != nil && now.Before(*a.LockedUntil) {
		e := canopy.Errorf(canopy.KindTooManyRequests, canopy.CodeLoginLocked,
			"too many failed sign-ins for this login; it is locked until %s", a.LockedUntil.Format(time.RFC3339))
		e.RetryAfter = a.LockedUntil.Sub(now)
		return e
	}
	if a.Failures < s.cfg.LoginSlowAfter {
		return nil
	}
	wait := time.Duration(math.Min(math.Pow(2, float64(a.Failures-s.cfg.LoginSlowAfter)), 60)) * time.Second
	if next := a.LastFailureAt.Add(wait); now.Before(next) {
		e := canopy.Errorf(canopy.KindTooManyRequests, canopy.CodeLoginThrottled,
			"too many failed sign-ins for this login; wait %s before trying again", next.Sub(now).Round(time.Second))
		e.RetryAfter = next.Sub(now)
		return e
	}
	return nil
}

func (s *Service) recordLoginFailure(ctx context.Context, login string, now time.Time) error {
	return s.store.Write(ctx, func(tx store.Tx) error {
		n, err := tx.RecordLoginFailure(ctx, login, now)
		if err != nil {
			return err
		}
		if n >= s.cfg.LoginLockAfter {
			return tx.LockLogin(ctx, login, now.Add(s.cfg.LoginLockFor))
		}
		return nil
	})
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, c Caller) error {
	if c.SessionID == "" {
		return canopy.Errorf(canopy.KindBadRequest, canopy.CodeBadRequest,
			"logout ends a user's session; API keys are revoked with DELETE /v1/accounts/{id}/api-keys/{keyId}")
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.RevokeSession(ctx, c.SessionID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return s.systemAudit(ctx, tx, RequestInfo{RequestID: c.RequestID, Channel: c.Channel, Username: c.Username},
			c.Actor, c.AccountID, "session.revoked", "session", c.SessionID, nil)
	})
}

// SetPasswordInput redeems a one-time link.
type SetPasswordInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// SetPassword sets a user's password from a one-time link token and
// activates the user. Every unused link of the user stops working, and a
// reset ends the user's sessions.
//
// Errors: invalid-token (400, also for used and expired links);
// validation-failed naming password (weak); user-disabled.
func (s *Service) SetPassword(ctx context.Context, in SetPasswordInput, info RequestInfo) (*canopy.User, error) {
	if !validSecret(in.Token, canopy.TokenPrefix) {
		return nil, errInvalidToken
	}
	now := s.now()
	var (
		tok  *canopy.UserToken
		user *canopy.User
	)
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if tok, err = tx.GetUserTokenByHash(ctx, canopy.HashSecret(in.Token)); err != nil {
			return err
		}
		user, err = tx.GetUser(ctx, tok.UserID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if tok.UsedAt != nil || !now.Before(tok.ExpiresAt) {
		return nil, errInvalidToken
	}
	if user.Status == canopy.UserDisabled {
		return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeUserDisabled, "this user is disabled; an admin of the account can enable it")
	}
	if home, err := s.account(ctx, user.AccountID); err != nil {
		return nil, err
	} else if home.status == canopy.StatusClosed {
		return nil, closedError(user.AccountID)
	}
	if reason := password.Check(in.Password, user.Email, user.Username, user.Name); reason != "" {
		return nil, canopy.InvalidField("password", canopy.CodeWeakPassword, "%s", reason)
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		// Claim this very token first: of two redemptions at once, the
		// second finds it used (store.ErrNotFound → invalid-token).
		if err := tx.ClaimUserToken(ctx, tok.ID, now); err != nil {
			return err
		}
		if err := tx.UseUserTokens(ctx, user.ID, now); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, user.ID)
		if err != nil {
			return err
		}
		u.PasswordHash, u.PasswordChangedAt, u.UpdatedAt = hash, &now, now
		if u.Status == canopy.UserInvited {
			u.Status = canopy.UserActive
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.RevokeUserSessions(ctx, u.ID, now); err != nil {
			return err
		}
		user = u
		return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "user", ID: u.ID}, u.AccountID,
			"user.passwordSet", "user", u.ID, map[string]string{"purpose": string(tok.Purpose)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, err
	}
	return user, nil
}

// RequestPasswordReset queues a reset link for the user with that email
// address, if there is one that is not disabled. It answers the same
// either way, so it cannot be used to find out who has an account.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, info RequestInfo) error {
	var v canopy.Validator
	canopy.ValidateEmail(&v, "email", email, true)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now()
	return s.store.Write(ctx, func(tx store.Tx) error {
		u, err := tx.GetUserByEmail(ctx, canopy.NormalizeEmail(email))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Status == canopy.UserDisabled {
			return nil
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err != nil {
			return err
		}
		if acc.Status == canopy.StatusClosed {
			return nil
		}
		if _, err := s.queueEmail(ctx, tx, acc, u, canopy.TemplatePasswordReset, now); err != nil {
			return err
		}
		return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "system", ID: "password-reset"}, u.AccountID,
			"user.passwordResetRequested", "user", u.ID, nil)
	})
}

// systemAudit records an event of a request with no acting account: the
// account itself is where it happened.
func (s *Service) systemAudit(ctx context.Context, tx store.Tx, info RequestInfo, actor canopy.Actor, accountID, action, targetType, targetID string, details any) error {
	o := &op{ctx: ctx, tx: tx, now: s.now(), s: s,
		caller: Caller{Principal: Principal{Actor: actor}, Acting: Acting{ID: accountID}, RequestID: info.RequestID, Channel: info.Channel, Username: info.Username}}
	o.audit(accountID, action, targetType, targetID, details)
	return tx.InsertAuditEvent(ctx, o.events[0])
}
