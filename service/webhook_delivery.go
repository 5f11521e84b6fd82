package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Webhook deliveries work as the email outbox does, in two durable steps.
// Each change writes its events in its own transaction, pending; a fan-out
// round turns pending events into one delivery per matching endpoint and
// takes them off the queue, in one transaction; delivery workers lease due
// deliveries, post them, and record each answer. A process killed at any
// point leaves every event either pending or with its deliveries written,
// and every delivery either recorded or leased until its lease ends: an
// event may be delivered twice (receivers deduplicate by webhook-id, the
// event id), never lost.
//
// Order: an endpoint gets its events in event-id order within a round
// and, while it answers, about in the order they happened; a retried
// delivery comes after later events did. Receivers that need order sort by
// the event's occurredAt and id.

// FanOutEvents turns up to limit pending events into deliveries, one per
// enabled endpoint that asked for the event's type and sees the account
// it happened in as its own (the reach ListEvents uses: never through a
// consent boundary, rule 2, docs/rules.md), and that existed when it
// happened. It returns how many events it took off the queue.
func (s *Service) FanOutEvents(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.store.Write(ctx, func(tx store.Tx) error {
		pending, err := tx.PendingEvents(ctx, limit)
		if err != nil || len(pending) == 0 {
			n = 0
			return err
		}
		n = len(pending)
		ids := make([]string, len(pending))
		for i, p := range pending {
			ids[i] = p.Event.ID
		}
		any, err := tx.AnyEnabledWebhookEndpoint(ctx)
		if err != nil {
			return err
		}
		if any {
			ds, err := s.deliveriesOf(ctx, tx, pending)
			if err != nil {
				return err
			}
			if err := tx.InsertWebhookDeliveries(ctx, ds...); err != nil {
				return err
			}
		}
		return tx.MarkEventsFannedOut(ctx, ids)
	})
	return n, err
}

// deliveriesOf decides which endpoints get which of the pending events.
func (s *Service) deliveriesOf(ctx context.Context, tx store.Tx, pending []store.PendingEvent) ([]*canopy.WebhookDelivery, error) {
	seen := map[string]bool{}
	var onPaths []string
	for _, p := range pending {
		for _, id := range p.Path.IDs() {
			if !seen[id] {
				seen[id] = true
				onPaths = append(onPaths, id)
			}
		}
	}
	accounts := map[string]*canopy.Account{}
	byAccount := map[string][]*canopy.WebhookEndpoint{}
	for chunk := range chunks(onPaths, 256) {
		eps, err := tx.EnabledWebhookEndpoints(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, e := range eps {
			byAccount[e.AccountID] = append(byAccount[e.AccountID], e)
		}
	}
	if len(byAccount) == 0 {
		return nil, nil
	}
	for chunk := range chunks(onPaths, 256) {
		accs, err := tx.GetAccounts(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, a := range accs {
			accounts[a.ID] = a
		}
	}
	boundary := func(id string) bool {
		a := accounts[id]
		return a == nil || a.Link.Boundary()
	}
	now := s.now()
	var out []*canopy.WebhookDelivery
	for _, p := range pending {
		for _, holder := range p.Path.IDs() {
			for _, e := range byAccount[holder] {
				if !madeAfter(p.Event.ID, e.ID) || !canopy.MatchesEventType(e.EventTypes, p.Event.Type) ||
					canopy.ReachOf(holder, p.Path, boundary) != canopy.ReachAct {
					continue
				}
				out = append(out, &canopy.WebhookDelivery{
					ID: s.ids.New(canopy.PrefixWebhookDelivery), EndpointID: e.ID, EventID: p.Event.ID, EventType: p.Event.Type,
					Status: canopy.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
				})
			}
		}
	}
	return out, nil
}

// madeAfter reports whether the event was made after the endpoint: an
// endpoint gets the events that happen once it exists. Both ids are ULIDs
// from the clock, so they compare in time (and, made by one process in
// one millisecond, in the order they were made).
func madeAfter(eventID, endpointID string) bool {
	_, ev, _ := strings.Cut(eventID, "_")
	_, ep, _ := strings.Cut(endpointID, "_")
	return ev > ep
}

// chunks yields xs in pieces of at most n.
func chunks[T any](xs []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(xs) > 0 {
			k := min(n, len(xs))
			if !yield(xs[:k]) {
				return
			}
			xs = xs[k:]
		}
	}
}

// WebhookSend is a claimed delivery with what posting it takes.
type WebhookSend struct {
	Delivery *canopy.WebhookDelivery
	URL      string
	// Secrets sign the delivery: the endpoint's, and its previous one while
	// a rotation's overlap lasts.
	Secrets []string
	// Body is the event as GET /v1/events shows it; nil when the event is
	// no longer kept (the delivery then fails).
	Body []byte
}

// ClaimWebhookDeliveries leases up to limit due deliveries to this
// worker, with their endpoints' URLs and secrets and their events' bodies.
func (s *Service) ClaimWebhookDeliveries(ctx context.Context, limit int) ([]*WebhookSend, error) {
	var out []*WebhookSend
	err := s.store.Write(ctx, func(tx store.Tx) error {
		out = nil
		now := s.now()
		ds, err := tx.ClaimWebhookDeliveries(ctx, now, now.Add(s.cfg.WebhookLease), limit)
		if err != nil || len(ds) == 0 {
			return err
		}
		// Posted in the order they were made, which is their events' order.
		slices.SortFunc(ds, func(a, b *canopy.WebhookDelivery) int { return strings.Compare(a.ID, b.ID) })
		var epIDs, evIDs []string
		for _, d := range ds {
			epIDs = append(epIDs, d.EndpointID)
			evIDs = append(evIDs, d.EventID)
		}
		endpoints := map[string]*canopy.WebhookEndpoint{}
		events := map[string]*canopy.Event{}
		for chunk := range chunks(sortedUnique(epIDs), 256) {
			eps, err := tx.GetWebhookEndpoints(ctx, chunk)
			if err != nil {
				return err
			}
			for _, e := range eps {
				endpoints[e.ID] = e
			}
		}
		for chunk := range chunks(sortedUnique(evIDs), 256) {
			evs, err := tx.GetEvents(ctx, chunk)
			if err != nil {
				return err
			}
			for _, e := range evs {
				events[e.ID] = e
			}
		}
		for _, d := range ds {
			e := endpoints[d.EndpointID]
			if e == nil {
				continue // deleted under the claim; its deliveries went with it
			}
			ws := &WebhookSend{Delivery: d, URL: e.URL, Secrets: e.SigningSecrets(now)}
			if ev := events[d.EventID]; ev != nil {
				if ws.Body, err = EventBody(ev); err != nil {
					return err
				}
			}
			out = append(out, ws)
		}
		return nil
	})
	return out, err
}

// EventBody renders an event as the API shows it, without escaping HTML
// characters: the bytes a webhook's signature covers.
func EventBody(e *canopy.Event) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ReleaseWebhookDeliveries gives back deliveries a stopping worker claimed
// and did not try, as ReleaseOutbox does.
func (s *Service) ReleaseWebhookDeliveries(ctx context.Context, ds []Claimed) (int, error) {
	return s.release(ctx, ds, store.Tx.ReleaseWebhookDelivery)
}

// WebhookResult is what posting one claimed delivery came to: the
// endpoint's answer, or the error that kept it from answering.
type WebhookResult struct {
	Delivery *canopy.WebhookDelivery
	Response *canopy.WebhookResponse
	Err      error
}

// Succeeded reports whether the endpoint acknowledged the delivery: any
// 2xx answer.
func (r WebhookResult) Succeeded() bool {
	return r.Err == nil && r.Response != nil && r.Response.Status >= 200 && r.Response.Status < 300
}

// RecordWebhookResults records attempts in one transaction: a delivery the
// endpoint acknowledged succeeded; any other is tried again after an
// exponential backoff with jitter, until WebhookRetryFor after it was
// made, then failed. An endpoint that answered nothing but failures for
// WebhookDisableAfter is disabled, and its account's admins are told.
func (s *Service) RecordWebhookResults(ctx context.Context, results []WebhookResult) error {
	if len(results) == 0 {
		return nil
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		outcomes := make([]store.DeliveryOutcome, len(results))
		okSet, failSet := map[string]bool{}, map[string]bool{}
		for i, r := range results {
			d := r.Delivery
			o := store.DeliveryOutcome{ID: d.ID, Attempts: d.Attempts, At: now, Next: now}
			if r.Response != nil {
				o.Response = &canopy.WebhookResponse{Status: r.Response.Status, Body: storable(r.Response.Body, canopy.MaxWebhookResponseBody)}
			}
			switch {
			case r.Succeeded():
				o.Status = canopy.DeliverySucceeded
				okSet[d.EndpointID] = true
			case now.Sub(d.CreatedAt) >= s.cfg.WebhookRetryFor:
				o.Status = canopy.DeliveryFailed
				failSet[d.EndpointID] = true
			default:
				o.Status, o.Next = canopy.DeliveryPending, now.Add(s.webhookDelay(d.Attempts))
				failSet[d.EndpointID] = true
			}
			if r.Err != nil {
				o.Error = storable(r.Err.Error(), 1000)
			} else if !r.Succeeded() {
				o.Error = fmt.Sprintf("the endpoint answered %d", r.Response.Status)
			}
			outcomes[i] = o
		}
		if _, err := tx.RecordWebhookOutcomes(ctx, outcomes); err != nil {
			return err
		}
		var ok, failing []string
		for id := range okSet {
			ok = append(ok, id)
		}
		for id := range failSet {
			if !okSet[id] {
				failing = append(failing, id)
			}
		}
		if err := tx.SetEndpointsHealth(ctx, sortedUnique(ok), sortedUnique(failing), now); err != nil {
			return err
		}
		return s.disableFailing(ctx, tx, sortedUnique(failing), now)
	})
}

// disableFailing disables the endpoints among ids that have failed every
// delivery for WebhookDisableAfter, audits it as the system and emails
// their accounts' admins.
func (s *Service) disableFailing(ctx context.Context, tx store.Tx, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	eps, err := tx.GetWebhookEndpoints(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range eps {
		if !e.Enabled || e.FailingSince == nil || now.Sub(*e.FailingSince) < s.cfg.WebhookDisableAfter {
			continue
		}
		e.Enabled, e.DisabledReason, e.UpdatedAt = false, canopy.DisabledFailing, now
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		if err := s.systemAudit(ctx, tx, RequestInfo{}, canopy.Actor{Type: "system", ID: "webhooks"}, e.AccountID,
			"webhookEndpoint.disabled", "webhookEndpoint", e.ID, map[string]any{"url": e.URL, "failingSince": e.FailingSince}); err != nil {
			return err
		}
		data, err := json.Marshal(webhookDisabledData{EndpointID: e.ID, URL: e.URL, FailingSince: *e.FailingSince})
		if err != nil {
			return err
		}
		admins, err := accountAdmins(ctx, tx, e.AccountID)
		if err != nil {
			return err
		}
		msgs := make([]*canopy.OutboxMessage, 0, len(admins))
		for _, u := range admins {
			msgs = append(msgs, &canopy.OutboxMessage{
				ID: s.ids.New(canopy.PrefixOutbox), Channel: "email", AccountID: e.AccountID, UserID: u.ID, Recipient: u.Email,
				Template: canopy.TemplateWebhookDisabled, Data: data, Status: canopy.OutboxPending, NextAttemptAt: now, CreatedAt: now,
			})
		}
		if err := tx.InsertOutboxMessages(ctx, msgs...); err != nil {
			return err
		}
		s.log.Warn("webhook endpoint disabled: it failed every delivery for too long", "endpoint", e.ID,
			"account", e.AccountID, "failingSince", e.FailingSince.Format(time.RFC3339))
	}
	return nil
}

// webhookDisabledData is a webhook-disabled email's outbox data.
type webhookDisabledData struct {
	EndpointID   string    `json:"endpointId"`
	URL          string    `json:"url"`
	FailingSince time.Time `json:"failingSince"`
}

// webhookDelay is how long a delivery waits after its attempts-th failed
// attempt: WebhookBackoff doubling up to WebhookMaxBackoff, each between
// half and all of it, so that deliveries failing together spread out.
func (s *Service) webhookDelay(attempts int) time.Duration {
	return backoff(s.cfg.WebhookBackoff, s.cfg.WebhookMaxBackoff, attempts)
}

// storable cuts s to at most n bytes of text both engines keep: valid
// UTF-8 (a character cut in two is dropped) without NUL. An endpoint's
// answer may be any bytes.
func storable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}
