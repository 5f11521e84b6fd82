package webhook_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestEndpointsGetTheEventsTheirAccountSees: an endpoint receives the
// events of its account's subtree that the events listing shows the
// account — not through an invited sub-account's consent boundary (rule
// 2, docs/rules.md) — of the types it asked for.
func TestEndpointsGetTheEventsTheirAccountSees(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, always(http.StatusOK))
		umbrella := e.ChildOn(t, e.Root.ID, canopy.PlanEnterprise)
		created := e.Child(t, umbrella.ID)
		invited := e.Child(t, e.Root.ID)
		e.Invite(t, umbrella.ID, invited.ID, service.InvitationInput{})
		below := e.Child(t, invited.ID)

		all := e.endpoint(t, umbrella.ID, rcv.URL+"/all")
		credits := e.endpoint(t, umbrella.ID, rcv.URL+"/credits", "credits.*")
		updates := e.endpoint(t, umbrella.ID, rcv.URL+"/updates", canopy.EventAccountUpdated)
		own := e.endpoint(t, invited.ID, rcv.URL+"/own", canopy.EventAccountUpdated)
		off := e.endpoint(t, umbrella.ID, rcv.URL+"/off")
		no := false
		_, err := e.Svc.UpdateWebhookEndpoint(ctx, e.As(t, umbrella.ID), off.ID, service.WebhookEndpointInput{Enabled: &no})
		require.NoError(t, err)

		e.rename(t, created.ID, "Created child")
		e.rename(t, invited.ID, "Invited sub-account")
		e.rename(t, below.ID, "Below the boundary")
		_, err = e.Svc.Grant(ctx, e.As(t, e.Root.ID), created.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: 5, Reason: "r"})
		require.NoError(t, err)
		e.drain(t)

		got := func(ep *service.CreatedWebhookEndpoint) []string {
			var out []string
			for _, d := range e.deliveries(t, ep.AccountID, ep.ID) {
				out = append(out, d.EventType+" "+eventAccount(t, e, d.EventID))
			}
			slices.Sort(out)
			return out
		}
		require.Equal(t, []string{
			"account.updated " + created.ID,
			"credits.granted " + created.ID,
			"webhook_endpoint.created " + umbrella.ID, // all itself
			"webhook_endpoint.created " + umbrella.ID, // credits
			"webhook_endpoint.created " + umbrella.ID, // updates
			"webhook_endpoint.created " + umbrella.ID, // off
			"webhook_endpoint.updated " + umbrella.ID, // off, disabled
		}, got(all), "the created child's events, none of the invited sub-account's")
		require.Equal(t, []string{"credits.granted " + created.ID}, got(credits))
		require.Equal(t, []string{"account.updated " + created.ID}, got(updates))
		require.ElementsMatch(t, []string{"account.updated " + below.ID, "account.updated " + invited.ID}, got(own),
			"the sub-account's own endpoint sees its subtree")
		require.Empty(t, got(off), "a disabled endpoint gets nothing")

		yes := true
		_, err = e.Svc.UpdateLink(ctx, e.AsKey(t, e.Key(t, invited.ID), ""), invited.ID, service.LinkPatch{DelegatedAdmin: &yes})
		require.NoError(t, err)
		e.rename(t, below.ID, "Delegated")
		e.drain(t)
		require.Contains(t, got(updates), "account.updated "+below.ID, "delegated admin opens the boundary")
	})
}

// eventAccount reads which account an event happened in, as the root.
func eventAccount(t *testing.T, e *env, eventID string) string {
	t.Helper()
	page, err := e.Svc.ListEvents(context.Background(), e.As(t, e.Root.ID), service.EventQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	for _, ev := range page.Data {
		if ev.ID == eventID {
			return ev.AccountID
		}
	}
	t.Fatalf("event %s not listed", eventID)
	return ""
}

// TestAnEndpointFailingForDaysIsDisabled: once every delivery to an
// endpoint has failed for WebhookDisableAfter, it is disabled — audited,
// an event, an email to its account's admins — and nothing more is sent
// to it until it is enabled again.
func TestAnEndpointFailingForDaysIsDisabled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		status := http.StatusServiceUnavailable
		rcv := newReceiver(t, func(int) int { return status })
		top := e.Child(t, e.Root.ID)
		e.Activate(t, top.ID)
		e.Emails(t)
		ep := e.endpoint(t, top.ID, rcv.URL, canopy.EventAccountUpdated)
		started := e.Clock.Now()

		// An update every half hour, each retried until it gives up: the
		// endpoint fails every delivery, with no answer between.
		for i := 0; e.Clock.Now().Sub(started) < 6*time.Hour; i++ {
			got, err := e.Svc.GetWebhookEndpoint(ctx, e.As(t, top.ID), ep.ID)
			require.NoError(t, err)
			require.True(t, got.Enabled, "still enabled after %s", e.Clock.Now().Sub(started))
			if i > 0 {
				require.Equal(t, started, *got.FailingSince, "failing since the first failure")
			}
			e.rename(t, top.ID, time.Duration(i).String())
			e.drain(t)
			e.Clock.Advance(30 * time.Minute)
		}
		e.drain(t)
		got, err := e.Svc.GetWebhookEndpoint(ctx, e.As(t, top.ID), ep.ID)
		require.NoError(t, err)
		require.False(t, got.Enabled)
		require.Equal(t, canopy.DisabledFailing, got.DisabledReason)

		disabled, err := e.Svc.ListEvents(ctx, e.As(t, top.ID), service.EventQuery{Types: []string{canopy.EventWebhookEndpointDisabled}}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, disabled.Data, 1)
		require.Equal(t, canopy.Actor{Type: "system", ID: "webhooks"}, disabled.Data[0].Actor)
		var notices []*canopy.WebhookDisabledEmail
		for _, m := range e.Emails(t) {
			if n, ok := m.Content.(*canopy.WebhookDisabledEmail); ok {
				notices = append(notices, n)
			}
		}
		require.Len(t, notices, 1, "the account's one admin is told")
		require.Equal(t, rcv.URL, notices[0].WebhookURL)
		require.Equal(t, started, notices[0].FailingSince.UTC())

		posts := len(rcv.got())
		e.rename(t, top.ID, "While disabled")
		e.Clock.Advance(time.Hour)
		e.drain(t)
		require.Len(t, rcv.got(), posts, "nothing is sent to a disabled endpoint")

		status = http.StatusOK
		yes := true
		again, err := e.Svc.UpdateWebhookEndpoint(ctx, e.As(t, top.ID), ep.ID, service.WebhookEndpointInput{Enabled: &yes})
		require.NoError(t, err)
		require.True(t, again.Enabled)
		require.Empty(t, again.DisabledReason)
		require.Nil(t, again.FailingSince, "enabled afresh")
		e.rename(t, top.ID, "Back")
		res := e.drain(t)
		require.Positive(t, res.Sent, "deliveries resume, the ones still pending too")
	})
}
