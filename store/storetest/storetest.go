// Package storetest is the one conformance suite every store.Store must
// pass, in the manner of river's riverdrivertest: each engine's own test
// calls Run with an opener for a fresh, migrated store, and the suite checks
// every store.Tx method's contract as written in package store's doc
// comments. When the engines disagree, the suite is where it shows.
package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/store"
)

// Opener returns a fresh, migrated, empty store that is closed when the test
// ends. Run calls it once per subtest, so subtests never see each other's
// rows and may run in parallel.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Accounts", testAccounts},
		{"Tree", testTree},
		{"Users", testUsers},
		{"APIKeys", testAPIKeys},
		{"Configurations", testConfigurations},
		{"Workflows", testWorkflows},
		{"ExternalReferences", testExternalReferences},
		{"Audit", testAudit},
		{"Outbox", testOutbox},
		{"Idempotency", testIdempotency},
		{"Transactions", testTransactions},
		{"Locks", testLocks},
		{"Credentials", testCredentials},
		{"ParentPlan", testParentPlan},
		{"Forms", testForms},
		{"Credits", testCredits},
		{"CreditBatches", testCreditBatches},
		{"Reports", testReports},
		{"Collect", testCollect},
		{"Consent", testConsent},
		{"Invitations", testInvitations},
		{"Contacts", testContacts},
		{"SMSOutbox", testSMSOutbox},
		{"Events", testEvents},
		{"Webhooks", testWebhooks},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// testBundle is what setup hands each subtest: a fresh store and a fixture
// factory writing into it.
type testBundle struct {
	st store.Store
	f  *factory
}

// setup opens a fresh store for one subtest.
func setup(t *testing.T, open Opener) (context.Context, *testBundle) {
	t.Helper()
	st := open(t)
	return t.Context(), &testBundle{st: st, f: newFactory(t, st)}
}

// write runs fn in a write transaction and fails the test on error.
func (b *testBundle) write(t *testing.T, fn func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, b.st.Write(ctx, func(tx store.Tx) error {
		fn(ctx, tx)
		return nil
	}))
}

// read runs fn in a read transaction and fails the test on error.
func (b *testBundle) read(t *testing.T, fn func(ctx context.Context, tx store.Tx)) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, b.st.Read(ctx, func(tx store.Tx) error {
		fn(ctx, tx)
		return nil
	}))
}

// writeErr runs fn in a write transaction and returns what Write returned.
func (b *testBundle) writeErr(t *testing.T, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := t.Context()
	return b.st.Write(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
}

// requireConflict asserts that err is a *store.ConflictError naming
// constraint, and that it still matches store.ErrConflict.
func requireConflict(t *testing.T, err error, constraint string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, constraint, store.Conflict(err), "constraint of %v", err)
}

// all pages through a keyset-ordered list with pages of size n, returning
// every row and checking that no page is larger than n.
func all[T any](t *testing.T, n int, list func(p store.Page) []T, key func(T) string) []T {
	t.Helper()
	var out []T
	after := ""
	for range 1000 {
		page := list(store.Page{After: after, Limit: n})
		require.LessOrEqual(t, len(page), n)
		out = append(out, page...)
		if len(page) < n {
			return out
		}
		after = key(page[len(page)-1])
	}
	t.Fatal("paging did not end")
	return nil
}

// idsOf returns the ids of rows, in their order; nil when there are none.
func idsOf[T any](rows []T, id func(T) string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

// newestOf returns the ids of the rows at the given indexes, last first:
// rows made one after the other, as a newest-first listing shows them.
func newestOf[T any](rows []T, id func(T) string, idx ...int) []string {
	var out []string
	for k := len(idx) - 1; k >= 0; k-- {
		out = append(out, id(rows[idx[k]]))
	}
	return out
}

// listCase is one row of a listing's filter table: a filter and the ids
// the listing must return for it, in order.
type listCase[F any] struct {
	name string
	f    F
	want []string
}

// requireListings runs each case as a parallel subtest, listing with its
// filter in a read transaction of its own.
func requireListings[F any](t *testing.T, b *testBundle, cases []listCase[F], list func(ctx context.Context, tx store.Tx, f F) ([]string, error)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b.read(t, func(ctx context.Context, tx store.Tx) {
				got, err := list(ctx, tx, tt.f)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		})
	}
}
