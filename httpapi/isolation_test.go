package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// matrixAccount is one account of the isolation tree with its own
// credential — an API key, or for every other account an admin's session,
// which must see exactly what the account's keys see — and a probe user.
type matrixAccount struct {
	*canopy.Account
	key   string
	ref   string
	probe *canopy.User
}

// buildMatrixTree makes root → 3 customers → 3 clients each → 2 sub-clients
// each: 31 accounts, each with a key, an external reference and a
// configuration namespace.
func buildMatrixTree(t *testing.T, a *testAPI) []*matrixAccount {
	t.Helper()
	ctx := context.Background()
	root := &matrixAccount{Account: a.Root, key: a.RootKey}
	_, err := a.Svc.PutConfiguration(ctx, a.As(t, root.ID), root.ID, "probe", []byte(`{"v":0}`))
	require.NoError(t, err)
	all := []*matrixAccount{root}
	level := []*matrixAccount{root}
	for _, fanout := range []int{3, 3, 2} {
		var next []*matrixAccount
		for _, parent := range level {
			for range fanout {
				in := a.ChildInput()
				ref := fmt.Sprintf("M-%d", len(all))
				in.ExternalReferences = []service.ExternalReferenceInput{{Type: "crm", Value: ref}}
				in.Configurations = canopy.Configurations{{Namespace: "probe", Value: []byte(`{"v":1}`)}}
				res, err := a.Svc.CreateChild(ctx, a.As(t, parent.ID), in)
				require.NoError(t, err)
				m := &matrixAccount{Account: res.Account, key: a.Key(t, res.Account.ID), ref: ref}
				all = append(all, m)
				next = append(next, m)
			}
		}
		level = next
	}
	require.GreaterOrEqual(t, len(all), 30)
	a.User(t, root.ID, canopy.UserAdmin) // the root has no master user: keep an admin besides the probe
	for _, m := range all {
		a.Fund(t, m.ID) // transfers come out of the caller's own balance
	}
	for i, m := range all {
		m.probe = a.User(t, m.ID, canopy.UserAdmin)
		if i%2 == 1 {
			m.key = a.SignIn(t, masterEmail(t, a, m.ID))
		}
	}
	return all
}

func masterEmail(t *testing.T, a *testAPI, accountID string) string {
	t.Helper()
	page, err := a.Svc.ListUsers(context.Background(), a.As(t, accountID), accountID, service.PageRequest{})
	require.NoError(t, err)
	for _, u := range page.Data {
		if u.Master {
			return u.Email
		}
	}
	t.Fatalf("no master user in %s", accountID)
	return ""
}

// matrixCase is one endpoint of the matrix. Self says whether the call
// succeeds when the target is the caller itself; for a strict descendant it
// always succeeds and for anything else it answers 404.
type matrixCase struct {
	name string
	self bool
	// only404 endpoints are destructive: they are called only for targets
	// the caller must not see.
	only404 bool
	call    func(t *testing.T, a *testAPI, caller, target *matrixAccount) *response
}

func matrixCases() []matrixCase {
	get := func(suffix string) func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
		return func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "GET", Path: "/v1/accounts/" + x.ID + suffix, Key: c.key})
		}
	}
	send := func(method, suffix string, body any) func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
		return func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: method, Path: "/v1/accounts/" + x.ID + suffix, Key: c.key, Body: body})
		}
	}
	return []matrixCase{
		{name: "GET account", self: true, call: get("")},
		{name: "GET children", self: true, call: get("/children")},
		{name: "GET descendants", self: true, call: get("/descendants?depth=2")},
		{name: "GET ancestors", self: true, call: get("/ancestors")},
		{name: "GET external-references", self: true, call: get("/external-references")},
		{name: "GET configurations", self: true, call: get("/configurations")},
		{name: "GET effective configurations", self: true, call: get("/configurations?effective=true")},
		{name: "GET configuration namespace", self: true, call: get("/configurations/probe")},
		{name: "GET workflows", self: true, call: get("/workflows")},
		{name: "GET api-keys", self: true, call: get("/api-keys")},
		{name: "act as target (X-Customer-Id)", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "GET", Path: "/v1/accounts/" + x.ID + "/children", Key: c.key, As: x.ID})
		}},
		{name: "PATCH account", self: true, call: send("PATCH", "", map[string]any{"metadata": map[string]string{"probe": "x"}})},
		{name: "PUT configuration", self: true, call: send("PUT", "/configurations/probe", map[string]int{"v": 2})},
		{name: "PUT workflows", self: true, call: send("PUT", "/workflows", map[string][]string{"workflows": {"probe"}})},
		{name: "POST api-key", self: true, call: send("POST", "/api-keys", map[string]string{"name": "matrix"})},
		{name: "PUT then DELETE configuration", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			r := a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + x.ID + "/configurations/tmp", Key: c.key, Body: "[]"})
			if r.Status != http.StatusOK {
				return r
			}
			return a.do(t, req{Method: "DELETE", Path: "/v1/accounts/" + x.ID + "/configurations/tmp", Key: c.key})
		}},
		{name: "suspend then reactivate", self: false, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			r := a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/suspend", Key: c.key})
			if r.Status != http.StatusOK {
				return r
			}
			return a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/reactivate", Key: c.key})
		}},
		{name: "move under its current parent", self: false, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			parent := x.ParentID
			if parent == "" {
				parent = x.ID // the root: refused either way
			}
			return a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/move", Key: c.key, Body: map[string]string{"parentId": parent}})
		}},
		{name: "GET credits", self: true, call: get("/credits")},
		{name: "GET credits ledger", self: true, call: get("/credits/ledger")},
		{name: "GET credits usage", self: true, call: get("/credits/usage?groupBy=child")},
		{name: "POST credits transfer", self: false, call: send("POST", "/credits/transfers", map[string]any{"type": "upload", "amount": 1})},
		{name: "PUT then DELETE a credit limit", self: false, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			r := a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + x.ID + "/credits/limits", Key: c.key, Body: map[string]any{"type": "upload", "monthly": 5}})
			if r.Status != http.StatusOK {
				return r
			}
			return a.do(t, req{Method: "DELETE", Path: "/v1/accounts/" + x.ID + "/credits/limits/upload", Key: c.key})
		}},
		{name: "GET users", self: true, call: get("/users")},
		{name: "GET user", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "GET", Path: "/v1/accounts/" + x.ID + "/users/" + x.probe.ID, Key: c.key})
		}},
		{name: "PATCH user", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "PATCH", Path: "/v1/accounts/" + x.ID + "/users/" + x.probe.ID, Key: c.key, Body: map[string]string{"name": "Probe"}})
		}},
		{name: "POST user", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			email := strings.ToLower(c.ID[4:]+"."+x.ID[4:]) + "@matrix.example"
			return a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/users", Key: c.key, Body: map[string]string{"email": email}})
		}},
		{name: "disable then enable a user", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			path := "/v1/accounts/" + x.ID + "/users/" + x.probe.ID
			r := a.do(t, req{Method: "POST", Path: path + "/disable", Key: c.key})
			if r.Status != http.StatusOK {
				return r
			}
			return a.do(t, req{Method: "POST", Path: path + "/enable", Key: c.key})
		}},
		{name: "resend an invitation", self: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/users/" + x.probe.ID + "/resend-invitation", Key: c.key})
		}},
		{name: "DELETE user", only404: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			return a.do(t, req{Method: "DELETE", Path: "/v1/accounts/" + x.ID + "/users/" + x.probe.ID, Key: c.key})
		}},
		{name: "DELETE account", only404: true, call: send("DELETE", "?children=close", nil)},
		{name: "DELETE api-key", only404: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			keys := a.root(t, "GET", "/v1/accounts/"+x.ID+"/api-keys", nil)
			var page struct{ Data []canopy.APIKey }
			keys.Decode(t, &page)
			return a.do(t, req{Method: "DELETE", Path: "/v1/accounts/" + x.ID + "/api-keys/" + page.Data[0].ID, Key: c.key})
		}},
	}
}

// TestIsolationMatrix checks DESIGN rule 2 pair by pair: a call succeeds
// exactly when the target is the caller or one of its descendants, and
// answers 404 — never 403 — otherwise.
func TestIsolationMatrix(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		accounts := buildMatrixTree(t, a)
		for _, mc := range matrixCases() {
			t.Run(mc.name, func(t *testing.T) {
				for _, caller := range accounts {
					for _, target := range accounts {
						visible := target.Path.Contains(caller.ID)
						if mc.only404 && visible {
							continue
						}
						r := mc.call(t, a, caller, target)
						switch {
						case !visible:
							require.Equal(t, http.StatusNotFound, r.Status, "%s must not see %s: %s", caller.ID, target.ID, r.Body)
						case target.ID != caller.ID || mc.self:
							require.True(t, r.Status >= 200 && r.Status < 300, "%s on its descendant %s: %d %s", caller.ID, target.ID, r.Status, r.Body)
						default:
							require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, r.Status, "%s on itself: %s", caller.ID, r.Body)
						}
					}
				}
			})
		}
		t.Run("lookups by external reference find only accounts below the caller", func(t *testing.T) {
			for _, caller := range accounts {
				for _, target := range accounts[1:] {
					r := a.do(t, req{Method: "GET", Path: "/v1/accounts?externalReference=crm:" + target.ref, Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					var page struct{ Data []canopy.Account }
					r.Decode(t, &page)
					if target.Path.Contains(caller.ID) && target.ID != caller.ID {
						require.Len(t, page.Data, 1, "%s finds %s", caller.ID, target.ID)
					} else {
						require.Empty(t, page.Data, "%s must not find %s", caller.ID, target.ID)
					}
				}
			}
		})
		t.Run("audit events and listings stay inside the subtree", func(t *testing.T) {
			byID := map[string]*matrixAccount{}
			for _, m := range accounts {
				byID[m.ID] = m
			}
			for _, caller := range accounts {
				for _, path := range []string{"/v1/audit-events?limit=200", "/v1/outbox?limit=200", "/v1/accounts?limit=200", "/v1/accounts/" + caller.ID + "/descendants?limit=200"} {
					r := a.do(t, req{Method: "GET", Path: path, Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					var page struct {
						Data []struct {
							ID        string `json:"id"`
							AccountID string `json:"accountId"`
						}
					}
					r.Decode(t, &page)
					for _, item := range page.Data {
						id := item.ID
						if item.AccountID != "" {
							id = item.AccountID
						}
						m, ok := byID[id]
						require.True(t, ok, id)
						require.True(t, m.Path.Contains(caller.ID), "%s sees %s through %s", caller.ID, id, path)
					}
				}
			}
		})
	})
}
