package httpapi

import (
	"context"
	"net/http"
)

func (s *Server) handleListConfigurations(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	effective, err := queryBool(r, "effective")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	view, err := s.svc.ListConfigurations(r.Context(), caller(r.Context()), id, effective)
	s.respond(w, r, view, err)
}

// handleGetConfiguration answers with the payload's stored bytes, exactly.
func (s *Server) handleGetConfiguration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	effective, err := queryBool(r, "effective")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg, err := s.svc.GetConfiguration(r.Context(), caller(r.Context()), id, r.PathValue("namespace"), effective)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Canopy-Configuration-Source", cfg.AccountID)
	w.Header().Set("Last-Modified", cfg.UpdatedAt.UTC().Format(http.TimeFormat))
	writeBody(w, http.StatusOK, cfg.Value)
}

// handlePutConfiguration stores the raw body as the namespace's payload.
func (s *Server) handlePutConfiguration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.PutConfiguration(ctx, caller(ctx), id, r.PathValue("namespace"), raw)
	})
}

func (s *Server) handleDeleteConfiguration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteConfiguration(ctx, caller(ctx), id, r.PathValue("namespace"))
	})
}

func (s *Server) handleGetWorkflows(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	wf, err := s.svc.GetWorkflows(r.Context(), caller(r.Context()), id)
	s.respond(w, r, wf, err)
}

type workflowsRequest struct {
	Workflows []string `json:"workflows"`
}

func (s *Server) handlePutWorkflows(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	var in workflowsRequest
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.PutWorkflows(ctx, caller(ctx), id, in.Workflows)
	})
}
