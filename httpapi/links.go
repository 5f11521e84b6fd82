package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusCreated}, func(ctx context.Context, in service.LinkInput) (any, error) {
		return s.svc.CreateLink(ctx, caller(ctx), id, in)
	})
}

func (s *Server) handleListLinks(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListLinks(r.Context(), caller(r.Context()), id, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	linkID, ok := s.param(w, r, func() (string, error) { return pathID(r, "linkId", canopy.PrefixFormLink) })
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.RevokeLink(ctx, caller(ctx), id, linkID)
	})
}
