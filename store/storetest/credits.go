package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testCredits(t *testing.T, open Opener) {
	t.Run("BalancesNeverGoBelowZero", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		a := b.f.account(b.f.account(nil))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ok, balance, err := tx.TakeCredits(ctx, a.ID, canopy.CreditUpload, 1, at(1))
			require.NoError(t, err)
			require.False(t, ok, "no balance row yet")
			require.Zero(t, balance)
			require.NoError(t, tx.AddCredits(ctx, a.ID, canopy.CreditUpload, 10, at(1)))
			require.NoError(t, tx.AddCredits(ctx, a.ID, canopy.CreditUpload, 5, at(2)))
			ok, balance, err = tx.TakeCredits(ctx, a.ID, canopy.CreditUpload, 15, at(3))
			require.NoError(t, err)
			require.True(t, ok)
			require.Zero(t, balance, "the balance after the debit")
			require.NoError(t, tx.AddCredits(ctx, a.ID, canopy.CreditUpload, 4, at(4)))
			ok, balance, err = tx.TakeCredits(ctx, a.ID, canopy.CreditUpload, 5, at(5))
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, int64(4), balance, "the balance found, untouched")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Balances(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, []store.Balance{{AccountID: a.ID, Type: canopy.CreditUpload, Balance: 4}}, got)
		})
	})

	t.Run("CreditsTakenForUsageAddToTheRollupsInOneGo", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		p, q, none := b.f.account(root), b.f.account(root), b.f.account(root)
		x := b.f.account(p)
		day := canopy.DayOf(at(1))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.AddCredits(ctx, p.ID, canopy.CreditUpload, 10, at(0)))
			require.NoError(t, tx.AddCredits(ctx, q.ID, canopy.CreditUpload, 3, at(0)))
			got, err := tx.TakeCreditsForUsage(ctx, []store.CreditTake{
				{AccountID: p.ID, Type: canopy.CreditUpload, Amount: 4},
				{AccountID: q.ID, Type: canopy.CreditUpload},
				{AccountID: none.ID, Type: canopy.CreditUpload},
			}, at(1), []store.UsageDay{
				{Path: x.Path, Type: canopy.CreditUpload, Day: day, Payer: p.ID, Amount: 3},
				{Path: p.Path, Type: canopy.CreditUpload, Day: day, Payer: p.ID, Amount: 1},
			})
			require.NoError(t, err)
			require.Equal(t, []store.CreditTaken{{OK: true, Balance: 6}, {OK: true, Balance: 3}, {OK: true, Balance: 0}}, got,
				"the balance after a take; a take of nothing reads it, 0 where there is none")
			got, err = tx.TakeCreditsForUsage(ctx, []store.CreditTake{
				{AccountID: p.ID, Type: canopy.CreditUpload, Amount: 7},
				{AccountID: q.ID, Type: canopy.CreditUpload, Amount: 3},
			}, at(2), nil)
			require.NoError(t, err)
			require.False(t, got[0].OK, "more than the balance holds")
			require.Equal(t, store.CreditTaken{OK: true, Balance: 0}, got[1], "the others are taken all the same")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for id, want := range map[string]int64{p.ID: 6, q.ID: 0} {
				got, err := tx.Balances(ctx, id)
				require.NoError(t, err)
				require.Equal(t, []store.Balance{{AccountID: id, Type: canopy.CreditUpload, Balance: want}}, got)
			}
			daily, err := tx.UsageTotals(ctx, false)
			require.NoError(t, err)
			monthly, err := tx.MonthlyUsageTotals(ctx)
			require.NoError(t, err)
			want := []store.UsageRow{{Prefix: p.Path, Type: canopy.CreditUpload, Amount: 1}, {Prefix: x.Path, Type: canopy.CreditUpload, Amount: 3}}
			require.ElementsMatch(t, want, daily, "the daily rollups")
			require.ElementsMatch(t, want, monthly, "the monthly rollups")
			payers, err := tx.PayerUsageTotals(ctx, false)
			require.NoError(t, err)
			require.Equal(t, []store.Balance{{AccountID: p.ID, Type: canopy.CreditUpload, Balance: 4}}, payers, "the payer's daily rollup")
		})
	})

	t.Run("LedgerAppendsListsBothSidesAndKeysDebits", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		a := b.f.account(root)
		c := b.f.account(a)
		entry := func(n int, kind canopy.EntryKind, debit, credit string) *canopy.LedgerEntry {
			return &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at(n), Kind: kind, Type: canopy.CreditMessage,
				Amount: int64(n), Debit: debit, Credit: credit, Reason: "résumé ✓", RequestID: "req"}
		}
		grant := entry(1, canopy.EntryGrant, canopy.BookIssuance, a.ID)
		transfer := entry(2, canopy.EntryTransfer, a.ID, c.ID)
		usage := entry(3, canopy.EntryUsage, a.ID, canopy.BookConsumption)
		usage.UsageAccountID, usage.UsagePath, usage.UsageRef, usage.IdempotencyKey = c.ID, c.Path, "record:rec_1", "record:rec_1"
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, e := range []*canopy.LedgerEntry{grant, transfer, usage} {
				require.NoError(t, tx.InsertLedgerEntry(ctx, e))
			}
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			twin := entry(4, canopy.EntryUsage, a.ID, canopy.BookConsumption)
			twin.UsageAccountID, twin.IdempotencyKey = c.ID, "record:rec_1"
			return tx.InsertLedgerEntry(ctx, twin)
		})
		requireConflict(t, err, store.UniqueLedgerKey)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.LedgerEntriesByKeys(ctx, []store.LedgerKey{{UsageAccountID: c.ID, Key: "record:rec_1"}})
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{usage}, got)
			got, err = tx.LedgerEntriesByKeys(ctx, []store.LedgerKey{{UsageAccountID: a.ID, Key: "record:rec_1"}})
			require.NoError(t, err)
			require.Empty(t, got, "keys belong to the account that used the credits")

			all, err := tx.ListLedger(ctx, store.LedgerFilter{AccountID: a.ID, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{usage, transfer, grant}, all, "both sides, newest first")
			page, err := tx.ListLedger(ctx, store.LedgerFilter{AccountID: a.ID, Before: transfer.ID, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{grant}, page)
			kind, err := tx.ListLedger(ctx, store.LedgerFilter{AccountID: a.ID, Kind: canopy.EntryTransfer, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{transfer}, kind)
			window, err := tx.ListLedger(ctx, store.LedgerFilter{AccountID: a.ID, From: at(2), To: at(3), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{transfer}, window, "from inclusive, to exclusive")

			sums, err := tx.LedgerSums(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []store.Balance{
				{AccountID: canopy.BookIssuance, Type: canopy.CreditMessage, Balance: -1},
				{AccountID: a.ID, Type: canopy.CreditMessage, Balance: 1 - 2 - 3},
				{AccountID: c.ID, Type: canopy.CreditMessage, Balance: 2},
				{AccountID: canopy.BookConsumption, Type: canopy.CreditMessage, Balance: 3},
			}, sums)
		})
	})

	t.Run("UsageRollsUpByPathPrefixLessRefunds", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		u := b.f.account(root)
		x, y := b.f.account(u), b.f.account(u)
		x1 := b.f.account(x)
		other := b.f.account(root)
		n := 0
		use := func(a *canopy.Account, kind canopy.EntryKind, amount int64) {
			n++
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at(n), Kind: kind, Type: canopy.CreditUpload,
				Amount: amount, Debit: u.ID, Credit: canopy.BookConsumption, UsageAccountID: a.ID, UsagePath: a.Path}
			if kind == canopy.EntryRefund {
				e.Debit, e.Credit = canopy.BookConsumption, u.ID
			}
			b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertLedgerEntry(ctx, e)) })
		}
		use(u, canopy.EntryUsage, 1)
		use(x, canopy.EntryUsage, 2)
		use(x1, canopy.EntryUsage, 4)
		use(x1, canopy.EntryRefund, 1)
		use(y, canopy.EntryUsage, 8)
		use(other, canopy.EntryUsage, 16)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			rows, err := tx.UsageByPrefix(ctx, u.Path, len(u.Path)+len(u.ID)+1, at(0), at(100))
			require.NoError(t, err)
			require.ElementsMatch(t, []store.UsageRow{
				{Prefix: u.Path, Type: canopy.CreditUpload, Amount: 1},
				{Prefix: x.Path, Type: canopy.CreditUpload, Amount: 2 + 4 - 1},
				{Prefix: y.Path, Type: canopy.CreditUpload, Amount: 8},
			}, rows)
			rows, err = tx.UsageByPrefix(ctx, u.Path, len(u.Path), at(2), at(4))
			require.NoError(t, err)
			require.Equal(t, []store.UsageRow{{Prefix: u.Path, Type: canopy.CreditUpload, Amount: 2 + 4}}, rows, "a time window, not grouped")
		})
	})

	t.Run("UsageReadsWholeDaysFromRollupsAndEdgesFromTheLedger", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		u := b.f.account(root)
		x := b.f.account(u)
		day := func(d int) time.Time { return time.Date(2026, 11, 10+d, 0, 0, 0, 0, time.UTC) }
		var entries []*canopy.LedgerEntry
		use := func(a *canopy.Account, at time.Time, kind canopy.EntryKind, amount int64) {
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at, Kind: kind, Type: canopy.CreditUpload,
				Amount: amount, Debit: u.ID, Credit: canopy.BookConsumption, UsageAccountID: a.ID, UsagePath: a.Path}
			if kind == canopy.EntryRefund {
				e.Debit, e.Credit = canopy.BookConsumption, u.ID
			}
			entries = append(entries, e)
		}
		use(x, day(0).Add(6*time.Hour), canopy.EntryUsage, 1)  // before the window
		use(x, day(0).Add(18*time.Hour), canopy.EntryUsage, 2) // the window's first, partial day
		use(x, day(1).Add(time.Hour), canopy.EntryUsage, 4)    // a whole day
		use(u, day(1).Add(2*time.Hour), canopy.EntryUsage, 8)
		use(x, day(2).Add(time.Hour), canopy.EntryRefund, 1) // a whole day, refunded
		use(x, day(3).Add(time.Hour), canopy.EntryUsage, 16) // the window's last, partial day
		use(x, day(3).Add(20*time.Hour), canopy.EntryUsage, 32)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertLedgerEntries(ctx, entries))
			require.NoError(t, tx.AddUsageDays(ctx, store.UsageDaysOf(entries)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			rows, err := tx.UsageByPrefix(ctx, u.Path, len(u.Path)+len(u.ID)+1, day(0).Add(12*time.Hour), day(3).Add(12*time.Hour))
			require.NoError(t, err)
			require.Equal(t, []store.UsageRow{
				{Prefix: u.Path, Type: canopy.CreditUpload, Amount: 8},
				{Prefix: x.Path, Type: canopy.CreditUpload, Amount: 2 + 4 - 1 + 16},
			}, sortRows(rows))
			rows, err = tx.UsageByPrefix(ctx, u.Path, len(u.Path), day(1), day(3))
			require.NoError(t, err)
			require.Equal(t, []store.UsageRow{{Prefix: u.Path, Type: canopy.CreditUpload, Amount: 4 + 8 - 1}}, rows, "whole days only")
			ledger, err := tx.UsageTotals(ctx, true)
			require.NoError(t, err)
			rolled, err := tx.UsageTotals(ctx, false)
			require.NoError(t, err)
			require.Equal(t, ledger, rolled, "the rollups hold what the ledger says")
			monthly, err := tx.MonthlyUsageTotals(ctx)
			require.NoError(t, err)
			require.Equal(t, ledger, monthly, "so do the monthly ones")
		})
	})

	t.Run("CapsCountMonthUsageUpToTheirLimit", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		a := b.f.account(b.f.account(nil))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutCreditLimit(ctx, &store.CreditLimit{AccountID: a.ID, Type: canopy.CreditUpload, Monthly: 10, SetBy: "acc_x", UpdatedAt: at(1)}))
			require.NoError(t, tx.PutCreditLimit(ctx, &store.CreditLimit{AccountID: a.ID, Type: canopy.CreditUpload, Monthly: 7, SetBy: "acc_y", UpdatedAt: at(2)}))
			ok, used, err := tx.AddMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-11", 5, 7)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, int64(5), used, "the total after it")
			ok, used, err = tx.AddMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-11", 3, 7)
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, int64(5), used)
			ok, used, err = tx.AddMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-11", 2, 7)
			require.NoError(t, err)
			require.True(t, ok, "exactly up to the cap")
			require.Equal(t, int64(7), used)
			ok, used, err = tx.AddMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-12", 8, 7)
			require.NoError(t, err)
			require.False(t, ok, "more than the cap at once, in a fresh month")
			require.Zero(t, used)
			require.NoError(t, tx.SetMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-12", 4))
			require.NoError(t, tx.ReturnMonthUsage(ctx, a.ID, canopy.CreditUpload, "2026-12", 1))
			require.NoError(t, tx.ReturnMonthUsage(ctx, a.ID, canopy.CreditUpload, "2027-01", 1), "no count, nothing to return")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			limits, err := tx.CreditLimits(ctx, []string{"acc_none", a.ID}, canopy.CreditUpload)
			require.NoError(t, err)
			require.Equal(t, []store.CreditLimit{{AccountID: a.ID, Type: canopy.CreditUpload, Monthly: 7, SetBy: "acc_y", UpdatedAt: at(2)}}, limits)
			none, err := tx.CreditLimits(ctx, []string{a.ID}, canopy.CreditMessage)
			require.NoError(t, err)
			require.Empty(t, none)
			for month, want := range map[string]int64{"2026-11": 7, "2026-12": 3, "2027-01": 0} {
				used, err := tx.MonthUsage(ctx, a.ID, canopy.CreditUpload, month)
				require.NoError(t, err)
				require.Equal(t, want, used, month)
			}
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.DeleteCreditLimit(ctx, a.ID, canopy.CreditUpload))
			require.ErrorIs(t, tx.DeleteCreditLimit(ctx, a.ID, canopy.CreditUpload), store.ErrNotFound)
		})
	})

	t.Run("AllBalancesReadsEveryHolding", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		a, c := b.f.account(root), b.f.account(root)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			none, err := tx.AllBalances(ctx)
			require.NoError(t, err)
			require.Empty(t, none)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.AddCredits(ctx, a.ID, canopy.CreditUpload, 10, at(1)))
			require.NoError(t, tx.AddCredits(ctx, a.ID, canopy.CreditMessage, 3, at(1)))
			require.NoError(t, tx.AddCredits(ctx, c.ID, canopy.CreditUpload, 2, at(1)))
			ok, _, err := tx.TakeCredits(ctx, c.ID, canopy.CreditUpload, 2, at(2))
			require.NoError(t, err)
			require.True(t, ok)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.AllBalances(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []store.Balance{
				{AccountID: a.ID, Type: canopy.CreditUpload, Balance: 10},
				{AccountID: a.ID, Type: canopy.CreditMessage, Balance: 3},
				{AccountID: c.ID, Type: canopy.CreditUpload, Balance: 0}, // spent, still held
			}, got, "every account and type, in no order")
		})
	})
}

func sortRows(rows []store.UsageRow) []store.UsageRow {
	slices.SortFunc(rows, func(a, b store.UsageRow) int { return strings.Compare(string(a.Prefix), string(b.Prefix)) })
	return rows
}
