package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// baseTime is where fixture clocks start. It carries microseconds, which
// both engines must keep, and no nanoseconds, which neither can.
var baseTime = time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)

// factory builds fixture rows with real prefixed ULIDs. Every id comes from
// one monotonic source stopped at one millisecond, so ids made one after the
// other share all but their last characters — the case that catches a
// subtree query matching on a bare prefix.
type factory struct {
	t   *testing.T
	st  store.Store
	ids *canopy.IDs

	mu sync.Mutex
	n  int
}

func newFactory(t *testing.T, st store.Store) *factory {
	return &factory{t: t, st: st, ids: canopy.NewIDs(func() time.Time { return baseTime }, nil)}
}

// id returns a fresh id with the given prefix.
func (f *factory) id(prefix string) string { return f.ids.New(prefix) }

// seq returns 1, 2, 3 … for unique names.
func (f *factory) seq() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.n
}

// at returns baseTime moved by the given number of seconds.
func at(seconds int) time.Time { return baseTime.Add(time.Duration(seconds) * time.Second) }

// newAccount builds (but does not store) an account under parent, or a
// root when parent is nil.
func (f *factory) newAccount(parent *canopy.Account) *canopy.Account {
	id := f.id(canopy.PrefixAccount)
	n := f.seq()
	a := &canopy.Account{
		ID:        id,
		Name:      fmt.Sprintf("Account %d", n),
		Email:     fmt.Sprintf("ops%d@example.com", n),
		Plan:      canopy.PlanBasic,
		Status:    canopy.StatusActive,
		Metadata:  map[string]string{"n": fmt.Sprint(n)},
		CreatedAt: at(n),
		UpdatedAt: at(n),
	}
	if parent == nil {
		a.Path = canopy.RootPath(id)
		return a
	}
	a.ParentID = parent.ID
	a.ParentPlan = parent.Plan // stores read it with the account
	a.Path = parent.Path.Child(id)
	a.Link = &canopy.Link{
		Origin: canopy.OriginCreated, AutoShareRole: canopy.RoleDataManager,
		Billing: canopy.BillingParent, CreatedAt: at(n),
	}
	return a
}

// account stores a new account under parent (a root when nil).
func (f *factory) account(parent *canopy.Account) *canopy.Account {
	f.t.Helper()
	a := f.newAccount(parent)
	f.insert(a)
	return a
}

// insert stores an account built elsewhere.
func (f *factory) insert(a *canopy.Account) {
	f.t.Helper()
	ctx := f.t.Context()
	require.NoError(f.t, f.st.Write(ctx, func(tx store.Tx) error {
		return tx.InsertAccount(ctx, a)
	}))
}

// children stores n children of parent and returns them in id order.
func (f *factory) children(parent *canopy.Account, n int) []*canopy.Account {
	f.t.Helper()
	out := make([]*canopy.Account, n)
	for i := range out {
		out[i] = f.account(parent)
	}
	return out
}

// newPerson builds (but does not store) a person with a unique address and
// username.
func (f *factory) newPerson() *canopy.Person {
	n := f.seq()
	return &canopy.Person{
		ID: f.id(canopy.PrefixPerson), Email: fmt.Sprintf("user%d@example.com", n), Username: fmt.Sprintf("user-%d", n),
		Name: fmt.Sprintf("User %d", n), CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// newUser builds an invited membership of account for a new person (both
// unstored; see insertUser).
func (f *factory) newUser(account *canopy.Account) *canopy.User {
	return f.newMember(account, f.newPerson())
}

// newMember builds an invited membership of account for person p.
func (f *factory) newMember(account *canopy.Account, p *canopy.Person) *canopy.User {
	n := f.seq()
	u := &canopy.User{
		ID: f.id(canopy.PrefixUser), AccountID: account.ID, PersonID: p.ID, Person: p,
		InvitedEmail: p.Email, InvitedUsername: p.Username, InvitedName: p.Name,
		Role: canopy.UserMember, Status: canopy.UserInvited, CreatedAt: at(n), UpdatedAt: at(n),
	}
	u.Show()
	return u
}

// insertUser stores u's person, when it is not stored yet, and u.
func insertUser(t *testing.T, ctx context.Context, tx store.Tx, u *canopy.User) {
	t.Helper()
	if _, err := tx.GetPerson(ctx, u.PersonID); err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
		ok, err := tx.InsertPerson(ctx, u.Person)
		require.NoError(t, err)
		require.True(t, ok, "person %s is new", u.Person.Email)
	}
	require.NoError(t, tx.InsertUser(ctx, u))
}

// newKey builds an API key of account.
func (f *factory) newKey(account *canopy.Account) *canopy.APIKey {
	n := f.seq()
	return &canopy.APIKey{
		ID: f.id(canopy.PrefixAPIKey), AccountID: account.ID, Name: fmt.Sprintf("key %d", n),
		Prefix: fmt.Sprintf("cnp_%06d", n), SecretHash: canopy.HashSecret(fmt.Sprintf("secret-%d-%s", n, f.id(""))),
		CreatedAt: at(n),
	}
}

// newRef builds an external reference of account, scoped to its parent.
func (f *factory) newRef(account *canopy.Account, typ, value string) *canopy.ExternalReference {
	n := f.seq()
	return &canopy.ExternalReference{
		ID: f.id(canopy.PrefixExternalRef), AccountID: account.ID, ParentID: account.ParentID,
		Type: typ, Value: value, Description: fmt.Sprintf("ref %d", n),
		Metadata: map[string]string{"source": "storetest"}, CreatedAt: at(n),
	}
}

// newEvent builds an audit event in account.
func (f *factory) newEvent(account *canopy.Account, action, targetID string) *canopy.AuditEvent {
	n := f.seq()
	return &canopy.AuditEvent{
		ID: f.id(canopy.PrefixAuditEvent), OccurredAt: at(n), AccountID: account.ID,
		ActingAccountID: account.ID, Actor: canopy.Actor{Type: "apiKey", ID: "key_" + fmt.Sprint(n)},
		Action: action, TargetType: "account", TargetID: targetID, Channel: "storetest",
		Username: "ada", RequestID: f.ids.ULID(), Details: []byte(`{"n":` + fmt.Sprint(n) + `}`),
	}
}

// newMessage builds a pending outbox email for account.
func (f *factory) newMessage(account *canopy.Account) *canopy.OutboxMessage {
	n := f.seq()
	return &canopy.OutboxMessage{
		ID: f.id(canopy.PrefixOutbox), Channel: "email", AccountID: account.ID,
		Recipient: fmt.Sprintf("to%d@example.com", n), Template: canopy.TemplateWelcome,
		Data: []byte(`{"name":"Ada"}`), Status: canopy.OutboxPending,
		NextAttemptAt: at(n), CreatedAt: at(n),
	}
}

// ids returns the ids of accounts, in their order.
func ids(as []*canopy.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// mustGet reads one account in its own read transaction.
func (b *testBundle) mustGet(t *testing.T, id string) *canopy.Account {
	t.Helper()
	var a *canopy.Account
	b.read(t, func(ctx context.Context, tx store.Tx) {
		var err error
		a, err = tx.GetAccount(ctx, id)
		require.NoError(t, err)
	})
	return a
}
