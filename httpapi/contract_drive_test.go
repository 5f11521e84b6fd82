package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
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
	ids := canopy.NewIDs(nil, nil)
	return strings.NewReplacer("{id}", id, "{keyId}", ids.New(canopy.PrefixAPIKey), "{userId}", ids.New(canopy.PrefixUser),
		"{namespace}", "white_label_portal", "{invitationId}", ids.New(canopy.PrefixInvitation),
		"{contactId}", ids.New(canopy.PrefixContact), "{formId}", ids.New(canopy.PrefixForm),
		"{recordId}", ids.New(canopy.PrefixRecord), "{accountId}", id, "{type}", "upload",
		"{number}", "+15551234567", "{linkId}", ids.New(canopy.PrefixFormLink),
		"{endpointId}", ids.New(canopy.PrefixWebhookEndpoint), "{deliveryId}", ids.New(canopy.PrefixWebhookDelivery)).Replace(pattern)
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

// users returns the ids of an account's users by email address.
func (d *driver) users(account string) map[string]string {
	d.t.Helper()
	var page struct{ Data []struct{ ID, Email string } }
	d.call(http.StatusOK, http.MethodGet, "/v1/accounts/"+account+"/users?limit=200", nil).Decode(d.t, &page)
	ids := map[string]string{}
	for _, u := range page.Data {
		ids[u.Email] = u.ID
	}
	return ids
}

// key creates an API key of account and returns its secret.
func (d *driver) key(account string) string {
	d.t.Helper()
	var k struct{ Secret string }
	d.call(http.StatusCreated, http.MethodPost, "/v1/accounts/"+account+"/api-keys", nil).Decode(d.t, &k)
	if k.Secret == "" {
		d.t.Fatalf("create a key of %s failed", account)
	}
	return k.Secret
}

// deliver does what the outbox worker does before it hands emails to SMTP:
// it claims every due message and issues its one-time link. Messages that
// can never be sent are marked failed, the others sent. It returns each
// link's token by recipient: set-password and reset links, and the sign-up
// links of invitations to addresses without an account. (Other emails about
// sub-account invitations link to a page and carry no token.)
func (d *driver) deliver() map[string]string {
	d.t.Helper()
	ctx := context.Background()
	svc := d.api.Svc
	msgs, err := svc.ClaimOutbox(ctx, 1000)
	if err != nil {
		d.t.Fatalf("claim outbox: %v", err)
	}
	contents, errs := svc.PrepareEmails(ctx, msgs)
	tokens := map[string]string{}
	var sent []string
	for i, c := range contents {
		if errs[i] != nil {
			if err := svc.OutboxFailed(ctx, msgs[i], errs[i]); err != nil {
				d.t.Fatalf("outbox failed: %v", err)
			}
			continue
		}
		if c.Outbox.Template == canopy.TemplateEmailChangeNotice {
			sent = append(sent, msgs[i].ID) // a notice, with nothing to click
			continue
		}
		common := c.Content.Common()
		link, err := url.Parse(common.Link)
		if err != nil || common.Link == "" {
			d.t.Fatalf("email to %s has no usable link: %q", common.Email, common.Link)
		}
		if tok := link.Query().Get("token"); tok != "" {
			tokens[common.Email] = tok
		}
		sent = append(sent, msgs[i].ID)
	}
	if err := svc.OutboxSent(ctx, sent); err != nil {
		d.t.Fatalf("outbox sent: %v", err)
	}
	return tokens
}

// login signs in and returns the session token.
func (d *driver) login(login, password string) string {
	d.t.Helper()
	var out struct{ Token string }
	d.call(http.StatusOK, http.MethodPost, "/v1/auth/login", map[string]any{"login": login, "password": password}, noKey).Decode(d.t, &out)
	if out.Token == "" {
		d.t.Fatalf("login %s failed", login)
	}
	return out.Token
}

func idOf(t *testing.T, res *response) string {
	t.Helper()
	var v struct{ ID string }
	res.Decode(t, &v)
	return v.ID
}

// validBodies are requests each write route accepts, so that errors that
// come after decoding (403, 500) can be reached.
var validBodies = map[string]any{
	"POST /v1/accounts":                                       map[string]any{"account": map[string]any{"name": "Valid", "email": "valid@example.com"}},
	"PATCH /v1/accounts/{id}":                                 map[string]any{"name": "Renamed"},
	"POST /v1/accounts/{id}/move":                             nil, // set to the root's id at run time
	"PUT /v1/accounts/{id}/configurations/{namespace}":        `{"x":1}`,
	"PUT /v1/accounts/{id}/workflows":                         map[string]any{"workflows": []string{}},
	"POST /v1/accounts/{id}/api-keys":                         map[string]any{"name": "valid"},
	"POST /v1/accounts/{id}/suspend":                          nil,
	"POST /v1/accounts/{id}/reactivate":                       nil,
	"POST /v1/accounts/{id}/users":                            map[string]any{"email": "valid-user@example.com"},
	"PATCH /v1/accounts/{id}/users/{userId}":                  map[string]any{"name": "Valid"},
	"POST /v1/accounts/{id}/users/{userId}/disable":           nil,
	"POST /v1/accounts/{id}/users/{userId}/enable":            nil,
	"POST /v1/accounts/{id}/users/{userId}/resend-invitation": nil,
	"POST /v1/invitations":                                    map[string]any{"email": "valid-invitee@example.com"},
	"POST /v1/invitations/{invitationId}/accept":              nil,
	"POST /v1/invitations/{invitationId}/decline":             nil,
	"POST /v1/invitations/{invitationId}/cancel":              nil,
	"POST /v1/invitations/{invitationId}/resend":              nil,
	"POST /v1/me/memberships/{userId}/accept":                 nil,
	"POST /v1/me/memberships/{userId}/decline":                nil,
	"POST /v1/contacts":                                       map[string]any{"email": "valid-contact@example.com"},
	"PATCH /v1/contacts/{contactId}":                          map[string]any{"notes": "Valid"},
	"POST /v1/forms":                                          map[string]any{"name": "Valid"},
	"PATCH /v1/forms/{formId}":                                map[string]any{"name": "Valid"},
	"PUT /v1/forms/{formId}/example":                          map[string]any{"example": true},
	"POST /v1/forms/{formId}/copy":                            nil,
	"PUT /v1/forms/{formId}/shares/{accountId}":               map[string]any{"role": "viewer"},
	"POST /v1/forms/{formId}/records":                         map[string]any{"answers": map[string]any{}},
	"PATCH /v1/forms/{formId}/sms":                            map[string]any{"code": "VALID1"},
	"POST /v1/forms/{formId}/sms/collectors":                  map[string]any{"numbers": []string{"+15551234567"}, "mode": "structured"},
	"POST /v1/forms/{formId}/links":                           map[string]any{},
	"PATCH /v1/forms/{formId}/records/{recordId}":             map[string]any{"answers": map[string]any{}},
	"PATCH /v1/accounts/{id}/link":                            map[string]any{"billing": "self"},
	"POST /v1/accounts/{id}/credits/grants":                   map[string]any{"type": "upload", "amount": 1},
	"POST /v1/accounts/{id}/credits/transfers":                map[string]any{"type": "upload", "amount": 1},
	"PUT /v1/accounts/{id}/credits/limits":                    map[string]any{"type": "upload", "monthly": 1},
	"POST /v1/usage":                                          map[string]any{"type": "upload", "quantity": 1},
	"POST /v1/webhook-endpoints":                              map[string]any{"url": "https://hooks.example.com/valid"},
	"PATCH /v1/webhook-endpoints/{endpointId}":                map[string]any{"description": "Valid"},
	"POST /v1/webhook-endpoints/{endpointId}/rotate-secret":   nil,
}

// publicBodies are requests the public routes accept as far as reading
// the database.
var publicBodies = map[string]any{
	"POST /v1/auth/login":          map[string]any{"login": "anyone", "password": "anything"},
	"POST /v1/auth/set-password":   map[string]any{"token": "cnt_any", "password": "violet tractor hums quietly 4821"},
	"POST /v1/auth/password-reset": map[string]any{"email": "anyone@example.com"},
	"POST /v1/auth/confirm-email":  map[string]any{"token": "cnt_any"},
	"POST /v1/signup":              map[string]any{"accountName": "Anyone", "email": "anyone@example.com"},
}

// TestContractDrivesEveryRoute calls every route through the harness, so
// that checkContract sees real answers, and then requires that every
// status the document declares was answered at least once.
func TestContractDrivesEveryRoute(t *testing.T) {
	c := contractOrFatal(t)
	// A low login throttle, so that a few failures reach both 429s.
	a := newTestAPI(t, testdb.SQLite(t), testfactory.Options{LoginSlowAfter: 2, LoginLockAfter: 3})
	d := &driver{t: t, api: a}
	root := a.Root.ID
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		ok, created, noContent     = http.StatusOK, http.StatusCreated, http.StatusNoContent
		accepted                   = http.StatusAccepted
	)
	unknown := canopy.NewIDs(nil, nil).New(canopy.PrefixAccount)
	unknownUser := canopy.NewIDs(nil, nil).New(canopy.PrefixUser)
	tooBig := strings.Repeat(" ", DefaultMaxBodyBytes+1)

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
	d.call(409, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "Ref twin"},
		"masterUser":         map[string]any{"email": "twin@example.com"},
		"externalReferences": []any{map[string]any{"type": "crm", "value": "C-1001"}}}) // external-reference-exists
	// An address that belongs to someone invites that person: no 409 tells.
	d.call(created, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "Dup"},
		"masterUser": map[string]any{"email": "admin@acme.example"}})

	// The tree: root → acme → g1 → gg; root → beta, susp, closed.
	g1 := d.child(acme)
	gg := d.child(g1)
	beta := d.child(root)
	susp := d.child(root)
	closed := d.child(root)
	d.call(ok, post, "/v1/accounts/"+susp+"/suspend", nil)
	d.call(ok, post, "/v1/accounts/"+susp+"/suspend", "{}") // already suspended: no change
	d.call(422, post, "/v1/accounts/"+susp+"/suspend", map[string]any{"why": "x"})
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
	d.call(ok, get, "/v1/accounts?search=CLINIC&limit=1", nil)
	d.call(400, get, "/v1/accounts?search=x&externalReference=crm:C-1001", nil)
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
	leaf := d.child(acme) // inherits acme's white_label_portal in the effective view, once it flows down
	d.call(ok, put, "/v1/accounts/"+acme+"/configurations/white_label_portal?inheritable=true", `{"brandName": "Acme"}`)
	d.call(400, put, "/v1/accounts/"+acme+"/configurations/white_label_portal", `{}`, withHeader("Canopy-Configuration-Inheritable", "perhaps"))
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

	// Users. acme has its master user (admin@acme.example, an admin) and
	// bo@acme.example (a member) from the example.
	users := "/v1/accounts/" + acme + "/users"
	userExample := at(c.doc, "paths", "/v1/accounts/{id}/users", "post", "requestBody", "content", "application/json", "example")
	cyRes := d.call(created, post, users, userExample, withHeader("Idempotency-Key", "add-cy"))
	cy := idOf(t, cyRes)
	if got := cyRes.Header.Get("Location"); got != users+"/"+cy {
		t.Errorf("Location %q", got)
	}
	cyReplay := d.call(created, post, users, userExample, withHeader("Idempotency-Key", "add-cy"))
	if cyReplay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(cyReplay.Body, cyRes.Body) {
		t.Errorf("replay of add-cy: Idempotent-Replayed=%q, same body=%v", cyReplay.Header.Get("Idempotent-Replayed"), bytes.Equal(cyReplay.Body, cyRes.Body))
	}
	dee := idOf(t, d.call(created, post, users, map[string]any{"email": "dee@acme.example", "username": "dee", "name": "Dee"}))
	eve := idOf(t, d.call(created, post, users, map[string]any{"email": "eve@acme.example"}))
	d.call(409, post, users, map[string]any{"email": "bo@acme.example"})                                // already-member
	d.call(created, post, users, map[string]any{"email": "bo2@acme.example", "username": "acme-admin"}) // a taken username tells nothing
	d.call(409, post, "/v1/accounts/"+closed+"/users", map[string]any{"email": "late@example.com"})     // account-closed
	d.call(422, post, users, map[string]any{"name": "No Address"})
	d.call(422, post, users, map[string]any{"email": "fay@acme.example", "role": "owner"})
	d.call(ok, get, users+"?limit=2", nil).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of users")
	}
	d.call(ok, get, users+"?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil)
	d.call(400, get, users+"?cursor=nonsense", nil)
	d.call(404, get, "/v1/accounts/"+beta+"/users", nil, as(acme))
	d.call(ok, get, users+"/"+cy, nil)
	d.call(404, get, users+"/"+unknownUser, nil)
	for _, betaUser := range d.users(beta) {
		d.call(404, get, users+"/"+betaUser, nil) // a user of another account
	}
	d.call(400, get, users+"/usr_nope", nil)
	patchExample := at(c.doc, "paths", "/v1/accounts/{id}/users/{userId}", "patch", "requestBody", "content", "application/json", "example")
	d.call(ok, patch, users+"/"+cy, patchExample)
	d.call(ok, patch, users+"/"+cy, map[string]any{"role": "admin"})
	d.call(ok, patch, users+"/"+cy, map[string]any{"name": "Cy Young"}) // no change
	d.call(409, patch, users+"/"+cy, map[string]any{"email": "bo@acme.example"})
	d.call(422, patch, users+"/"+cy, map[string]any{"email": "not an address", "role": "owner"})
	d.call(404, patch, users+"/"+unknownUser, map[string]any{"name": "Nobody"})
	// A new account's master user is its only admin.
	solo := d.child(root)
	soloUsers := "/v1/accounts/" + solo + "/users"
	var soloMaster string
	for _, id := range d.users(solo) {
		soloMaster = id
	}
	d.call(409, patch, soloUsers+"/"+soloMaster, map[string]any{"role": "member"})
	d.call(409, del, soloUsers+"/"+soloMaster, nil)
	d.call(409, post, soloUsers+"/"+soloMaster+"/disable", nil)
	d.call(accepted, post, soloUsers+"/"+soloMaster+"/resend-invitation", nil) // the welcome email again

	// Set passwords with the links the invitation emails carry.
	const strong = "plum orchard lantern 8 river"
	tokens := d.deliver()
	setPassword := "/v1/auth/set-password"
	d.call(422, post, setPassword, map[string]any{"token": tokens["cy@acme.example"], "password": "password1234"}, noKey)
	d.call(ok, post, setPassword, map[string]any{"token": tokens["cy@acme.example"], "password": strong}, noKey,
		withHeader("X-Channel", "contract-test"))
	d.call(400, post, setPassword, map[string]any{"token": tokens["cy@acme.example"], "password": strong}, noKey) // used
	d.call(400, post, setPassword, map[string]any{"token": "nonsense", "password": strong}, noKey)
	d.call(400, post, setPassword, map[string]any{"token": "cnt_unknown", "password": strong}, noKey)
	d.call(422, post, setPassword, map[string]any{"token": tokens["dee@acme.example"], "password": strong, "confirm": strong}, noKey)
	d.call(400, post, setPassword, `{"token": `, noKey)
	d.call(413, post, setPassword, tooBig, noKey)
	d.call(ok, post, setPassword, map[string]any{"token": tokens["dee@acme.example"], "password": strong}, noKey)

	// Sign in: Cy is an admin, Dee a member.
	login := "/v1/auth/login"
	var signedIn struct {
		Token string
		User  struct{ LastLoginAt *string }
	}
	d.call(ok, post, login, map[string]any{"login": "cy@acme.example", "password": strong}, noKey).Decode(t, &signedIn)
	if signedIn.User.LastLoginAt == nil {
		t.Errorf("login: user.lastLoginAt is null")
	}
	cyTok := signedIn.Token
	deeTok := d.login("dee", strong)
	d.call(401, post, login, map[string]any{"login": "dee", "password": "not the password"}, noKey)
	d.call(401, post, login, map[string]any{"login": "bo@acme.example", "password": strong}, noKey) // no password yet
	d.call(422, post, login, map[string]any{"login": "dee"}, noKey)
	d.call(422, post, login, map[string]any{"login": "dee", "password": strong, "remember": true}, noKey)
	d.call(400, post, login, `nope`, noKey)
	d.call(413, post, login, tooBig, noKey)

	// An admin's session acts like a key of its account.
	var me struct {
		User     *struct{ ID string }
		APIKey   *struct{ ID string }
		MayActAs string
		MayWrite bool
	}
	d.call(ok, get, "/v1/me", nil, withKey(cyTok)).Decode(t, &me)
	if me.User == nil || me.User.ID != cy || me.APIKey != nil || me.MayActAs != "self-and-descendants" || !me.MayWrite {
		t.Errorf("me for an admin: %+v", me)
	}
	d.call(ok, get, "/v1/me", nil, withKey(cyTok), as(leaf))
	me.User, me.APIKey = nil, nil
	d.call(ok, get, "/v1/me", nil).Decode(t, &me)
	if me.APIKey == nil || me.User != nil {
		t.Errorf("me for an API key: %+v", me)
	}
	d.call(ok, get, "/v1/accounts/"+leaf, nil, withKey(cyTok), as(leaf))
	d.call(404, get, "/v1/accounts/"+root, nil, withKey(cyTok))
	d.call(ok, patch, users+"/"+eve, map[string]any{"name": "Eve"}, withKey(cyTok))
	d.call(403, post, users+"/"+cy+"/disable", nil, withKey(cyTok)) // itself
	d.call(ok, get, "/v1/outbox?status=sent&limit=1", nil, withKey(cyTok))

	// A member's session reads its own account and changes only its own user.
	d.call(ok, get, "/v1/me", nil, withKey(deeTok)).Decode(t, &me)
	if me.User == nil || me.User.ID != dee || me.MayActAs != "self" || me.MayWrite {
		t.Errorf("me for a member: %+v", me)
	}
	d.call(404, get, "/v1/me", nil, withKey(deeTok), as(leaf))
	d.call(ok, get, users, nil, withKey(deeTok))
	d.call(ok, patch, users+"/"+dee, map[string]any{"name": "Dee Dee"}, withKey(deeTok))
	d.call(403, patch, users+"/"+dee, map[string]any{"role": "admin"}, withKey(deeTok))
	d.call(403, patch, users+"/"+cy, map[string]any{"name": "Not Cy"}, withKey(deeTok))
	d.call(403, post, users, map[string]any{"email": "fay@acme.example"}, withKey(deeTok))
	d.call(403, get, "/v1/outbox", nil, withKey(deeTok))
	d.call(noContent, post, "/v1/auth/logout", nil, withKey(deeTok))
	d.call(401, get, "/v1/me", nil, withKey(deeTok))
	d.call(401, post, "/v1/auth/logout", nil, withKey(deeTok))
	d.call(400, post, "/v1/auth/logout", nil) // an API key

	// People belong to several accounts: cy and dee are invited into beta,
	// cy accepts and dee declines; an invitation into an account closed
	// meanwhile cannot be accepted.
	d.call(404, post, login, map[string]any{"login": "cy@acme.example", "password": strong, "accountId": beta}, noKey)
	deeTok = d.login("dee", strong)
	betaUsers := "/v1/accounts/" + beta + "/users"
	cyInBeta := idOf(t, d.call(created, post, betaUsers, map[string]any{"email": "cy@acme.example"}))
	deeInBeta := idOf(t, d.call(created, post, betaUsers, map[string]any{"email": "dee@acme.example"}))
	shut := d.child(root)
	cyInGone := idOf(t, d.call(created, post, "/v1/accounts/"+shut+"/users", map[string]any{"email": "cy@acme.example"}))
	d.call(ok, del, "/v1/accounts/"+shut, nil)
	memberships := "/v1/me/memberships/"
	d.call(409, post, memberships+cyInGone+"/accept", nil, withKey(cyTok))
	d.call(404, post, memberships+deeInBeta+"/accept", nil, withKey(cyTok)) // another person's
	d.call(413, post, memberships+cyInBeta+"/accept", tooBig, withKey(cyTok))
	d.call(422, post, memberships+cyInBeta+"/accept", map[string]any{"now": true}, withKey(cyTok))
	d.call(ok, post, memberships+cyInBeta+"/accept", nil, withKey(cyTok))
	d.call(404, post, memberships+cyInBeta+"/accept", nil, withKey(cyTok)) // answered
	d.call(ok, get, "/v1/accounts/"+beta, nil, withKey(cyTok), as(beta))
	d.call(409, post, memberships+cyInGone+"/decline", nil, withKey(cyTok))
	d.call(413, post, memberships+deeInBeta+"/decline", tooBig, withKey(deeTok))
	d.call(422, post, memberships+deeInBeta+"/decline", map[string]any{"no": true}, withKey(deeTok))
	d.call(ok, post, memberships+deeInBeta+"/decline", nil, withKey(deeTok))
	d.call(404, get, "/v1/accounts/"+beta, nil, withKey(deeTok), as(beta))

	// A person changes their own address: it applies when confirmed from
	// the new one.
	d.call(ok, patch, users+"/"+cy, map[string]any{"email": "cy.new@acme.example"}, withKey(cyTok))
	confirm := "/v1/auth/confirm-email"
	newTokens := d.deliver()
	d.call(400, post, confirm, map[string]any{"token": "cnt_unknown"}, noKey)
	d.call(413, post, confirm, tooBig, noKey)
	d.call(422, post, confirm, map[string]any{"token": newTokens["cy.new@acme.example"], "also": 1}, noKey)
	d.call(ok, post, confirm, map[string]any{"token": newTokens["cy.new@acme.example"]}, noKey)
	d.call(400, post, confirm, map[string]any{"token": newTokens["cy.new@acme.example"]}, noKey) // used
	cyTok = d.login("cy.new@acme.example", strong)

	// Signing in and out work in a suspended account; writing does not.
	for email, id := range d.users(susp) {
		d.call(ok, post, setPassword, map[string]any{"token": tokens[email], "password": strong}, noKey)
		tok := d.login(email, strong)
		d.call(403, patch, "/v1/accounts/"+susp+"/users/"+id, map[string]any{"name": "Suspended"}, withKey(tok))
		d.call(noContent, post, "/v1/auth/logout", nil, withKey(tok))
	}

	// Disable, enable, resend.
	d.call(accepted, post, users+"/"+eve+"/resend-invitation", nil, withHeader("Idempotency-Key", "resend-eve"))
	d.call(409, post, users+"/"+cy+"/resend-invitation", nil) // active: not invited
	d.call(422, post, users+"/"+eve+"/resend-invitation", map[string]any{"now": true})
	d.call(ok, post, users+"/"+eve+"/disable", nil, withHeader("Idempotency-Key", "disable-eve"))
	d.call(ok, post, users+"/"+eve+"/disable", "{}") // already disabled: no change
	d.call(422, post, users+"/"+eve+"/disable", map[string]any{"reason": "left"})
	d.call(403, post, setPassword, map[string]any{"token": tokens["eve@acme.example"], "password": strong}, noKey)
	d.deliver() // the resent invitation can no longer be sent: failed
	d.call(ok, post, users+"/"+dee+"/disable", nil)
	d.call(403, post, login, map[string]any{"login": "dee", "password": strong}, noKey)
	var enabled struct{ Status string }
	d.call(ok, post, users+"/"+dee+"/enable", nil).Decode(t, &enabled)
	if enabled.Status != "active" {
		t.Errorf("enabled user with a password: status %q, want active", enabled.Status)
	}
	d.call(ok, post, users+"/"+dee+"/enable", "{}") // not disabled: no change
	d.call(422, post, users+"/"+dee+"/enable", map[string]any{"why": "x"})
	d.call(404, post, users+"/"+unknownUser+"/enable", nil)
	d.call(noContent, del, users+"/"+eve, nil)
	d.call(404, del, users+"/"+eve, nil)

	// A user whose account is closed: the right password answers 409, its
	// links stop working, and the account's users can no longer change.
	gone := d.child(root)
	goneUsers := "/v1/accounts/" + gone + "/users"
	goneMember := idOf(t, d.call(created, post, goneUsers, map[string]any{"email": "member@gone.example"}))
	var goneEmail, goneMaster string
	for email, id := range d.users(gone) {
		if id != goneMember {
			goneEmail, goneMaster = email, id
		}
	}
	tokens = d.deliver()
	d.call(ok, post, setPassword, map[string]any{"token": tokens[goneEmail], "password": strong}, noKey)
	d.call(ok, del, "/v1/accounts/"+gone, nil)
	d.call(409, post, login, map[string]any{"login": goneEmail, "password": strong}, noKey)
	d.call(409, post, setPassword, map[string]any{"token": tokens["member@gone.example"], "password": strong}, noKey)
	d.call(409, patch, goneUsers+"/"+goneMaster, map[string]any{"name": "Reopen"})
	d.call(409, post, goneUsers+"/"+goneMaster+"/disable", nil)
	d.call(409, post, goneUsers+"/"+goneMaster+"/enable", nil)
	d.call(409, post, goneUsers+"/"+goneMember+"/resend-invitation", nil)
	d.call(409, del, goneUsers+"/"+goneMember, nil)

	// Password reset: the same answer for everybody; the link replaces the
	// password and ends the user's sessions.
	reset := "/v1/auth/password-reset"
	d.call(accepted, post, reset, map[string]any{"email": "cy.new@acme.example"}, noKey)
	d.call(accepted, post, reset, map[string]any{"email": "nobody@example.com"}, noKey)
	d.call(422, post, reset, map[string]any{"email": "nobody"}, noKey)
	d.call(400, post, reset, `[`, noKey)
	d.call(413, post, reset, tooBig, noKey)
	tokens = d.deliver()
	d.call(ok, post, setPassword, map[string]any{"token": tokens["cy.new@acme.example"], "password": "a whole new passphrase 7"}, noKey)
	d.call(401, get, "/v1/me", nil, withKey(cyTok))
	d.login("cy.new@acme.example", "a whole new passphrase 7")

	// The login throttle (2 failures slow it, 3 lock it).
	wrong := map[string]any{"login": "nobody@example.com", "password": "wrong password"}
	d.call(401, post, login, wrong, noKey)
	d.call(401, post, login, wrong, noKey)
	if got := d.call(429, post, login, wrong, noKey).Header.Get("Retry-After"); got != "1" {
		t.Errorf("login-throttled: Retry-After %q, want 1", got)
	}
	a.Clock.Advance(time.Second)
	d.call(401, post, login, wrong, noKey) // the third failure locks the login
	if got := d.call(429, post, login, wrong, noKey).Header.Get("Retry-After"); got != "900" {
		t.Errorf("login-locked: Retry-After %q, want 900", got)
	}

	// Umbrellas and sub-accounts (seed 002). The umbrella is an enterprise
	// customer; the invitee a basic one that answers with its own key or
	// its admin's session, since nobody else may.
	var umbrellaRes struct{ Account struct{ ID string } }
	d.call(created, post, "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Acme Group", "email": "group@acme-group.example", "plan": "enterprise"}}).Decode(t, &umbrellaRes)
	umbrella := umbrellaRes.Account.ID
	asUmbrella := as(umbrella)
	invitee := d.child(root)
	inviteeKey := withKey(d.key(invitee))
	var inviteeAdmin string
	for email := range d.users(invitee) {
		inviteeAdmin = email
	}
	tokens = d.deliver()
	d.call(ok, post, setPassword, map[string]any{"token": tokens[inviteeAdmin], "password": strong}, noKey)
	inviteeSession := withKey(d.login(inviteeAdmin, strong))
	invitations := "/v1/invitations"
	invitation := func(id string, action ...string) string {
		return strings.Join(append([]string{invitations, id}, action...), "/")
	}
	unknownInvitation := canopy.NewIDs(nil, nil).New(canopy.PrefixInvitation)

	// Invite by account id, replay, and the no-probing answer for an id
	// that is nobody's.
	offer := map[string]any{"accountId": invitee, "message": "Join Acme Group", "autoShareRole": "viewer", "expiresInDays": 7}
	inviteRes := d.call(created, post, invitations, offer, asUmbrella, withHeader("Idempotency-Key", "invite-1"))
	inv1 := idOf(t, inviteRes)
	if got := inviteRes.Header.Get("Location"); got != invitation(inv1) {
		t.Errorf("invitation Location %q", got)
	}
	inviteReplay := d.call(created, post, invitations, offer, asUmbrella, withHeader("Idempotency-Key", "invite-1"))
	if inviteReplay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(inviteReplay.Body, inviteRes.Body) {
		t.Errorf("replay of invite-1: Idempotent-Replayed=%q, same body=%v", inviteReplay.Header.Get("Idempotent-Replayed"), bytes.Equal(inviteReplay.Body, inviteRes.Body))
	}
	ghostOffer := map[string]any{"accountId": unknown, "message": "Join Acme Group", "autoShareRole": "viewer", "expiresInDays": 7}
	ghost := d.call(created, post, invitations, ghostOffer, asUmbrella)
	if a, b := slices.Sorted(mapKeys(inviteRes.JSON(t))), slices.Sorted(mapKeys(ghost.JSON(t))); !slices.Equal(a, b) {
		t.Errorf("inviting an account that exists and one that does not answer differently:\n%v\n%v", a, b)
	}
	d.call(409, post, invitations, map[string]any{"accountId": invitee}, asUmbrella)  // invitation-pending
	d.call(409, post, invitations, map[string]any{"accountId": umbrella}, asUmbrella) // cycle: itself
	d.call(409, post, invitations, map[string]any{"accountId": d.child(umbrella)}, asUmbrella)
	d.call(403, post, invitations, map[string]any{"accountId": invitee}, as(acme)) // plan-not-allowed: basic
	d.call(422, post, invitations, map[string]any{}, asUmbrella)
	d.call(422, post, invitations, map[string]any{"accountId": invitee, "email": inviteeAdmin}, asUmbrella)
	d.call(422, post, invitations, map[string]any{"email": "someone@example.com", "autoShareRole": "owner",
		"billing": "shared", "expiresInDays": 31, "mobile": "555-0100"}, asUmbrella)

	// Lists and reads: the two sides only.
	d.call(ok, get, invitations+"?direction=sent", nil, asUmbrella)
	d.call(ok, get, invitations+"?direction=sent&status=pending&limit=1", nil, asUmbrella).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of invitations")
	}
	d.call(ok, get, invitations+"?direction=sent&status=pending&limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil, asUmbrella)
	d.call(ok, get, invitations+"?direction=received", nil, inviteeKey).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0]["id"] != inv1 {
		t.Errorf("received by the invitee: %+v", page.Data)
	}
	d.call(400, get, invitations, nil, asUmbrella)
	d.call(400, get, invitations+"?direction=sideways", nil, asUmbrella)
	d.call(400, get, invitations+"?direction=sent&status=maybe", nil, asUmbrella)
	d.call(400, get, invitations+"?direction=sent&cursor=nonsense", nil, asUmbrella)
	d.call(ok, get, invitation(inv1), nil, asUmbrella)
	d.call(ok, get, invitation(inv1), nil, inviteeKey)
	d.call(ok, get, invitation(inv1), nil, as(invitee)) // an ancestor acting as the invitee reads it (but cannot answer)
	d.call(404, get, invitation(inv1), nil, as(beta))   // a bystander
	d.call(404, get, invitation(unknownInvitation), nil, asUmbrella)
	d.call(400, get, invitations+"/inv_nope", nil, asUmbrella)

	// Accept: only the invitee's own credential.
	d.call(404, post, invitation(inv1, "accept"), nil, as(invitee))
	d.call(404, post, invitation(inv1, "accept"), nil, asUmbrella)
	d.call(404, post, invitation(inv1, "cancel"), nil, inviteeKey) // only the umbrella cancels
	d.call(422, post, invitation(inv1, "accept"), map[string]any{"now": true}, inviteeKey)
	var answered struct{ Status, InviteeAccountID string }
	d.call(ok, post, invitation(inv1, "accept"), "{}", inviteeKey, withHeader("Idempotency-Key", "accept-1")).Decode(t, &answered)
	if answered.Status != "accepted" || answered.InviteeAccountID != invitee {
		t.Errorf("accepted invitation: %+v", answered)
	}
	if res := d.call(ok, post, invitation(inv1, "accept"), "{}", inviteeKey, withHeader("Idempotency-Key", "accept-1")); res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay of accept-1 was not replayed")
	}
	var sub struct {
		ParentID      *string
		EffectivePlan string
		Link          struct{ Origin, AutoShareRole, Billing string }
	}
	d.call(ok, get, "/v1/accounts/"+invitee, nil, asUmbrella).Decode(t, &sub)
	if sub.ParentID == nil || *sub.ParentID != umbrella || sub.EffectivePlan != "pro" || sub.Link.Origin != "invited" || sub.Link.AutoShareRole != "viewer" {
		t.Errorf("the sub-account: %+v", sub)
	}
	d.call(409, post, invitation(inv1, "accept"), nil, inviteeKey) // invalid-state
	d.call(409, post, invitation(inv1, "decline"), nil, inviteeKey)
	d.call(409, post, invitation(inv1, "cancel"), nil, asUmbrella)
	d.call(409, post, invitation(inv1, "resend"), nil, asUmbrella)

	// Accepting breaks no tree rule: has-umbrella, cycle, account-closed.
	nested := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": leaf}, asUmbrella))
	d.call(409, post, invitation(nested, "accept"), nil, withKey(d.key(leaf))) // has-umbrella: under acme
	basic := d.child(root)
	d.call(403, post, "/v1/accounts", map[string]any{"account": map[string]any{ // plan-not-allowed: above its creator's
		"name": "Too Grand", "email": "grand@example.com", "plan": "enterprise"}}, as(basic))
	var topRes struct{ Account struct{ ID string } }
	d.call(created, post, "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Top", "email": "top@example.com", "plan": "enterprise"}}).Decode(t, &topRes)
	top := topRes.Account.ID
	topKey := withKey(d.key(top))
	var innerRes struct{ Account struct{ ID string } }
	d.call(created, post, "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Inner", "email": "inner@example.com", "plan": "enterprise"}}, as(top)).Decode(t, &innerRes)
	upward := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": top}, as(innerRes.Account.ID)))
	d.call(409, post, invitation(upward, "accept"), nil, topKey) // cycle: the umbrella is below it
	var goneUmbrellaRes struct{ Account struct{ ID string } }
	d.call(created, post, "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Gone Group", "email": "gone-group@example.com", "plan": "enterprise"}}).Decode(t, &goneUmbrellaRes)
	goneUmbrella := goneUmbrellaRes.Account.ID
	late := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": top}, as(goneUmbrella)))
	lateByEmail := idOf(t, d.call(created, post, invitations, map[string]any{"email": "latecomer@example.com"}, as(goneUmbrella)))
	lateToken := d.deliver()["latecomer@example.com"]
	d.call(ok, del, "/v1/accounts/"+goneUmbrella, nil)
	d.call(409, post, invitation(late, "accept"), nil, topKey) // account-closed: the umbrella
	signup := "/v1/signup"
	d.call(409, post, signup, map[string]any{"accountName": "Latecomer", "email": "latecomer@example.com",
		"invitation": map[string]any{"id": lateByEmail, "token": lateToken}}, noKey)

	// Leave, and the links that cannot be left.
	d.call(ok, del, "/v1/accounts/"+invitee+"/parent", nil, inviteeKey).Decode(t, &sub)
	if sub.ParentID == nil || *sub.ParentID != root || sub.EffectivePlan != "basic" || sub.Link.Origin != "created" || sub.Link.Billing != "self" {
		t.Errorf("the account that left: %+v", sub)
	}
	d.call(404, del, "/v1/accounts/"+invitee+"/parent", nil, asUmbrella) // no longer its umbrella's
	d.call(409, del, "/v1/accounts/"+invitee+"/parent", nil, inviteeKey) // created-link: a top-level customer now
	d.call(409, del, "/v1/accounts/"+leaf+"/parent", nil)                // created-link: acme created it
	d.call(409, del, "/v1/accounts/"+closed+"/parent", nil)              // account-closed
	d.call(403, del, "/v1/accounts/"+root+"/parent", nil)
	d.call(400, del, "/v1/accounts/acc_nope/parent", nil)

	// By email, to an address that has a user: its admin's session
	// answers; here it declines.
	byEmail := idOf(t, d.call(created, post, invitations, map[string]any{"email": inviteeAdmin, "firstName": "Drive", "billing": "self"}, asUmbrella))
	d.deliver()
	d.call(ok, get, invitations+"?direction=received&status=pending", nil, inviteeSession).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0]["id"] != byEmail {
		t.Errorf("received by the invitee's admin: %+v", page.Data)
	}
	d.call(ok, get, invitation(byEmail), nil, inviteeSession)
	d.call(ok, post, invitation(byEmail, "decline"), nil, inviteeSession, withHeader("Idempotency-Key", "decline-1")).Decode(t, &answered)
	if answered.Status != "declined" || answered.InviteeAccountID != invitee {
		t.Errorf("declined invitation: %+v", answered)
	}
	d.call(409, post, invitation(byEmail, "decline"), nil, inviteeSession)
	d.call(422, post, invitation(byEmail, "decline"), map[string]any{"reason": "no"}, inviteeSession)

	// Accept again, then the umbrella releases it.
	again := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": invitee, "billing": "self"}, asUmbrella))
	d.call(ok, post, invitation(again, "accept"), nil, inviteeSession)
	d.call(ok, del, "/v1/accounts/"+invitee+"/parent", nil, asUmbrella)

	// Resend and cancel: the umbrella only.
	withdrawn := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": invitee}, asUmbrella))
	d.call(ok, post, invitation(withdrawn, "resend"), nil, asUmbrella, withHeader("Idempotency-Key", "resend-1"))
	d.call(422, post, invitation(withdrawn, "resend"), map[string]any{"to": "x"}, asUmbrella)
	d.call(404, post, invitation(withdrawn, "resend"), nil, inviteeKey)
	d.call(422, post, invitation(withdrawn, "cancel"), map[string]any{"why": "x"}, asUmbrella)
	d.call(ok, post, invitation(withdrawn, "cancel"), "{}", asUmbrella, withHeader("Idempotency-Key", "cancel-1"))
	d.call(409, post, invitation(withdrawn, "cancel"), nil, asUmbrella)
	d.call(409, post, invitation(withdrawn, "resend"), nil, asUmbrella)
	d.call(409, post, invitation(withdrawn, "accept"), nil, inviteeKey)

	// Sign-up: the same answer for every address; with an invitation's
	// link the new account joins the umbrella at once. Only the newest
	// link of a resent invitation works.
	newcomer := idOf(t, d.call(created, post, invitations, map[string]any{"email": "newcomer@example.com", "autoShareRole": "editor"}, asUmbrella))
	oldLink := d.deliver()["newcomer@example.com"]
	d.call(ok, post, invitation(newcomer, "resend"), nil, asUmbrella)
	newLink := d.deliver()["newcomer@example.com"]
	join := func(token, email string) map[string]any {
		return map[string]any{"accountName": "Newcomer Ltd", "email": email, "name": "Nina",
			"invitation": map[string]any{"id": newcomer, "token": token}}
	}
	d.call(400, post, signup, join(oldLink, "newcomer@example.com"), noKey) // invalid-token: superseded
	d.call(400, post, signup, join(newLink, "someone@example.com"), noKey)  // not the invited address
	d.call(400, post, signup, join("cnt_forged", "newcomer@example.com"), noKey)
	d.call(accepted, post, signup, join(newLink, "newcomer@example.com"), noKey, withHeader("X-Channel", "contract-test"))
	d.call(400, post, signup, join(newLink, "newcomer@example.com"), noKey) // used
	var joined struct{ Status, InviteeAccountID string }
	d.call(ok, get, invitation(newcomer), nil, asUmbrella).Decode(t, &joined)
	if joined.Status != "accepted" || joined.InviteeAccountID == "" {
		t.Errorf("the invitation a sign-up accepted: %+v", joined)
	}
	d.call(ok, get, "/v1/accounts/"+joined.InviteeAccountID, nil, asUmbrella).Decode(t, &sub)
	if sub.ParentID == nil || *sub.ParentID != umbrella || sub.EffectivePlan != "pro" || sub.Link.AutoShareRole != "editor" {
		t.Errorf("the account that signed up by invitation: %+v", sub)
	}
	d.call(accepted, post, signup, map[string]any{"accountName": "Fresh", "email": "fresh@example.com"}, noKey)
	d.call(accepted, post, signup, map[string]any{"accountName": "Again", "email": "newcomer@example.com"}, noKey) // in use: same answer
	d.call(422, post, signup, map[string]any{"email": "fresh2@example.com"}, noKey)
	d.call(422, post, signup, map[string]any{"accountName": "X", "email": "not an address", "invitation": map[string]any{"id": "inv_nope", "token": "x"}}, noKey)
	d.call(422, post, signup, map[string]any{"accountName": "X", "email": "x@example.com", "plan": "enterprise"}, noKey)
	d.call(400, post, signup, `{"accountName": `, noKey)
	d.call(413, post, signup, tooBig, noKey)

	// Contacts: subAccount: true invites, in the same transaction.
	contacts := "/v1/contacts"
	carolIn := map[string]any{"email": "carol@clinic.example", "firstName": "Carol", "lastName": "Diaz",
		"mobile": "+14155550123", "notes": "North clinic", "subAccount": true}
	carolRes := d.call(created, post, contacts, carolIn, asUmbrella, withHeader("Idempotency-Key", "contact-carol"))
	var carol struct{ ID, SubAccountStatus, InvitationID, SubAccountID string }
	carolRes.Decode(t, &carol)
	if carol.SubAccountStatus != "invited" || carol.InvitationID == "" {
		t.Errorf("contact saved with subAccount: %s", carolRes.Body)
	}
	if got := carolRes.Header.Get("Location"); got != contacts+"/"+carol.ID {
		t.Errorf("contact Location %q", got)
	}
	if res := d.call(created, post, contacts, carolIn, asUmbrella, withHeader("Idempotency-Key", "contact-carol")); !bytes.Equal(res.Body, carolRes.Body) {
		t.Errorf("replay of contact-carol differs")
	}
	d.call(ok, get, invitation(carol.InvitationID), nil, asUmbrella)                         // with its contactId
	d.call(409, post, contacts, map[string]any{"email": "carol@clinic.example"}, asUmbrella) // contact-exists
	dan := idOf(t, d.call(created, post, contacts, map[string]any{"email": "dan@clinic.example"}, asUmbrella))
	d.call(403, post, contacts, map[string]any{"email": "eve@clinic.example", "subAccount": true}, as(acme)) // plan-not-allowed
	acmeContact := idOf(t, d.call(created, post, contacts, map[string]any{"email": "eve@clinic.example"}, as(acme)))
	d.call(422, post, contacts, map[string]any{}, asUmbrella)
	d.call(422, post, contacts, map[string]any{"email": "nope", "mobile": "12345", "subAccount": "yes"}, asUmbrella)
	d.call(ok, get, contacts+"?limit=1", nil, asUmbrella).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of contacts")
	}
	d.call(ok, get, contacts+"?limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil, asUmbrella)
	d.call(400, get, contacts+"?cursor=nonsense", nil, asUmbrella)
	d.call(ok, get, contacts+"/"+carol.ID, nil, asUmbrella)
	d.call(404, get, contacts+"/"+carol.ID, nil, as(acme)) // another account's
	d.call(404, get, contacts+"/"+carol.ID, nil)           // even an ancestor's
	d.call(400, get, contacts+"/con_nope", nil, asUmbrella)
	d.call(ok, patch, contacts+"/"+carol.ID, map[string]any{"subAccount": false}, asUmbrella).Decode(t, &carol)
	if carol.SubAccountStatus != "none" {
		t.Errorf("withdrawn contact: status %q", carol.SubAccountStatus)
	}
	d.call(ok, patch, contacts+"/"+carol.ID, map[string]any{"subAccount": true, "notes": "Invited again"}, asUmbrella).Decode(t, &carol)
	if carol.SubAccountStatus != "invited" {
		t.Errorf("re-invited contact: status %q", carol.SubAccountStatus)
	}
	d.call(409, patch, contacts+"/"+dan, map[string]any{"email": "carol@clinic.example"}, asUmbrella) // contact-exists
	d.call(403, patch, contacts+"/"+acmeContact, map[string]any{"subAccount": true}, as(acme))        // plan-not-allowed
	d.call(422, patch, contacts+"/"+dan, map[string]any{"mobile": "555", "email": ""}, asUmbrella)
	d.call(404, patch, contacts+"/"+acmeContact, map[string]any{"notes": "x"}, asUmbrella)
	carolLink := d.deliver()["carol@clinic.example"]
	d.call(accepted, post, signup, map[string]any{"accountName": "North Clinic", "email": "carol@clinic.example",
		"invitation": map[string]any{"id": carol.InvitationID, "token": carolLink}}, noKey)
	d.call(ok, get, contacts+"/"+carol.ID, nil, asUmbrella).Decode(t, &carol)
	if carol.SubAccountStatus != "active" || carol.SubAccountID == "" {
		t.Errorf("contact that joined: status %q, subAccountId %q", carol.SubAccountStatus, carol.SubAccountID)
	}
	d.call(ok, patch, contacts+"/"+dan, map[string]any{"subAccount": true}, asUmbrella)
	d.call(noContent, del, contacts+"/"+acmeContact, nil, as(acme))
	d.call(404, del, contacts+"/"+acmeContact, nil, as(acme))
	d.call(409, del, fill(contacts+"/{contactId}", ""), nil, as(closed)) // account-closed

	// Expiry reads as of now, swept or not. Dan's invitation has the
	// default 14 days.
	expiring := idOf(t, d.call(created, post, invitations, map[string]any{"accountId": invitee, "expiresInDays": 1}, asUmbrella))
	a.Clock.Advance(14 * 24 * time.Hour)
	d.call(ok, get, invitation(expiring), nil, asUmbrella).Decode(t, &answered)
	if answered.Status != "expired" {
		t.Errorf("invitation past its expiry: status %q", answered.Status)
	}
	d.call(409, post, invitation(expiring, "accept"), nil, inviteeKey)
	d.call(ok, get, invitations+"?direction=received&status=expired", nil, inviteeKey).Decode(t, &page)
	if len(page.Data) != 1 || page.Data[0]["id"] != expiring {
		t.Errorf("expired invitations received: %+v", page.Data)
	}
	var danNow struct{ SubAccountStatus string }
	d.call(ok, get, contacts+"/"+dan, nil, asUmbrella).Decode(t, &danNow)
	if danNow.SubAccountStatus != "expired" {
		t.Errorf("contact whose invitation expired: status %q", danNow.SubAccountStatus)
	}
	if _, err := a.Svc.ExpireInvitations(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.call(ok, get, invitation(expiring), nil, inviteeKey) // swept: respondedAt set
	d.call(ok, get, contacts, nil, asUmbrella)
	d.deliver()

	// The outbox.
	d.call(ok, get, "/v1/outbox?limit=2", nil).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of outbox messages")
	}
	d.call(ok, get, "/v1/outbox?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil)
	d.call(ok, get, "/v1/outbox?status=failed", nil).Decode(t, &page)
	// Eve was disabled before her invitation went out; an email of an
	// account closed earlier in this test failed for good too.
	failedTo := map[any]bool{}
	for _, m := range page.Data {
		failedTo[m["recipient"]] = true
	}
	if !failedTo["eve@acme.example"] {
		t.Errorf("failed messages: %+v", page.Data)
	}
	d.call(ok, get, "/v1/outbox?status=pending", nil)
	d.call(ok, get, "/v1/outbox?status=sent", nil, as(acme))
	d.call(400, get, "/v1/outbox?status=bogus", nil)
	d.call(400, get, "/v1/outbox?cursor=nonsense", nil)

	// Audit.
	audit := d.call(ok, get, "/v1/audit-events?limit=2", nil, withHeader("X-Channel", "contract-test"))
	audit.Decode(t, &page)
	if page.NextCursor != nil {
		d.call(ok, get, "/v1/audit-events?limit=2&cursor="+url.QueryEscape(*page.NextCursor), nil)
	}
	d.call(ok, get, "/v1/audit-events?action=account.created&targetId="+acme, nil)
	d.call(ok, get, "/v1/audit-events", nil, as(acme))
	d.call(400, get, "/v1/audit-events?cursor=nonsense", nil)

	// Forms, records, shares and the dashboard (rules 5-7, docs/rules.md).
	d.driveForms(c, closed)

	// Credits: grants, transfers, caps, usage and the ledger (rule 8, docs/rules.md).
	d.driveCredits(c, closed)

	// Collecting from the field: SMS collectors, the webhook, web links,
	// paid by the payer (rule 8, docs/rules.md).
	d.driveCollect(c, closed)

	// Events and webhook endpoints.
	d.driveWebhooks(closed)

	// Every authenticated route: 401 without a key, 404 acting as an
	// unknown account, 400 for a malformed X-Customer-Id; writes: 403
	// acting in a suspended subtree; routes with bodies: 400 and 413.
	validBodies["POST /v1/accounts/{id}/move"] = map[string]any{"parentId": root}
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
		// A person's own routes write to no account: they work in a
		// suspended one (logout answers 400 to an API key). A suspended
		// sub-account may still leave its umbrella.
		if r.Method != get && !r.Personal && key != "DELETE /v1/accounts/{id}/parent" {
			d.call(403, r.Method, fill(r.Path, susp), body, as(susp))
		}
		if hasBody {
			d.call(415, r.Method, path, "{}", withHeader("Content-Type", "text/plain"))
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
	down.call(500, post, "/v1/auth/login", map[string]any{"login": "anyone", "password": "anything"}, noKey)
	down.call(500, post, "/v1/auth/set-password", map[string]any{"token": "cnt_any", "password": strong}, noKey)
	down.call(500, post, "/v1/auth/password-reset", map[string]any{"email": "anyone@example.com"}, noKey)
	down.call(500, post, "/v1/auth/confirm-email", map[string]any{"token": "cnt_any"}, noKey)
	down.call(500, post, "/v1/signup", map[string]any{"accountName": "Anyone", "email": "anyone@example.com"}, noKey)
	down.inbound(500, text("SM1", "+15551230000", "HELP"))

	// 415: a public body not sent as JSON.
	for route := range publicBodies {
		method, path, _ := strings.Cut(route, " ")
		d.call(415, method, path, "{}", noKey, withHeader("Content-Type", "application/x-www-form-urlencoded"))
	}

	// 429 email-quota: a server whose plans allow one email a day.
	d.driveEmailQuota()

	// 503 busy: a server none of whose database connections comes free in
	// time. Every operation that reads or writes answers it, with
	// Retry-After, instead of waiting.
	busy503 := &driver{t: t, api: busyAPI(t)}
	validBodies["POST /v1/accounts/{id}/move"] = map[string]any{"parentId": busy503.api.Root.ID}
	for _, r := range busy503.api.srv.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		if r.Path == "/v1/sms/inbound" { // signed, or it never reaches the database
			busy503.inbound(503, text("SM1", "+15551230000", "HELP"))
			continue
		}
		body := validBodies[r.Method+" "+r.Path]
		if r.Public {
			body = publicBodies[r.Method+" "+r.Path]
		}
		res := busy503.call(503, r.Method, fill(r.Path, busy503.api.Root.ID), body)
		if got := res.Header.Get("Retry-After"); got != "1" {
			t.Errorf("%s %s busy: Retry-After %q, want 1", r.Method, r.Path, got)
		}
	}

	// 403 signup-disabled: a server whose operator turned sign-up off.
	off := &driver{t: t, api: newTestAPI(t, testdb.SQLite(t), testfactory.Options{SignupDisabled: true})}
	off.call(403, post, "/v1/signup", map[string]any{"accountName": "Anyone", "email": "anyone@example.com"}, noKey)

	// 429 rate-limited: a server whose public endpoints allow each client
	// address one request a minute. The limit answers before the body is
	// read.
	busy := &driver{t: t, api: newTestAPIWith(t, testdb.SQLite(t), Options{PublicRateLimit: rate.Every(time.Minute), PublicBurst: 1})}
	busy.call(400, post, login, `nope`, noKey)
	for _, r := range busy.api.srv.Routes() {
		if r.RateLimited {
			if got := busy.call(429, r.Method, r.Path, `nope`, noKey).Header.Get("Retry-After"); got != "60" {
				t.Errorf("%s %s rate-limited: Retry-After %q, want 60", r.Method, r.Path, got)
			}
		}
	}

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

// driveForms drives the form routes on a tree of its own: root → fp → fc →
// fgc, and fp → fsib. fc owns the forms; fp sees them through its link
// (dataManager by default), the platform root through none; fgc sees them
// only once one is an example; fsib never does. closed is a closed account.
func (d *driver) driveForms(c *contract, closed string) {
	t := d.t
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		ok, created, noContent     = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	root := d.api.Root.ID
	fp := d.child(root)
	fc := d.child(fp)
	fgc := d.child(fc)
	fsib := d.child(fp)
	d.api.Fund(t, fp) // records cost credits; fp pays for its subtree
	forms := "/v1/forms"
	form := func(id string, rest ...string) string { return strings.Join(append([]string{forms, id}, rest...), "/") }
	example := func(path, method string) any {
		return at(c.doc, "paths", path, method, "requestBody", "content", "application/json", "example")
	}
	ifMatch := func(v string) option { return withHeader("If-Match", v) }
	type view struct {
		ID, Role, CopiedFrom, Name string
		ExampleOnly, Example       bool
		Version                    int
	}
	var v view
	var page struct {
		Data       []map[string]any
		NextCursor *string
	}
	fieldsOf := func(res *response) []string {
		var p struct{ Errors []struct{ Field string } }
		res.Decode(t, &p)
		var out []string
		for _, e := range p.Errors {
			out = append(out, e.Field)
		}
		slices.Sort(out)
		return out
	}

	// Create with the documented example, replay it, reuse its key.
	first := d.call(created, post, forms, example(forms, "post"), as(fc), withHeader("Idempotency-Key", "form-1"))
	first.Decode(t, &v)
	f1 := v.ID
	if t.Failed() || f1 == "" {
		t.Fatalf("the documented create-form example was refused")
	}
	if v.Role != "owner" || v.Version != 1 || first.Header.Get("ETag") != `"1"` || first.Header.Get("Location") != form(f1) {
		t.Errorf("created form: %+v, ETag %q, Location %q", v, first.Header.Get("ETag"), first.Header.Get("Location"))
	}
	replay := d.call(created, post, forms, example(forms, "post"), as(fc), withHeader("Idempotency-Key", "form-1"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay of form-1: Idempotent-Replayed=%q, same body=%v", replay.Header.Get("Idempotent-Replayed"), bytes.Equal(replay.Body, first.Body))
	}
	d.call(422, post, forms, validBodies["POST /v1/forms"], as(fc), withHeader("Idempotency-Key", "form-1"))
	bad := d.call(422, post, forms, map[string]any{"name": "Bad", "questions": []any{
		map[string]any{"id": "q1", "label": "Q", "type": "essay"},
		map[string]any{"id": "q1", "label": "Pick", "type": "choice"},
	}}, as(fc))
	if got := fieldsOf(bad); !slices.Equal(got, []string{"questions[0].type", "questions[1].id", "questions[1].options"}) {
		t.Errorf("invalid questions: fields %v", got)
	}
	d.call(422, post, forms, map[string]any{"name": "X", "colour": "red"}, as(fc))
	d.call(422, post, forms, map[string]any{"description": "no name"}, as(fc))
	d.call(409, post, forms, validBodies["POST /v1/forms"], as(closed))
	f2 := idOf(t, d.call(created, post, forms, map[string]any{"name": "Visitor log"}, as(fc)))
	d.call(created, post, forms, map[string]any{"name": "Umbrella checklist"}, as(fp))

	// Reads: the owner, an ancestor through its link; not the platform
	// root (its links share nothing), a sibling or, yet, a descendant.
	if res := d.call(ok, get, form(f1), nil, as(fc)); res.Header.Get("ETag") != `"1"` {
		t.Errorf("GET form: ETag %q", res.Header.Get("ETag"))
	}
	d.call(ok, get, form(f1), nil, as(fp)).Decode(t, &v)
	if v.Role != "dataManager" || v.ExampleOnly {
		t.Errorf("the parent's view of its child's form: %+v", v)
	}
	d.call(404, get, form(f1), nil)
	d.call(404, get, form(f1), nil, as(fsib))
	d.call(404, get, form(f1), nil, as(fgc))
	d.call(404, get, fill(forms+"/{formId}", ""), nil, as(fc))
	d.call(400, get, forms+"/frm_nope", nil, as(fc))

	// Lists and filters.
	d.call(ok, get, forms+"?limit=1", nil, as(fp)).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of forms")
	}
	d.call(ok, get, forms+"?limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil, as(fp))
	d.call(ok, get, forms+"?owner="+fc+"&role=dataManager&example=false", nil, as(fp)).Decode(t, &page)
	if len(page.Data) != 2 {
		t.Errorf("fc's forms as fp sees them: %+v", page.Data)
	}
	d.call(ok, get, forms+"?ownerSubtree="+fc+"&role=editor", nil, as(fp)).Decode(t, &page)
	if len(page.Data) != 0 {
		t.Errorf("forms where fp is at least editor: %+v", page.Data)
	}
	d.call(ok, get, forms+"?owner="+root, nil, as(fc)) // outside its subtree: only explicit shares
	d.call(ok, get, forms, nil)                        // the platform root sees nothing of its customers
	d.call(400, get, forms+"?role=boss", nil, as(fp))
	d.call(400, get, forms+"?example=maybe", nil, as(fp))
	d.call(400, get, forms+"?owner=acc_nope", nil, as(fp))
	d.call(400, get, forms+"?cursor=nonsense", nil, as(fp))
	d.call(404, get, forms+"?ownerSubtree="+root, nil, as(fc))

	// Change the definition, with and without If-Match.
	res := d.call(ok, patch, form(f2), example("/v1/forms/{formId}", "patch"), as(fc), ifMatch(`"1"`))
	if res.Header.Get("ETag") != `"2"` {
		t.Errorf("PATCH form: ETag %q", res.Header.Get("ETag"))
	}
	d.call(412, patch, form(f2), map[string]any{"name": "Stale"}, as(fc), ifMatch(`"1"`))
	d.call(ok, patch, form(f2), map[string]any{"description": "Who came by."}, as(fc), ifMatch(`W/"2"`))
	d.call(ok, patch, form(f2), map[string]any{"name": "Visitors"}, as(fc))
	d.call(ok, patch, form(f2), map[string]any{"name": "Any"}, as(fc), ifMatch("*"))
	d.call(400, patch, form(f2), map[string]any{"name": "Any"}, as(fc), ifMatch("yesterday"))
	d.call(403, patch, form(f2), map[string]any{"name": "By the umbrella"}, as(fp)) // dataManager
	d.call(404, patch, form(f2), map[string]any{"name": "By a sibling"}, as(fsib))
	d.call(422, patch, form(f2), map[string]any{"name": "", "questions": []any{map[string]any{"id": "1st", "label": "L", "type": "text", "options": []string{"a"}}}}, as(fc))
	d.call(409, patch, fill(forms+"/{formId}", ""), validBodies["PATCH /v1/forms/{formId}"], as(closed))

	// An example flows down: fgc sees its questions, read-only, and copies it.
	d.call(ok, put, form(f1, "example"), example("/v1/forms/{formId}/example", "put"), as(fc)).Decode(t, &v)
	if !v.Example || v.Version != 2 {
		t.Errorf("form tagged as an example: %+v", v)
	}
	d.call(ok, put, form(f1, "example"), map[string]any{"example": true}, as(fc)) // no change
	d.call(403, put, form(f1, "example"), map[string]any{"example": false}, as(fp))
	d.call(422, put, form(f1, "example"), map[string]any{}, as(fc))
	d.call(422, put, form(f1, "example"), map[string]any{"example": "yes"}, as(fc))
	d.call(404, put, form(f1, "example"), map[string]any{"example": true}, as(fsib))
	d.call(409, put, fill(forms+"/{formId}/example", ""), validBodies["PUT /v1/forms/{formId}/example"], as(closed))
	d.call(ok, get, form(f1), nil, as(fgc)).Decode(t, &v)
	if v.Role != "none" || !v.ExampleOnly {
		t.Errorf("an example as a descendant sees it: %+v", v)
	}
	var dash struct {
		Own, SharedWithMe, Examples *struct {
			Data  []map[string]any
			Count int
		}
	}
	d.call(ok, get, "/v1/dashboard", nil, as(fgc)).Decode(t, &dash)
	if dash.Examples == nil || dash.Examples.Count != 1 || len(dash.Examples.Data) != 1 || dash.Examples.Data[0]["id"] != f1 {
		t.Errorf("fgc's dashboard: %+v", dash)
	}
	d.call(ok, get, forms, nil, as(fgc)).Decode(t, &page)
	if len(page.Data) != 0 {
		t.Errorf("GET /v1/forms lists a form seen only as an example: %+v", page.Data)
	}
	records := form(f1, "records")
	recordExample := example("/v1/forms/{formId}/records", "post")
	d.call(403, get, records, nil, as(fgc))
	d.call(403, get, fill(records+"/{recordId}", ""), nil, as(fgc))
	d.call(403, post, records, recordExample, as(fgc))
	d.call(403, patch, form(f1), map[string]any{"name": "Mine now"}, as(fgc))
	d.call(403, get, form(f1, "shares"), nil, as(fgc))
	copyRes := d.call(created, post, form(f1, "copy"), example("/v1/forms/{formId}/copy", "post"), as(fgc), withHeader("Idempotency-Key", "copy-1"))
	copyRes.Decode(t, &v)
	if v.Role != "owner" || v.CopiedFrom != f1 || v.Example || copyRes.Header.Get("Location") != form(v.ID) {
		t.Errorf("copy of an example: %+v, Location %q", v, copyRes.Header.Get("Location"))
	}
	copied := v.ID
	if res := d.call(created, post, form(f1, "copy"), example("/v1/forms/{formId}/copy", "post"), as(fgc), withHeader("Idempotency-Key", "copy-1")); !bytes.Equal(res.Body, copyRes.Body) {
		t.Errorf("replay of copy-1 differs")
	}
	d.call(created, post, form(f1, "copy"), nil, as(fgc)).Decode(t, &v) // no body: the source's name
	if v.Name != "Site inspection" {
		t.Errorf("copy without a name: %+v", v)
	}
	d.call(created, post, form(f1, "copy"), "{}", as(fp))
	d.call(422, post, form(f1, "copy"), map[string]any{"name": "   "}, as(fgc))
	d.call(422, post, form(f1, "copy"), map[string]any{"title": "Copy"}, as(fgc))
	d.call(404, post, form(f1, "copy"), nil, as(fsib))
	d.call(409, post, fill(forms+"/{formId}/copy", ""), nil, as(closed))

	// Why each account has the access it has.
	explain := func(actingAs, account string) (x struct {
		Role, Rule  string
		ExampleView bool
		Link        *struct{ AccountID, ParentID, AutoShareRole string }
	}) {
		t.Helper()
		d.call(ok, get, form(f1, "access")+"?accountId="+account, nil, as(actingAs)).Decode(t, &x)
		return x
	}
	if x := explain(fc, fc); x.Role != "owner" || x.Rule != "owner" {
		t.Errorf("the owner's access: %+v", x)
	}
	if x := explain(fc, fgc); x.Role != "none" || x.Rule != "example" || !x.ExampleView {
		t.Errorf("a descendant's access to an example: %+v", x)
	}
	if x := explain(fp, fp); x.Role != "dataManager" || x.Rule != "link" || x.Link == nil || x.Link.AccountID != fc || x.Link.ParentID != fp {
		t.Errorf("the parent's access: %+v", x)
	}
	// The platform root sees none of its customers' forms: it is told nothing of them.
	d.call(404, get, form(f1, "access")+"?accountId="+root, nil, as(root))
	if x := explain(fp, fsib); x.Role != "none" || x.Rule != "none" {
		t.Errorf("a sibling's access: %+v", x)
	}
	// Without accountId an account asks about itself, whatever its place.
	self := func(actingAs string) (x struct{ AccountID, Role, Rule string }) {
		t.Helper()
		d.call(ok, get, form(f1, "access"), nil, as(actingAs)).Decode(t, &x)
		return x
	}
	if x := self(fgc); x.AccountID != fgc || x.Role != "none" || x.Rule != "example" {
		t.Errorf("a descendant asks about its access to an example: %+v", x)
	}
	if x := self(fp); x.AccountID != fp || x.Role != "dataManager" || x.Rule != "link" {
		t.Errorf("the parent asks about its own access: %+v", x)
	}
	d.call(404, get, form(f1, "access"), nil, as(fsib))
	var audience struct {
		Data       []struct{ AccountID, Rule string }
		NextCursor *string
	}
	d.call(ok, get, form(f1, "access")+"?limit=1", nil, as(fc)).Decode(t, &audience) // the owner: who sees the form
	if len(audience.Data) != 1 || audience.Data[0].AccountID != fc || audience.Data[0].Rule != "owner" || audience.NextCursor == nil {
		t.Errorf("the owner's first page of its form's audience: %+v", audience)
	} else {
		d.call(ok, get, form(f1, "access")+"?cursor="+url.QueryEscape(*audience.NextCursor), nil, as(fc))
	}
	d.call(400, get, form(f1, "access")+"?cursor=nonsense", nil, as(fc))
	d.call(400, get, form(f1, "access")+"?accountId=", nil, as(fc))
	d.call(400, get, form(f1, "access")+"?accountId=acc_nope", nil, as(fc))
	d.call(ok, get, form(f1, "access")+"?accountId="+fp, nil, as(fc))    // the owner asks about an ancestor, which sees its form
	d.call(404, get, form(f1, "access")+"?accountId="+fgc, nil, as(fgc)) // neither owner nor ancestor
	d.call(404, get, fill(forms+"/{formId}/access?accountId={accountId}", fc), nil, as(fc))

	// Explicit shares override the tree: fp drops to viewer, fgc becomes a
	// dataManager, the platform root is told none explicitly.
	shares := form(f1, "shares")
	d.call(ok, put, shares+"/"+fp, example("/v1/forms/{formId}/shares/{accountId}", "put"), as(fc))
	d.call(ok, put, shares+"/"+fgc, map[string]any{"role": "none"}, as(fc)) // hides the example
	d.call(404, get, form(f1), nil, as(fgc))
	d.call(ok, put, shares+"/"+fgc, map[string]any{"role": "editor"}, as(fc))
	d.call(ok, put, shares+"/"+fgc, map[string]any{"role": "dataManager"}, as(fc)) // replaced
	d.call(ok, put, shares+"/"+root, map[string]any{"role": "none"}, as(fc))
	if x := explain(fp, fp); x.Role != "viewer" || x.Rule != "explicit" || x.Link != nil {
		t.Errorf("the parent's access after a share: %+v", x)
	}
	d.call(409, put, shares+"/"+fc, map[string]any{"role": "viewer"}, as(fc))   // the owner
	d.call(404, put, shares+"/"+fsib, map[string]any{"role": "viewer"}, as(fc)) // neither ancestor nor descendant
	d.call(404, put, shares+"/"+canopy.NewIDs(nil, nil).New(canopy.PrefixAccount), map[string]any{"role": "viewer"}, as(fc))
	d.call(400, put, shares+"/acc_nope", map[string]any{"role": "viewer"}, as(fc))
	d.call(403, put, shares+"/"+fgc, map[string]any{"role": "viewer"}, as(fp))
	d.call(422, put, shares+"/"+fgc, map[string]any{"role": "owner"}, as(fc))
	d.call(422, put, shares+"/"+fgc, map[string]any{"role": "viewer", "until": "2027-01-01"}, as(fc))
	d.call(409, put, fill(forms+"/{formId}/shares/{accountId}", fp), validBodies["PUT /v1/forms/{formId}/shares/{accountId}"], as(closed))
	d.call(ok, get, shares, nil, as(fc)).Decode(t, &page)
	if len(page.Data) != 3 || page.NextCursor != nil {
		t.Errorf("shares: %+v", page)
	}
	d.call(403, get, shares, nil, as(fp))
	d.call(404, get, shares, nil, as(fsib))
	d.call(noContent, del, shares+"/"+root, nil, as(fc))
	d.call(404, del, shares+"/"+root, nil, as(fc))
	d.call(403, del, shares+"/"+fgc, nil, as(fp))
	d.call(404, del, shares+"/"+fgc, nil, as(fsib))
	d.call(409, del, fill(forms+"/{formId}/shares/{accountId}", fp), nil, as(closed))

	// Records: fgc (dataManager by share) collects; fp (viewer) reads.
	first = d.call(created, post, records, recordExample, as(fgc), withHeader("Idempotency-Key", "record-1"))
	r1 := idOf(t, first)
	if first.Header.Get("Location") != records+"/"+r1 {
		t.Errorf("record Location %q", first.Header.Get("Location"))
	}
	if res := d.call(created, post, records, recordExample, as(fgc), withHeader("Idempotency-Key", "record-1")); res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(res.Body, first.Body) {
		t.Errorf("replay of record-1 differs")
	}
	d.call(422, post, records, map[string]any{"answers": map[string]any{}}, as(fgc), withHeader("Idempotency-Key", "record-1"))
	d.call(403, post, records, recordExample, as(fp))
	bad = d.call(422, post, records, map[string]any{"answers": map[string]any{
		"site": 7, "visited": "23/11/2026", "outcome": nil, "hazards": []string{"trip", "trip"}, "nope": 1,
	}}, as(fc))
	if got := fieldsOf(bad); !slices.Equal(got, []string{"answers.hazards", "answers.nope", "answers.outcome", "answers.site", "answers.visited"}) {
		t.Errorf("invalid answers: fields %v", got)
	}
	d.call(422, post, records, map[string]any{"answer": map[string]any{}}, as(fc))
	d.call(404, post, records, recordExample, as(fsib))
	d.call(409, post, fill(forms+"/{formId}/records", ""), validBodies["POST /v1/forms/{formId}/records"], as(closed))
	d.call(created, post, records, map[string]any{"answers": map[string]any{"site": "South", "visited": "2026-11-24", "outcome": "fail", "photo": nil}}, as(fc))
	d.call(ok, get, records+"?limit=1", nil, as(fp)).Decode(t, &page)
	if page.NextCursor == nil {
		t.Fatalf("expected a second page of records")
	}
	d.call(ok, get, records+"?limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil, as(fp))
	d.call(ok, get, records+"?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", nil, as(fc))
	d.call(400, get, records+"?from=yesterday", nil, as(fc))
	d.call(400, get, records+"?cursor=nonsense", nil, as(fc))
	d.call(404, get, records, nil, as(fsib))
	record := records + "/" + r1
	if res := d.call(ok, get, record, nil, as(fp)); res.Header.Get("ETag") != `"1"` {
		t.Errorf("GET record: ETag %q", res.Header.Get("ETag"))
	}
	d.call(404, get, fill(records+"/{recordId}", ""), nil, as(fc))
	d.call(404, get, form(f2, "records", r1), nil, as(fc)) // a record of another form
	d.call(400, get, records+"/rec_nope", nil, as(fc))
	res = d.call(ok, patch, record, example("/v1/forms/{formId}/records/{recordId}", "patch"), as(fc), ifMatch(`"1"`))
	var rec struct {
		Answers map[string]any
		Version int
	}
	res.Decode(t, &rec)
	if _, has := rec.Answers["photo"]; has || rec.Version != 2 || res.Header.Get("ETag") != `"2"` {
		t.Errorf("patched record: %+v, ETag %q", rec, res.Header.Get("ETag"))
	}
	d.call(412, patch, record, map[string]any{"answers": map[string]any{"score": 3}}, as(fc), ifMatch(`"1"`))
	d.call(400, patch, record, map[string]any{"answers": map[string]any{"score": 3}}, as(fc), ifMatch("one"))
	d.call(403, patch, record, map[string]any{"answers": map[string]any{"score": 1}}, as(fp))
	d.call(422, patch, record, map[string]any{"answers": map[string]any{"outcome": nil}}, as(fc))
	d.call(404, patch, fill(records+"/{recordId}", ""), map[string]any{"answers": map[string]any{}}, as(fc))
	d.call(409, patch, fill(forms+"/{formId}/records/{recordId}", ""), validBodies["PATCH /v1/forms/{formId}/records/{recordId}"], as(closed))
	d.call(403, del, record, nil, as(fp))
	d.call(noContent, del, record, nil, as(fgc))
	d.call(404, del, record, nil, as(fc))
	d.call(409, del, fill(forms+"/{formId}/records/{recordId}", ""), nil, as(closed))

	// The dashboard, whole and by section.
	d.call(ok, get, "/v1/dashboard", nil, as(fc)).Decode(t, &dash)
	if dash.Own == nil || dash.Own.Count != 2 || dash.SharedWithMe == nil || dash.Examples == nil {
		t.Errorf("fc's dashboard: %+v", dash)
	}
	var own struct {
		Own          *struct{ NextCursor *string }
		SharedWithMe any
	}
	d.call(ok, get, "/v1/dashboard?section=own&limit=1", nil, as(fc)).Decode(t, &own)
	if own.Own == nil || own.Own.NextCursor == nil || own.SharedWithMe != nil {
		t.Fatalf("fc's own forms, one a page: %+v", own)
	}
	d.call(ok, get, "/v1/dashboard?section=own&limit=1&cursor="+url.QueryEscape(*own.Own.NextCursor), nil, as(fc))
	d.call(ok, get, "/v1/dashboard?section=sharedWithMe", nil, as(fp))
	d.call(ok, get, "/v1/dashboard?section=examples", nil, as(fgc))
	d.call(400, get, "/v1/dashboard?section=mine", nil, as(fc))
	d.call(400, get, "/v1/dashboard?cursor="+url.QueryEscape(*own.Own.NextCursor), nil, as(fc))
	d.call(400, get, "/v1/dashboard?section=examples&cursor="+url.QueryEscape(*own.Own.NextCursor), nil, as(fc))
	d.call(400, get, "/v1/dashboard?limit=0", nil, as(fc))

	// The link policy: the parent lowers what it gets; the platform root's
	// links are fixed.
	link := func(id string) string { return "/v1/accounts/" + id + "/link" }
	var acc struct {
		Link struct{ AutoShareRole, Billing string }
	}
	d.call(ok, patch, link(fc), example("/v1/accounts/{id}/link", "patch"), as(fp)).Decode(t, &acc)
	if acc.Link.AutoShareRole != "viewer" || acc.Link.Billing != "self" {
		t.Errorf("changed link: %+v", acc)
	}
	d.call(ok, get, form(f2), nil, as(fp)).Decode(t, &v)
	if v.Role != "viewer" {
		t.Errorf("fp's role on f2 after lowering the link: %+v", v)
	}
	d.call(ok, patch, link(fc), map[string]any{"billing": "self"}, as(fp))       // no change
	d.call(403, patch, link(fc), map[string]any{"billing": "parent"}, as(fc))    // the child itself
	d.call(ok, patch, link(fgc), map[string]any{"billing": "parent"}, as(fp))    // an account further up may too (no change)
	d.call(403, patch, link(fc), map[string]any{"delegatedAdmin": true}, as(fp)) // the child's alone to grant
	d.call(409, patch, link(fc), map[string]any{"delegatedAdmin": true}, as(fc)) // created-link: fp acts as fc already
	d.call(409, patch, link(fp), map[string]any{"billing": "parent"})            // a link to the platform root
	d.call(409, patch, link(closed), map[string]any{"billing": "parent"})        // account-closed
	d.call(404, patch, link(fc), map[string]any{"billing": "parent"}, as(fsib))
	d.call(422, patch, link(fc), map[string]any{"autoShareRole": "owner", "billing": "both"}, as(fp))
	d.call(422, patch, link(fc), map[string]any{"policy": "x"}, as(fp))

	// Deleting: the owner only; copies stay.
	d.call(403, del, form(f1), nil, as(fp))
	d.call(403, del, form(f1), nil, as(fgc))
	d.call(noContent, del, form(f1), nil, as(fc))
	d.call(404, del, form(f1), nil, as(fc))
	d.call(404, get, records, nil, as(fc))
	d.call(ok, get, form(copied), nil, as(fgc))
	d.call(409, del, fill(forms+"/{formId}", ""), nil, as(closed))
}

// driveEmailQuota drives the 429 email-quota answers on a server whose
// plans allow each account one email a day: the first invitation goes out,
// every further one is refused until the next day.
func (d *driver) driveEmailQuota() {
	t := d.t
	const post, patch = http.MethodPost, http.MethodPatch
	one := canopy.PlanLimits{EmailsPerDay: 1, Forms: -1, FormBytes: -1}
	q := &driver{t: t, api: newTestAPI(t, testdb.SQLite(t), testfactory.Options{PlanLimits: map[canopy.Plan]canopy.PlanLimits{
		canopy.PlanBasic: one, canopy.PlanPro: one, canopy.PlanEnterprise: one}})}
	var acc struct{ Account struct{ ID string } }
	q.call(http.StatusCreated, post, "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Quota", "email": "quota@example.com", "plan": "enterprise"}}).Decode(t, &acc)
	a := acc.Account.ID
	users := "/v1/accounts/" + a + "/users"
	user := idOf(t, q.call(http.StatusCreated, post, users, map[string]any{"email": "first@example.com"}, as(a)))
	res := q.call(http.StatusTooManyRequests, post, users, map[string]any{"email": "second@example.com"}, as(a))
	var p struct {
		Quota *struct {
			Name        string
			Limit, Used int
			ResetsAt    string
		}
	}
	res.Decode(t, &p)
	if p.Quota == nil || p.Quota.Name != canopy.QuotaEmailsPerDay || p.Quota.Limit != 1 || p.Quota.Used != 1 || p.Quota.ResetsAt == "" ||
		res.Header.Get("Retry-After") == "" {
		t.Errorf("email-quota: quota %+v, Retry-After %q", p.Quota, res.Header.Get("Retry-After"))
	}
	q.call(http.StatusTooManyRequests, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "Q1", "email": "q1@example.com"}}, as(a))
	q.call(http.StatusTooManyRequests, post, users+"/"+user+"/resend-invitation", nil, as(a))
	q.call(http.StatusTooManyRequests, patch, users+"/"+user, map[string]any{"email": "readdressed@example.com"}, as(a))
	q.call(http.StatusTooManyRequests, post, "/v1/invitations", map[string]any{"email": "sub@example.com"}, as(a))
	q.call(http.StatusTooManyRequests, post, "/v1/contacts", map[string]any{"email": "sub@example.com", "subAccount": true}, as(a))
	q.api.Clock.Advance(24 * time.Hour) // a new day
	inv := idOf(t, q.call(http.StatusCreated, post, "/v1/invitations", map[string]any{"email": "sub@example.com"}, as(a)))
	q.call(http.StatusTooManyRequests, post, "/v1/invitations/"+inv+"/resend", nil, as(a))
	ct := idOf(t, q.call(http.StatusCreated, post, "/v1/contacts", map[string]any{"email": "ct@example.com"}, as(a)))
	q.call(http.StatusTooManyRequests, patch, "/v1/contacts/"+ct, map[string]any{"subAccount": true}, as(a))
}
