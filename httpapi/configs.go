package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/canopyhq/canopy"
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
	w.Header().Set(inheritableHeader, strconv.FormatBool(cfg.Inheritable))
	w.Header().Set("Last-Modified", cfg.UpdatedAt.UTC().Format(http.TimeFormat))
	writeBody(w, http.StatusOK, cfg.Value)
}

// inheritableHeader says whether a namespace flows down to descendants;
// the body is the payload itself, so the flag travels beside it.
const inheritableHeader = "Canopy-Configuration-Inheritable"

// handlePutConfiguration stores the raw body as the namespace's payload,
// and whether it is inheritable when the query (inheritable=) or the
// header says so.
func (s *Server) handlePutConfiguration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	inheritable, err := inheritableParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		return s.svc.SetConfiguration(ctx, caller(ctx), id, r.PathValue("namespace"), raw, inheritable)
	})
}

// inheritableParam reads the inheritable flag of a PUT, from the query or
// else the header; nil when neither gives it.
func inheritableParam(r *http.Request) (*bool, error) {
	name, v := "inheritable", r.URL.Query().Get("inheritable")
	if !r.URL.Query().Has("inheritable") {
		name, v = inheritableHeader, r.Header.Get(inheritableHeader)
		if v == "" {
			return nil, nil
		}
	}
	switch v {
	case "true", "1":
		return new(true), nil
	case "false", "0":
		return new(false), nil
	}
	return nil, canopy.BadParam(name, "invalid-boolean", "must be true or false")
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
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in workflowsRequest) (any, error) {
		return s.svc.PutWorkflows(ctx, caller(ctx), id, in.Workflows)
	})
}
