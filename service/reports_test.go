package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestBalanceHistoryReplaysTheLedger is rule 8 (docs/rules.md) seen over
// time: over three weeks of grants, transfers and usage at random across a
// tree with billing parent and self links, one of which changes twice,
// each account's history, drawn from the usage rollups and its grants and
// transfers, equals the balance it really held at the end of every day —
// and, by month, at the end of every month.
func TestBalanceHistoryReplaysTheLedger(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		// top (customer) → reseller (parent) → client (self) → site (parent)
		//                → shop (parent)
		top := b.Child(t, b.Root.ID)
		reseller := b.Child(t, top.ID)
		client := b.Child(t, reseller.ID)
		site := b.Child(t, client.ID)
		shop := b.Child(t, top.ID)
		_, err := b.Svc.UpdateLink(ctx, b.As(t, reseller.ID), client.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
		require.NoError(t, err)
		accounts := []*canopy.Account{b.Root, top, reseller, client, site, shop}
		below := map[string][]*canopy.Account{ // strict descendants, for transfers
			b.Root.ID: {top, reseller, client, site, shop}, top.ID: {reseller, client, site, shop},
			reseller.ID: {client, site}, client.ID: {site},
		}
		for _, a := range []*canopy.Account{b.Root, top, client} {
			grant(t, b, a.ID, canopy.CreditUpload, 5000)
			grant(t, b, a.ID, canopy.CreditMessage, 5000)
		}
		rng := rand.New(rand.NewPCG(7, 16))
		types := []canopy.CreditType{canopy.CreditUpload, canopy.CreditMessage}
		// The clock starts at noon on 23 November, when the first grants
		// are made; the history's first day is the 24th.
		b.Clock.Advance(12 * time.Hour)
		const days = 21
		held := map[string][]map[canopy.CreditType]int64{} // account → day → balances at its end
		start := b.Clock.Now()
		for day := range days {
			// The client's billing changes twice in the period: what each
			// account paid for follows the ledger, not today's links.
			switch day {
			case 9:
				_, err = b.Svc.UpdateLink(ctx, b.As(t, reseller.ID), client.ID, service.LinkPatch{Billing: ptr(canopy.BillingParent)})
				require.NoError(t, err)
			case 15:
				_, err = b.Svc.UpdateLink(ctx, b.As(t, reseller.ID), client.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
				require.NoError(t, err)
			}
			for range 8 {
				b.Clock.Advance(time.Duration(rng.IntN(150)) * time.Minute)
				ct := types[rng.IntN(2)]
				switch rng.IntN(3) {
				case 0:
					a := accounts[rng.IntN(len(accounts))]
					_, err = b.Svc.Grant(ctx, b.As(t, b.Root.ID), a.ID, service.GrantInput{Type: ct, Amount: int64(1 + rng.IntN(50))})
				case 1:
					from := []*canopy.Account{b.Root, top, reseller, client}[rng.IntN(4)]
					to := below[from.ID][rng.IntN(len(below[from.ID]))]
					_, err = b.Svc.Transfer(ctx, b.As(t, from.ID), to.ID, service.GrantInput{Type: ct, Amount: int64(1 + rng.IntN(20))})
				default:
					a := accounts[rng.IntN(len(accounts))]
					_, err = b.Svc.RecordUsage(ctx, b.As(t, a.ID), service.UsageInput{Type: ct, Quantity: int64(1 + rng.IntN(30))})
				}
				if canopy.ErrorKind(err) != canopy.KindPaymentRequired {
					require.NoError(t, err)
				}
			}
			// Move to the day's last instant and note what everyone holds.
			end := start.Truncate(24*time.Hour).AddDate(0, 0, day+1).Add(-time.Microsecond)
			b.Clock.Advance(end.Sub(b.Clock.Now()))
			for _, a := range accounts {
				bal := map[canopy.CreditType]int64{}
				for _, ct := range types {
					bal[ct] = balanceOf(t, b, a.ID, ct)
				}
				held[a.ID] = append(held[a.ID], bal)
			}
			b.Clock.Advance(time.Microsecond)
		}
		b.Clock.Advance(-time.Microsecond) // the last day is today
		requireVerified(t, b)
		for _, a := range accounts {
			h, err := b.Svc.GetBalanceHistory(ctx, b.As(t, a.ID), a.ID, service.StepDay, days)
			require.NoError(t, err)
			require.Len(t, h.Points, days)
			for i, p := range h.Points {
				require.Equal(t, canopy.DayOf(start.AddDate(0, 0, i)), p.Label)
				for _, x := range p.Balances {
					require.Equal(t, held[a.ID][i][x.Type], x.Amount, "%s's %s balance at the end of day %d (%s)", a.Name, x.Type, i, p.Label)
				}
			}
			m, err := b.Svc.GetBalanceHistory(ctx, b.As(t, a.ID), a.ID, service.StepMonth, 2)
			require.NoError(t, err)
			require.Equal(t, []string{"2026-11", "2026-12"}, []string{m.Points[0].Label, m.Points[1].Label})
			// November ends on the 7th day (24 Nov is day 0).
			for _, x := range m.Points[0].Balances {
				require.Equal(t, held[a.ID][6][x.Type], x.Amount, "%s at the end of November", a.Name)
			}
			require.Equal(t, h.Points[days-1].Balances, m.Points[1].Balances, "both end at today's balance")
		}
	})
}

// TestBalanceHistoryIsForWhoSeesTheAccount: an account the caller does not
// see is not found; bad steps and lengths are named.
func TestBalanceHistoryIsForWhoSeesTheAccount(t *testing.T) {
	ctx := context.Background()
	b := testfactory.New(t, testdb.Open(t, "sqlite"))
	a, other := b.Child(t, b.Root.ID), b.Child(t, b.Root.ID)
	_, err := b.Svc.GetBalanceHistory(ctx, b.As(t, a.ID), other.ID, service.StepDay, 30)
	require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))
	for _, c := range []struct {
		step    string
		periods int
		field   string
	}{{"week", 3, "step"}, {service.StepDay, 0, "periods"}, {service.StepDay, 367, "periods"}, {service.StepMonth, 25, "periods"}} {
		_, err := b.Svc.GetBalanceHistory(ctx, b.As(t, a.ID), a.ID, c.step, c.periods)
		require.Equal(t, canopy.KindBadRequest, canopy.ErrorKind(err), "%v", c)
		var e *canopy.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, c.field, e.Fields[0].Field)
	}
}

// TestSearchRecordsFiltersByAnswers: a form's records, newest first,
// narrowed by a choice, a multiChoice option and a date range; a filter on
// a question that cannot filter, or by an option the question does not
// have, names the filter; an account that may not view the data is
// refused as GET records refuses it.
func TestSearchRecordsFiltersByAnswers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		owner := b.Child(t, b.Root.ID)
		b.Fund(t, owner.ID)
		as := b.As(t, owner.ID)
		f, err := b.Svc.CreateForm(ctx, as, service.FormInput{Name: "Visits", Questions: []canopy.Question{
			{ID: "name", Label: "Name", Type: canopy.QuestionText},
			{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"F", "M"}},
			{ID: "symptoms", Label: "Symptoms", Type: canopy.QuestionMultiChoice, Options: []string{"fever", "cough"}},
			{ID: "seen", Label: "Seen", Type: canopy.QuestionDate},
		}})
		require.NoError(t, err)
		var recs []*canopy.Record
		for i, a := range []string{
			`{"name": "Ada", "sex": "F", "symptoms": ["fever"], "seen": "2026-11-01"}`,
			`{"name": "Bo", "sex": "M", "symptoms": ["fever", "cough"], "seen": "2026-11-15"}`,
			`{"name": "Cy", "sex": "F", "symptoms": ["cough"]}`,
			`{"name": "Di", "sex": "F", "symptoms": ["fever", "cough"], "seen": "2026-11-20"}`,
		} {
			var in service.RecordInput
			require.NoError(t, json.Unmarshal([]byte(a), &in.Answers))
			r, err := b.Svc.CreateRecord(ctx, as, f.ID, in)
			require.NoError(t, err, i)
			recs = append(recs, r)
			b.Clock.Advance(time.Minute)
		}
		names := func(q service.RecordSearch) []string {
			var out []string
			pr := service.PageRequest{Limit: 1}
			for {
				page, err := b.Svc.SearchRecords(ctx, as, f.ID, q, pr)
				require.NoError(t, err)
				for _, r := range page.Data {
					var n string
					require.NoError(t, json.Unmarshal(r.Answers["name"], &n))
					out = append(out, n)
				}
				if page.NextCursor == nil {
					return out
				}
				pr.Cursor = *page.NextCursor
			}
		}
		cases := []struct {
			name string
			q    service.RecordSearch
			want []string
		}{
			{"newest first", service.RecordSearch{}, []string{"Di", "Cy", "Bo", "Ada"}},
			{"oldest first", service.RecordSearch{OldestFirst: true}, []string{"Ada", "Bo", "Cy", "Di"}},
			{"a choice", service.RecordSearch{Answers: []service.AnswerFilter{{QuestionID: "sex", Option: "F"}}}, []string{"Di", "Cy", "Ada"}},
			{"an option of many", service.RecordSearch{Answers: []service.AnswerFilter{{QuestionID: "symptoms", Option: "cough"}}}, []string{"Di", "Cy", "Bo"}},
			{"dates", service.RecordSearch{Answers: []service.AnswerFilter{{QuestionID: "seen", From: "2026-11-10", To: "2026-11-20"}}}, []string{"Di", "Bo"}},
			{"together", service.RecordSearch{Answers: []service.AnswerFilter{
				{QuestionID: "sex", Option: "F"}, {QuestionID: "symptoms", Option: "fever"}, {QuestionID: "seen", To: "2026-11-30"},
			}}, []string{"Di", "Ada"}},
			{"an empty filter keeps all", service.RecordSearch{Answers: []service.AnswerFilter{{QuestionID: "sex"}}}, []string{"Di", "Cy", "Bo", "Ada"}},
			{"created", service.RecordSearch{From: recs[1].CreatedAt, To: recs[3].CreatedAt}, []string{"Cy", "Bo"}},
		}
		for _, c := range cases {
			require.Equal(t, c.want, names(c.q), c.name)
		}
		bad := []struct {
			filter service.AnswerFilter
			field  string
		}{
			{service.AnswerFilter{QuestionID: "name", Option: "Ada"}, "filter.name"},
			{service.AnswerFilter{QuestionID: "sex", Option: "X"}, "filter.sex"},
			{service.AnswerFilter{QuestionID: "sex", From: "2026-01-01"}, "filter.sex"},
			{service.AnswerFilter{QuestionID: "seen", From: "yesterday"}, "filter.seen.from"},
			{service.AnswerFilter{QuestionID: "nope", Option: "F"}, "filter.nope"},
		}
		for _, c := range bad {
			_, err := b.Svc.SearchRecords(ctx, as, f.ID, service.RecordSearch{Answers: []service.AnswerFilter{c.filter}}, service.PageRequest{})
			require.Equal(t, canopy.KindBadRequest, canopy.ErrorKind(err), "%v", c.filter)
			var e *canopy.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, c.field, e.Fields[0].Field)
		}
		// A cursor is bound to its filters.
		page, err := b.Svc.SearchRecords(ctx, as, f.ID, service.RecordSearch{}, service.PageRequest{Limit: 1})
		require.NoError(t, err)
		_, err = b.Svc.SearchRecords(ctx, as, f.ID, service.RecordSearch{OldestFirst: true}, service.PageRequest{Limit: 1, Cursor: *page.NextCursor})
		require.Equal(t, canopy.KindBadRequest, canopy.ErrorKind(err))

		stranger := b.Child(t, b.Root.ID)
		_, err = b.Svc.SearchRecords(ctx, b.As(t, stranger.ID), f.ID, service.RecordSearch{}, service.PageRequest{})
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))
	})
}

// TestAuditFiltersByActorAndOnBehalf: an umbrella's audit trail narrowed
// to one actor, and to the writes made from above (rule 10, docs/rules.md).
func TestAuditFiltersByActorAndOnBehalf(t *testing.T) {
	ctx := context.Background()
	b := testfactory.New(t, testdb.Open(t, "sqlite"))
	umbrella := b.Child(t, b.Root.ID)
	child := b.Child(t, umbrella.ID)
	key := b.Key(t, child.ID)
	_, err := b.Svc.CreateContact(ctx, b.AsKey(t, key, child.ID), service.ContactInput{Email: "own@example.com"})
	require.NoError(t, err)
	umbrellaKey := b.Key(t, umbrella.ID)
	_, err = b.Svc.CreateContact(ctx, b.AsKey(t, umbrellaKey, child.ID), service.ContactInput{Email: "above@example.com"})
	require.NoError(t, err)
	list := func(q service.AuditQuery) []*canopy.AuditEvent {
		page, err := b.Svc.ListAuditEvents(ctx, b.AsKey(t, umbrellaKey, umbrella.ID), q, service.PageRequest{})
		require.NoError(t, err)
		return page.Data
	}
	mine := list(service.AuditQuery{Action: "contact.created", OnBehalf: ptr(false)})
	require.Len(t, mine, 1)
	require.Equal(t, child.ID, mine[0].Actor.AccountID)
	above := list(service.AuditQuery{Action: "contact.created", OnBehalf: ptr(true)})
	require.Len(t, above, 1)
	require.Equal(t, umbrella.ID, above[0].Actor.AccountID)
	require.Equal(t, []*canopy.AuditEvent{above[0]}, list(service.AuditQuery{ActorID: above[0].Actor.ID, Action: "contact.created"}))
	require.Empty(t, list(service.AuditQuery{ActorID: "key_" + fmt.Sprint(0)}))
}
