package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

var survey = service.FormInput{
	Name: "Site survey", Description: "Weekly walk-through",
	Questions: []canopy.Question{
		{ID: "site", Label: "Site", Type: canopy.QuestionText, Required: true},
		{ID: "visitors", Label: "Visitors", Type: canopy.QuestionNumber},
		{ID: "weather", Label: "Weather", Type: canopy.QuestionChoice, Options: []string{"sun", "rain"}},
	},
}

func answers(t *testing.T, js string) service.RecordInput {
	t.Helper()
	var in service.RecordInput
	require.NoError(t, json.Unmarshal([]byte(`{"answers":`+js+`}`), &in))
	return in
}

// fieldsOf returns the fields a validation error names.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var e *canopy.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, canopy.CodeValidation, e.Code, "%v", err)
	out := []string{}
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func formIDsOf(vs []*service.FormView) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestFormsAreValidatedAndVersioned(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		as := b.As(t, acc.ID)

		_, err := b.Svc.CreateForm(ctx, as, service.FormInput{Questions: []canopy.Question{{ID: "x", Label: "X", Type: "colour"}}})
		require.Equal(t, []string{"name", "questions[0].type"}, fieldsOf(t, err))
		page, err := b.Svc.ListForms(ctx, as, service.FormQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Data, "a refused form writes nothing")

		f, err := b.Svc.CreateForm(ctx, as, survey)
		require.NoError(t, err)
		require.Equal(t, acc.ID, f.OwnerID)
		require.Equal(t, canopy.RoleOwner, f.Role)
		require.Equal(t, 1, f.Version)

		renamed, err := b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Name: ptr("Site survey v2")}, ptr(1))
		require.NoError(t, err)
		require.Equal(t, 2, renamed.Version)
		require.Equal(t, survey.Questions, renamed.Questions, "a patch keeps what it does not name")

		_, err = b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Name: ptr("lost update")}, ptr(1))
		require.Equal(t, canopy.CodeVersionMismatch, canopy.ErrorCode(err), "a stale If-Match")
		_, err = b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Questions: &[]canopy.Question{{ID: "a", Label: "A", Type: canopy.QuestionChoice}}}, nil)
		require.Equal(t, []string{"questions[0].options"}, fieldsOf(t, err))
		got, err := b.Svc.GetForm(ctx, as, f.ID)
		require.NoError(t, err)
		require.Equal(t, "Site survey v2", got.Name)
		require.Equal(t, 2, got.Version, "refused changes write nothing")

		same, err := b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Name: ptr("Site survey v2"), Questions: &survey.Questions}, ptr(2))
		require.NoError(t, err)
		require.Equal(t, 2, same.Version, "a patch that changes nothing keeps the version, so other writers' If-Match still holds")
		_, err = b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Description: ptr("")}, nil)
		require.NoError(t, err, "without If-Match the last writer wins")

		require.NoError(t, b.Svc.DeleteForm(ctx, as, f.ID))
		_, err = b.Svc.GetForm(ctx, as, f.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
	})
}

func TestRecords(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		b.Fund(t, acc.ID)
		as := b.As(t, acc.ID)
		f, err := b.Svc.CreateForm(ctx, as, survey)
		require.NoError(t, err)

		_, err = b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"visitors": "many", "mood": "good", "weather": "snow"}`))
		require.Equal(t, []string{"answers.mood", "answers.site", "answers.visitors", "answers.weather"}, fieldsOf(t, err),
			"unknown ids, a missing required answer and wrong types are all named")

		var recs []*canopy.Record
		for i, site := range []string{"North", "South", "East"} {
			r, err := b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"site": "`+site+`", "visitors": 12, "weather": null}`))
			require.NoError(t, err, "record %d", i)
			require.Equal(t, 1, r.Version)
			require.Equal(t, acc.ID, r.AccountID)
			require.NotContains(t, r.Answers, "weather", "a null answer is no answer")
			recs = append(recs, r)
			b.Clock.Advance(time.Hour)
		}

		page1, err := b.Svc.ListRecords(ctx, as, f.ID, service.RecordQuery{}, service.PageRequest{Limit: 2})
		require.NoError(t, err)
		require.NotNil(t, page1.NextCursor)
		page2, err := b.Svc.ListRecords(ctx, as, f.ID, service.RecordQuery{}, service.PageRequest{Limit: 2, Cursor: *page1.NextCursor})
		require.NoError(t, err)
		require.Nil(t, page2.NextCursor)
		require.Equal(t, []string{recs[0].ID, recs[1].ID, recs[2].ID}, []string{page1.Data[0].ID, page1.Data[1].ID, page2.Data[0].ID})
		window, err := b.Svc.ListRecords(ctx, as, f.ID, service.RecordQuery{From: recs[1].CreatedAt, To: recs[2].CreatedAt}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, window.Data, 1)
		require.Equal(t, recs[1].ID, window.Data[0].ID, "from inclusive, to exclusive")

		upd, err := b.Svc.UpdateRecord(ctx, as, f.ID, recs[0].ID, answers(t, `{"visitors": null, "weather": "sun"}`), ptr(1))
		require.NoError(t, err)
		require.Equal(t, 2, upd.Version)
		require.Equal(t, map[string]json.RawMessage{"site": json.RawMessage(`"North"`), "weather": json.RawMessage(`"sun"`)}, upd.Answers)
		same, err := b.Svc.UpdateRecord(ctx, as, f.ID, recs[0].ID, answers(t, `{"weather": "sun"}`), ptr(2))
		require.NoError(t, err)
		require.Equal(t, 2, same.Version, "a patch that changes nothing keeps the version")
		_, err = b.Svc.UpdateRecord(ctx, as, f.ID, recs[0].ID, answers(t, `{"visitors": 1}`), ptr(1))
		require.Equal(t, canopy.CodeVersionMismatch, canopy.ErrorCode(err))
		_, err = b.Svc.UpdateRecord(ctx, as, f.ID, recs[0].ID, answers(t, `{"site": null}`), nil)
		require.Equal(t, []string{"answers.site"}, fieldsOf(t, err), "a patch may not drop a required answer")
		got, err := b.Svc.GetRecord(ctx, as, f.ID, recs[0].ID)
		require.NoError(t, err)
		require.Equal(t, upd, got)

		other, err := b.Svc.CreateForm(ctx, as, survey)
		require.NoError(t, err)
		_, err = b.Svc.GetRecord(ctx, as, other.ID, recs[0].ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a record belongs to its form")

		require.NoError(t, b.Svc.DeleteRecord(ctx, as, f.ID, recs[1].ID))
		_, err = b.Svc.GetRecord(ctx, as, f.ID, recs[1].ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))

		// A form whose questions change keeps its records; the next edit of
		// a record is checked against the new questions.
		_, err = b.Svc.UpdateForm(ctx, as, f.ID, service.FormPatch{Questions: &[]canopy.Question{
			{ID: "site", Label: "Site", Type: canopy.QuestionText, Required: true},
			{ID: "inspector", Label: "Inspector", Type: canopy.QuestionText, Required: true},
		}}, nil)
		require.NoError(t, err)
		_, err = b.Svc.UpdateRecord(ctx, as, f.ID, recs[2].ID, answers(t, `{"site": "West"}`), nil)
		require.Equal(t, []string{"answers.visitors", "answers.inspector"}, fieldsOf(t, err), "visitors is no longer a question; inspector is new and required")
	})
}

// umbrellaWorld is an enterprise umbrella with an invited sub-account (sub),
// a created child (kid) and, below sub, its own client (client); and a
// stranger in another tree.
type umbrellaWorld struct {
	*world
	sub, kid, client *canopy.Account
}

func newUmbrellaWorld(t *testing.T, db *sqlstore.DB) *umbrellaWorld {
	t.Helper()
	ctx := context.Background()
	w := &umbrellaWorld{world: newWorld(t, db)}
	inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
	require.NoError(t, err)
	_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
	require.NoError(t, err)
	w.sub = w.invitee
	w.kid = w.b.Child(t, w.umbrella.ID)
	w.client = w.b.Child(t, w.sub.ID)
	w.b.Fund(t, w.umbrella.ID, w.sub.ID, w.bystander.ID)
	return w
}

func (w *umbrellaWorld) as(t *testing.T, a *canopy.Account) service.Caller { return w.b.As(t, a.ID) }

// TestFormsShareUpTheTree follows seed 002: a sub-account's forms reach the
// umbrella as dataManager; the sub-account gives more or less form by form;
// leaving takes the link's access away and leaves explicit shares.
func TestFormsShareUpTheTree(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newUmbrellaWorld(t, db)
		asSub, asUmb := w.as(t, w.sub), w.as(t, w.umbrella)
		f, err := w.b.Svc.CreateForm(ctx, asSub, survey)
		require.NoError(t, err)
		rec, err := w.b.Svc.CreateRecord(ctx, asSub, f.ID, answers(t, `{"site": "HQ"}`))
		require.NoError(t, err)

		seen, err := w.b.Svc.GetForm(ctx, asUmb, f.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.RoleDataManager, seen.Role, "the default autoShareRole")
		_, err = w.b.Svc.GetRecord(ctx, asUmb, f.ID, rec.ID)
		require.NoError(t, err, "dataManagers view data")
		_, err = w.b.Svc.UpdateRecord(ctx, asUmb, f.ID, rec.ID, answers(t, `{"visitors": 3}`), nil)
		require.NoError(t, err, "… and edit it")
		_, err = w.b.Svc.CreateRecord(ctx, asUmb, f.ID, answers(t, `{"site": "Annex"}`))
		require.NoError(t, err, "… and collect it")
		_, err = w.b.Svc.UpdateForm(ctx, asUmb, f.ID, service.FormPatch{Name: ptr("mine now")}, nil)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "but not edit questions")
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(w.b.Svc.DeleteForm(ctx, asUmb, f.ID)))
		_, err = w.b.Svc.PutShare(ctx, asUmb, f.ID, w.umbrella.ID, canopy.RoleEditor)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "nor share")

		explain := func() *service.Explanation {
			ex, err := w.b.Svc.ExplainAccess(ctx, asUmb, f.ID, w.umbrella.ID)
			require.NoError(t, err)
			return ex
		}
		ex := explain()
		require.Equal(t, canopy.RuleLink, ex.Rule)
		require.Equal(t, &canopy.DecidingLink{AccountID: w.sub.ID, ParentID: w.umbrella.ID, AutoShareRole: canopy.RoleDataManager}, ex.Link)

		// More, form by form.
		_, err = w.b.Svc.PutShare(ctx, asSub, f.ID, w.umbrella.ID, canopy.RoleEditor)
		require.NoError(t, err)
		_, err = w.b.Svc.UpdateForm(ctx, asUmb, f.ID, service.FormPatch{Name: ptr("Edited by the umbrella")}, nil)
		require.NoError(t, err, "an editor edits questions")
		require.Equal(t, canopy.Access{Role: canopy.RoleEditor, Rule: canopy.RuleExplicit}, explain().Access)

		// Less: none hides the form altogether.
		_, err = w.b.Svc.PutShare(ctx, asSub, f.ID, w.umbrella.ID, canopy.RoleNone)
		require.NoError(t, err)
		_, err = w.b.Svc.GetForm(ctx, asUmb, f.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = w.b.Svc.ListRecords(ctx, asUmb, f.ID, service.RecordQuery{}, service.PageRequest{})
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		list, err := w.b.Svc.ListForms(ctx, asUmb, service.FormQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.NotContains(t, formIDsOf(list.Data), f.ID)
		_, err = w.b.Svc.ExplainAccess(ctx, asUmb, f.ID, w.umbrella.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a hidden form is not explained: that would tell it exists")

		shares, err := w.b.Svc.ListShares(ctx, asSub, f.ID)
		require.NoError(t, err)
		require.Len(t, shares.Data, 1)
		require.Equal(t, canopy.RoleNone, shares.Data[0].Role)

		// Back to what the tree gives.
		require.NoError(t, w.b.Svc.DeleteShare(ctx, asSub, f.ID, w.umbrella.ID))
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(w.b.Svc.DeleteShare(ctx, asSub, f.ID, w.umbrella.ID)))
		require.Equal(t, canopy.RuleLink, explain().Rule)

		// The umbrella lowers the link; raising an invited link back is not
		// its call.
		_, err = w.b.Svc.UpdateLink(ctx, asUmb, w.sub.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleViewer)})
		require.NoError(t, err)
		seen, err = w.b.Svc.GetForm(ctx, asUmb, f.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.RoleViewer, seen.Role, "the new link policy applies at once")
		_, err = w.b.Svc.CreateRecord(ctx, asUmb, f.ID, answers(t, `{"site": "Annex"}`))
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "viewers do not collect data")
		_, err = w.b.Svc.UpdateLink(ctx, asUmb, w.sub.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleEditor)})
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err))
		_, err = w.b.Svc.UpdateLink(ctx, asSub, w.sub.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleEditor)})
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "only the parent changes a link")
		_, err = w.b.Svc.UpdateLink(ctx, w.b.As(t, w.b.Root.ID), w.umbrella.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleEditor)})
		require.Equal(t, canopy.CodeConflict, canopy.ErrorCode(err), "links to the platform root are fixed")
		_, err = w.b.Svc.UpdateLink(ctx, asUmb, w.sub.ID, service.LinkPatch{AutoShareRole: ptr(canopy.Role("owner"))})
		require.Equal(t, []string{"autoShareRole"}, fieldsOf(t, err))

		// A created child's link is the parent's to raise.
		kidForm, err := w.b.Svc.CreateForm(ctx, w.as(t, w.kid), survey)
		require.NoError(t, err)
		_, err = w.b.Svc.UpdateLink(ctx, asUmb, w.kid.ID, service.LinkPatch{AutoShareRole: ptr(canopy.RoleEditor)})
		require.NoError(t, err)
		seen, err = w.b.Svc.GetForm(ctx, asUmb, kidForm.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.RoleEditor, seen.Role)

		// Leaving: the link's access ends at once; explicit shares stay.
		kept, err := w.b.Svc.CreateForm(ctx, asSub, survey)
		require.NoError(t, err)
		_, err = w.b.Svc.PutShare(ctx, asSub, kept.ID, w.umbrella.ID, canopy.RoleViewer)
		require.NoError(t, err)
		_, err = w.b.Svc.LeaveUmbrella(ctx, asSub, w.sub.ID)
		require.NoError(t, err)
		_, err = w.b.Svc.GetForm(ctx, asUmb, f.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "link-derived access is gone")
		stays, err := w.b.Svc.GetForm(ctx, asUmb, kept.ID)
		require.NoError(t, err, "the explicit share stays")
		require.Equal(t, canopy.RoleViewer, stays.Role)
		list, err = w.b.Svc.ListForms(ctx, asUmb, service.FormQuery{}, service.PageRequest{})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{kidForm.ID, kept.ID}, formIDsOf(list.Data))
		_, err = w.b.Svc.ExplainAccess(ctx, asUmb, kept.ID, w.umbrella.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "explaining is for the owner's ancestors")
	})
}

// TestExamplesFlowDown: an example reaches every descendant read-only;
// a descendant copies it to make its own.
func TestExamplesFlowDown(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newUmbrellaWorld(t, db)
		asUmb, asClient := w.as(t, w.umbrella), w.as(t, w.client)
		ex, err := w.b.Svc.CreateForm(ctx, asUmb, survey)
		require.NoError(t, err)
		_, err = w.b.Svc.GetForm(ctx, asClient, ex.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "not yet an example")

		_, err = w.b.Svc.SetExample(ctx, w.as(t, w.sub), ex.ID, true)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "only the owner tags examples")
		tagged, err := w.b.Svc.SetExample(ctx, asUmb, ex.ID, true)
		require.NoError(t, err)
		require.True(t, tagged.Example)

		for _, a := range []*canopy.Account{w.sub, w.kid, w.client} {
			as := w.as(t, a)
			got, err := w.b.Svc.GetForm(ctx, as, ex.ID)
			require.NoError(t, err)
			require.True(t, got.ExampleOnly)
			require.Equal(t, canopy.RoleNone, got.Role)
			_, err = w.b.Svc.ListRecords(ctx, as, ex.ID, service.RecordQuery{}, service.PageRequest{})
			require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "questions only, no data")
			_, err = w.b.Svc.CreateRecord(ctx, as, ex.ID, answers(t, `{"site": "x"}`))
			require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err))
			_, err = w.b.Svc.UpdateForm(ctx, as, ex.ID, service.FormPatch{Name: ptr("x")}, nil)
			require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err))

			d, err := w.b.Svc.GetDashboard(ctx, as, "", service.PageRequest{})
			require.NoError(t, err)
			require.Equal(t, []string{ex.ID}, formIDsOf(d.Examples.Data))
			require.Equal(t, 1, d.Examples.Count)
			list, err := w.b.Svc.ListForms(ctx, as, service.FormQuery{}, service.PageRequest{})
			require.NoError(t, err)
			require.NotContains(t, formIDsOf(list.Data), ex.ID, "examples live on the dashboard, not among forms one has a role on")
		}
		for _, a := range []*canopy.Account{w.bystander, w.b.Root} {
			_, err := w.b.Svc.GetForm(ctx, w.as(t, a), ex.ID)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "examples flow down only")
		}

		// The owner keeps one example from one descendant with a none share.
		_, err = w.b.Svc.PutShare(ctx, asUmb, ex.ID, w.client.ID, canopy.RoleNone)
		require.NoError(t, err)
		_, err = w.b.Svc.GetForm(ctx, asClient, ex.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		d, err := w.b.Svc.GetDashboard(ctx, asClient, service.SectionExamples, service.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, d.Examples.Data)
		require.Zero(t, d.Examples.Count)
		require.Nil(t, d.Own, "one section asked for, one given")
		require.NoError(t, w.b.Svc.DeleteShare(ctx, asUmb, ex.ID, w.client.ID))

		cp, err := w.b.Svc.CopyForm(ctx, asClient, ex.ID, "Our survey")
		require.NoError(t, err)
		require.Equal(t, w.client.ID, cp.OwnerID)
		require.Equal(t, ex.ID, cp.CopiedFrom)
		require.Equal(t, canopy.RoleOwner, cp.Role)
		require.Equal(t, survey.Questions, cp.Questions)
		require.False(t, cp.Example, "a copy is not an example until its owner says so")
		_, err = w.b.Svc.UpdateForm(ctx, asClient, cp.ID, service.FormPatch{Name: ptr("Ours, edited")}, nil)
		require.NoError(t, err, "the copy is editable")
		orig, err := w.b.Svc.GetForm(ctx, asUmb, ex.ID)
		require.NoError(t, err)
		require.Equal(t, survey.Name, orig.Name, "the original is untouched")
		up, err := w.b.Svc.GetForm(ctx, w.as(t, w.sub), cp.ID)
		require.NoError(t, err, "the copy shares upward like any form of the client")
		require.Equal(t, canopy.RoleDataManager, up.Role)

		d, err = w.b.Svc.GetDashboard(ctx, asClient, "", service.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{cp.ID}, formIDsOf(d.Own.Data))
		require.Equal(t, 1, d.Own.Count)
		require.Empty(t, d.SharedWithMe.Data)

		d, err = w.b.Svc.GetDashboard(ctx, asUmb, "", service.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{ex.ID}, formIDsOf(d.Own.Data))
		require.Equal(t, []string{cp.ID}, formIDsOf(d.SharedWithMe.Data), "the client's copy, through sub's link and client's")
		require.Equal(t, 1, d.SharedWithMe.Count)
		require.Empty(t, d.Examples.Data, "the platform root has no examples here")

		untagged, err := w.b.Svc.SetExample(ctx, asUmb, ex.ID, false)
		require.NoError(t, err)
		require.False(t, untagged.Example)
		_, err = w.b.Svc.GetForm(ctx, asClient, ex.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
	})
}

func TestDashboardPagesAndCounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newUmbrellaWorld(t, db)
		asUmb := w.as(t, w.umbrella)
		var own, shared []string
		for range 5 {
			f, err := w.b.Svc.CreateForm(ctx, asUmb, survey)
			require.NoError(t, err)
			own = append(own, f.ID)
			g, err := w.b.Svc.CreateForm(ctx, w.as(t, w.kid), survey)
			require.NoError(t, err)
			shared = append(shared, g.ID)
		}
		for section, want := range map[string][]string{service.SectionOwn: own, service.SectionShared: shared} {
			var got []string
			pr := service.PageRequest{Limit: 2}
			for {
				d, err := w.b.Svc.GetDashboard(ctx, asUmb, section, pr)
				require.NoError(t, err)
				sec := d.Own
				if section == service.SectionShared {
					sec = d.SharedWithMe
				}
				require.Equal(t, 5, sec.Count, section)
				require.False(t, sec.CountCapped)
				got = append(got, formIDsOf(sec.Data)...)
				if sec.NextCursor == nil {
					break
				}
				pr.Cursor = *sec.NextCursor
			}
			require.Equal(t, want, got, section)
		}
		_, err := w.b.Svc.GetDashboard(ctx, asUmb, "everything", service.PageRequest{})
		require.Equal(t, "invalid-enum", canopy.ErrorCode(err))
		_, err = w.b.Svc.GetDashboard(ctx, asUmb, "", service.PageRequest{Cursor: "abc"})
		require.Equal(t, canopy.CodeInvalidCursor, canopy.ErrorCode(err))
	})
}

// TestSharingIsWithAncestorsAndDescendantsOnly: the owner shares along its
// own branch; siblings, cousins and other trees are not found.
func TestSharingIsWithAncestorsAndDescendantsOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newUmbrellaWorld(t, db)
		asSub := w.as(t, w.sub)
		f, err := w.b.Svc.CreateForm(ctx, asSub, survey)
		require.NoError(t, err)
		for _, a := range []*canopy.Account{w.umbrella, w.client, w.b.Root} {
			_, err := w.b.Svc.PutShare(ctx, asSub, f.ID, a.ID, canopy.RoleViewer)
			require.NoError(t, err, "ancestor or descendant %s", a.Name)
		}
		for _, a := range []*canopy.Account{w.kid, w.bystander} {
			_, err := w.b.Svc.PutShare(ctx, asSub, f.ID, a.ID, canopy.RoleViewer)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "%s is off the owner's branch", a.Name)
		}
		_, err = w.b.Svc.PutShare(ctx, asSub, f.ID, "acc_01JBZ00000000000000000000A", canopy.RoleViewer)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		_, err = w.b.Svc.PutShare(ctx, asSub, f.ID, w.sub.ID, canopy.RoleViewer)
		require.Equal(t, canopy.CodeConflict, canopy.ErrorCode(err), "the owner is always owner")
		_, err = w.b.Svc.PutShare(ctx, asSub, f.ID, w.umbrella.ID, canopy.RoleOwner)
		require.Equal(t, []string{"role"}, fieldsOf(t, err), "ownership is not shared")

		got, err := w.b.Svc.GetForm(ctx, w.as(t, w.client), f.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.RoleViewer, got.Role, "a descendant sees what it is given")
		got, err = w.b.Svc.GetForm(ctx, w.as(t, w.b.Root), f.ID)
		require.NoError(t, err, "even the platform root, when the owner says so")
		require.Equal(t, canopy.RoleViewer, got.Role)
	})
}

// TestMembersWorkWithForms: users with the member role create and fill in
// their account's forms (admins are for account administration).
func TestMembersWorkWithForms(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		b.Fund(t, acc.ID)
		member := b.User(t, acc.ID, canopy.UserMember)
		c := b.AsKey(t, b.SignIn(t, member.Email), "")
		f, err := b.Svc.CreateForm(ctx, c, survey)
		require.NoError(t, err)
		_, err = b.Svc.CreateRecord(ctx, c, f.ID, answers(t, `{"site": "HQ"}`))
		require.NoError(t, err)
		_, err = b.Svc.UpdateForm(ctx, c, f.ID, service.FormPatch{Name: ptr("Renamed by a member")}, nil)
		require.NoError(t, err)
		_, err = b.Svc.CopyForm(ctx, c, f.ID, "")
		require.NoError(t, err)

		// Deciding who else sees the account's forms, and deleting them,
		// is administration.
		_, err = b.Svc.PutShare(ctx, c, f.ID, b.Root.ID, canopy.RoleViewer)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "share")
		_, err = b.Svc.SetExample(ctx, c, f.ID, true)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "example")
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(b.Svc.DeleteForm(ctx, c, f.ID)), "delete")
		admin := b.As(t, acc.ID)
		_, err = b.Svc.PutShare(ctx, admin, f.ID, b.Root.ID, canopy.RoleViewer)
		require.NoError(t, err)
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(b.Svc.DeleteShare(ctx, c, f.ID, b.Root.ID)), "unshare")
		got, err := b.Svc.GetForm(ctx, c, f.ID)
		require.NoError(t, err)
		require.False(t, got.Example)
	})
}

// TestInvitedLinkTermsBindTheUmbrella: an umbrella may take on its invited
// sub-account's costs, never hand them back; a created child's billing is
// the parent's call either way.
func TestInvitedLinkTermsBindTheUmbrella(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, Billing: canopy.BillingSelf})
		require.NoError(t, err)
		_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
		require.NoError(t, err)

		a, err := w.b.Svc.UpdateLink(ctx, w.asUmbrella, w.invitee.ID, service.LinkPatch{Billing: ptr(canopy.BillingParent)})
		require.NoError(t, err, "taking on the costs")
		require.Equal(t, canopy.BillingParent, a.Link.Billing)
		_, err = w.b.Svc.UpdateLink(ctx, w.asUmbrella, w.invitee.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "handing them back")
		_, err = w.b.Svc.UpdateLink(ctx, w.asInvitee, w.invitee.ID, service.LinkPatch{Billing: ptr(canopy.BillingSelf)})
		require.Equal(t, canopy.CodeForbidden, canopy.ErrorCode(err), "nor is it the sub-account's own call")
		a, err = w.b.Svc.GetAccount(ctx, w.asUmbrella, w.invitee.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.BillingParent, a.Link.Billing, "refused changes write nothing")

		kid := w.b.Child(t, w.umbrella.ID)
		for _, billing := range []canopy.Billing{canopy.BillingSelf, canopy.BillingParent} {
			a, err := w.b.Svc.UpdateLink(ctx, w.asUmbrella, kid.ID, service.LinkPatch{Billing: &billing})
			require.NoError(t, err)
			require.Equal(t, billing, a.Link.Billing)
		}
	})
}

// TestFormIsolation is the tenant-isolation matrix for forms: for every
// (account, form) pair where the rules give the account nothing, every
// form and record endpoint answers not-found — the form's existence never
// shows — and no listing or dashboard section holds it.
func TestFormIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newUmbrellaWorld(t, db)
		grandchild := w.b.Child(t, w.client.ID)
		strangerKid := w.b.Child(t, w.bystander.ID)
		everyone := []*canopy.Account{w.b.Root, w.umbrella, w.sub, w.kid, w.client, grandchild, w.bystander, strangerKid}
		w.b.Fund(t, w.b.Root.ID)
		m := newModel(w.b.Root.ID)
		for _, a := range everyone[1:] {
			a, err := w.b.Svc.GetAccount(ctx, w.b.As(t, w.b.Root.ID), a.ID)
			require.NoError(t, err)
			m.parent[a.ID], m.link[a.ID] = a.ParentID, a.Link.AutoShareRole
		}
		type formAt struct {
			form   *service.FormView
			record *canopy.Record
		}
		var forms []formAt
		collectors, links := map[string]string{}, map[string]string{} // by form: one authorised number, one link
		for i, a := range everyone {
			as := w.as(t, a)
			f, err := w.b.Svc.CreateForm(ctx, as, survey)
			require.NoError(t, err)
			if i%2 == 0 {
				_, err = w.b.Svc.SetExample(ctx, as, f.ID, true)
				require.NoError(t, err)
			}
			r, err := w.b.Svc.CreateRecord(ctx, as, f.ID, answers(t, `{"site": "x"}`))
			require.NoError(t, err)
			forms = append(forms, formAt{f, r})
			number := fmt.Sprintf("+1555000%04d", i)
			_, err = w.b.Svc.AddCollectors(ctx, as, f.ID, service.CollectorsInput{Numbers: []string{number}, Mode: canopy.SMSInteractive})
			require.NoError(t, err)
			l, err := w.b.Svc.CreateLink(ctx, as, f.ID, service.LinkInput{})
			require.NoError(t, err)
			collectors[f.ID], links[f.ID] = number, l.ID
			m.forms[f.ID] = &modelForm{id: f.ID, owner: a.ID, example: i%2 == 0}
		}
		notFound := func(err error, what string, v *canopy.Account, f formAt) {
			t.Helper()
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "%s by %s on the form of %s", what, v.Name, f.form.OwnerID)
		}
		hidden := 0
		for _, v := range everyone {
			as := w.as(t, v)
			listed, err := w.b.Svc.ListForms(ctx, as, service.FormQuery{}, service.PageRequest{Limit: service.MaxPageLimit})
			require.NoError(t, err)
			d, err := w.b.Svc.GetDashboard(ctx, as, "", service.PageRequest{Limit: service.MaxPageLimit})
			require.NoError(t, err)
			for _, f := range forms {
				if m.access(v.ID, m.forms[f.form.ID]).Sees() {
					continue
				}
				hidden++
				id, rid := f.form.ID, f.record.ID
				_, err := w.b.Svc.GetForm(ctx, as, id)
				notFound(err, "GetForm", v, f)
				_, err = w.b.Svc.FormAccess(ctx, as, id)
				notFound(err, "FormAccess", v, f)
				_, err = w.b.Svc.UpdateForm(ctx, as, id, service.FormPatch{Name: ptr("x")}, nil)
				notFound(err, "UpdateForm", v, f)
				notFound(w.b.Svc.DeleteForm(ctx, as, id), "DeleteForm", v, f)
				_, err = w.b.Svc.SetExample(ctx, as, id, true)
				notFound(err, "SetExample", v, f)
				_, err = w.b.Svc.CopyForm(ctx, as, id, "")
				notFound(err, "CopyForm", v, f)
				_, err = w.b.Svc.ListShares(ctx, as, id)
				notFound(err, "ListShares", v, f)
				_, err = w.b.Svc.PutShare(ctx, as, id, v.ID, canopy.RoleEditor)
				notFound(err, "PutShare", v, f)
				notFound(w.b.Svc.DeleteShare(ctx, as, id, v.ID), "DeleteShare", v, f)
				_, err = w.b.Svc.CreateRecord(ctx, as, id, answers(t, `{"site": "x"}`))
				notFound(err, "CreateRecord", v, f)
				_, err = w.b.Svc.ListRecords(ctx, as, id, service.RecordQuery{}, service.PageRequest{})
				notFound(err, "ListRecords", v, f)
				_, err = w.b.Svc.GetRecord(ctx, as, id, rid)
				notFound(err, "GetRecord", v, f)
				_, err = w.b.Svc.UpdateRecord(ctx, as, id, rid, answers(t, `{"site": "y"}`), nil)
				notFound(err, "UpdateRecord", v, f)
				notFound(w.b.Svc.DeleteRecord(ctx, as, id, rid), "DeleteRecord", v, f)
				// Collecting from the field: SMS settings, collectors and web links.
				_, err = w.b.Svc.GetSMSSettings(ctx, as, id)
				notFound(err, "GetSMSSettings", v, f)
				_, err = w.b.Svc.UpdateSMSSettings(ctx, as, id, service.SMSSettingsPatch{Code: ptr("ISOLATED")})
				notFound(err, "UpdateSMSSettings", v, f)
				_, err = w.b.Svc.AddCollectors(ctx, as, id, service.CollectorsInput{Numbers: []string{"+15551234567"}, Mode: canopy.SMSStructured})
				notFound(err, "AddCollectors", v, f)
				_, err = w.b.Svc.ListCollectors(ctx, as, id, service.CollectorQuery{}, service.PageRequest{})
				notFound(err, "ListCollectors", v, f)
				notFound(w.b.Svc.DeleteCollector(ctx, as, id, collectors[id]), "DeleteCollector", v, f)
				_, err = w.b.Svc.CreateLink(ctx, as, id, service.LinkInput{})
				notFound(err, "CreateLink", v, f)
				_, err = w.b.Svc.ListLinks(ctx, as, id, service.PageRequest{})
				notFound(err, "ListLinks", v, f)
				notFound(w.b.Svc.RevokeLink(ctx, as, id, links[id]), "RevokeLink", v, f)
				if !m.isAncestor(v.ID, f.form.OwnerID) {
					_, err = w.b.Svc.ExplainAccess(ctx, as, id, v.ID)
					notFound(err, "ExplainAccess", v, f)
				}
				require.NotContains(t, formIDsOf(listed.Data), id, "listing of %s", v.Name)
				for _, sec := range []*service.Section{d.Own, d.SharedWithMe, d.Examples} {
					require.NotContains(t, formIDsOf(sec.Data), id, "dashboard of %s", v.Name)
				}
			}
			// Explaining never reaches into another tree, whoever asks; the
			// owner alone may ask about its own ancestors, which see its form.
			for _, f := range forms {
				if f.form.OwnerID != v.ID && !m.isAncestor(v.ID, f.form.OwnerID) {
					continue
				}
				for _, target := range everyone {
					ownersAncestor := f.form.OwnerID == v.ID && m.isAncestor(target.ID, v.ID)
					if target.ID != v.ID && !m.isAncestor(v.ID, target.ID) && !ownersAncestor {
						_, err := w.b.Svc.ExplainAccess(ctx, as, f.form.ID, target.ID)
						require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "%s explains %s", v.Name, target.Name)
					}
				}
			}
		}
		require.Greater(t, hidden, 30, "the matrix has hidden pairs to test")
		// Nothing above wrote anything.
		for _, f := range forms {
			got, err := w.b.Svc.GetForm(ctx, w.as(t, &canopy.Account{ID: f.form.OwnerID}), f.form.ID)
			require.NoError(t, err)
			require.Equal(t, f.form.Name, got.Name)
			shares, err := w.b.Svc.ListShares(ctx, w.as(t, &canopy.Account{ID: f.form.OwnerID}), f.form.ID)
			require.NoError(t, err)
			require.Empty(t, shares.Data)
			recs, err := w.b.Svc.ListRecords(ctx, w.as(t, &canopy.Account{ID: f.form.OwnerID}), f.form.ID, service.RecordQuery{}, service.PageRequest{})
			require.NoError(t, err)
			require.Len(t, recs.Data, 1)
			owner := w.as(t, &canopy.Account{ID: f.form.OwnerID})
			cols, err := w.b.Svc.ListCollectors(ctx, owner, f.form.ID, service.CollectorQuery{}, service.PageRequest{})
			require.NoError(t, err)
			require.Len(t, cols.Data, 1)
			require.Equal(t, collectors[f.form.ID], cols.Data[0].Number)
			ls, err := w.b.Svc.ListLinks(ctx, owner, f.form.ID, service.PageRequest{})
			require.NoError(t, err)
			require.Len(t, ls.Data, 1)
			require.Equal(t, canopy.LinkOpen, ls.Data[0].State)
			settings, err := w.b.Svc.GetSMSSettings(ctx, owner, f.form.ID)
			require.NoError(t, err)
			require.NotEqual(t, "ISOLATED", *settings.Code)
		}
	})
}

// TestFilteredListingKeepsRowsPastTheMergeBound: a listing merges the
// subtree and explicit shares; when the shares run ahead (an ancestor's
// forms, shared down, sort before the viewer's own) and a filter drops
// them, the viewer's own forms, fetched but not yet merged, must still be
// listed.
func TestFilteredListingKeepsRowsPastTheMergeBound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		ancestor := b.Child(t, b.Root.ID)
		viewer := b.Child(t, ancestor.ID)
		for range 3 {
			f, err := b.Svc.CreateForm(ctx, b.As(t, ancestor.ID), survey)
			require.NoError(t, err)
			_, err = b.Svc.PutShare(ctx, b.As(t, ancestor.ID), f.ID, viewer.ID, canopy.RoleViewer)
			require.NoError(t, err)
		}
		own, err := b.Svc.CreateForm(ctx, b.As(t, viewer.ID), survey)
		require.NoError(t, err)
		for limit := 1; limit <= 4; limit++ {
			page, err := b.Svc.ListForms(ctx, b.As(t, viewer.ID), service.FormQuery{Role: canopy.RoleEditor}, service.PageRequest{Limit: limit})
			require.NoError(t, err)
			require.Equal(t, []string{own.ID}, formIDsOf(page.Data), "limit %d", limit)
		}
	})
}

// TestFormQuotasFollowTheOwnersPlan: an account owns as many forms as its
// plan allows (429 form-quota, with the quota named, for a new form and a
// copy alike), and a definition may take as many bytes as the plan of the
// form's owner allows (422 naming questions) — also when an ancestor on a
// larger plan edits it.
func TestFormQuotasFollowTheOwnersPlan(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		limits := maps.Clone(testfactory.NoLimits)
		limits[canopy.PlanBasic] = canopy.PlanLimits{EmailsPerDay: -1, Forms: 2, FormBytes: 400}
		b := testfactory.New(t, db, testfactory.Options{PlanLimits: limits})
		umbrella := b.ChildOn(t, b.Root.ID, canopy.PlanEnterprise)
		clinic := b.ChildOn(t, umbrella.ID, canopy.PlanBasic)
		asClinic, asUmbrella := b.As(t, clinic.ID), b.As(t, umbrella.ID)

		small := service.FormInput{Name: "Small", Questions: []canopy.Question{{ID: "q", Label: "Q", Type: canopy.QuestionText}}}
		big := make([]canopy.Question, 12)
		for i := range big {
			big[i] = canopy.Question{ID: fmt.Sprintf("q%d", i), Label: strings.Repeat("label ", 5), Type: canopy.QuestionText}
		}
		_, err := b.Svc.CreateForm(ctx, asClinic, service.FormInput{Name: "Big", Questions: big})
		require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(err))
		require.Contains(t, err.Error(), "questions")
		_, err = b.Svc.CreateForm(ctx, asUmbrella, service.FormInput{Name: "Big", Questions: big})
		require.NoError(t, err, "the enterprise plan has no such bound")

		first, err := b.Svc.CreateForm(ctx, asClinic, small)
		require.NoError(t, err)
		_, err = b.Svc.CreateForm(ctx, asClinic, small)
		require.NoError(t, err)
		_, err = b.Svc.CreateForm(ctx, asClinic, small)
		require.Equal(t, canopy.CodeFormQuota, canopy.ErrorCode(err))
		var e *canopy.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, &canopy.Quota{Name: canopy.QuotaForms, Plan: canopy.PlanBasic, Limit: 2, Used: 2}, e.Quota)
		_, err = b.Svc.CopyForm(ctx, asClinic, first.ID, "")
		require.Equal(t, canopy.CodeFormQuota, canopy.ErrorCode(err), "a copy is a new form too")

		// The umbrella edits the clinic's form (as an editor, by a share):
		// the clinic's plan bounds the definition.
		_, err = b.Svc.PutShare(ctx, asClinic, first.ID, umbrella.ID, canopy.RoleEditor)
		require.NoError(t, err)
		_, err = b.Svc.UpdateForm(ctx, asUmbrella, first.ID, service.FormPatch{Questions: &big}, nil)
		require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(err), "the owner's plan, not the editor's")
		f, err := b.Svc.GetForm(ctx, asClinic, first.ID)
		require.NoError(t, err)
		require.Equal(t, 1, f.Version, "nothing was written")
		_, err = b.Svc.UpdateForm(ctx, asUmbrella, first.ID, service.FormPatch{Name: ptr("Renamed by the umbrella")}, nil)
		require.NoError(t, err)
	})
}
