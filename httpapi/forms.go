package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

func (s *Server) formParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.param(w, r, func() (string, error) { return pathID(r, "formId", canopy.PrefixForm) })
}

// ifMatch reads an If-Match header holding a version: "3", 3 or W/"3".
func ifMatch(r *http.Request) (*int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" { // "*" matches any version of a resource that exists (RFC 9110)
		return nil, nil
	}
	n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || n < 1 {
		return nil, canopy.BadParam("If-Match", "invalid-header", `must be the version from the resource's ETag, such as "3"`)
	}
	return &n, nil
}

// etag sets the ETag of a versioned resource.
func etag(w http.ResponseWriter, version int) {
	w.Header().Set("ETag", `"`+strconv.Itoa(version)+`"`)
}

func (s *Server) handleCreateForm(w http.ResponseWriter, r *http.Request) {
	var in service.FormInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string { return "/v1/forms/" + v.(*service.FormView).ID }}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		f, err := s.svc.CreateForm(ctx, caller(ctx), in)
		if err == nil {
			etag(w, f.Version)
		}
		return f, err
	})
}

func (s *Server) handleListForms(w http.ResponseWriter, r *http.Request) {
	q := service.FormQuery{
		Owner:        r.URL.Query().Get("owner"),
		OwnerSubtree: r.URL.Query().Get("ownerSubtree"),
		Role:         canopy.Role(r.URL.Query().Get("role")),
	}
	if v := r.URL.Query().Get("example"); v != "" {
		b, err := queryBool(r, "example")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q.Example = &b
	}
	if acceptsNDJSON(r) {
		s.streamForms(w, r, q)
		return
	}
	pr, err := pageRequestUpTo(r, service.MaxFormPageLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListFormsWire(r.Context(), caller(r.Context()), q, pr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeFormPage(w, r, page)
}

// writeFormPage writes a page of listed forms as encode would, each form
// as it encodes itself: encoding/json would check and compact every
// form's JSON once more.
func (s *Server) writeFormPage(w http.ResponseWriter, r *http.Request, page service.Page[*service.WireForm]) {
	b := make([]byte, 0, 64+512*len(page.Data))
	b = append(b, `{"data":[`...)
	for i, f := range page.Data {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = f.AppendJSONLine(b); err != nil {
			s.writeError(w, r, fmt.Errorf("encode form %s: %w", f.View.ID, err))
			return
		}
		b = b[:len(b)-1] // the line's newline
	}
	next, err := json.Marshal(page.NextCursor)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode cursor: %w", err))
		return
	}
	b = append(append(append(b, `],"nextCursor":`...), next...), "}\n"...)
	writeBody(w, http.StatusOK, b)
}

// ndjson is the media type of a stream of JSON values, one a line.
const ndjson = "application/x-ndjson"

// acceptsNDJSON reports whether the client asks for a stream: Accept names
// application/x-ndjson (without q=0).
func acceptsNDJSON(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept") {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == ndjson && params["q"] != "0" && params["q"] != "0.0" && params["q"] != "0.000" {
				return true
			}
		}
	}
	return false
}

// streamWriteTime is how long the client gets to take each chunk of a
// stream; the server's write timeout would otherwise end a long one.
const streamWriteTime = time.Minute

// streamForms answers every form the listing would list, one JSON object
// a line. An error before the first form is a problem like any other; one
// after it cuts the response short (no final chunk), which HTTP clients
// report as an unexpected end.
func (s *Server) streamForms(w http.ResponseWriter, r *http.Request, q service.FormQuery) {
	for _, name := range []string{"limit", "cursor"} {
		if r.URL.Query().Has(name) {
			s.writeError(w, r, canopy.BadParam(name, "not-streamed", "a stream (Accept: %s) is the whole list: it takes no %s", ndjson, name))
			return
		}
	}
	rc := http.NewResponseController(w)
	out := bufio.NewWriterSize(w, 32<<10)
	var line []byte
	started, n := false, 0
	err := s.svc.StreamForms(r.Context(), caller(r.Context()), q, func(f *service.WireForm) error {
		if !started {
			w.Header().Set("Content-Type", ndjson)
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if n%service.StreamChunk == 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTime)) // not every writer has one
		}
		n++
		var err error
		if line, err = f.AppendJSONLine(line[:0]); err != nil {
			return err
		}
		_, err = out.Write(line)
		return err
	})
	if err == nil {
		err = out.Flush()
	}
	switch {
	case err != nil && !started:
		s.writeError(w, r, err)
	case err != nil:
		s.log.ErrorContext(r.Context(), "form stream cut short", "err", err.Error(), "requestId", requestID(r.Context()), "forms", n)
		panic(http.ErrAbortHandler)
	case !started:
		w.Header().Set("Content-Type", ndjson)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) handleGetForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	// The service keeps the form's encoding with it: the body is spliced,
	// not encoded again, on the hottest read there is.
	f, err := s.svc.GetFormJSON(r.Context(), caller(r.Context()), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	etag(w, f.Version)
	writeBody(w, http.StatusOK, f.AppendJSON(nil))
}

func (s *Server) handleUpdateForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	match, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.FormPatch) (any, error) {
		f, err := s.svc.UpdateForm(ctx, caller(ctx), id, p, match)
		if err == nil {
			etag(w, f.Version)
		}
		return f, err
	})
}

func (s *Server) handleDeleteForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteForm(ctx, caller(ctx), id)
	})
}

type exampleRequest struct {
	Example *bool `json:"example"`
}

func (s *Server) handleSetExample(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	var in exampleRequest
	raw, err := s.decode(w, r, &in)
	if err == nil && in.Example == nil {
		err = canopy.InvalidField("example", "required", "must be true or false")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusOK}, raw, func(ctx context.Context) (any, error) {
		f, err := s.svc.SetExample(ctx, caller(ctx), id, *in.Example)
		if err == nil {
			etag(w, f.Version)
		}
		return f, err
	})
}

type copyRequest struct {
	Name string `json:"name"`
}

func (s *Server) handleCopyForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	var in copyRequest
	raw, err := s.readBody(w, r)
	if err == nil && len(raw) > 0 {
		err = decodeJSON(raw, &in)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string { return "/v1/forms/" + v.(*service.FormView).ID }}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		f, err := s.svc.CopyForm(ctx, caller(ctx), id, in.Name)
		if err == nil {
			etag(w, f.Version)
		}
		return f, err
	})
}

func (s *Server) handleExplainAccess(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	c := caller(r.Context())
	if !r.URL.Query().Has("accountId") {
		// The acting account asks about itself: the plain role check. An
		// account that may share the form gets its whole audience instead.
		a, err := s.svc.FormAccess(r.Context(), c, id)
		if err != nil {
			s.respond(w, r, nil, err)
			return
		}
		if a.Can(canopy.ShareOrDelete) {
			pr, err := pageRequest(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			page, err := s.svc.AudienceOf(r.Context(), c, id, pr)
			s.respond(w, r, page, err)
			return
		}
		s.respond(w, r, &service.Explanation{FormID: id, AccountID: c.Acting.ID, Access: a}, nil)
		return
	}
	ex, err := s.svc.ExplainAccess(r.Context(), c, id, r.URL.Query().Get("accountId"))
	s.respond(w, r, ex, err)
}

func (s *Server) handleListShares(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	page, err := s.svc.ListShares(r.Context(), caller(r.Context()), id)
	s.respond(w, r, page, err)
}

type shareRequest struct {
	Role canopy.Role `json:"role"`
}

func (s *Server) handlePutShare(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	accountID, ok := s.param(w, r, func() (string, error) { return pathID(r, "accountId", canopy.PrefixAccount) })
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in shareRequest) (any, error) {
		return s.svc.PutShare(ctx, caller(ctx), id, accountID, in.Role)
	})
}

func (s *Server) handleDeleteShare(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	accountID, ok := s.param(w, r, func() (string, error) { return pathID(r, "accountId", canopy.PrefixAccount) })
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteShare(ctx, caller(ctx), id, accountID)
	})
}

func (s *Server) recordParams(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	id, ok := s.formParam(w, r)
	if !ok {
		return "", "", false
	}
	rid, ok := s.param(w, r, func() (string, error) { return pathID(r, "recordId", canopy.PrefixRecord) })
	return id, rid, ok
}

func (s *Server) handleCreateRecord(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	var in service.RecordInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spec := writeSpec{status: http.StatusCreated, location: func(v any) string {
		rec := v.(*canopy.Record)
		return "/v1/forms/" + rec.FormID + "/records/" + rec.ID
	}}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) {
		rec, err := s.svc.CreateRecord(ctx, caller(ctx), id, in)
		if err == nil {
			etag(w, rec.Version)
		}
		return rec, err
	})
}

// timeParam reads an optional RFC 3339 time query parameter.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, canopy.BadParam(name, "invalid-time", "must be an RFC 3339 time such as 2026-11-23T12:00:00Z")
	}
	return t, nil
}

func (s *Server) handleListRecords(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var q service.RecordQuery
	if q.From, err = timeParam(r, "from"); err == nil {
		q.To, err = timeParam(r, "to")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.ListRecords(r.Context(), caller(r.Context()), id, q, pr)
	s.respond(w, r, page, err)
}

func (s *Server) handleGetRecord(w http.ResponseWriter, r *http.Request) {
	id, rid, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	rec, err := s.svc.GetRecord(r.Context(), caller(r.Context()), id, rid)
	if err == nil {
		etag(w, rec.Version)
	}
	s.respond(w, r, rec, err)
}

func (s *Server) handleUpdateRecord(w http.ResponseWriter, r *http.Request) {
	id, rid, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	match, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, in service.RecordInput) (any, error) {
		rec, err := s.svc.UpdateRecord(ctx, caller(ctx), id, rid, in, match)
		if err == nil {
			etag(w, rec.Version)
		}
		return rec, err
	})
}

func (s *Server) handleDeleteRecord(w http.ResponseWriter, r *http.Request) {
	id, rid, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	s.write(w, r, writeSpec{status: http.StatusNoContent}, nil, func(ctx context.Context) (any, error) {
		return nil, s.svc.DeleteRecord(ctx, caller(ctx), id, rid)
	})
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.svc.GetDashboard(r.Context(), caller(r.Context()), r.URL.Query().Get("section"), pr)
	s.respond(w, r, d, err)
}

func (s *Server) handleUpdateLink(w http.ResponseWriter, r *http.Request) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return
	}
	writeDecoded(s, w, r, writeSpec{status: http.StatusOK}, func(ctx context.Context, p service.LinkPatch) (any, error) {
		return s.svc.UpdateLink(ctx, caller(ctx), id, p)
	})
}
