package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
)

// undrivable lists documented (operation, status) pairs the drive test
// cannot cause through the in-process harness, with the reason.
var undrivable = map[string]string{}

// driver sends requests through the harness with the root key by default.
type driver struct {
	t   *testing.T
	api *testAPI
	n   int
}

type option func(*req)

func as(id string) option           { return func(r *req) { r.As = id } }
func withKey(key string) option     { return func(r *req) { r.Key = key } }
func withHeader(k, v string) option { return func(r *req) { r.Headers = map[string]string{k: v} } }
func noKey(r *req)                  { r.Key = "" }
func fill(pattern string, id string) string {
	return strings.NewReplacer("{id}", id, "{keyId}", canopy.NewIDs(nil, nil).New(canopy.PrefixAPIKey),
		"{namespace}", "white_label_portal").Replace(pattern)
}

// call sends a request and reports a status other than want.
func (d *driver) call(want int, method, path string, body any, opts ...option) *response {
	d.t.Helper()
	rq := req{Method: method, Path: path, Key: d.api.RootKey, Body: body}
	for _, o := range opts {
		o(&rq)
	}
	res := d.api.do(d.t, rq)
	if res.Status != want {
		d.t.Errorf("%s %s: status %d, want %d\n%s", method, path, res.Status, want, res.Body)
	}
	return res
}

// child creates a child of parent through the API and returns its id.
func (d *driver) child(parent string) string {
	d.t.Helper()
	d.n++
	body := map[string]any{"account": map[string]any{
		"name": fmt.Sprintf("Drive %d", d.n), "email": fmt.Sprintf("drive%d@example.com", d.n)}}
	res := d.call(http.StatusCreated, http.MethodPost, "/v1/accounts", body, as(parent))
	var out struct{ Account struct{ ID string } }
	res.Decode(d.t, &out)
	if out.Account.ID == "" {
		d.t.Fatalf("create child of %s failed", parent)
	}
	return out.Account.ID
}

// validBodies are requests each write route accepts, so that errors that
// come after decoding (403, 500) can be reached.
var validBodies = map[string]any{
	"POST /v1/accounts":                                map[string]any{"account": map[string]any{"name": "Valid", "email": "valid@example.com"}},
	"PATCH /v1/accounts/{id}":                          map[string]any{"name": "Renamed"},
	"POST /v1/accounts/{id}/move":                      nil, // set to the root's id at run time
	"PUT /v1/accounts/{id}/configurations/{namespace}": `{"x":1}`,
	"PUT /v1/accounts/{id}/workflows":                  map[string]any{"workflows": []string{}},
	"POST /v1/accounts/{id}/api-keys":                  map[string]any{"name": "valid"},
	"POST /v1/accounts/{id}/suspend":                   nil,
	"POST /v1/accounts/{id}/reactivate":                nil,
}

// TestContractDrivesEveryRoute calls every route through the harness, so
// that checkContract sees real answers, and then requires that every
// status the document declares was answered at least once.
func TestContractDrivesEveryRoute(t *testing.T) {
	c := contractOrFatal(t)
	a := newTestAPI(t, testdb.SQLite(t))
	d := &driver{t: t, api: a}
	root := a.Root.ID
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		ok, created, noContent     = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	unknown := canopy.NewIDs(nil, nil).New(canopy.PrefixAccount)

	// Operations endpoints.
	d.call(ok, get, "/healthz", nil, noKey)
	d.call(ok, get, "/readyz", nil, noKey)
	d.call(ok, get, "/metrics", nil, noKey)
	d.call(ok, get, "/openapi.json", nil, noKey)

	// Create a child with the document's own example, replay it, and
	// reuse its key for another request.
	example := at(c.doc, "paths", "/v1/accounts", "post", "requestBody", "content", "application/json", "example")
	first := d.call(created, post, "/v1/accounts", example, withHeader("Idempotency-Key", "create-acme"))
	var acmeRes struct {
		RequestID string `json:"requestId"`
		Account   struct{ ID string }
	}
	first.Decode(t, &acmeRes)
	acme := acmeRes.Account.ID
	if t.Failed() || acme == "" {
		t.Fatalf("the documented create-child example was refused")
	}
	if got := first.Header.Get("Location"); got != "/v1/accounts/"+acme {
		t.Errorf("Location %q", got)
	}
	if acmeRes.RequestID != first.Header.Get("X-Request-Id") {
		t.Errorf("body requestId %q differs from X-Request-Id %q", acmeRes.RequestID, first.Header.Get("X-Request-Id"))
	}
	replay := d.call(created, post, "/v1/accounts", example, withHeader("Idempotency-Key", "create-acme"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay: Idempotent-Replayed=%q, same body=%v", replay.Header.Get("Idempotent-Replayed"), bytes.Equal(replay.Body, first.Body))
	}
	d.call(422, post, "/v1/accounts", validBodies["POST /v1/accounts"], withHeader("Idempotency-Key", "create-acme"))
	d.call(422, post, "/v1/accounts", map[string]any{"account": map[string]any{}})
	d.call(422, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "X"}, "colour": "red"})
	d.call(409, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "Dup"},
		"masterUser": map[string]any{"email": "admin@acme.example"}})

	// The tree: root → acme → g1 → gg; root → beta, susp, closed.
	g1 := d.child(acme)
	gg := d.child(g1)
	beta := d.child(root)
	susp := d.child(root)
	closed := d.child(root)
	d.call(ok, post, "/v1/accounts/"+susp+"/suspend", nil)
	d.call(ok, post, "/v1/accounts/"+susp+"/suspend", "{}") // already suspended: no change
	d.call(ok, del, "/v1/accounts/"+closed, nil)
	d.call(ok, del, "/v1/accounts/"+closed, nil) // already closed: no change

	// Accounts.
	list := d.call(ok, get, "/v1/accounts?limit=2", nil)
	var page struct {
		Data       []map[string]any
		NextCursor *string
	}
	list.Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of accounts")
	}
	d.call(ok, get, "/v1/accounts?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil)
	d.call(ok, get, "/v1/accounts?externalReference=crm:C-1001", nil)
	d.call(400, get, "/v1/accounts?externalReference=crm", nil)
	d.call(400, get, "/v1/accounts?limit=0", nil)
	d.call(400, get, "/v1/accounts?cursor=nonsense", nil)
	d.call(ok, get, "/v1/accounts/"+root, nil) // the root: empty parentId, null link
	d.call(ok, get, "/v1/accounts/"+closed, nil)
	d.call(404, get, "/v1/accounts/"+root, nil, as(acme)) // an ancestor is invisible
	d.call(404, get, "/v1/accounts/"+beta, nil, as(acme)) // so is a sibling
	d.call(ok, patch, "/v1/accounts/"+acme, map[string]any{"name": "Acme Dental Group", "metadata": map[string]any{"region": "eu"}})
	d.call(ok, patch, "/v1/accounts/"+acme, map[string]any{"metadata": map[string]any{"region": nil}})
	d.call(403, patch, "/v1/accounts/"+acme, map[string]any{"plan": "pro"}, as(acme)) // its own plan
	d.call(409, patch, "/v1/accounts/"+closed, map[string]any{"name": "Reopen"})
	d.call(422, patch, "/v1/accounts/"+acme, map[string]any{"plan": "gold"})
	d.call(403, post, "/v1/accounts/"+acme+"/suspend", nil, as(acme)) // itself
	d.call(409, post, "/v1/accounts/"+closed+"/suspend", nil)
	d.call(409, post, "/v1/accounts/"+closed+"/reactivate", nil)
	d.call(ok, get, "/v1/accounts/"+acme+"/external-references", nil)
	d.call(ok, get, "/v1/accounts/"+beta+"/external-references", nil)

	// Tree.
	d.call(ok, get, "/v1/accounts/"+acme+"/children", nil)
	d.call(ok, get, "/v1/accounts/"+root+"/descendants?depth=1", nil)
	desc := d.call(ok, get, "/v1/accounts/"+root+"/descendants?limit=1", nil)
	desc.Decode(t, &page)
	if page.NextCursor != nil {
		d.call(ok, get, "/v1/accounts/"+root+"/descendants?limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil)
	}
	d.call(400, get, "/v1/accounts/"+root+"/descendants?depth=0", nil)
	anc := d.call(ok, get, "/v1/accounts/"+gg+"/ancestors", nil, as(acme))
	anc.Decode(t, &page)
	if len(page.Data) != 2 || page.Data[0]["id"] != g1 || page.Data[1]["id"] != acme {
		t.Errorf("ancestors of gg acting as acme: %s", anc.Body)
	}
	d.call(ok, get, "/v1/accounts/"+acme+"/ancestors", nil, as(acme))
	d.call(ok, post, "/v1/accounts/"+g1+"/move", map[string]any{"parentId": beta}, withHeader("Idempotency-Key", "move-g1"))
	d.call(ok, post, "/v1/accounts/"+g1+"/move", map[string]any{"parentId": beta})  // already there
	d.call(409, post, "/v1/accounts/"+beta+"/move", map[string]any{"parentId": gg}) // a cycle
	d.call(403, post, "/v1/accounts/"+root+"/move", map[string]any{"parentId": acme})
	d.call(422, post, "/v1/accounts/"+g1+"/move", map[string]any{"parentId": "acme"})
	d.call(404, post, "/v1/accounts/"+g1+"/move", map[string]any{"parentId": unknown})

	// Configurations: stored and returned byte for byte.
	leaf := d.child(acme) // inherits acme's white_label_portal in the effective view
	payload := `{"z": 1.50, "a": "caf\u00e9", "n": [1e3]}`
	d.call(ok, put, "/v1/accounts/"+acme+"/configurations/raw.check", payload)
	if got := d.call(ok, get, "/v1/accounts/"+acme+"/configurations/raw.check", nil); string(got.Body) != payload {
		t.Errorf("configuration bytes changed:\nput %s\ngot %s", payload, got.Body)
	}
	d.call(ok, put, "/v1/accounts/"+acme+"/configurations/scalar", `42`)
	d.call(ok, get, "/v1/accounts/"+acme+"/configurations", nil)
	d.call(ok, get, "/v1/accounts/"+leaf+"/configurations?effective=true", nil)
	d.call(ok, get, "/v1/accounts/"+beta+"/configurations?effective=true", nil) // nothing anywhere above
	d.call(ok, get, "/v1/accounts/"+leaf+"/configurations/white_label_portal?effective=1", nil)
	d.call(404, get, "/v1/accounts/"+leaf+"/configurations/white_label_portal", nil)
	d.call(400, get, "/v1/accounts/"+acme+"/configurations?effective=maybe", nil)
	d.call(422, put, "/v1/accounts/"+acme+"/configurations/broken", `{"a":`)
	d.call(422, put, "/v1/accounts/"+acme+"/configurations/Bad", `{}`)
	d.call(409, put, "/v1/accounts/"+closed+"/configurations/x", `{}`)
	d.call(noContent, del, "/v1/accounts/"+acme+"/configurations/scalar", nil)
	d.call(404, del, "/v1/accounts/"+acme+"/configurations/scalar", nil)

	// Workflows.
	d.call(ok, get, "/v1/accounts/"+acme+"/workflows", nil)
	d.call(ok, put, "/v1/accounts/"+acme+"/workflows", map[string]any{"workflows": []string{"kyc-standard", "aml"}})
	d.call(422, put, "/v1/accounts/"+acme+"/workflows", map[string]any{"workflows": []string{"Bad Name"}})
	d.call(422, put, "/v1/accounts/"+acme+"/workflows", map[string]any{})
	d.call(409, put, "/v1/accounts/"+closed+"/workflows", map[string]any{"workflows": []string{}})

	// API keys.
	newKey := d.call(created, post, "/v1/accounts/"+acme+"/api-keys", map[string]any{"name": "ci"})
	var k struct{ ID, Secret string }
	newKey.Decode(t, &k)
	d.call(created, post, "/v1/accounts/"+acme+"/api-keys", nil, withHeader("Idempotency-Key", "bare-key"))
	d.call(ok, get, "/v1/accounts/"+acme, nil, withKey(k.Secret))
	d.call(404, get, "/v1/accounts/"+root, nil, withKey(k.Secret))
	d.call(ok, get, "/v1/accounts/"+acme+"/api-keys?limit=1", nil)
	d.call(noContent, del, "/v1/accounts/"+acme+"/api-keys/"+k.ID, nil)
	d.call(ok, get, "/v1/accounts/"+acme+"/api-keys", nil) // a revoked key is listed with revokedAt
	d.call(404, del, "/v1/accounts/"+acme+"/api-keys/"+k.ID, nil)
	d.call(401, get, "/v1/accounts/"+acme, nil, withKey(k.Secret))
	d.call(422, post, "/v1/accounts/"+acme+"/api-keys", map[string]any{"name": strings.Repeat("k", 101)})
	d.call(409, post, "/v1/accounts/"+closed+"/api-keys", nil)
	var rootKeys struct{ Data []struct{ ID string } }
	d.call(ok, get, "/v1/accounts/"+root+"/api-keys", nil).Decode(t, &rootKeys)
	if len(rootKeys.Data) == 1 {
		d.call(409, del, "/v1/accounts/"+root+"/api-keys/"+rootKeys.Data[0].ID, nil) // the last root key
	}

	// Audit.
	audit := d.call(ok, get, "/v1/audit-events?limit=2", nil, withHeader("X-Channel", "contract-test"))
	audit.Decode(t, &page)
	if page.NextCursor != nil {
		d.call(ok, get, "/v1/audit-events?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil)
	}
	d.call(ok, get, "/v1/audit-events?action=account.created&targetId="+acme, nil)
	d.call(ok, get, "/v1/audit-events", nil, as(acme))
	d.call(400, get, "/v1/audit-events?cursor=nonsense", nil)

	// Every authenticated route: 401 without a key, 404 acting as an
	// unknown account, 400 for a malformed X-Customer-Id; writes: 403
	// acting in a suspended subtree; routes with bodies: 400 and 413.
	validBodies["POST /v1/accounts/{id}/move"] = map[string]any{"parentId": root}
	tooBig := strings.Repeat(" ", DefaultMaxBodyBytes+1)
	for _, r := range a.srv.Routes() {
		if r.Public {
			continue
		}
		key := r.Method + " " + r.Path
		body, hasBody := validBodies[key]
		path := fill(r.Path, acme)
		d.call(401, r.Method, path, body, noKey)
		d.call(404, r.Method, path, body, as(unknown))
		d.call(400, r.Method, path, body, as("acc_nope"))
		if r.Method != get {
			d.call(403, r.Method, fill(r.Path, susp), body, as(susp))
		}
		if hasBody {
			d.call(413, r.Method, path, tooBig)
			if !strings.Contains(r.Path, "{namespace}") {
				d.call(400, r.Method, path, `{"unterminated": `)
			}
		}
	}

	// Lifecycle last: reactivate, refuse to close with children, close.
	d.call(422, post, "/v1/accounts/"+susp+"/reactivate", map[string]any{"why": "x"})
	d.call(ok, post, "/v1/accounts/"+susp+"/reactivate", nil, withHeader("X-Username", "ops@example.com"))
	d.call(409, del, "/v1/accounts/"+beta, nil)
	d.call(400, del, "/v1/accounts/"+beta+"?children=orphan", nil)
	d.call(ok, del, "/v1/accounts/"+beta+"?children=reparent", nil)
	d.call(ok, del, "/v1/accounts/"+g1+"?children=close", nil)
	d.call(409, del, "/v1/accounts/"+g1+"/configurations/any", nil)
	d.call(403, del, "/v1/accounts/"+root, nil)

	// 500 and 503: a server whose database is gone.
	db := testdb.SQLite(t)
	down := &driver{t: t, api: newTestAPI(t, db)}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	validBodies["POST /v1/accounts/{id}/move"] = map[string]any{"parentId": down.api.Root.ID}
	for _, r := range down.api.srv.Routes() {
		if !r.Public {
			down.call(500, r.Method, fill(r.Path, down.api.Root.ID), validBodies[r.Method+" "+r.Path])
		}
	}
	down.call(503, get, "/readyz", nil, noKey)

	// Every documented answer was seen.
	if t.Failed() {
		return
	}
	var missing []string
	for op, statuses := range c.ops {
		for status := range statuses {
			k := op + " " + status
			c.mu.Lock()
			seen := c.seen[k]
			c.mu.Unlock()
			if _, excused := undrivable[k]; !seen && !excused && status != "default" {
				missing = append(missing, k)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("documented answers no request in this test produced (drive them, or list them in undrivable with a reason):\n  %s",
			strings.Join(missing, "\n  "))
	}
}
