package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// testCreditBatches checks the reads and writes a batch of debits makes in
// one transaction: many accounts share-locked at once, entries inserted
// and found by key in bulk (widths that are not powers of two included),
// and balances and month counts read under lock.
func testCreditBatches(t *testing.T, open Opener) {
	t.Run("BulkEntriesAndKeys", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 3)
		at := canopy.Timestamp(time.Now())
		var es []*canopy.LedgerEntry
		var keys []store.LedgerKey
		for i := range 300 {
			k := kids[i%len(kids)]
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at, Kind: canopy.EntryUsage, Type: canopy.CreditMessage,
				Amount: int64(1 + i%7), Debit: root.ID, Credit: canopy.BookConsumption, UsageAccountID: k.ID, UsagePath: k.Path,
				UsageRef: "usage", IdempotencyKey: fmt.Sprintf("ref:%d", i)}
			es = append(es, e)
			if i%2 == 0 {
				keys = append(keys, store.LedgerKey{UsageAccountID: k.ID, Key: e.IdempotencyKey})
			}
		}
		// Keys of other accounts, and keys nobody used, find nothing.
		keys = append(keys, store.LedgerKey{UsageAccountID: kids[1].ID, Key: "ref:0"}, store.LedgerKey{UsageAccountID: kids[0].ID, Key: "ref:none"})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertLedgerEntries(ctx, es))
			require.NoError(t, tx.InsertLedgerEntries(ctx, nil))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			found, err := tx.LedgerEntriesByKeys(ctx, keys)
			require.NoError(t, err)
			require.Len(t, found, 150, "each even entry once")
			for _, e := range found {
				var n int
				_, err := fmt.Sscanf(e.IdempotencyKey, "ref:%d", &n)
				require.NoError(t, err)
				require.Equal(t, es[n].ID, e.ID)
				require.Equal(t, es[n].UsageAccountID, e.UsageAccountID)
				require.Equal(t, es[n].Amount, e.Amount)
			}
			sums, err := tx.LedgerSums(ctx)
			require.NoError(t, err)
			var total int64
			for _, s := range sums {
				if s.AccountID == canopy.BookConsumption {
					total = s.Balance
				}
			}
			require.Equal(t, int64(300/7*28+(300%7)*(300%7+1)/2), total, "all 300 entries")
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.InsertLedgerEntries(ctx, []*canopy.LedgerEntry{{ID: b.f.id(canopy.PrefixLedgerEntry), At: at, Kind: canopy.EntryUsage,
				Type: canopy.CreditMessage, Amount: 1, Debit: root.ID, Credit: canopy.BookConsumption, UsageAccountID: kids[0].ID,
				UsagePath: kids[0].Path, IdempotencyKey: "ref:0"}})
		})
		requireConflict(t, err, store.UniqueLedgerKey)
	})

	t.Run("NewEntriesLeaveTakenKeysOut", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 2)
		at := canopy.Timestamp(time.Now())
		entry := func(kid int, key string) *canopy.LedgerEntry {
			k := kids[kid]
			return &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at, Kind: canopy.EntryUsage, Type: canopy.CreditMessage,
				Amount: 1, Debit: root.ID, Credit: canopy.BookConsumption, UsageAccountID: k.ID, UsagePath: k.Path, IdempotencyKey: key}
		}
		first := entry(0, "ref:a")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			taken, err := tx.InsertNewLedgerEntries(ctx, []*canopy.LedgerEntry{first})
			require.NoError(t, err)
			require.Empty(t, taken)
		})
		// 200 entries (widths that are not powers of two): a twin of the
		// first, the same key for another account, and keyless entries.
		var es []*canopy.LedgerEntry
		for i := range 200 {
			es = append(es, entry(i%2, fmt.Sprintf("ref:%d", i)))
		}
		twin := entry(0, "ref:a")
		es = append(es, twin, entry(1, "ref:a"), entry(0, ""), entry(1, ""))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			taken, err := tx.InsertNewLedgerEntries(ctx, es)
			require.NoError(t, err)
			require.Equal(t, []string{twin.ID}, taken, "only the twin of an entry already there is left out")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.LedgerEntriesByKeys(ctx, []store.LedgerKey{{UsageAccountID: kids[0].ID, Key: "ref:a"}})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, first.ID, got[0].ID, "the first entry keeps its key")
			_, err = tx.GetLedgerEntry(ctx, twin.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			for _, e := range es[:200] {
				_, err := tx.GetLedgerEntry(ctx, e.ID)
				require.NoError(t, err)
			}
		})

		// A twin in a transaction still open: the insert waits for it and
		// leaves the entry out once it commits.
		racing := entry(1, "ref:race")
		requireSerialised(t, b.st,
			func(ctx context.Context, tx store.Tx) error { return tx.InsertLedgerEntry(ctx, racing) },
			func(ctx context.Context, tx store.Tx) error {
				late := entry(1, "ref:race")
				taken, err := tx.InsertNewLedgerEntries(ctx, []*canopy.LedgerEntry{late})
				if err == nil && (len(taken) != 1 || taken[0] != late.ID) {
					err = fmt.Errorf("the racing twin was inserted: taken %v", taken)
				}
				return err
			})
	})

	t.Run("LockedReads", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kids := b.f.children(root, 5)
		month := canopy.MonthOf(time.Now())
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ids := []string{kids[3].ID, kids[0].ID, kids[3].ID, kids[1].ID, kids[4].ID}
			got, err := tx.GetAccountsForShare(ctx, ids, nil)
			require.NoError(t, err)
			require.Len(t, got, 4, "each account once")
			for i := 1; i < len(got); i++ {
				require.Less(t, got[i-1].ID, got[i].ID, "in id order")
			}
			got, err = tx.GetAccountsForShare(ctx, []string{kids[1].ID}, []string{root.ID, kids[1].ID, kids[2].ID, "acc_none"})
			require.NoError(t, err)
			var read []string
			for _, a := range got {
				read = append(read, a.ID)
			}
			require.ElementsMatch(t, []string{kids[1].ID, root.ID, kids[2].ID}, read, "the locked and the others, each once")
			got, err = tx.GetAccountsForShare(ctx, nil, []string{kids[4].ID})
			require.NoError(t, err)
			require.Len(t, got, 1, "the others alone")
			n, err := tx.BalanceForUpdate(ctx, root.ID, canopy.CreditMessage)
			require.NoError(t, err)
			require.Zero(t, n, "no balance yet")
			require.NoError(t, tx.AddCredits(ctx, root.ID, canopy.CreditMessage, 42, time.Now()))
			n, err = tx.BalanceForUpdate(ctx, root.ID, canopy.CreditMessage)
			require.NoError(t, err)
			require.Equal(t, int64(42), n)
			used, err := tx.MonthUsageForUpdate(ctx, kids[0].ID, canopy.CreditMessage, month)
			require.NoError(t, err)
			require.Zero(t, used)
			ok, _, err := tx.AddMonthUsage(ctx, kids[0].ID, canopy.CreditMessage, month, 7, 10)
			require.NoError(t, err)
			require.True(t, ok)
			used, err = tx.MonthUsageForUpdate(ctx, kids[0].ID, canopy.CreditMessage, month)
			require.NoError(t, err)
			require.Equal(t, int64(7), used)
		})
		lock := func(ctx context.Context, tx store.Tx) error {
			_, err := tx.BalanceForUpdate(ctx, root.ID, canopy.CreditMessage)
			return err
		}
		requireSerialised(t, b.st, lock, lock)
	})
}
