// Package httpapi serves Canopy's HTTP API: JSON over HTTP under /v1,
// RFC 9457 problems, cursor pagination, idempotent POSTs, and the health,
// metrics and OpenAPI endpoints. Handlers decode, validate, call the
// service and respond; no business rule lives here.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/service"
)

// DefaultMaxBodyBytes bounds request bodies unless configured otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Server.
type Options struct {
	Logger       *slog.Logger
	IDs          *canopy.IDs
	MaxBodyBytes int64
	// Registry receives the HTTP metrics; a fresh one is made when nil.
	Registry *prometheus.Registry
	Version  string

	// PublicRateLimit is how many requests a second one client address may
	// make to the public endpoints (sign-in, set-password, password reset),
	// sustained: zero means DefaultPublicRateLimit, a negative value or
	// rate.Inf no limit. The limit is kept in this process's memory, so
	// replicas behind a load balancer each allow this much.
	PublicRateLimit rate.Limit
	// PublicBurst is how many such requests one client address may make at
	// once; zero or less means DefaultPublicBurst.
	PublicBurst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the
	// client; from any other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// Clock tells the rate limiter the time; time.Now when nil.
	Clock func() time.Time
	// SMSAuthToken checks the SMS provider's signature on POST
	// /v1/sms/inbound; SMSWebhookBase is the public base URL the provider
	// calls it at (the signed URL is the base, the path and the query).
	// Without a token every webhook request is refused.
	SMSAuthToken, SMSWebhookBase string
	// Limiter, when set, is the per-address limiter of the public
	// endpoints, shared with the other edges that take public requests
	// (the console's pages), and the four fields above are not used.
	Limiter *ratelimit.Limiter
}

// Server is the HTTP API over one service.
type Server struct {
	svc     *service.Service
	log     *slog.Logger
	ids     *canopy.IDs
	maxBody int64
	version string
	mux     *http.ServeMux
	metrics *metrics
	reg     *prometheus.Registry
	routes  []Route
	limiter *ratelimit.Limiter // nil when public routes are not rate-limited

	smsAuthToken, smsWebhookBase string

	inFlight sync.Map // request id → InFlight
}

// InFlight is a request being served.
type InFlight struct {
	Method, Path, RequestID string
	Since                   time.Time
}

// InFlight lists the requests being served now, oldest first: what a
// shutdown that cannot wait any longer abandons.
func (s *Server) InFlight() []InFlight {
	var out []InFlight
	s.inFlight.Range(func(_, v any) bool {
		out = append(out, v.(InFlight))
		return true
	})
	slices.SortFunc(out, func(a, b InFlight) int { return a.Since.Compare(b.Since) })
	return out
}

// Route is one registered method and path pattern.
type Route struct {
	Method string
	Path   string
	Public bool
	// RateLimited routes are public and draw on the per-client rate limit.
	RateLimited bool
	// Personal routes serve a signed-in person even where they act in no
	// account yet (they have only invitations to answer).
	Personal bool
	// limitsFailures: the route draws on it only for the requests it
	// refuses, and checks the allowance itself.
	limitsFailures bool
}

// NewServer returns the API handler.
func NewServer(svc *service.Service, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IDs == nil {
		opts.IDs = canopy.NewIDs(nil, nil)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		svc: svc, log: opts.Logger, ids: opts.IDs, maxBody: opts.MaxBodyBytes, version: opts.Version,
		mux: http.NewServeMux(), reg: opts.Registry, metrics: newMetrics(opts.Registry),
		limiter: opts.Limiter, smsAuthToken: opts.SMSAuthToken, smsWebhookBase: strings.TrimRight(opts.SMSWebhookBase, "/"),
	}
	if s.limiter == nil {
		s.limiter = NewLimiter(opts)
	}
	registerCacheMetrics(opts.Registry, svc)
	s.registerRoutes()
	return s
}

// NewLimiter returns the per-address limiter that opts describe (nil for
// no limit), to share between the API and the other public edges.
func NewLimiter(opts Options) *ratelimit.Limiter {
	if opts.PublicRateLimit == 0 {
		opts.PublicRateLimit = DefaultPublicRateLimit
	}
	if opts.PublicBurst <= 0 {
		opts.PublicBurst = DefaultPublicBurst
	}
	return ratelimit.New(ratelimit.Config{Limit: opts.PublicRateLimit, Burst: opts.PublicBurst, Trusted: opts.TrustedProxies, Now: opts.Clock})
}

// Routes lists every registered route, for the OpenAPI contract test.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers h for "METHOD /path" with the middleware every route
// shares; public routes skip authentication.
func (s *Server) handle(pattern string, public bool, h http.HandlerFunc) {
	s.register(pattern, Route{Public: public}, h)
}

// handlePersonal registers a route about the signed-in person themselves,
// which works before they act in any account.
func (s *Server) handlePersonal(pattern string, h http.HandlerFunc) {
	s.register(pattern, Route{Personal: true}, h)
}

// handleLimited registers a public route that anyone can make costly — it
// hashes a password or sends an email — behind the per-client rate limit.
func (s *Server) handleLimited(pattern string, h http.HandlerFunc) {
	s.register(pattern, Route{Public: true, RateLimited: true}, h)
}

// handleSigned registers a public route that authenticates its requests
// by a signature (the SMS provider's webhook): only refused signatures
// draw on the per-client rate limit, which the handler applies.
func (s *Server) handleSigned(pattern string, h http.HandlerFunc) {
	s.register(pattern, Route{Public: true, RateLimited: true, limitsFailures: true}, h)
}

func (s *Server) register(pattern string, rt Route, h http.Handler) {
	rt.Method, rt.Path, _ = strings.Cut(pattern, " ")
	s.routes = append(s.routes, rt)
	if !rt.Public {
		h = s.authenticate(h, rt.Personal)
	}
	if rt.RateLimited && !rt.limitsFailures {
		h = s.rateLimit(rt.Path, h)
	}
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

// ServeHTTP gives every request an id, recovers panics, and answers
// unknown routes and methods with problems rather than plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := s.ids.ULID()
	w.Header().Set("X-Request-Id", rid)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rid))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic", "panic", p, "requestId", rid, "path", r.URL.Path)
			s.writeProblem(w, r, http.StatusInternalServerError, canopy.CodeInternal,
				"something went wrong on our side; the request id identifies it in our logs", nil)
		}
	}()
	if err := malformedRequest(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unrouted(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// malformedRequest explains why a request cannot be served, or returns
// nil: a query string Query() would silently drop parts of, or a path,
// query parameter or stored header (X-Channel, X-Username: the audit trail
// keeps them) that is not text Canopy stores (see canopy.TextProblem).
func malformedRequest(r *http.Request) error {
	if p := canopy.TextProblem(r.URL.Path); p != "" {
		return canopy.BadParam("path", canopy.CodeInvalidText, "%s", p)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest(canopy.CodeBadRequest, "the query string is malformed: %s", err.Error())
	}
	var v canopy.Validator
	canopy.ValidateFormValues(&v, q)
	for _, h := range []string{"X-Channel", "X-Username"} {
		canopy.ValidText(&v, h, r.Header.Get(h))
	}
	if err := v.Err(); err != nil {
		fe := err.(*canopy.Error).Fields[0]
		if fe.Field == "form" {
			fe.Field = "query"
		}
		return canopy.BadParam(fe.Field, fe.Code, "%s", fe.Message)
	}
	return nil
}

// unrouted turns the mux's own 404 and 405 answers into problems.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, r)
	if allow := rec.Header().Get("Allow"); rec.Code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allow)
		s.writeProblem(w, r, http.StatusMethodNotAllowed, "method-not-allowed",
			r.Method+" is not allowed here; allowed: "+allow, nil)
		return
	}
	s.writeProblem(w, r, http.StatusNotFound, canopy.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
}

type requestIDKey struct{}
type callerKey struct{}

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

func caller(ctx context.Context) service.Caller {
	c, _ := ctx.Value(callerKey{}).(service.Caller)
	return c
}

// authenticate resolves the bearer key and the acting account (header
// X-Customer-Id) and records the audit facts of the request.
func (s *Server) authenticate(next http.Handler, personal bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			secret = ""
		}
		p, err := s.svc.Authenticate(ctx, strings.TrimSpace(secret))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info := service.RequestInfo{RequestID: requestID(ctx), Channel: channel(r), Username: username(r)}
		customer := r.Header.Get("X-Customer-Id")
		c, err := s.svc.NewCaller(ctx, p, customer, info)
		if err != nil && personal && p.IsUser() && customer == "" && p.AccountID == "" {
			// A person with only invitations to answer acts nowhere yet.
			c, err = service.Caller{Principal: p, RequestID: info.RequestID, Channel: info.Channel, Username: info.Username}, nil
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if lw, ok := w.(*statusWriter); ok {
			lw.acting = c.Acting.ID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, callerKey{}, c)))
	})
}

// channel is the request's X-Channel as the audit trail records it (its
// text was checked by malformedRequest).
func channel(r *http.Request) string {
	return canopy.TruncateChannel(r.Header.Get("X-Channel"))
}

// username is the request's X-Username as the audit trail records it.
func username(r *http.Request) string {
	return truncateRunes(r.Header.Get("X-Username"), 254)
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// metrics are the Prometheus series the API exports.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "canopy_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_http_rate_limited_total",
			Help: "Requests to public endpoints refused with 429 because their client address exceeded its rate, by route.",
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited)
	return m
}

// registerCacheMetrics exports the service's caches' counts (hits,
// misses, evictions, entries and the form cache's estimated bytes), read
// at each scrape, by cache.
func registerCacheMetrics(reg *prometheus.Registry, svc *service.Service) {
	counter := func(name, help string, read func(service.CacheStats) float64) {
		for i, kind := range service.CacheKinds {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: name, Help: help, ConstLabels: prometheus.Labels{"cache": kind},
			}, func() float64 { return read(svc.CacheStats()[i]) }))
		}
	}
	counter("canopy_cache_hits_total", "Lookups the cache answered, by cache (key, account, share, form).",
		func(s service.CacheStats) float64 { return float64(s.Hits) })
	counter("canopy_cache_misses_total", "Lookups the cache could not answer (absent, expired or forgotten), by cache.",
		func(s service.CacheStats) float64 { return float64(s.Misses) })
	counter("canopy_cache_evictions_total", "Entries dropped to stay within the cache's bound, by cache.",
		func(s service.CacheStats) float64 { return float64(s.Evictions) })
	formCache := slices.Index(service.CacheKinds[:], "form")
	for i, kind := range service.CacheKinds {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "canopy_cache_entries", Help: "Entries the cache holds now, by cache.", ConstLabels: prometheus.Labels{"cache": kind},
		}, func() float64 { return float64(svc.CacheStats()[i].Entries) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "canopy_form_cache_bytes", Help: "Estimated memory of the cached forms (bounded by --form-cache-mb).",
	}, func() float64 { return float64(svc.CacheStats()[formCache].Bytes) }))
}

// statusWriter remembers the status for metrics and the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	acting string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument records metrics and one log line per request under the
// route's pattern, so label values stay bounded.
func (s *Server) instrument(pattern string, next http.Handler) http.Handler {
	method, route, _ := strings.Cut(pattern, " ")
	// The route's own series, looked up once rather than per request.
	duration := s.metrics.duration.WithLabelValues(route, method)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := requestID(r.Context())
		s.inFlight.Store(rid, InFlight{Method: r.Method, Path: r.URL.Path, RequestID: rid, Since: start})
		defer s.inFlight.Delete(rid)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, method, itoa(sw.status)).Inc()
		duration.Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("route", route), slog.Int("status", sw.status), slog.Float64("durationMs", float64(elapsed.Microseconds())/1000),
			slog.Int("bytes", sw.bytes), slog.String("requestId", rid), slog.String("actingAccount", sw.acting))
	})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}
