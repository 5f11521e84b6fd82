package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store"
)

// TestMonthlyUsageRollupsStartFromTheDailyOnes: a database whose daily
// usage rollups were written before the monthly ones existed (migration
// 12) gets them summed into months, so reports over whole months read
// the same usage as before.
func TestMonthlyUsageRollupsStartFromTheDailyOnes(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.OpenAt(t, engine, 11)
			ids := canopy.NewIDs(time.Now, nil)
			path := canopy.RootPath(ids.New(canopy.PrefixAccount))
			child := path.Child(ids.New(canopy.PrefixAccount))
			// What the store of that version wrote: daily rollups only.
			q := `INSERT INTO credit_usage_days (usage_path, type, day, amount) VALUES (?, ?, ?, ?)`
			if engine == "postgres" {
				q = `INSERT INTO credit_usage_days (usage_path, type, day, amount) VALUES ($1, $2, $3, $4)`
			}
			for _, d := range []store.UsageDay{
				{Path: child, Type: canopy.CreditUpload, Day: "2026-10-31", Amount: 5},
				{Path: child, Type: canopy.CreditUpload, Day: "2026-11-01", Amount: 7},
				{Path: child, Type: canopy.CreditUpload, Day: "2026-11-30", Amount: 11},
				{Path: path, Type: canopy.CreditMessage, Day: "2026-11-15", Amount: 2},
			} {
				_, err := db.WritePool().ExecContext(ctx, q, string(d.Path), string(d.Type), d.Day, d.Amount)
				require.NoError(t, err)
			}
			testdb.Upgrade(t, engine, db)
			require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
				// Whole months are read from the monthly rollups alone.
				for _, c := range []struct {
					month time.Time
					want  []store.UsageRow
				}{
					{time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), []store.UsageRow{{Prefix: path, Type: canopy.CreditUpload, Amount: 5}}},
					{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), []store.UsageRow{
						{Prefix: path, Type: canopy.CreditMessage, Amount: 2}, {Prefix: path, Type: canopy.CreditUpload, Amount: 18}}},
				} {
					rows, err := tx.UsageByPrefix(ctx, path, len(path), c.month, c.month.AddDate(0, 1, 0))
					require.NoError(t, err)
					require.Equal(t, c.want, rows, "%s", c.month)
				}
				return nil
			}))
		})
	}
}

// TestPayerUsageRollupsStartFromTheLedger: a database whose debits and
// refunds were written before the payers' daily rollups existed
// (migration 17) gets them summed from the ledger, each on the UTC day of
// its entry, so balance histories over those days stay exact.
func TestPayerUsageRollupsStartFromTheLedger(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.OpenAt(t, engine, 16)
			ids := canopy.NewIDs(time.Now, nil)
			payer, kid := ids.New(canopy.PrefixAccount), ids.New(canopy.PrefixAccount)
			path := canopy.RootPath(payer).Child(kid)
			midnight := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			entry := func(at time.Time, kind canopy.EntryKind, n int64) *canopy.LedgerEntry {
				e := &canopy.LedgerEntry{ID: ids.New(canopy.PrefixLedgerEntry), At: at, Kind: kind, Type: canopy.CreditUpload, Amount: n,
					Debit: payer, Credit: canopy.BookConsumption, UsageAccountID: kid, UsagePath: path}
				switch kind {
				case canopy.EntryRefund:
					e.Debit, e.Credit = canopy.BookConsumption, payer
				case canopy.EntryGrant:
					e.Debit, e.Credit, e.UsageAccountID, e.UsagePath = canopy.BookIssuance, payer, "", ""
				}
				return e
			}
			// What the store of that version wrote: the ledger (and the
			// path rollups, which this test does not need).
			require.NoError(t, db.Write(ctx, func(tx store.Tx) error {
				return tx.InsertLedgerEntries(ctx, []*canopy.LedgerEntry{
					entry(midnight.Add(-time.Microsecond), canopy.EntryUsage, 5), // the last instant of 31 October
					entry(midnight, canopy.EntryUsage, 7),
					entry(midnight.Add(23*time.Hour), canopy.EntryRefund, 2),
					entry(midnight.Add(30*time.Hour), canopy.EntryUsage, 11),
					entry(midnight.Add(time.Hour), canopy.EntryGrant, 1000), // not usage
				})
			}))
			testdb.Upgrade(t, engine, db)
			require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
				days, err := tx.PaidUsage(ctx, payer, midnight.AddDate(0, 0, -1), false)
				require.NoError(t, err)
				require.Equal(t, []store.DayAmount{
					{Day: "2026-10-31", Type: canopy.CreditUpload, Amount: 5},
					{Day: "2026-11-01", Type: canopy.CreditUpload, Amount: 5},
					{Day: "2026-11-02", Type: canopy.CreditUpload, Amount: 11},
				}, days)
				rolled, err := tx.PayerUsageTotals(ctx, false)
				require.NoError(t, err)
				fromLedger, err := tx.PayerUsageTotals(ctx, true)
				require.NoError(t, err)
				require.Equal(t, fromLedger, rolled)
				return nil
			}))
		})
	}
}
