package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// The regression tests of rules 2 and 9 (docs/rules.md): each one is a way
// a security review found for one account to impose costs, data or control
// on another that never agreed, replayed over HTTP.

// account reads an account as the platform root sees it.
func (a *testAPI) account(t *testing.T, id string) *canopy.Account {
	t.Helper()
	r := a.root(t, "GET", "/v1/accounts/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var acc canopy.Account
	r.Decode(t, &acc)
	return &acc
}

// with sends a request with key, acting as as ("" for the key's own).
func (a *testAPI) with(t *testing.T, key, as, method, path string, body any) *response {
	t.Helper()
	return a.do(t, req{Method: method, Path: path, Key: key, As: as, Body: body})
}

func requireStatus(t *testing.T, want int, r *response, what string) {
	t.Helper()
	require.Equal(t, want, r.Status, "%s: %s", what, r.Body)
}

// A sub-account escaped its monthly cap and its "pays for itself" terms:
// it made a shell child and closed itself with children=reparent, and the
// shell landed under the umbrella, uncapped and paid by it.
func TestReparentingIsForTheParentsSide(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		s := a.Child(t, u.ID)
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "PATCH", "/v1/accounts/"+s.ID+"/link", map[string]string{"billing": "self"}), "pays for itself")
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "PUT", "/v1/accounts/"+s.ID+"/credits/limits", map[string]any{"type": "upload", "monthly": 10}), "capped")
		sKey := a.Key(t, s.ID)
		shell := a.with(t, sKey, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Shell", "email": "shell@example.com"}})
		requireStatus(t, http.StatusCreated, shell, "the shell child")
		var created struct{ Account canopy.Account }
		shell.Decode(t, &created)

		r := a.with(t, sKey, "", "DELETE", "/v1/accounts/"+s.ID+"?children=reparent", nil)
		requireStatus(t, http.StatusForbidden, r, "an account closing itself cannot hand its children up")
		require.Equal(t, "children", r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])
		require.Equal(t, s.ID, a.account(t, created.Account.ID).ParentID, "nothing moved")
		require.Equal(t, canopy.StatusActive, a.account(t, s.ID).Status, "nothing closed")

		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "DELETE", "/v1/accounts/"+s.ID+"?children=reparent", nil), "the umbrella chooses to take them")
		require.Equal(t, u.ID, a.account(t, created.Account.ID).ParentID)
	})
}

// An umbrella closing itself with children=reparent handed its invited
// sub-accounts, with their terms, to the grandparent, which then read
// their data and paid for them.
func TestReparentingReleasesInvitedSubAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		g := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		gKey := a.Key(t, g.ID)
		u := a.ChildOn(t, g.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{Billing: canopy.BillingParent})
		kid := a.Child(t, u.ID)

		requireStatus(t, http.StatusForbidden, a.with(t, uKey, "", "DELETE", "/v1/accounts/"+u.ID+"?children=reparent", nil), "the umbrella closing itself")
		require.Equal(t, u.ID, a.account(t, s.ID).ParentID)

		requireStatus(t, http.StatusOK, a.with(t, gKey, "", "DELETE", "/v1/accounts/"+u.ID+"?children=reparent", nil), "the grandparent closes it")
		released := a.account(t, s.ID)
		require.Equal(t, a.Root.ID, released.ParentID, "released, not handed on")
		require.Equal(t, canopy.BillingSelf, released.Link.Billing)
		require.Equal(t, g.ID, a.account(t, kid.ID).ParentID, "a created child goes to the grandparent")
		requireStatus(t, http.StatusNotFound, a.with(t, gKey, "", "GET", "/v1/accounts/"+s.ID, nil), "the grandparent never sees it")
		var credits service.Credits
		a.with(t, a.Key(t, s.ID), "", "GET", "/v1/accounts/"+s.ID+"/credits", nil).Decode(t, &credits)
		require.Equal(t, s.ID, credits.Payer.AccountID, "and never pays for it")

		// Closing with children=close releases the invited sub-accounts
		// the caller only sees, instead of closing them.
		u2 := a.ChildOn(t, g.ID, canopy.PlanEnterprise)
		s2 := a.Invite(t, u2.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{})
		requireStatus(t, http.StatusOK, a.with(t, gKey, "", "DELETE", "/v1/accounts/"+u2.ID+"?children=close", nil), "close the subtree")
		after := a.account(t, s2.ID)
		require.Equal(t, canopy.StatusActive, after.Status, "an umbrella never closes an invited sub-account")
		require.Equal(t, a.Root.ID, after.ParentID)
	})
}

// An umbrella turned an invited link into a created one with two moves,
// then raised the sharing beyond what was agreed, and the sub-account
// could no longer leave.
func TestInvitedSubAccountsNeverMove(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		k := a.Child(t, u.ID)
		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{})
		d := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{DelegatedAdmin: true})
		move := func(id, parent string) *response {
			return a.with(t, uKey, "", "POST", "/v1/accounts/"+id+"/move", map[string]string{"parentId": parent})
		}
		requireStatus(t, http.StatusNotFound, move(s.ID, k.ID), "the umbrella does not act on it")
		r := move(d.ID, k.ID)
		requireStatus(t, http.StatusConflict, r, "delegated admin does not extend to moving it")
		require.Equal(t, canopy.CodeInvitedLink, r.JSON(t)["code"])
		requireStatus(t, http.StatusNotFound, move(k.ID, s.ID), "nor moves anything under an account it only sees")
		requireStatus(t, http.StatusConflict, move(d.ID, u.ID), "not even in place")
		require.Equal(t, canopy.OriginInvited, a.account(t, s.ID).Link.Origin)

		requireStatus(t, http.StatusForbidden, a.with(t, uKey, "", "PATCH", "/v1/accounts/"+s.ID+"/link", map[string]string{"autoShareRole": "editor"}), "raising the sharing")
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "PATCH", "/v1/accounts/"+s.ID+"/link", map[string]string{"autoShareRole": "viewer"}), "lowering it is in its favour")
		requireStatus(t, http.StatusOK, a.with(t, a.Key(t, s.ID), "", "DELETE", "/v1/accounts/"+s.ID+"/parent", nil), "it can still leave")

		// The operator may move one; the link stays invited and the
		// delegation, granted to another umbrella, ends.
		r = a.root(t, "POST", "/v1/accounts/"+d.ID+"/move", map[string]string{"parentId": k.ID})
		requireStatus(t, http.StatusOK, r, "the platform root moves it")
		moved := a.account(t, d.ID)
		require.Equal(t, canopy.OriginInvited, moved.Link.Origin)
		require.False(t, moved.Link.DelegatedAdmin)
	})
}

// An umbrella acting as an invited sub-account (X-Customer-Id) read
// everything whatever autoShareRole said, revoked its keys, removed its
// admins and closed it; keys it planted kept working after the release.
func TestUmbrellasDoNotActAsInvitedSubAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{AutoShareRole: canopy.RoleNone})
		sKey := a.Key(t, s.ID)
		form := a.with(t, sKey, "", "POST", "/v1/forms", map[string]any{"name": "Private"})
		requireStatus(t, http.StatusCreated, form, "a form of the sub-account")
		formID := form.JSON(t)["id"].(string)
		var keys struct{ Data []canopy.APIKey }
		a.root(t, "GET", "/v1/accounts/"+s.ID+"/api-keys", nil).Decode(t, &keys)
		admin := a.User(t, s.ID, canopy.UserAdmin)

		requireStatus(t, http.StatusNotFound, a.with(t, uKey, s.ID, "GET", "/v1/accounts/"+s.ID, nil), "X-Customer-Id")
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "GET", "/v1/accounts/"+s.ID, nil), "its summary")
		requireStatus(t, http.StatusNotFound, a.with(t, uKey, "", "GET", "/v1/forms/"+formID, nil), "autoShareRole none shares nothing")
		for _, rq := range []struct{ method, path string }{
			{"GET", "/users"}, {"GET", "/api-keys"}, {"GET", "/configurations"}, {"GET", "/children"},
			{"DELETE", "/api-keys/" + keys.Data[0].ID}, {"DELETE", "/users/" + admin.ID},
			{"POST", "/suspend"}, {"DELETE", "?children=close"},
		} {
			requireStatus(t, http.StatusNotFound, a.with(t, uKey, "", rq.method, "/v1/accounts/"+s.ID+rq.path, nil), rq.method+" "+rq.path)
		}
		requireStatus(t, http.StatusOK, a.with(t, sKey, "", "GET", "/v1/accounts/"+s.ID+"/users/"+admin.ID, nil), "its admin stays")
		require.Equal(t, canopy.StatusActive, a.account(t, s.ID).Status)

		// With delegated admin the umbrella acts as it — and what it
		// planted stops working when the link ends.
		d := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{DelegatedAdmin: true})
		planted := a.with(t, uKey, "", "POST", "/v1/accounts/"+d.ID+"/api-keys", map[string]string{"name": "planted"})
		requireStatus(t, http.StatusCreated, planted, "delegated admin")
		plantedKey := planted.JSON(t)["secret"].(string)
		dKey := a.Key(t, d.ID)
		own := a.with(t, dKey, "", "POST", "/v1/accounts/"+d.ID+"/api-keys", map[string]string{"name": "own"})
		ownKey := own.JSON(t)["secret"].(string)
		requireStatus(t, http.StatusOK, a.with(t, plantedKey, "", "GET", "/v1/accounts/"+d.ID, nil), "the planted key works")
		// An admin membership the umbrella plants for one of its people
		// works too, through their own session — until the link ends.
		requireStatus(t, http.StatusCreated, a.with(t, uKey, "", "POST", "/v1/accounts/"+d.ID+"/users",
			map[string]any{"email": "planted@umbrella.example", "role": "admin"}), "a planted admin")
		plantedSession := a.SignIn(t, "planted@umbrella.example")
		requireStatus(t, http.StatusOK, a.with(t, plantedSession, d.ID, "GET", "/v1/accounts/"+d.ID+"/users", nil), "the planted admin acts")
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "DELETE", "/v1/accounts/"+d.ID+"/parent", nil), "the umbrella releases it")
		requireStatus(t, http.StatusUnauthorized, a.with(t, plantedKey, "", "GET", "/v1/accounts/"+d.ID, nil), "the planted key stopped")
		requireStatus(t, http.StatusNotFound, a.with(t, plantedSession, d.ID, "GET", "/v1/accounts/"+d.ID+"/users", nil),
			"the planted membership is gone")
		requireStatus(t, http.StatusOK, a.with(t, ownKey, "", "GET", "/v1/accounts/"+d.ID, nil), "its own keys work")
		requireStatus(t, http.StatusOK, a.with(t, dKey, "", "GET", "/v1/accounts/"+d.ID, nil), "so do the operator's")
	})
}

// The sub-account alone grants and withdraws delegated admin.
func TestDelegatedAdminIsTheSubAccountsToGive(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{DelegatedAdmin: true})
		sKey := a.Key(t, s.ID)
		require.True(t, s.Link.DelegatedAdmin, "accepting grants what the invitation asked")
		link := "/v1/accounts/" + s.ID + "/link"
		off := map[string]bool{"delegatedAdmin": false}
		requireStatus(t, http.StatusForbidden, a.with(t, uKey, s.ID, "PATCH", link, map[string]bool{"delegatedAdmin": true}), "the umbrella acting as it")
		requireStatus(t, http.StatusForbidden, a.with(t, uKey, "", "PATCH", link, off), "the umbrella")
		requireStatus(t, http.StatusOK, a.with(t, uKey, s.ID, "GET", "/v1/accounts/"+s.ID+"/users", nil), "acting as it, delegated")
		requireStatus(t, http.StatusOK, a.with(t, sKey, "", "PATCH", link, off), "withdrawn")
		requireStatus(t, http.StatusNotFound, a.with(t, uKey, s.ID, "GET", "/v1/accounts/"+s.ID+"/users", nil), "at once")
		requireStatus(t, http.StatusOK, a.with(t, sKey, "", "PATCH", link, map[string]bool{"delegatedAdmin": true}), "granted again")
		requireStatus(t, http.StatusOK, a.with(t, uKey, s.ID, "GET", "/v1/accounts/"+s.ID+"/users", nil), "acting as it again")

		var received struct{ Data []canopy.Invitation }
		other := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		requireStatus(t, http.StatusCreated, a.with(t, a.Key(t, other.ID), "", "POST", "/v1/invitations",
			map[string]any{"accountId": s.ID, "delegatedAdmin": true}), "another umbrella asks")
		a.with(t, sKey, "", "GET", "/v1/invitations?direction=received", nil).Decode(t, &received)
		require.Len(t, received.Data, 2)
		require.True(t, received.Data[0].DelegatedAdmin, "the received listing shows what is asked")
	})
}

// A suspended sub-account could not leave, and an operator's suspension of
// a deep account was lifted by the accounts in between.
func TestSuspensionsBindDownward(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		uKey := a.Key(t, u.ID)
		d := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{DelegatedAdmin: true})
		dKey := a.Key(t, d.ID)
		requireStatus(t, http.StatusOK, a.with(t, uKey, "", "POST", "/v1/accounts/"+d.ID+"/suspend", nil), "the umbrella suspends it")
		requireStatus(t, http.StatusForbidden, a.with(t, dKey, "", "PUT", "/v1/accounts/"+d.ID+"/configurations/x", "{}"), "suspended")
		requireStatus(t, http.StatusOK, a.with(t, dKey, "", "DELETE", "/v1/accounts/"+d.ID+"/parent", nil), "it still leaves")
		require.Equal(t, canopy.StatusActive, a.account(t, d.ID).Status, "the umbrella's suspension ends with the link")

		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{})
		sKey := a.Key(t, s.ID)
		requireStatus(t, http.StatusOK, a.root(t, "POST", "/v1/accounts/"+s.ID+"/suspend", nil), "the operator suspends it")
		requireStatus(t, http.StatusOK, a.with(t, sKey, "", "DELETE", "/v1/accounts/"+s.ID+"/parent", nil), "it leaves")
		require.Equal(t, canopy.StatusSuspended, a.account(t, s.ID).Status, "a suspension from above the umbrella stays")

		top := a.Child(t, a.Root.ID)
		mid := a.Child(t, top.ID)
		deep := a.Child(t, mid.ID)
		topKey, midKey := a.Key(t, top.ID), a.Key(t, mid.ID)
		reactivate := "/v1/accounts/" + deep.ID + "/reactivate"
		requireStatus(t, http.StatusOK, a.root(t, "POST", "/v1/accounts/"+deep.ID+"/suspend", nil), "the operator suspends a deep account")
		for _, key := range []string{midKey, topKey} {
			r := a.with(t, key, "", "POST", reactivate, nil)
			requireStatus(t, http.StatusForbidden, r, "an account in between")
			require.Equal(t, canopy.CodeSuspendedAbove, r.JSON(t)["code"])
		}
		requireStatus(t, http.StatusOK, a.with(t, midKey, "", "POST", "/v1/accounts/"+deep.ID+"/suspend", nil), "suspending it again changes nothing")
		requireStatus(t, http.StatusForbidden, a.with(t, midKey, "", "POST", reactivate, nil), "so the operator's suspension stays")
		requireStatus(t, http.StatusOK, a.root(t, "POST", reactivate, nil), "the operator lifts it")

		requireStatus(t, http.StatusOK, a.with(t, midKey, "", "POST", "/v1/accounts/"+deep.ID+"/suspend", nil), "the parent suspends it")
		requireStatus(t, http.StatusOK, a.with(t, topKey, "", "POST", reactivate, nil), "an account above the suspender lifts it")
	})
}

// A basic account created an enterprise child and invited through it.
func TestPlansStayWithinTheCreators(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		b := a.Child(t, a.Root.ID)
		bKey := a.Key(t, b.ID)
		r := a.with(t, bKey, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Grand", "email": "grand@example.com", "plan": "enterprise"}})
		requireStatus(t, http.StatusForbidden, r, "a basic account sells no enterprise plan")
		require.Equal(t, canopy.CodePlanNotAllowed, r.JSON(t)["code"])
		require.Equal(t, "account.plan", r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])
		c := a.Child(t, b.ID)
		requireStatus(t, http.StatusForbidden, a.with(t, bKey, "", "PATCH", "/v1/accounts/"+c.ID, map[string]string{"plan": "pro"}), "nor raises a child above itself")
		requireStatus(t, http.StatusForbidden, a.root(t, "PATCH", "/v1/accounts/"+c.ID, map[string]string{"plan": "enterprise"}), "not above its creator, whoever asks")
		requireStatus(t, http.StatusForbidden, a.with(t, a.Key(t, c.ID), "", "POST", "/v1/invitations", map[string]any{"email": "x@example.com"}), "so it cannot invite")

		requireStatus(t, http.StatusOK, a.root(t, "PATCH", "/v1/accounts/"+b.ID, map[string]string{"plan": "enterprise"}), "the operator sells the plan")
		requireStatus(t, http.StatusOK, a.with(t, bKey, "", "PATCH", "/v1/accounts/"+c.ID, map[string]string{"plan": "enterprise"}), "which its creator may then pass on")
	})
}

// ?effective=true showed every ancestor's configurations, the platform
// root's included, to every customer.
func TestEffectiveConfigurationsShowOnlyInheritableNamespaces(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		requireStatus(t, http.StatusOK, a.root(t, "PUT", "/v1/accounts/"+a.Root.ID+"/configurations/operator_notes", `{"secret": "x"}`), "the operator's own")
		requireStatus(t, http.StatusOK, a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + a.Root.ID + "/configurations/white_label_portal?inheritable=true",
			Key: a.RootKey, Body: `{"brandName": "Platform"}`}), "a brand for everyone")
		c := a.Child(t, a.Root.ID)
		cKey := a.Key(t, c.ID)
		var view service.ConfigurationsView
		a.with(t, cKey, "", "GET", "/v1/accounts/"+c.ID+"/configurations?effective=true", nil).Decode(t, &view)
		require.Equal(t, map[string]string{"white_label_portal": a.Root.ID}, view.Sources)
		require.Equal(t, []string{"white_label_portal"}, view.Inheritable)
		requireStatus(t, http.StatusNotFound, a.with(t, cKey, "", "GET", "/v1/accounts/"+c.ID+"/configurations/operator_notes?effective=true", nil), "not inherited")
		requireStatus(t, http.StatusOK, a.with(t, cKey, "", "GET", "/v1/accounts/"+c.ID+"/configurations/white_label_portal?effective=true", nil), "inherited")
	})
}

// The owner lists its form's audience: itself, the ancestors the links
// give a role, and its explicit shares.
func TestTheOwnerListsItsFormsAudience(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		u := a.ChildOn(t, a.Root.ID, canopy.PlanEnterprise)
		s := a.Invite(t, u.ID, a.Child(t, a.Root.ID).ID, service.InvitationInput{AutoShareRole: canopy.RoleViewer})
		sKey := a.Key(t, s.ID)
		kid := a.Child(t, s.ID)
		form := a.with(t, sKey, "", "POST", "/v1/forms", map[string]any{"name": "Audience"})
		formID := form.JSON(t)["id"].(string)
		requireStatus(t, http.StatusOK, a.with(t, sKey, "", "PUT", "/v1/forms/"+formID+"/shares/"+kid.ID, map[string]string{"role": "editor"}), "share down")

		var page struct {
			Data       []service.AudienceEntry
			NextCursor *string
		}
		a.with(t, sKey, "", "GET", "/v1/forms/"+formID+"/access?limit=2", nil).Decode(t, &page)
		require.Len(t, page.Data, 2)
		require.Equal(t, service.AudienceEntry{AccountID: s.ID, Role: canopy.RoleOwner, Rule: canopy.RuleOwner}, page.Data[0])
		require.Equal(t, u.ID, page.Data[1].AccountID)
		require.Equal(t, canopy.RoleViewer, page.Data[1].Role)
		require.Equal(t, &canopy.DecidingLink{AccountID: s.ID, ParentID: u.ID, AutoShareRole: canopy.RoleViewer}, page.Data[1].Link)
		require.NotNil(t, page.NextCursor)
		a.with(t, sKey, "", "GET", "/v1/forms/"+formID+"/access?limit=2&cursor="+*page.NextCursor, nil).Decode(t, &page)
		require.Len(t, page.Data, 1, "the platform root's link shares nothing")
		require.Equal(t, service.AudienceEntry{AccountID: kid.ID, Role: canopy.RoleEditor, Rule: canopy.RuleExplicit}, page.Data[0])
		require.Nil(t, page.NextCursor)

		var x service.Explanation
		a.with(t, sKey, "", "GET", "/v1/forms/"+formID+"/access?accountId="+u.ID, nil).Decode(t, &x)
		require.Equal(t, canopy.RoleViewer, x.Role, "the owner asks why its umbrella sees the form")
		a.with(t, a.Key(t, u.ID), "", "GET", "/v1/forms/"+formID+"/access", nil).Decode(t, &x)
		require.Equal(t, u.ID, x.AccountID, "anyone else asks about itself")
	})
}
