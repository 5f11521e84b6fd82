package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// requestInfo is the audit facts of a public (unauthenticated) request.
func requestInfo(r *http.Request) service.RequestInfo {
	return service.RequestInfo{
		RequestID: requestID(r.Context()),
		Channel:   channel(r),
		Username:  username(r),
	}
}

// public runs a write that has no caller: it answers like write, without
// idempotency (these requests carry secrets, not resources).
func (s *Server) public(w http.ResponseWriter, r *http.Request, status int, run func(ctx context.Context) (any, error)) {
	result, err := run(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := withRequestID(result, requestID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, status, body)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in service.LoginInput
	if _, err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.public(w, r, http.StatusOK, func(ctx context.Context) (any, error) {
		return s.svc.Login(ctx, in, requestInfo(r))
	})
}

func (s *Server) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	var in service.SetPasswordInput
	if _, err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.public(w, r, http.StatusOK, func(ctx context.Context) (any, error) {
		u, err := s.svc.SetPassword(ctx, in, requestInfo(r))
		if err != nil {
			return nil, err
		}
		return map[string]any{"user": u}, nil
	})
}

type passwordResetRequest struct {
	Email string `json:"email"`
}

// handlePasswordReset answers 202 whether or not the address belongs to a
// user, so it cannot tell who has an account.
func (s *Server) handlePasswordReset(w http.ResponseWriter, r *http.Request) {
	var in passwordResetRequest
	if _, err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.public(w, r, http.StatusAccepted, func(ctx context.Context) (any, error) {
		if err := s.svc.RequestPasswordReset(ctx, in.Email, requestInfo(r)); err != nil {
			return nil, err
		}
		return map[string]string{"status": "accepted"}, nil
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Logout(r.Context(), caller(r.Context())); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	me, err := s.svc.WhoAmI(r.Context(), caller(r.Context()))
	s.respond(w, r, me, err)
}

func (s *Server) handleConfirmEmail(w http.ResponseWriter, r *http.Request) {
	var in service.ConfirmEmailInput
	if _, err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.public(w, r, http.StatusOK, func(ctx context.Context) (any, error) {
		u, err := s.svc.ConfirmEmail(ctx, in, requestInfo(r))
		if err != nil {
			return nil, err
		}
		return map[string]any{"user": u}, nil
	})
}

// membershipAnswer answers an invitation into an account for the signed-in
// person: accept or decline.
func (s *Server) membershipAnswer(answer func(context.Context, service.Caller, string) (*canopy.User, error)) http.HandlerFunc {
	return idAction(s, func(w http.ResponseWriter, r *http.Request) (string, bool) {
		id := r.PathValue("userId")
		if !canopy.ValidID(canopy.PrefixUser, id) {
			s.writeError(w, r, canopy.NotFound("membership"))
			return "", false
		}
		return id, true
	}, answer)
}
