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
	// One answer for a wrong password, an unknown login and a person
	// without a password yet, so a login attempt tells nobody who exists.
	errInvalidCredentials = canopy.Errorf(canopy.KindUnauthorized, canopy.CodeInvalidCredentials,
		"the login or the password is wrong")
	errInvalidToken = canopy.Errorf(canopy.KindBadRequest, canopy.CodeInvalidToken,
		"this link is invalid, was already used or has expired; ask for a new one")
	errUserDisabled = canopy.Errorf(canopy.KindForbidden, canopy.CodeUserDisabled,
		"this user is disabled; an admin of the account can enable it")
)

// touchEvery is how stale a session's last-seen time may get before a
// request refreshes it: often enough for the idle timeout, rarely enough
// that reads do not all become writes.
const touchEvery = time.Minute

// authenticateSession resolves a session token to its person's principal,
// with the person's active memberships in open accounts as the grants it
// may act through. The membership signed in to is its own account.
func (s *Service) authenticateSession(ctx context.Context, secret string) (Principal, error) {
	hash := canopy.HashSecret(secret)
	now := s.now()
	var (
		sess    *canopy.Session
		members []*canopy.User
	)
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if sess, err = tx.GetSessionByHash(ctx, hash); err != nil {
			return err
		}
		members, err = tx.ListPersonUsers(ctx, sess.PersonID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, errSessionExpired
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) {
		return Principal{}, errSessionExpired
	}
	p := Principal{Actor: canopy.Actor{Type: "user"}, PersonID: sess.PersonID, SessionID: sess.ID}
	for _, u := range members {
		if u.Status != canopy.UserActive {
			continue
		}
		acc, err := s.account(ctx, u.AccountID)
		if err != nil {
			return Principal{}, err
		}
		if !acc.found || acc.status == canopy.StatusClosed {
			continue
		}
		p.grants = append(p.grants, grant{userID: u.ID, accountID: u.AccountID, path: acc.path, role: u.Role})
	}
	var home *grant
	for i := range p.grants {
		if p.grants[i].userID == sess.UserID {
			home = &p.grants[i]
		}
	}
	if home == nil && len(p.grants) > 0 {
		home = &p.grants[0]
	}
	if home != nil {
		p.Actor.ID, p.AccountID, p.Role = home.userID, home.accountID, home.role
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		err := s.store.Write(ctx, func(tx store.Tx) error { return tx.TouchSession(ctx, sess.ID, now) })
		if err != nil {
			// The request may go on: a missed touch only shortens the session.
			s.log.WarnContext(ctx, "touch session", "err", err.Error())
		}
	}
	return p, nil
}

// LoginInput is a sign-in request; Login is a username or an email.
// AccountID, when given, is the account the session acts in when a request
// names none; by default the person's oldest active membership.
type LoginInput struct {
	Login     string `json:"login"`
	Password  string `json:"password"`
	AccountID string `json:"accountId"`
}

// LoginResult is a new session.
type LoginResult struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	// User is the membership the session acts as by default; nil when the
	// person has only invitations to answer.
	User *canopy.User `json:"user"`
}

// RequestInfo is what the audit trail records of a request that has no
// authenticated caller yet. Its Channel and Username are the caller's
// claim and are never written for such a request (rule 10, docs/rules.md).
type RequestInfo struct {
	RequestID string
	Channel   string
	Username  string
}

// Login checks a person's password and opens a session. Repeated failures
// for one login are slowed, then locked for a while — counted per login
// string, whether or not anyone has it, and an unknown login costs the same
// password hashing as a known one, so nothing tells who exists.
//
// Errors: validation-failed; invalid-credentials (401); login-throttled and
// login-locked (429, with RetryAfter); user-disabled, not-found (the asked
// account) and account-closed (only after a correct password).
func (s *Service) Login(ctx context.Context, in LoginInput, info RequestInfo) (*LoginResult, error) {
	var v canopy.Validator
	v.Check(strings.TrimSpace(in.Login) != "", "login", "required", "must be your username or email address")
	validLogin(&v, in.Login)
	v.Check(in.Password != "", "password", "required", "must not be empty")
	v.Check(len(in.Password) <= 1024, "password", "too-long", "must be at most 1024 bytes")
	if in.AccountID != "" {
		v.Check(canopy.ValidID(canopy.PrefixAccount, in.AccountID), "accountId", canopy.CodeInvalidID, "must be an account id")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	login := canopy.NormalizeEmail(in.Login)
	attemptsKey := loginAttemptsKey(login)
	now := s.now()

	var (
		person   *canopy.Person
		attempts *canopy.LoginAttempts
	)
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := tx.GetLoginAttempts(ctx, attemptsKey)
		if err == nil {
			attempts = a
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		p, err := personByLogin(ctx, tx, login)
		if err == nil {
			person = p
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
	if person != nil && person.PasswordHash != "" {
		hash = person.PasswordHash
	}
	ok, rehash, err := s.verifyPassword(ctx, in.Password, hash)
	if err != nil {
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if !ok || person == nil || person.PasswordHash == "" {
		if err := s.recordLoginFailure(ctx, attemptsKey, now); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
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
		ID: s.ids.New(canopy.PrefixSession), PersonID: person.ID, Hash: canopy.HashSecret(secret),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), LastSeenAt: now,
	}
	var home *canopy.User
	err = s.store.Write(ctx, func(tx store.Tx) error {
		// Re-read: only what signing in changes is written, so a change
		// made meanwhile (a disable, a new password) stands.
		p, err := tx.GetPerson(ctx, person.ID)
		if err != nil {
			return err
		}
		if p.PasswordHash != person.PasswordHash {
			return errInvalidCredentials
		}
		if home, err = s.homeMembership(ctx, tx, p, in.AccountID); err != nil {
			return err
		}
		if err := tx.DeleteLoginAttempts(ctx, attemptsKey); err != nil {
			return err
		}
		p.LastLoginAt = &now
		if upgraded != "" {
			p.PasswordHash = upgraded
		}
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return err
		}
		auditIn := ""
		if home != nil {
			sess.UserID, auditIn = home.ID, home.AccountID
			home.Person = p
			home.Show()
		}
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		if auditIn == "" {
			return nil // nowhere to act yet: only invitations to answer
		}
		return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "user", ID: home.ID}, auditIn, "session.created", "session", sess.ID, nil)
	})
	if errors.Is(err, errInvalidCredentials) {
		return nil, err
	}
	if err != nil {
		var ae *canopy.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &LoginResult{Token: secret, ExpiresAt: sess.ExpiresAt, User: home}, nil
}

// homeMembership picks the membership a new session acts in by default:
// the one in accountID when given, else the oldest active one in an open
// account. A person who has only invitations to answer signs in with none;
// one whose memberships are all disabled or closed may not sign in.
func (s *Service) homeMembership(ctx context.Context, tx store.Tx, p *canopy.Person, accountID string) (*canopy.User, error) {
	members, err := tx.ListPersonUsers(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	var (
		disabled, invited bool
		closed            string
	)
	for _, u := range members {
		if accountID != "" && u.AccountID != accountID {
			continue
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err != nil {
			return nil, err
		}
		switch {
		case acc.Status == canopy.StatusClosed:
			closed = acc.ID
		case u.Status == canopy.UserDisabled:
			disabled = true
		case u.Status == canopy.UserInvited:
			invited = true
		default:
			return u, nil
		}
	}
	switch {
	case invited:
		return nil, nil // signed in to answer an invitation
	case disabled:
		return nil, errUserDisabled
	case closed != "":
		return nil, closedError(closed)
	case accountID != "":
		return nil, canopy.NotFound("account " + accountID)
	}
	return nil, errUserDisabled // no membership left at all
}

// personByLogin finds a person by email address (a login with @) or
// username; login is normalised.
func personByLogin(ctx context.Context, tx store.UserTx, login string) (*canopy.Person, error) {
	if canopy.LoginIsEmail(login) {
		return tx.GetPersonByEmail(ctx, login)
	}
	return tx.GetPersonByUsername(ctx, login)
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
		if c.AccountID == "" {
			return nil
		}
		return s.systemAudit(ctx, tx, RequestInfo{RequestID: c.RequestID}, c.Actor, c.AccountID,
			"session.revoked", "session", c.SessionID, nil)
	})
}

// SetPasswordInput redeems a one-time link.
type SetPasswordInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// redeemable loads the token of a link and its person, or answers
// invalid-token: unknown, used or expired links, links of another purpose,
// and links sent to an address that is no longer the one they confirm.
func (s *Service) redeemable(ctx context.Context, token string, purposes ...canopy.TokenPurpose) (*canopy.UserToken, *canopy.Person, error) {
	if !validSecret(token, canopy.TokenPrefix) {
		return nil, nil, errInvalidToken
	}
	var (
		tok *canopy.UserToken
		p   *canopy.Person
	)
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if tok, err = tx.GetUserTokenByHash(ctx, canopy.HashSecret(token)); err != nil {
			return err
		}
		p, err = tx.GetPerson(ctx, tok.PersonID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errInvalidToken
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up token: %w", err)
	}
	address := p.Email
	if tok.Purpose == canopy.PurposeEmailChange {
		address = p.PendingEmail
	}
	if tok.UsedAt != nil || !s.now().Before(tok.ExpiresAt) || !tokenFor(tok, purposes) ||
		tok.Email != canopy.NormalizeEmail(address) {
		return nil, nil, errInvalidToken
	}
	return tok, p, nil
}

func tokenFor(tok *canopy.UserToken, purposes []canopy.TokenPurpose) bool {
	for _, p := range purposes {
		if tok.Purpose == p {
			return true
		}
	}
	return false
}

// SetPassword sets a person's password from a one-time link: it proves the
// person receives mail at the address, which counts as verifying it (rule
// 11, docs/rules.md), and a welcome or invitation link joins the account it
// was sent for. Every unused link of the person stops working, and their
// sessions end.
//
// Errors: invalid-token (400, also for used and expired links and links to
// an address that changed); validation-failed naming password (weak);
// user-disabled; account-closed.
func (s *Service) SetPassword(ctx context.Context, in SetPasswordInput, info RequestInfo) (*canopy.User, error) {
	tok, person, err := s.redeemable(ctx, in.Token, canopy.PurposeSetPassword, canopy.PurposeReset)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var joining *canopy.User
	err = s.read(ctx, func(tx store.Tx) error {
		if tok.UserID == "" {
			return nil
		}
		u, err := tx.GetUser(ctx, tok.UserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.PersonID != person.ID) {
			return errInvalidToken // the membership was removed since
		}
		if err != nil {
			return err
		}
		joining = u
		if u.Status == canopy.UserDisabled {
			return errUserDisabled
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err == nil && acc.Status == canopy.StatusClosed {
			return closedError(u.AccountID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if reason := password.Check(in.Password, person.Email, person.Username, person.Name); reason != "" {
		return nil, canopy.InvalidField("password", canopy.CodeWeakPassword, "%s", reason)
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	var shown *canopy.User
	err = s.store.Write(ctx, func(tx store.Tx) error {
		// Claim this very token first: of two redemptions at once, the
		// second finds it used (store.ErrNotFound → invalid-token).
		if err := tx.ClaimUserToken(ctx, tok.ID, now); err != nil {
			return err
		}
		if err := tx.UsePersonTokens(ctx, person.ID, now); err != nil {
			return err
		}
		p, err := tx.GetPerson(ctx, person.ID)
		if err != nil {
			return err
		}
		if canopy.NormalizeEmail(p.Email) != tok.Email {
			return store.ErrNotFound // the address changed meanwhile
		}
		p.PasswordHash, p.PasswordChangedAt, p.UpdatedAt = hash, &now, now
		if p.EmailVerifiedAt == nil {
			p.EmailVerifiedAt = &now
		}
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return err
		}
		if err := tx.RevokePersonSessions(ctx, p.ID, now); err != nil {
			return err
		}
		if joining != nil {
			if shown, err = join(ctx, tx, joining.ID, now); err != nil {
				return err
			}
		} else if shown, err = firstMembership(ctx, tx, p.ID); err != nil {
			return err
		}
		if shown == nil {
			return nil
		}
		return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "user", ID: shown.ID}, shown.AccountID,
			"user.passwordSet", "user", shown.ID, map[string]string{"purpose": string(tok.Purpose)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, err
	}
	return shown, nil
}

// join makes an invited membership active, recording when; a membership
// that already joined stays as it is. It returns the membership as shown.
func join(ctx context.Context, tx store.UserTx, userID string, now time.Time) (*canopy.User, error) {
	u, err := tx.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Status == canopy.UserInvited {
		u.Status, u.JoinedAt, u.UpdatedAt = canopy.UserActive, &now, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
		u.Show()
	}
	return u, nil
}

// firstMembership returns a person's oldest membership, or nil.
func firstMembership(ctx context.Context, tx store.UserTx, personID string) (*canopy.User, error) {
	members, err := tx.ListPersonUsers(ctx, personID)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	return members[0], nil
}

// ConfirmEmailInput redeems the link sent to a new address.
type ConfirmEmailInput struct {
	Token string `json:"token"`
}

// ConfirmEmail applies a change of address from the link sent to the new
// address: only now does the person's address change, and it is verified.
// Links sent to the old address stopped working when the change was asked
// for.
//
// Errors: invalid-token (400, also when the address was taken meanwhile or
// a newer change replaced this one).
func (s *Service) ConfirmEmail(ctx context.Context, in ConfirmEmailInput, info RequestInfo) (*canopy.User, error) {
	tok, person, err := s.redeemable(ctx, in.Token, canopy.PurposeEmailChange)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var shown *canopy.User
	err = s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.ClaimUserToken(ctx, tok.ID, now); err != nil {
			return err
		}
		p, err := tx.GetPerson(ctx, person.ID)
		if err != nil {
			return err
		}
		if canopy.NormalizeEmail(p.PendingEmail) != tok.Email {
			return store.ErrNotFound
		}
		old := p.Email
		p.Email, p.PendingEmail, p.EmailVerifiedAt, p.UpdatedAt = p.PendingEmail, "", &now, now
		if err := tx.UpdatePerson(ctx, p); err != nil {
			if store.Conflict(err) == store.UniqueUserEmail {
				return store.ErrNotFound // someone has the address now
			}
			return err
		}
		if err := tx.UsePersonTokens(ctx, p.ID, now); err != nil {
			return err
		}
		members, err := tx.ListPersonUsers(ctx, p.ID)
		if err != nil {
			return err
		}
		for _, u := range members {
			if shown == nil {
				shown = u
			}
			if err := s.systemAudit(ctx, tx, info, canopy.Actor{Type: "user", ID: u.ID}, u.AccountID,
				"user.emailChanged", "user", u.ID, map[string]string{"from": old, "to": p.Email}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidToken
	}
	return shown, err
}

// RequestPasswordReset records that someone asked for a reset link for an
// address and answers at once: the request does the same work for every
// address, so neither its answer nor its timing tells who has an account.
// DecideResetRequests sends the links later.
//
// Errors: validation-failed.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, info RequestInfo) error {
	var v canopy.Validator
	canopy.ValidateEmail(&v, "email", email, true)
	if err := v.Err(); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		return tx.InsertResetRequest(ctx, &store.ResetRequest{
			ID: s.ids.New("rst"), Email: canopy.NormalizeEmail(email), CreatedAt: s.now(),
		})
	})
}

// DecideResetRequests turns waiting reset requests into reset emails, for
// addresses of people who have a membership that is not disabled in an open
// account; others are dropped without a trace. It returns how many it
// decided. Claiming the outbox runs it first, so resets go out with the
// next delivery round.
func (s *Service) DecideResetRequests(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.store.Write(ctx, func(tx store.Tx) error {
			reqs, err := tx.TakeResetRequests(ctx, 100)
			if err != nil {
				return err
			}
			n = len(reqs)
			now := s.now()
			for _, r := range reqs {
				if err := s.decideReset(ctx, tx, r, now); err != nil {
					return err
				}
			}
			return nil
		})
		total += n
		if err != nil || n < 100 {
			return total, err
		}
	}
}

func (s *Service) decideReset(ctx context.Context, tx store.Tx, r *store.ResetRequest, now time.Time) error {
	p, err := tx.GetPersonByEmail(ctx, r.Email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	members, err := tx.ListPersonUsers(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, u := range members {
		if u.Status == canopy.UserDisabled {
			continue
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err != nil {
			return err
		}
		if acc.Status == canopy.StatusClosed {
			continue
		}
		if _, err := s.queueEmail(ctx, tx, acc, u, canopy.TemplatePasswordReset, now); err != nil {
			return err
		}
		return s.systemAudit(ctx, tx, RequestInfo{}, canopy.Actor{Type: "system", ID: "password-reset"}, u.AccountID,
			"user.passwordResetRequested", "user", u.ID, nil)
	}
	return nil
}

// systemAudit records an event of a request with no acting account: the
// account itself is where it happened. Such a request is anonymous, so the
// caller's claimed channel and username are not recorded (rule 10,
// docs/rules.md); only the request id is.
func (s *Service) systemAudit(ctx context.Context, tx store.Tx, info RequestInfo, actor canopy.Actor, accountID, action, targetType, targetID string, details any) error {
	p := Principal{Actor: actor}
	if actor.Type == "user" {
		p.AccountID = accountID // the person's membership there
	}
	o := &op{ctx: ctx, tx: tx, now: s.now(), s: s,
		caller: Caller{Principal: p, Acting: Acting{ID: accountID}, RequestID: info.RequestID}}
	o.audit(accountID, action, targetType, targetID, details)
	return o.flush()
}
