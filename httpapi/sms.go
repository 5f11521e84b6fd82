package httpapi

import (
	"context"
	"mime"
	"net/http"
	"net/url"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/sms"
)

func (s *Server) handleGetSMSSettings(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	out, err := s.svc.GetSMSSettings(r.Context(), caller(r.Context()), id)
	s.respond(w, r, out, err)
}

func (s *Server) handleUpdateSMSSettings(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.SMSSettingsPatch) (any, error) {
		return s.svc.UpdateSMSSettings(ctx, caller(ctx), id, p)
	})
}

// handleAddCollectors authorises numbers and queues their one-time
// messages: 201, the messages are sent by the SMS worker afterwards.
func (s *Server) handleAddCollectors(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusCreated}, func(ctx context.Context, in service.CollectorsInput) (any, error) {
		return s.svc.AddCollectors(ctx, caller(ctx), id, in)
	})
}

func (s *Server) handleListCollectors(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := service.CollectorQuery{Mode: canopy.SMSMode(r.URL.Query().Get("mode"))}
	page, err := s.svc.ListCollectors(r.Context(), caller(r.Context()), id, q, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleDeleteCollector(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	number := r.PathValue("number")
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteCollector(ctx, caller(ctx), id, number)
	})
}

// twiML is the empty TwiML document the webhook answers with: replies go
// through the SMS outbox, never in the webhook's answer, so they are
// charged and retried like every other text.
const twiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// handleInboundSMS takes in a text from the SMS provider: a form post
// (From, To, Body, MessageSid) signed with X-Twilio-Signature over the
// public URL it was sent to and its parameters. Only a request signed with
// the configured auth token is looked at (403 otherwise). The endpoint
// needs no key, so a refused signature costs the client address a token
// of the public endpoints' allowance, and an address that has none left
// is refused (429) before its signature is checked; the provider's own
// requests, all signed, never draw on it. Each MessageSid is taken in
// once. The answer is an empty TwiML document.
func (s *Server) handleInboundSMS(w http.ResponseWriter, r *http.Request) {
	const route = "/v1/sms/inbound"
	if wait := s.limiter.Wait(r); wait > 0 {
		s.metrics.rateLimited.WithLabelValues(route).Inc()
		s.writeError(w, r, rateLimited(wait))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.writeError(w, r, canopy.Errorf(canopy.KindUnsupportedMediaType, canopy.CodeUnsupportedMediaType,
			"send the provider's form post (application/x-www-form-urlencoded)"))
		return
	}
	raw, err := s.readRaw(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	params, err := url.ParseQuery(string(raw))
	if err != nil {
		s.writeError(w, r, badRequest(canopy.CodeBadRequest, "the form post is malformed"))
		return
	}
	if !sms.ValidSignature(s.smsAuthToken, s.smsWebhookBase+r.URL.RequestURI(), params, r.Header.Get(sms.SignatureHeader)) {
		s.limiter.Allow(r)
		s.writeError(w, r, canopy.Errorf(canopy.KindForbidden, CodeInvalidSignature,
			"the request does not carry the SMS provider's signature (X-Twilio-Signature) for this URL and these parameters"))
		return
	}
	var v canopy.Validator
	canopy.ValidateFormValues(&v, params)
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	in := canopy.InboundSMS{SID: params.Get("MessageSid"), From: params.Get("From"), To: params.Get("To"), Body: params.Get("Body")}
	res, err := s.svc.ReceiveSMS(r.Context(), in, requestID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.DebugContext(r.Context(), "sms inbound", "outcome", res.Outcome, "formId", res.FormID, "recordId", res.RecordID,
		"replies", len(res.Replies), "requestId", requestID(r.Context()))
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(twiML))
}

// CodeInvalidSignature answers a webhook request without the provider's
// signature.
const CodeInvalidSignature = "invalid-signature"
