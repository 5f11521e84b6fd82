package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// sessionCookie holds the service's own session token (the one
// POST /v1/auth/login returns): the console resolves it with the same
// service.Authenticate and service.Act the API uses, so a session means the
// same thing on both edges. HttpOnly keeps it from scripts; SameSite=Lax
// keeps it off cross-site posts (which CrossOriginProtection also refuses).
const sessionCookie = "canopy_session"

// channel is what the audit trail records as the channel of console writes.
const channel = "console"

// request is one console request: the signed-in person acting as an
// account, and what every page shows about them.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	caller service.Caller
	me     *service.Me
	brand  service.Brand
}

// info is what the audit trail records of a public page's request.
func info(r *http.Request) service.RequestInfo {
	return service.RequestInfo{RequestID: requestID(r), Channel: channel}
}

// setSession keeps the session token in the cookie for as long as the
// session lasts at most (MaxAge, so that the browser's clock does not
// matter); the idle limit ends it sooner on the server.
func (h *Handler) setSession(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", MaxAge: max(1, int(expires.Sub(h.now()).Seconds())),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// principal resolves the session cookie, if any, to a signed-in person.
// Only sessions count: an API key is for programs, not browsers. No
// cookie, or a session that ended, is no person (false); a session that
// could not be read (the store failing, the visitor gone) is the error,
// for the page to report rather than send a person whose session is live
// to sign in again.
func (h *Handler) principal(r *http.Request) (service.Principal, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return service.Principal{}, false, nil
	}
	p, err := h.svc.Authenticate(r.Context(), c.Value)
	switch {
	case isUnauthorized(err):
		return service.Principal{}, false, nil
	case err != nil:
		return service.Principal{}, false, err
	}
	return p, p.IsUser(), nil
}

// signedInAs is the request's signed-in person, for a page that needs
// one; when false it has answered: with the sign-in page when there is no
// live session, with the error page when the session could not be read.
func (h *Handler) signedInAs(w http.ResponseWriter, r *http.Request) (service.Principal, bool) {
	p, ok, err := h.principal(r)
	switch {
	case err != nil:
		h.fail(w, r, err)
	case !ok:
		h.toSignIn(w, r)
	}
	return p, ok
}

// signedIn wraps a console page: it needs a session, and acts as the
// account named in the URL, which the person must be allowed to act as —
// any other account, existing or not, is the same 404 page.
func (h *Handler) signedIn(fn func(*request) error) http.HandlerFunc {
	return h.signedInReading(false, fn)
}

// view wraps a signed-in page that only reads: what it reads once the
// session is resolved — the person, the brand and the page's data — comes
// from one read transaction (service.Snapshot), one snapshot and one
// BEGIN and COMMIT however many service methods it calls. A write from it
// fails (store.ErrReadOnly).
func (h *Handler) view(fn func(*request) error) http.HandlerFunc {
	return h.signedInReading(true, fn)
}

func (h *Handler) signedInReading(oneRead bool, fn func(*request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		if err := readText(r); err != nil {
			h.fail(w, r, err)
			return
		}
		p, ok := h.signedInAs(w, r)
		if !ok {
			return
		}
		caller, err := h.svc.NewCaller(r.Context(), p, r.PathValue("account"), info(r))
		if err != nil {
			if canopy.ErrorKind(err) == canopy.KindBadRequest {
				// Not an account id at all: as absent as any other.
				err = canopy.NotFound("account")
			}
			h.fail(w, r, err)
			return
		}
		rq := &request{w: w, r: r, caller: caller}
		serve := func(ctx context.Context) (err error) {
			rq.r = r.WithContext(ctx)
			if rq.me, rq.brand, err = h.svc.WhoAmIWithBrand(ctx, rq.caller); err != nil {
				return err
			}
			return fn(rq)
		}
		if oneRead {
			err = h.svc.Snapshot(r.Context(), serve)
		} else {
			err = serve(r.Context())
		}
		if err != nil {
			h.fail(w, r, err)
		}
	}
}

// public wraps a public page: it may run with or without a session.
func (h *Handler) public(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		if err := readText(r); err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r)
	}
}

// readText reads the request's form (its query and a posted form) and
// refuses it, naming the field, when a name or value is not text Canopy
// stores (the text model, canopy.TextProblem): before any handler reads
// it. A page's own forms always send UTF-8; this stops a hand-made post.
func readText(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			return err
		}
		return canopy.BadParam("form", "invalid", "the form could not be read")
	}
	var v canopy.Validator
	canopy.ValidateFormValues(&v, r.Form)
	if err := v.Err(); err != nil {
		var e *canopy.Error
		if errors.As(err, &e) {
			e.Kind = canopy.KindBadRequest
		}
		return err
	}
	return nil
}

// toSignIn sends a visitor without a session to the sign-in page, which
// brings them back here afterwards.
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	h.clearSession(w)
	if r.Method != http.MethodGet {
		// A form's address is no page to come back to: start from home.
		h.flash(w, "Your session has ended. Sign in again, then send the form again.", true)
		http.Redirect(w, r, canopy.PageSignIn, http.StatusSeeOther)
		return
	}
	next := r.URL.Path
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, canopy.PageSignIn+"?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
}

// localPath returns next when it is a path on this site, else "": the
// sign-in page must never send a person on to another site.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return next
}

// home is where a signed-in person lands: the dashboard of the account
// their session acts in by default, or, for a person who belongs to no
// account yet, the console's front page (their invitations).
func home(p service.Principal) string {
	if p.AccountID == "" {
		return canopy.PageConsole
	}
	return canopy.ConsolePage(p.AccountID)
}

// isUnauthorized reports whether err means the session is gone.
func isUnauthorized(err error) bool {
	var e *canopy.Error
	return errors.As(err, &e) && e.Kind == canopy.KindUnauthorized
}
