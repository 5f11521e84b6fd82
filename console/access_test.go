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

// TestFormCreditAuditPagesAnswerOnlyWhoMayActThere is rule 2
// (docs/rules.md) on the forms, data, credits, audit and outbox pages:
// admins and members of the account read them (the outbox is for admins,
// as the service decides), a visitor without a session signs in, and
// anyone else gets the same 404 page as for an account that does not
// exist; a form or record of another account is the 404 page too.
func TestFormCreditAuditPagesAnswerOnlyWhoMayActThere(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, engine)
			u := w.umbrella.ID
			w.Fund(t, u, w.other.ID)
			f, recs := w.survey(t, u, `{"name": "Ada"}`)
			other, otherRecs := w.survey(t, w.other.ID, `{"name": "Zed"}`)
			pages := []struct {
				path         string
				memberStatus int
			}{
				{app(u, "forms"), 200}, {app(u, "forms") + "?scope=own", 200}, {app(u, "forms") + "?scope=shared", 200},
				{app(u, "forms") + "?scope=subtree&subtree=" + w.child.ID, 200}, {app(u, "forms", "new"), 200},
				{app(u, "forms", f.ID), 200}, {app(u, "forms", f.ID, "records"), 200}, {app(u, "forms", f.ID, "records.csv"), 200},
				{app(u, "forms", f.ID, "records", "new"), 200}, {app(u, "forms", f.ID, "records", recs[0].ID), 200},
				{app(u, "forms", f.ID, "sharing"), 200}, {app(u, "forms", f.ID, "sharing", "web"), 200},
				{app(u, "forms", f.ID, "sharing", "structured"), 200}, {app(u, "forms", f.ID, "sharing", "interactive"), 200},
				{app(u, "credits"), 200}, {app(u, "credits") + "?step=month", 200}, {app(u, "credits", "usage.csv"), 200},
				{app(u, "credits", "ledger"), 200}, {app(u, "credits", w.child.ID), 200}, {app(u, "credits", "ledger") + "?account=" + w.child.ID, 200},
				{app(u, "audit"), 200}, {app(u, "audit") + "?onBehalf=yes", 200},
				{app(u, "outbox"), http.StatusForbidden}, {app(u, "outbox") + "?channel=texts", http.StatusForbidden},
			}
			admin, member, stranger, anonymous := w.as(t, w.admin), w.as(t, w.memberEmail), w.as(t, w.stranger), w.visitor(t)
			for _, p := range pages {
				require.Equal(t, http.StatusOK, admin.get(p.path).Status, "admin: %s", p.path)
				require.Equal(t, p.memberStatus, member.get(p.path).Status, "member: %s", p.path)
				notFound := stranger.get(p.path)
				require.Equal(t, http.StatusNotFound, notFound.Status, "stranger: %s", p.path)
				require.Contains(t, notFound.Body, "Page not found")
				signIn := anonymous.get(p.path)
				require.Equal(t, http.StatusSeeOther, signIn.Status, "anonymous: %s", p.path)
				require.Equal(t, canopy.PageSignIn+"?"+url.Values{"next": {p.path}}.Encode(), signIn.location())
			}
			elsewhere := []string{
				app(u, "forms", other.ID), app(u, "forms", other.ID, "records"), app(u, "forms", other.ID, "records.csv"), app(u, "forms", other.ID, "sharing"),
				app(u, "forms", other.ID, "sharing", "web"), app(u, "forms", other.ID, "sharing", "structured"),
				app(u, "forms", other.ID, "records", otherRecs[0].ID), app(u, "forms", f.ID, "records", otherRecs[0].ID),
				app(u, "forms", "frm_01HN9XHZN6MGXM9JXG50K59Q85"), app(u, "credits", w.other.ID),
				app(u, "credits", "ledger") + "?account=" + w.other.ID, app(u, "credits", "nothing"),
			}
			for _, p := range elsewhere {
				require.Equal(t, http.StatusNotFound, admin.get(p).Status, p)
			}
		})
	}
}

// TestFormCreditWritesNeedASessionAndTheAccount: each form the new pages
// post sends a visitor without a session to sign in and answers anyone who
// may not act as the account with the 404 page, writing nothing.
func TestFormCreditWritesNeedASessionAndTheAccount(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	u, c := w.umbrella.ID, w.child.ID
	w.Fund(t, u)
	f, recs := w.survey(t, u, `{"name": "Ada"}`)
	writes := []string{
		app(u, "forms"), app(u, "forms", f.ID), app(u, "forms", f.ID, "example"), app(u, "forms", f.ID, "delete"),
		app(u, "forms", f.ID, "records"), app(u, "forms", f.ID, "records", recs[0].ID), app(u, "forms", f.ID, "records", recs[0].ID, "delete"),
		app(u, "forms", f.ID, "sharing"), app(u, "forms", f.ID, "sharing", w.Root.ID, "delete"),
		app(u, "forms", f.ID, "sharing", "web", "links"), app(u, "forms", f.ID, "sharing", "web", "links", "lnk_01HN9XHZN6MGXM9JXG50K59Q85", "revoke"),
		app(u, "forms", f.ID, "sharing", "structured", "code"), app(u, "forms", f.ID, "sharing", "structured", "numbers"),
		app(u, "forms", f.ID, "sharing", "structured", "numbers", "+15551230000", "delete"),
		app(u, "credits", "grants"), app(u, "credits", c, "limits"), app(u, "credits", c, "limits", "upload", "delete"),
		app(u, "credits", c, "grants"), app(u, "credits", c, "transfers"),
	}
	anonymous, stranger := w.visitor(t), w.as(t, w.stranger)
	before, err := w.Svc.ListAuditEvents(context.Background(), w.As(t, w.Root.ID), service.AuditQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	form := url.Values{"name": {"x"}, "questions.rows": {"0"}, "accountId": {w.Root.ID}, "role": {"viewer"}, "numbers": {"+15551230000"}, "code": {"ABCD"}, "answers.name": {"x"}, "type": {"upload"}, "monthly": {"1"}, "amount": {"1"}, "example": {"true"}}
	for _, p := range writes {
		signIn := anonymous.post(p, form)
		require.Equal(t, http.StatusSeeOther, signIn.Status, p)
		require.Equal(t, canopy.PageSignIn, signIn.location(), p)
		require.Equal(t, http.StatusNotFound, stranger.post(p, form).Status, p)
	}
	after, err := w.Svc.ListAuditEvents(context.Background(), w.As(t, w.Root.ID), service.AuditQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	require.Less(t, len(after.Data), 200)
	require.Equal(t, len(before.Data), len(after.Data), "nothing was written")
}

// TestAuditAndOutboxPages: the audit log tells a write made from above
// apart and filters by it; the outbox lists the subtree's emails with
// their status.
func TestAuditAndOutboxPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	u := w.umbrella.ID
	// The umbrella's admin adds a contact in its child, acting as it.
	admin := w.as(t, w.admin)
	require.Equal(t, http.StatusSeeOther, admin.post(app(w.child.ID, "contacts"), url.Values{"email": {"from-above@example.com"}}).Status)
	_, err := w.Svc.CreateContact(ctx, w.AsKey(t, w.Key(t, w.child.ID), w.child.ID), service.ContactInput{Email: "own@example.com"})
	require.NoError(t, err)

	all := admin.get(app(u, "audit") + "?action=contact.created")
	require.Equal(t, http.StatusOK, all.Status)
	require.Equal(t, 3, countRows(all.Body), "the umbrella's contact and the child's two")
	above := admin.get(app(u, "audit") + "?action=contact.created&onBehalf=yes")
	require.Equal(t, 2, countRows(above.Body), "the admin's in the child, and the platform's key's in the umbrella")
	require.Equal(t, 2, strings.Count(above.Body, `<span class="badge">on behalf</span>`))
	own := admin.get(app(u, "audit") + "?action=contact.created&onBehalf=no")
	require.Equal(t, 1, countRows(own.Body), "the child's own key")
	require.NotContains(t, own.Body, `<span class="badge">on behalf</span>`)
	require.Contains(t, above.Body, "channel “console”", "the channel is shown as a claim")
	require.Contains(t, above.Body, "<td>"+w.child.Name+"</td>")
	require.Contains(t, above.Body, "(user of Umbrella Health)", "the actor's own account")

	out := admin.get(app(u, "outbox"))
	require.Equal(t, http.StatusOK, out.Status)
	require.Contains(t, out.Body, "nia@newcomer.example")
	require.Contains(t, out.Body, `<span class="badge sent">sent</span><br><small>1 attempt · sent`)
	texts := admin.get(app(u, "outbox") + "?channel=texts")
	require.Equal(t, http.StatusOK, texts.Status)
	require.Contains(t, texts.Body, "No texts")
	bad := admin.get(app(u, "outbox") + "?status=lost")
	require.Equal(t, http.StatusBadRequest, bad.Status)
}

func countRows(body string) int {
	_, rows, _ := strings.Cut(body, "<tbody>")
	rows, _, _ = strings.Cut(rows, "</tbody>")
	return strings.Count(rows, "<tr>")
}

// TestFormPostsAreText is the text model at the console's edge: a post or
// a query holding NUL or bytes that are not UTF-8 is refused with 400,
// naming the field, before any handler reads it; nothing is written.
func TestFormPostsAreText(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	u := s.umbrella.ID
	s.Fund(t, u)
	f, _ := s.survey(t, u)
	admin := s.as(t, s.admin)
	cases := []struct {
		name, path string
		form       url.Values
		field      string
	}{
		{"NUL in an answer", app(u, "forms", f.ID, "records"), url.Values{"answers.name": {"Ada\x00"}}, "answers.name"},
		{"not UTF-8 in a form's name", app(u, "forms"), url.Values{"name": {"Caf\xe9"}, "questions.rows": {"0"}}, "name"},
		{"not UTF-8 in a field's name", app(u, "contacts"), url.Values{"email\xff": {"x@example.com"}}, "form"},
	}
	for _, c := range cases {
		p := admin.post(c.path, c.form)
		require.Equal(t, http.StatusBadRequest, p.Status, c.name)
		require.Contains(t, strings.ToLower(p.Body), strings.ToLower(c.field)+":", c.name)
	}
	q := admin.get(app(u, "forms", f.ID, "records") + "?filter.sex=%00")
	require.Equal(t, http.StatusBadRequest, q.Status, "a query too")
	recs, err := s.Svc.SearchRecords(context.Background(), s.As(t, u), f.ID, service.RecordSearch{}, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, recs.Data)
	forms, err := s.Svc.ListForms(context.Background(), s.As(t, u), service.FormQuery{}, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, forms.Data, 1, "only the survey")
}
