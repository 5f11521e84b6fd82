package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) {
	var in service.CreateChildInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		return "/v1/accounts/" + v.(*service.CreateChildResult).Account.ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateChild(ctx, caller(ctx), in)
	})
}

func (s *Server) handleFindAccounts(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := service.AccountFilter{ExternalReference: r.URL.Query().Get("externalReference"), Search: r.URL.Query().Get("search")}
	page, err := s.svc.FindAccounts(r.Context(), caller(r.Context()), f, pr)
	s.respond(w, r, page, err)
}

// respond answers a read with its result or its error.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	a, err := s.svc.GetAccount(r.Context(), caller(r.Context()), id)
	s.respond(w, r, a, err)
}

func (s *Server) handleUpdateAccount(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.AccountPatch) (any, error) {
		return s.svc.UpdateAccount(ctx, caller(ctx), id, p)
	})
}

func (s *Server) handleCloseAccount(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	mode := r.URL.Query().Get("children")
	s.write(w, r, writeSpec{status: http.StatusOK}, nil, func(ctx context.Context) (any, error) {
		return s.svc.CloseAccount(ctx, caller(ctx), id, mode)
	})
}

func (s *Server) handleSuspend(w http.ResponseWriter, r *http.Request) {
	s.setStatus(w, r, canopy.StatusSuspended)
}

func (s *Server) handleReactivate(w http.ResponseWriter, r *http.Request) {
	s.setStatus(w, r, canopy.StatusActive)
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request, to canopy.Status) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	raw, err := s.optionalEmptyBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.SetStatus(ctx, caller(ctx), id, to)
	})
}

// optionalEmptyBody accepts no body or an empty JSON object, for actions
// that take no input.
func (s *Server) optionalEmptyBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	raw, err := s.readBody(w, r)
	if err != nil || len(raw) == 0 {
		return raw, err
	}
	var empty struct{}
	return raw, decodeJSON(raw, &empty)
}

type moveRequest struct {
	ParentID string `json:"parentId"`
}

func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in moveRequest) (any, error) {
		return s.svc.MoveAccount(ctx, caller(ctx), id, in.ParentID)
	})
}

func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request) {
	id, pr, ok := s.listParams(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListChildren(r.Context(), caller(r.Context()), id, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleDescendants(w http.ResponseWriter, r *http.Request) {
	id, pr, ok := s.listParams(w, r)
	if !ok {
		return
	}
	depth, err := queryInt(r, "depth", 1, s.svc.MaxDepth())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListDescendants(r.Context(), caller(r.Context()), id, depth, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleAncestors(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListAncestors(r.Context(), caller(r.Context()), id)
	s.respond(w, r, page, err)
}

func (s *Server) handleExternalReferences(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListExternalReferences(r.Context(), caller(r.Context()), id)
	s.respond(w, r, page, err)
}
