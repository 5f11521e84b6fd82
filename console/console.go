// Package console serves Canopy's web side: the public pages that emails
// link to (sign-in, set-password, reset, sign-up, invitations) and the
// console where signed-in people act for their accounts. Pages are rendered
// on the server with html/template and call package service directly, the
// same operations the JSON API calls, so every rule holds in the browser
// exactly as over the API: a handler reads a small form, calls one service
// method, and renders what it answers. routes.go is the whole surface.
package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/service"
)

// DefaultMaxBodyBytes bounds the forms the console accepts.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Handler.
type Options struct {
	Logger *slog.Logger
	IDs    *canopy.IDs
	// PublicURL is where people reach the console; under https the session
	// cookie is marked Secure.
	PublicURL string
	// Limiter is the per-client limit of the public pages that sign in,
	// set passwords, send resets and sign up: the API's limiter, so that a
	// client has one allowance for both. Nil limits nothing.
	Limiter *ratelimit.Limiter
	// MaxBodyBytes bounds a submitted form; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// Clock is the service's clock, against which a session's end is
	// turned into the cookie's lifetime; time.Now when nil.
	Clock func() time.Time
}

// Handler is the web side over one service.
type Handler struct {
	svc     *service.Service
	log     *slog.Logger
	ids     *canopy.IDs
	secure  bool
	limiter *ratelimit.Limiter
	maxBody int64
	pages   map[string]*template.Template
	mux     *http.ServeMux
	csrf    *http.CrossOriginProtection
	now     func() time.Time
}

// New returns the console. Its templates are parsed and checked now, so a
// broken template stops the server from starting rather than a page from
// rendering.
func New(svc *service.Service, opts Options) (*Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IDs == nil {
		opts.IDs = canopy.NewIDs(nil, nil)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		svc: svc, log: opts.Logger, ids: opts.IDs, limiter: opts.Limiter, maxBody: opts.MaxBodyBytes,
		secure: strings.HasPrefix(strings.ToLower(opts.PublicURL), "https://"),
		pages:  pages, mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection(), now: opts.Clock,
	}
	h.csrf.SetDenyHandler(http.HandlerFunc(h.crossOrigin))
	h.registerRoutes()
	return h, nil
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	nonceKey
)

// ServeHTTP sets the headers every page carries and refuses cross-origin
// writes before any handler runs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := h.ids.ULID()
	nonce := newNonce()
	hd := w.Header()
	hd.Set("X-Request-Id", rid)
	// Scripts come only from our own files; the one inline <style> (the
	// account's brand colour) carries this response's nonce.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-"+nonce+"'; "+
		"img-src 'self' data: https:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Links carry one-time tokens in their query: never pass them on.
	hd.Set("Referrer-Policy", "no-referrer")
	ctx := context.WithValue(r.Context(), requestIDKey, rid)
	ctx = context.WithValue(ctx, nonceKey, nonce)
	r = r.WithContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "requestId", rid, "path", r.URL.Path)
			h.errorPage(w, r, http.StatusInternalServerError, "")
		}
	}()
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h.csrf.Handler(http.HandlerFunc(h.route)).ServeHTTP(sw, r)
	h.log.Log(ctx, levelFor(sw.status), "page", "method", r.Method, "path", r.URL.Path, "status", sw.status,
		"durationMs", float64(time.Since(start).Microseconds())/1000, "requestId", rid)
}

// route serves a request from the mux, or answers with a page when no
// route matches.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.errorPage(w, r, http.StatusNotFound, "")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// crossOrigin answers a write from another site: a page on another origin
// may link here, never post here.
func (h *Handler) crossOrigin(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusForbidden,
		"This form was sent from another website, so it was refused. Open the page here and send it again.")
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func requestID(r *http.Request) string {
	s, _ := r.Context().Value(requestIDKey).(string)
	return s
}

func nonce(r *http.Request) string {
	s, _ := r.Context().Value(nonceKey).(string)
	return s
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
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
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
