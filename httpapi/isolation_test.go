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
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// matrixAccount is one account of the isolation tree with its own
// credential — an API key, or for every other account an admin's session,
// which must see exactly what the account's keys see — and a probe user.
type matrixAccount struct {
	*canopy.Account
	name  string
	key   string
	ref   string
	probe *canopy.User
}

// The three kinds of edge the matrix mixes (rule 2, docs/rules.md).
const (
	edgeCreated   = "created"
	edgeInvited   = "invited"   // a consent boundary
	edgeDelegated = "delegated" // invited, with delegated admin
)

// matrixSpec is the isolation tree: every kind of edge, below one another
// too, so that a boundary hides a delegated link and a created subtree.
//
//	root ─ A ─ A1 ─ A11
//	       ├ S (invited) ─ S1 ─ S11 (delegated)
//	       │               └ S2 (invited)
//	       └ D (delegated) ─ D1
//	                        └ D2 (invited)
//	root ─ B ─ B1
var matrixSpec = []struct {
	name, parent, edge string
	plan               canopy.Plan
}{
	{"A", "", edgeCreated, canopy.PlanEnterprise},
	{"A1", "A", edgeCreated, canopy.PlanBasic},
	{"A11", "A1", edgeCreated, canopy.PlanBasic},
	{"S", "A", edgeInvited, canopy.PlanEnterprise},
	{"S1", "S", edgeCreated, canopy.PlanEnterprise},
	{"S11", "S1", edgeDelegated, canopy.PlanBasic},
	{"S2", "S", edgeInvited, canopy.PlanBasic},
	{"D", "A", edgeDelegated, canopy.PlanEnterprise},
	{"D1", "D", edgeCreated, canopy.PlanBasic},
	{"D2", "D", edgeInvited, canopy.PlanBasic},
	{"B", "", edgeCreated, canopy.PlanBasic},
	{"B1", "B", edgeCreated, canopy.PlanBasic},
}

// buildMatrixTree makes the tree of matrixSpec: every account with a key
// (or an admin's session), an external reference and a configuration
// namespace, funded; invited accounts are made under the platform root and
// accept their umbrella's invitation themselves, deepest umbrellas first.
func buildMatrixTree(t *testing.T, a *testAPI) ([]*matrixAccount, *testfactory.Model) {
	t.Helper()
	ctx := context.Background()
	root := &matrixAccount{Account: a.Root, name: "root", key: a.RootKey}
	_, err := a.Svc.PutConfiguration(ctx, a.As(t, root.ID), root.ID, "probe", []byte(`{"v":0}`))
	require.NoError(t, err)
	all := []*matrixAccount{root}
	byName := map[string]*matrixAccount{"": root}
	m := testfactory.NewModel(root.ID)
	for _, sp := range matrixSpec {
		parent := byName[sp.parent]
		if sp.edge != edgeCreated {
			parent = root
		}
		in := a.ChildInput()
		ref := fmt.Sprintf("M-%d", len(all))
		in.Account.Plan = sp.plan
		in.ExternalReferences = []service.ExternalReferenceInput{{Type: "crm", Value: ref}}
		in.Configurations = canopy.Configurations{{Namespace: "probe", Value: []byte(`{"v":1}`)}}
		res, err := a.Svc.CreateChild(ctx, a.As(t, parent.ID), in)
		require.NoError(t, err)
		acc := &matrixAccount{Account: res.Account, name: sp.name, key: a.Key(t, res.Account.ID), ref: ref}
		all, byName[sp.name] = append(all, acc), acc
	}
	for i := len(matrixSpec) - 1; i >= 0; i-- {
		sp := matrixSpec[i]
		acc := byName[sp.name]
		m.Parent[acc.ID] = byName[sp.parent].ID
		m.Link[acc.ID] = &canopy.Link{Origin: canopy.OriginCreated}
		if sp.edge == edgeCreated {
			continue
		}
		m.Link[acc.ID] = &canopy.Link{Origin: canopy.OriginInvited, DelegatedAdmin: sp.edge == edgeDelegated}
		a.Invite(t, byName[sp.parent].ID, acc.ID, service.InvitationInput{DelegatedAdmin: sp.edge == edgeDelegated})
	}
	for _, acc := range all {
		fresh, err := a.Svc.GetAccount(ctx, a.As(t, acc.ID), acc.ID)
		require.NoError(t, err)
		acc.Account = fresh
	}
	a.User(t, root.ID, canopy.UserAdmin) // the root has no master user: keep an admin besides the probe
	for _, acc := range all {
		a.Fund(t, acc.ID) // transfers come out of the caller's own balance
	}
	for i, acc := range all {
		acc.probe = a.User(t, acc.ID, canopy.UserAdmin)
		if i%2 == 1 {
			acc.key = a.SignIn(t, masterEmail(t, a, acc.ID))
		}
	}
	return all, m
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
// succeeds when the target is the caller itself, see whether it succeeds
// on an invited sub-account the caller only sees; on a strict descendant
// the caller acts on it always succeeds, and for anything else it answers
// 404.
type matrixCase struct {
	name string
	self bool
	see  bool
	// only404 endpoints are destructive: they are called only for targets
	// the caller must not see.
	only404 bool
	call    func(t *testing.T, a *testAPI, caller, target *matrixAccount) *response
	// want, when set, gives the exact status for the pairs the rule above
	// does not decide alone (0: the rule above).
	want func(caller, target *matrixAccount, reach canopy.Reach) int
	// check, when set, looks further into a successful answer.
	check func(t *testing.T, r *response, target *matrixAccount, reach canopy.Reach)
}

// Expected outcomes besides exact statuses.
const (
	wantOK      = -1 // any 2xx
	wantRefused = -2 // 403 or 404: an account acting on itself where only ancestors may
)

// expect is the outcome the reference model gives a pair.
func (mc matrixCase) expect(c, x *matrixAccount, reach canopy.Reach) int {
	if mc.want != nil && reach != canopy.ReachNone {
		if w := mc.want(c, x, reach); w != 0 {
			return w
		}
	}
	switch {
	case reach == canopy.ReachNone || (reach == canopy.ReachSee && !mc.see):
		return http.StatusNotFound
	case c.ID == x.ID && !mc.self:
		return wantRefused
	}
	return wantOK
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
		{name: "GET account", self: true, see: true, call: get("")},
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
		{name: "PATCH link terms in the sub-account's favour", self: false, see: true, call: send("PATCH", "/link", map[string]string{"billing": "parent"}),
			want: func(c, x *matrixAccount, _ canopy.Reach) int {
				switch {
				case x.IsRoot() || c.ID == x.ID:
					return http.StatusForbidden
				case x.Depth() == 1:
					return http.StatusConflict // a link to the platform root is fixed
				}
				return 0
			}},
		{name: "move under its current parent", self: false, want: func(c, x *matrixAccount, reach canopy.Reach) int {
			if reach == canopy.ReachAct && c.ID != x.ID && !c.IsRoot() && x.Link != nil && x.Link.Origin == canopy.OriginInvited {
				return http.StatusConflict // invited sub-accounts are released, never moved
			}
			return 0
		}, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			parent := x.ParentID
			if parent == "" {
				parent = x.ID // the root: refused either way
			}
			return a.do(t, req{Method: "POST", Path: "/v1/accounts/" + x.ID + "/move", Key: c.key, Body: map[string]string{"parentId": parent}})
		}},
		{name: "GET credits", self: true, see: true, call: get("/credits"),
			check: func(t *testing.T, r *response, x *matrixAccount, reach canopy.Reach) {
				var v service.Credits
				r.Decode(t, &v)
				if reach == canopy.ReachSee {
					require.Empty(t, v.Balances, "an umbrella reads what it pays for, not the sub-account's own balances")
				}
			}},
		{name: "GET credits ledger", self: true, see: true, call: get("/credits/ledger")},
		{name: "GET credits usage", self: true, see: true, call: get("/credits/usage?groupBy=child"),
			check: func(t *testing.T, r *response, x *matrixAccount, reach canopy.Reach) {
				var v service.UsageReport
				r.Decode(t, &v)
				if reach == canopy.ReachSee {
					require.Equal(t, "none", v.GroupBy, "grouping by child would list below the sub-account")
				}
			}},
		{name: "POST credits transfer", self: false, see: true, call: send("POST", "/credits/transfers", map[string]any{"type": "upload", "amount": 1})},
		{name: "POST credits grant", self: false, see: true, call: send("POST", "/credits/grants", map[string]any{"type": "upload", "amount": 1}),
			want: func(c, x *matrixAccount, _ canopy.Reach) int {
				if c.IsRoot() && x.ID == c.ID {
					return wantOK // the platform root issues credits, to itself too
				}
				return 0
			}},
		{name: "PUT then DELETE a credit limit", self: false, see: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
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
		{name: "DELETE parent (release)", see: true, only404: true, call: send("DELETE", "/parent", nil)},
		{name: "DELETE api-key", only404: true, call: func(t *testing.T, a *testAPI, c, x *matrixAccount) *response {
			keys := a.root(t, "GET", "/v1/accounts/"+x.ID+"/api-keys", nil)
			var page struct{ Data []canopy.APIKey }
			keys.Decode(t, &page)
			return a.do(t, req{Method: "DELETE", Path: "/v1/accounts/" + x.ID + "/api-keys/" + page.Data[0].ID, Key: c.key})
		}},
	}
}

// TestIsolationMatrix checks rule 2 (docs/rules.md) pair by pair, over a
// tree that mixes created links, invited links and invited links with
// delegated admin: a call succeeds exactly as a plain reference model of
// act / see / nothing says, and anything not allowed answers 404 — never
// 403. Callers hold API keys or admins' sessions, the platform root
// included.
func TestIsolationMatrix(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		accounts, m := buildMatrixTree(t, a)
		for _, mc := range matrixCases() {
			t.Run(mc.name, func(t *testing.T) {
				for _, caller := range accounts {
					for _, target := range accounts {
						reach := m.Reach(caller.ID, target.ID)
						want := mc.expect(caller, target, reach)
						if mc.only404 && want != http.StatusNotFound {
							continue
						}
						r := mc.call(t, a, caller, target)
						pair := fmt.Sprintf("%s on %s (%s)", caller.name, target.name, reach)
						switch want {
						case wantOK:
							require.True(t, r.Status >= 200 && r.Status < 300, "%s: %d %s", pair, r.Status, r.Body)
							if mc.check != nil {
								mc.check(t, r, target, reach)
							}
						case wantRefused:
							require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, r.Status, "%s: %s", pair, r.Body)
						default:
							require.Equal(t, want, r.Status, "%s: %s", pair, r.Body)
						}
					}
				}
			})
		}
		t.Run("lookups by external reference find only accounts the caller acts on", func(t *testing.T) {
			for _, caller := range accounts {
				for _, target := range accounts[1:] {
					r := a.do(t, req{Method: "GET", Path: "/v1/accounts?externalReference=crm:" + target.ref, Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					var page struct{ Data []canopy.Account }
					r.Decode(t, &page)
					if m.Below(target.ID, caller.ID) && m.Reach(caller.ID, target.ID) == canopy.ReachAct {
						require.Len(t, page.Data, 1, "%s finds %s", caller.name, target.name)
					} else {
						require.Empty(t, page.Data, "%s must not find %s", caller.name, target.name)
					}
				}
			}
		})
		t.Run("searches find what the caller's listing shows", func(t *testing.T) {
			for _, caller := range accounts {
				for _, target := range accounts {
					r := a.do(t, req{Method: "GET", Path: "/v1/accounts?search=" + strings.ToLower(target.ID), Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					var page struct{ Data []canopy.Account }
					r.Decode(t, &page)
					if m.Below(target.ID, caller.ID) && m.Reach(caller.ID, target.ID) != canopy.ReachNone {
						require.Len(t, page.Data, 1, "%s finds %s", caller.name, target.name)
						require.Equal(t, target.ID, page.Data[0].ID)
					} else {
						require.Empty(t, page.Data, "%s must not find %s", caller.name, target.name)
					}
				}
			}
		})
		t.Run("listings stop at the boundaries", func(t *testing.T) {
			byID := map[string]*matrixAccount{}
			for _, acc := range accounts {
				byID[acc.ID] = acc
			}
			for _, caller := range accounts {
				var want []string // what a listing of the caller's subtree shows
				for _, x := range accounts {
					if m.Below(x.ID, caller.ID) && m.Reach(caller.ID, x.ID) != canopy.ReachNone {
						want = append(want, x.ID)
					}
				}
				for _, path := range []string{"/v1/accounts?limit=200", "/v1/accounts/" + caller.ID + "/descendants?limit=200"} {
					var page struct{ Data []canopy.Account }
					r := a.do(t, req{Method: "GET", Path: path, Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					r.Decode(t, &page)
					var got []string
					for _, x := range page.Data {
						got = append(got, x.ID)
					}
					require.ElementsMatch(t, want, got, "%s lists %s", caller.name, path)
				}
				// An invited sub-account's outbox and audit trail are its own.
				for _, path := range []string{"/v1/audit-events?limit=200", "/v1/outbox?limit=200"} {
					r := a.do(t, req{Method: "GET", Path: path, Key: caller.key})
					require.Equal(t, http.StatusOK, r.Status)
					var page struct{ Data []struct{ AccountID string } }
					r.Decode(t, &page)
					for _, item := range page.Data {
						if _, ok := byID[item.AccountID]; !ok {
							continue // an account made by a matrix call
						}
						require.Equal(t, canopy.ReachAct, m.Reach(caller.ID, item.AccountID), "%s sees %s through %s", caller.name, byID[item.AccountID].name, path)
					}
				}
			}
		})
	})
}
