// Package store defines the narrow, transaction-aware storage contract that
// the service layer drives. Business rules live above it, in package service;
// a store only reads and writes rows, may do clever SQL for speed, and maps
// database errors onto the few errors defined here. Package sqlstore
// implements it for SQLite and PostgreSQL, and package storetest is the one
// suite both must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/canopyhq/canopy"
)

// Errors a store returns. Callers match them with errors.Is.
var (
	// ErrNotFound: the row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness constraint refused the write; the error
	// wrapping it names the constraint (see Conflict).
	ErrConflict = errors.New("store: conflict")
	// ErrBusy: no database connection became free within the store's
	// acquire timeout. It is an application error (503 busy, with
	// Retry-After), so it reaches the client through any wrapping: the
	// request did nothing and may be sent again.
	ErrBusy error = &canopy.Error{Kind: canopy.KindUnavailable, Code: canopy.CodeBusy, RetryAfter: time.Second,
		Message: "the service is too busy to take this request now (no database connection became free in time); nothing was done, try again shortly"}
)

// ConflictError reports which unique constraint a write violated.
type ConflictError struct {
	Constraint string // one of the Unique* names
	Err        error
}

func (e *ConflictError) Error() string {
	return "store: conflict on " + e.Constraint + ": " + e.Err.Error()
}

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, e.Err} }

// The unique constraints a caller may want to tell apart.
const (
	UniqueUserEmail     = "people_email"
	UniqueUsername      = "people_username"
	UniqueMembership    = "memberships_person_account"
	UniqueExternalRef   = "external_references_scope"
	UniqueIdempotency   = "idempotency_keys"
	UniqueRootAccount   = "accounts_one_root"
	UniqueAPIKeyHash    = "api_keys_hash"
	UniqueOther         = "other"
	UniqueWorkflowName  = "account_workflows"
	UniquePendingInvite = "invitations_one_pending"
	UniqueContactEmail  = "contacts_email"
	UniqueInviteToken   = "invitations_token"
	UniqueLedgerKey     = "credit_ledger_idempotency"
	UniqueFormCode      = "form_codes_code"
)

// Conflict returns the constraint name of a conflict error, or "".
func Conflict(err error) string {
	var c *ConflictError
	if errors.As(err, &c) {
		return c.Constraint
	}
	return ""
}

// Store opens transactions. Write transactions are serialised with respect
// to the tree where they call LockTree; see Tx.
type Store interface {
	// Write runs fn in a read-write transaction and commits when fn returns
	// nil. It retries fn when the database reports a transient conflict
	// (deadlock, serialisation failure), so fn must not have side effects
	// outside the transaction.
	Write(ctx context.Context, fn func(Tx) error) error
	// Read runs fn in a read-only transaction with one consistent snapshot.
	Read(ctx context.Context, fn func(Tx) error) error
	// ReadOne runs fn outside a transaction: each statement sees its own
	// snapshot, so fn should make one. It saves Read's BEGIN and COMMIT
	// round trips on the hottest reads. fn must not write.
	ReadOne(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Engine names the database: "sqlite" or "postgres".
	Engine() string
	// Close releases the connections.
	Close() error
}

// Page asks for one page of a keyset-ordered list: rows strictly after
// After in the list's order, at most Limit of them.
type Page struct {
	After string
	Limit int
}

// AuditFilter narrows an audit listing.
type AuditFilter struct {
	Subtree  canopy.Path // events whose account lies in this subtree
	Action   string
	TargetID string
	Before   string // event id; newest first
	Limit    int

	// ActorID keeps the events of one actor (a usr_ or key_ id); OnBehalf,
	// when set, those made (or not) by a credential of another account.
	ActorID  string
	OnBehalf *bool
	// Except are subtrees left out (consent boundaries, rule 2).
	Except []canopy.Path
}

// Idempotency is the stored first response to a POST with an
// Idempotency-Key.
type Idempotency struct {
	Scope string
	Key   string
	// Credential is the key or session that made the request: only it gets
	// the stored response back.
	Credential  string
	Fingerprint string
	StatusCode  int
	Body        []byte
	Location    string // the Location header of the first response, if any
	CreatedAt   time.Time
}

// Tx is one transaction. Every method returns ErrNotFound for a missing row
// and a *ConflictError for a violated unique constraint; anything else is an
// internal error.
type Tx interface {
	// LockTree takes the installation-wide lock that structural changes
	// (moves, reparenting closes, accepted invitations) hold, so that two of
	// them never interleave and cannot together make a cycle.
	LockTree(ctx context.Context) error
	// NotifyAuthChange tells other processes sharing the database, when the
	// transaction commits, what their caches must forget: the forms named
	// (definitions, example flags, shares), or — with none named —
	// everything (keys, the tree). A no-op where one process owns the
	// database.
	NotifyAuthChange(ctx context.Context, forms ...string) error
	// Try runs fn inside a savepoint: when fn fails, what it wrote is
	// undone and the transaction goes on (fn's error is returned); when
	// it succeeds, its writes stay. A write that may be refused partway
	// (a debit past a balance) can so be given up without losing the
	// transaction around it.
	Try(ctx context.Context, fn func() error) error

	AccountTx
	UserTx
	CredentialTx
	APIKeyTx
	ConfigTx
	AuditTx
	OutboxTx
	IdempotencyTx
	InvitationTx
	FormTx
	CreditTx
	SMSTx
	SettingTx
	ReportTx
	CollectTx
	ConsentTx
	EventTx
	WebhookTx
}

// FormCursor is a position in a form listing, which runs in (owner path,
// form id) order.
type FormCursor struct {
	OwnerPath canopy.Path
	ID        string
}

// SubtreeForms asks for forms owned in a subtree, as an ancestor sees them
// through the tree.
type SubtreeForms struct {
	// Path is the subtree; forms of owners below any of Cuts (the accounts
	// whose links share nothing upward) are left out.
	Path canopy.Path
	Cuts []canopy.Path
	// Viewer's explicit shares decide for themselves: forms that have one
	// for Viewer are left out here and listed by ListSharedForms.
	Viewer           string
	OwnerID          string      // only this owner's forms, when set; Path must then be its path
	ExcludeOwnerPath canopy.Path // not the forms of the owner at this path, when set
	Example          *bool
	After            FormCursor
	Limit            int
}

// ListedForm is a form as a listing reads it: its questions as stored (a
// JSON array without HTML escapes, on one line), left for the reader to
// decode or pass on — Form.Questions is nil — and, from ListSharedForms,
// the viewer's explicit role.
type ListedForm struct {
	Form      *canopy.Form
	Questions []byte
	Explicit  *canopy.Role
}

// FormFor is a form as one viewer's role check needs it.
type FormFor struct {
	Form     *canopy.Form
	Explicit *canopy.Role // the viewer's explicit share; nil when there is none
	// ViewerPath is the viewer's path as the statement read it; empty when
	// the viewer does not exist.
	ViewerPath canopy.Path
}

// FormTx reads and writes forms, their explicit shares and records.
type FormTx interface {
	InsertForm(ctx context.Context, f *canopy.Form) error
	// CountOwnedForms counts the forms an account owns, stopping at max.
	CountOwnedForms(ctx context.Context, ownerID string, max int) (int, error)
	GetForm(ctx context.Context, id string) (*canopy.Form, error)
	// GetFormFor reads a form with viewer's explicit share on it and
	// viewer's current path, in one statement: the store's half of a role
	// check.
	GetFormFor(ctx context.Context, id, viewer string) (*FormFor, error)
	// UpdateForm writes f if its stored version is still fromVersion;
	// ErrNotFound otherwise (a concurrent change won).
	UpdateForm(ctx context.Context, f *canopy.Form, fromVersion int) error
	// DeleteForm removes a form with its records and shares.
	DeleteForm(ctx context.Context, id string) error
	ListSubtreeForms(ctx context.Context, q SubtreeForms) ([]ListedForm, error)
	// CountSubtreeForms counts what ListSubtreeForms would list, stopping
	// at max.
	CountSubtreeForms(ctx context.Context, q SubtreeForms, max int) (int, error)
	// ListSharedForms lists the forms with an explicit share for viewer,
	// with its role — none included: that share hides a form the tree
	// would show — in (owner path, id) order.
	ListSharedForms(ctx context.Context, viewer string, example *bool, after FormCursor, limit int) ([]ListedForm, error)
	CountSharedForms(ctx context.Context, viewer string, max int) (int, error)
	// ViewerShares returns viewer's explicit roles on the given forms (only
	// those that have one).
	ViewerShares(ctx context.Context, viewer string, formIDs []string) (map[string]canopy.Role, error)
	// ListExampleForms lists the example forms of the given owners, but
	// not those shared with viewer as none (an owner's way to keep an
	// example from one descendant).
	ListExampleForms(ctx context.Context, ownerIDs []string, viewer string, after FormCursor, limit int) ([]*canopy.Form, error)
	CountExampleForms(ctx context.Context, ownerIDs []string, viewer string, max int) (int, error)
	// ShareCuts returns the paths of the accounts strictly below path whose
	// link shares nothing upward.
	ShareCuts(ctx context.Context, path canopy.Path) ([]canopy.Path, error)

	GetShare(ctx context.Context, formID, accountID string) (*canopy.Share, error)
	PutShare(ctx context.Context, s *canopy.Share) error
	DeleteShare(ctx context.Context, formID, accountID string) error
	ListShares(ctx context.Context, formID string) ([]*canopy.Share, error)

	InsertRecord(ctx context.Context, r *canopy.Record) error
	GetRecord(ctx context.Context, id string) (*canopy.Record, error)
	// UpdateRecord writes r if its stored version is still fromVersion;
	// ErrNotFound otherwise.
	UpdateRecord(ctx context.Context, r *canopy.Record, fromVersion int) error
	DeleteRecord(ctx context.Context, id string) error
	// ListRecords lists a form's records by id, created in [from, to)
	// when those are set.
	ListRecords(ctx context.Context, formID string, from, to time.Time, p Page) ([]*canopy.Record, error)
}

// InvitationFilter narrows an invitation listing: those an umbrella sent,
// or those an account received (addressed to it, or to one of Emails).
type InvitationFilter struct {
	UmbrellaID       string
	InviteeAccountID string
	Emails           []string // normalised addresses
	Status           canopy.InvitationStatus
	Before           string // invitation id; newest first
	Limit            int
}

// InvitationTransition is one move of a pending invitation to another
// status (see InvitationTx.TransitionInvitation).
type InvitationTransition struct {
	ID string
	To canopy.InvitationStatus
	// InviteeAccountID, when set, is recorded as the invitee: an
	// invitation sent to an address gets its account when accepted.
	InviteeAccountID string
	At               time.Time
}

// InvitationTx reads and writes invitations and contacts.
type InvitationTx interface {
	// InsertInvitation returns a *ConflictError (UniquePendingInvite) when
	// the umbrella already has a pending invitation for the invitee.
	InsertInvitation(ctx context.Context, i *canopy.Invitation) error
	GetInvitation(ctx context.Context, id string) (*canopy.Invitation, error)
	GetInvitations(ctx context.Context, ids []string) ([]*canopy.Invitation, error)
	ListInvitations(ctx context.Context, f InvitationFilter) ([]*canopy.Invitation, error)
	// TransitionInvitation moves a pending invitation to tr.To, recording
	// the invitee account when tr names one; ErrNotFound when it is not
	// pending any more, so of two transitions at once exactly one happens.
	TransitionInvitation(ctx context.Context, tr InvitationTransition) error
	// SetInvitationToken replaces the hash of the sign-up link's token.
	SetInvitationToken(ctx context.Context, id, hash string, at time.Time) error
	// ExpireInvitations marks up to limit pending invitations past their
	// expiry (at or before now) expired, the earliest expiries first, and
	// returns them; their responded time is their expiry.
	ExpireInvitations(ctx context.Context, now time.Time, limit int) ([]*canopy.Invitation, error)

	InsertContact(ctx context.Context, c *canopy.Contact) error
	GetContact(ctx context.Context, id string) (*canopy.Contact, error)
	UpdateContact(ctx context.Context, c *canopy.Contact) error
	DeleteContact(ctx context.Context, id string) error
	ListContacts(ctx context.Context, accountID string, p Page) ([]*canopy.Contact, error)
}

// AccountTx reads and writes accounts, their workflows and references.
type AccountTx interface {
	InsertAccount(ctx context.Context, a *canopy.Account) error
	GetAccount(ctx context.Context, id string) (*canopy.Account, error)
	// GetAccountForShare reads an account and holds a shared lock on its
	// row until the transaction ends, so that a concurrent move of its
	// subtree waits for this transaction (and vice versa).
	GetAccountForShare(ctx context.Context, id string) (*canopy.Account, error)
	GetRootAccount(ctx context.Context) (*canopy.Account, error)
	// GetAccounts returns the accounts with the given ids, in no order;
	// missing ids are skipped.
	GetAccounts(ctx context.Context, ids []string) ([]*canopy.Account, error)
	// GetAccountsForShare is GetAccountForShare for many accounts at once,
	// locking them in id order; it reads the accounts of also as well, in
	// the same statement, without locking them.
	GetAccountsForShare(ctx context.Context, ids, also []string) ([]*canopy.Account, error)
	// UpdateAccount writes name, email, plan, status, metadata, link,
	// updatedAt and closedAt of a.
	UpdateAccount(ctx context.Context, a *canopy.Account) error
	// ListChildren lists direct children of parentID ordered by id.
	ListChildren(ctx context.Context, parentID string, p Page) ([]*canopy.Account, error)
	// CountChildren counts direct children of id that are not closed.
	CountOpenChildren(ctx context.Context, id string) (int, error)
	// ListSubtree lists the accounts strictly below path, in path order
	// (a depth-first walk), after the path p.After, at most maxDepth levels
	// below (0: no limit).
	ListSubtree(ctx context.Context, path canopy.Path, maxDepth int, p Page) ([]*canopy.Account, error)
	// SearchSubtree is ListSubtree, all levels, of the accounts whose name or
	// id contains text (text in lower case; names compared in lower case,
	// ASCII letters only on SQLite).
	SearchSubtree(ctx context.Context, path canopy.Path, text string, p Page) ([]*canopy.Account, error)
	// LockSubtree takes row locks on path's whole subtree so that concurrent
	// creates of children inside it wait for the caller.
	LockSubtree(ctx context.Context, path canopy.Path) error
	// SubtreeMaxDepth returns the depth of the deepest account in path's
	// subtree (the account itself included).
	SubtreeMaxDepth(ctx context.Context, path canopy.Path) (int, error)
	// MovePaths rewrites every path in from's subtree to start with to.
	MovePaths(ctx context.Context, from, to canopy.Path) (int64, error)
	// SetParent points an account at a new parent with a new link.
	SetParent(ctx context.Context, id, parentID string, link *canopy.Link, at time.Time) error
	// CloseSubtree closes every account in path's subtree that is not closed.
	CloseSubtree(ctx context.Context, path canopy.Path, at time.Time) (int64, error)

	// ListWorkflows returns an account's workflow names in their order.
	ListWorkflows(ctx context.Context, accountID string) ([]string, error)
	// ReplaceWorkflows sets an account's workflows.
	ReplaceWorkflows(ctx context.Context, accountID string, names []string) error

	InsertExternalReference(ctx context.Context, r *canopy.ExternalReference) error
	ListExternalReferences(ctx context.Context, accountID string) ([]*canopy.ExternalReference, error)
	// RescopeExternalReferences moves an account's references under its new
	// parent's scope.
	RescopeExternalReferences(ctx context.Context, accountID, parentID string) error
	// FindByExternalReference lists the accounts strictly below q.Path,
	// and in none of the q.Except subtrees, that carry the reference, by
	// id.
	FindByExternalReference(ctx context.Context, q ReferenceQuery) ([]*canopy.Account, error)
}

// ReferenceQuery asks for the accounts of a subtree that carry one
// external reference.
type ReferenceQuery struct {
	Path   canopy.Path
	Except []canopy.Path // subtrees left out (consent boundaries, rule 2)
	Type   string
	Value  string
	Page   Page
}

// UserTx reads and writes people and their memberships (canopy.User).
type UserTx interface {
	// InsertPerson stores p unless its address or username already belongs
	// to someone; then it stores nothing and reports false, so a caller can
	// go on in the same transaction without learning which.
	InsertPerson(ctx context.Context, p *canopy.Person) (bool, error)
	GetPerson(ctx context.Context, id string) (*canopy.Person, error)
	// GetPersonByEmail finds the person with the normalised address.
	GetPersonByEmail(ctx context.Context, email string) (*canopy.Person, error)
	// GetPersonByUsername finds the person with the normalised username.
	GetPersonByUsername(ctx context.Context, username string) (*canopy.Person, error)
	// UpdatePerson writes every mutable field of p (a *ConflictError when
	// its address or username is taken).
	UpdatePerson(ctx context.Context, p *canopy.Person) error
	// DeletePerson removes a person with its tokens and sessions; it must
	// have no memberships left.
	DeletePerson(ctx context.Context, id string) error

	// InsertUser stores a membership (UniqueMembership when the person is
	// already in the account).
	InsertUser(ctx context.Context, u *canopy.User) error
	// GetUser reads a membership with its person, its public fields shown
	// (canopy.User.Show).
	GetUser(ctx context.Context, id string) (*canopy.User, error)
	ListUsers(ctx context.Context, accountID string, p Page) ([]*canopy.User, error)
	// ListPersonUsers lists a person's memberships, oldest first.
	ListPersonUsers(ctx context.Context, personID string) ([]*canopy.User, error)
	// UpdateUser writes a membership's role, status, person, invited
	// values, joinedAt and updatedAt.
	UpdateUser(ctx context.Context, u *canopy.User) error
	DeleteUser(ctx context.Context, id string) error
	// CountAdmins counts the account's users that count as admins
	// (canopy.User.CountsAsAdmin).
	CountAdmins(ctx context.Context, accountID string) (int, error)
	// DeleteMembershipsMadeBy removes the memberships in path's subtree that
	// credentials of the makers' accounts created, and returns their
	// people's ids.
	DeleteMembershipsMadeBy(ctx context.Context, path canopy.Path, makers []string) ([]string, error)
}

// CredentialTx reads and writes one-time tokens, sessions, failed-login
// counters and the password resets waiting to be decided.
type CredentialTx interface {
	InsertUserToken(ctx context.Context, t *canopy.UserToken) error
	GetUserTokenByHash(ctx context.Context, hash string) (*canopy.UserToken, error)
	// ClaimUserToken marks one token used, atomically: ErrNotFound when it
	// was already used, so of two redemptions at once exactly one wins.
	ClaimUserToken(ctx context.Context, id string, at time.Time) error
	// UsePersonTokens marks every unused token of the person used, so each
	// link works once and a newer link does not revive an older one.
	UsePersonTokens(ctx context.Context, personID string, at time.Time) error

	InsertSession(ctx context.Context, s *canopy.Session) error
	GetSessionByHash(ctx context.Context, hash string) (*canopy.Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// RevokePersonSessions ends every session of a person.
	RevokePersonSessions(ctx context.Context, personID string, at time.Time) error

	GetLoginAttempts(ctx context.Context, login string) (*canopy.LoginAttempts, error)
	// RecordLoginFailure adds one failure for login atomically (parallel
	// guesses cannot lose counts) and returns the new count.
	RecordLoginFailure(ctx context.Context, login string, at time.Time) (int, error)
	// LockLogin locks login until the given time and starts a new count.
	LockLogin(ctx context.Context, login string, until time.Time) error
	DeleteLoginAttempts(ctx context.Context, login string) error

	// InsertResetRequest records that someone asked for a password reset
	// of a normalised address.
	InsertResetRequest(ctx context.Context, r *ResetRequest) error
	// TakeResetRequests removes and returns up to limit waiting requests,
	// oldest first; concurrent callers never take the same one.
	TakeResetRequests(ctx context.Context, limit int) ([]*ResetRequest, error)
}

// ResetRequest is a password reset asked for by address, decided later so
// that the request itself does the same work for every address.
type ResetRequest struct {
	ID        string
	Email     string // normalised
	CreatedAt time.Time
}

// SettingTx keeps installation-wide values made once, such as the key
// that signs list cursors.
type SettingTx interface {
	GetSetting(ctx context.Context, name string) (string, error)
	// InsertSetting stores value unless name already has one.
	InsertSetting(ctx context.Context, name, value string) error
}

// APIKeyTx reads and writes API keys.
type APIKeyTx interface {
	InsertAPIKey(ctx context.Context, k *canopy.APIKey) error
	GetAPIKey(ctx context.Context, id string) (*canopy.APIKey, error)
	GetAPIKeyByHash(ctx context.Context, hash string) (*canopy.APIKey, error)
	ListAPIKeys(ctx context.Context, accountID string, p Page) ([]*canopy.APIKey, error)
	CountActiveAPIKeys(ctx context.Context, accountID string) (int, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
}

// ConfigTx reads and writes configuration namespaces.
type ConfigTx interface {
	// PutConfigurations inserts or replaces namespaces, in one statement.
	PutConfigurations(ctx context.Context, cs ...*canopy.Configuration) error
	GetConfiguration(ctx context.Context, accountID, namespace string) (*canopy.Configuration, error)
	// DeleteConfiguration returns ErrNotFound when there was nothing to delete.
	DeleteConfiguration(ctx context.Context, accountID, namespace string) error
	// ListConfigurations returns the namespaces of the given accounts,
	// ordered by account then namespace.
	ListConfigurations(ctx context.Context, accountIDs []string) ([]*canopy.Configuration, error)
	CountConfigurations(ctx context.Context, accountID string) (int, error)
}

// AuditTx appends and reads audit events.
type AuditTx interface {
	InsertAuditEvent(ctx context.Context, e *canopy.AuditEvent) error
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]*canopy.AuditEvent, error)
}

// OutboxTx writes and reads the email outbox.
type OutboxTx interface {
	// InsertOutboxMessages queues messages, in one statement.
	InsertOutboxMessages(ctx context.Context, ms ...*canopy.OutboxMessage) error
	GetOutboxMessage(ctx context.Context, id string) (*canopy.OutboxMessage, error)
	// ListOutbox lists messages of accounts in a subtree, newest first.
	ListOutbox(ctx context.Context, f OutboxFilter) ([]*canopy.OutboxMessage, error)
	// ClaimOutbox leases up to limit messages that are pending, due at now
	// and not leased, until leaseUntil, counting one attempt each. Two
	// workers never claim the same message while its lease runs (PostgreSQL
	// skips rows another worker has locked).
	ClaimOutbox(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.OutboxMessage, error)
	// MarkOutboxSent records delivery of the messages.
	MarkOutboxSent(ctx context.Context, ids []string, at time.Time) error
	// ReleaseOutbox gives back a claimed message its worker did not try
	// (it is stopping): due at once, its attempt uncounted. attempts is
	// the message's count as the claim returned it; ErrNotFound when the
	// message is no longer pending under that claim (its lease ran out and
	// another worker has it, say).
	ReleaseOutbox(ctx context.Context, id string, attempts int) error
	// MarkOutboxRetry schedules another attempt after a failure.
	MarkOutboxRetry(ctx context.Context, id string, next time.Time, lastErr string) error
	// MarkOutboxFailed gives up on a message; it is kept, with its error.
	MarkOutboxFailed(ctx context.Context, id, lastErr string) error
	// RequeueOutbox makes a failed or pending message due at once, with its
	// attempts counted from zero again.
	RequeueOutbox(ctx context.Context, id string, at time.Time) error
	// CountEmails adds n to an account's emails of a day if the total stays
	// within max, and reports the total it found when it would not.
	CountEmails(ctx context.Context, accountID, day string, n, max int) (ok bool, sent int, err error)
}

// OutboxFilter narrows an outbox listing.
type OutboxFilter struct {
	Subtree canopy.Path // empty: every account
	Status  canopy.OutboxStatus
	Before  string // message id; newest first
	Limit   int

	// Except are subtrees left out (consent boundaries, rule 2).
	Except []canopy.Path
}

// IdempotencyResponse is the first response to a claimed key, to replay.
type IdempotencyResponse struct {
	Scope, Key string
	StatusCode int
	Body       []byte
	Location   string
}

// IdempotencyTx stores first responses to idempotent POSTs.
type IdempotencyTx interface {
	GetIdempotency(ctx context.Context, scope, key string) (*Idempotency, error)
	// InsertIdempotency claims a key. Writes call it first thing in their
	// transaction, so a concurrent request with the same key waits on the
	// claim and then gets a *ConflictError (UniqueIdempotency) rather than
	// racing through the rest of the write.
	InsertIdempotency(ctx context.Context, i *Idempotency) error
	// SetIdempotencyResponse records the response of a claimed key;
	// ErrNotFound when the key is not claimed.
	SetIdempotencyResponse(ctx context.Context, r IdempotencyResponse) error
	// DeleteIdempotencyBefore removes records older than t.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error)
}

// Balance is one account's holding of one credit type.
type Balance struct {
	AccountID string
	Type      canopy.CreditType
	Balance   int64
}

// CreditLimit is a monthly cap on what an account's subtree may draw from
// an ancestor's credits.
type CreditLimit struct {
	AccountID string
	Type      canopy.CreditType
	Monthly   int64
	SetBy     string
	UpdatedAt time.Time
}

// LedgerFilter narrows a ledger listing: entries on either side of
// AccountID, newest first, before Before (an entry id).
type LedgerFilter struct {
	AccountID string
	Type      canopy.CreditType
	Kind      canopy.EntryKind
	From, To  time.Time // zero: unbounded
	Before    string
	Limit     int

	// Counterparts, when set, keeps only the entries whose other side is
	// one of these accounts.
	Counterparts []string
}

// LedgerKey names a debit by its usage account and idempotency key.
type LedgerKey struct {
	UsageAccountID string
	Key            string
}

// UsageDay is net usage of one credit type by one account path on one UTC
// day ("2026-11-23"), paid by one account (Payer: the account a debit
// takes from and a refund gives back to).
type UsageDay struct {
	Path   canopy.Path
	Type   canopy.CreditType
	Day    string
	Payer  string
	Amount int64
}

// CreditTake is an amount to take from a balance (TakeCreditsForUsage).
type CreditTake struct {
	AccountID string
	Type      canopy.CreditType
	Amount    int64
}

// CreditTaken says whether a CreditTake fitted, and the balance after it.
type CreditTaken struct {
	OK      bool
	Balance int64
}

// UsageDaysOf sums entries (usage adds, refunds subtract) into daily
// rollup rows, one per path, type, day and payer.
func UsageDaysOf(entries []*canopy.LedgerEntry) []UsageDay {
	var out []UsageDay
	at := map[UsageDay]int{}
	for _, e := range entries {
		if e.UsagePath == "" || (e.Kind != canopy.EntryUsage && e.Kind != canopy.EntryRefund) {
			continue
		}
		k := UsageDay{Path: e.UsagePath, Type: e.Type, Day: canopy.DayOf(e.At), Payer: e.Debit}
		if e.Kind == canopy.EntryRefund {
			k.Payer = e.Credit
		}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, k)
		}
		if e.Kind == canopy.EntryUsage {
			out[i].Amount += e.Amount
		} else {
			out[i].Amount -= e.Amount
		}
	}
	return out
}

// UsageRow is the net usage of one credit type by the accounts under one
// path prefix.
type UsageRow struct {
	Prefix canopy.Path
	Type   canopy.CreditType
	Amount int64
}

// CreditTx keeps balances and the ledger. Balances change only together
// with the ledger entry that explains them, in one transaction.
type CreditTx interface {
	// Balances lists an account's balances, by type.
	Balances(ctx context.Context, accountID string) ([]Balance, error)
	// AddCredits raises a balance, creating it at zero first.
	AddCredits(ctx context.Context, accountID string, t canopy.CreditType, amount int64, at time.Time) error
	// TakeCredits lowers a balance by amount if it holds that much, in one
	// statement, and reports the balance after it — or the balance it
	// found, when it did not hold enough.
	TakeCredits(ctx context.Context, accountID string, t canopy.CreditType, amount int64, at time.Time) (ok bool, balance int64, err error)
	// TakeCreditsForUsage takes each of takes as TakeCredits would, in
	// order, then adds days to the usage rollups as AddUsageDays would: in
	// one statement where the engine allows it. A take that did not fit is
	// reported not OK, its balance unknown; the caller then rolls back. A
	// take of nothing reads the balance under its row lock (0 when there
	// is none) and changes nothing.
	TakeCreditsForUsage(ctx context.Context, takes []CreditTake, at time.Time, days []UsageDay) ([]CreditTaken, error)
	// InsertLedgerEntry appends an entry; a second debit with the same
	// usage account and idempotency key is a UniqueLedgerKey conflict.
	InsertLedgerEntry(ctx context.Context, e *canopy.LedgerEntry) error
	GetLedgerEntry(ctx context.Context, id string) (*canopy.LedgerEntry, error)
	// InsertLedgerEntries appends many entries in few statements, as
	// InsertLedgerEntry would one by one.
	InsertLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) error
	// InsertNewLedgerEntries is InsertLedgerEntries for debits that may
	// race a twin elsewhere: an entry whose usage account and idempotency
	// key another entry holds is left out, not an error (PostgreSQL first
	// waits for the twin's transaction to end), and its id is returned.
	InsertNewLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) (taken []string, err error)
	// LedgerEntriesByKeys finds the debits many retries would repeat, in
	// no order; keys without one are left out.
	LedgerEntriesByKeys(ctx context.Context, keys []LedgerKey) ([]*canopy.LedgerEntry, error)
	// BalanceForUpdate reads a balance (0 when there is none) and locks it
	// until the transaction ends.
	BalanceForUpdate(ctx context.Context, accountID string, t canopy.CreditType) (int64, error)
	ListLedger(ctx context.Context, f LedgerFilter) ([]*canopy.LedgerEntry, error)
	// AddUsageDays adds to the daily usage rollups (negative for refunds),
	// the same amounts to the monthly ones, and to the payers' daily ones
	// (rows without a payer to the path rollups only).
	AddUsageDays(ctx context.Context, days []UsageDay) error
	// UsageByPrefix sums net usage (usage less refunds) in [from, to) by the
	// accounts under path, grouped by the first prefixLen bytes of their
	// paths and by type.
	UsageByPrefix(ctx context.Context, path canopy.Path, prefixLen int, from, to time.Time) ([]UsageRow, error)

	// CreditLimits returns the caps of a type on any of the accounts.
	CreditLimits(ctx context.Context, accountIDs []string, t canopy.CreditType) ([]CreditLimit, error)
	PutCreditLimit(ctx context.Context, l *CreditLimit) error
	DeleteCreditLimit(ctx context.Context, accountID string, t canopy.CreditType) error
	// AddMonthUsage counts amount against an account's month if the total
	// stays within max, and reports the total after it — or the total it
	// found, when it would not stay within max.
	AddMonthUsage(ctx context.Context, accountID string, t canopy.CreditType, month string, amount, max int64) (ok bool, used int64, err error)
	// ReturnMonthUsage takes amount off an account's count for a month (a
	// refund), not below zero.
	ReturnMonthUsage(ctx context.Context, accountID string, t canopy.CreditType, month string, amount int64) error
	// SetMonthUsage sets an account's count for a month (when a cap is set).
	SetMonthUsage(ctx context.Context, accountID string, t canopy.CreditType, month string, used int64) error
	MonthUsage(ctx context.Context, accountID string, t canopy.CreditType, month string) (int64, error)
	// MonthUsageForUpdate is MonthUsage, locking the count until the
	// transaction ends.
	MonthUsageForUpdate(ctx context.Context, accountID string, t canopy.CreditType, month string) (int64, error)

	// AllBalances and LedgerSums read every balance and, per account and
	// type, the ledger's credits less its debits: the verifier compares them.
	AllBalances(ctx context.Context) ([]Balance, error)
	LedgerSums(ctx context.Context) ([]Balance, error)
	// UsageTotals sums net usage per usage path and type, from the ledger
	// (fromLedger) or from the daily rollups: the verifier compares them.
	UsageTotals(ctx context.Context, fromLedger bool) ([]UsageRow, error)
	// MonthlyUsageTotals sums net usage per usage path and type from the
	// monthly rollups that reports read for whole months: the verifier
	// compares them with the ledger too.
	MonthlyUsageTotals(ctx context.Context) ([]UsageRow, error)
	// PayerUsageTotals sums net usage per paying account and type, from
	// the ledger or else from the payers' daily rollups, in account order.
	PayerUsageTotals(ctx context.Context, fromLedger bool) ([]Balance, error)
}

// SMSTx writes and reads the SMS outbox.
type SMSTx interface {
	// InsertSMSMessages queues messages, in one statement.
	InsertSMSMessages(ctx context.Context, ms ...*canopy.SMSMessage) error
	// ListSMS lists messages of accounts in a subtree, newest first.
	ListSMS(ctx context.Context, f OutboxFilter) ([]*canopy.SMSMessage, error)
	// ClaimSMS leases up to limit messages that are pending, due at now and
	// not leased to another worker, until leaseUntil, counting an attempt
	// for each. Concurrent claims never return the same message.
	ClaimSMS(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*canopy.SMSMessage, error)
	// ReleaseSMS is ReleaseOutbox for the SMS outbox.
	ReleaseSMS(ctx context.Context, id string, attempts int) error
	// MarkSMSSent records delivery of a pending message.
	MarkSMSSent(ctx context.Context, id, providerID string, at time.Time) error
	// MarkSMSsSent records the delivery of several messages at once, each
	// with its provider's id, and returns the ids of those it marked: the
	// ones still pending. An id given twice is marked with its first
	// provider id.
	MarkSMSsSent(ctx context.Context, sent []SMSDelivery, at time.Time) ([]string, error)
	// MarkSMSRetry schedules another attempt of a pending message.
	MarkSMSRetry(ctx context.Context, id string, next time.Time, lastErr string) error
	// MarkSMSFailed gives up on a pending message, naming its refund; it
	// is ErrNotFound when the message is no longer pending, so a message
	// is refunded at most once.
	MarkSMSFailed(ctx context.Context, f SMSFailure) error
}

// SMSDelivery is a text the provider took (see SMSTx.MarkSMSsSent).
type SMSDelivery struct {
	ID         string
	ProviderID string
}

// SMSFailure is how a text finally failed (see SMSTx.MarkSMSFailed).
type SMSFailure struct {
	ID            string
	LastError     string
	RefundEntryID string // the ledger entry that gives the message's credit back
}

// RecordFilter narrows and orders a search of one form's records.
type RecordFilter struct {
	FormID   string
	From, To time.Time // created in [From, To); zero: unbounded
	// Answers keeps the records whose answers match every filter.
	Answers []AnswerFilter
	// Desc lists the newest first.
	Desc bool
	// After is the id the page starts after, in the listing's order.
	After string
	Limit int
}

// AnswerFilter matches one question's answer, by its id: equal to Equals
// (a string answer), holding Has (an array of strings), or a string in
// [From, To] (either end open when empty; dates compare as text).
type AnswerFilter struct {
	QuestionID string
	Equals     string
	Has        string
	From, To   string
}

// DayAmount is an amount of one credit type on one UTC day (or, from
// PaidUsage by month, in one month: Day is then "2026-11").
type DayAmount struct {
	Day    string
	Type   canopy.CreditType
	Amount int64
}

// ReportTx reads what the console's tables and charts show.
type ReportTx interface {
	// FindRecords searches a form's records.
	FindRecords(ctx context.Context, f RecordFilter) ([]*canopy.Record, error)
	// PaidUsage sums the net usage (usage less refunds) an account paid
	// for per UTC day and type, from the day of since on, in day order;
	// with byMonth per UTC month ("2026-11"), from the month of since on.
	PaidUsage(ctx context.Context, accountID string, since time.Time, byMonth bool) ([]DayAmount, error)
	// CreditMoves lists the grants and transfers into or out of an account
	// at or after since, oldest first: with PaidUsage, what a balance's
	// history is made of.
	CreditMoves(ctx context.Context, accountID string, since time.Time) ([]*canopy.LedgerEntry, error)
}

// CollectTx reads and writes what collecting data from the field needs:
// form codes, SMS collectors and their conversations, the opt-out list,
// the provider message ids taken in, and web links.
type CollectTx interface {
	// GetFormCode returns a form's code; ErrNotFound when it has none.
	GetFormCode(ctx context.Context, formID string) (string, error)
	// InsertFormCode gives a form that has no code one, unless another form
	// holds it; ok is false when either is so, and nothing is written.
	InsertFormCode(ctx context.Context, formID, code string, at time.Time) (ok bool, err error)
	// SetFormCode gives a form a code, replacing any it had; a
	// *ConflictError (UniqueFormCode) when another form holds it.
	SetFormCode(ctx context.Context, formID, code string, at time.Time) error

	// PutSMSCollector authorises a number for a form, or changes the mode,
	// account, message and one-time message of one already authorised
	// (keeping its createdAt, clearing its noticedAt).
	PutSMSCollector(ctx context.Context, c *canopy.SMSCollector) error
	// GetSMSCollector reads a collector with its state.
	GetSMSCollector(ctx context.Context, formID, number string) (*canopy.SMSCollector, error)
	// CollectorByCode reads, with its state, the collector that number is
	// for the form whose code is code; ErrNotFound when no form has the
	// code or the number does not collect for it.
	CollectorByCode(ctx context.Context, code, number string) (*canopy.SMSCollector, error)
	// CollectorsByCode reads at once what CollectorByCode would for each
	// pair; pairs without a collector are left out.
	CollectorsByCode(ctx context.Context, pairs []CodeNumber) ([]CodeCollector, error)
	// ListSMSCollectors lists a form's collectors (of one mode, when set)
	// by number, after p.After, with their states.
	ListSMSCollectors(ctx context.Context, formID string, mode canopy.SMSMode, p Page) ([]*canopy.SMSCollector, error)
	// CountSMSCollectors counts a form's collectors per mode.
	CountSMSCollectors(ctx context.Context, formID string) (map[canopy.SMSMode]int, error)
	// DeleteSMSCollector removes a collector and its conversation.
	DeleteSMSCollector(ctx context.Context, formID, number string) error
	// CollectorsOf lists the collectors of a number, the most recently
	// changed first, with their states.
	CollectorsOf(ctx context.Context, number string) ([]*canopy.SMSCollector, error)
	// AccountCollectorNumbers lists up to limit distinct numbers an account
	// has authorised, for any form.
	AccountCollectorNumbers(ctx context.Context, accountID string, limit int) ([]string, error)
	// SetCollectorNoticed records when a collector was told that data
	// cannot be accepted now (nil: it may be told again).
	SetCollectorNoticed(ctx context.Context, formID, number string, at *time.Time) error

	// GetSMSConversation reads a collector's conversation.
	GetSMSConversation(ctx context.Context, formID, number string) (*canopy.SMSConversation, error)
	// LatestSMSConversation returns the conversation of number changed
	// last, if that was at or after since; ErrNotFound otherwise.
	LatestSMSConversation(ctx context.Context, number string, since time.Time) (*canopy.SMSConversation, error)
	// PutSMSConversation writes a conversation (its collector must exist).
	PutSMSConversation(ctx context.Context, c *canopy.SMSConversation) error
	// DeleteSMSConversations ends a number's conversation on one form, or
	// with formID empty all of its conversations.
	DeleteSMSConversations(ctx context.Context, number, formID string) error
	// DeleteIdleSMSConversations ends the conversations unchanged since
	// before.
	DeleteIdleSMSConversations(ctx context.Context, before time.Time) (int64, error)

	// PutSMSOptOut puts a number on the opt-out list (again: no change).
	PutSMSOptOut(ctx context.Context, number string, at time.Time) error
	// DeleteSMSOptOut takes a number off the list (absent: no change).
	DeleteSMSOptOut(ctx context.Context, number string) error
	// OptedOut returns those of the numbers on the opt-out list.
	OptedOut(ctx context.Context, numbers []string) ([]string, error)

	// ClaimInboundSMS records a provider's message id; ok is false when it
	// was recorded before. A concurrent claim of the same id waits for
	// this transaction, then gets false.
	ClaimInboundSMS(ctx context.Context, sid, from string, at time.Time) (ok bool, err error)
	// ClaimInboundSMSs claims many provider ids at once, as ClaimInboundSMS
	// would one by one (the ids must differ), and returns those that were
	// new.
	ClaimInboundSMSs(ctx context.Context, claims []InboundClaim, at time.Time) ([]string, error)
	// DeleteInboundSMSBefore forgets the ids taken in before t.
	DeleteInboundSMSBefore(ctx context.Context, t time.Time) (int64, error)

	InsertFormLink(ctx context.Context, l *canopy.FormLink) error
	GetFormLink(ctx context.Context, id string) (*canopy.FormLink, error)
	GetFormLinkByToken(ctx context.Context, token string) (*canopy.FormLink, error)
	// ListFormLinks lists a form's links by id, after p.After.
	ListFormLinks(ctx context.Context, formID string, p Page) ([]*canopy.FormLink, error)
	// RevokeFormLink marks a link revoked; ErrNotFound when it was already.
	RevokeFormLink(ctx context.Context, id string, at time.Time) error
	// CountFormLinkSubmission counts one submission through a link unless
	// its cap is reached (ok false then), in one statement, so concurrent
	// submissions never pass the cap.
	CountFormLinkSubmission(ctx context.Context, id string) (ok bool, err error)

	// InsertRecords and InsertAuditEvents store many records or audit
	// events in few statements, as InsertRecord and InsertAuditEvent would
	// one by one (a batch of incoming texts writes its rows at once).
	InsertRecords(ctx context.Context, rs []*canopy.Record) error
	InsertAuditEvents(ctx context.Context, es []*canopy.AuditEvent) error
}

// InboundClaim is a provider's message id to claim, and its sender.
type InboundClaim struct {
	SID, From string
}

// CodeNumber is a form's code and a number that texted it.
type CodeNumber struct {
	Code, Number string
}

// CodeCollector is the collector a CodeNumber names.
type CodeCollector struct {
	Code      string
	Collector *canopy.SMSCollector
}

// ConsentTx serves the consent rules (rules 2 and 9): the boundaries an
// invited link draws, and what ends with a link.
type ConsentTx interface {
	// ListBoundaries lists the accounts strictly below path whose link is
	// a consent boundary (invited, without delegated admin), in path order.
	ListBoundaries(ctx context.Context, path canopy.Path) ([]*canopy.Account, error)
	// RevokeKeysMadeBy revokes the unrevoked API keys of the accounts in
	// path's subtree that were made by one of makers, and counts them.
	RevokeKeysMadeBy(ctx context.Context, path canopy.Path, makers []string, at time.Time) (int64, error)
	// ReactivateSuspendedBy reactivates the accounts in path's subtree
	// that by suspended, and counts them.
	ReactivateSuspendedBy(ctx context.Context, path canopy.Path, by string, at time.Time) (int64, error)
}

type readOnlyKey struct{}

// ReadOnly marks ctx as a read's that must not write: a store's Write on
// it (or a context derived from it) fails with ErrReadOnly.
func ReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyKey{}, true)
}

// IsReadOnly reports whether ctx was marked by ReadOnly.
func IsReadOnly(ctx context.Context) bool {
	ro, _ := ctx.Value(readOnlyKey{}).(bool)
	return ro
}

// ErrReadOnly is a write asked for on a context marked ReadOnly.
var ErrReadOnly = errors.New("store: a write inside a read-only snapshot")
