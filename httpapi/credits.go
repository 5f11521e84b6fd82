package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

func (s *Server) handleGetCredits(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	cr, err := s.svc.GetCredits(r.Context(), caller(r.Context()), id)
	s.respond(w, r, cr, err)
}

// creditWrite decodes a grant or transfer and runs it.
func (s *Server) creditWrite(w http.ResponseWriter, r *http.Request,
	run func(ctx context.Context, c service.Caller, id string, in service.GrantInput) (*canopy.LedgerEntry, error)) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusCreated, view: entryView}, func(ctx context.Context, in service.GrantInput) (any, error) {
		return run(ctx, caller(ctx), id, in)
	})
}

// entryView shows a grant's or transfer's entry without its requestId: the
// body leads with the request id, which is the entry's own, and one JSON
// object must not name a member twice.
func entryView(result any) any {
	e, ok := result.(*canopy.LedgerEntry)
	if !ok || e == nil {
		return result
	}
	out := *e
	out.RequestID = ""
	return &out
}

func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request) {
	s.creditWrite(w, r, s.svc.Grant)
}

func (s *Server) handleTransfer(w http.ResponseWriter, r *http.Request) {
	s.creditWrite(w, r, s.svc.Transfer)
}

func (s *Server) handleLedger(w http.ResponseWriter, r *http.Request) {
	id, pr, ok := s.listParams(w, r)
	if !ok {
		return
	}
	q := service.LedgerQuery{Type: canopy.CreditType(r.URL.Query().Get("type")), Kind: canopy.EntryKind(r.URL.Query().Get("kind"))}
	var err error
	if q.From, err = timeParam(r, "from"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.To, err = timeParam(r, "to"); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListLedger(r.Context(), caller(r.Context()), id, q, pr)
	s.respond(w, r, page, err)
}

// dayOrTime reads a query parameter that is a date (its midnight, UTC) or
// an RFC 3339 time.
func dayOrTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, canopy.BadParam(name, "invalid-time", "must be a date such as 2026-11-01 or an RFC 3339 time")
	}
	return t, nil
}

func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	from, err := dayOrTime(r, "from")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := dayOrTime(r, "to")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rep, err := s.svc.GetUsage(r.Context(), caller(r.Context()), id, from, to, r.URL.Query().Get("groupBy"))
	s.respond(w, r, rep, err)
}

func (s *Server) handlePutLimit(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in service.LimitInput) (any, error) {
		return s.svc.SetLimit(ctx, caller(ctx), id, in)
	})
}

func (s *Server) handleDeleteLimit(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	t := canopy.CreditType(r.PathValue("type"))
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteLimit(ctx, caller(ctx), id, t)
	})
}

func (s *Server) handleRecordUsage(w http.ResponseWriter, r *http.Request) {
	writeDecoded(s, w, r, writeSpec{status: http.StatusCreated}, func(ctx context.Context, in service.UsageInput) (any, error) {
		return s.svc.RecordUsage(ctx, caller(ctx), in)
	})
}
