package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// userParams reads {id} and {userId}, answering the error when malformed.
func (s *Server) userParams(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return "", "", false
	}
	userID, ok := s.param(w, r, func() (string, error) { return pathID(r, "userId", canopy.PrefixUser) })
	return id, userID, ok
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	id, pr, ok := s.listParams(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListUsers(r.Context(), caller(r.Context()), id, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	var in service.CreateUserInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		u := v.(*canopy.User)
		return "/v1/accounts/" + u.AccountID + "/users/" + u.ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateUser(ctx, caller(ctx), id, in)
	})
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	id, userID, ok := s.userParams(w, r)
	if !ok {
		return
	}
	u, err := s.svc.GetUser(r.Context(), caller(r.Context()), id, userID)
	s.respond(w, r, u, err)
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	id, userID, ok := s.userParams(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.UserPatch) (any, error) {
		return s.svc.UpdateUser(ctx, caller(ctx), id, userID, p)
	})
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	id, userID, ok := s.userParams(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteUser(ctx, caller(ctx), id, userID)
	})
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request) {
	s.setUserEnabled(w, r, false)
}
func (s *Server) handleEnableUser(w http.ResponseWriter, r *http.Request) {
	s.setUserEnabled(w, r, true)
}

func (s *Server) setUserEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	id, userID, ok := s.userParams(w, r)
	if !ok {
		return
	}
	raw, err := s.optionalEmptyBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.SetUserEnabled(ctx, caller(ctx), id, userID, enabled)
	})
}

func (s *Server) handleResendInvitation(w http.ResponseWriter, r *http.Request) {
	id, userID, ok := s.userParams(w, r)
	if !ok {
		return
	}
	raw, err := s.optionalEmptyBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusAccepted}, raw, func(ctx context.Context) (any, error) {
		return s.svc.ResendInvitation(ctx, caller(ctx), id, userID)
	})
}

func (s *Server) handleListOutbox(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := service.OutboxQuery{Status: canopy.OutboxStatus(r.URL.Query().Get("status"))}
	page, err := s.svc.ListOutbox(r.Context(), caller(r.Context()), q, pr)
	s.respond(w, r, page, err)
}
