package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"

	"github.com/canopyhq/canopy"
)

// statusOf is the HTTP status of an error kind, as the API answers it.
func statusOf(kind canopy.Kind) int {
	switch kind {
	case canopy.KindBadRequest:
		return http.StatusBadRequest
	case canopy.KindInvalid:
		return http.StatusUnprocessableEntity
	case canopy.KindUnauthorized:
		return http.StatusUnauthorized
	case canopy.KindForbidden:
		return http.StatusForbidden
	case canopy.KindNotFound:
		return http.StatusNotFound
	case canopy.KindConflict:
		return http.StatusConflict
	case canopy.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case canopy.KindPreconditionFailed:
		return http.StatusPreconditionFailed
	case canopy.KindUnavailable:
		return http.StatusServiceUnavailable
	case canopy.KindTooManyRequests:
		return http.StatusTooManyRequests
	case canopy.KindPaymentRequired:
		return http.StatusPaymentRequired
	}
	return http.StatusInternalServerError
}

// httpWords finds text written for API clients — methods and paths,
// headers, query parameters — that means nothing to a person in a browser.
var httpWords = regexp.MustCompile(`(?i)\b(GET|POST|PUT|PATCH|DELETE)\s+/|/v1/|\bheaders?\b|\bX-[A-Za-z]+(-[A-Za-z]+)*\b|\bAuthorization\b|\bBearer\b|Idempotency-Key|If-Match|\bquery\b|\bendpoints?\b|\bHTTP\b|\bstatus code\b`)

// plainText is what a person reads for each kind of error whose service
// message speaks to API clients.
var plainText = map[canopy.Kind]string{
	canopy.KindBadRequest:         "Something in this request was not right. Go back and try again.",
	canopy.KindInvalid:            "Some of what you entered is not valid.",
	canopy.KindUnauthorized:       "Your session has ended. Sign in again.",
	canopy.KindForbidden:          "You may not do this here.",
	canopy.KindNotFound:           "This page does not exist, or you may not see it.",
	canopy.KindConflict:           "This cannot be done as things stand now.",
	canopy.KindTooLarge:           "What you sent is too large.",
	canopy.KindPreconditionFailed: "This changed while you were looking at it. Reload the page and try again.",
	canopy.KindUnavailable:        "The service is busy. Try again in a moment.",
	canopy.KindTooManyRequests:    "Too many attempts. Wait a moment and try again.",
	canopy.KindPaymentRequired:    "There are not enough credits for this.",
	canopy.KindInternal:           "Something went wrong on our side.",
}

// peopleText is an error as a person reads it: the service's message when
// it is written for people, else a plain sentence for its kind. Internal
// errors never show their text.
func peopleText(err error) string {
	var e *canopy.Error
	if !errors.As(err, &e) {
		return plainText[canopy.KindInternal]
	}
	switch e.Code {
	case canopy.CodeRateLimited:
		return fmt.Sprintf("Too many attempts from your address. Try again in %d seconds.", int(math.Ceil(e.RetryAfter.Seconds())))
	case canopy.CodeNotFound:
		return plainText[canopy.KindNotFound]
	}
	return sentence(e.Message, e.Kind)
}

// sentence makes a service message readable: without API words, and
// beginning with a capital letter.
func sentence(msg string, kind canopy.Kind) string {
	if msg == "" || httpWords.MatchString(msg) {
		return plainText[kind]
	}
	if c := msg[0]; c >= 'a' && c <= 'z' {
		msg = string(c-'a'+'A') + msg[1:]
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return msg
}

// statusClientClosedRequest is the status (nginx's) that the request log
// gives a request whose client left before its page: nothing went wrong
// on our side, and nobody reads the page.
const statusClientClosedRequest = 499

// fail answers a request that went wrong with a page: sign-in again for an
// ended session, 404 for anything not visible, the error's own text (for
// people) otherwise. Internal errors are logged and shown only as a
// request id.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *http.MaxBytesError
	switch kind := canopy.ErrorKind(err); {
	case isUnauthorized(err):
		h.toSignIn(w, r)
	case errors.As(err, &me):
		h.errorPage(w, r, http.StatusRequestEntityTooLarge, plainText[canopy.KindTooLarge])
	case kind == canopy.KindNotFound:
		h.errorPage(w, r, http.StatusNotFound, "")
	case canopy.CallerLeft(r.Context(), err):
		h.log.InfoContext(r.Context(), "client left before the page", "err", err.Error(), "requestId", requestID(r), "path", r.URL.Path)
		w.WriteHeader(statusClientClosedRequest)
	case kind == canopy.KindInternal:
		h.log.ErrorContext(r.Context(), "console", "err", err.Error(), "requestId", requestID(r), "path", r.URL.Path)
		h.errorPage(w, r, http.StatusInternalServerError, "")
	default:
		setRetryAfter(w, err)
		h.errorPage(w, r, statusOf(kind), peopleText(err))
	}
}

func setRetryAfter(w http.ResponseWriter, err error) {
	var e *canopy.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
}

// errorPage renders the page for status, with msg or the status's own
// words.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	titles := map[int]string{
		http.StatusNotFound:            "Page not found",
		http.StatusForbidden:           "Not allowed",
		http.StatusTooManyRequests:     "Too many attempts",
		http.StatusInternalServerError: "Something went wrong",
	}
	title, ok := titles[status]
	if !ok {
		title = "This did not work"
	}
	if msg == "" {
		switch status {
		case http.StatusNotFound:
			msg = plainText[canopy.KindNotFound]
		case http.StatusMethodNotAllowed:
			msg = "This page cannot be used that way."
		default:
			msg = plainText[canopy.KindInternal]
		}
	}
	v := &view{Title: title, Data: errorData{Status: status, Message: msg}}
	// Already an error page: a session that cannot be read now only
	// leaves the link home out.
	if p, ok, err := h.principal(r); ok && err == nil {
		v.Home = home(p)
	}
	h.render(w, r, status, "error", v)
}

type errorData struct {
	Status  int
	Message string
}

// formStatus is the status of a form shown again with its errors: the
// service's error's, or 422 for one the console found reading the form.
func formStatus(err error) int {
	if err == nil {
		return http.StatusUnprocessableEntity
	}
	return statusOf(canopy.ErrorKind(err))
}
