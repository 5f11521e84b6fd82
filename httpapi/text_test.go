package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// hostileText is what the fuzz experiment sent: each value is the inside of
// a JSON string literal, raw bytes and escapes as they go on the wire.
var hostileText = []struct {
	name, literal string
	refused       bool // refused as text (invalid-text), whatever the field
}{
	{"NUL escape", `a\u0000b`, true},
	{"lone high surrogate", `\ud800`, true},
	{"lone low surrogate", `x\udc00y`, true},
	{"high surrogate then a letter", `\ud800\u0041`, true},
	{"invalid UTF-8 bytes", "\xff\xfe", true},
	{"overlong slash", "\xc0\xaf", true},
	{"CESU surrogate", "\xed\xa0\x80", true},
	{"truncated sequence", "ab\xe2\x82", true},
	{"a surrogate pair", `\ud83d\ude00`, false},
	{"escapes and HTML", `caf\u00e9 <b>&amp;</b> \"q\" \\ \/`, false},
	{"1 KiB", strings.Repeat("k", 1<<10), false},
	{"64 KiB", strings.Repeat("é", 32<<10), false},
	{"300 KiB", strings.Repeat("m", 300<<10), false},
}

// answer is what a client can compare of two responses: the status, the
// problem's code and the fields it names.
type answer struct {
	Status int
	Code   string
	Fields string
}

func answerOf(t *testing.T, r *response) answer {
	t.Helper()
	a := answer{Status: r.Status}
	if r.Status >= 400 {
		var p Problem
		r.Decode(t, &p)
		a.Code = p.Code
		var fs []string
		for _, f := range p.Errors {
			fs = append(fs, f.Field+":"+f.Code)
		}
		a.Fields = strings.Join(fs, ",")
	}
	return a
}

// formWorld is a funded child of the root with a form of the given
// questions.
func formWorld(t *testing.T, db *sqlstore.DB, questions ...map[string]any) (a *testAPI, d *driver, child, form string) {
	t.Helper()
	a = newTestAPI(t, db)
	d = &driver{t: t, api: a}
	child = d.child(a.Root.ID)
	a.Fund(t, child)
	form = idOf(t, d.call(http.StatusCreated, http.MethodPost, "/v1/forms", map[string]any{
		"name": "F", "questions": questions}, as(child)))
	return a, d, child, form
}

// TestHostileTextAnswersAlikeOnBothEngines sends every hostile string of
// the fuzz experiment into every kind of text field, public sign-in
// included, on both engines. No answer is a 5xx; text that is not valid
// UTF-8, holds NUL or a lone surrogate is refused with 422 naming the
// field (nothing is written); and both engines give the same answers.
func TestHostileTextAnswersAlikeOnBothEngines(t *testing.T) {
	answers := map[string][]answer{}
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a, _, child, form := formWorld(t, db, map[string]any{"id": "site", "label": "Site", "type": "text"})
		targets := []struct {
			method, path, body, field string
			public                    bool
		}{
			{"POST", "/v1/accounts", `{"account":{"name":"N%s"}}`, "account.name", false},
			{"POST", "/v1/accounts", `{"account":{"name":"A","metadata":{"k":"%s"}}}`, "account.metadata.k", false},
			{"POST", "/v1/accounts", `{"account":{"name":"A","metadata":{"%s":"v"}}}`, "account.metadata", false},
			{"POST", "/v1/accounts", `{"account":{"name":"A"},"externalReferences":[{"type":"crm","value":"%s"}]}`, "externalReferences[0].value", false},
			{"POST", "/v1/accounts", `{"account":{"name":"A"},"configurations":{"ns":{"a":["%s"]}}}`, "configurations.ns.a[0]", false},
			{"PATCH", "/v1/accounts/" + child, `{"name":"%s"}`, "name", false},
			{"POST", "/v1/accounts/" + child + "/api-keys", `{"name":"%s"}`, "name", false},
			{"PUT", "/v1/accounts/" + child + "/configurations/ns", `{"a":"%s"}`, "body.a", false},
			{"POST", "/v1/forms", `{"name":"%s"}`, "name", false},
			{"POST", "/v1/forms", `{"name":"F","questions":[{"id":"q","label":"%s","type":"text"}]}`, "questions[0].label", false},
			{"POST", "/v1/forms", `{"name":"F","questions":[{"id":"q","label":"L","type":"choice","options":["%s"]}]}`, "questions[0].options[0]", false},
			{"POST", "/v1/forms/" + form + "/records", `{"answers":{"site":"%s"}}`, "answers.site", false},
			{"POST", "/v1/contacts", `{"email":"c@example.com","notes":"%s"}`, "notes", false},
			{"POST", "/v1/invitations", `{"email":"i@example.com","message":"%s"}`, "message", false},
			{"POST", "/v1/usage", `{"type":"upload","quantity":1,"reference":"%s"}`, "reference", false},
			{"POST", "/v1/auth/login", `{"login":"%s","password":"x"}`, "login", true},
			{"POST", "/v1/signup", `{"accountName":"%s","email":"s@example.com"}`, "accountName", true},
			{"POST", "/v1/auth/password-reset", `{"email":"%s@example.com"}`, "email", true},
		}
		for _, tg := range targets {
			for _, h := range hostileText {
				key := fmt.Sprintf("%s %s %s / %s", tg.method, tg.path, tg.field, h.name)
				if strings.Contains(tg.path, child) || strings.Contains(tg.path, form) {
					key = fmt.Sprintf("%s %s / %s", tg.method, tg.field, h.name) // ids differ per engine
				}
				rq := req{Method: tg.method, Path: tg.path, Body: fmt.Sprintf(tg.body, h.literal)}
				if !tg.public {
					rq.Key, rq.As = a.RootKey, child
				}
				res := a.do(t, rq)
				got := answerOf(t, res)
				require.Less(t, got.Status, 500, "%s: %s", key, res.Body)
				if h.refused {
					require.Equal(t, http.StatusUnprocessableEntity, got.Status, "%s: %s", key, res.Body)
					require.Equal(t, tg.field+":invalid-text", got.Fields, "%s", key)
				}
				answers[key] = append(answers[key], got)
			}
		}
		// The login of a hundred thousand bytes, refused before hashing.
		res := a.do(t, req{Method: "POST", Path: "/v1/auth/login",
			Body: `{"login":"` + strings.Repeat("l", 100_000) + `","password":"x"}`})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
		answers["100k login"] = append(answers["100k login"], answerOf(t, res))
	})
	if testing.Short() || len(answers["100k login"]) < 2 {
		return // one engine ran: nothing to compare
	}
	for key, got := range answers {
		require.Equal(t, got[0], got[1], "%s: SQLite and PostgreSQL answer differently", key)
	}
}

// TestRecordAnswersReadBackAlikeOnBothEngines: answers are kept as the
// text the service wrote on both engines, so a record reads back the same
// from SQLite and PostgreSQL (numbers as written, escapes, key order), a
// PATCH that repeats them changes nothing on either, and a number no
// float64 holds is refused on both.
func TestRecordAnswersReadBackAlikeOnBothEngines(t *testing.T) {
	read := map[string][]string{}
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		_, d, child, form := formWorld(t, db,
			map[string]any{"id": "n", "label": "N", "type": "number"},
			map[string]any{"id": "loc", "label": "Where", "type": "location"},
			map[string]any{"id": "t", "label": "T", "type": "text"})
		answers := `{"n": 1.50e3, "loc": {"lng": 2.50, "lat": -0.0, "accuracy": 1e1}, "t": "caf\u00e9 <b>\u2028"}`
		rec := idOf(t, d.call(http.StatusCreated, http.MethodPost, "/v1/forms/"+form+"/records", `{"answers":`+answers+`}`, as(child)))
		got := d.call(http.StatusOK, http.MethodGet, "/v1/forms/"+form+"/records/"+rec, nil, as(child))
		var r struct {
			Answers map[string]any
			Version int
		}
		got.Decode(t, &r)
		body := string(got.Body)
		read["record"] = append(read["record"], body[strings.Index(body, `"answers"`):strings.Index(body, `"version"`)])

		patched := d.call(http.StatusOK, http.MethodPatch, "/v1/forms/"+form+"/records/"+rec, `{"answers":`+answers+`}`, as(child))
		patched.Decode(t, &r)
		require.Equal(t, 1, r.Version, "the same answers again change nothing")

		res := d.call(http.StatusUnprocessableEntity, http.MethodPost, "/v1/forms/"+form+"/records", `{"answers":{"n":1e400}}`, as(child))
		read["1e400"] = append(read["1e400"], fmt.Sprint(answerOf(t, res)))
	})
	if len(read["record"]) < 2 {
		return
	}
	for k, v := range read {
		require.Equal(t, v[0], v[1], "%s: SQLite and PostgreSQL answer differently", k)
	}
}
