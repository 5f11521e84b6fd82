package service_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

func balanceOf(t *testing.T, b *testfactory.Bundle, id string, ct canopy.CreditType) int64 {
	t.Helper()
	cr, err := b.Svc.GetCredits(context.Background(), b.As(t, b.Root.ID), id)
	require.NoError(t, err)
	for _, x := range cr.Balances {
		if x.Type == ct {
			return x.Amount
		}
	}
	t.Fatalf("no %s balance for %s", ct, id)
	return 0
}

func requireVerified(t *testing.T, b *testfactory.Bundle) {
	t.Helper()
	mismatches, _, err := b.Svc.VerifyCredits(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches, "every balance equals its ledger")
}

func grant(t testing.TB, b *testfactory.Bundle, id string, ct canopy.CreditType, n int64) {
	t.Helper()
	_, err := b.Svc.Grant(context.Background(), b.As(t, b.Root.ID), id, service.GrantInput{Type: ct, Amount: n})
	require.NoError(t, err)
}

// TestPayerFollowsBillingLinks is rule 8 (docs/rules.md) as a table: usage is paid
// by the first account up the tree whose link does not say billing:
// parent; a top-level customer always pays for itself.
func TestPayerFollowsBillingLinks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		// top (customer) → reseller (parent) → client (self) → site (parent) → desk (parent)
		top := b.Child(t, b.Root.ID)
		reseller := b.Child(t, top.ID)
		client := b.Child(t, reseller.ID)
		site := b.Child(t, client.ID)
		desk := b.Child(t, site.ID)
		_, err := b.Svc.UpdateLink(ctx, b.As(t, reseller.ID), client.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
		require.NoError(t, err)
		for _, id := range []string{top.ID, reseller.ID, client.ID, site.ID, desk.ID} {
			grant(t, b, id, canopy.CreditMessage, 100)
		}
		tests := []struct {
			user  *canopy.Account
			payer *canopy.Account
		}{
			{top, top},       // a top-level customer pays for itself
			{reseller, top},  // billing: parent
			{client, client}, // billing: self stops the walk
			{site, client},   // one step up
			{desk, client},   // two steps up
			{b.Root, b.Root}, // the root pays for itself
		}
		grant(t, b, b.Root.ID, canopy.CreditMessage, 100)
		for _, tt := range tests {
			cr, err := b.Svc.GetCredits(ctx, b.As(t, tt.user.ID), tt.user.ID)
			require.NoError(t, err)
			require.Equal(t, tt.payer.ID, cr.Payer.AccountID, "payer of %s", tt.user.Name)
			require.Equal(t, tt.payer.ID != tt.user.ID, cr.Payer.PaidByAncestor)

			before := balanceOf(t, b, tt.payer.ID, canopy.CreditMessage)
			res, err := b.Svc.RecordUsage(ctx, b.As(t, tt.user.ID), service.UsageInput{Type: canopy.CreditMessage, Quantity: 3})
			require.NoError(t, err)
			require.Equal(t, tt.payer.ID, res.Entry.Debit)
			require.Equal(t, tt.user.ID, res.Entry.UsageAccountID)
			require.Equal(t, before-3, balanceOf(t, b, tt.payer.ID, canopy.CreditMessage), "%s's usage comes out of %s", tt.user.Name, tt.payer.Name)
		}
		requireVerified(t, b)
	})
}

// TestRefusedDebitWritesNothing: a record that cannot be paid for is not
// collected, and neither balance nor ledger nor cap counters move.
func TestRefusedDebitWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		as := b.As(t, clinic.ID)
		f, err := b.Svc.CreateForm(ctx, as, survey)
		require.NoError(t, err)

		_, err = b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"site": "HQ"}`))
		var e *canopy.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, canopy.CodeInsufficientCredits, e.Code)
		require.Equal(t, canopy.KindPaymentRequired, e.Kind)
		require.Equal(t, &canopy.Shortfall{Type: canopy.CreditUpload, Needed: 1, PayerID: umbrella.ID, Balance: ptr(int64(0))}, e.Shortfall,
			"the problem names the payer, the type and its balance")
		recs, err := b.Svc.ListRecords(ctx, as, f.ID, service.RecordQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, recs.Data, "no credit, no record")

		grant(t, b, umbrella.ID, canopy.CreditUpload, 1)
		_, err = b.Svc.SetLimit(ctx, b.As(t, umbrella.ID), clinic.ID, service.LimitInput{Type: canopy.CreditUpload, Monthly: ptr(int64(5))})
		require.NoError(t, err)
		_, err = b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"site": "HQ"}`))
		require.NoError(t, err)
		_, err = b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"site": "Annex"}`))
		require.Equal(t, canopy.CodeInsufficientCredits, canopy.ErrorCode(err))

		cr, err := b.Svc.GetCredits(ctx, as, clinic.ID)
		require.NoError(t, err)
		require.Equal(t, []service.LimitStatus{{Type: canopy.CreditUpload, Monthly: 5, UsedMonth: 1, Month: canopy.MonthOf(b.Clock.Now()),
			SetBy: umbrella.ID, UpdatedAt: cr.Limits[0].UpdatedAt}}, cr.Limits, "the refused debit did not count against the cap")
		ledger, err := b.Svc.ListLedger(ctx, b.As(t, umbrella.ID), umbrella.ID, service.LedgerQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, ledger.Data, 2, "the grant and the one paid record")
		require.Equal(t, int64(0), balanceOf(t, b, umbrella.ID, canopy.CreditUpload))
		requireVerified(t, b)
	})
}

// TestMonthlyCaps: an ancestor caps what a child's subtree may use a
// month; a debit past any cap on the way up is refused and names the
// capped account; usage before the cap counts; a new month starts afresh.
func TestMonthlyCaps(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		desk := b.Child(t, clinic.ID)
		grant(t, b, umbrella.ID, canopy.CreditMessage, 1000)
		use := func(a *canopy.Account, n int64) error {
			_, err := b.Svc.RecordUsage(ctx, b.As(t, a.ID), service.UsageInput{Type: canopy.CreditMessage, Quantity: n})
			return err
		}
		require.NoError(t, use(desk, 4), "before any cap")

		asUmbrella := b.As(t, umbrella.ID)
		st, err := b.Svc.SetLimit(ctx, asUmbrella, clinic.ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(10))})
		require.NoError(t, err)
		require.Equal(t, int64(4), st.UsedMonth, "the month's usage so far counts against a new cap")
		_, err = b.Svc.SetLimit(ctx, b.As(t, clinic.ID), desk.ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(100))})
		require.NoError(t, err, "the clinic caps its own child")
		_, err = b.Svc.SetLimit(ctx, b.As(t, clinic.ID), clinic.ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(100))})
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "no account caps itself")

		require.NoError(t, use(clinic, 5))
		err = use(desk, 2)
		var e *canopy.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, canopy.CodeChildLimitExceeded, e.Code)
		require.Equal(t, clinic.ID, e.Shortfall.LimitedID, "the desk's own cap is fine; the clinic's is not")
		require.Equal(t, int64(9), *e.Shortfall.Used)
		require.NoError(t, use(desk, 1), "exactly up to the cap")

		cr, err := b.Svc.GetCredits(ctx, b.As(t, desk.ID), desk.ID)
		require.NoError(t, err)
		require.Equal(t, []service.TypeAmount{{Type: canopy.CreditUpload, Amount: 0}, {Type: canopy.CreditMessage, Amount: 0}}, cr.Payer.Available,
			"what the desk may still draw: the clinic's cap is used up")

		b.Clock.Advance(31 * 24 * time.Hour)
		require.NoError(t, use(desk, 10), "a new month")
		require.NoError(t, b.Svc.DeleteLimit(ctx, asUmbrella, clinic.ID, canopy.CreditMessage))
		require.NoError(t, use(desk, 50), "no cap")
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(b.Svc.DeleteLimit(ctx, asUmbrella, clinic.ID, canopy.CreditMessage)))
		require.Equal(t, int64(1000-4-5-1-10-50), balanceOf(t, b, umbrella.ID, canopy.CreditMessage))
		requireVerified(t, b)
	})
}

// TestGrantsAndTransfers: the platform root and ancestors grant; only an
// ancestor transfers, from its own balance; nobody grants to itself or
// reaches outside its subtree.
func TestGrantsAndTransfers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		stranger := b.Child(t, b.Root.ID)
		in := service.GrantInput{Type: canopy.CreditUpload, Amount: 50, Reason: "welcome"}

		_, err := b.Svc.Grant(ctx, b.As(t, b.Root.ID), umbrella.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 100})
		require.NoError(t, err, "the platform root creates credits")
		_, err = b.Svc.Grant(ctx, b.As(t, umbrella.ID), clinic.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 101})
		require.Equal(t, canopy.CodeInsufficientCredits, canopy.ErrorCode(err), "an ancestor gives from what it holds: nobody else mints")
		_, err = b.Svc.Grant(ctx, b.As(t, umbrella.ID), clinic.ID, in)
		require.NoError(t, err, "an ancestor grants")
		_, err = b.Svc.Grant(ctx, b.As(t, umbrella.ID), umbrella.ID, in)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "not to itself")
		_, err = b.Svc.Grant(ctx, b.As(t, umbrella.ID), stranger.ID, in)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "not outside its subtree")
		_, err = b.Svc.Grant(ctx, b.As(t, clinic.ID), umbrella.ID, in)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "not upward")
		_, err = b.Svc.Grant(ctx, b.As(t, b.Root.ID), umbrella.ID, service.GrantInput{Type: "gold", Amount: 0, Reason: string(make([]byte, 501))})
		require.Equal(t, []string{"type", "amount", "reason"}, fieldsOf(t, err))

		_, err = b.Svc.Transfer(ctx, b.As(t, umbrella.ID), clinic.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 30})
		require.NoError(t, err)
		_, err = b.Svc.Transfer(ctx, b.As(t, umbrella.ID), clinic.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 21})
		require.Equal(t, canopy.CodeInsufficientCredits, canopy.ErrorCode(err))
		_, err = b.Svc.Transfer(ctx, b.As(t, clinic.ID), umbrella.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 1})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "transfers go down the tree")
		require.Equal(t, int64(20), balanceOf(t, b, umbrella.ID, canopy.CreditUpload))
		require.Equal(t, int64(80), balanceOf(t, b, clinic.ID, canopy.CreditUpload))

		// The clinic's ledger: both grants and the transfer, newest first,
		// in pages.
		p1, err := b.Svc.ListLedger(ctx, b.As(t, clinic.ID), clinic.ID, service.LedgerQuery{}, service.PageRequest{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, canopy.EntryTransfer, p1.Data[0].Kind)
		require.Equal(t, umbrella.ID, p1.Data[0].Debit)
		p2, err := b.Svc.ListLedger(ctx, b.As(t, clinic.ID), clinic.ID, service.LedgerQuery{}, service.PageRequest{Limit: 5, Cursor: *p1.NextCursor})
		require.NoError(t, err)
		require.Len(t, p2.Data, 1)
		require.Equal(t, canopy.EntryGrant, p2.Data[0].Kind)
		require.Equal(t, umbrella.ID, p2.Data[0].Debit, "the umbrella's grant came out of its balance")
		grants, err := b.Svc.ListLedger(ctx, b.As(t, umbrella.ID), umbrella.ID, service.LedgerQuery{Kind: canopy.EntryGrant}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, grants.Data, 2, "the grant it received and the one it made")
		require.Equal(t, canopy.BookIssuance, grants.Data[1].Debit)
		_, err = b.Svc.ListLedger(ctx, b.As(t, clinic.ID), umbrella.ID, service.LedgerQuery{}, service.PageRequest{})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a child cannot read its parent's ledger")
		requireVerified(t, b)
	})
}

// TestUsageRollsUpPerChild: an umbrella bills its clients from the usage
// of each child's subtree in a period.
func TestUsageRollsUpPerChild(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		north, south := b.Child(t, umbrella.ID), b.Child(t, umbrella.ID)
		northDesk := b.Child(t, north.ID)
		grant(t, b, umbrella.ID, canopy.CreditUpload, 100)
		grant(t, b, umbrella.ID, canopy.CreditMessage, 100)
		use := func(a *canopy.Account, ct canopy.CreditType, n int64) {
			_, err := b.Svc.RecordUsage(ctx, b.As(t, a.ID), service.UsageInput{Type: ct, Quantity: n})
			require.NoError(t, err)
		}
		use(north, canopy.CreditUpload, 2)
		use(northDesk, canopy.CreditUpload, 3)
		use(northDesk, canopy.CreditMessage, 1)
		use(south, canopy.CreditUpload, 5)
		use(umbrella, canopy.CreditUpload, 7)

		rep, err := b.Svc.GetUsage(ctx, b.As(t, umbrella.ID), umbrella.ID, time.Time{}, time.Time{}, "")
		require.NoError(t, err)
		want := map[string]map[canopy.CreditType]int64{
			umbrella.ID: {canopy.CreditUpload: 7},
			north.ID:    {canopy.CreditUpload: 5, canopy.CreditMessage: 1},
			south.ID:    {canopy.CreditUpload: 5},
		}
		got := map[string]map[canopy.CreditType]int64{}
		for _, g := range rep.Groups {
			got[g.AccountID] = map[canopy.CreditType]int64{}
			for _, u := range g.Usage {
				got[g.AccountID][u.Type] = u.Amount
			}
			require.Equal(t, g.AccountID == umbrella.ID, g.Self)
		}
		require.Equal(t, want, got)
		require.Equal(t, []service.TypeAmount{{Type: canopy.CreditUpload, Amount: 17}, {Type: canopy.CreditMessage, Amount: 1}}, rep.Total)

		later := b.Clock.Now().Add(time.Hour)
		rep, err = b.Svc.GetUsage(ctx, b.As(t, umbrella.ID), umbrella.ID, later, later.Add(time.Hour), "none")
		require.NoError(t, err)
		require.Empty(t, rep.Groups, "nothing used in that window")
		rep, err = b.Svc.GetUsage(ctx, b.As(t, north.ID), north.ID, time.Time{}, time.Time{}, "child")
		require.NoError(t, err)
		require.Len(t, rep.Groups, 2, "north sees itself and its desk, not its siblings")
		_, err = b.Svc.GetUsage(ctx, b.As(t, umbrella.ID), umbrella.ID, later, time.Time{}, "")
		require.Equal(t, canopy.KindBadRequest, canopy.ErrorKind(err))
	})
}

// TestRetriedDebitIsChargedOnce: the same usage, retried concurrently 20
// times, is charged once, and every retry gets the one entry.
func TestRetriedDebitIsChargedOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		grant(t, b, umbrella.ID, canopy.CreditMessage, 100)
		as := b.As(t, clinic.ID)
		var wg sync.WaitGroup
		ids := make([]string, 20)
		errs := make([]error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := b.Svc.RecordUsage(ctx, as, service.UsageInput{Type: canopy.CreditMessage, Quantity: 7, Reference: "sms-batch-42"})
				errs[i] = err
				if err == nil {
					ids[i] = res.Entry.ID
				}
			}()
		}
		wg.Wait()
		for i := range 20 {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i], "every retry answers with the one charge")
		}
		require.Equal(t, int64(93), balanceOf(t, b, umbrella.ID, canopy.CreditMessage))
		requireVerified(t, b)
	})
}

// TestCreditsAreConserved is a Jepsen-style bank test: 64 goroutines over
// 200 sub-accounts debit one umbrella (and each other's balances) with
// random usage, grants and transfers, and records collected by SMS and
// through a web link. Afterwards every balance equals its ledger, none is
// negative, the total is what was granted less what was used, and the
// ledger holds exactly the debits that succeeded.
func TestCreditsAreConserved(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		subs := make([]*canopy.Account, 200)
		for i := range subs {
			subs[i] = b.Child(t, umbrella.ID)
		}
		// A tenth of the sub-accounts pay for themselves.
		for _, s := range subs[:20] {
			_, err := b.Svc.UpdateLink(ctx, b.As(t, umbrella.ID), s.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
			require.NoError(t, err)
		}
		const start = 8000
		grant(t, b, umbrella.ID, canopy.CreditUpload, start)
		grant(t, b, umbrella.ID, canopy.CreditMessage, 100_000)
		// Field collection: subs[20] (paid for by the umbrella) authorises a
		// number to text its form; the umbrella made a web link to it.
		f, err := b.Svc.CreateForm(ctx, b.As(t, subs[20].ID), survey)
		require.NoError(t, err)
		added, err := b.Svc.AddCollectors(ctx, b.As(t, subs[20].ID), f.ID, service.CollectorsInput{Numbers: []string{"+15551230000"}, Mode: canopy.SMSStructured})
		require.NoError(t, err)
		link, err := b.Svc.CreateLink(ctx, b.As(t, umbrella.ID), f.ID, service.LinkInput{})
		require.NoError(t, err)
		var granted, used, debits, refused atomic.Int64
		granted.Store(start)
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				for i := range 25 {
					sub := subs[rng.IntN(len(subs))]
					switch x := rng.IntN(12); {
					case x >= 10:
						var ok bool
						if x == 10 {
							res, err := b.Svc.ReceiveSMS(ctx, canopy.InboundSMS{SID: fmt.Sprintf("SM-g%d-%d", g, i), From: "+15551230000",
								Body: added.Code + "#North gate#3#sun"}, "req")
							require.NoError(t, err)
							ok = res.Outcome == service.InboundRecord
							if !ok && res.Outcome != service.InboundNoCredit {
								t.Errorf("sms: %s", res.Outcome)
							}
						} else {
							_, err := b.Svc.SubmitWebForm(ctx, link.Token, map[string][]string{"site": {"South gate"}}, "req")
							ok = err == nil
							if err != nil && canopy.ErrorCode(err) != canopy.CodeInsufficientCredits {
								t.Errorf("web: %v", err)
							}
						}
						if ok {
							used.Add(1)
							debits.Add(1)
						} else {
							refused.Add(1)
						}
					case x < 7:
						n := int64(1 + rng.IntN(20))
						_, err := b.Svc.RecordUsage(ctx, b.As(t, sub.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: n,
							Reference: fmt.Sprintf("g%d-%d", g, i)})
						switch {
						case err == nil:
							used.Add(n)
							debits.Add(1)
						case canopy.ErrorCode(err) == canopy.CodeInsufficientCredits:
							refused.Add(1)
						default:
							t.Errorf("usage: %v", err)
						}
					case x < 8:
						n := int64(1 + rng.IntN(30))
						if _, err := b.Svc.Grant(ctx, b.As(t, b.Root.ID), sub.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: n}); err != nil {
							t.Errorf("grant: %v", err)
						} else {
							granted.Add(n)
						}
					default:
						n := int64(1 + rng.IntN(50))
						_, err := b.Svc.Transfer(ctx, b.As(t, umbrella.ID), sub.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: n})
						if err != nil && canopy.ErrorCode(err) != canopy.CodeInsufficientCredits {
							t.Errorf("transfer: %v", err)
						}
					}
				}
			}()
		}
		wg.Wait()

		requireVerified(t, b)
		held := balanceOf(t, b, umbrella.ID, canopy.CreditUpload)
		for _, s := range subs {
			held += balanceOf(t, b, s.ID, canopy.CreditUpload)
		}
		require.Equal(t, granted.Load()-used.Load(), held, "nothing lost, nothing doubled")
		recs, err := b.Svc.ListRecords(ctx, b.As(t, subs[20].ID), f.ID, service.RecordQuery{}, service.PageRequest{Limit: service.MaxPageLimit})
		require.NoError(t, err)
		require.NotEmpty(t, recs.Data, "some records came in by SMS and the web")
		var charged int64
		for _, s := range append([]*canopy.Account{umbrella}, subs...) {
			page := service.PageRequest{Limit: service.MaxPageLimit}
			for {
				p, err := b.Svc.ListLedger(ctx, b.As(t, b.Root.ID), s.ID, service.LedgerQuery{Kind: canopy.EntryUsage, Type: canopy.CreditUpload}, page)
				require.NoError(t, err)
				charged += int64(len(p.Data))
				if p.NextCursor == nil {
					break
				}
				page.Cursor = *p.NextCursor
			}
		}
		require.Equal(t, debits.Load(), charged, "the ledger holds exactly the debits that succeeded")
		require.Positive(t, refused.Load(), "the umbrella ran dry at some point: the test reached the edge")
		t.Logf("%d debits charged, %d refused, %d held at the end", debits.Load(), refused.Load(), held)
	})
}

// TestLowBalanceNotices: a payer's admins get one email each time its
// balance falls across a threshold (2000, 1000, 500, 0), however many
// thresholds one debit passes, and again after credits are added and it
// falls once more.
func TestLowBalanceNotices(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		b.Activate(t, umbrella.ID) // notices go to admins who proved their address
		b.Emails(t)
		grant(t, b, umbrella.ID, canopy.CreditUpload, 2100)
		notices := func() []string {
			var out []string
			for _, c := range b.Emails(t) {
				require.Equal(t, canopy.TemplateLowBalance, c.Outbox.Template)
				require.Equal(t, umbrella.ID, c.Outbox.AccountID, "the payer's admins hear it")
				n, ok := c.Content.(*canopy.LowBalanceEmail)
				require.True(t, ok, "%T is not a low-balance notice", c.Content)
				out = append(out, fmt.Sprintf("%s %d<=%d", n.CreditType, n.Balance, n.Threshold))
			}
			return out
		}
		use := func(n int64) {
			_, err := b.Svc.RecordUsage(ctx, b.As(t, clinic.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: n})
			require.NoError(t, err)
		}
		use(50)
		require.Empty(t, notices(), "2050: above every threshold")
		use(60)
		require.Equal(t, []string{"upload 1990<=2000"}, notices())
		use(1)
		require.Empty(t, notices(), "still below 2000: no second email for the same crossing")
		use(1500)
		require.Equal(t, []string{"upload 489<=500"}, notices(), "1000 and 500 at once: one email")
		_, err := b.Svc.Transfer(ctx, b.As(t, umbrella.ID), clinic.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 489})
		require.NoError(t, err)
		require.Equal(t, []string{"upload 0<=0"}, notices(), "a transfer empties the balance too")
		grant(t, b, umbrella.ID, canopy.CreditUpload, 600)
		use(100)
		require.Equal(t, []string{"upload 500<=500"}, notices(), "credits added, then a new crossing")
	})
}

// TestConcurrentDebitsGetTheirOwnOutcome drives RecordUsage from 64
// goroutines at once, so that the debits share transactions (batch.go),
// with a mix that ends in every outcome: paid, refused for the payer's
// balance, refused for a monthly cap, refused for a suspended account, a
// reference charged for another usage, and references retried within and
// across transactions. Each caller must get an answer a serial run could
// give: its own entry, the one entry of its reference, or its own refusal
// naming its own shortfall; and the books must hold exactly the paid
// debits.
func TestConcurrentDebitsGetTheirOwnOutcome(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		subs := make([]*canopy.Account, 12)
		for i := range subs {
			subs[i] = b.Child(t, umbrella.ID)
		}
		capped, suspended := subs[0], subs[1]
		const start, monthly = 3000, 40
		grant(t, b, umbrella.ID, canopy.CreditMessage, start)
		_, err := b.Svc.SetLimit(ctx, b.As(t, umbrella.ID), capped.ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(monthly))})
		require.NoError(t, err)
		callers := make([]service.Caller, len(subs))
		for i, s := range subs {
			callers[i] = b.As(t, s.ID)
		}
		_, err = b.Svc.SetStatus(ctx, b.As(t, umbrella.ID), suspended.ID, canopy.StatusSuspended)
		require.NoError(t, err)
		// A reference already charged for 5 credits, asked again for 6.
		_, err = b.Svc.RecordUsage(ctx, callers[2], service.UsageInput{Type: canopy.CreditMessage, Quantity: 5, Reference: "taken"})
		require.NoError(t, err)

		type call struct {
			sub int
			in  service.UsageInput
			res *service.UsageResult
			err error
		}
		var calls []*call
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 1200 {
			c := &call{sub: rng.IntN(len(subs)), in: service.UsageInput{Type: canopy.CreditMessage, Quantity: int64(1 + rng.IntN(9))}}
			switch x := rng.IntN(10); {
			case x < 3: // retried references: the same usage, many times
				c.in.Reference = fmt.Sprintf("retry-%d", rng.IntN(40))
				c.in.Quantity = 3
			case x < 4:
				c.sub, c.in.Reference, c.in.Quantity = 2, "taken", 6
			case x < 8:
				c.in.Reference = fmt.Sprintf("once-%d", i)
			}
			calls = append(calls, c)
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(len(calls)); i = next.Add(1) - 1 {
					c := calls[i]
					c.res, c.err = b.Svc.RecordUsage(ctx, callers[c.sub], c.in)
				}
			}()
		}
		wg.Wait()

		entries := map[string]*canopy.LedgerEntry{} // every distinct entry answered
		byRef := map[string]string{}                // sub/reference → entry id
		usedBy := map[string]int64{}
		final := balanceOf(t, b, umbrella.ID, canopy.CreditMessage)
		var refusedBalance, refusedCap int
		for _, c := range calls {
			sub := subs[c.sub]
			switch code := canopy.ErrorCode(c.err); {
			case c.err == nil:
				e := c.res.Entry
				require.Equal(t, sub.ID, e.UsageAccountID, "the caller's own usage")
				require.Equal(t, umbrella.ID, e.Debit)
				require.Equal(t, c.in.Quantity, e.Amount)
				require.NotEqual(t, suspended.ID, sub.ID, "a suspended account cannot use credits")
				if c.in.Reference != "" {
					k := sub.ID + "/" + c.in.Reference
					if id, ok := byRef[k]; ok {
						require.Equal(t, id, e.ID, "one entry per reference")
					}
					byRef[k] = e.ID
				}
				if entries[e.ID] == nil {
					entries[e.ID] = e
					usedBy[sub.ID] += e.Amount
				}
			case sub.ID == suspended.ID:
				require.Equal(t, canopy.CodeAccountSuspended, code)
			case c.in.Reference == "taken":
				require.Equal(t, []string{"reference"}, fieldsOf(t, c.err), "charged before for another usage: %v", c.err)
			case code == canopy.CodeInsufficientCredits:
				refusedBalance++
				var e *canopy.Error
				require.ErrorAs(t, c.err, &e)
				sf := e.Shortfall
				require.Equal(t, umbrella.ID, sf.PayerID)
				require.Equal(t, c.in.Quantity, sf.Needed, "its own shortfall")
				require.Less(t, *sf.Balance, c.in.Quantity, "refused only when short")
				require.GreaterOrEqual(t, *sf.Balance, final, "balances only fall")
			case code == canopy.CodeChildLimitExceeded:
				refusedCap++
				var e *canopy.Error
				require.ErrorAs(t, c.err, &e)
				sf := e.Shortfall
				require.Equal(t, capped.ID, sub.ID)
				require.Equal(t, capped.ID, sf.LimitedID)
				require.Equal(t, c.in.Quantity, sf.Needed)
				require.Greater(t, *sf.Used+c.in.Quantity, int64(monthly), "refused only past the cap")
				require.LessOrEqual(t, *sf.Used, int64(monthly))
			default:
				t.Fatalf("call %+v: unexpected error %v", c.in, c.err)
			}
		}
		require.Positive(t, refusedBalance, "the umbrella ran dry: the test reached the edge")
		require.Positive(t, refusedCap, "the cap was reached")
		require.LessOrEqual(t, usedBy[capped.ID], int64(monthly))

		var charged int64
		for _, e := range entries {
			charged += e.Amount
		}
		require.Equal(t, int64(start-5)-charged, final, "the balance fell by exactly the paid debits")
		page, err := b.Svc.ListLedger(ctx, b.As(t, umbrella.ID), umbrella.ID, service.LedgerQuery{Kind: canopy.EntryUsage},
			service.PageRequest{Limit: service.MaxPageLimit})
		require.NoError(t, err)
		var n int
		for {
			n += len(page.Data)
			if page.NextCursor == nil {
				break
			}
			page, err = b.Svc.ListLedger(ctx, b.As(t, umbrella.ID), umbrella.ID, service.LedgerQuery{Kind: canopy.EntryUsage},
				service.PageRequest{Limit: service.MaxPageLimit, Cursor: *page.NextCursor})
			require.NoError(t, err)
		}
		require.Equal(t, len(entries)+1, n, "the ledger holds exactly the paid debits (and the first 'taken')")
		cr, err := b.Svc.GetCredits(ctx, b.As(t, umbrella.ID), capped.ID)
		require.NoError(t, err)
		require.Equal(t, usedBy[capped.ID], cr.Limits[0].UsedMonth, "the month's count is exactly what the capped account paid")
		requireVerified(t, b)
		t.Logf("%d calls: %d entries, %d refused for the balance, %d for the cap", len(calls), len(entries), refusedBalance, refusedCap)
	})
}

// TestBatchedDebitsDecideAsASerialRun puts a sequence of debits into one
// shared transaction and runs the same sequence one by one on twin
// worlds, through the batcher and each in a write of its own (op.charge,
// the path of records and texts): every debit gets the same answer either
// way — a refused debit
// does not disturb the ones after it, a reference retried within the batch
// is charged once, a reference whose first try was refused may be charged
// by a later one.
func TestBatchedDebitsDecideAsASerialRun(t *testing.T) {
	type step struct {
		sub int // 0, 1: plain; 2: capped at 10; 3: suspended
		in  service.UsageInput
	}
	msg := func(n int64, ref string) service.UsageInput {
		return service.UsageInput{Type: canopy.CreditMessage, Quantity: n, Reference: ref}
	}
	steps := []step{
		{0, msg(5, "r1")},
		{1, msg(5, "r1")}, // another account's r1
		{0, msg(5, "r1")}, // a retry: the first entry
		{0, msg(6, "r1")}, // r1 names another usage
		{2, msg(8, "")},
		{2, msg(3, "")}, // past the cap
		{2, msg(2, "")}, // up to it
		{1, msg(1000, "r2")},
		{3, msg(1, "")},
		{1, msg(1, "r2")}, // r2's first try was refused
		{1, msg(1, "r2")},
		{0, msg(70, "")}, // exactly the rest
		{0, msg(1, "")},
	}
	type outcome struct {
		Code     string
		Amount   int64
		Replayed bool
		SameAs   int // the step whose entry it is
		Short    canopy.Shortfall
	}
	type how int
	const (
		batched how = iota
		serial      // one by one through the batcher: batches of one
		alone       // one by one, each in a write of its own
	)
	run := func(t *testing.T, db *sqlstore.DB, mode how) []outcome {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		subs := make([]*canopy.Account, 4)
		callers := make([]service.Caller, 4)
		for i := range subs {
			subs[i] = b.Child(t, umbrella.ID)
			callers[i] = b.As(t, subs[i].ID)
		}
		grant(t, b, umbrella.ID, canopy.CreditMessage, 91)
		_, err := b.Svc.SetLimit(ctx, b.As(t, umbrella.ID), subs[2].ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(10))})
		require.NoError(t, err)
		_, err = b.Svc.SetStatus(ctx, b.As(t, umbrella.ID), subs[3].ID, canopy.StatusSuspended)
		require.NoError(t, err)

		results := make([]*service.UsageResult, len(steps))
		errs := make([]error, len(steps))
		switch mode {
		case batched:
			queued, release := b.Svc.HoldDebits()
			var wg sync.WaitGroup
			for i, s := range steps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = b.Svc.RecordUsage(ctx, callers[s.sub], s.in)
				}()
				require.Eventually(t, func() bool { return queued() == i+1 }, 5*time.Second, time.Millisecond)
			}
			release()
			wg.Wait()
		case serial:
			for i, s := range steps {
				results[i], errs[i] = b.Svc.RecordUsage(ctx, callers[s.sub], s.in)
			}
		case alone:
			for i, s := range steps {
				results[i], errs[i] = b.Svc.RecordUsageAlone(ctx, callers[s.sub], s.in)
			}
		}
		out := make([]outcome, len(steps))
		for i := range steps {
			var o outcome
			if errs[i] != nil {
				o.Code = canopy.ErrorCode(errs[i])
				var e *canopy.Error
				if errors.As(errs[i], &e) && e.Shortfall != nil {
					o.Short = *e.Shortfall
					o.Short.PayerID, o.Short.LimitedID = "", "" // ids differ between the worlds
				}
			} else {
				o.Amount, o.Replayed, o.SameAs = results[i].Entry.Amount, results[i].Replayed, i
				for j := range i {
					if results[j] != nil && results[j].Entry.ID == results[i].Entry.ID {
						o.SameAs = j
						break
					}
				}
			}
			out[i] = o
		}
		require.Equal(t, int64(0), balanceOf(t, b, umbrella.ID, canopy.CreditMessage))
		requireVerified(t, b)
		return out
	}
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		inBatch := run(t, db, batched)
		oneByOne := run(t, testdb.SQLite(t), serial)
		require.Equal(t, oneByOne, inBatch)
		require.Equal(t, oneByOne, run(t, testdb.SQLite(t), alone))
		batched := inBatch
		require.True(t, batched[2].Replayed)
		require.Equal(t, 0, batched[2].SameAs)
		require.Equal(t, canopy.CodeChildLimitExceeded, batched[5].Code)
		require.Equal(t, canopy.CodeInsufficientCredits, batched[12].Code)
	})
}

// TestRacingReferenceForAnotherUsageIsRefused: two requests that race
// with one reference for different usages, each in a write of its own
// (as requests with an Idempotency-Key run), give one entry and one 422 —
// never the other's entry as if it were a retry.
func TestRacingReferenceForAnotherUsageIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		clinic := b.Child(t, umbrella.ID)
		grant(t, b, umbrella.ID, canopy.CreditMessage, 1000)
		as := b.As(t, clinic.ID)
		for round := range 10 {
			var wg sync.WaitGroup
			errs := make([]error, 8)
			res := make([]*service.UsageResult, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := service.WithIdempotency(context.Background(), &service.Idempotent{
						Scope: as.AccountID, Key: fmt.Sprintf("k%d-%d", round, i), StatusCode: 201,
						Encode: func(any) ([]byte, error) { return []byte("{}"), nil }})
					res[i], errs[i] = b.Svc.RecordUsage(ctx, as, service.UsageInput{Type: canopy.CreditMessage,
						Quantity: int64(1 + i%2), Reference: fmt.Sprintf("race-%d", round)})
				}()
			}
			wg.Wait()
			var charged *canopy.LedgerEntry
			for i := range 8 {
				if errs[i] == nil {
					require.Equal(t, int64(1+i%2), res[i].Entry.Amount, "an answer for this usage, not another's")
					if charged == nil {
						charged = res[i].Entry
					}
					require.Equal(t, charged.ID, res[i].Entry.ID)
				} else {
					require.Equal(t, []string{"reference"}, fieldsOf(t, errs[i]))
				}
			}
			require.NotNil(t, charged)
		}
		requireVerified(t, b)
	})
}
