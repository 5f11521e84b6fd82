package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestWebLinks: a link made by an account that edits the form's data
// takes submissions as records — checked as the API checks answers, paid
// by that account's payer — until it is revoked, expires or reaches its
// cap; its page shows the form in the owner's brand.
func TestWebLinks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newFieldWorld(t, db)
		_, err := w.b.Svc.PutConfiguration(ctx, w.as(t, w.sub), w.sub.ID, service.BrandNamespace, []byte(`{"brandName": "Clinic", "primaryColor": "#336699"}`))
		require.NoError(t, err)
		expires := w.b.Clock.Now().Add(48 * time.Hour)
		l, err := w.b.Svc.CreateLink(ctx, w.as(t, w.umbrella), w.form.ID, service.LinkInput{ExpiresAt: &expires, MaxSubmissions: ptr(2)})
		require.NoError(t, err)
		require.Equal(t, "https://app.example/f/"+l.Token, l.URL)
		require.True(t, strings.HasPrefix(l.Token, canopy.LinkTokenPrefix))
		require.Equal(t, canopy.LinkOpen, l.State)
		require.Equal(t, w.umbrella.ID, l.AccountID)

		page, err := w.b.Svc.GetWebForm(ctx, l.Token)
		require.NoError(t, err)
		require.Equal(t, service.Brand{Name: "Clinic", PrimaryColor: "#336699"}, page.Brand, "the owner's brand")
		require.Equal(t, hivInfo.Questions, page.Questions)
		require.Equal(t, canopy.LinkOpen, page.State)
		_, err = w.b.Svc.GetWebForm(ctx, "cnf_unknown")
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))

		uploads := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload)
		bad, err := w.b.Svc.SubmitWebForm(ctx, l.Token, map[string][]string{"name": {""}, "sex": {"Other"}, "age": {"x"}}, "req")
		require.Nil(t, bad)
		require.Equal(t, []string{"answers.name", "answers.sex", "answers.age"}, fieldsOf(t, err), "beside each field")
		rec, err := w.b.Svc.SubmitWebForm(ctx, l.Token, map[string][]string{"name": {"Ada"}, "sex": {"Female"}, "age": {"34"}, "visit": {""}}, "req")
		require.NoError(t, err)
		got, _ := json.Marshal(rec.Answers)
		require.JSONEq(t, `{"name":"Ada","sex":"Female","age":34}`, string(got))
		require.Equal(t, l.ID, rec.CreatedBy)
		require.Equal(t, w.umbrella.ID, rec.AccountID)
		require.EqualValues(t, uploads-1, balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload))
		_, err = w.b.Svc.SubmitWebForm(ctx, l.Token, map[string][]string{"name": {"Bo"}, "sex": {"Male"}, "age": {"40"}}, "req")
		require.NoError(t, err)
		_, err = w.b.Svc.SubmitWebForm(ctx, l.Token, map[string][]string{"name": {"Cy"}, "sex": {"Male"}, "age": {"41"}}, "req")
		require.Equal(t, service.CodeLinkClosed, canopy.ErrorCode(err), "the cap of two is reached")
		page, err = w.b.Svc.GetWebForm(ctx, l.Token)
		require.NoError(t, err)
		require.Equal(t, canopy.LinkFull, page.State)
		require.Len(t, w.records(t), 2)

		// Expiry, revocation, an account that lost its role.
		open, err := w.b.Svc.CreateLink(ctx, w.as(t, w.sub), w.form.ID, service.LinkInput{ExpiresAt: &expires})
		require.NoError(t, err)
		answers := map[string][]string{"name": {"Di"}, "sex": {"f"}, "age": {"60"}}
		w.b.Clock.Advance(49 * time.Hour)
		_, err = w.b.Svc.SubmitWebForm(ctx, open.Token, answers, "req")
		require.Equal(t, service.CodeLinkClosed, canopy.ErrorCode(err), "expired")
		forever, err := w.b.Svc.CreateLink(ctx, w.as(t, w.umbrella), w.form.ID, service.LinkInput{})
		require.NoError(t, err)
		_, err = w.b.Svc.PutShare(ctx, w.as(t, w.sub), w.form.ID, w.umbrella.ID, canopy.RoleViewer)
		require.NoError(t, err)
		_, err = w.b.Svc.SubmitWebForm(ctx, forever.Token, answers, "req")
		require.Equal(t, service.CodeLinkClosed, canopy.ErrorCode(err), "its account is only a viewer now")
		page, err = w.b.Svc.GetWebForm(ctx, forever.Token)
		require.NoError(t, err)
		require.Equal(t, canopy.LinkUnavailable, page.State)
		require.NoError(t, w.b.Svc.DeleteShare(ctx, w.as(t, w.sub), w.form.ID, w.umbrella.ID))
		_, err = w.b.Svc.SubmitWebForm(ctx, forever.Token, answers, "req")
		require.NoError(t, err)
		require.NoError(t, w.b.Svc.RevokeLink(ctx, w.as(t, w.sub), w.form.ID, forever.ID))
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(w.b.Svc.RevokeLink(ctx, w.as(t, w.sub), w.form.ID, forever.ID)), "once")
		_, err = w.b.Svc.SubmitWebForm(ctx, forever.Token, answers, "req")
		require.Equal(t, service.CodeLinkClosed, canopy.ErrorCode(err), "revoked")
		_, err = w.b.Svc.SubmitWebForm(ctx, "cnf_unknown", answers, "req")
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))

		links, err := w.b.Svc.ListLinks(ctx, w.as(t, w.sub), w.form.ID, service.PageRequest{})
		require.NoError(t, err)
		var states []canopy.LinkState
		for _, x := range links.Data {
			states = append(states, x.State)
		}
		require.Equal(t, []canopy.LinkState{canopy.LinkExpired, canopy.LinkExpired, canopy.LinkRevoked}, states,
			"the capped link expired since; listed oldest first")

		// Validation and roles.
		_, err = w.b.Svc.CreateLink(ctx, w.as(t, w.sub), w.form.ID, service.LinkInput{ExpiresAt: ptr(w.b.Clock.Now().Add(-time.Minute)), MaxSubmissions: ptr(0)})
		require.Equal(t, []string{"expiresAt", "maxSubmissions"}, fieldsOf(t, err))
		_, err = w.b.Svc.CreateLink(ctx, w.as(t, w.sibling), w.form.ID, service.LinkInput{})
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))

		// No credit, no record: nothing is counted either.
		left := balanceOf(t, w.b, w.umbrella.ID, canopy.CreditUpload)
		_, err = w.b.Svc.Transfer(ctx, w.as(t, w.umbrella), w.sibling.ID, service.GrantInput{Type: canopy.CreditUpload, Amount: left})
		require.NoError(t, err)
		capped, err := w.b.Svc.CreateLink(ctx, w.as(t, w.sub), w.form.ID, service.LinkInput{MaxSubmissions: ptr(1)})
		require.NoError(t, err)
		_, err = w.b.Svc.SubmitWebForm(ctx, capped.Token, answers, "req")
		require.Equal(t, canopy.CodeInsufficientCredits, canopy.ErrorCode(err))
		grant(t, w.b, w.umbrella.ID, canopy.CreditUpload, 1)
		_, err = w.b.Svc.SubmitWebForm(ctx, capped.Token, answers, "req")
		require.NoError(t, err, "the refused submission did not use up the cap")
		require.Len(t, w.records(t), 4)
		requireVerified(t, w.b)
	})
}
