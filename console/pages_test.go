package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
)

// world is a site with something on every page: a child and a grandchild
// of the umbrella, a contact, an invitation each way, a member, a key and
// a configuration; and a stranger, the admin of another top-level account.
type world struct {
	*site
	child, grandchild, other *canopy.Account
	contact                  *canopy.Contact
	sent, received           *canopy.Invitation
	memberEmail              string
	stranger                 string // the other account's admin
}

func newWorld(t *testing.T, engine ...string) *world {
	t.Helper()
	o := siteOptions{}
	if len(engine) > 0 {
		o.engine = engine[0]
	}
	s := newSite(t, o)
	ctx := context.Background()
	w := &world{site: s}
	w.child = s.Child(t, s.umbrella.ID)
	w.grandchild = s.Child(t, w.child.ID)
	w.other = s.Child(t, s.Root.ID)
	_, err := s.Svc.UpdateAccount(ctx, s.As(t, s.Root.ID), w.other.ID, enterprise)
	require.NoError(t, err)
	w.stranger = w.other.Email // Bundle.Child makes the account's email its master user
	w.contact, err = s.Svc.CreateContact(ctx, s.As(t, s.umbrella.ID), service.ContactInput{Email: "cleo@clinic.example", FirstName: "Cleo"})
	require.NoError(t, err)
	w.sent, err = s.Svc.CreateInvitation(ctx, s.As(t, s.umbrella.ID), service.InvitationInput{Email: "nia@newcomer.example"})
	require.NoError(t, err)
	w.received, err = s.Svc.CreateInvitation(ctx, s.As(t, w.other.ID), service.InvitationInput{AccountID: s.umbrella.ID})
	require.NoError(t, err)
	w.memberEmail = s.User(t, s.umbrella.ID, canopy.UserMember).Email
	s.Key(t, s.umbrella.ID)
	_, err = s.Svc.PutConfiguration(ctx, s.As(t, s.umbrella.ID), s.umbrella.ID, "white_label_portal", []byte(`{"brandName": "Umbrella", "primaryColor": "#FF6600"}`))
	require.NoError(t, err)
	return w
}

// TestConsolePagesAnswerOnlyWhoMayActThere is rule 2 (docs/rules.md) on the
// console: every page of an account answers its admins and members, sends
// a visitor without a session to sign in (and back), and is the same 404
// page for anyone who may not act as that account — as it is for an
// account that does not exist.
func TestConsolePagesAnswerOnlyWhoMayActThere(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			pagesAnswerOnlyWhoMayActThere(t, newWorld(t, engine))
		})
	}
}

func pagesAnswerOnlyWhoMayActThere(t *testing.T, w *world) {
	u := w.umbrella.ID
	pages := []string{
		app(u), app(u, "switch"), app(u, "contacts"), app(u, "contacts", "new"), app(u, "contacts", w.contact.ID),
		app(u, "invitations"), app(u, "invitations", w.sent.ID), app(u, "invitations", w.received.ID),
		app(u, "accounts"), app(u, "accounts") + "?under=" + w.child.ID, app(u, "accounts", "new"),
		app(u, "accounts", w.child.ID), app(u, "accounts", w.grandchild.ID), app(u, "accounts", w.child.ID, "children"),
		app(u, "users"), app(u, "keys"), app(u, "settings"),
	}
	admin, member, stranger, anonymous := w.as(t, w.admin), w.as(t, w.memberEmail), w.as(t, w.stranger), w.visitor(t)
	for _, p := range pages {
		require.Equal(t, http.StatusOK, admin.get(p).Status, "admin: %s", p)
		require.Equal(t, http.StatusOK, member.get(p).Status, "member: %s", p)
		notFound := stranger.get(p)
		require.Equal(t, http.StatusNotFound, notFound.Status, "stranger: %s", p)
		require.Contains(t, notFound.Body, "Page not found")
		signIn := anonymous.get(p)
		require.Equal(t, http.StatusSeeOther, signIn.Status, "anonymous: %s", p)
		require.Equal(t, canopy.PageSignIn+"?"+url.Values{"next": {p}}.Encode(), signIn.location())
	}

	cases := []struct {
		name string
		who  *visitor
		path string
		want int
	}{
		{"an admin acts in a descendant", admin, app(w.grandchild.ID, "contacts"), http.StatusOK},
		{"a member acts only in its own account", member, app(w.child.ID), http.StatusNotFound},
		{"nobody acts in an ancestor", w.as(t, w.child.Email), app(u), http.StatusNotFound},
		{"nor in another customer", admin, app(w.other.ID), http.StatusNotFound},
		{"an id nobody has", admin, app("acc_01HN9XHZN6MGXM9JXG50K59Q85"), http.StatusNotFound},
		{"something that is no id", admin, app("settings"), http.StatusNotFound},
		{"a contact of another account", admin, app(w.other.ID, "contacts", w.contact.ID), http.StatusNotFound},
		{"another account's contact through one's own", w.as(t, w.child.Email), app(w.child.ID, "contacts", w.contact.ID), http.StatusNotFound},
		{"an invitation between others", w.as(t, w.child.Email), app(w.child.ID, "invitations", w.sent.ID), http.StatusNotFound},
		{"an account outside the tree", admin, app(u, "accounts", w.other.ID), http.StatusNotFound},
		{"a page that does not exist", admin, app(u, "nothing"), http.StatusNotFound},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.who.get(c.path).Status, c.name)
	}
}

// TestPublicPagesAnswerEveryone: the pages emails link to need no session.
func TestPublicPagesAnswerEveryone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	anonymous := w.visitor(t)
	cases := []struct {
		path     string
		want     int
		contains string
	}{
		{"/", http.StatusSeeOther, ""},
		{canopy.PageSignIn, http.StatusOK, "Sign in"},
		{canopy.PageResetPassword, http.StatusOK, "Reset your password"},
		{canopy.PageSetPassword + "?token=cnt_nothing", http.StatusBadRequest, "Ask for a new link"},
		{canopy.PageResetPassword + "?token=", http.StatusBadRequest, "Ask for a new link"},
		{canopy.PageSignup, http.StatusForbidden, "does not take new sign-ups"},
		{canopy.InvitationPage(w.sent.ID), http.StatusOK, "Sign in to answer"},
		{canopy.InvitationPage("inv_01HN9XHZN6MGXM9JXG50K59Q85"), http.StatusOK, "Sign in to answer"},
		{canopy.PageConsole, http.StatusSeeOther, ""},
		{"/static/pico.min.css", http.StatusOK, ""},
		{"/static/vendor.sh", http.StatusNotFound, ""},
		{"/nothing/here", http.StatusNotFound, "Page not found"},
	}
	for _, c := range cases {
		p := anonymous.get(c.path)
		require.Equal(t, c.want, p.Status, c.path)
		require.Contains(t, p.Body, c.contains, c.path)
	}
	// The landing page of an invitation says the same for an invitation
	// that exists and one that does not: an id alone tells nothing.
	a := anonymous.get(canopy.InvitationPage(w.sent.ID)).Body
	b := anonymous.get(canopy.InvitationPage("inv_01HN9XHZN6MGXM9JXG50K59Q85")).Body
	require.Equal(t, withoutRequestIDs(a), withoutRequestIDs(strings.ReplaceAll(b, "inv_01HN9XHZN6MGXM9JXG50K59Q85", w.sent.ID)))
}

func withoutRequestIDs(body string) string {
	i := strings.Index(body, "request ")
	if i < 0 {
		return body
	}
	return body[:i]
}

// TestMembersReadButDoNotWrite: a member sees its account's pages, and the
// service refuses its writes, which the console shows as a message.
func TestMembersReadButDoNotWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	member := w.as(t, w.memberEmail)
	p := member.post(app(w.umbrella.ID, "contacts"), url.Values{"email": {"x@example.com"}})
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Contains(t, p.Body, "Members may read")
	page, err := w.Svc.ListContacts(context.Background(), w.As(t, w.umbrella.ID), service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Data, 1, "nothing was written")

	res := member.follow(member.post(app(w.umbrella.ID, "keys", "key_01HN9XHZN6MGXM9JXG50K59Q85", "revoke"), nil))
	require.Contains(t, res.Body, "Members may read", "a one-button write comes back with the service's reason")

	// The buttons a member could only be refused are not offered.
	admin := w.as(t, w.admin)
	for _, c := range []struct{ page, control string }{
		{app(w.umbrella.ID, "users"), "/disable"},
		{app(w.umbrella.ID, "keys"), "Create key"},
		{app(w.umbrella.ID, "accounts"), "Create child account"},
		{app(w.umbrella.ID, "contacts"), `role="button">New</a>`},
	} {
		require.Contains(t, admin.get(c.page).Body, c.control)
		require.NotContains(t, member.get(c.page).Body, c.control)
	}
}

// TestEveryWriteNeedsASessionAndTheAccount: each form a console page posts
// sends a visitor without a session to sign in, and answers anyone who may
// not act as the account with the 404 page — before anything is written.
func TestEveryWriteNeedsASessionAndTheAccount(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	u, c := w.umbrella.ID, w.child.ID
	users, err := w.Svc.ListUsers(context.Background(), w.As(t, u), u, service.PageRequest{})
	require.NoError(t, err)
	keys, err := w.Svc.ListAPIKeys(context.Background(), w.As(t, u), u, service.PageRequest{})
	require.NoError(t, err)
	user, key := users.Data[0].ID, keys.Data[0].ID
	writes := []string{
		app(u, "forms", "frm_01HN9XHZN6MGXM9JXG50K59Q85", "copy"),
		app(u, "contacts"), app(u, "contacts", w.contact.ID), app(u, "contacts", w.contact.ID, "delete"),
		app(u, "invitations"), app(u, "invitations", w.received.ID, "accept"), app(u, "invitations", w.received.ID, "decline"),
		app(u, "invitations", w.sent.ID, "cancel"), app(u, "invitations", w.sent.ID, "resend"),
		app(u, "accounts"), app(u, "accounts", c), app(u, "accounts", c, "suspend"), app(u, "accounts", c, "reactivate"),
		app(u, "accounts", c, "close"), app(u, "accounts", c, "release"), app(u, "accounts", c, "link"),
		app(u, "users"), app(u, "users", user, "role"), app(u, "users", user, "disable"), app(u, "users", user, "enable"),
		app(u, "users", user, "delete"), app(u, "users", user, "resend"),
		app(u, "keys"), app(u, "keys", key, "revoke"),
		app(u, "settings"), app(u, "settings", "configurations"), app(u, "settings", "configurations", "white_label_portal", "delete"),
		app(u, "settings", "leave"), app(u, "settings", "delegation"),
	}
	anonymous, stranger := w.visitor(t), w.as(t, w.stranger)
	before, err := w.Svc.ListAuditEvents(context.Background(), w.As(t, w.Root.ID), service.AuditQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	form := url.Values{"name": {"x"}, "email": {"x@example.com"}, "role": {"member"}, "namespace": {"x"}, "body": {"{}"}}
	for _, p := range writes {
		signIn := anonymous.post(p, form)
		require.Equal(t, http.StatusSeeOther, signIn.Status, p)
		require.Equal(t, canopy.PageSignIn, signIn.location(), p)
		require.Equal(t, http.StatusNotFound, stranger.post(p, form).Status, p)
	}
	after, err := w.Svc.ListAuditEvents(context.Background(), w.As(t, w.Root.ID), service.AuditQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	require.Less(t, len(after.Data), 200, "the whole trail fits one page, so a count compares it all")
	require.Equal(t, len(before.Data), len(after.Data), "nothing was written")
}
