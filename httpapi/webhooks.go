package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// endpointParam reads {endpointId}, answering the error when malformed.
func (s *Server) endpointParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.param(w, r, func() (string, error) { return pathID(r, "endpointId", canopy.PrefixWebhookEndpoint) })
}

func (s *Server) handleCreateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var in service.WebhookEndpointInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		return "/v1/webhook-endpoints/" + v.(*service.CreatedWebhookEndpoint).ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateWebhookEndpoint(ctx, caller(ctx), in)
	})
}

func (s *Server) handleListWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListWebhookEndpoints(r.Context(), caller(r.Context()), pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleGetWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	e, err := s.svc.GetWebhookEndpoint(r.Context(), caller(r.Context()), id)
	s.respond(w, r, e, err)
}

func (s *Server) handleUpdateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in service.WebhookEndpointInput) (any, error) {
		return s.svc.UpdateWebhookEndpoint(ctx, caller(ctx), id, in)
	})
}

func (s *Server) handleDeleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteWebhookEndpoint(ctx, caller(ctx), id)
	})
}

type rotateSecretRequest struct {
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

func (s *Server) handleRotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	var in rotateSecretRequest
	raw, err := s.readBody(w, r)
	if err == nil && len(raw) > 0 {
		err = decodeJSON(raw, &in)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.RotateWebhookSecret(ctx, caller(ctx), id, in.OverlapSeconds)
	})
}

func (s *Server) handleListWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := service.DeliveryQuery{Status: canopy.DeliveryStatus(r.URL.Query().Get("status")), EventID: r.URL.Query().Get("eventId")}
	page, err := s.svc.ListWebhookDeliveries(r.Context(), caller(r.Context()), id, q, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleRetryWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := s.endpointParam(w, r)
	if !ok {
		return
	}
	deliveryID, ok := s.param(w, r, func() (string, error) { return pathID(r, "deliveryId", canopy.PrefixWebhookDelivery) })
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusAccepted}, nil, func(ctx context.Context) (any, error) {
		return s.svc.RetryWebhookDelivery(ctx, caller(ctx), id, deliveryID)
	})
}
