package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

func (s *Server) invitationParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.param(w, r, func() (string, error) { return pathID(r, "invitationId", canopy.PrefixInvitation) })
}

func (s *Server) handleCreateInvitation(w http.ResponseWriter, r *http.Request) {
	var in service.InvitationInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		return "/v1/invitations/" + v.(*canopy.Invitation).ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateInvitation(ctx, caller(ctx), in)
	})
}

func (s *Server) handleListInvitations(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := service.InvitationQuery{
		Direction: r.URL.Query().Get("direction"),
		Status:    canopy.InvitationStatus(r.URL.Query().Get("status")),
	}
	page, err := s.svc.ListInvitations(r.Context(), caller(r.Context()), q, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleGetInvitation(w http.ResponseWriter, r *http.Request) {
	id, ok := s.invitationParam(w, r)
	if !ok {
		return
	}
	inv, err := s.svc.GetInvitation(r.Context(), caller(r.Context()), id)
	s.respond(w, r, inv, err)
}

// invitationAction runs accept, decline, cancel or resend.
func (s *Server) invitationAction(act func(ctx context.Context, c service.Caller, id string) (*canopy.Invitation, error)) http.HandlerFunc {
	return idAction(s, s.invitationParam, act)
}

// idAction is a POST that names its target in the path and takes no body
// (an empty object at most): it reads the id with param, which answers the
// error itself, and runs act as a write.
func idAction[T any](s *Server, param func(w http.ResponseWriter, r *http.Request) (string, bool),
	act func(ctx context.Context, c service.Caller, id string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := param(w, r)
		if !ok {
			return
		}
		raw, err := s.optionalEmptyBody(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
			return act(ctx, caller(ctx), id)
		})
	}
}

func (s *Server) handleLeaveUmbrella(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, nil, func(ctx context.Context) (any, error) {
		return s.svc.LeaveUmbrella(ctx, caller(ctx), id)
	})
}

func (s *Server) contactParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.param(w, r, func() (string, error) { return pathID(r, "contactId", canopy.PrefixContact) })
}

func (s *Server) handleCreateContact(w http.ResponseWriter, r *http.Request) {
	var in service.ContactInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		return "/v1/contacts/" + v.(*canopy.Contact).ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateContact(ctx, caller(ctx), in)
	})
}

func (s *Server) handleListContacts(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListContacts(r.Context(), caller(r.Context()), pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleGetContact(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactParam(w, r)
	if !ok {
		return
	}
	ct, err := s.svc.GetContact(r.Context(), caller(r.Context()), id)
	s.respond(w, r, ct, err)
}

func (s *Server) handleUpdateContact(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.ContactPatch) (any, error) {
		return s.svc.UpdateContact(ctx, caller(ctx), id, p)
	})
}

func (s *Server) handleDeleteContact(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactParam(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteContact(ctx, caller(ctx), id)
	})
}

// handleSignup answers 202 whether or not the address was free, so it
// cannot tell who has an account.
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) {
	var in service.SignupInput
	if _, err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.public(w, r, http.StatusAccepted, func(ctx context.Context) (any, error) {
		if err := s.svc.Signup(ctx, in, requestInfo(r)); err != nil {
			return nil, err
		}
		return map[string]string{"status": "accepted"}, nil
	})
}
