package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// contractCheck, when set (by the OpenAPI contract test), checks every
// response the harness sees against the served OpenAPI document.
var contractCheck func(t testing.TB, method, pattern string, status int, contentType string, body []byte)

// testAPI is a Server over a real store, called in-process.
type testAPI struct {
	*testfactory.Bundle
	srv *Server
	// samples are the durations timed requests took (benchmarks).
	samples []time.Duration
}

// newTestAPI returns a Server without the public endpoints' rate limit:
// every harness request comes from the same address, and most tests call
// those endpoints more often than a client may. Tests of the limit use
// newTestAPIWith.
func newTestAPI(t testing.TB, db *sqlstore.DB, opts ...testfactory.Options) *testAPI {
	t.Helper()
	return newTestAPIWith(t, db, Options{PublicRateLimit: -1}, opts...)
}

// newTestAPIWith returns a Server with the given options; its rate limiter
// reads the bundle's clock unless o sets another.
func newTestAPIWith(t testing.TB, db *sqlstore.DB, o Options, opts ...testfactory.Options) *testAPI {
	t.Helper()
	b := testfactory.New(t, db, opts...)
	if o.Clock == nil {
		o.Clock = b.Clock.Now
	}
	if o.SMSAuthToken == "" {
		o.SMSAuthToken, o.SMSWebhookBase = testSMSToken, testSMSWebhookBase
	}
	return &testAPI{Bundle: b, srv: NewServer(b.Svc, o)}
}

// response is one answer from the API.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r *response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response: %v\n%s", err, r.Body)
	}
}

// req describes one request; Body may be a string, []byte or any value to
// marshal as JSON.
type req struct {
	Method  string
	Path    string
	Key     string // bearer key; "" sends none
	As      string // X-Customer-Id
	Body    any
	Headers map[string]string
	From    string // RemoteAddr; httptest's 192.0.2.1:1234 when ""
}

// do sends a request and checks the response against the OpenAPI
// document when the contract check is installed.
func (a *testAPI) do(t testing.TB, rq req) *response {
	t.Helper()
	var body io.Reader
	switch b := rq.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(rq.Method, rq.Path, body)
	if rq.From != "" {
		r.RemoteAddr = rq.From
	}
	if rq.Key != "" {
		r.Header.Set("Authorization", "Bearer "+rq.Key)
	}
	if rq.As != "" {
		r.Header.Set("X-Customer-Id", rq.As)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.Headers {
		r.Header.Set(k, v)
	}
	_, pattern := a.srv.mux.Handler(r)
	w := httptest.NewRecorder()
	a.srv.ServeHTTP(w, r)
	res := &response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	if res.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: response has no X-Request-Id", rq.Method, rq.Path)
	}
	if contractCheck != nil && pattern != "" {
		_, path, _ := strings.Cut(pattern, " ")
		contractCheck(t, rq.Method, path, res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	return res
}

// root sends a request with the root key.
func (a *testAPI) root(t testing.TB, method, path string, body any) *response {
	t.Helper()
	return a.do(t, req{Method: method, Path: path, Key: a.RootKey, Body: body})
}
