package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// stateCounts counts what bad requests must not change: accounts below the
// root and audit events.
func stateCounts(t *testing.T, a *testAPI) [2]int {
	t.Helper()
	d := a.root(t, "GET", "/v1/accounts/"+a.Root.ID+"/descendants?limit=200", nil)
	e := a.root(t, "GET", "/v1/audit-events?limit=200", nil)
	var p1, p2 struct{ Data []json.RawMessage }
	d.Decode(t, &p1)
	e.Decode(t, &p2)
	return [2]int{len(p1.Data), len(p2.Data)}
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		child := a.Child(t, a.Root.ID)
		acc := "/v1/accounts/" + child.ID
		master := masterEmailID(t, a, child.ID)
		huge := `{"account":{"name":"` + strings.Repeat("x", 1<<20) + `"}}`
		ok := `{"account":{"name":"A","email":"a@example.com"}}`
		cases := []struct {
			name    string
			method  string
			path    string
			body    string
			headers map[string]string
			status  int
			field   string
		}{
			{"name of the wrong type", "POST", "/v1/accounts", `{"account":{"name":5}}`, nil, 422, "account.name"},
			{"metadata of the wrong type", "POST", "/v1/accounts", `{"account":{"name":"A","metadata":[1]}}`, nil, 422, "account.metadata"},
			{"metadata values must be strings", "POST", "/v1/accounts", `{"account":{"name":"A","metadata":{"k":1}}}`, nil, 422, "account.metadata.k"},
			{"users of the wrong type", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"users":{"email":"x"}}`, nil, 422, "users"},
			{"workflows of the wrong type", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"workflows":"kyc"}`, nil, 422, "workflows"},
			{"configurations of the wrong type", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"configurations":[1]}`, nil, 422, "configurations"},
			{"a namespace given twice", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"configurations":{"a":1,"a":2}}`, nil, 422, "configurations.a"},
			{"unknown top-level field", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"extra":true}`, nil, 422, "extra"},
			{"unknown nested field", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com","colour":"red"}}`, nil, 422, "account.colour"},
			{"empty name", "POST", "/v1/accounts", `{"account":{"name":"","email":"a@example.com"}}`, nil, 422, "account.name"},
			{"no account at all", "POST", "/v1/accounts", `{}`, nil, 422, "account.name"},
			{"malformed JSON", "POST", "/v1/accounts", `{"account":`, nil, 400, ""},
			{"not JSON", "POST", "/v1/accounts", `name=A`, nil, 400, ""},
			{"empty body", "POST", "/v1/accounts", ``, nil, 400, ""},
			{"data after the JSON", "POST", "/v1/accounts", ok + `{}`, nil, 400, ""},
			{"a JSON array", "POST", "/v1/accounts", `[1]`, nil, 422, "body"},
			{"oversized body", "POST", "/v1/accounts", huge, nil, 413, ""},
			{"malformed X-Customer-Id", "POST", "/v1/accounts", ok, map[string]string{"X-Customer-Id": "nope"}, 400, "X-Customer-Id"},
			{"unknown X-Customer-Id", "POST", "/v1/accounts", ok, map[string]string{"X-Customer-Id": "acc_01HN9XHZN6MGXM9JXG50K59Q85"}, 404, ""},
			{"Idempotency-Key too long", "POST", "/v1/accounts", ok, map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, 400, "Idempotency-Key"},
			{"malformed path id", "GET", "/v1/accounts/acc_nope", "", nil, 400, "id"},
			{"path id of another kind", "GET", "/v1/accounts/usr_01HN9XHZN6MGXM9JXG50K59Q85", "", nil, 400, "id"},
			{"malformed key id", "DELETE", acc + "/api-keys/key_x", "", nil, 400, "keyId"},
			{"malformed query string", "GET", acc + "/children?cursor=%%%", "", nil, 400, ""},
			{"bad cursor", "GET", acc + "/children?cursor=!!!", "", nil, 400, "cursor"},
			{"forged cursor", "GET", acc + "/descendants?cursor=ZGVzY2VuZGFudHM6Lw", "", nil, 400, "cursor"},
			{"limit zero", "GET", acc + "/children?limit=0", "", nil, 400, "limit"},
			{"limit not a number", "GET", acc + "/children?limit=ten", "", nil, 400, "limit"},
			{"limit too large", "GET", acc + "/children?limit=100000", "", nil, 400, "limit"},
			{"depth out of range", "GET", acc + "/descendants?depth=99", "", nil, 400, "depth"},
			{"search too long", "GET", "/v1/accounts?search=" + strings.Repeat("x", 101), "", nil, 400, "search"},
			{"effective not a boolean", "GET", acc + "/configurations?effective=maybe", "", nil, 400, "effective"},
			{"externalReference without a colon", "GET", "/v1/accounts?externalReference=crm", "", nil, 400, "externalReference"},
			{"unknown children mode", "DELETE", acc + "?children=orphan", "", nil, 400, "children"},
			{"move without parentId", "POST", acc + "/move", `{}`, nil, 422, "parentId"},
			{"move to a malformed parentId", "POST", acc + "/move", `{"parentId":"x"}`, nil, 422, "parentId"},
			{"move with a number", "POST", acc + "/move", `{"parentId":1}`, nil, 422, "parentId"},
			{"PATCH with an unknown field", "PATCH", acc, `{"nickname":"x"}`, nil, 422, "nickname"},
			{"PATCH with a bad plan", "PATCH", acc, `{"plan":"gold"}`, nil, 422, "plan"},
			{"PATCH with an empty name", "PATCH", acc, `{"name":""}`, nil, 422, "name"},
			{"configuration that is not JSON", "PUT", acc + "/configurations/theme", `{"a":`, nil, 422, "body"},
			{"configuration that is empty", "PUT", acc + "/configurations/theme", ``, nil, 422, "body"},
			{"configuration with a bad namespace", "PUT", acc + "/configurations/Bad%20NS", `{}`, nil, 422, "namespace"},
			{"workflows missing", "PUT", acc + "/workflows", `{}`, nil, 422, "workflows"},
			{"workflows with a bad name", "PUT", acc + "/workflows", `{"workflows":["Not Valid"]}`, nil, 422, "workflows[0]"},
			{"suspend with a body that is not empty", "POST", acc + "/suspend", `{"why":"x"}`, nil, 422, "why"},
			{"api key name of the wrong type", "POST", acc + "/api-keys", `{"name":1}`, nil, 422, "name"},
			{"NUL in a metadata value", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com","metadata":{"k":"\u0000"}}}`, nil, 422, "account.metadata.k"},
			{"control character in a metadata key", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com","metadata":{"k\u0001":"v"}}}`, nil, 422, "account.metadata"},
			{"NUL in a reference value", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"externalReferences":[{"type":"crm","value":"\u0000"}]}`, nil, 422, "externalReferences[0].value"},
			{"NUL in a reference description", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"externalReferences":[{"type":"crm","value":"v","description":"\u0000"}]}`, nil, 422, "externalReferences[0].description"},
			{"NUL in a user's name", "POST", "/v1/accounts", `{"account":{"name":"A","email":"a@example.com"},"users":[{"email":"u@example.com","name":"\u0000"}]}`, nil, 422, "users[0].name"},
			{"NUL in an API key name", "POST", acc + "/api-keys", `{"name":"\u0000"}`, nil, 422, "name"},
			{"invalid UTF-8 in a query parameter", "GET", "/v1/audit-events?action=%ff", "", nil, 400, ""},
			{"NUL in a query parameter", "GET", "/v1/accounts?externalReference=crm:%00", "", nil, 400, ""},
			{"invalid UTF-8 in a path", "GET", acc + "/configurations/%ff", "", nil, 400, ""},
			{"a namespace no PUT could make", "GET", acc + "/configurations/Not%20A%20Name", "", nil, 400, "namespace"},
			{"user with a bad email", "POST", acc + "/users", `{"email":"nope"}`, nil, 422, "email"},
			{"user with a bad role", "POST", acc + "/users", `{"email":"r@example.com","role":"owner"}`, nil, 422, "role"},
			{"user with an unknown field", "POST", acc + "/users", `{"email":"u@example.com","password":"x"}`, nil, 422, "password"},
			{"user patch with an unknown field", "PATCH", acc + "/users/" + master, `{"status":"active"}`, nil, 422, "status"},
			{"user patch with a bad username", "PATCH", acc + "/users/" + master, `{"username":"a b"}`, nil, 422, "username"},
			{"malformed user id", "GET", acc + "/users/usr_nope", "", nil, 400, "userId"},
			{"outbox with a bad status", "GET", "/v1/outbox?status=lost", "", nil, 400, "status"},
			{"login without a login", "POST", "/v1/auth/login", `{"password":"x"}`, nil, 422, "login"},
			{"login with an unknown field", "POST", "/v1/auth/login", `{"login":"a","password":"b","remember":true}`, nil, 422, "remember"},
			{"login that is not JSON", "POST", "/v1/auth/login", `login=a`, nil, 400, ""},
			{"set-password with a made-up token", "POST", "/v1/auth/set-password", `{"token":"cnt_madeup","password":"violet tractor hums 4821"}`, nil, 400, ""},
			{"set-password without a token", "POST", "/v1/auth/set-password", `{"password":"x"}`, nil, 400, ""},
			{"password reset with a bad email", "POST", "/v1/auth/password-reset", `{"email":"nope"}`, nil, 422, "email"},
			{"logout with an API key", "POST", "/v1/auth/logout", "", nil, 400, ""},
			{"unknown route", "GET", "/v1/nothing-here", "", nil, 404, ""},
			{"wrong method", "PUT", "/v1/accounts", "", nil, 405, ""},
		}
		before := stateCounts(t, a)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, req{Method: tc.method, Path: tc.path, Key: a.RootKey, Body: tc.body, Headers: tc.headers})
				require.Equal(t, tc.status, r.Status, "%s", r.Body)
				require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
				var p Problem
				r.Decode(t, &p)
				require.Equal(t, tc.status, p.Status)
				require.NotEmpty(t, p.Code)
				require.Equal(t, ProblemTypeBase+p.Code, p.Type)
				require.Equal(t, r.Header.Get("X-Request-Id"), p.RequestID)
				require.NotEmpty(t, p.Detail)
				if tc.field != "" {
					require.NotEmpty(t, p.Errors, "the problem names the field")
					require.Equal(t, tc.field, p.Errors[0].Field)
				}
			})
		}
		require.Equal(t, before, stateCounts(t, a), "bad requests wrote nothing")
	})
}

func TestAuthentication(t *testing.T) {
	a := newTestAPI(t, testdb.SQLite(t))
	for name, header := range map[string]string{
		"no key":         "",
		"unknown key":    "Bearer cnp_notarealkeynotarealkeynotarealkey",
		"wrong scheme":   "Basic " + a.RootKey,
		"empty bearer":   "Bearer ",
		"key with junk":  "Bearer " + a.RootKey + "x",
		"lowercase name": "bearer " + a.RootKey,
	} {
		t.Run(name, func(t *testing.T) {
			r := a.do(t, req{Method: "GET", Path: "/v1/accounts/" + a.Root.ID, Headers: map[string]string{"Authorization": header}})
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, `Bearer realm="canopy"`, r.Header.Get("WWW-Authenticate"))
		})
	}
	t.Run("a revoked key stops working at once", func(t *testing.T) {
		child := a.Child(t, a.Root.ID)
		key := a.Key(t, child.ID)
		r := a.do(t, req{Method: "GET", Path: "/v1/accounts/" + child.ID, Key: key})
		require.Equal(t, http.StatusOK, r.Status)
		var page struct{ Data []struct{ ID string } }
		a.root(t, "GET", "/v1/accounts/"+child.ID+"/api-keys", nil).Decode(t, &page)
		for _, k := range page.Data {
			require.Equal(t, http.StatusNoContent, a.root(t, "DELETE", "/v1/accounts/"+child.ID+"/api-keys/"+k.ID, nil).Status)
		}
		r = a.do(t, req{Method: "GET", Path: "/v1/accounts/" + child.ID, Key: key})
		require.Equal(t, http.StatusUnauthorized, r.Status)
	})
	t.Run("the root's last key cannot be revoked", func(t *testing.T) {
		var page struct{ Data []struct{ ID string } }
		a.root(t, "GET", "/v1/accounts/"+a.Root.ID+"/api-keys", nil).Decode(t, &page)
		require.Len(t, page.Data, 1)
		r := a.root(t, "DELETE", "/v1/accounts/"+a.Root.ID+"/api-keys/"+page.Data[0].ID, nil)
		require.Equal(t, http.StatusConflict, r.Status)
	})
	t.Run("public endpoints need no key", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
			require.Equal(t, http.StatusOK, a.do(t, req{Method: "GET", Path: p}).Status, p)
		}
	})
}

func TestIdempotency(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		body := `{"account":{"name":"Idem","email":"idem@example.com"}}`
		post := func(key, body string) *response {
			return a.do(t, req{Method: "POST", Path: "/v1/accounts", Key: a.RootKey, Body: body, Headers: map[string]string{"Idempotency-Key": key}})
		}
		first := post("k-1", body)
		require.Equal(t, http.StatusCreated, first.Status)

		t.Run("a retry returns the stored first response", func(t *testing.T) {
			again := post("k-1", body)
			require.Equal(t, http.StatusCreated, again.Status)
			require.Equal(t, string(first.Body), string(again.Body))
			require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
			require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
			require.NotEmpty(t, again.Header.Get("Location"))
			require.NotEqual(t, first.Header.Get("X-Request-Id"), again.Header.Get("X-Request-Id"))
		})
		t.Run("the same key with another body is refused", func(t *testing.T) {
			r := post("k-1", `{"account":{"name":"Other","email":"other@example.com"}}`)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status)
			require.Contains(t, string(r.Body), "idempotency-key-reused")
		})
		t.Run("concurrent retries create one account", func(t *testing.T) {
			b2 := `{"account":{"name":"Race","email":"race@example.com"}}`
			var wg sync.WaitGroup
			bodies := make([]string, 10)
			for i := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := post("k-race", b2)
					if r.Status == http.StatusCreated {
						bodies[i] = string(r.Body)
					} else {
						bodies[i] = r.Header.Get("X-Request-Id") + string(r.Body)
					}
				}()
			}
			wg.Wait()
			for _, b := range bodies[1:] {
				require.Equal(t, bodies[0], b)
			}
			var page struct{ Data []struct{ Name string } }
			a.root(t, "GET", "/v1/accounts/"+a.Root.ID+"/children?limit=200", nil).Decode(t, &page)
			n := 0
			for _, acc := range page.Data {
				if acc.Name == "Race" {
					n++
				}
			}
			require.Equal(t, 1, n)
		})
		t.Run("an API key's secret is never stored, not even for replays", func(t *testing.T) {
			path := "/v1/accounts/" + a.Root.ID + "/api-keys"
			hdr := map[string]string{"Idempotency-Key": "k-key"}
			first := a.do(t, req{Method: "POST", Path: path, Key: a.RootKey, Body: `{"name":"ci"}`, Headers: hdr})
			require.Equal(t, http.StatusCreated, first.Status)
			var created struct {
				ID     string
				Secret *string
			}
			first.Decode(t, &created)
			require.NotNil(t, created.Secret)
			again := a.do(t, req{Method: "POST", Path: path, Key: a.RootKey, Body: `{"name":"ci"}`, Headers: hdr})
			require.Equal(t, http.StatusCreated, again.Status)
			require.NotContains(t, string(again.Body), *created.Secret)
			var replayed struct {
				ID     string
				Secret *string
			}
			again.Decode(t, &replayed)
			require.Equal(t, created.ID, replayed.ID)
			require.Nil(t, replayed.Secret)
			// The key made by the first request works.
			require.Equal(t, http.StatusOK, a.do(t, req{Method: "GET", Path: "/v1/accounts/" + a.Root.ID, Key: *created.Secret}).Status)
		})
		t.Run("keys are scoped to the credential's account", func(t *testing.T) {
			child := a.Child(t, a.Root.ID)
			key := a.Key(t, child.ID)
			r := a.do(t, req{Method: "POST", Path: "/v1/accounts", Key: key, Body: `{"account":{"name":"Scoped","email":"scoped@example.com"}}`,
				Headers: map[string]string{"Idempotency-Key": "k-1"}})
			require.Equal(t, http.StatusCreated, r.Status, "another tenant's k-1 is not this one's")
		})
	})
}

func TestAuditRecordsWhoAndHow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) { testAuditRecordsWhoAndHow(t, newTestAPI(t, db)) })
}

func testAuditRecordsWhoAndHow(t *testing.T, a *testAPI) {
	child := a.Child(t, a.Root.ID)
	r := a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + child.ID + "/workflows", Key: a.RootKey, As: child.ID,
		Body: `{"workflows":["kyc-standard"]}`, Headers: map[string]string{
			"X-Channel": strings.Repeat("c", 100), "X-Username": strings.Repeat("ü", 300),
		}})
	require.Equal(t, http.StatusOK, r.Status)
	var written struct{ RequestID string }
	r.Decode(t, &written)
	require.Equal(t, r.Header.Get("X-Request-Id"), written.RequestID)

	var page struct {
		Data []struct {
			Action, AccountID, ActingAccountID, Channel, Username, RequestID string
			Actor                                                            struct{ Type, ID string }
		}
	}
	a.do(t, req{Method: "GET", Path: "/v1/audit-events?action=workflows.updated", Key: a.RootKey}).Decode(t, &page)
	require.Len(t, page.Data, 1)
	e := page.Data[0]
	require.Equal(t, child.ID, e.AccountID)
	require.Equal(t, child.ID, e.ActingAccountID)
	require.Equal(t, "apiKey", e.Actor.Type)
	require.Equal(t, strings.Repeat("c", 64), e.Channel, "X-Channel is cut to 64 characters")
	require.Equal(t, strings.Repeat("ü", 254), e.Username, "X-Username is cut to 254 characters")
	require.Equal(t, written.RequestID, e.RequestID)

	// Header bytes that are not UTF-8 are refused, naming the header, and
	// nothing is written: replacing them would store what nobody sent.
	for h, v := range map[string]string{"X-Channel": "portal\xff", "X-Username": "\xfe"} {
		r = a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + child.ID + "/workflows", Key: a.RootKey,
			Body: `{"workflows":[]}`, Headers: map[string]string{h: v}})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
		require.Equal(t, h, r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])
	}
	a.do(t, req{Method: "GET", Path: "/v1/audit-events?limit=1", Key: a.RootKey}).Decode(t, &page)
	require.Equal(t, strings.Repeat("c", 64), page.Data[0].Channel, "the workflows were not written again")

	// A request without a credential (a public sign-up) claims nothing:
	// the trail keeps no text its caller supplied (rule 10).
	r = a.do(t, req{Method: "POST", Path: "/v1/signup", Body: `{"accountName": "Walk-in", "email": "walkin@example.com"}`,
		Headers: map[string]string{"X-Channel": "forged-channel", "X-Username": "forged-user"}})
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	a.do(t, req{Method: "GET", Path: "/v1/audit-events?limit=50", Key: a.RootKey}).Decode(t, &page)
	var anonymous int
	for _, e := range page.Data {
		require.NotEqual(t, "forged-channel", e.Channel, "%+v", e)
		require.NotEqual(t, "forged-user", e.Username, "%+v", e)
		if e.RequestID == r.Header.Get("X-Request-Id") {
			anonymous++
		}
	}
	require.Positive(t, anonymous, "the sign-up is in the trail")
}

func masterEmailID(t *testing.T, a *testAPI, accountID string) string {
	t.Helper()
	page, err := a.Svc.ListUsers(context.Background(), a.As(t, accountID), accountID, service.PageRequest{})
	require.NoError(t, err)
	return page.Data[0].ID
}
