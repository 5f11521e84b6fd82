package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Canopy is the generated client (ClientWithResponses) with the API's
// conventions applied to every request: the credential, the default acting
// account, an Idempotency-Key on every POST (so that a retry of a write
// never writes twice), and retries of what is safe to retry.
type Canopy struct {
	*ClientWithResponses
}

// Option configures New.
type Option func(*config)

type config struct {
	http      HttpRequestDoer
	customer  string
	channel   string
	userAgent string
	retries   int
}

// The options' names leave the generated ones (WithHTTPClient, …) alone.

// Doer sends requests through h instead of http.DefaultClient.
func Doer(h HttpRequestDoer) Option { return func(c *config) { c.http = h } }

// ActingAs makes accountID the acting account (X-Customer-Id) of every
// request that names none itself (see AsCustomer).
func ActingAs(accountID string) Option { return func(c *config) { c.customer = accountID } }

// Channel records channel as every request's X-Channel in the audit
// trail.
func Channel(channel string) Option { return func(c *config) { c.channel = channel } }

// UserAgent names the caller in User-Agent.
func UserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// Retries sets how many times a request the API could not take (503
// busy, 429 with Retry-After) or that never got an answer is sent again
// (default 3; 0 for none). Only requests that are safe to repeat are: GET,
// PUT, DELETE, and POST or PATCH with an Idempotency-Key — every POST has
// one (see New).
func Retries(n int) Option { return func(c *config) { c.retries = n } }

// New returns a client of the API at baseURL (https://canopy.example.com,
// without /v1) that authenticates with key: an API key (cnp_…) or a
// session token (cns_…). Every POST that does not carry an Idempotency-Key
// gets a random one, so the client's own retries are safe; give your own
// (WithIdempotencyKey) to make a retry of your program's safe too.
func New(baseURL, key string, opts ...Option) (*Canopy, error) {
	cfg := config{http: http.DefaultClient, userAgent: "canopy-go-sdk", retries: 3}
	for _, o := range opts {
		o(&cfg)
	}
	doer := &retrying{next: cfg.http, retries: cfg.retries}
	raw, err := NewClientWithResponses(strings.TrimRight(baseURL, "/"), WithHTTPClient(doer),
		WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("User-Agent", cfg.userAgent)
			setDefault(req.Header, "X-Customer-Id", cfg.customer)
			setDefault(req.Header, "X-Channel", cfg.channel)
			if req.Method == http.MethodPost && req.Header.Get("Idempotency-Key") == "" {
				req.Header.Set("Idempotency-Key", newKey())
			}
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return &Canopy{raw}, nil
}

func setDefault(h http.Header, name, value string) {
	if value != "" && h.Get(name) == "" {
		h.Set(name, value)
	}
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on the platforms Go supports
	return "sdk-" + hex.EncodeToString(b[:])
}

// AsCustomer makes one request act as accountID (X-Customer-Id), whatever
// ActingAs said.
func AsCustomer(accountID string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("X-Customer-Id", accountID)
		return nil
	}
}

// WithIdempotencyKey gives one POST its Idempotency-Key: the same key and
// request sent again gets the first answer back, and writes nothing.
func WithIdempotencyKey(key string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Idempotency-Key", key)
		return nil
	}
}

// retrying sends a request again when the API was too busy to take it or
// no answer came, when that is safe.
type retrying struct {
	next    HttpRequestDoer
	retries int
}

func (r *retrying) Do(req *http.Request) (*http.Response, error) {
	safe := req.Method == http.MethodGet || req.Method == http.MethodPut || req.Method == http.MethodDelete ||
		req.Header.Get("Idempotency-Key") != ""
	for attempt := 0; ; attempt++ {
		res, err := r.next.Do(req)
		wait, again := retryAfter(res, err, attempt)
		if !safe || !again || attempt >= r.retries || req.Context().Err() != nil {
			return res, err
		}
		if res != nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}

// retryAfter says whether an answer asks to be tried again, and when.
func retryAfter(res *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := time.Duration(100<<attempt) * time.Millisecond
	if err != nil {
		return backoff, true
	}
	if res.StatusCode != http.StatusServiceUnavailable && res.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	secs, perr := strconv.Atoi(res.Header.Get("Retry-After"))
	if perr != nil {
		return 0, res.StatusCode == http.StatusServiceUnavailable && backoff > 0
	}
	if d := time.Duration(secs) * time.Second; d <= 10*time.Second {
		return max(d, backoff), true
	}
	return 0, false // a long wait (a quota until midnight) is the caller's to decide
}

// APIError is a problem (RFC 9457) the API answered with. Match Code,
// never Detail; an account or resource the caller may not see answers 404
// not-found, as one that does not exist.
type APIError struct {
	Status    int          `json:"status"`
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	RequestID string       `json:"requestId"`
	Fields    []FieldError `json:"errors"`
	// Body is the whole problem document, for what the fields above leave
	// out (a debit's shortfall, a quota).
	Body json.RawMessage `json:"-"`
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("canopy: %d %s: %s", e.Status, e.Code, e.Detail)
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// HasCode reports whether err is an APIError with the given code.
func HasCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}

// Response is what every generated ...WithResponse method returns.
type Response interface {
	StatusCode() int
}

// Check turns a generated response that is not a success into an
// *APIError (or an error naming its status, when its body is no problem).
func Check(res Response) error {
	status := res.StatusCode()
	if status >= 200 && status < 300 {
		return nil
	}
	var body []byte
	if v := reflect.ValueOf(res); v.Kind() == reflect.Pointer && !v.IsNil() {
		if f := v.Elem().FieldByName("Body"); f.IsValid() && f.Kind() == reflect.Slice {
			body = f.Bytes()
		}
	}
	e := &APIError{}
	if err := json.Unmarshal(body, e); err != nil || e.Code == "" {
		return fmt.Errorf("canopy: unexpected answer %d: %s", status, bytes.TrimSpace(body))
	}
	e.Status, e.Body = status, body
	return e
}

// Result returns a generated call's response, or its error: the call's, or
// the *APIError the API answered with. Use it as
//
//	res, err := sdk.Result(client.GetAccountWithResponse(ctx, id, nil))
func Result[R Response](res R, err error) (R, error) {
	if err != nil {
		return res, err
	}
	return res, Check(res)
}

// Pages walks a cursor-paginated list: page fetches the page at cursor
// (nil for the first) and returns its items and the next cursor. The walk
// stops at the first error, which it yields.
func Pages[T any](ctx context.Context, page func(ctx context.Context, cursor *string) ([]T, *string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var cursor *string
		for {
			items, next, err := page(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == nil || *next == "" {
				return
			}
			cursor = next
		}
	}
}

// Descendants walks the accounts below accountID, depth first; params may
// be nil (depth, limit).
func (c *Canopy) Descendants(ctx context.Context, accountID string, params *ListDescendantsParams, editors ...RequestEditorFn) iter.Seq2[Account, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Account, *string, error) {
		p := ListDescendantsParams{}
		if params != nil {
			p = *params
		}
		p.Cursor = cursor
		res, err := Result(c.ListDescendantsWithResponse(ctx, accountID, &p, editors...))
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Data, res.JSON200.NextCursor, nil
	})
}

// Accounts walks the accounts a listing finds: the acting account's
// subtree, or those carrying params.ExternalReference.
func (c *Canopy) Accounts(ctx context.Context, params *ListAccountsParams, editors ...RequestEditorFn) iter.Seq2[Account, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Account, *string, error) {
		p := ListAccountsParams{}
		if params != nil {
			p = *params
		}
		p.Cursor = cursor
		res, err := Result(c.ListAccountsWithResponse(ctx, &p, editors...))
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Data, res.JSON200.NextCursor, nil
	})
}

// Events walks the events the acting account sees, oldest first.
func (c *Canopy) Events(ctx context.Context, params *ListEventsParams, editors ...RequestEditorFn) iter.Seq2[Event, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Event, *string, error) {
		p := ListEventsParams{}
		if params != nil {
			p = *params
		}
		p.Cursor = cursor
		res, err := Result(c.ListEventsWithResponse(ctx, &p, editors...))
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Data, res.JSON200.NextCursor, nil
	})
}

// Ptr returns a pointer to v, for the optional fields of requests.
func Ptr[T any](v T) *T { return &v }
