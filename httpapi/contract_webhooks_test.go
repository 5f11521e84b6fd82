package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
)

// driveWebhooks drives the events listing and the webhook endpoint routes
// on an account of their own; closed is a closed account.
func (d *driver) driveWebhooks(closed string) {
	t := d.t
	const (
		get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
		ok                    = http.StatusOK
	)
	hooks := d.child(d.api.Root.ID)
	member := d.api.User(t, hooks, canopy.UserMember)
	memberKey := d.api.SignIn(t, member.Email)
	d.call(ok, patch, "/v1/accounts/"+hooks, map[string]any{"name": "Hooked"})

	// Events.
	var events struct {
		Data []struct {
			ID, Type string
		}
		NextCursor *string
	}
	d.call(ok, get, "/v1/events?limit=1", nil, as(hooks)).Decode(t, &events)
	if len(events.Data) != 1 || events.NextCursor == nil {
		t.Fatalf("events of %s, one a page: %+v", hooks, events)
	}
	first := events.Data[0].ID
	d.call(ok, get, "/v1/events?limit=1&cursor="+url.QueryEscape(*events.NextCursor), nil, as(hooks))
	d.call(ok, get, "/v1/events?type=account.updated,membership.*&after="+first, nil, as(hooks)).Decode(t, &events)
	if len(events.Data) == 0 || events.Data[0].Type != "membership.created" && events.Data[0].Type != "account.updated" {
		t.Errorf("filtered events: %+v", events)
	}
	d.call(ok, get, "/v1/events?type=invitation.*&type=credits.low_balance", nil, as(hooks))
	d.call(ok, get, "/v1/events", nil, withKey(memberKey)) // members read events, as they read the audit trail
	d.call(400, get, "/v1/events?type=account.exploded", nil, as(hooks))
	d.call(400, get, "/v1/events?after=acc_nope", nil, as(hooks))
	d.call(400, get, "/v1/events?cursor=nonsense", nil, as(hooks))

	// Endpoints.
	endpoints := "/v1/webhook-endpoints"
	body := at(contractOrFatal(t).doc, "paths", endpoints, "post", "requestBody", "content", "application/json", "example")
	created := d.call(http.StatusCreated, post, endpoints, body, as(hooks), withHeader("Idempotency-Key", "hook-1"))
	var ep struct{ ID, Secret string }
	created.Decode(t, &ep)
	if !strings.HasPrefix(ep.Secret, canopy.WebhookSecretPrefix) || created.Header.Get("Location") != endpoints+"/"+ep.ID {
		t.Errorf("new endpoint: %s, Location %q", created.Body, created.Header.Get("Location"))
	}
	replay := d.call(http.StatusCreated, post, endpoints, body, as(hooks), withHeader("Idempotency-Key", "hook-1"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || bytes.Contains(replay.Body, []byte(ep.Secret)) ||
		!bytes.Contains(replay.Body, []byte(`"secret":null`)) {
		t.Errorf("a replay never shows the secret: %s", replay.Body)
	}
	one := endpoints + "/" + ep.ID
	d.call(403, post, endpoints, validBodies["POST "+endpoints], withKey(memberKey))
	d.call(409, post, endpoints, validBodies["POST "+endpoints], as(closed))
	d.call(422, post, endpoints, map[string]any{"url": "http://127.0.0.1/in", "eventTypes": []string{"account.exploded"}}, as(hooks))
	d.call(422, post, endpoints, map[string]any{"url": "https://hooks.example.com", "secret": "mine"}, as(hooks))
	for range 19 {
		d.call(http.StatusCreated, post, endpoints, validBodies["POST "+endpoints], as(hooks))
	}
	d.call(409, post, endpoints, validBodies["POST "+endpoints], as(hooks)) // webhook-endpoint-limit
	var list struct {
		Data       []struct{ ID string }
		NextCursor *string
	}
	d.call(ok, get, endpoints+"?limit=15", nil, as(hooks)).Decode(t, &list)
	if len(list.Data) != 15 || list.NextCursor == nil {
		t.Fatalf("endpoints, 15 a page: %d", len(list.Data))
	}
	d.call(ok, get, endpoints+"?limit=15&cursor="+url.QueryEscape(*list.NextCursor), nil, as(hooks))
	d.call(403, get, endpoints, nil, withKey(memberKey))
	d.call(ok, get, one, nil, as(hooks))
	d.call(ok, get, one, nil) // the platform root acts as the account
	d.call(404, get, one, nil, as(d.child(d.api.Root.ID)))
	d.call(403, get, one, nil, withKey(memberKey))
	d.call(404, get, fill(endpoints+"/{endpointId}", ""), nil, as(hooks))
	d.call(400, get, endpoints+"/whe_nope", nil, as(hooks))
	for _, id := range list.Data[10:15] {
		d.call(http.StatusNoContent, del, endpoints+"/"+id.ID, nil, as(hooks))
	}
	d.call(404, del, endpoints+"/"+list.Data[10].ID, nil, as(hooks))
	d.call(409, del, fill(endpoints+"/{endpointId}", ""), nil, as(closed))

	patched := d.call(ok, patch, one, map[string]any{"enabled": false, "description": "Paused"}, as(hooks))
	if !bytes.HasPrefix(patched.Body, []byte(`{"requestId":`)) || !bytes.Contains(patched.Body, []byte(`"disabledReason":"manual"`)) {
		t.Errorf("paused endpoint: %s", patched.Body)
	}
	d.call(ok, patch, one, at(contractOrFatal(t).doc, "paths", endpoints+"/{endpointId}", "patch", "requestBody", "content", "application/json", "example"), as(hooks))
	d.call(ok, patch, one, map[string]any{"enabled": true}, as(hooks)) // no change
	d.call(403, patch, one, map[string]any{"enabled": false}, withKey(memberKey))
	d.call(404, patch, fill(endpoints+"/{endpointId}", ""), map[string]any{"enabled": true}, as(hooks))
	d.call(409, patch, fill(endpoints+"/{endpointId}", ""), validBodies["PATCH "+endpoints+"/{endpointId}"], as(closed))
	d.call(422, patch, one, map[string]any{"url": "https://10.0.0.1/in"}, as(hooks))
	d.call(422, patch, one, map[string]any{"eventTypes": []string{"nothing.*"}}, as(hooks))

	rotate := one + "/rotate-secret"
	rotated := d.call(ok, post, rotate, map[string]any{"overlapSeconds": 3600}, as(hooks), withHeader("Idempotency-Key", "rotate-1"))
	var r struct {
		Secret                  string
		PreviousSecretExpiresAt *string
	}
	rotated.Decode(t, &r)
	if r.Secret == ep.Secret || r.PreviousSecretExpiresAt == nil {
		t.Errorf("rotated: %s", rotated.Body)
	}
	d.call(ok, post, rotate, nil, as(hooks))
	d.call(422, post, rotate, map[string]any{"overlapSeconds": 10_000_000}, as(hooks))
	d.call(422, post, rotate, map[string]any{"overlap": 1}, as(hooks))
	d.call(404, post, fill(endpoints+"/{endpointId}/rotate-secret", ""), nil, as(hooks))
	d.call(409, post, fill(endpoints+"/{endpointId}/rotate-secret", ""), nil, as(closed))

	// Deliveries: fan the events out (as the worker does before posting).
	d.call(ok, patch, one, map[string]any{"eventTypes": []string{"account.*"}}, as(hooks))
	d.call(ok, patch, "/v1/accounts/"+hooks, map[string]any{"name": "Hooked again"})
	if _, err := d.api.Svc.FanOutEvents(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
	deliveries := one + "/deliveries"
	var ds struct {
		Data []struct {
			ID, EventID, Status string
			LastResponse        any
		}
		NextCursor *string
	}
	d.call(ok, get, deliveries+"?limit=1", nil, as(hooks)).Decode(t, &ds)
	if len(ds.Data) != 1 || ds.Data[0].Status != "pending" || ds.Data[0].LastResponse != nil {
		t.Fatalf("deliveries: %+v", ds)
	}
	delivery := ds.Data[0]
	if ds.NextCursor != nil {
		d.call(ok, get, deliveries+"?limit=1&cursor="+url.QueryEscape(*ds.NextCursor), nil, as(hooks))
	}
	d.call(ok, get, deliveries+"?status=failed&eventId="+delivery.EventID, nil, as(hooks))
	d.call(400, get, deliveries+"?status=lost", nil, as(hooks))
	d.call(400, get, deliveries+"?eventId=nope", nil, as(hooks))
	d.call(403, get, deliveries, nil, withKey(memberKey))
	d.call(404, get, fill(endpoints+"/{endpointId}/deliveries", ""), nil, as(hooks))
	retry := deliveries + "/" + delivery.ID + "/retry"
	d.call(http.StatusAccepted, post, retry, nil, as(hooks), withHeader("Idempotency-Key", "retry-1"))
	d.call(404, post, fill(deliveries+"/{deliveryId}/retry", ""), nil, as(hooks))
	d.call(404, post, fill(endpoints+"/{endpointId}/deliveries/"+delivery.ID+"/retry", ""), nil, as(hooks)) // another endpoint's
	d.call(409, post, fill(endpoints+"/{endpointId}/deliveries/{deliveryId}/retry", ""), nil, as(closed))
	d.call(400, post, deliveries+"/whd_nope/retry", nil, as(hooks))
	d.call(http.StatusNoContent, del, one, nil, as(hooks))

	// The notices to admins, listed and checked against the document.
	d.driveNotices()
}

// outboxTemplates lists the whole outbox as the platform root and returns
// the templates of its messages, each message checked against the
// document.
func (d *driver) outboxTemplates() map[string]bool {
	t := d.t
	seen := map[string]bool{}
	cursor := ""
	for {
		var page struct {
			Data       []struct{ Template string }
			NextCursor *string
		}
		d.call(http.StatusOK, http.MethodGet, "/v1/outbox?limit=200"+cursor, nil).Decode(t, &page)
		for _, m := range page.Data {
			seen[m.Template] = true
		}
		if page.NextCursor == nil {
			return seen
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// driveNotices makes the emails only active admins get, on a server of its
// own (its clock moves), and lists them: a low-balance notice, and the
// notice that an endpoint failing for a week was disabled.
func (d *driver) driveNotices() {
	t := d.t
	ctx := context.Background()
	q := &driver{t: t, api: newTestAPI(t, testdb.SQLite(t))}
	acc := q.child(q.api.Root.ID)
	q.api.Activate(t, acc)
	q.call(http.StatusCreated, http.MethodPost, "/v1/accounts/"+acc+"/credits/grants", map[string]any{"type": "upload", "amount": 600})
	q.call(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"type": "upload", "quantity": 150}, as(acc))
	var ep struct{ ID string }
	q.call(http.StatusCreated, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": "https://hooks.example.com/down"}, as(acc)).Decode(t, &ep)
	fail := func() {
		q.call(http.StatusOK, http.MethodPatch, "/v1/accounts/"+acc, map[string]any{"name": "Renamed " + q.api.Clock.Now().String()})
		if _, err := q.api.Svc.FanOutEvents(ctx, 100); err != nil {
			t.Fatal(err)
		}
		sends, err := q.api.Svc.ClaimWebhookDeliveries(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		results := make([]service.WebhookResult, len(sends))
		for i, s := range sends {
			results[i] = service.WebhookResult{Delivery: s.Delivery, Response: &canopy.WebhookResponse{Status: 502, Body: "bad gateway"}}
		}
		if err := q.api.Svc.RecordWebhookResults(ctx, results); err != nil {
			t.Fatal(err)
		}
	}
	fail()
	q.api.Clock.Advance(6 * 24 * time.Hour)
	fail()
	var got struct {
		Enabled        bool
		DisabledReason string
	}
	q.call(http.StatusOK, http.MethodGet, "/v1/webhook-endpoints/"+ep.ID, nil, as(acc)).Decode(t, &got)
	if got.Enabled || got.DisabledReason != "failing" {
		t.Errorf("an endpoint failing for six days: %+v", got)
	}
	if templates := q.outboxTemplates(); !templates[canopy.TemplateWebhookDisabled] || !templates[canopy.TemplateLowBalance] {
		t.Errorf("no webhook-disabled or low-balance email in the outbox: %v", templates)
	}
}
