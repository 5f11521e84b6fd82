package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// encode renders v as JSON without HTML escaping, so payloads that were
// stored byte for byte keep their characters.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// withRequestID renders a write's result as an object whose first member
// is the request id (docs/rules.md: JSON bodies of writes carry requestId).
func withRequestID(v any, rid string) ([]byte, error) {
	b, err := encode(v)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return nil, errors.New("write result is not a JSON object")
	}
	head := []byte(`{"requestId":` + strconv.Quote(rid))
	if len(b) > 2 {
		head = append(head, ',')
	}
	return append(append(head, b[1:]...), '\n'), nil
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := encode(v)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readBody reads the whole request body, JSON, within the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := s.readRaw(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) > 0 && !jsonMediaType(r.Header.Get("Content-Type")) {
		return nil, canopy.Errorf(canopy.KindUnsupportedMediaType, canopy.CodeUnsupportedMediaType,
			"the request body must be JSON, sent with Content-Type: application/json")
	}
	return b, nil
}

// readRaw reads the whole request body, of any type, within the size limit.
func (s *Server) readRaw(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, canopy.Errorf(canopy.KindTooLarge, canopy.CodeBodyTooLarge,
			"the request body is larger than %d bytes", s.maxBody)
	}
	if err != nil {
		return nil, badRequest(canopy.CodeBadRequest, "the request body could not be read")
	}
	return b, nil
}

// jsonMediaType reports whether a Content-Type names JSON:
// application/json, or a type with the +json suffix.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// decode reads and strictly decodes the request body into v, returning the
// raw bytes for idempotency fingerprints.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	raw, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return raw, decodeJSON(raw, v)
}

// writeSpec says how a write answers: its status, for creates how to
// derive the Location header from the result, and optionally the view of
// the result its body shows (the same for the first response and the one
// stored for replays).
type writeSpec struct {
	status   int
	location func(result any) string
	view     func(result any) any
}

// writeDecoded decodes the request body into a T (a 400 or 415 names what
// is wrong, and nothing runs), then runs the write with it as s.write does.
func writeDecoded[T any](s *Server, w http.ResponseWriter, r *http.Request, spec writeSpec, run func(ctx context.Context, in T) (any, error)) {
	var in T
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, spec, raw, func(ctx context.Context) (any, error) { return run(ctx, in) })
}

// body renders a write's result as its response body.
func (spec writeSpec) body(result any, rid string) ([]byte, error) {
	if spec.view != nil {
		result = spec.view(result)
	}
	return withRequestID(result, rid)
}

// write runs a write and answers with its result and the request id. A
// POST with an Idempotency-Key replays the first response recorded for
// that key (and answers 422 when the key came with a different request);
// otherwise the response is recorded in the write's own transaction.
func (s *Server) write(w http.ResponseWriter, r *http.Request, spec writeSpec, raw []byte, run func(ctx context.Context) (any, error)) {
	ctx := r.Context()
	rid := requestID(ctx)
	var idem *service.Idempotent
	if key := r.Header.Get("Idempotency-Key"); key != "" && r.Method == http.MethodPost {
		if len(key) > 255 || !printableASCII(key) {
			s.writeError(w, r, canopy.BadParam("Idempotency-Key", "invalid-header", "must be 1-255 printable ASCII characters"))
			return
		}
		c := caller(ctx)
		sum := sha256.New()
		for _, part := range [][]byte{[]byte(r.Method), []byte(r.URL.Path), []byte(r.URL.RawQuery), []byte(c.Acting.ID), raw} {
			sum.Write(part)
			sum.Write([]byte{0})
		}
		idem = &service.Idempotent{
			Scope: c.AccountID, Key: key, Credential: c.Credential(), Fingerprint: hex.EncodeToString(sum.Sum(nil)), StatusCode: spec.status,
			Encode:   func(v any) ([]byte, error) { return spec.body(v, rid) },
			Location: spec.location,
		}
		if s.replay(w, r, idem) {
			return
		}
		ctx = service.WithIdempotency(ctx, idem)
	}
	result, err := run(ctx)
	if errors.Is(err, service.ErrIdempotentReplay) && s.replay(w, r, idem) {
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if spec.status == http.StatusNoContent {
		w.WriteHeader(spec.status)
		return
	}
	body, err := spec.body(result, rid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if spec.location != nil {
		w.Header().Set("Location", spec.location(result))
	}
	writeBody(w, spec.status, body)
}

// replay answers with a stored first response, if there is one.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, idem *service.Idempotent) bool {
	rec, err := s.svc.StoredResponse(r.Context(), idem)
	if err != nil {
		s.writeError(w, r, err)
		return true
	}
	if rec == nil {
		return false
	}
	w.Header().Set("Idempotent-Replayed", "true")
	if rec.Location != "" {
		w.Header().Set("Location", rec.Location)
	}
	writeBody(w, rec.StatusCode, rec.Body)
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// pageRequest reads ?limit= and ?cursor=.
func pageRequest(r *http.Request) (service.PageRequest, error) {
	return pageRequestUpTo(r, service.MaxPageLimit)
}

// pageRequestUpTo reads the page parameters of a list whose pages hold up
// to max.
func pageRequestUpTo(r *http.Request, max int) (service.PageRequest, error) {
	pr := service.PageRequest{Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return pr, canopy.BadParam("limit", "out-of-range", "must be a whole number from 1 to %d", max)
		}
		pr.Limit = n
	}
	return pr, nil
}

// accountParam reads the {id} path parameter, answering the error itself
// when it is malformed.
func (s *Server) accountParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.param(w, r, func() (string, error) { return pathID(r, "id", canopy.PrefixAccount) })
}

// param runs a parser of request parameters and answers its error, if any.
func (s *Server) param(w http.ResponseWriter, r *http.Request, parse func() (string, error)) (string, bool) {
	v, err := parse()
	if err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	return v, true
}

// listParams reads {id} and the page parameters of a list.
func (s *Server) listParams(w http.ResponseWriter, r *http.Request) (string, service.PageRequest, bool) {
	id, ok := s.accountParam(w, r)
	if !ok {
		return "", service.PageRequest{}, false
	}
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return "", pr, false
	}
	return id, pr, true
}

// pathID reads a path parameter that must be an id with prefix.
func pathID(r *http.Request, name, prefix string) (string, error) {
	v := r.PathValue(name)
	if !canopy.ValidID(prefix, v) {
		return "", canopy.BadParam(name, canopy.CodeInvalidID, "%q is not a valid %s id", v, prefix)
	}
	return v, nil
}

// queryBool reads a boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, canopy.BadParam(name, "invalid-boolean", "must be true or false")
	}
}
