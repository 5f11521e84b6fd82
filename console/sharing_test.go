package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// TestSharingTabOverridesTheLinkPerForm is rule 5 (docs/rules.md) on the
// Sharing tab: a sub-account's form is listed with the umbrella as data
// manager through the link; set to none, the umbrella no longer finds it
// (its page is the 404 page); set to editor, the umbrella edits its
// questions; removing the override gives the link's role back.
func TestSharingTabOverridesTheLinkPerForm(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	u := s.umbrella.ID
	clinic := s.Child(t, u)
	s.Fund(t, u)
	f, _ := s.survey(t, clinic.ID, `{"name": "Ada"}`, `{"name": "Bo"}`)
	owner, umbrella := s.as(t, clinic.Email), s.as(t, s.admin)
	tab := app(clinic.ID, "forms", f.ID, "sharing")

	p := owner.get(tab)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	require.Equal(t, "owner", rowOf(t, p.Body, clinic.ID, "role"))
	require.Equal(t, "data manager", rowOf(t, p.Body, u, "role"))
	require.Equal(t, "through the link chain, lowest link: "+clinic.Name+" → Umbrella Health shares as data manager", rowOf(t, p.Body, u, "reason"))
	require.Equal(t, "nothing (hidden)", rowOf(t, p.Body, s.Root.ID, "role"), "the platform sees no customer's forms")
	require.NotContains(t, p.Body, "Remove override")

	require.Contains(t, owner.follow(owner.post(tab, url.Values{"accountId": {u}, "role": {"none"}})).Body, "The form is hidden from that account now.")
	require.Equal(t, http.StatusNotFound, umbrella.get(app(u, "forms", f.ID)).Status)
	list := umbrella.get(app(u, "forms"))
	require.NotContains(t, list.Body, f.ID, "not listed either")
	p = owner.get(tab)
	require.Equal(t, "nothing (hidden)", rowOf(t, p.Body, u, "role"))
	require.Equal(t, "explicit share", rowOf(t, p.Body, u, "reason"))
	require.Contains(t, p.Body, "Remove override for Umbrella Health")

	owner.follow(owner.post(tab, url.Values{"accountId": {u}, "role": {"editor"}}))
	edit := umbrella.get(app(u, "forms", f.ID))
	require.Equal(t, http.StatusOK, edit.Status)
	form := definitionValues(mustForm(t, s, clinic.ID, f.ID))
	form.Set("questions[0].label", "Full name")
	require.Equal(t, http.StatusSeeOther, umbrella.post(app(u, "forms", f.ID), form).Status)
	require.Equal(t, "Full name", mustForm(t, s, clinic.ID, f.ID).Questions[0].Label)

	owner.follow(owner.post(tab+"/"+u+"/delete", nil))
	p = owner.get(tab)
	require.Equal(t, "data manager", rowOf(t, p.Body, u, "role"), "the link decides again")

	bad := owner.post(tab, url.Values{"accountId": {u}, "role": {"owner"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Contains(t, bad.Body, "ust be editor, dataManager, viewer or none")
	stranger := owner.post(tab, url.Values{"accountId": {s.Child(t, s.Root.ID).ID}, "role": {"viewer"}})
	require.Equal(t, http.StatusNotFound, stranger.Status, "only accounts above or below the owner")

	// The owner's members read the tab without its buttons; the umbrella,
	// which edits the form's data, is sent on to the ways to collect; the
	// audience is the owner's.
	toCollect := umbrella.get(app(u, "forms", f.ID, "sharing"))
	require.Equal(t, app(u, "forms", f.ID, "sharing", "web"), toCollect.location())
	require.NotContains(t, umbrella.follow(toCollect).Body, `href="`+app(u, "forms", f.ID, "sharing")+`"`, "no Accounts sub-tab")
	member := s.as(t, s.User(t, clinic.ID, canopy.UserMember).Email)
	read := member.get(tab)
	require.Equal(t, http.StatusOK, read.Status)
	require.Equal(t, "data manager", rowOf(t, read.Body, u, "role"))
	require.NotContains(t, read.Body, "Set the role")
	refused := member.follow(member.post(tab, url.Values{"accountId": {u}, "role": {"none"}}))
	require.Contains(t, refused.Body, "Members may read", "the service's reason, forced")
	require.Equal(t, "data manager", rowOf(t, refused.Body, u, "role"), "nothing changed")
}

// rowOf reads a cell (class role or reason) of the Sharing tab's row for
// an account.
func rowOf(t *testing.T, body, accountID, cell string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr data-account="` + accountID + `">.*?<td class="` + cell + `">(.*?)</td>`).FindStringSubmatch(body)
	require.NotNil(t, m, "no %s for %s", cell, accountID)
	return m[1]
}

func mustForm(t *testing.T, s *site, account, id string) *service.FormView {
	t.Helper()
	f, err := s.Svc.GetForm(context.Background(), s.As(t, account), id)
	require.NoError(t, err)
	return f
}
