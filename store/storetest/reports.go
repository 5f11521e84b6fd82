package storetest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// testReports covers what the console's tables and charts read: record
// searches, audit filters, and the pieces of a balance's history.
func testReports(t *testing.T, open Opener) {
	t.Run("FindRecordsByAnswersNewestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f, other := b.form(t, owner), b.form(t, owner)
		answers := []string{
			`{"colour": "red", "tags": ["a", "b"], "seen": "2026-01-05"}`,
			`{"colour": "blue", "tags": ["b"], "seen": "2026-02-10"}`,
			`{"colour": "red", "tags": "a", "seen": "2026-03-15"}`, // a string where an array was asked for
			`{"colour": "red", "tags": {"0": "a"}}`,                // an object neither
			`{"colour": "red\"", "tags": ["a\""], "seen": "2026-12-31"}`,
		}
		var recs []*canopy.Record
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i, a := range answers {
				r := b.f.newRecord(f, owner, i*60)
				require.NoError(t, json.Unmarshal([]byte(a), &r.Answers))
				require.NoError(t, tx.InsertRecord(ctx, r))
				recs = append(recs, r)
			}
			require.NoError(t, tx.InsertRecord(ctx, b.f.newRecord(other, owner, 0)))
		})
		cases := []struct {
			name    string
			filter  store.RecordFilter
			want    []int
			comment string
		}{
			{"all, newest first", store.RecordFilter{Desc: true}, []int{4, 3, 2, 1, 0}, ""},
			{"all, oldest first", store.RecordFilter{}, []int{0, 1, 2, 3, 4}, ""},
			{"after, newest first", store.RecordFilter{Desc: true, After: recs[3].ID}, []int{2, 1, 0}, ""},
			{"after, oldest first", store.RecordFilter{After: recs[3].ID}, []int{4}, ""},
			{"created window", store.RecordFilter{From: recs[1].CreatedAt, To: recs[3].CreatedAt}, []int{1, 2}, "from inclusive, to exclusive"},
			{"equals", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "colour", Equals: "red"}}}, []int{0, 2, 3}, ""},
			{"equals with a quote", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "colour", Equals: `red"`}}}, []int{4}, ""},
			{"array holds", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "tags", Has: "a"}}}, []int{0}, "only arrays hold"},
			{"array holds with a quote", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "tags", Has: `a"`}}}, []int{4}, ""},
			{"dates from", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "seen", From: "2026-02-10"}}}, []int{1, 2, 4}, "inclusive"},
			{"dates to", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "seen", To: "2026-02-10"}}}, []int{0, 1}, "inclusive; no answer is no match"},
			{"all filters together", store.RecordFilter{Desc: true, Answers: []store.AnswerFilter{
				{QuestionID: "colour", Equals: "red"}, {QuestionID: "seen", From: "2026-01-01", To: "2026-03-31"},
			}}, []int{2, 0}, ""},
			{"an unknown question", store.RecordFilter{Answers: []store.AnswerFilter{{QuestionID: "nope", Equals: "red"}}}, nil, ""},
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, c := range cases {
				c.filter.FormID, c.filter.Limit = f.ID, 10
				got, err := tx.FindRecords(ctx, c.filter)
				require.NoError(t, err, c.name)
				want := []string{}
				for _, i := range c.want {
					want = append(want, recs[i].ID)
				}
				require.Equal(t, want, recordIDs(got), "%s %s", c.name, c.comment)
			}
			page, err := tx.FindRecords(ctx, store.RecordFilter{FormID: f.ID, Desc: true, Limit: 2})
			require.NoError(t, err)
			require.Equal(t, []string{recs[4].ID, recs[3].ID}, recordIDs(page), "limit")
			page, err = tx.FindRecords(ctx, store.RecordFilter{FormID: f.ID, Desc: true, After: recs[4].ID, Limit: 2,
				Answers: []store.AnswerFilter{{QuestionID: "colour", Equals: "red"}}})
			require.NoError(t, err)
			require.Equal(t, []string{recs[3].ID, recs[2].ID}, recordIDs(page), "a filtered page after a cursor, in order, up to the limit")
			page, err = tx.FindRecords(ctx, store.RecordFilter{FormID: f.ID, After: recs[0].ID, To: recs[4].CreatedAt, Limit: 1,
				Answers: []store.AnswerFilter{{QuestionID: "colour", Equals: "red"}}})
			require.NoError(t, err)
			require.Equal(t, []string{recs[2].ID}, recordIDs(page), "oldest first, within the window")
			got, err := tx.FindRecords(ctx, store.RecordFilter{FormID: f.ID, After: recs[0].ID, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, recs[1], got[0], "records read back whole")
		})
	})

	t.Run("AuditFiltersByActorAndOnBehalf", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		child := b.f.account(root)
		own := b.f.newEvent(child, "form.created", "frm_1")
		own.Actor = canopy.Actor{Type: "user", ID: "usr_own", AccountID: child.ID}
		above := b.f.newEvent(child, "form.created", "frm_2")
		above.Actor = canopy.Actor{Type: "apiKey", ID: "key_above", AccountID: root.ID}
		system := b.f.newEvent(child, "invitation.expired", "inv_1")
		system.Actor = canopy.Actor{Type: "system", ID: "system"}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, e := range []*canopy.AuditEvent{own, above, system} {
				require.NoError(t, tx.InsertAuditEvent(ctx, e))
			}
		})
		cases := []struct {
			name   string
			filter store.AuditFilter
			want   []*canopy.AuditEvent
		}{
			{"everything", store.AuditFilter{}, []*canopy.AuditEvent{system, above, own}},
			{"one actor", store.AuditFilter{ActorID: "usr_own"}, []*canopy.AuditEvent{own}},
			{"on behalf", store.AuditFilter{OnBehalf: ptr(true)}, []*canopy.AuditEvent{above}},
			{"not on behalf (the system's too)", store.AuditFilter{OnBehalf: ptr(false)}, []*canopy.AuditEvent{system, own}},
			{"actor and action", store.AuditFilter{ActorID: "key_above", Action: "invitation.expired"}, nil},
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, c := range cases {
				c.filter.Subtree, c.filter.Limit = root.Path, 10
				got, err := tx.ListAuditEvents(ctx, c.filter)
				require.NoError(t, err, c.name)
				var gotIDs, wantIDs []string
				for _, e := range got {
					gotIDs = append(gotIDs, e.ID)
					require.Equal(t, e.Actor.AccountID != "" && e.Actor.AccountID != e.ActingAccountID, e.OnBehalf)
				}
				for _, e := range c.want {
					wantIDs = append(wantIDs, e.ID)
				}
				require.Equal(t, wantIDs, gotIDs, c.name)
			}
		})
	})

	t.Run("PaidUsageSumsWhatEachPayerPaidByDayAndMonth", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		u, other := b.f.account(root), b.f.account(root)
		kid := b.f.account(u)
		at := func(d, h int) time.Time { return time.Date(2026, 10, 30, h, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
		entry := func(at time.Time, kind canopy.EntryKind, ct canopy.CreditType, n int64, payer string) *canopy.LedgerEntry {
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at, Kind: kind, Type: ct, Amount: n,
				Debit: payer, Credit: canopy.BookConsumption, UsageAccountID: kid.ID, UsagePath: kid.Path}
			if kind == canopy.EntryRefund {
				e.Debit, e.Credit = canopy.BookConsumption, payer
			}
			return e
		}
		up, msg := canopy.CreditUpload, canopy.CreditMessage
		entries := []*canopy.LedgerEntry{
			entry(at(-1, 9), canopy.EntryUsage, up, 1000, u.ID), // before since
			entry(at(0, 9), canopy.EntryUsage, up, 3, u.ID),
			entry(at(0, 10), canopy.EntryUsage, up, 4, u.ID),
			entry(at(0, 11), canopy.EntryRefund, up, 2, u.ID),
			entry(at(0, 12), canopy.EntryUsage, msg, 5, u.ID),
			// The kid's billing changed at noon: the same path and day,
			// another payer, in the same write.
			entry(at(0, 13), canopy.EntryUsage, up, 20, other.ID),
			entry(at(2, 9), canopy.EntryUsage, up, 7, u.ID), // 1 November
			entry(at(3, 9), canopy.EntryUsage, msg, 9, u.ID),
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertLedgerEntries(ctx, entries))
			require.NoError(t, tx.AddUsageDays(ctx, store.UsageDaysOf(entries)))
		})
		da := func(day string, t canopy.CreditType, n int64) store.DayAmount {
			return store.DayAmount{Day: day, Type: t, Amount: n}
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			days, err := tx.PaidUsage(ctx, u.ID, at(0, 0), false)
			require.NoError(t, err)
			require.Equal(t, []store.DayAmount{da("2026-10-30", msg, 5), da("2026-10-30", up, 5), da("2026-11-01", up, 7), da("2026-11-02", msg, 9)}, days)
			months, err := tx.PaidUsage(ctx, u.ID, at(0, 0), true)
			require.NoError(t, err)
			require.Equal(t, []store.DayAmount{da("2026-10", msg, 5), da("2026-10", up, 1005), da("2026-11", msg, 9), da("2026-11", up, 7)}, months,
				"from the month's first day")
			theirs, err := tx.PaidUsage(ctx, other.ID, at(0, 0), false)
			require.NoError(t, err)
			require.Equal(t, []store.DayAmount{da("2026-10-30", up, 20)}, theirs)
			byPath, err := tx.UsageByPrefix(ctx, kid.Path, len(kid.Path), at(0, 0), at(1, 0))
			require.NoError(t, err)
			require.Equal(t, []store.UsageRow{{Prefix: kid.Path, Type: msg, Amount: 5}, {Prefix: kid.Path, Type: up, Amount: 25}}, byPath,
				"the path's rollups take both payers' usage")
			fromLedger, err := tx.PayerUsageTotals(ctx, true)
			require.NoError(t, err)
			rolled, err := tx.PayerUsageTotals(ctx, false)
			require.NoError(t, err)
			require.Equal(t, fromLedger, rolled)
			require.Contains(t, rolled, store.Balance{AccountID: u.ID, Type: up, Balance: 1012})
		})
	})

	t.Run("UsageReadsMonthsDaysAndTheLedgerAsTheEntriesSay", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		u := b.f.account(root)
		kids := []*canopy.Account{u, b.f.account(u), b.f.account(u)}
		rng := rand.New(rand.NewPCG(12, 16))
		start := time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC)
		var entries []*canopy.LedgerEntry
		for range 400 {
			a := kids[rng.IntN(len(kids))]
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: start.Add(time.Duration(rng.Int64N(int64(110 * 24 * time.Hour)))),
				Kind: canopy.EntryUsage, Type: []canopy.CreditType{canopy.CreditUpload, canopy.CreditMessage}[rng.IntN(2)],
				Amount: 1 + rng.Int64N(9), Debit: u.ID, Credit: canopy.BookConsumption, UsageAccountID: a.ID, UsagePath: a.Path}
			if rng.IntN(10) == 0 {
				e.Kind, e.Debit, e.Credit = canopy.EntryRefund, canopy.BookConsumption, u.ID
			}
			entries = append(entries, e)
		}
		// The rollups take the entries a few at a time, as debits come.
		for i := 0; i < len(entries); i += 7 {
			batch := entries[i:min(i+7, len(entries))]
			b.write(t, func(ctx context.Context, tx store.Tx) {
				require.NoError(t, tx.InsertLedgerEntries(ctx, batch))
				require.NoError(t, tx.AddUsageDays(ctx, store.UsageDaysOf(batch)))
			})
		}
		// want is the net usage in [from, to) by prefix and type, of every
		// prefix and type with an entry in it (net zero or not).
		want := func(from, to time.Time, prefixLen int) map[string]int64 {
			out := map[string]int64{}
			for _, e := range entries {
				if e.At.Before(from) || !e.At.Before(to) {
					continue
				}
				k := string(e.UsagePath)[:min(prefixLen, len(e.UsagePath))] + " " + string(e.Type)
				out[k] += 0
				if e.Kind == canopy.EntryUsage {
					out[k] += e.Amount
				} else {
					out[k] -= e.Amount
				}
			}
			return out
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for i := range 60 {
				from := start.Add(time.Duration(rng.Int64N(int64(110 * 24 * time.Hour))))
				to := from.Add(time.Duration(rng.Int64N(int64(80 * 24 * time.Hour))))
				if i%3 == 0 { // whole days and months too
					from, to = from.Truncate(24*time.Hour), to.Truncate(24*time.Hour)
				}
				for _, prefixLen := range []int{len(u.Path), len(u.Path) + len(u.ID) + 1} {
					rows, err := tx.UsageByPrefix(ctx, u.Path, prefixLen, from, to)
					require.NoError(t, err)
					got := map[string]int64{}
					exp := want(from, to, prefixLen)
					for _, r := range rows {
						k := string(r.Prefix) + " " + string(r.Type)
						if r.Amount != 0 {
							got[k] = r.Amount
							continue
						}
						// Months read less the days outside the period
						// list nobody whose usage was all on those days.
						_, used := exp[k]
						require.True(t, used, "%s listed with no usage in [%s, %s)", k, from, to)
					}
					for k, v := range exp {
						if v == 0 {
							delete(exp, k)
						}
					}
					require.Equal(t, exp, got, "usage in [%s, %s)", from, to)
				}
			}
		})
	})

	t.Run("CreditMovesAreGrantsAndTransfersOnEitherSide", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		a := b.f.account(root)
		c := b.f.account(a)
		n := 0
		entry := func(seconds int, kind canopy.EntryKind, debit, credit string) *canopy.LedgerEntry {
			n++
			e := &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at(seconds), Kind: kind, Type: canopy.CreditUpload,
				Amount: int64(n), Debit: debit, Credit: credit}
			if kind == canopy.EntryUsage || kind == canopy.EntryRefund {
				e.UsageAccountID, e.UsagePath = c.ID, c.Path
			}
			return e
		}
		early := entry(-10, canopy.EntryGrant, canopy.BookIssuance, a.ID)
		grant := entry(0, canopy.EntryGrant, canopy.BookIssuance, a.ID)
		out := entry(5, canopy.EntryTransfer, a.ID, c.ID)
		given := entry(6, canopy.EntryGrant, a.ID, c.ID)
		usage := entry(7, canopy.EntryUsage, a.ID, canopy.BookConsumption)
		refund := entry(8, canopy.EntryRefund, canopy.BookConsumption, a.ID)
		in := entry(9, canopy.EntryTransfer, root.ID, a.ID)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertLedgerEntries(ctx, []*canopy.LedgerEntry{early, grant, out, given, usage, refund, in}))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.CreditMoves(ctx, a.ID, at(0))
			require.NoError(t, err)
			require.Equal(t, []*canopy.LedgerEntry{grant, out, given, in}, got, "oldest first; usage and refunds are the rollups' part")
			got, err = tx.CreditMoves(ctx, c.ID, at(0).Add(time.Hour))
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}
