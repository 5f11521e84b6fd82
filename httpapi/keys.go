package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
)

type createKeyRequest struct {
	Name string `json:"name"`
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	var in createKeyRequest
	raw, err := s.readBody(w, r)
	if err == nil && len(raw) > 0 {
		err = decodeJSON(raw, &in)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusCreated}, raw, func(ctx context.Context) (any, error) {
		return s.svc.CreateAPIKey(ctx, caller(ctx), id, in.Name)
	})
}

func (s *Server) handleListAPIKeys(w http.ResponseWriter, r *http.Request) {
	id, pr, ok := s.listParams(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListAPIKeys(r.Context(), caller(r.Context()), id, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	keyID, err := pathID(r, "keyId", canopy.PrefixAPIKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.RevokeAPIKey(ctx, caller(ctx), id, keyID)
	})
}
