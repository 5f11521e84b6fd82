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
	"github.com/canopyhq/canopy/service"
)

// TestWebLinksFromTheSharingTab: "Mobile App or Website" makes a public
// link with a cap and an end date, lists it with the answers it took, and
// revokes it; a cap of 0 or a day gone by is named beside its field.
func TestWebLinksFromTheSharingTab(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	u := s.umbrella.ID
	s.Fund(t, u)
	f, _ := s.survey(t, u)
	admin := s.as(t, s.admin)
	tab := app(u, "forms", f.ID, "sharing", "web")
	p := admin.get(tab)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `aria-current="page">Mobile App or Website</a>`)
	require.Contains(t, p.Body, "No web links yet.")

	bad := admin.post(tab+"/links", url.Values{"maxSubmissions": {"0"}, "expiresAt": {"2026-11-01"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="maxSubmissions" value="0"[^>]*aria-invalid="true"`, bad.Body)
	require.Regexp(t, `name="expiresAt" value="2026-11-01"[^>]*aria-invalid="true"`, bad.Body)

	made := admin.follow(admin.post(tab+"/links", url.Values{"maxSubmissions": {"50"}, "expiresAt": {"2026-12-31"}}))
	require.Contains(t, made.Body, "The link is ready: https://app.example/f/")
	links, err := s.Svc.ListLinks(context.Background(), s.As(t, u), f.ID, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, links.Data, 1)
	l := links.Data[0]
	require.Equal(t, 50, *l.MaxSubmissions)
	require.Equal(t, "2027-01-01T00:00:00Z", l.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), "open until the end of the day chosen")
	require.Contains(t, made.Body, `value="`+l.URL+`"`)
	require.Contains(t, made.Body, "<td>0 of 50</td>")

	revoked := admin.follow(admin.post(tab+"/links/"+l.ID+"/revoke", nil))
	require.Contains(t, revoked.Body, "The link is revoked")
	require.Contains(t, revoked.Body, `<span class="badge revoked">revoked</span>`)
	require.NotContains(t, revoked.Body, "/revoke")
}

// TestSMSCollectorsFromTheSharingTab: "Structured SMS" authorises numbers,
// each sent its one-time message through the SMS outbox (paid by the
// account's payer), names a number that is not one beside the numbers,
// changes the form's code (one another form holds is refused) and removes
// a number; "Interactive SMS" sends the first question.
func TestSMSCollectorsFromTheSharingTab(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	s.Fund(t, u)
	f, _ := s.survey(t, u)
	other, _ := s.survey(t, u)
	_, err := s.Svc.UpdateSMSSettings(ctx, s.As(t, u), other.ID, service.SMSSettingsPatch{Code: ptrTo("TAKEN")})
	require.NoError(t, err)
	admin := s.as(t, s.admin)
	tab := app(u, "forms", f.ID, "sharing", "structured")
	p := admin.get(tab)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "none yet: the first number added gives it one")

	bad := admin.post(tab+"/numbers", url.Values{"numbers": {"+15551230000\n12"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="numbers"[^>]*aria-invalid="true"`, bad.Body)
	require.Contains(t, bad.Body, "E.164")

	added := admin.follow(admin.post(tab+"/numbers", url.Values{"numbers": {"+15551230000\r\n+15551230001\r\n"}, "message": {"Clinic survey"}}))
	require.Contains(t, added.Body, "Authorised 2 numbers. The one-time message on its way: “Clinic survey: to send data, text U")
	require.Contains(t, added.Body, `<tr data-number="&#43;15551230000">`)
	code := regexp.MustCompile(`<dd><code>(U\d+)</code></dd>`).FindStringSubmatch(added.Body)
	require.NotNil(t, code, "the form's code is shown")
	texts, err := s.Svc.ListTexts(ctx, s.As(t, u), service.OutboxQuery{}, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, texts.Data, 2)
	require.True(t, strings.HasPrefix(texts.Data[0].Body, "Clinic survey: to send data, text "+code[1]+"#Name#Age"))

	taken := admin.post(tab+"/code", url.Values{"code": {"taken"}})
	require.Equal(t, http.StatusConflict, taken.Status)
	require.Regexp(t, `name="code" value="taken"[^>]*aria-invalid="true"`, taken.Body)
	renamed := admin.follow(admin.post(tab+"/code", url.Values{"code": {"visits"}}))
	require.Contains(t, renamed.Body, "code is VISITS now")

	removed := admin.follow(admin.post(tab+"/numbers/+15551230001/delete", nil))
	require.Contains(t, removed.Body, "The number is removed")
	require.NotContains(t, removed.Body, `<tr data-number="&#43;15551230001">`)

	interactive := app(u, "forms", f.ID, "sharing", "interactive")
	asked := admin.follow(admin.post(interactive+"/numbers", url.Values{"numbers": {"+15551239999"}}))
	require.Contains(t, asked.Body, "Reply to each question; reply STOP to stop. Q1/7 Name")
	require.NotContains(t, asked.Body, `<tr data-number="&#43;15551230000">`, "each mode lists its own numbers")
}

// TestCollectingIsForWhoEditsTheData: the ways to collect are offered to
// the roles that edit a form's data (rule 6 (docs/rules.md)) — the
// owner's members and an umbrella with data manager — and not to a
// viewer, whom the service refuses when forced.
func TestCollectingIsForWhoEditsTheData(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	clinic := s.Child(t, u)
	s.Fund(t, u)
	f, _ := s.survey(t, clinic.ID)
	umbrella := s.as(t, s.admin)
	require.Equal(t, http.StatusOK, umbrella.get(app(u, "forms", f.ID, "sharing", "web")).Status, "data manager through the link")
	member := s.as(t, s.User(t, clinic.ID, canopy.UserMember).Email)
	require.Equal(t, http.StatusOK, member.get(app(clinic.ID, "forms", f.ID, "sharing", "structured")).Status)

	_, err := s.Svc.PutShare(ctx, s.As(t, clinic.ID), f.ID, u, canopy.RoleViewer)
	require.NoError(t, err)
	page := umbrella.get(app(u, "forms", f.ID))
	require.NotContains(t, page.Body, "/sharing", "no Sharing tab for a viewer")
	require.Equal(t, http.StatusForbidden, umbrella.get(app(u, "forms", f.ID, "sharing", "web")).Status)
	refused := umbrella.post(app(u, "forms", f.ID, "sharing", "web", "links"), nil)
	require.Equal(t, http.StatusForbidden, refused.Status)
	links, err := s.Svc.ListLinks(ctx, s.As(t, clinic.ID), f.ID, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, links.Data, "nothing was made")
	require.Equal(t, http.StatusNotFound, umbrella.get(app(u, "forms", f.ID, "sharing", "nothing")).Status)
}
