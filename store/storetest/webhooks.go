package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// newDomainEvent builds an event of type typ in account.
func (f *factory) newDomainEvent(account *canopy.Account, typ string) *canopy.Event {
	n := f.seq()
	return &canopy.Event{
		ID: f.id(canopy.PrefixAuditEvent), Type: typ, OccurredAt: at(n), AccountID: account.ID,
		Actor:  canopy.Actor{Type: "apiKey", ID: fmt.Sprintf("key_%d", n), AccountID: account.ID},
		Target: canopy.EventTarget{Type: "account", ID: account.ID}, RequestID: f.ids.ULID(),
		Data: []byte(fmt.Sprintf(`{"n":%d,"name":"Zoë <&>"}`, n)),
	}
}

// newEndpoint builds an enabled endpoint of account.
func (f *factory) newEndpoint(account *canopy.Account, types ...string) *canopy.WebhookEndpoint {
	n := f.seq()
	if types == nil {
		types = []string{}
	}
	return &canopy.WebhookEndpoint{
		ID: f.id(canopy.PrefixWebhookEndpoint), AccountID: account.ID, URL: fmt.Sprintf("https://hooks.example.com/%d", n),
		Description: "hooks", EventTypes: types, Enabled: true, Secret: fmt.Sprintf("whsec_c2VjcmV0%d", n),
		CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// newDelivery builds a pending delivery of ev to e, due at due.
func (f *factory) newDelivery(e *canopy.WebhookEndpoint, ev *canopy.Event, due time.Time) *canopy.WebhookDelivery {
	return &canopy.WebhookDelivery{
		ID: f.id(canopy.PrefixWebhookDelivery), EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type,
		Status: canopy.DeliveryPending, NextAttemptAt: due, CreatedAt: due,
	}
}

func eventIDs(es []*canopy.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testEvents(t *testing.T, open Opener) {
	t.Run("InsertedEventsReadBack", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		e, bare := b.f.newDomainEvent(root, "account.created"), b.f.newDomainEvent(root, "account.updated")
		bare.Data, bare.RequestID, bare.Actor = nil, "", canopy.Actor{Type: "system", ID: "credits"}
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertEvents(ctx, e, bare)) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetEvents(ctx, []string{bare.ID, e.ID, "evt_missing"})
			require.NoError(t, err)
			slices.SortFunc(got, func(x, y *canopy.Event) int { return cmpString(x.ID, y.ID) })
			wantBare := *bare
			wantBare.Data = []byte(`{}`)
			require.Equal(t, []*canopy.Event{e, &wantBare}, got, "data kept byte for byte; missing data reads {}")
		})
	})

	t.Run("AuditEventsAndEventsGoInTogether", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		audits := []*canopy.AuditEvent{b.f.newEvent(root, "account.update", root.ID), b.f.newEvent(root, "session.created", root.ID)}
		evs := []*canopy.Event{b.f.newDomainEvent(root, "account.updated")}
		evs[0].ID = audits[0].ID
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertAuditAndEvents(ctx, audits, evs))
			require.NoError(t, tx.InsertAuditAndEvents(ctx, []*canopy.AuditEvent{b.f.newEvent(root, "session.revoked", root.ID)}, nil))
			require.NoError(t, tx.InsertAuditAndEvents(ctx, nil, []*canopy.Event{b.f.newDomainEvent(root, "credits.low_balance")}))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: root.Path, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, 3)
			listed, err := tx.ListEvents(ctx, store.EventFilter{Subtree: root.Path, Limit: 10})
			require.NoError(t, err)
			require.Len(t, listed, 2)
			require.Equal(t, evs[0], listed[0])
		})
	})

	t.Run("ListFollowsTheSubtreeTheTypesAndAfter", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		plan := []struct {
			in  *canopy.Account
			typ string
		}{
			{tr.root, "account.created"},          // 0
			{tr.a, "invitation.created"},          // 1
			{tr.a1, "sub_account.joined"},         // 2
			{tr.b, "account.created"},             // 3: a's prefix sibling
			{tr.a11, "credits.low_balance"},       // 4
			{tr.a, "account.updated"},             // 5
			{tr.a2, "invitation.accepted"},        // 6
			{tr.a1, "subXaccount.joined"},         // 7: "_" is no wildcard
			{tr.a11, "credits.limit_reached"},     // 8
			{tr.c, "credits.low_balance"},         // 9
			{tr.a2, "sub_account.released"},       // 10
			{tr.root, "webhook_endpoint.created"}, // 11
		}
		events := make([]*canopy.Event, len(plan))
		for i, p := range plan {
			events[i] = b.f.newDomainEvent(p.in, p.typ)
		}
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertEvents(ctx, events...)) })
		pick := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, events[i].ID)
			}
			return out
		}
		types := func(list ...string) canopy.EventTypeFilter {
			var f canopy.EventTypeFilter
			for _, t := range list {
				if fam, ok := cutFamily(t); ok {
					f.Families = append(f.Families, fam)
				} else {
					f.Types = append(f.Types, t)
				}
			}
			return f
		}
		tests := []struct {
			name string
			f    store.EventFilter
			want []string
		}{
			{"WholeTreeOldestFirst", store.EventFilter{Subtree: tr.root.Path}, pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)},
			{"SubtreeLeavesOutThePrefixSibling", store.EventFilter{Subtree: tr.a.Path}, pick(1, 2, 4, 5, 6, 7, 8, 10)},
			{"ExceptCutsASubtree", store.EventFilter{Subtree: tr.a.Path, Except: []canopy.Path{tr.a1.Path}}, pick(1, 5, 6, 10)},
			{"OneType", store.EventFilter{Subtree: tr.root.Path, Types: types("credits.low_balance")}, pick(4, 9)},
			{"Types", store.EventFilter{Subtree: tr.a.Path, Types: types("credits.low_balance", "account.updated")}, pick(4, 5)},
			{"FamilyWithAnUnderscore", store.EventFilter{Subtree: tr.root.Path, Types: types("sub_account.*")}, pick(2, 10)},
			{"FamilyAndType", store.EventFilter{Subtree: tr.a.Path, Types: types("credits.*", "invitation.created")}, pick(1, 4, 8)},
			{"After", store.EventFilter{Subtree: tr.root.Path, After: events[8].ID}, pick(9, 10, 11)},
			{"AfterAndLimit", store.EventFilter{Subtree: tr.a.Path, After: events[2].ID, Limit: 2}, pick(4, 5)},
			{"NoMatch", store.EventFilter{Subtree: tr.b1.Path}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := tt.f
				if f.Limit == 0 {
					f.Limit = 100
				}
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.ListEvents(ctx, f)
					require.NoError(t, err)
					require.Equal(t, tt.want, nilIfEmpty(eventIDs(got)))
				})
			})
		}
	})

	t.Run("PendingUntilFannedOut", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		evs := []*canopy.Event{b.f.newDomainEvent(tr.a11, "account.created"), b.f.newDomainEvent(tr.b, "account.updated"),
			b.f.newDomainEvent(tr.a11, "account.updated")}
		gone := b.f.newDomainEvent(tr.a, "account.closed")
		gone.AccountID = "acc_gone"
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertEvents(ctx, append(evs, gone)...)) })
		b.write(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.PendingEvents(ctx, 2)
			require.NoError(t, err)
			require.Len(t, got, 2, "at most the limit, oldest first")
			require.Equal(t, evs[0], got[0].Event)
			require.Equal(t, tr.a11.Path, got[0].Path, "with the account's path")
			require.Equal(t, tr.b.Path, got[1].Path)
			require.NoError(t, tx.MarkEventsFannedOut(ctx, []string{evs[0].ID, evs[1].ID}))
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.PendingEvents(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, 2)
			require.Equal(t, evs[2].ID, got[0].Event.ID)
			require.Equal(t, gone.ID, got[1].Event.ID)
			require.Empty(t, got[1].Path, "an account that is gone has no path")
			require.NoError(t, tx.MarkEventsFannedOut(ctx, []string{evs[2].ID, gone.ID}))
			got, err = tx.PendingEvents(ctx, 10)
			require.NoError(t, err)
			require.Empty(t, got)
			listed, err := tx.ListEvents(ctx, store.EventFilter{Subtree: tr.root.Path, Limit: 10})
			require.NoError(t, err)
			require.Len(t, listed, 3, "fanned out or not, events stay listed")
		})
	})

	t.Run("ConcurrentFanOutsTakeDisjointEvents", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		var evs []*canopy.Event
		for range 60 {
			evs = append(evs, b.f.newDomainEvent(acc, "account.updated"))
		}
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertEvents(ctx, evs...)) })
		seen := claimConcurrently(t, 6, func() []string {
			var ids []string
			require.NoError(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
				got, err := tx.PendingEvents(ctx, 4)
				if err != nil {
					return err
				}
				ids = nil
				for _, p := range got {
					ids = append(ids, p.Event.ID)
				}
				return tx.MarkEventsFannedOut(ctx, ids)
			}))
			return ids
		})
		require.Len(t, seen, 60)
	})

	t.Run("PruneDropsOldEventsAndDeliveries", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		// Ids are ULIDs: their time is when they were made.
		old, fresh := b.f.newDomainEvent(acc, "account.updated"), b.f.newDomainEvent(acc, "account.updated")
		old.ID, fresh.ID = canopy.FirstIDAt(canopy.PrefixAuditEvent, at(10)), canopy.FirstIDAt(canopy.PrefixAuditEvent, at(100))
		e := b.f.newEndpoint(acc)
		dOld, dFresh := b.f.newDelivery(e, old, at(11)), b.f.newDelivery(e, fresh, at(101))
		dOld.ID, dFresh.ID = canopy.FirstIDAt(canopy.PrefixWebhookDelivery, at(11)), canopy.FirstIDAt(canopy.PrefixWebhookDelivery, at(101))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertEvents(ctx, old, fresh))
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, e))
			require.NoError(t, tx.InsertWebhookDeliveries(ctx, dOld, dFresh))
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.DeleteEventsBefore(ctx, at(50), 100)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetEvents(ctx, []string{old.ID, fresh.ID})
			require.NoError(t, err)
			require.Equal(t, []string{fresh.ID}, eventIDs(got))
			ds, err := tx.ListWebhookDeliveries(ctx, store.DeliveryFilter{EndpointID: e.ID, Limit: 10})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			require.Equal(t, dFresh.ID, ds[0].ID)
		})
	})
}

// cutFamily reads "resource.*" as the family "resource.".
func cutFamily(t string) (string, bool) {
	if len(t) > 2 && t[len(t)-2:] == ".*" {
		return t[:len(t)-1], true
	}
	return "", false
}

func cmpString(a, b string) int { return strings.Compare(a, b) }

// claimConcurrently runs claim from n goroutines until it returns nothing
// and fails when any id came back twice; it returns every id seen.
func claimConcurrently(t *testing.T, n int, claim func() []string) map[string]int {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for {
				ids := claim()
				if len(ids) == 0 {
					return
				}
				mu.Lock()
				for _, id := range ids {
					seen[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, k := range seen {
		require.Equal(t, 1, k, "%s taken twice", id)
	}
	return seen
}

func testWebhooks(t *testing.T, open Opener) {
	t.Run("EndpointsReadBackChangeAndGo", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		e1, e2, e3 := b.f.newEndpoint(tr.a, "invitation.*", "account.created"), b.f.newEndpoint(tr.a), b.f.newEndpoint(tr.b)
		failing, exp := at(500), at(900)
		e2.Enabled, e2.DisabledReason, e2.FailingSince = false, canopy.DisabledFailing, &failing
		e2.PreviousSecret, e2.PreviousSecretExpiresAt = "whsec_b2xk", &exp
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, e := range []*canopy.WebhookEndpoint{e1, e2, e3} {
				require.NoError(t, tx.InsertWebhookEndpoint(ctx, e))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*canopy.WebhookEndpoint{e1, e2, e3} {
				got, err := tx.GetWebhookEndpoint(ctx, want.ID)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
			_, err := tx.GetWebhookEndpoint(ctx, "whe_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			for _, size := range []int{1, 5} {
				got := all(t, size, func(p store.Page) []*canopy.WebhookEndpoint {
					rows, err := tx.ListWebhookEndpoints(ctx, tr.a.ID, p)
					require.NoError(t, err)
					return rows
				}, func(e *canopy.WebhookEndpoint) string { return e.ID })
				require.Equal(t, []*canopy.WebhookEndpoint{e1, e2}, got, "the account's own, by id")
			}
			enabled, err := tx.EnabledWebhookEndpoints(ctx, []string{tr.root.ID, tr.a.ID, tr.b.ID})
			require.NoError(t, err)
			slices.SortFunc(enabled, func(x, y *canopy.WebhookEndpoint) int { return cmpString(x.ID, y.ID) })
			require.Equal(t, []*canopy.WebhookEndpoint{e1, e3}, enabled)
			byID, err := tx.GetWebhookEndpoints(ctx, []string{e3.ID, e2.ID})
			require.NoError(t, err)
			require.Len(t, byID, 2)
		})

		e1.URL, e1.EventTypes, e1.Enabled, e1.DisabledReason = "https://other.example.com/in", []string{}, false, canopy.DisabledManual
		e1.Secret, e1.PreviousSecret, e1.PreviousSecretExpiresAt, e1.UpdatedAt = "whsec_bmV3", e2.Secret, &exp, at(1000)
		ev := b.f.newDomainEvent(tr.a, "account.updated")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UpdateWebhookEndpoint(ctx, e1))
			require.NoError(t, tx.InsertEvents(ctx, ev))
			require.NoError(t, tx.InsertWebhookDeliveries(ctx, b.f.newDelivery(e3, ev, at(1)), b.f.newDelivery(e3, ev, at(2))))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetWebhookEndpoint(ctx, e1.ID)
			require.NoError(t, err)
			require.Equal(t, e1, got)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.DeleteWebhookEndpoint(ctx, e3.ID))
			require.ErrorIs(t, tx.DeleteWebhookEndpoint(ctx, e3.ID), store.ErrNotFound)
			ds, err := tx.ListWebhookDeliveries(ctx, store.DeliveryFilter{EndpointID: e3.ID, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, ds, "deliveries go with their endpoint")
			any, err := tx.AnyEnabledWebhookEndpoint(ctx)
			require.NoError(t, err)
			require.False(t, any, "e1 and e2 are disabled, e3 is gone")
		})
	})

	t.Run("HealthIsSetOnceAndCleared", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		ok, bad := b.f.newEndpoint(acc), b.f.newEndpoint(acc)
		since := at(5)
		ok.FailingSince = &since
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, ok))
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, bad))
			any, err := tx.AnyEnabledWebhookEndpoint(ctx)
			require.NoError(t, err)
			require.True(t, any)
			require.NoError(t, tx.SetEndpointsHealth(ctx, []string{ok.ID}, []string{bad.ID}, at(10)))
			require.NoError(t, tx.SetEndpointsHealth(ctx, nil, []string{bad.ID}, at(20)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetWebhookEndpoint(ctx, ok.ID)
			require.NoError(t, err)
			require.Nil(t, got.FailingSince, "an answer ends the failing")
			got, err = tx.GetWebhookEndpoint(ctx, bad.ID)
			require.NoError(t, err)
			require.Equal(t, at(10), *got.FailingSince, "failing since the first failure, not the latest")
		})
	})

	t.Run("DeliveriesClaimLeaseRecordAndRequeue", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		on, off := b.f.newEndpoint(acc), b.f.newEndpoint(acc)
		off.Enabled, off.DisabledReason = false, canopy.DisabledManual
		ev := b.f.newDomainEvent(acc, "account.updated")
		due1, due2, later := b.f.newDelivery(on, ev, at(10)), b.f.newDelivery(on, ev, at(20)), b.f.newDelivery(on, ev, at(500))
		offDue := b.f.newDelivery(off, ev, at(5))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, on))
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, off))
			require.NoError(t, tx.InsertEvents(ctx, ev))
			require.NoError(t, tx.InsertWebhookDeliveries(ctx, due1, due2, later, offDue))
		})
		claim := func(now time.Time, lease time.Duration) []*canopy.WebhookDelivery {
			var got []*canopy.WebhookDelivery
			b.write(t, func(ctx context.Context, tx store.Tx) {
				var err error
				got, err = tx.ClaimWebhookDeliveries(ctx, now, now.Add(lease), 10)
				require.NoError(t, err)
			})
			return got
		}
		got := claim(at(100), time.Minute)
		require.Len(t, got, 2, "the due ones of enabled endpoints")
		require.ElementsMatch(t, []string{due1.ID, due2.ID}, []string{got[0].ID, got[1].ID}, "in no order")
		require.Equal(t, 1, got[0].Attempts, "a claim counts an attempt")
		require.Empty(t, claim(at(101), time.Minute), "leased")

		resp := &canopy.WebhookResponse{Status: 500, Body: "oops ü"}
		var written []string
		b.write(t, func(ctx context.Context, tx store.Tx) {
			var err error
			written, err = tx.RecordWebhookOutcomes(ctx, []store.DeliveryOutcome{
				{ID: due1.ID, Attempts: 1, Status: canopy.DeliverySucceeded, At: at(102), Next: at(102), Response: &canopy.WebhookResponse{Status: 204}},
				{ID: due2.ID, Attempts: 1, Status: canopy.DeliveryPending, At: at(102), Next: at(300), Response: resp, Error: "the endpoint answered 500"},
				{ID: later.ID, Attempts: 0, Status: canopy.DeliverySucceeded, At: at(102), Next: at(102)},
			})
			require.NoError(t, err)
			require.ErrorIs(t, tx.ReleaseWebhookDelivery(ctx, due2.ID, 1), store.ErrNotFound, "not leased any more: nothing to release")
		})
		require.Equal(t, []string{due1.ID, due2.ID}, written, "an outcome of no claim is left out")
		b.read(t, func(ctx context.Context, tx store.Tx) {
			d, err := tx.GetWebhookDelivery(ctx, due1.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.DeliverySucceeded, d.Status)
			require.Equal(t, at(102), *d.DeliveredAt)
			d, err = tx.GetWebhookDelivery(ctx, due2.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.DeliveryPending, d.Status)
			require.Equal(t, resp, d.LastResponse)
			require.Equal(t, "the endpoint answered 500", d.LastError)
			require.Equal(t, at(300), d.NextAttemptAt)
			require.Equal(t, at(102), *d.LastAttemptAt)
			require.Nil(t, d.DeliveredAt)
		})
		require.Empty(t, claim(at(200), time.Minute), "not due before its next attempt")
		again := claim(at(300), time.Minute)
		require.Len(t, again, 1)
		require.Equal(t, 2, again[0].Attempts)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.ReleaseWebhookDelivery(ctx, due2.ID, 2), "a stopping worker gives it back")
		})
		back := claim(at(301), time.Minute)
		require.Len(t, back, 1, "due again at once")
		require.Equal(t, 2, back[0].Attempts, "the released attempt did not count")
		stale := claim(at(301+61), time.Minute)
		require.Len(t, stale, 1, "a lease that ran out is claimed again")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			written, err := tx.RecordWebhookOutcomes(ctx, []store.DeliveryOutcome{
				{ID: due2.ID, Attempts: 2, Status: canopy.DeliverySucceeded, At: at(400), Next: at(400)},
			})
			require.NoError(t, err)
			require.Empty(t, written, "the first worker's claim is stale")
			require.NoError(t, tx.RequeueWebhookDelivery(ctx, due1.ID, at(500)))
			require.ErrorIs(t, tx.RequeueWebhookDelivery(ctx, "whd_missing", at(500)), store.ErrNotFound)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			d, err := tx.GetWebhookDelivery(ctx, due1.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.DeliveryPending, d.Status, "a retried delivery is due again")
			require.Equal(t, 0, d.Attempts)
			require.Nil(t, d.DeliveredAt)
			require.NotNil(t, d.LastResponse, "its history stays until the next attempt")
		})
	})

	t.Run("DeliveryListingFiltersNewestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		e, other := b.f.newEndpoint(acc), b.f.newEndpoint(acc)
		ev1, ev2 := b.f.newDomainEvent(acc, "account.updated"), b.f.newDomainEvent(acc, "account.closed")
		ds := []*canopy.WebhookDelivery{b.f.newDelivery(e, ev1, at(1)), b.f.newDelivery(e, ev2, at(2)),
			b.f.newDelivery(other, ev1, at(3)), b.f.newDelivery(e, ev1, at(4))}
		ds[1].Status = canopy.DeliveryFailed
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, e))
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, other))
			require.NoError(t, tx.InsertEvents(ctx, ev1, ev2))
			require.NoError(t, tx.InsertWebhookDeliveries(ctx, ds...))
		})
		ids := func(xs []*canopy.WebhookDelivery) []string {
			var out []string
			for _, d := range xs {
				out = append(out, d.ID)
			}
			return out
		}
		for _, tt := range []struct {
			name string
			f    store.DeliveryFilter
			want []string
		}{
			{"All", store.DeliveryFilter{EndpointID: e.ID}, []string{ds[3].ID, ds[1].ID, ds[0].ID}},
			{"Status", store.DeliveryFilter{EndpointID: e.ID, Status: canopy.DeliveryFailed}, []string{ds[1].ID}},
			{"Event", store.DeliveryFilter{EndpointID: e.ID, EventID: ev1.ID}, []string{ds[3].ID, ds[0].ID}},
			{"Before", store.DeliveryFilter{EndpointID: e.ID, Before: ds[3].ID, Limit: 1}, []string{ds[1].ID}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := tt.f
				if f.Limit == 0 {
					f.Limit = 10
				}
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.ListWebhookDeliveries(ctx, f)
					require.NoError(t, err)
					require.Equal(t, tt.want, ids(got))
				})
			})
		}
	})

	t.Run("ConcurrentClaimsAreDisjoint", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		e := b.f.newEndpoint(acc)
		ev := b.f.newDomainEvent(acc, "account.updated")
		var ds []*canopy.WebhookDelivery
		for i := range 60 {
			ds = append(ds, b.f.newDelivery(e, ev, at(i)))
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertWebhookEndpoint(ctx, e))
			require.NoError(t, tx.InsertWebhookDeliveries(ctx, ds...))
		})
		seen := claimConcurrently(t, 6, func() []string {
			var ids []string
			require.NoError(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
				got, err := tx.ClaimWebhookDeliveries(ctx, at(1000), at(2000), 4)
				ids = nil
				for _, d := range got {
					ids = append(ids, d.ID)
				}
				return err
			}))
			return ids
		})
		require.Len(t, seen, 60)
	})
}
