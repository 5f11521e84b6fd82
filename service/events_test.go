package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// allEvents lists every event the caller sees, in order.
func allEvents(t *testing.T, b *testfactory.Bundle, c service.Caller, q service.EventQuery) []*canopy.Event {
	t.Helper()
	var out []*canopy.Event
	pr := service.PageRequest{Limit: 7}
	for {
		page, err := b.Svc.ListEvents(context.Background(), c, q, pr)
		require.NoError(t, err)
		out = append(out, page.Data...)
		if page.NextCursor == nil {
			return out
		}
		pr.Cursor = *page.NextCursor
	}
}

func typesOf(es []*canopy.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// since returns the events after the event id mark (all when "").
func since(t *testing.T, b *testfactory.Bundle, c service.Caller, mark string) []*canopy.Event {
	return allEvents(t, b, c, service.EventQuery{After: mark})
}

// lastEventID is the id of the newest event the caller sees.
func lastEventID(t *testing.T, b *testfactory.Bundle, c service.Caller) string {
	es := allEvents(t, b, c, service.EventQuery{})
	if len(es) == 0 {
		return ""
	}
	return es[len(es)-1].ID
}

// TestEveryChangeIsAnEventWrittenWithIt drives changes through the service
// and reads the events each one wrote, in its account, with its data.
func TestEveryChangeIsAnEventWrittenWithIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		root := b.As(t, b.Root.ID)
		mark := ""
		// step runs a change and returns the events it wrote, as the root
		// sees them.
		step := func(change func()) []*canopy.Event {
			t.Helper()
			change()
			got := since(t, b, root, mark)
			if len(got) > 0 {
				mark = got[len(got)-1].ID
			}
			return got
		}

		var top *canopy.Account
		got := step(func() { top = b.ChildOn(t, b.Root.ID, canopy.PlanEnterprise) })
		require.Equal(t, []string{canopy.EventAccountCreated}, typesOf(got),
			"one event for the child with everything it was made with")
		created := find(got, canopy.EventAccountCreated)
		require.Equal(t, top.ID, created.AccountID)
		require.Equal(t, canopy.EventTarget{Type: "account", ID: top.ID}, created.Target)
		require.Equal(t, canopy.Actor{Type: "apiKey", ID: root.Actor.ID, AccountID: b.Root.ID}, created.Actor)
		var data map[string]any
		require.NoError(t, json.Unmarshal(created.Data, &data))
		require.Equal(t, b.Root.ID, data["parentId"])

		got = step(func() {
			_, err := b.Svc.SetStatus(ctx, root, top.ID, canopy.StatusSuspended)
			require.NoError(t, err)
		})
		require.Equal(t, []string{canopy.EventAccountSuspended}, typesOf(got))
		got = step(func() {
			_, err := b.Svc.SetStatus(ctx, root, top.ID, canopy.StatusActive)
			require.NoError(t, err)
		})
		require.Equal(t, []string{canopy.EventAccountReactivated}, typesOf(got))

		got = step(func() {
			_, err := b.Svc.Grant(ctx, root, top.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 600, Reason: "invoice"})
			require.NoError(t, err)
		})
		require.Equal(t, []string{canopy.EventCreditsGranted}, typesOf(got))

		t.Run("a debit that crosses a threshold: credits.low_balance", func(t *testing.T) {
			got := step(func() {
				_, err := b.Svc.RecordUsage(ctx, b.As(t, top.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 150, Reference: "r1"})
				require.NoError(t, err)
			})
			require.Equal(t, []string{canopy.EventCreditsLowBalance}, typesOf(got), "debits are not events; crossings are")
			require.Equal(t, top.ID, got[0].AccountID)
			require.JSONEq(t, `{"type":"upload","threshold":500,"balance":450}`, string(got[0].Data))
			require.Equal(t, canopy.Actor{Type: "system", ID: "credits"}, got[0].Actor)
		})

		kid := b.Child(t, top.ID)
		step(func() {})
		t.Run("the debit that reaches a cap: credits.limit_reached, once", func(t *testing.T) {
			two := int64(2)
			_, err := b.Svc.SetLimit(ctx, b.As(t, top.ID), kid.ID, service.LimitInput{Type: canopy.CreditUpload, Monthly: &two})
			require.NoError(t, err)
			step(func() {})
			got := step(func() {
				_, err := b.Svc.RecordUsage(ctx, b.As(t, kid.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 1, Reference: "k1"})
				require.NoError(t, err)
			})
			require.Empty(t, got, "one of two")
			form, err := b.Svc.CreateForm(ctx, b.As(t, kid.ID), service.FormInput{Name: "F", Questions: []canopy.Question{{ID: "q", Label: "Q", Type: "text"}}})
			require.NoError(t, err)
			step(func() {})
			got = step(func() {
				_, err := b.Svc.CreateRecord(ctx, b.As(t, kid.ID), form.ID, service.RecordInput{Answers: map[string]json.RawMessage{"q": []byte(`"a"`)}})
				require.NoError(t, err)
			})
			require.Equal(t, []string{canopy.EventCreditsLimitReached, canopy.EventRecordCreated}, sortedTypes(got),
				"the record that used the last credit of the month")
			reached := find(got, canopy.EventCreditsLimitReached)
			require.Equal(t, kid.ID, reached.AccountID)
			require.JSONEq(t, `{"type":"upload","month":"2026-11","monthly":2,"used":2,"setBy":"`+top.ID+`"}`, string(reached.Data))

			got = step(func() {
				_, err := b.Svc.RecordUsage(ctx, b.As(t, kid.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 1, Reference: "k3"})
				require.Equal(t, canopy.CodeChildLimitExceeded, canopy.ErrorCode(err))
			})
			require.Empty(t, got, "a refused debit writes nothing, no event either")
		})

		t.Run("a refused write emits nothing", func(t *testing.T) {
			got := step(func() {
				_, err := b.Svc.CreateChild(ctx, b.As(t, top.ID), service.CreateChildInput{Account: service.AccountInput{Name: ""}})
				require.Error(t, err)
			})
			require.Empty(t, got)
		})
	})
}

func sortedTypes(es []*canopy.Event) []string {
	ts := typesOf(es)
	slices.Sort(ts)
	return ts
}

func find(es []*canopy.Event, typ string) *canopy.Event {
	for _, e := range es {
		if e.Type == typ {
			return e
		}
	}
	return nil
}

// TestEventsListingStopsAtTheConsentBoundary: an umbrella sees the events
// of the children it created, not those of an invited sub-account (rule
// 2, docs/rules.md) — unless that sub-account delegates admin to it; its
// own events about the link it always sees.
func TestEventsListingStopsAtTheConsentBoundary(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.ChildOn(t, b.Root.ID, canopy.PlanEnterprise)
		created := b.Child(t, umbrella.ID)
		invited := b.Child(t, b.Root.ID)
		b.Invite(t, umbrella.ID, invited.ID, service.InvitationInput{})
		below := b.Child(t, invited.ID)

		accountsIn := func(c service.Caller) map[string]bool {
			seen := map[string]bool{}
			for _, e := range allEvents(t, b, c, service.EventQuery{}) {
				seen[e.AccountID] = true
			}
			return seen
		}
		seen := accountsIn(b.As(t, umbrella.ID))
		require.True(t, seen[umbrella.ID])
		require.True(t, seen[created.ID], "a created child's events")
		require.False(t, seen[invited.ID], "an invited sub-account's events are its own")
		require.False(t, seen[below.ID], "and so are those below it")
		joined := allEvents(t, b, b.As(t, umbrella.ID), service.EventQuery{Types: []string{canopy.EventSubAccountJoined}})
		require.Len(t, joined, 1, "the umbrella's own event about the link")
		require.Equal(t, invited.ID, joined[0].Target.ID)

		seen = accountsIn(b.As(t, invited.ID))
		require.True(t, seen[invited.ID] && seen[below.ID], "the sub-account sees its own subtree")
		require.False(t, seen[umbrella.ID], "and nothing above it")

		seen = accountsIn(b.As(t, b.Root.ID))
		require.True(t, seen[invited.ID] && seen[below.ID], "the platform root sees every account's")

		yes := true
		_, err := b.Svc.UpdateLink(ctx, b.AsKey(t, b.Key(t, invited.ID), ""), invited.ID, service.LinkPatch{DelegatedAdmin: &yes})
		require.NoError(t, err)
		seen = accountsIn(b.As(t, umbrella.ID))
		require.True(t, seen[invited.ID] && seen[below.ID], "delegated admin opens the boundary")
	})
}

// TestEventsListingFiltersAndPages: by type and family, after an event,
// and with cursors that only work for their own listing.
func TestEventsListingFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	b := testfactory.New(t, testdb.SQLite(t))
	root := b.As(t, b.Root.ID)
	top := b.Child(t, b.Root.ID)
	for i := range 6 {
		name := fmt.Sprintf("Renamed %d", i)
		_, err := b.Svc.UpdateAccount(ctx, root, top.ID, service.AccountPatch{Name: &name})
		require.NoError(t, err)
	}
	all := allEvents(t, b, root, service.EventQuery{})
	require.Len(t, all, 7, "a child and six updates")
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].ID, all[i].ID, "oldest first")
	}
	for _, tt := range []struct {
		name  string
		q     service.EventQuery
		count int
	}{
		{"a type", service.EventQuery{Types: []string{canopy.EventAccountUpdated}}, 6},
		{"two types", service.EventQuery{Types: []string{canopy.EventAccountUpdated, canopy.EventAccountCreated}}, 7},
		{"a family", service.EventQuery{Types: []string{"account.*"}}, 7},
		{"another family", service.EventQuery{Types: []string{"membership.*"}}, 0},
		{"after an event", service.EventQuery{After: all[4].ID}, 2},
		{"after the last", service.EventQuery{After: all[6].ID}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, allEvents(t, b, root, tt.q), tt.count)
		})
	}
	t.Run("bad parameters answer 400 naming them", func(t *testing.T) {
		for _, tt := range []struct {
			q     service.EventQuery
			field string
		}{
			{service.EventQuery{Types: []string{"account.exploded"}}, "type"},
			{service.EventQuery{Types: []string{"nothing.*"}}, "type"},
			{service.EventQuery{After: "acc_01JB3Y3TTA6X9T9YV1TCKAR6E2"}, "after"},
		} {
			_, err := b.Svc.ListEvents(ctx, root, tt.q, service.PageRequest{})
			var e *canopy.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, canopy.KindBadRequest, e.Kind)
			require.Equal(t, tt.field, e.Fields[0].Field)
		}
	})
	t.Run("a cursor works only for its own listing", func(t *testing.T) {
		page, err := b.Svc.ListEvents(ctx, root, service.EventQuery{}, service.PageRequest{Limit: 2})
		require.NoError(t, err)
		require.NotNil(t, page.NextCursor)
		_, err = b.Svc.ListEvents(ctx, root, service.EventQuery{Types: []string{"account.*"}}, service.PageRequest{Cursor: *page.NextCursor})
		require.Equal(t, canopy.CodeInvalidCursor, canopy.ErrorCode(err))
		_, err = b.Svc.ListEvents(ctx, b.As(t, top.ID), service.EventQuery{}, service.PageRequest{Cursor: *page.NextCursor})
		require.Equal(t, canopy.CodeInvalidCursor, canopy.ErrorCode(err))
	})
}

// TestTextsTellWhatBecameOfThem: a text sent for an account is an event
// when the provider takes it (sms.sent) and when it fails for good and is
// refunded (sms.failed), in the account it was sent for.
func TestTextsTellWhatBecameOfThem(t *testing.T) {
	ctx := context.Background()
	b := testfactory.New(t, testdb.SQLite(t))
	acc := b.ChildOn(t, b.Root.ID, canopy.PlanPro)
	b.Fund(t, acc.ID)
	c := b.As(t, acc.ID)
	form, err := b.Svc.CreateForm(ctx, c, service.FormInput{Name: "F", Questions: []canopy.Question{{ID: "q", Label: "Q", Type: "text"}}})
	require.NoError(t, err)
	_, err = b.Svc.AddCollectors(ctx, c, form.ID, service.CollectorsInput{Numbers: []string{"+15551230001", "+15551230002"}, Mode: canopy.SMSStructured})
	require.NoError(t, err)
	msgs, err := b.Svc.ClaimSMS(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	mark := lastEventID(t, b, c)
	require.NoError(t, b.Svc.SMSSent(ctx, msgs[0], "SM1"))
	final, err := b.Svc.SMSFailed(ctx, msgs[1], &service.PermanentError{Reason: "unknown number"})
	require.NoError(t, err)
	require.True(t, final)

	got := since(t, b, c, mark)
	require.Equal(t, []string{canopy.EventSMSSent, canopy.EventSMSFailed}, typesOf(got))
	require.JSONEq(t, `{"messageId":"`+msgs[0].ID+`","batchId":"`+msgs[0].BatchID+`","formId":"`+form.ID+`"}`, string(got[0].Data))
	require.JSONEq(t, `{"messageId":"`+msgs[1].ID+`","batchId":"`+msgs[1].BatchID+`","formId":"`+form.ID+`","error":"unknown number"}`, string(got[1].Data))
	require.Equal(t, acc.ID, got[1].AccountID)
}

// TestSentTextsRecordedTogetherEachTellTheirOwn: deliveries recorded at
// the same time share one transaction, and each is recorded as it would
// be alone — marked sent with its provider's id and told by its own
// sms.sent event — while one settled already is left as it was, without
// an event, and fails none of the others.
func TestSentTextsRecordedTogetherEachTellTheirOwn(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			b := testfactory.New(t, testdb.Open(t, engine))
			acc := b.ChildOn(t, b.Root.ID, canopy.PlanPro)
			b.Fund(t, acc.ID)
			c := b.As(t, acc.ID)
			form, err := b.Svc.CreateForm(ctx, c, service.FormInput{Name: "F", Questions: []canopy.Question{{ID: "q", Label: "Q", Type: "text"}}})
			require.NoError(t, err)
			_, err = b.Svc.AddCollectors(ctx, c, form.ID, service.CollectorsInput{
				Numbers: []string{"+15551230001", "+15551230002", "+15551230003"}, Mode: canopy.SMSStructured})
			require.NoError(t, err)
			msgs, err := b.Svc.ClaimSMS(ctx, 10)
			require.NoError(t, err)
			require.Len(t, msgs, 3)
			require.NoError(t, b.Svc.SMSSent(ctx, msgs[2], "SM-first"))
			mark := lastEventID(t, b, c)

			queued, release := b.Svc.HoldSent()
			errs := make(chan error, len(msgs))
			for i, m := range msgs {
				go func() { errs <- b.Svc.SMSSent(ctx, m, fmt.Sprintf("SM%d", i)) }()
			}
			require.Eventually(t, func() bool { return queued() == len(msgs) }, 5*time.Second, time.Millisecond)
			release()
			for range msgs {
				require.NoError(t, <-errs)
			}

			for i, want := range []string{"SM0", "SM1", "SM-first"} {
				got := b.SMSMessage(t, msgs[i].ID)
				require.Equal(t, canopy.OutboxSent, got.Status)
				require.Equal(t, want, got.ProviderID)
			}
			var told []string
			for _, e := range since(t, b, c, mark) {
				require.Equal(t, canopy.EventSMSSent, e.Type)
				told = append(told, e.Target.ID)
			}
			require.ElementsMatch(t, []string{msgs[0].ID, msgs[1].ID}, told)
		})
	}
}
