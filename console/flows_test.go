package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// TestNewContactWithSubAccountInvites is seed 002 on the page: Contacts,
// New, the blank form, Sub Account checked, Save — the contact is saved
// and invited, and the list shows it as invited.
func TestNewContactWithSubAccountInvites(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	u := s.umbrella.ID
	list := admin.get(app(u, "contacts"))
	require.Contains(t, list.Body, `href="`+app(u, "contacts", "new")+`" role="button">New</a>`)
	blank := admin.get(app(u, "contacts", "new"))
	for _, name := range []string{"firstName", "lastName", "email", "mobile"} {
		require.Regexp(t, `<label for="f-`+name+`">`, blank.Body, "a labelled %s input", name)
		require.Contains(t, blank.Body, `name="`+name+`" value=""`, "blank %s", name)
	}
	require.Contains(t, blank.Body, `<label for="f-subAccount"><input type="checkbox" id="f-subAccount" name="subAccount" value="true" aria-describedby`,
		"an unchecked, labelled Sub Account box")

	bad := admin.post(app(u, "contacts"), url.Values{"firstName": {"Cleo"}, "email": {"not an address"}, "mobile": {"12"}, "subAccount": {"true"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="email" value="not an address"[^>]*aria-invalid="true"`, bad.Body, "the error is beside the email input, which keeps what was typed")
	require.Regexp(t, `name="mobile" value="12"[^>]*aria-invalid="true"`, bad.Body)
	require.Regexp(t, `name="subAccount" value="true" checked`, bad.Body, "the box stays checked")

	saved := admin.post(app(u, "contacts"), url.Values{
		"firstName": {"Cleo"}, "lastName": {"Clinic"}, "email": {"owner@clinic.example"}, "mobile": {"+15551234567"}, "subAccount": {"true"},
	})
	list = admin.follow(saved)
	require.Contains(t, list.Body, "An invitation to become your sub-account was sent to owner@clinic.example.")
	require.Contains(t, list.Body, `<span class="badge invited">invited</span>`)
	invs, err := s.Svc.ListInvitations(context.Background(), s.As(t, u), service.InvitationQuery{Direction: "sent"}, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, invs.Data, 1)
	require.Equal(t, "owner@clinic.example", invs.Data[0].Email)

	dup := admin.post(app(u, "contacts"), url.Values{"email": {"owner@clinic.example"}})
	require.Equal(t, http.StatusConflict, dup.Status)
	require.Regexp(t, `name="email"[^>]*aria-invalid="true"`, dup.Body, "a conflict on a field lands beside it too")
}

// TestEditContactWithdrawsTheInvitation: unchecking Sub Account on an
// invited contact cancels the invitation; other edits leave it alone.
func TestEditContactWithdrawsTheInvitation(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	ct, err := s.Svc.CreateContact(context.Background(), s.As(t, s.umbrella.ID), service.ContactInput{Email: "a@clinic.example", SubAccount: true})
	require.NoError(t, err)
	edit := admin.get(app(s.umbrella.ID, "contacts", ct.ID))
	require.Regexp(t, `name="subAccount" value="true" checked`, edit.Body)

	form := url.Values{"email": {"a@clinic.example"}, "firstName": {"Ann"}, "subAccount": {"true"}, "subAccountWas": {"true"}}
	admin.follow(admin.post(app(s.umbrella.ID, "contacts", ct.ID), form))
	got, err := s.Svc.GetContact(context.Background(), s.As(t, s.umbrella.ID), ct.ID)
	require.NoError(t, err)
	require.Equal(t, "Ann", got.FirstName)
	require.Equal(t, canopy.SubAccountInvited, got.SubAccountStatus)

	form.Del("subAccount")
	admin.follow(admin.post(app(s.umbrella.ID, "contacts", ct.ID), form))
	got, err = s.Svc.GetContact(context.Background(), s.As(t, s.umbrella.ID), ct.ID)
	require.NoError(t, err)
	require.Equal(t, canopy.SubAccountNone, got.SubAccountStatus)

	gone := admin.follow(admin.post(app(s.umbrella.ID, "contacts", ct.ID, "delete"), nil))
	require.Contains(t, gone.Body, "The contact was deleted.")
	require.Equal(t, http.StatusNotFound, admin.get(app(s.umbrella.ID, "contacts", ct.ID)).Status)
}

// TestCreateChildFormTakesTheWholeBody: the create-child form carries
// every part of the create body; the service's field errors land on the
// rows the person sees, JSON that does not parse is named, and nothing is
// created until all of it is right.
func TestCreateChildFormTakesTheWholeBody(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	u := s.umbrella.ID
	more := admin.post(app(u, "accounts"), url.Values{"account.name": {"Acme Dental"}, "users.rows": {"1"}, "refs.rows": {"1"}, "add": {"user"}})
	require.Equal(t, http.StatusOK, more.Status, "adding a row saves nothing")
	require.Contains(t, more.Body, `name="users[1].email"`)
	require.Contains(t, more.Body, `value="Acme Dental"`)

	form := url.Values{
		"account.name": {"Acme Dental"}, "account.email": {"ops@dental.example"}, "account.plan": {"basic"},
		"account.metadata": {`{"region": "eu"}`},
		"masterUser.email": {"admin@dental.example"}, "masterUser.username": {"dental-admin"}, "masterUser.name": {"Ada"},
		"users.rows":     {"3"},
		"users[1].email": {"not-an-address"}, "users[1].name": {"Bo"}, "users[1].role": {"member"},
		"users[2].email": {"cy@dental.example"}, "users[2].name": {"Cy"}, "users[2].role": {"admin"},
		"workflows":                  {"kyc-standard, onboarding"},
		"configurations":             {`{"white_label_portal": {"brandName": "Acme", "primaryColor": "#FF6600"}`},
		"refs.rows":                  {"1"},
		"externalReferences[0].type": {"crm"}, "externalReferences[0].value": {"C-1001"},
	}
	bad := admin.post(app(u, "accounts"), form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="configurations"[^>]*aria-invalid="true"`, bad.Body)
	require.Contains(t, bad.Body, "is not valid JSON")

	form.Set("configurations", `{"white_label_portal": {"brandName": "Acme", "primaryColor": "#FF6600"}}`)
	bad = admin.post(app(u, "accounts"), form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="users\[1\]\.email" value="not-an-address"[^>]*aria-invalid="true"`, bad.Body,
		"the service named users[0] (the first row sent); the person sees it on the second row, where they typed it")
	require.NotRegexp(t, `name="users\[0\]\.email"[^>]*aria-invalid`, bad.Body)
	children, err := s.Svc.ListChildren(context.Background(), s.As(t, u), u, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, children.Data, "nothing is created while anything is wrong")

	form.Set("users[1].email", "bo@dental.example")
	done := admin.post(app(u, "accounts"), form)
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	shown := admin.follow(done)
	require.Contains(t, shown.Body, "Acme Dental is created.")
	require.Contains(t, shown.Body, "admin@dental.example")

	children, err = s.Svc.ListChildren(context.Background(), s.As(t, u), u, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, children.Data, 1)
	child := children.Data[0]
	require.Equal(t, map[string]string{"region": "eu"}, child.Metadata)
	users, err := s.Svc.ListUsers(context.Background(), s.As(t, u), child.ID, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, users.Data, 3)
	wf, err := s.Svc.GetWorkflows(context.Background(), s.As(t, u), child.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"kyc-standard", "onboarding"}, wf.Workflows)
	cfg, err := s.Svc.GetConfiguration(context.Background(), s.As(t, u), child.ID, "white_label_portal", false)
	require.NoError(t, err)
	require.JSONEq(t, `{"brandName": "Acme", "primaryColor": "#FF6600"}`, string(cfg.Value))
	refs, err := s.Svc.ListExternalReferences(context.Background(), s.As(t, u), child.ID)
	require.NoError(t, err)
	require.Len(t, refs.Data, 1)
}

// TestSubAccountLifecycleFromItsPage: suspend, reactivate, link terms and
// close, each a button that the service decides.
func TestSubAccountLifecycleFromItsPage(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	u := s.umbrella.ID
	child := s.Child(t, u)
	s.Child(t, child.ID)
	page := app(u, "accounts", child.ID)
	status := func() canopy.Status {
		a, err := s.Svc.GetAccount(context.Background(), s.As(t, u), child.ID)
		require.NoError(t, err)
		return a.Status
	}
	require.Contains(t, admin.follow(admin.post(page+"/suspend", nil)).Body, "The account is suspended")
	require.Equal(t, canopy.StatusSuspended, status())
	admin.follow(admin.post(page+"/reactivate", nil))
	require.Equal(t, canopy.StatusActive, status())

	admin.follow(admin.post(page+"/link", url.Values{"autoShareRole": {"viewer"}, "billing": {"self"}}))
	a, err := s.Svc.GetAccount(context.Background(), s.As(t, u), child.ID)
	require.NoError(t, err)
	require.Equal(t, canopy.RoleViewer, a.Link.AutoShareRole)
	require.Equal(t, canopy.BillingSelf, a.Link.Billing)

	refused := admin.follow(admin.post(page+"/close", url.Values{"children": {""}}))
	require.Contains(t, refused.Body, `class="flash bad" role="alert"`, "closing with children is refused until the person says what becomes of them")
	require.Equal(t, canopy.StatusActive, status())
	admin.follow(admin.post(page+"/close", url.Values{"children": {"close"}}))
	require.Equal(t, canopy.StatusClosed, status())

	self := admin.get(app(u, "accounts", u))
	require.NotContains(t, self.Body, "/suspend", "an account cannot suspend itself: no button")
}

// TestInvitationAnsweredInTheConsole: the invitee's admin follows the
// email's link, lands on the invitation as their account, sees the terms
// and accepts; the account is then the umbrella's sub-account.
func TestInvitationAnsweredInTheConsole(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	clinic := s.Child(t, s.Root.ID)
	inv, err := s.Svc.CreateInvitation(ctx, s.As(t, s.umbrella.ID), service.InvitationInput{
		AccountID: clinic.ID, Message: "Our clinics share forms here", AutoShareRole: canopy.RoleViewer, Billing: canopy.BillingParent,
	})
	require.NoError(t, err)
	invitee := s.as(t, clinic.Email)
	landing := invitee.get(canopy.InvitationPage(inv.ID) + "?answer=decline")
	require.Equal(t, app(clinic.ID, "invitations", inv.ID)+"?answer=decline", landing.location())
	p := invitee.follow(landing)
	require.Contains(t, p.Body, "Umbrella Health invites")
	require.Contains(t, p.Body, "Our clinics share forms here")
	require.Contains(t, p.Body, "<strong>viewer</strong>")
	require.Contains(t, p.Body, "Umbrella Health pays for your usage.")
	require.Contains(t, p.Body, "You followed the email's link to decline.")

	accepted := invitee.follow(invitee.post(app(clinic.ID, "invitations", inv.ID, "accept"), nil))
	require.Contains(t, accepted.Body, "You accepted the invitation")
	a, err := s.Svc.GetAccount(ctx, s.As(t, s.umbrella.ID), clinic.ID)
	require.NoError(t, err)
	require.Equal(t, s.umbrella.ID, a.ParentID)
	require.Contains(t, s.as(t, s.admin).get(app(s.umbrella.ID, "accounts")).Body, clinic.Name)

	again := invitee.follow(invitee.post(app(clinic.ID, "invitations", inv.ID, "decline"), nil))
	require.Contains(t, again.Body, "not pending", "a second answer is refused with the service's reason")
}

// TestDelegatedAdminIsShownAndTheSubAccountsToWithdraw: an invitation that
// asks to administer the invitee says so before it is accepted; once
// accepted, the sub-account's Settings withdraw it and grant it again, and
// the umbrella's side cannot (rule 2, docs/rules.md).
func TestDelegatedAdminIsShownAndTheSubAccountsToWithdraw(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	clinic := s.Child(t, s.Root.ID)
	inv, err := s.Svc.CreateInvitation(ctx, s.As(t, s.umbrella.ID), service.InvitationInput{
		AccountID: clinic.ID, AutoShareRole: canopy.RoleViewer, Billing: canopy.BillingParent, DelegatedAdmin: true,
	})
	require.NoError(t, err)
	invitee := s.as(t, clinic.Email)
	p := invitee.get(app(clinic.ID, "invitations", inv.ID))
	require.Contains(t, p.Body, "Umbrella Health asks to <strong>administer your account</strong>")
	invitee.follow(invitee.post(app(clinic.ID, "invitations", inv.ID, "accept"), nil))

	delegated := func() bool {
		a, err := s.Svc.GetAccount(ctx, s.As(t, clinic.ID), clinic.ID)
		require.NoError(t, err)
		return a.Link.DelegatedAdmin
	}
	require.True(t, delegated())
	settings := invitee.get(app(clinic.ID, "settings"))
	require.Contains(t, settings.Body, "Withdraw administration")
	done := invitee.follow(invitee.post(app(clinic.ID, "settings", "delegation"), url.Values{"delegatedAdmin": {"false"}}))
	require.Contains(t, done.Body, "The umbrella no longer administers this account.")
	require.False(t, delegated())
	require.Contains(t, done.Body, "Let Umbrella Health administer this account")

	// The umbrella's admin, who sees the sub-account but may not act as it,
	// cannot grant itself the administration.
	umbrella := s.as(t, s.admin)
	require.Equal(t, http.StatusNotFound, umbrella.post(app(clinic.ID, "settings", "delegation"), url.Values{"delegatedAdmin": {"true"}}).Status)
	require.False(t, delegated())

	invitee.follow(invitee.post(app(clinic.ID, "settings", "delegation"), url.Values{"delegatedAdmin": {"true"}}))
	require.True(t, delegated())
}

// TestAPIKeySecretIsShownOnce: the secret is in the answer to the create,
// never on the list; a revoked key stops working.
func TestAPIKeySecretIsShownOnce(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	created := admin.post(app(s.umbrella.ID, "keys"), url.Values{"name": {"billing backend"}})
	require.Equal(t, http.StatusCreated, created.Status)
	require.Equal(t, "no-store", created.Header.Get("Cache-Control"))
	secret := regexp.MustCompile(`id="secret" type="text" readonly value="(cnp_[a-z0-9]+)"`).FindStringSubmatch(created.Body)
	require.NotNil(t, secret, created.Body)
	_, err := s.Svc.Authenticate(context.Background(), secret[1])
	require.NoError(t, err)

	list := admin.get(app(s.umbrella.ID, "keys"))
	require.NotContains(t, list.Body, secret[1])
	require.Contains(t, list.Body, "billing backend")
	id := regexp.MustCompile(`keys/(key_[0-9A-Z]+)/revoke`).FindStringSubmatch(list.Body)
	require.NotNil(t, id)
	revoked := admin.follow(admin.post(app(s.umbrella.ID, "keys", id[1], "revoke"), nil))
	require.Contains(t, revoked.Body, "The key is revoked")
	_, err = s.Svc.Authenticate(context.Background(), secret[1])
	require.Error(t, err)
}

// TestUsersAndSettings: an admin invites a user, changes a role, cannot
// demote the last admin (the service's reason is shown), and sets a
// configuration that then brands the pages.
func TestUsersAndSettings(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	u := s.umbrella.ID
	added := admin.follow(admin.post(app(u, "users"), url.Values{"email": {"bo@umbrella.example"}, "name": {"Bo"}, "role": {"member"}}))
	require.Contains(t, added.Body, "Invited bo@umbrella.example")
	users, err := s.Svc.ListUsers(context.Background(), s.As(t, u), u, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, users.Data, 2)
	master := users.Data[0]
	demoted := admin.follow(admin.post(app(u, "users", master.ID, "role"), url.Values{"role": {"member"}}))
	require.Contains(t, demoted.Body, "Cannot demote the last admin")

	bad := admin.post(app(u, "settings", "configurations"), url.Values{"namespace": {"white_label_portal"}, "body": {"{not json"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="body"[^>]*aria-invalid="true"`, bad.Body)
	admin.follow(admin.post(app(u, "settings", "configurations"), url.Values{"namespace": {"white_label_portal"}, "body": {`{"brandName": "Umbrella Care", "primaryColor": "#004488"}`}}))
	branded := admin.get(app(u))
	require.Contains(t, branded.Body, "<strong>Umbrella Care</strong>")
	require.Contains(t, branded.Body, "--brand:#004488;--brand-text:#ffffff")
	require.True(t, strings.Contains(branded.Body, "<title>Dashboard · Umbrella Care</title>"))
}

// TestSignUpFromAnInvitationLink: an invitation by email to an address
// with no account carries a sign-up link; its page shows who invites and
// on what terms, in the umbrella's brand, and signing up makes the new
// account the umbrella's sub-account at once. A used link explains itself.
func TestSignUpFromAnInvitationLink(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteOptions{signup: true})
	ctx := context.Background()
	_, err := s.Svc.PutConfiguration(ctx, s.As(t, s.umbrella.ID), s.umbrella.ID, "white_label_portal", []byte(`{"brandName": "Umbrella Care"}`))
	require.NoError(t, err)
	_, err = s.Svc.CreateInvitation(ctx, s.As(t, s.umbrella.ID), service.InvitationInput{
		Email: "nia@newcomer.example", Message: "Join our network", Billing: canopy.BillingSelf,
	})
	require.NoError(t, err)
	link := s.emailedLink(t, "nia@newcomer.example")
	require.True(t, strings.HasPrefix(link, canopy.PageSignup+"?"), link)
	v := s.visitor(t)
	p := v.get(link)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "<strong>Umbrella Health</strong> invites you")
	require.Contains(t, p.Body, "Join our network")
	require.Contains(t, p.Body, "You pay for your own usage.")
	require.Contains(t, p.Body, "<strong>Umbrella Care</strong>", "the page wears the umbrella's brand")
	require.Regexp(t, `name="email" value="nia@newcomer.example" required readonly`, p.Body)

	u, _ := url.Parse(link)
	form := url.Values{"invitation.id": {u.Query().Get("invitation")}, "invitation.token": {u.Query().Get("token")},
		"accountName": {""}, "name": {"Nia"}, "email": {"nia@newcomer.example"}}
	bad := v.post(canopy.PageSignup, form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="accountName"[^>]*aria-invalid="true"`, bad.Body)

	form.Set("accountName", "Nia's Shop")
	done := v.post(canopy.PageSignup, form)
	require.Equal(t, http.StatusOK, done.Status)
	require.Contains(t, done.Body, "Check your email")
	children, err := s.Svc.ListChildren(ctx, s.As(t, s.umbrella.ID), s.umbrella.ID, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, children.Data, 1)
	require.Equal(t, "Nia's Shop", children.Data[0].Name)

	used := v.get(link)
	require.Equal(t, http.StatusBadRequest, used.Status)
	require.Contains(t, used.Body, "This invitation link cannot be used")
	require.Contains(t, used.Body, "Ask the account that invited you to send it again.")
}

// TestSignUpWithoutAnInvitation answers the same whether or not the
// address already has an account, so the page tells nobody who exists.
func TestSignUpWithoutAnInvitation(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteOptions{signup: true})
	v := s.visitor(t)
	require.Equal(t, http.StatusOK, v.get(canopy.PageSignup).Status)
	fresh := v.post(canopy.PageSignup, url.Values{"accountName": {"New Co"}, "name": {"Ned"}, "email": {"ned@new.example"}})
	taken := v.post(canopy.PageSignup, url.Values{"accountName": {"New Co"}, "name": {"Ned"}, "email": {s.admin}})
	require.Equal(t, http.StatusOK, fresh.Status)
	require.Equal(t, withoutRequestIDs(strings.ReplaceAll(fresh.Body, "ned@new.example", s.admin)), withoutRequestIDs(taken.Body))
}

// TestAMemberOfTwoAccountsAnswersAndSwitches: a person with a login who is
// added to a second account answers on the membership page, signed in;
// then the switcher lists both accounts and each acts as itself. Someone
// else's invitation is the 404 page.
func TestAMemberOfTwoAccountsAnswersAndSwitches(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	admin := s.as(t, s.admin)
	bakery := s.Child(t, s.Root.ID)
	u, err := s.Svc.CreateUser(ctx, s.As(t, bakery.ID), bakery.ID, service.CreateUserInput{Email: s.admin, Role: canopy.UserMember})
	require.NoError(t, err)
	link := s.emailedLink(t, s.admin)
	require.Equal(t, canopy.MembershipPage(u.ID), link)
	require.Equal(t, http.StatusNotFound, s.as(t, bakery.Email).get(link).Status, "another person's invitation")
	require.Equal(t, http.StatusSeeOther, s.visitor(t).get(link).Status, "sign in first")

	p := admin.get(link)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "You are invited to join <strong>"+bakery.Name+"</strong> as a <strong>member</strong>")
	joined := admin.post(link+"/accept", nil)
	require.Equal(t, app(bakery.ID), joined.location())
	require.Contains(t, admin.follow(joined).Body, "You joined the account.")

	switcher := admin.get(app(s.umbrella.ID, "switch")).Body
	require.Contains(t, switcher, `href="`+app(s.umbrella.ID)+`"`)
	require.Contains(t, switcher, `href="`+app(bakery.ID)+`"`)
	require.Equal(t, http.StatusOK, admin.get(app(bakery.ID, "contacts")).Status)
	require.NotContains(t, admin.get(app(bakery.ID, "users")).Body, "/disable", "a member there, an admin at home")
	require.Contains(t, admin.get(app(s.umbrella.ID, "users")).Body, "/disable")
	require.Equal(t, http.StatusNotFound, admin.get(link).Status, "answered")
}

// TestAPersonWithOnlyAnInvitationSeesIt: a person whose only membership is
// still an invitation lands on a page that offers it.
func TestAPersonWithOnlyAnInvitationSeesIt(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	admin := s.as(t, s.admin)
	bakery := s.Child(t, s.Root.ID)
	u, err := s.Svc.CreateUser(ctx, s.As(t, bakery.ID), bakery.ID, service.CreateUserInput{Email: s.admin})
	require.NoError(t, err)
	users, err := s.Svc.ListUsers(ctx, s.As(t, s.umbrella.ID), s.umbrella.ID, service.PageRequest{})
	require.NoError(t, err)
	other := s.User(t, s.umbrella.ID, canopy.UserAdmin)
	s.SignIn(t, other.Email)
	require.NoError(t, s.Svc.DeleteUser(ctx, s.As(t, s.umbrella.ID), s.umbrella.ID, users.Data[0].ID))

	home := admin.get(canopy.PageConsole)
	require.Equal(t, http.StatusOK, home.Status, home.Body)
	require.Contains(t, home.Body, "You are invited to join:")
	require.Contains(t, home.Body, `href="`+canopy.MembershipPage(u.ID)+`"`)
}

// TestConfirmEmailChangesTheAddressOnlyByItsButton: the link sent to a new
// address shows what it confirms; opening it changes nothing, the button
// does; then the person signs in with the new address.
func TestConfirmEmailChangesTheAddressOnlyByItsButton(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	token := s.SignIn(t, s.admin)
	p, err := s.Svc.Authenticate(ctx, token)
	require.NoError(t, err)
	self, err := s.Svc.NewCaller(ctx, p, s.umbrella.ID, service.RequestInfo{})
	require.NoError(t, err)
	_, err = s.Svc.UpdateUser(ctx, self, s.umbrella.ID, self.Actor.ID, service.UserPatch{Email: ptrTo("ada@new.example")})
	require.NoError(t, err)
	link := s.emailedLink(t, "ada@new.example")
	require.True(t, strings.HasPrefix(link, canopy.PageConfirmEmail+"?token="), link)
	v := s.visitor(t)
	page := v.get(link)
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, page.Body, "<strong>ada@new.example</strong>")
	_, err = s.Svc.Login(ctx, service.LoginInput{Login: "ada@new.example", Password: testfactory.StrongPassword}, service.RequestInfo{})
	require.Error(t, err, "opening the link changed nothing")

	u, _ := url.Parse(link)
	done := v.post(canopy.PageConfirmEmail, url.Values{"token": {u.Query().Get("token")}})
	require.Equal(t, http.StatusOK, done.Status)
	require.Contains(t, done.Body, "You sign in with ada@new.example from now on.")
	_, err = s.Svc.Login(ctx, service.LoginInput{Login: "ada@new.example", Password: testfactory.StrongPassword}, service.RequestInfo{})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, v.get(link).Status, "a used link explains itself")
}
