package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/canopyhq/canopy"
)

// ProblemTypeBase prefixes every problem type URI; the code completes it.
const ProblemTypeBase = "https://canopy.dev/problems/"

// Problem is an RFC 9457 problem document with Canopy's extension members.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Instance  string              `json:"instance,omitempty"`
	Code      string              `json:"code"`
	RequestID string              `json:"requestId"`
	Errors    []canopy.FieldError `json:"errors,omitempty"`
	Shortfall *canopy.Shortfall   `json:"shortfall,omitempty"`
	Quota     *canopy.Quota       `json:"quota,omitempty"`
}

var kindStatus = map[canopy.Kind]int{
	canopy.KindInternal:             http.StatusInternalServerError,
	canopy.KindBadRequest:           http.StatusBadRequest,
	canopy.KindInvalid:              http.StatusUnprocessableEntity,
	canopy.KindUnauthorized:         http.StatusUnauthorized,
	canopy.KindForbidden:            http.StatusForbidden,
	canopy.KindNotFound:             http.StatusNotFound,
	canopy.KindConflict:             http.StatusConflict,
	canopy.KindTooLarge:             http.StatusRequestEntityTooLarge,
	canopy.KindPreconditionFailed:   http.StatusPreconditionFailed,
	canopy.KindUnavailable:          http.StatusServiceUnavailable,
	canopy.KindTooManyRequests:      http.StatusTooManyRequests,
	canopy.KindPaymentRequired:      http.StatusPaymentRequired,
	canopy.KindUnsupportedMediaType: http.StatusUnsupportedMediaType,
}

// statusClientClosedRequest is the status (nginx's) that the request log
// gives a request whose client left before its answer: nothing went wrong
// on our side, and nobody reads the answer.
const statusClientClosedRequest = 499

// writeError answers with the problem for err. Errors that are not
// application errors are logged and shown only as "internal" — except the
// request's own context ending (its client left), which is no error of
// ours.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if canopy.CallerLeft(r.Context(), err) {
		s.log.InfoContext(r.Context(), "client left before the answer", "err", err.Error(), "requestId", requestID(r.Context()),
			"method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	var e *canopy.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "internal error", "err", err.Error(), "requestId", requestID(r.Context()),
			"method", r.Method, "path", r.URL.Path)
		e = &canopy.Error{Kind: canopy.KindInternal, Code: canopy.CodeInternal,
			Message: "something went wrong on our side; the request id identifies it in our logs"}
	}
	status := kindStatus[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	s.writeProblemWith(w, r, status, e.Code, e.Message, e.Fields, e.Shortfall, e.Quota)
}

func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string, fields []canopy.FieldError) {
	s.writeProblemWith(w, r, status, code, detail, fields, nil, nil)
}

func (s *Server) writeProblemWith(w http.ResponseWriter, r *http.Request, status int, code, detail string, fields []canopy.FieldError,
	short *canopy.Shortfall, quota *canopy.Quota) {
	p := Problem{
		Type: ProblemTypeBase + code, Title: http.StatusText(status), Status: status, Detail: detail,
		Instance: r.URL.Path, Code: code, RequestID: requestID(r.Context()), Errors: fields, Shortfall: short, Quota: quota,
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="canopy"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	b, _ := json.Marshal(p)
	_, _ = w.Write(append(b, '\n'))
}

func badRequest(code, format string, args ...any) *canopy.Error {
	return canopy.Errorf(canopy.KindBadRequest, code, format, args...)
}

// decodeJSON decodes a request body strictly: one JSON value, no unknown
// fields, every type error naming its field, and every string text that
// Canopy stores (canopy.JSONTextProblem): encoding/json would replace
// invalid UTF-8 and lone surrogates with U+FFFD, so different bytes would
// become the same string.
func decodeJSON(raw []byte, v any) error {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return badRequest(canopy.CodeMalformedJSON, "the request body is empty; send a JSON object")
	}
	if fe := canopy.JSONTextProblem(raw, ""); fe != nil {
		return canopy.InvalidField(fe.Field, fe.Code, "%s", fe.Message)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, raw, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(canopy.CodeMalformedJSON, "the request body has data after the JSON value")
	}
	return nil
}

// jsonError explains a decoding error; raw and t (the type decoded into)
// let it name the field's full path, as validation errors do.
func jsonError(err error, raw []byte, t reflect.Type) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		dup    *canopy.DuplicateKeyError
	)
	switch {
	case errors.As(err, &syntax):
		return badRequest(canopy.CodeMalformedJSON, "the request body is not valid JSON (at byte %d): %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest(canopy.CodeMalformedJSON, "the request body ends in the middle of a JSON value")
	case errors.As(err, &typ):
		// The decoder names the field without array indexes (users.role);
		// the walk to the error's offset adds them (users[1].role). A type
		// that decodes itself reports offsets of its own input, so the
		// walk is taken only when it agrees with the decoder's name.
		field := typ.Field
		if at := pathAt(raw, typ.Offset); withoutIndexes(at) == field || (field != "" && strings.HasPrefix(withoutIndexes(at), field+".")) {
			field = at // the same place, with indexes and map keys
		}
		if field == "" {
			field = "body"
		}
		return canopy.InvalidField(field, "wrong-type", "must be %s", describeType(typ.Type))
	case errors.As(err, &dup):
		return canopy.InvalidField("configurations."+dup.Key, "duplicate", "namespace %q is given twice", dup.Key)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := unknownField(raw, t)
		if name == "" {
			name = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		}
		return canopy.InvalidField(name, "unknown-field", "is not a field of this request")
	}
	return badRequest(canopy.CodeMalformedJSON, "the request body could not be read as JSON: %s", err.Error())
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return fmt.Sprintf("a %s", t.Kind())
}

// withoutIndexes drops the [n] parts of a field path.
func withoutIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
