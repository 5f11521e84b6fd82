package console

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/service"
)

// The public page of a form's web link, /f/{token}: the form's questions in
// its owner's brand, each as a labelled input, and each submission a
// record (service.SubmitWebForm), with the errors beside the fields. The
// page holds no script; cross-origin posts are refused; each client
// address's submissions draw on the same allowance as the API's public
// endpoints; a field people never see catches form-filling robots.

//go:embed templates/webform
var webformFiles embed.FS

var webformTemplate = template.Must(template.New("webform.html.tmpl").Funcs(template.FuncMap{
	"field": func(id string) string { return "answers." + id },
	"has": func(values []string, v string) bool {
		for _, x := range values {
			if x == v {
				return true
			}
		}
		return false
	},
	"first": func(values []string) string {
		if len(values) == 0 {
			return ""
		}
		return values[0]
	},
}).ParseFS(webformFiles, "templates/webform/*.tmpl"))

// webformHoneypot is the field people never see (it is hidden and skipped
// by keyboard and screen readers); what fills it in is a robot.
const webformHoneypot = "website"

// webformMaxBody bounds a submission.
const webformMaxBody = 256 << 10

// WebFormOptions configure the web form.
type WebFormOptions struct {
	// Limiter is the per-address allowance of public requests, shared
	// with the API's public endpoints; nil limits nothing.
	Limiter *ratelimit.Limiter
	Logger  *slog.Logger
	// IDs makes request ids (the audit trail's); a fresh source when nil.
	IDs *canopy.IDs
}

type webformServer struct {
	svc     *service.Service
	limiter *ratelimit.Limiter
	log     *slog.Logger
	ids     *canopy.IDs
}

// NewWebForm returns the handler of the web links' public page, to mount
// at canopy.WebFormPage("") ("/f/"): GET /f/{token} shows the form, POST
// submits it.
func NewWebForm(svc *service.Service, opts WebFormOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IDs == nil {
		opts.IDs = canopy.NewIDs(nil, nil)
	}
	s := &webformServer{svc: svc, limiter: opts.Limiter, log: opts.Logger, ids: opts.IDs}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+canopy.WebFormPagePattern, s.show)
	mux.HandleFunc("POST "+canopy.WebFormPagePattern, s.submit)
	mux.HandleFunc(canopy.WebFormPage(""), func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, &webformPage{State: "missing"})
	})
	return http.NewCrossOriginProtection().Handler(mux)
}

// webformPage is what the template shows.
type webformPage struct {
	// State: form, thanks, closed, missing, busy, unavailable, error.
	State string
	Nonce string
	Brand string
	// Color is the owner's primary colour and TextColor black or white,
	// whichever reads better on it (brandOf).
	Color     template.CSS
	TextColor template.CSS
	Action    string
	Form      *service.WebForm
	Values    map[string][]string // by question id, as typed
	Errors    map[string]string   // by question id
	Problem   string              // above the form
	Questions []webformQuestion   // the form's, with their inputs' state
}

// webformQuestion is a question with what the page shows beside it.
type webformQuestion struct {
	canopy.Question
	Values []string
	Lat    string
	Lng    string
	Error  string
}

// webformDefaultColor is the accent when the owner's brand sets none.
const webformDefaultColor = "#2f6f4e"

func (s *webformServer) page(f *service.WebForm, token string) *webformPage {
	p := &webformPage{State: "form", Form: f, Action: canopy.WebFormPage(token), Values: map[string][]string{}, Errors: map[string]string{}}
	p.Brand = f.Brand.Name
	if p.Brand == "" {
		p.Brand = f.Name
	}
	if b := brandOf(f.Brand); b.Color != "" {
		p.Color, p.TextColor = template.CSS(b.Color), template.CSS(b.Text)
	}
	return p
}

func (s *webformServer) show(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	f, err := s.svc.GetWebForm(r.Context(), token)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	p := s.page(f, token)
	switch {
	case f.State != canopy.LinkOpen:
		p.State = "closed"
		s.render(w, r, http.StatusGone, p)
	case r.URL.Query().Get("sent") == "1":
		p.State = "thanks"
		s.render(w, r, http.StatusOK, p)
	default:
		s.render(w, r, http.StatusOK, p)
	}
}

func (s *webformServer) submit(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	// The allowance is spent before anything is read: a flood from one
	// address costs a map lookup each.
	if wait := s.limiter.Allow(r); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		s.render(w, r, http.StatusTooManyRequests, &webformPage{State: "busy",
			Problem: fmt.Sprintf("Too many answers from your address; please try again in %d seconds.", int(math.Ceil(wait.Seconds())))})
		return
	}
	f, err := s.svc.GetWebForm(r.Context(), token)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	p := s.page(f, token)
	r.Body = http.MaxBytesReader(w, r.Body, webformMaxBody)
	if err := r.ParseForm(); err != nil {
		p.Problem = "Your answers could not be read; please send them again."
		s.render(w, r, http.StatusBadRequest, p)
		return
	}
	var v canopy.Validator
	canopy.ValidateFormValues(&v, r.PostForm)
	if err := v.Err(); err != nil {
		s.fail(w, r, p, err)
		return
	}
	for _, q := range f.Questions {
		name := "answers." + q.ID
		switch q.Type {
		case canopy.QuestionMultiChoice:
			p.Values[q.ID] = r.PostForm[name]
		case canopy.QuestionLocation:
			lat, lng := strings.TrimSpace(r.PostForm.Get(name+".lat")), strings.TrimSpace(r.PostForm.Get(name+".lng"))
			if lat != "" || lng != "" {
				p.Values[q.ID] = []string{lat + "," + lng}
			}
		default:
			p.Values[q.ID] = []string{r.PostForm.Get(name)}
		}
	}
	if r.PostForm.Get(webformHoneypot) != "" {
		// Thanked like a person, so the robot learns nothing; nothing is
		// written.
		s.log.InfoContext(r.Context(), "web form: honeypot filled; submission dropped", "form", f.FormID, "link", f.LinkID)
		http.Redirect(w, r, p.Action+"?sent=1", http.StatusSeeOther)
		return
	}
	rid := s.ids.ULID()
	w.Header().Set("X-Request-Id", rid)
	if _, err := s.svc.SubmitWebForm(r.Context(), token, p.Values, rid); err != nil {
		s.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, p.Action+"?sent=1", http.StatusSeeOther)
}

// fail answers an error from the service: field errors beside their
// fields (422), a closed or unknown link, or a form that cannot take
// answers now.
func (s *webformServer) fail(w http.ResponseWriter, r *http.Request, p *webformPage, err error) {
	var e *canopy.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "web form", "err", err.Error(), "path", r.URL.Path)
		s.render(w, r, http.StatusInternalServerError, &webformPage{State: "error"})
		return
	}
	switch {
	case e.Kind == canopy.KindNotFound:
		s.render(w, r, http.StatusNotFound, &webformPage{State: "missing"})
	case e.Code == service.CodeLinkClosed:
		p.State = "closed"
		s.render(w, r, http.StatusGone, p)
	case e.Kind == canopy.KindInvalid && p != nil:
		for _, fe := range e.Fields {
			// answers.<id>, or answers.<id>.lat for a location's part.
			id, _, _ := strings.Cut(strings.TrimPrefix(fe.Field, "answers."), ".")
			p.Errors[id] = webformMessage(fe)
		}
		p.Problem = "Some answers need another look; they are marked below."
		s.render(w, r, http.StatusUnprocessableEntity, p)
	case e.Kind == canopy.KindPaymentRequired && p != nil:
		p.Problem = "This form cannot take answers right now; please try again later."
		w.Header().Set("Retry-After", "3600")
		s.render(w, r, http.StatusServiceUnavailable, p)
	default:
		s.log.WarnContext(r.Context(), "web form", "err", err.Error(), "path", r.URL.Path)
		s.render(w, r, http.StatusServiceUnavailable, &webformPage{State: "unavailable"})
	}
}

// webformMessage words a field error for the person filling the form in.
func webformMessage(fe canopy.FieldError) string {
	if fe.Code == "required" {
		return "This question needs an answer."
	}
	m := fe.Message
	if m == "" {
		return "This answer is not valid."
	}
	return "This answer " + m + "."
}

func (s *webformServer) render(w http.ResponseWriter, r *http.Request, status int, p *webformPage) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	p.Nonce = base64.RawURLEncoding.EncodeToString(nonce) // no + or /, which the template would escape
	if p.Color == "" {
		p.Color, p.TextColor = webformDefaultColor, template.CSS(textOn(webformDefaultColor))
	}
	if p.Brand == "" {
		p.Brand = "Canopy"
	}
	if p.Form != nil {
		p.Questions = make([]webformQuestion, len(p.Form.Questions))
		for i, q := range p.Form.Questions {
			wq := webformQuestion{Question: q, Values: p.Values[q.ID], Error: p.Errors[q.ID]}
			if q.Type == canopy.QuestionLocation && len(wq.Values) == 1 {
				wq.Lat, wq.Lng, _ = strings.Cut(wq.Values[0], ",")
			}
			p.Questions[i] = wq
		}
	}
	h := w.Header()
	// No script at all; the one style element carries this response's
	// nonce; nothing may frame the page, and its URL (which holds the
	// link's token) is never sent on as a referrer.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+p.Nonce+"'; img-src 'self' data:; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := webformTemplate.Execute(&b, p); err != nil {
		s.log.ErrorContext(r.Context(), "web form: render", "err", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
