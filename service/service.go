// Package service holds Canopy's business operations, written once above
// the stores: the acting-account rules, the account tree, configurations,
// keys and the audit trail. Every write runs in one transaction that also
// records its audit events and, for idempotent requests, its response.
package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/store"
)

// Config holds the service's settings and injected dependencies.
type Config struct {
	// MaxDepth is how many levels may hang below the platform root.
	MaxDepth int
	// AuthCacheTTL bounds how long another process's key revocation or
	// tree change may take to reach this process (changes made by this
	// process take effect at once).
	AuthCacheTTL time.Duration
	// AuthCacheSize bounds the number of cached keys, accounts and
	// explicit shares (each).
	AuthCacheSize int
	// FormCacheBytes bounds the forms cached for reads, by their
	// estimated size in memory (their JSON and about 400 bytes more).
	FormCacheBytes int64
	// PasswordParams are the argon2id costs of new password hashes.
	PasswordParams password.Params
	// TokenTTL is how long a set-password or reset link works.
	TokenTTL time.Duration
	// SessionTTL bounds a session's life; SessionIdle ends it sooner when
	// unused.
	SessionTTL, SessionIdle time.Duration
	// After LoginSlowAfter failures for one login each attempt waits
	// longer; after LoginLockAfter the login is locked for LoginLockFor.
	LoginSlowAfter, LoginLockAfter int
	LoginLockFor                   time.Duration
	// PublicURL is where people open links from emails
	// (<PublicURL>/set-password?token=…).
	PublicURL string
	// Outbox delivery: attempts before a message is marked failed, the
	// first retry delay (doubling, with jitter, up to OutboxMaxBackoff),
	// and how long a worker's claim on a message lasts.
	OutboxMaxAttempts int
	OutboxBackoff     time.Duration
	OutboxMaxBackoff  time.Duration
	OutboxLease       time.Duration
	// InvitePlans are the plans whose accounts may invite sub-accounts
	// (default: enterprise); InvitationDays is an invitation's default
	// life (14).
	InvitePlans    []canopy.Plan
	InvitationDays int
	// SignupDisabled turns POST /v1/signup off.
	SignupDisabled bool
	// CreditTypes are the credit types accounts hold (default upload and
	// message).
	CreditTypes []canopy.CreditType
	// PlanLimits override canopy.DefaultPlanLimits per plan.
	PlanLimits map[canopy.Plan]canopy.PlanLimits
	// LowBalanceThresholds are the balances at which a payer's admins are
	// told that credits run low, once per crossing (default 2000, 1000,
	// 500, 0).
	LowBalanceThresholds []int64
	// Webhooks: WebhookAllowLocal lets endpoints use http and private or
	// loopback addresses (development only); a failed delivery is tried
	// again after WebhookBackoff, doubling with jitter up to
	// WebhookMaxBackoff, for WebhookRetryFor after it was made; an endpoint
	// that failed every delivery for WebhookDisableAfter is disabled; a
	// worker's claim on a delivery lasts WebhookLease.
	WebhookAllowLocal   bool
	WebhookBackoff      time.Duration
	WebhookMaxBackoff   time.Duration
	WebhookRetryFor     time.Duration
	WebhookDisableAfter time.Duration
	WebhookLease        time.Duration
	// SMSNumber is the number collectors text (the provider's sending
	// number), shown in the instructions; empty when none is configured.
	// SMSConversationIdle ends an interactive SMS conversation, unsaved,
	// after that long without a reply (default 24 h).
	SMSNumber           string
	SMSConversationIdle time.Duration
	// Clock and IDs are injected so tests control time and ids.
	Clock  func() time.Time
	IDs    *canopy.IDs
	Logger *slog.Logger
}

// Service is the set of business operations over one store.
type Service struct {
	store store.Store
	cfg   Config
	now   func() time.Time
	ids   *canopy.IDs
	log   *slog.Logger
	cache *authCache
	// hashing bounds the argon2id hashes running at once: each holds
	// PasswordParams.Memory, and a burst of sign-ins must queue for the
	// CPU rather than take the machine's memory.
	hashing chan struct{}
	// debits groups concurrent usage debits into shared transactions.
	debits *debitBatcher
	// inbound groups concurrent incoming texts into shared transactions.
	inbound *inboundBatcher
	// sent groups concurrent records of delivered texts (SMSSent).
	sent groupCommit[*sentReq]
	// secrets holds the key that signs list cursors (LoadSecrets).
	secrets atomic.Pointer[[]byte]
	// eventsOff leaves events unwritten, so that a benchmark can measure
	// what writing them costs in the same run (export_test.go).
	eventsOff bool
	// streamChunk overrides StreamChunk (tests cross chunks with few forms).
	streamChunk int
}

// DefaultAddr is where canopy serve listens when told nothing else.
const DefaultAddr = "127.0.0.1:8080"

// Defaults is the service's configuration when nothing is set: the flags of
// canopy serve show these values, and New fills every zero field of its
// Config from them, so each default is written once.
func Defaults() Config {
	return Config{
		MaxDepth:             canopy.DefaultMaxDepth,
		AuthCacheTTL:         5 * time.Second,
		AuthCacheSize:        100_000,
		FormCacheBytes:       64 << 20,
		PasswordParams:       password.Default,
		TokenTTL:             72 * time.Hour,
		SessionTTL:           12 * time.Hour,
		SessionIdle:          time.Hour,
		LoginSlowAfter:       5,
		LoginLockAfter:       10,
		LoginLockFor:         15 * time.Minute,
		PublicURL:            "http://" + DefaultAddr,
		OutboxMaxAttempts:    8,
		OutboxBackoff:        30 * time.Second,
		OutboxMaxBackoff:     time.Hour,
		OutboxLease:          2 * time.Minute,
		InvitePlans:          []canopy.Plan{canopy.PlanEnterprise},
		InvitationDays:       canopy.DefaultInvitationDays,
		LowBalanceThresholds: canopy.DefaultLowBalanceThresholds,
		WebhookBackoff:       10 * time.Second,
		WebhookMaxBackoff:    8 * time.Hour,
		WebhookRetryFor:      72 * time.Hour,
		WebhookDisableAfter:  5 * 24 * time.Hour,
		WebhookLease:         time.Minute,
		SMSConversationIdle:  24 * time.Hour,
	}
}

// New returns a service over st.
func New(st store.Store, cfg Config) *Service {
	d := Defaults()
	setPositive(&cfg.MaxDepth, d.MaxDepth)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.IDs == nil {
		cfg.IDs = canopy.NewIDs(cfg.Clock, nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.AuthCacheTTL, d.AuthCacheTTL)
	setPositive(&cfg.AuthCacheSize, d.AuthCacheSize)
	setPositive(&cfg.FormCacheBytes, d.FormCacheBytes)
	setDefault(&cfg.PasswordParams, d.PasswordParams)
	setDefault(&cfg.TokenTTL, d.TokenTTL)
	setDefault(&cfg.SessionTTL, d.SessionTTL)
	setDefault(&cfg.SessionIdle, d.SessionIdle)
	setDefault(&cfg.LoginSlowAfter, d.LoginSlowAfter)
	setDefault(&cfg.LoginLockAfter, d.LoginLockAfter)
	setDefault(&cfg.LoginLockFor, d.LoginLockFor)
	setDefault(&cfg.PublicURL, d.PublicURL)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	setDefault(&cfg.OutboxMaxAttempts, d.OutboxMaxAttempts)
	setDefault(&cfg.OutboxBackoff, d.OutboxBackoff)
	setDefault(&cfg.OutboxMaxBackoff, d.OutboxMaxBackoff)
	setDefault(&cfg.OutboxLease, d.OutboxLease)
	setDefault(&cfg.WebhookBackoff, d.WebhookBackoff)
	setDefault(&cfg.WebhookMaxBackoff, d.WebhookMaxBackoff)
	setDefault(&cfg.WebhookRetryFor, d.WebhookRetryFor)
	setDefault(&cfg.WebhookDisableAfter, d.WebhookDisableAfter)
	setDefault(&cfg.WebhookLease, d.WebhookLease)
	if len(cfg.InvitePlans) == 0 {
		cfg.InvitePlans = d.InvitePlans
	}
	setDefault(&cfg.InvitationDays, d.InvitationDays)
	// Records and SMS are charged in upload and message credits, so those
	// two always exist; configuration adds more.
	types := slices.Clone(canopy.DefaultCreditTypes)
	for _, t := range cfg.CreditTypes {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	cfg.CreditTypes = types
	setDefault(&cfg.SMSConversationIdle, d.SMSConversationIdle)
	if cfg.LowBalanceThresholds == nil {
		cfg.LowBalanceThresholds = d.LowBalanceThresholds
	}
	s := &Service{
		store:   st,
		cfg:     cfg,
		now:     func() time.Time { return canopy.Now(cfg.Clock) },
		ids:     cfg.IDs,
		log:     cfg.Logger,
		cache:   newAuthCache(cfg.AuthCacheTTL, cfg.AuthCacheSize, cfg.FormCacheBytes, cfg.Clock),
		hashing: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}
	s.debits = newDebitBatcher(s)
	s.inbound = newInboundBatcher(s)
	s.sent = groupCommit[*sentReq]{max: maxSentBatch, run: s.recordSentBatch}
	own := make([]byte, 32)
	_, _ = rand.Read(own) // crypto/rand never fails on the platforms Go supports
	s.secrets.Store(&own)
	return s
}

// hashPassword and verifyPassword run argon2id within the concurrency
// bound, giving up when ctx ends while waiting.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.acquireHashing(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.hashing }()
	return password.Hash(pw, s.cfg.PasswordParams)
}

func (s *Service) verifyPassword(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	if err := s.acquireHashing(ctx); err != nil {
		return false, false, err
	}
	defer func() { <-s.hashing }()
	return password.Verify(pw, encoded, s.cfg.PasswordParams)
}

func (s *Service) acquireHashing(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setPositive is setDefault for sizes and bounds, which no zero or
// negative value makes sense for.
func setPositive[T int | int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// InvalidateAuthCache drops everything the auth and form caches hold, for
// when another process may have changed anything.
func (s *Service) InvalidateAuthCache() { s.cache.invalidate() }

// AuthChanged applies another process's announcement (store.AuthChange):
// it forgets the forms it names, or everything.
func (s *Service) AuthChanged(payload string) {
	if forms, all := store.ParseAuthChange(payload); all {
		s.cache.invalidate()
	} else {
		s.cache.invalidateForms(forms)
	}
}

// CacheStats reports the caches' counts, in the order of CacheKinds.
func (s *Service) CacheStats() [cacheKinds]CacheStats {
	var out [cacheKinds]CacheStats
	for k := range cacheKinds {
		out[k] = s.cache.statsOf(k)
	}
	return out
}

// MaxDepth reports the configured depth limit.
func (s *Service) MaxDepth() int { return s.cfg.MaxDepth }

// Ping checks the store.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// Principal is an authenticated credential: an API key, or a person's
// session.
type Principal struct {
	// Actor is the key, or for a session the membership (usr_…) it acts
	// through.
	Actor     canopy.Actor
	AccountID string // the credential's own account: the key's, or the membership's
	// For sessions: the membership's role, the person, the session to end
	// on logout, and the person's active memberships.
	Role      canopy.UserRole
	PersonID  string
	SessionID string
	grants    []grant
}

// grant is an active membership a session may act through.
type grant struct {
	userID, accountID string
	path              canopy.Path
	role              canopy.UserRole
}

// IsUser reports whether the principal is a signed-in person.
func (p Principal) IsUser() bool { return p.Actor.Type == "user" }

// MayManage reports whether the principal holds admin rights: API keys do,
// people do where their membership is admin.
func (p Principal) MayManage() bool { return !p.IsUser() || p.Role == canopy.UserAdmin }

// Credential names the key or session that made a request, for what only
// that credential may see again (idempotent replays).
func (p Principal) Credential() string {
	if p.SessionID != "" {
		return "session:" + p.SessionID
	}
	return p.Actor.Type + ":" + p.Actor.ID
}

// grantFor picks the membership a session acts through in the account at
// path: its membership there, else an admin membership of the nearest
// ancestor (rule 2, docs/rules.md); nil when there is none.
func (p Principal) grantFor(accountID string, path canopy.Path) *grant {
	var best *grant
	for i := range p.grants {
		g := &p.grants[i]
		if g.accountID == accountID {
			return g
		}
		if g.role == canopy.UserAdmin && path.Contains(g.accountID) && (best == nil || g.path.Depth() > best.path.Depth()) {
			best = g
		}
	}
	return best
}

// through returns the principal as it acts in acting: a session takes the
// identity and role of the membership it acts through.
func (p Principal) through(acting Acting) Principal {
	if g := acting.via; g != nil {
		p.Actor.ID, p.AccountID, p.Role = g.userID, g.accountID, g.role
	}
	return p
}

// Acting is the account a request acts as, as resolved from the cache.
type Acting struct {
	ID   string
	Path canopy.Path
	via  *grant // the membership a session acts through
}

// Caller is one request's identity and the facts the audit trail records.
type Caller struct {
	Principal
	Acting    Acting
	Channel   string
	Username  string
	RequestID string
}

// Idempotent asks a write to store its response in its own transaction, so
// a retry with the same Idempotency-Key returns the first response and the
// write happens once, even when the two requests race.
type Idempotent struct {
	Scope string
	Key   string
	// Credential is the key or session making the request: a stored
	// response goes back only to it (rule 11, docs/rules.md).
	Credential  string
	Fingerprint string
	StatusCode  int
	// Encode renders the write's result as the response body.
	Encode func(result any) ([]byte, error)
	// Location, when set, derives the response's Location header.
	Location func(result any) string
}

// Redactor is implemented by results that hold something shown only once
// (an API key's secret): the stored response for replays is Redacted().
type Redactor interface {
	Redacted() any
}

type idemKey struct{}

// WithIdempotency attaches an idempotency request to ctx.
func WithIdempotency(ctx context.Context, i *Idempotent) context.Context {
	return context.WithValue(ctx, idemKey{}, i)
}

// ErrIdempotentReplay means a concurrent request with the same key
// committed first; the caller should replay the stored response.
var ErrIdempotentReplay = errors.New("idempotency key used by a concurrent request")

// StoredResponse returns the first response recorded for the request's
// scope and key, or nil when there is none. The same key from another
// credential, or with a different request, is a 422: one caller's response
// never reaches another.
func (s *Service) StoredResponse(ctx context.Context, i *Idempotent) (*store.Idempotency, error) {
	var rec *store.Idempotency
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.GetIdempotency(ctx, i.Scope, i.Key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	if rec.Credential != i.Credential {
		return nil, canopy.InvalidField("Idempotency-Key", canopy.CodeIdempotencyMismatch,
			"this key was already used by another credential; use a new key")
	}
	if rec.Fingerprint != i.Fingerprint {
		return nil, canopy.InvalidField("Idempotency-Key", canopy.CodeIdempotencyMismatch,
			"this key was already used with a different request; use a new key for a new request")
	}
	return rec, nil
}

// PruneIdempotency deletes idempotency records older than age.
func (s *Service) PruneIdempotency(ctx context.Context, age time.Duration) (int64, error) {
	var n int64
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteIdempotencyBefore(ctx, s.now().Add(-age))
		return err
	})
	return n, err
}

// op is one write in progress: its transaction, the acting account as it
// is now, and the audit events it will record.
type op struct {
	ctx    context.Context
	tx     store.Tx
	caller Caller
	acting *canopy.Account
	now    time.Time
	events []*canopy.AuditEvent
	// emitted are events no audit event records (see emit).
	emitted []*canopy.Event
	// invalidateAuth clears the auth cache at commit: set by changes to
	// the tree, to account status and to keys.
	invalidateAuth bool
	// changedForms are forms whose definitions, example flags or shares
	// the write changes, or that it deletes: the caches forget them and
	// their shares at commit, here and (announced) on other replicas.
	changedForms []string
	s            *Service
}

// audit records an event about accountID, written with the change.
func (o *op) audit(accountID, action, targetType, targetID string, details any) {
	var raw json.RawMessage
	if details != nil {
		b, err := json.Marshal(details)
		if err == nil {
			raw = b
		}
	}
	o.events = append(o.events, &canopy.AuditEvent{
		ID:              o.s.ids.New(canopy.PrefixAuditEvent),
		OccurredAt:      o.now,
		AccountID:       accountID,
		ActingAccountID: o.caller.Acting.ID,
		Actor:           canopy.Actor{Type: o.caller.Actor.Type, ID: o.caller.Actor.ID, AccountID: o.caller.AccountID},
		Action:          action,
		TargetType:      targetType,
		TargetID:        targetID,
		Channel:         o.caller.Channel,
		Username:        o.caller.Username,
		RequestID:       o.caller.RequestID,
		Details:         raw,
	})
}

// visible loads an account the acting account acts on, or answers
// not-found (rule 2, docs/rules.md); lock takes a shared row lock (see
// store.AccountTx).
func (o *op) visible(id string, lock bool) (*canopy.Account, error) {
	a, _, err := o.reachable(id, lock, canopy.ReachAct)
	return a, err
}

// open loads a visible account that is not closed, for writes that change
// it.
func (o *op) open(id string) (*canopy.Account, error) {
	a, err := o.visible(id, false)
	if err != nil {
		return nil, err
	}
	if a.Status == canopy.StatusClosed {
		return nil, closedError(a.ID)
	}
	return a, nil
}

// write runs fn as one transaction acting as c.Acting. Before fn runs it
// re-reads the acting account and refuses the write when the account has
// left the credential's subtree, or when it or an ancestor is suspended or
// closed (rules 2 and 9, docs/rules.md).
func write[T any](ctx context.Context, s *Service, c Caller, fn func(o *op) (T, error)) (T, error) {
	return runWrite(ctx, s, c, writeOpts{}, fn)
}

// writeTree is write for structural changes (moves, closes): it takes the
// tree lock before any row lock, so that locks are always taken in the
// same order and two writes never wait on each other.
func writeTree[T any](ctx context.Context, s *Service, c Caller, fn func(o *op) (T, error)) (T, error) {
	return runWrite(ctx, s, c, writeOpts{lockTree: true}, fn)
}

// writeWork is write for what members may do as much as admins: the
// account's everyday work — making forms and collecting data, where the
// account's role on the form decides — and changes to one's own profile
// (fn then checks that a member changes only itself). What other accounts
// get to see (shares, examples) and deleting a form stay with admins and
// API keys.
func writeWork[T any](ctx context.Context, s *Service, c Caller, fn func(o *op) (T, error)) (T, error) {
	return runWrite(ctx, s, c, writeOpts{members: true}, fn)
}

type writeOpts struct {
	lockTree bool
	members  bool // members may run it, not only admins and API keys
	// whileSuspended lets fn run in a suspended subtree (a sub-account
	// leaving its umbrella); fn checks what else it needs.
	whileSuspended bool
}

var errMembersRead = canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
	"members may read; only an admin of the account (or of an ancestor) may change this")

func runWrite[T any](ctx context.Context, s *Service, c Caller, opts writeOpts, fn func(o *op) (T, error)) (T, error) {
	if !opts.members && !c.MayManage() {
		var zero T
		return zero, errMembersRead
	}
	var (
		result T
		// changing counts the times the cache was told of the change
		// (begin; the store may retry fn), each of which needs its end.
		changing int
	)
	idem, _ := ctx.Value(idemKey{}).(*Idempotent)
	err := s.store.Write(ctx, func(tx store.Tx) error {
		o := &op{ctx: ctx, tx: tx, caller: c, now: s.now(), s: s}
		if idem != nil {
			// Claim the key before anything else: a concurrent request with
			// the same key then waits here and replays our response, rather
			// than failing on whatever unique index it reaches first.
			err := tx.InsertIdempotency(ctx, &store.Idempotency{
				Scope: idem.Scope, Key: idem.Key, Credential: idem.Credential, Fingerprint: idem.Fingerprint, Body: []byte{}, CreatedAt: o.now,
			})
			if store.Conflict(err) == store.UniqueIdempotency {
				return ErrIdempotentReplay
			}
			if err != nil {
				return err
			}
		}
		if opts.lockTree {
			if err := tx.LockTree(ctx); err != nil {
				return err
			}
		}
		// The shared lock makes a concurrent move of the acting account's
		// subtree wait for this write (and this write for the move), so the
		// write never acts on a path that is being rewritten.
		acting, err := tx.GetAccountForShare(ctx, c.Acting.ID)
		if errors.Is(err, store.ErrNotFound) {
			return canopy.NotFound("account")
		}
		if err != nil {
			return fmt.Errorf("load acting account: %w", err)
		}
		if reach, err := reachIn(ctx, tx, c, acting); err != nil {
			return err
		} else if reach != canopy.ReachAct {
			return canopy.NotFound("account")
		}
		o.acting = acting
		if err := checkWritable(ctx, tx, acting); err != nil && !(opts.whileSuspended && acting.Status != canopy.StatusClosed) {
			return err
		}
		if err := checkCredential(ctx, tx, c.Principal); err != nil {
			return err
		}
		result, err = fn(o)
		if o.invalidateAuth || len(o.changedForms) > 0 {
			// Before commit: from here until end, the cache neither serves
			// what this write changes nor takes fills (see authCache), so
			// no reader on this replica sees it stale once it committed —
			// nor after a failure, when fn may have filled the cache from
			// this transaction's own uncommitted reads.
			s.cache.begin(o.invalidateAuth, o.changedForms)
			changing++
		}
		if err != nil {
			return err
		}
		if err := o.flush(); err != nil {
			return err
		}
		if idem != nil {
			stored := any(result)
			if r, ok := stored.(Redactor); ok {
				stored = r.Redacted()
			}
			body, err := idem.Encode(stored)
			if err != nil {
				return fmt.Errorf("encode idempotent response: %w", err)
			}
			location := ""
			if idem.Location != nil {
				location = idem.Location(result)
			}
			if err := tx.SetIdempotencyResponse(ctx, store.IdempotencyResponse{
				Scope: idem.Scope, Key: idem.Key, StatusCode: idem.StatusCode, Body: body, Location: location}); err != nil {
				return err
			}
		}
		if o.invalidateAuth {
			return tx.NotifyAuthChange(ctx)
		}
		if len(o.changedForms) > 0 {
			return tx.NotifyAuthChange(ctx, o.changedForms...)
		}
		return nil
	})
	for range changing {
		s.cache.end()
	}
	return result, err
}

// checkCredential re-reads the credential inside a write, so a key revoked
// or a user disabled by another replica can no longer write, even while
// caches elsewhere still hold them.
func checkCredential(ctx context.Context, tx store.Tx, p Principal) error {
	if p.IsUser() {
		u, err := tx.GetUser(ctx, p.Actor.ID)
		if errors.Is(err, store.ErrNotFound) ||
			(err == nil && (u.Status != canopy.UserActive || u.Role != p.Role || u.PersonID != p.PersonID)) {
			return errUnauthorized
		}
		return err
	}
	k, err := tx.GetAPIKey(ctx, p.Actor.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.RevokedAt != nil) {
		return errUnauthorized
	}
	return err
}

// checkWritable refuses writes in a suspended or closed subtree.
func checkWritable(ctx context.Context, tx store.AccountTx, acting *canopy.Account) error {
	if acting.Status == canopy.StatusClosed {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeAccountClosed, "account %s is closed; it can no longer be changed", acting.ID)
	}
	if acting.Status == canopy.StatusSuspended {
		return suspendedError(acting.ID)
	}
	ids := acting.Path.IDs()
	ancestors, err := tx.GetAccounts(ctx, ids[:len(ids)-1])
	if err != nil {
		return fmt.Errorf("load ancestors: %w", err)
	}
	for _, a := range ancestors {
		if a.Status != canopy.StatusActive {
			return suspendedError(acting.ID)
		}
	}
	return nil
}

func suspendedError(id string) error {
	return canopy.Errorf(canopy.KindForbidden, canopy.CodeAccountSuspended,
		"account %s or one of its ancestors is suspended; writes are refused until it is reactivated", id)
}

// read runs fn in a read-only snapshot: the context's (see Snapshot), else
// one of its own.
func (s *Service) read(ctx context.Context, fn func(tx store.Tx) error) error {
	if sn := snapshotOf(ctx); sn != nil {
		return fn(sn)
	}
	gen := s.cache.generation()
	return s.store.Read(ctx, func(tx store.Tx) error { return fn(readTx{tx, gen}) })
}

// readTx is a read-only snapshot that remembers the caches' generation
// read before it began (see began).
type readTx struct {
	store.Tx
	gen uint64
}

// within runs fn in tx when the caller holds a transaction, else in the
// context's snapshot, else in a read of one statement's snapshot of its
// own. Helpers that fill a cache take the caller's tx this way: a
// goroutine that holds one pooled connection must never wait for a
// second, or a pool whose every connection is held by such callers
// deadlocks (STYLE habit 2).
func (s *Service) within(ctx context.Context, tx store.Tx, fn func(tx store.Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	if sn := snapshotOf(ctx); sn != nil {
		return fn(sn)
	}
	return s.store.ReadOne(ctx, fn)
}

// visibleIn loads an account the caller acts on within a read (rule 2,
// docs/rules.md): the account's freshly read path and links must let the
// credential act as the acting account and the acting account act on it.
// The acting account was resolved from a cache that may lag a change made
// by another replica; what is read here cannot.
func visibleIn(ctx context.Context, tx store.AccountTx, c Caller, id string) (*canopy.Account, error) {
	a, _, err := reachableIn(ctx, tx, c, id, canopy.ReachAct)
	return a, err
}

// actingIn loads the acting account within a read, checking that the
// credential still acts as it.
func actingIn(ctx context.Context, tx store.AccountTx, c Caller) (*canopy.Account, error) {
	return visibleIn(ctx, tx, c, c.Acting.ID)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
