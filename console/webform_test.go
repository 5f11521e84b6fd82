package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/console"
	"github.com/canopyhq/canopy/internal/ratelimit"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// webformWorld is a clinic (pro) under the platform root, with its brand,
// a form of every question type and credits; h serves its web links.
type webformWorld struct {
	b      *testfactory.Bundle
	clinic *canopy.Account
	form   *service.FormView
	h      http.Handler
}

var everyType = []canopy.Question{
	{ID: "name", Label: "Your name", Type: canopy.QuestionText, Required: true},
	{ID: "age", Label: "Age", Type: canopy.QuestionNumber},
	{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"Female", "Male"}},
	{ID: "symptoms", Label: "Symptoms", Type: canopy.QuestionMultiChoice, Options: []string{"Fever", "Cough", "Rash"}},
	{ID: "visit", Label: "Visit date", Type: canopy.QuestionDate},
	{ID: "where", Label: "Where", Type: canopy.QuestionLocation},
	{ID: "photo", Label: "Photo", Type: canopy.QuestionPhoto},
}

func newWebformWorld(t *testing.T, db *sqlstore.DB, limit *ratelimit.Limiter) *webformWorld {
	t.Helper()
	ctx := context.Background()
	b := testfactory.New(t, db)
	in := b.ChildInput()
	in.Account.Plan = canopy.PlanPro
	res, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
	require.NoError(t, err)
	clinic := res.Account
	b.Fund(t, clinic.ID)
	_, err = b.Svc.PutConfiguration(ctx, b.As(t, clinic.ID), clinic.ID, service.BrandNamespace, []byte(`{"brandName": "Acme Clinic", "primaryColor": "#FF6600"}`))
	require.NoError(t, err)
	f, err := b.Svc.CreateForm(ctx, b.As(t, clinic.ID), service.FormInput{Name: "Intake", Description: "Tell us <how> you are", Questions: everyType})
	require.NoError(t, err)
	return &webformWorld{b: b, clinic: clinic, form: f, h: console.NewWebForm(b.Svc, console.WebFormOptions{Limiter: limit})}
}

func (w *webformWorld) link(t *testing.T, in service.LinkInput) *service.LinkView {
	t.Helper()
	l, err := w.b.Svc.CreateLink(context.Background(), w.b.As(t, w.clinic.ID), w.form.ID, in)
	require.NoError(t, err)
	return l
}

func (w *webformWorld) records(t *testing.T) []*canopy.Record {
	t.Helper()
	p, err := w.b.Svc.ListRecords(context.Background(), w.b.As(t, w.clinic.ID), w.form.ID, service.RecordQuery{}, service.PageRequest{})
	require.NoError(t, err)
	return p.Data
}

func (w *webformWorld) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func (w *webformWorld) post(path string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

func valid() url.Values {
	return url.Values{"answers.name": {"Ada"}, "answers.age": {"34"}, "answers.sex": {"Female"},
		"answers.symptoms": {"Fever", "Rash"}, "answers.visit": {"2026-11-20"}, "answers.where.lat": {"-1.29"},
		"answers.where.lng": {"36.82"}, "answers.photo": {"https://photos.example/1.jpg"}, "website": {""}}
}

// TestWebFormShowsEveryQuestionAsALabelledInput: the page is in the
// owner's brand, each question a labelled control of its kind, under a
// strict Content-Security-Policy with no script and no inline style but
// the nonce'd one.
func TestWebFormShowsEveryQuestionAsALabelledInput(t *testing.T) {
	w := newWebformWorld(t, testdb.SQLite(t), nil)
	l := w.link(t, service.LinkInput{})
	res := w.get("/f/" + l.Token)
	require.Equal(t, http.StatusOK, res.Code)
	page := res.Body.String()
	for _, want := range []string{
		`<header>Acme Clinic</header>`, `--brand: #FF6600; --brand-text: #000000;`, `Tell us &lt;how&gt; you are`,
		`<label for="q-name">Your name <span class="required">(required)</span></label>`,
		`<input id="q-name" name="answers.name" type="text"`, `<input id="q-age" name="answers.age" type="text" inputmode="decimal"`,
		`<legend>Sex</legend>`, `<input id="q-sex-1" name="answers.sex" type="radio" value="Male"><label for="q-sex-1">Male</label>`,
		`<input id="q-symptoms-2" name="answers.symptoms" type="checkbox" value="Rash"><label for="q-symptoms-2">Rash</label>`,
		`<input id="q-visit" name="answers.visit" type="date"`, `<label for="q-where-lat">Latitude</label>`,
		`name="answers.where.lng"`, `<input id="q-photo" name="answers.photo" type="url"`,
		`<div class="hp" aria-hidden="true"><label for="website">Leave this field empty</label><input id="website" name="website" type="text" tabindex="-1"`,
		`<form method="post" action="/f/` + l.Token + `" novalidate>`,
	} {
		require.Contains(t, page, want)
	}
	csp := res.Header().Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
	require.NotNil(t, nonce, csp)
	require.Contains(t, page, `<style nonce="`+nonce[1]+`">`)
	require.Contains(t, csp, "default-src 'none'")
	require.NotContains(t, csp, "unsafe-inline")
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, ` style="`, "no inline style attributes")
	require.Equal(t, "no-referrer", res.Header().Get("Referrer-Policy"), "the URL holds the token")
	require.NotEqual(t, nonce[1], regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(w.get("/f/" + l.Token).Header().Get("Content-Security-Policy"))[1],
		"a nonce per response")
}

// TestWebFormSubmissions: a valid submission is a record and a redirect to
// the thank-you page; a wrong one is answered 422 with each error beside
// its field and the answers kept; a closed link is 410 and an unknown one
// 404; the honeypot, a cross-origin post and a payer without credits write
// nothing.
func TestWebFormSubmissions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWebformWorld(t, db, nil)
		l := w.link(t, service.LinkInput{MaxSubmissions: ptr(3)})
		path := "/f/" + l.Token

		res := w.post(path, valid())
		require.Equal(t, http.StatusSeeOther, res.Code, res.Body.String())
		require.Equal(t, path+"?sent=1", res.Header().Get("Location"))
		recs := w.records(t)
		require.Len(t, recs, 1)
		require.JSONEq(t, `{"lat": -1.29, "lng": 36.82}`, string(recs[0].Answers["where"]))
		require.JSONEq(t, `["Fever", "Rash"]`, string(recs[0].Answers["symptoms"]))
		require.JSONEq(t, `34`, string(recs[0].Answers["age"]))
		thanks := w.get(path + "?sent=1")
		require.Equal(t, http.StatusOK, thanks.Code)
		require.Contains(t, thanks.Body.String(), "Your answers to Intake were saved.")

		bad := valid()
		bad.Set("answers.name", "")
		bad.Set("answers.age", "thirty")
		bad.Set("answers.visit", "yesterday")
		res = w.post(path, bad)
		require.Equal(t, http.StatusUnprocessableEntity, res.Code)
		page := res.Body.String()
		require.Contains(t, page, `<p class="error" id="q-name-error">This question needs an answer.</p>`)
		require.Contains(t, page, `<p class="error" id="q-age-error">This answer must be a number.</p>`)
		require.Contains(t, page, `aria-invalid="true" aria-describedby="q-visit-error"`)
		require.Contains(t, page, `value="thirty"`, "answers are kept")
		require.Contains(t, page, `value="Rash" checked`)
		require.Len(t, w.records(t), 1)

		honey := valid()
		honey.Set("website", "http://spam.example")
		res = w.post(path, honey)
		require.Equal(t, http.StatusSeeOther, res.Code, "thanked like a person")
		require.Len(t, w.records(t), 1, "but nothing written")

		res = w.post(path, valid(), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		require.Equal(t, http.StatusForbidden, res.Code, "cross-origin posts are refused")
		require.Len(t, w.records(t), 1)

		require.Equal(t, http.StatusSeeOther, w.post(path, valid(), "Sec-Fetch-Site", "same-origin").Code)
		require.Equal(t, http.StatusSeeOther, w.post(path, valid()).Code)
		res = w.post(path, valid())
		require.Equal(t, http.StatusGone, res.Code, "the cap of three is reached")
		require.Contains(t, res.Body.String(), "This form no longer takes answers through this link.")
		require.Equal(t, http.StatusGone, w.get(path).Code)
		require.Len(t, w.records(t), 3)

		require.Equal(t, http.StatusNotFound, w.get("/f/cnf_nothing").Code)
		require.Equal(t, http.StatusNotFound, w.post("/f/cnf_nothing", valid()).Code)
		require.Equal(t, http.StatusNotFound, w.get("/f/").Code)

		// Revoked, and expired.
		revoked := w.link(t, service.LinkInput{})
		require.NoError(t, w.b.Svc.RevokeLink(context.Background(), w.b.As(t, w.clinic.ID), w.form.ID, revoked.ID))
		require.Equal(t, http.StatusGone, w.get("/f/"+revoked.Token).Code)
		require.Equal(t, http.StatusGone, w.post("/f/"+revoked.Token, valid()).Code)
		soon := w.b.Clock.Now().Add(time.Hour)
		expiring := w.link(t, service.LinkInput{ExpiresAt: &soon})
		require.Equal(t, http.StatusOK, w.get("/f/"+expiring.Token).Code)
		w.b.Clock.Advance(time.Hour)
		require.Equal(t, http.StatusGone, w.get("/f/"+expiring.Token).Code)
		require.Equal(t, http.StatusGone, w.post("/f/"+expiring.Token, valid()).Code)

		// No credit, no record: the page says so and keeps the answers.
		open := w.link(t, service.LinkInput{})
		cr, err := w.b.Svc.GetCredits(context.Background(), w.b.As(t, w.b.Root.ID), w.clinic.ID)
		require.NoError(t, err)
		for _, x := range cr.Balances {
			if x.Type == canopy.CreditUpload {
				_, err = w.b.Svc.Transfer(context.Background(), w.b.As(t, w.clinic.ID), w.b.Child(t, w.clinic.ID).ID,
					service.GrantInput{Type: canopy.CreditUpload, Amount: x.Amount})
				require.NoError(t, err)
			}
		}
		res = w.post("/f/"+open.Token, valid())
		require.Equal(t, http.StatusServiceUnavailable, res.Code)
		require.Contains(t, res.Body.String(), "This form cannot take answers right now")
		require.Contains(t, res.Body.String(), `value="Ada"`)
		require.Len(t, w.records(t), 3)
	})
}

// TestWebFormRateLimit: submissions from one address draw on the public
// allowance (429 with Retry-After once it is spent); another address has
// its own; showing the page costs nothing.
func TestWebFormRateLimit(t *testing.T) {
	clock := testfactory.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	limiter := ratelimit.New(ratelimit.Config{Limit: rate.Every(time.Minute), Burst: 2, Now: clock.Now})
	w := newWebformWorld(t, testdb.SQLite(t), limiter)
	path := "/f/" + w.link(t, service.LinkInput{}).Token
	for range 5 {
		require.Equal(t, http.StatusOK, w.get(path).Code)
	}
	require.Equal(t, http.StatusSeeOther, w.post(path, valid()).Code)
	require.Equal(t, http.StatusSeeOther, w.post(path, valid()).Code)
	res := w.post(path, valid())
	require.Equal(t, http.StatusTooManyRequests, res.Code)
	require.Equal(t, "60", res.Header().Get("Retry-After"))
	require.Contains(t, res.Body.String(), "please try again in 60 seconds")
	other := httptest.NewRequest(http.MethodPost, path, strings.NewReader(valid().Encode()))
	other.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	other.RemoteAddr = "198.51.100.7:1234"
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, other)
	require.Equal(t, http.StatusSeeOther, rec.Code, "another address")
	require.Len(t, w.records(t), 3)
	clock.Advance(time.Minute)
	require.Equal(t, http.StatusSeeOther, w.post(path, valid()).Code, "a token back after a minute")
}

func ptr[T any](v T) *T { return &v }
