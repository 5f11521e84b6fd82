package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Webhook endpoint limits.
const (
	// MaxWebhookEndpoints is how many endpoints one account may have: each
	// event is sent to every matching endpoint, so the number bounds what
	// one change costs.
	MaxWebhookEndpoints = 20
	// MaxSecretOverlap bounds how long a rotated secret keeps signing.
	MaxSecretOverlap = 7 * 24 * time.Hour
	// DefaultSecretOverlap is how long it does unless the caller says.
	DefaultSecretOverlap = 24 * time.Hour
)

// CodeWebhookEndpointLimit refuses an endpoint past MaxWebhookEndpoints.
const CodeWebhookEndpointLimit = "webhook-endpoint-limit"

// WebhookEndpointInput creates an endpoint; on update, nil fields keep
// their value.
type WebhookEndpointInput struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"eventTypes"`
	Enabled     *bool     `json:"enabled"`
}

// CreatedWebhookEndpoint is an endpoint with its signing secret, which is
// shown only when made or rotated.
type CreatedWebhookEndpoint struct {
	*canopy.WebhookEndpoint
	Secret string `json:"secret"`
}

// MarshalJSON writes a redacted secret as null.
func (e *CreatedWebhookEndpoint) MarshalJSON() ([]byte, error) {
	type plain canopy.WebhookEndpoint
	var secret *string
	if e.Secret != "" {
		secret = &e.Secret
	}
	return json.Marshal(struct {
		*plain
		Secret *string `json:"secret"`
	}{(*plain)(e.WebhookEndpoint), secret})
}

// Redacted is the endpoint as a replay shows it: never with its secret.
func (e *CreatedWebhookEndpoint) Redacted() any {
	return &CreatedWebhookEndpoint{WebhookEndpoint: e.WebhookEndpoint}
}

var errMembersWebhooks = canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
	"only admins (and API keys) may manage webhook endpoints")

// validateEndpoint checks the fields in, naming each bad one.
func (s *Service) validateEndpoint(in WebhookEndpointInput, create bool) error {
	var v canopy.Validator
	if in.URL != nil || create {
		u := ""
		if in.URL != nil {
			u = *in.URL
		}
		canopy.ValidateWebhookURL(&v, "url", u, s.cfg.WebhookAllowLocal)
	}
	if in.Description != nil {
		canopy.ValidateText(&v, "description", *in.Description, 500)
	}
	if in.EventTypes != nil {
		if len(*in.EventTypes) > 100 {
			v.Add("eventTypes", "too-many", "must list at most 100 event types")
		} else if _, bad := canopy.ParseEventTypes(*in.EventTypes); bad >= 0 {
			v.Add(fmt.Sprintf("eventTypes[%d]", bad), "unknown-event-type",
				"%q is not an event type nor a family such as invitation.*", (*in.EventTypes)[bad])
		}
	}
	return v.Err()
}

// CreateWebhookEndpoint registers an endpoint for the acting account: it
// receives the events of the account's subtree that ListEvents shows it.
// Errors: validation-failed (422) naming the field; forbidden (403) for
// members; webhook-endpoint-limit (409).
func (s *Service) CreateWebhookEndpoint(ctx context.Context, c Caller, in WebhookEndpointInput) (*CreatedWebhookEndpoint, error) {
	if err := s.validateEndpoint(in, true); err != nil {
		return nil, err
	}
	secret, err := canopy.NewWebhookSecret()
	if err != nil {
		return nil, fmt.Errorf("make secret: %w", err)
	}
	return write(ctx, s, c, func(o *op) (*CreatedWebhookEndpoint, error) {
		have, err := o.tx.ListWebhookEndpoints(ctx, o.acting.ID, store.Page{Limit: MaxWebhookEndpoints})
		if err != nil {
			return nil, err
		}
		if len(have) >= MaxWebhookEndpoints {
			return nil, canopy.Errorf(canopy.KindConflict, CodeWebhookEndpointLimit,
				"an account may have at most %d webhook endpoints; delete one first", MaxWebhookEndpoints)
		}
		e := &canopy.WebhookEndpoint{
			ID: s.ids.New(canopy.PrefixWebhookEndpoint), AccountID: o.acting.ID, URL: *in.URL, EventTypes: []string{},
			Enabled: in.Enabled == nil || *in.Enabled, Secret: secret, CreatedAt: o.now, UpdatedAt: o.now,
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.EventTypes != nil {
			e.EventTypes = slices.Compact(slices.Sorted(slices.Values(*in.EventTypes)))
		}
		if !e.Enabled {
			e.DisabledReason = canopy.DisabledManual
		}
		if err := o.tx.InsertWebhookEndpoint(ctx, e); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "webhookEndpoint.created", "webhookEndpoint", e.ID,
			map[string]any{"url": e.URL, "eventTypes": e.EventTypes, "enabled": e.Enabled})
		return &CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: secret}, nil
	})
}

// endpointIn loads an endpoint of an account the caller acts as, or
// answers not-found.
func endpointIn(ctx context.Context, tx store.Tx, c Caller, id string) (*canopy.WebhookEndpoint, error) {
	e, err := tx.GetWebhookEndpoint(ctx, id)
	if isNotFound(err) {
		return nil, canopy.NotFound("webhook endpoint")
	}
	if err != nil {
		return nil, err
	}
	if _, err := visibleIn(ctx, tx, c, e.AccountID); err != nil {
		if canopy.ErrorKind(err) == canopy.KindNotFound {
			return nil, canopy.NotFound("webhook endpoint")
		}
		return nil, err
	}
	return e, nil
}

// GetWebhookEndpoint reads an endpoint of the acting account or an account
// it acts as (without its secret).
func (s *Service) GetWebhookEndpoint(ctx context.Context, c Caller, id string) (*canopy.WebhookEndpoint, error) {
	if !c.MayManage() {
		return nil, errMembersWebhooks
	}
	var e *canopy.WebhookEndpoint
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		e, err = endpointIn(ctx, tx, c, id)
		return err
	})
	return e, err
}

// ListWebhookEndpoints lists the acting account's endpoints.
func (s *Service) ListWebhookEndpoints(ctx context.Context, c Caller, pr PageRequest) (Page[*canopy.WebhookEndpoint], error) {
	if !c.MayManage() {
		return Page[*canopy.WebhookEndpoint]{}, errMembersWebhooks
	}
	kind := cursorKind(c, "webhook-endpoints")
	after, err := s.decodeIDCursor(kind, canopy.PrefixWebhookEndpoint, pr.Cursor)
	if err != nil {
		return Page[*canopy.WebhookEndpoint]{}, err
	}
	var rows []*canopy.WebhookEndpoint
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListWebhookEndpoints(ctx, acting.ID, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.WebhookEndpoint]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *canopy.WebhookEndpoint) string { return e.ID }), nil
}

// UpdateWebhookEndpoint changes an endpoint's URL, description, event
// types or state. Enabling one starts it afresh: it is failing no more.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, c Caller, id string, in WebhookEndpointInput) (*canopy.WebhookEndpoint, error) {
	if err := s.validateEndpoint(in, false); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.WebhookEndpoint, error) {
		e, err := endpointIn(ctx, o.tx, c, id)
		if err != nil {
			return nil, err
		}
		changed := map[string]any{}
		if in.URL != nil && *in.URL != e.URL {
			e.URL, changed["url"] = *in.URL, *in.URL
		}
		if in.Description != nil && *in.Description != e.Description {
			e.Description, changed["description"] = *in.Description, true
		}
		if in.EventTypes != nil {
			types := slices.Compact(slices.Sorted(slices.Values(*in.EventTypes)))
			if !slices.Equal(types, e.EventTypes) {
				e.EventTypes, changed["eventTypes"] = types, types
			}
		}
		if in.Enabled != nil && *in.Enabled != e.Enabled {
			e.Enabled, changed["enabled"] = *in.Enabled, *in.Enabled
			e.DisabledReason, e.FailingSince = "", nil
			if !e.Enabled {
				e.DisabledReason = canopy.DisabledManual
			}
		}
		if len(changed) == 0 {
			return e, nil
		}
		e.UpdatedAt = o.now
		if err := o.tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return nil, err
		}
		o.audit(e.AccountID, "webhookEndpoint.updated", "webhookEndpoint", e.ID, changed)
		return e, nil
	})
}

// DeleteWebhookEndpoint removes an endpoint and its deliveries.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, c Caller, id string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		e, err := endpointIn(ctx, o.tx, c, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
			return struct{}{}, err
		}
		o.audit(e.AccountID, "webhookEndpoint.deleted", "webhookEndpoint", e.ID, map[string]string{"url": e.URL})
		return struct{}{}, nil
	})
	return err
}

// RotateWebhookSecret gives an endpoint a new signing secret. The old one
// keeps signing beside it for overlapSeconds (nil: DefaultSecretOverlap;
// 0: not at all), so the receiver can take the new one without missing a
// delivery; a secret rotated before is then forgotten.
func (s *Service) RotateWebhookSecret(ctx context.Context, c Caller, id string, overlapSeconds *int64) (*CreatedWebhookEndpoint, error) {
	keep := DefaultSecretOverlap
	if overlapSeconds != nil {
		if *overlapSeconds < 0 || *overlapSeconds > int64(MaxSecretOverlap/time.Second) {
			return nil, canopy.InvalidField("overlapSeconds", "out-of-range", "must be from 0 to %d seconds", int64(MaxSecretOverlap/time.Second))
		}
		keep = time.Duration(*overlapSeconds) * time.Second
	}
	secret, err := canopy.NewWebhookSecret()
	if err != nil {
		return nil, fmt.Errorf("make secret: %w", err)
	}
	return write(ctx, s, c, func(o *op) (*CreatedWebhookEndpoint, error) {
		e, err := endpointIn(ctx, o.tx, c, id)
		if err != nil {
			return nil, err
		}
		e.PreviousSecret, e.PreviousSecretExpiresAt = "", nil
		if keep > 0 {
			until := o.now.Add(keep)
			e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &until
		}
		e.Secret, e.UpdatedAt = secret, o.now
		if err := o.tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return nil, err
		}
		o.audit(e.AccountID, "webhookEndpoint.secretRotated", "webhookEndpoint", e.ID,
			map[string]any{"previousSecretExpiresAt": e.PreviousSecretExpiresAt})
		return &CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: secret}, nil
	})
}

// DeliveryQuery narrows a deliveries listing.
type DeliveryQuery struct {
	Status  canopy.DeliveryStatus
	EventID string
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first, with
// each one's status and the endpoint's last answer.
func (s *Service) ListWebhookDeliveries(ctx context.Context, c Caller, endpointID string, q DeliveryQuery, pr PageRequest) (Page[*canopy.WebhookDelivery], error) {
	if !c.MayManage() {
		return Page[*canopy.WebhookDelivery]{}, errMembersWebhooks
	}
	switch q.Status {
	case "", canopy.DeliveryPending, canopy.DeliverySucceeded, canopy.DeliveryFailed:
	default:
		return Page[*canopy.WebhookDelivery]{}, canopy.BadParam("status", "invalid-status", "must be pending, succeeded or failed")
	}
	if q.EventID != "" && !canopy.ValidID(canopy.PrefixAuditEvent, q.EventID) {
		return Page[*canopy.WebhookDelivery]{}, canopy.BadParam("eventId", canopy.CodeInvalidID, "%q is not an event id", q.EventID)
	}
	kind := cursorKind(c, "webhook-deliveries", endpointID, string(q.Status), q.EventID)
	before, err := s.decodeIDCursor(kind, canopy.PrefixWebhookDelivery, pr.Cursor)
	if err != nil {
		return Page[*canopy.WebhookDelivery]{}, err
	}
	var rows []*canopy.WebhookDelivery
	err = s.read(ctx, func(tx store.Tx) error {
		if _, err := endpointIn(ctx, tx, c, endpointID); err != nil {
			return err
		}
		var err error
		rows, err = tx.ListWebhookDeliveries(ctx, store.DeliveryFilter{
			EndpointID: endpointID, Status: q.Status, EventID: q.EventID, Before: before, Limit: pr.limit() + 1,
		})
		return err
	})
	if err != nil {
		return Page[*canopy.WebhookDelivery]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(d *canopy.WebhookDelivery) string { return d.ID }), nil
}

// RetryWebhookDelivery sends a delivery again now, whatever became of it
// (a replay): it gets a fresh round of attempts.
func (s *Service) RetryWebhookDelivery(ctx context.Context, c Caller, endpointID, deliveryID string) (*canopy.WebhookDelivery, error) {
	return write(ctx, s, c, func(o *op) (*canopy.WebhookDelivery, error) {
		e, err := endpointIn(ctx, o.tx, c, endpointID)
		if err != nil {
			return nil, err
		}
		d, err := o.tx.GetWebhookDelivery(ctx, deliveryID)
		if isNotFound(err) || (err == nil && d.EndpointID != e.ID) {
			return nil, canopy.NotFound("webhook delivery")
		}
		if err != nil {
			return nil, err
		}
		if err := o.tx.RequeueWebhookDelivery(ctx, d.ID, o.now); err != nil {
			return nil, err
		}
		o.audit(e.AccountID, "webhookDelivery.retried", "webhookDelivery", d.ID, map[string]string{"eventId": d.EventID})
		return o.tx.GetWebhookDelivery(ctx, d.ID)
	})
}
