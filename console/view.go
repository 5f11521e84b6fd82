package console

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what every page gets: the brand it wears, who is signed in and
// as which account, a flash message from the previous page, and the page's
// own data and form.
type view struct {
	Title string
	Nonce string
	Brand brand
	// Person is the signed-in person, Acting the account they act as and
	// Home their own account's dashboard; all empty on public pages.
	Person    *canopy.User
	Acting    *canopy.Account
	Home      string
	MayManage bool
	// Section names the console section in the navigation.
	Section   string
	Flash     string
	FlashBad  bool
	RequestID string
	Form      *form
	Data      any
}

// brand is a white_label_portal configuration as a page wears it.
type brand struct {
	Name, Color, Text, Logo string
}

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// brandOf keeps what a page may safely use of a configured brand: a hex
// colour (with black or white text, whichever reads better on it), and a
// logo only over https.
func brandOf(b service.Brand) brand {
	out := brand{Name: b.Name}
	if hexColor.MatchString(b.PrimaryColor) {
		out.Color, out.Text = b.PrimaryColor, textOn(b.PrimaryColor)
	}
	if strings.HasPrefix(b.LogoURL, "https://") {
		out.Logo = b.LogoURL
	}
	return out
}

// textOn picks black or white text for a background colour by WCAG
// relative luminance: one of the two always contrasts at least 4.5:1.
func textOn(hex string) string {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(h[0:2]) + 0.7152*lin(h[2:4]) + 0.0722*lin(h[4:6])
	// Contrast with black is (l+0.05)/0.05, with white 1.05/(l+0.05).
	if (l+0.05)/0.05 >= 1.05/(l+0.05) {
		return "#000000"
	}
	return "#ffffff"
}

// datetime writes a moment as the console's tables show it.
func datetime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// query writes the pairs of keys and values kv as a query string.
func query(kv ...string) template.URL {
	v := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		v = append(v, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
	}
	return template.URL(strings.Join(v, "&"))
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"datetime": datetime,
	"app":      func(accountID string, section ...string) string { return canopy.ConsolePage(accountID, section...) },
	"query":    query,
	"roleName": roleName,
	"lower":    strings.ToLower,
	"inc":      func(i int) int { return i + 1 },
	"pair":     func(a string, b any) pair { return pair{a, b} },
	"sectionOf": func(name, title, about string, s *service.Section, account string) formSection {
		return formSection{Name: name, Title: title, About: about, Section: s, Account: account}
	},
	// Forms, data, credits, audit and outbox pages.
	"typeName": typeName,
	"withCursor": func(q url.Values, cursor string) template.URL {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("cursor", cursor)
		return template.URL(v.Encode())
	},
	"qs":     func(q url.Values) template.URL { return template.URL(q.Encode()) },
	"coord":  coord,
	"num":    formatInt,
	"answer": answerText,
	"options": func(ss []string) []option {
		out := make([]option, len(ss))
		for i, s := range ss {
			out[i] = option{s, s}
		}
		return out
	},
}

// pair hands a template two values: an account id and a row, say.
type pair struct {
	A string
	B any
}

// formSection is one dashboard section as its template renders it.
type formSection struct {
	Name, Title, About string
	Section            *service.Section
	Account            string
}

// roleName is a form role as people read it.
func roleName(r canopy.Role) string {
	switch r {
	case canopy.RoleDataManager:
		return "data manager"
	case "":
		return ""
	}
	return string(r)
}

// parseTemplates parses the layout and partials once, then each page on a
// clone of them, and renders each page with an empty view so that a
// template calling something that does not exist fails at start.
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("console template %s defines no content", name)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page, or a page's fragment for htmx requests that ask
// for one. It renders into a buffer first, so a failing template never
// sends half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t := h.pages[page]
	if t == nil {
		panic("console: no page " + page)
	}
	v.Nonce, v.RequestID = nonce(r), requestID(r)
	if v.Form == nil {
		v.Form = newForm(nil)
	}
	if msg, bad, ok := readFlash(w, r); ok && v.Flash == "" {
		v.Flash, v.FlashBad = msg, bad
	}
	name := "layout"
	if r.Header.Get("HX-Request") == "true" && t.Lookup("fragment") != nil {
		name = "fragment"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		h.log.ErrorContext(r.Context(), "render", "page", page, "err", err.Error(), "requestId", requestID(r))
		http.Error(w, "Something went wrong on our side (request "+requestID(r)+").", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// page renders a console page for rq.
func (h *Handler) page(rq *request, status int, page, section, title string, f *form, data any) error {
	v := &view{
		Title: title, Brand: brandOf(rq.brand), Person: rq.me.User, Acting: rq.me.ActingAccount,
		Home: home(rq.caller.Principal), MayManage: rq.caller.MayManage(), Section: section, Form: f, Data: data,
	}
	h.render(rq.w, rq.r, status, page, v)
	return nil
}

const flashCookie = "canopy_flash"

type flashMsg struct {
	M string `json:"m"`
	B bool   `json:"b,omitempty"`
}

// flash leaves a message for the next page (post/redirect/get).
func (h *Handler) flash(w http.ResponseWriter, msg string, bad bool) {
	b, _ := json.Marshal(flashMsg{M: msg, B: bad})
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// readFlash takes the message the previous page left, once.
func readFlash(w http.ResponseWriter, r *http.Request) (string, bool, bool) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return "", false, false
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return "", false, false
	}
	var m flashMsg
	if json.Unmarshal(b, &m) != nil || m.M == "" {
		return "", false, false
	}
	return m.M, m.B, true
}

// redirect ends a write: the next page shows msg.
func (h *Handler) redirect(rq *request, to, msg string) error {
	if msg != "" {
		h.flash(rq.w, msg, false)
	}
	http.Redirect(rq.w, rq.r, to, http.StatusSeeOther)
	return nil
}

// outcome ends a one-button write (suspend, revoke, accept …): on success
// or on an error a person can read (a conflict, say) it returns to the
// page at to with a message; an error that means the page should not be
// shown at all (not found, signed out, internal) fails the request.
func (h *Handler) outcome(rq *request, to, okMsg string, err error) error {
	if err == nil {
		return h.redirect(rq, to, okMsg)
	}
	switch canopy.ErrorKind(err) {
	case canopy.KindInternal, canopy.KindNotFound, canopy.KindUnauthorized:
		return err
	}
	h.flash(rq.w, peopleText(err), true)
	http.Redirect(rq.w, rq.r, to, http.StatusSeeOther)
	return nil
}

// staticHandler serves the vendored assets.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".sh") || strings.HasSuffix(r.URL.Path, ".md") || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.StripPrefix("/static/", files).ServeHTTP(w, r)
	})
}
