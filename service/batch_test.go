package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// twinStore is a real store that runs twin just before its next batch
// insert of ledger entries: a twin test writes there (in the same
// transaction, so it works on SQLite's single writer too) an entry under a
// reference the batch is about to charge, as a retry racing its first try
// on another replica would have committed it; other tests commit a write
// of their own there, between the batch's reads and its writes.
type twinStore struct {
	store.Store
	mu     sync.Mutex
	twin   func(ctx context.Context, tx store.Tx) error
	writes int // write transactions begun
}

func (s *twinStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	return s.Store.Write(ctx, func(tx store.Tx) error { return fn(&twinTx{Tx: tx, s: s}) })
}

type twinTx struct {
	store.Tx
	s *twinStore
}

func (t *twinTx) InsertNewLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) ([]string, error) {
	t.s.mu.Lock()
	twin := t.s.twin
	t.s.twin = nil
	t.s.mu.Unlock()
	if twin != nil {
		if err := twin(ctx, t.Tx); err != nil {
			return nil, err
		}
	}
	return t.Tx.InsertNewLedgerEntries(ctx, es)
}

// TestBatchLosesOnlyTheDebitThatMeetsATwin: when a reference of a batch is
// charged by another transaction between the batch's read of its
// references and its insert, that debit — and only it — becomes the replay
// it is (or the 422 it is, when the twin charged another usage). The rest
// of the batch is decided again as a serial run would decide it: a debit
// refused for credits the replay no longer takes now succeeds. Nothing
// runs alone, and the ledger still equals the balances.
func TestBatchLosesOnlyTheDebitThatMeetsATwin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		twinAmount int64
		wantR3     string // error code, or "" for a replay of the twin
		wantLeft   int64
	}{
		{"the twin is the same usage", 2, "", 0},
		{"the twin is another usage", 3, canopy.CodeValidation, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
				ctx := context.Background()
				st := &twinStore{Store: db}
				b := testfactory.New(t, st)
				umbrella := b.Child(t, b.Root.ID)
				clinic := b.Child(t, umbrella.ID)
				other := b.Child(t, b.Root.ID) // pays for the twin
				grant(t, b, umbrella.ID, canopy.CreditMessage, 4)
				grant(t, b, other.ID, canopy.CreditMessage, 10)
				_, err := b.Svc.UpdateLink(ctx, b.As(t, umbrella.ID), clinic.ID, service.LinkPatch{Billing: ptr(canopy.BillingParent)})
				require.NoError(t, err)

				var twinID string
				st.twin = func(ctx context.Context, tx store.Tx) error {
					e := &canopy.LedgerEntry{ID: canopy.NewIDs(nil, nil).New(canopy.PrefixLedgerEntry), At: time.Now().UTC(),
						Kind: canopy.EntryUsage, Type: canopy.CreditMessage, Amount: tc.twinAmount, Debit: other.ID,
						Credit: canopy.BookConsumption, UsageAccountID: clinic.ID, UsagePath: clinic.Path, UsageRef: "usage",
						IdempotencyKey: "ref:r3"}
					twinID = e.ID
					if err := tx.InsertLedgerEntry(ctx, e); err != nil {
						return err
					}
					if err := tx.AddUsageDays(ctx, store.UsageDaysOf([]*canopy.LedgerEntry{e})); err != nil {
						return err
					}
					_, _, err := tx.TakeCredits(ctx, other.ID, canopy.CreditMessage, tc.twinAmount, e.At)
					return err
				}

				steps := []service.UsageInput{
					{Type: canopy.CreditMessage, Quantity: 1, Reference: "r1"},
					{Type: canopy.CreditMessage, Quantity: 1, Reference: "r2"},
					{Type: canopy.CreditMessage, Quantity: 2, Reference: "r3"},
					{Type: canopy.CreditMessage, Quantity: 2, Reference: "r4"}, // fits only if r3 takes nothing
				}
				as := b.As(t, clinic.ID)
				queued, release := b.Svc.HoldDebits()
				results := make([]*service.UsageResult, len(steps))
				errs := make([]error, len(steps))
				var wg sync.WaitGroup
				for i, in := range steps {
					wg.Add(1)
					go func() {
						defer wg.Done()
						results[i], errs[i] = b.Svc.RecordUsage(ctx, as, in)
					}()
					require.Eventually(t, func() bool { return queued() == i+1 }, 5*time.Second, time.Millisecond)
				}
				before := st.writes
				release()
				wg.Wait()
				require.Equal(t, 1, st.writes-before, "one transaction decided the whole batch; no debit ran alone")

				for _, i := range []int{0, 1, 3} {
					require.NoError(t, errs[i], "debit %d", i)
					require.False(t, results[i].Replayed)
				}
				if tc.wantR3 == "" {
					require.NoError(t, errs[2])
					require.True(t, results[2].Replayed)
					require.Equal(t, twinID, results[2].Entry.ID, "r3 is answered with the twin's entry")
				} else {
					require.Equal(t, tc.wantR3, canopy.ErrorCode(errs[2]))
					require.Equal(t, []string{"reference"}, fieldsOf(t, errs[2]))
				}
				require.Equal(t, tc.wantLeft, balanceOf(t, b, umbrella.ID, canopy.CreditMessage), "r1, r2 and r4 were charged")
				require.Equal(t, 10-tc.twinAmount, balanceOf(t, b, other.ID, canopy.CreditMessage))
				requireVerified(t, b)
			})
		})
	}
}

// TestUnlockedBatchRunsAgainLockedWhenABalanceMoved: a batch reads its
// payers' balances unlocked and locks each only when it writes it; a
// balance that moved meanwhile so that the batch's decisions would not be
// a serial run's at that moment — it no longer holds what the batch took,
// or it refused a debit and has changed since — sends the batch round
// again, locked from the start, and each debit is decided as a serial run
// at that point would decide it. (PostgreSQL only: on SQLite no other
// write runs while a batch does.)
func TestUnlockedBatchRunsAgainLockedWhenABalanceMoved(t *testing.T) {
	for _, tc := range []struct {
		name      string
		balance   int64
		meanwhile func(t *testing.T, b *testfactory.Bundle, umbrella, sibling *canopy.Account) error
		wantR2    string // error code, or "" when charged
		wantLeft  int64
	}{
		{"a grant lets a refused debit through", 1, func(t *testing.T, b *testfactory.Bundle, umbrella, _ *canopy.Account) error {
			_, err := b.Svc.Grant(context.Background(), b.As(t, b.Root.ID), umbrella.ID, service.GrantInput{Type: canopy.CreditMessage, Amount: 5})
			return err
		}, "", 1 + 5 - 2},
		{"another debit takes what the batch counted on", 2, func(t *testing.T, b *testfactory.Bundle, _, sibling *canopy.Account) error {
			_, err := b.Svc.RecordUsage(context.Background(), b.As(t, sibling.ID),
				service.UsageInput{Type: canopy.CreditMessage, Quantity: 1, Reference: "meanwhile"})
			return err
		}, canopy.CodeInsufficientCredits, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
				if db.Engine() != "postgres" {
					t.Skip("SQLite runs one write at a time: nothing moves under a batch")
				}
				ctx := context.Background()
				st := &twinStore{Store: db}
				b := testfactory.New(t, st)
				umbrella := b.Child(t, b.Root.ID)
				clinic, sibling := b.Child(t, umbrella.ID), b.Child(t, umbrella.ID)
				for _, c := range []*canopy.Account{clinic, sibling} {
					_, err := b.Svc.UpdateLink(ctx, b.As(t, umbrella.ID), c.ID, service.LinkPatch{Billing: ptr(canopy.BillingParent)})
					require.NoError(t, err)
				}
				grant(t, b, umbrella.ID, canopy.CreditMessage, tc.balance)
				st.twin = func(context.Context, store.Tx) error {
					// In a transaction of its own (another goroutine's),
					// committed before the batch goes on.
					done := make(chan error)
					go func() { done <- tc.meanwhile(t, b, umbrella, sibling) }()
					return <-done
				}

				as := b.As(t, clinic.ID)
				queued, release := b.Svc.HoldDebits()
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for i, ref := range []string{"r1", "r2"} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = b.Svc.RecordUsage(ctx, as, service.UsageInput{Type: canopy.CreditMessage, Quantity: 1, Reference: ref})
					}()
					require.Eventually(t, func() bool { return queued() == i+1 }, 5*time.Second, time.Millisecond)
				}
				before := st.writes
				release()
				wg.Wait()
				require.Equal(t, 3, st.writes-before, "the batch unlocked, the write meanwhile, the batch again locked")
				require.NoError(t, errs[0])
				if tc.wantR2 == "" {
					require.NoError(t, errs[1])
				} else {
					require.Equal(t, tc.wantR2, canopy.ErrorCode(errs[1]))
				}
				require.Equal(t, tc.wantLeft, balanceOf(t, b, umbrella.ID, canopy.CreditMessage))
				requireVerified(t, b)
			})
		})
	}
}
