package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// surveyQuestions are a form with one question of every type.
var surveyQuestions = []canopy.Question{
	{ID: "name", Label: "Name", Type: canopy.QuestionText, Required: true},
	{ID: "age", Label: "Age", Type: canopy.QuestionNumber},
	{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"F", "M"}},
	{ID: "symptoms", Label: "Symptoms", Type: canopy.QuestionMultiChoice, Options: []string{"fever", "cough"}},
	{ID: "seen", Label: "Seen on", Type: canopy.QuestionDate},
	{ID: "where", Label: "Where", Type: canopy.QuestionLocation},
	{ID: "photo", Label: "Photo", Type: canopy.QuestionPhoto},
}

// survey makes a form of every question type owned by account, funds its
// payer and collects records with the answers given (JSON objects).
func (s *site) survey(t testing.TB, account string, answers ...string) (*service.FormView, []*canopy.Record) {
	t.Helper()
	ctx := context.Background()
	f, err := s.Svc.CreateForm(ctx, s.As(t, account), service.FormInput{Name: "Clinic survey", Questions: surveyQuestions})
	require.NoError(t, err)
	var recs []*canopy.Record
	for _, a := range answers {
		var in service.RecordInput
		require.NoError(t, json.Unmarshal([]byte(a), &in.Answers))
		r, err := s.Svc.CreateRecord(ctx, s.As(t, account), f.ID, in)
		require.NoError(t, err)
		recs = append(recs, r)
	}
	return f, recs
}

// TestQuestionEditorBuildsAFormOfEveryType: the new-form editor adds,
// moves and removes questions without saving; the service's errors land on
// the question the person typed; Save creates the form with its questions
// in the order shown; editing it later needs the version it was opened at.
func TestQuestionEditorBuildsAFormOfEveryType(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	admin := s.as(t, s.admin)
	u := s.umbrella.ID
	blank := admin.get(app(u, "forms", "new"))
	require.Equal(t, http.StatusOK, blank.Status)
	require.Contains(t, blank.Body, `name="questions[0].label"`)

	form := url.Values{"name": {"Visits"}, "questions.rows": {"1"},
		"questions[0].label": {"Name"}, "questions[0].id": {"name"}, "questions[0].type": {"text"}, "questions[0].required": {"true"}}
	form.Set("add", "question")
	more := admin.post(app(u, "forms"), form)
	require.Equal(t, http.StatusOK, more.Status, "adding a question saves nothing")
	require.Contains(t, more.Body, "Not saved yet")
	require.Contains(t, more.Body, `name="questions[1].id" value="q2"`, "a fresh key")
	require.Regexp(t, `name="questions\[0\].required" value="true" checked`, more.Body)

	form = url.Values{"name": {"Visits"}, "questions.rows": {"3"},
		"questions[0].label": {"Name"}, "questions[0].id": {"name"}, "questions[0].type": {"text"},
		"questions[1].label": {"Sex"}, "questions[1].id": {"sex"}, "questions[1].type": {"choice"}, "questions[1].options": {"F\r\nM\r\n"},
		"questions[2].label": {"Symptoms"}, "questions[2].id": {"2bad"}, "questions[2].type": {"multiChoice"}, "questions[2].options": {""},
		"move": {"up:2"}}
	moved := admin.post(app(u, "forms"), form)
	require.Equal(t, http.StatusOK, moved.Status)
	require.Regexp(t, `(?s)name="questions\[1\].label" value="Symptoms".*name="questions\[2\].label" value="Sex"`, moved.Body, "moved up, unsaved")

	form.Del("move")
	bad := admin.post(app(u, "forms"), form)
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="questions\[2\].id" value="2bad"[^>]*aria-invalid="true"`, bad.Body, "the key's error is on the question typed")
	require.Regexp(t, `name="questions\[2\].options"[^>]*aria-invalid="true"`, bad.Body, "a choice without options")
	list, err := s.Svc.ListForms(context.Background(), s.As(t, u), service.FormQuery{}, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, list.Data, "nothing is created while anything is wrong")

	form.Set("questions[2].id", "symptoms")
	form.Set("questions[2].options", "fever\ncough")
	form.Set("remove", "0")
	removed := admin.post(app(u, "forms"), form)
	require.Equal(t, http.StatusOK, removed.Status)
	require.NotContains(t, removed.Body, `value="Name"`)
	form.Del("remove")
	done := admin.post(app(u, "forms"), form)
	require.Equal(t, http.StatusSeeOther, done.Status, done.Body)
	require.Contains(t, admin.follow(done).Body, "“Visits” is created.")
	list, err = s.Svc.ListForms(context.Background(), s.As(t, u), service.FormQuery{}, service.PageRequest{})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	f := list.Data[0]
	require.Equal(t, []canopy.Question{
		{ID: "name", Label: "Name", Type: canopy.QuestionText},
		{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"F", "M"}},
		{ID: "symptoms", Label: "Symptoms", Type: canopy.QuestionMultiChoice, Options: []string{"fever", "cough"}},
	}, f.Questions)

	// Editing: the page holds the version it was opened at.
	page := admin.get(app(u, "forms", f.ID))
	require.Contains(t, page.Body, `name="version" value="1"`)
	edit := definitionValues(f)
	edit.Set("questions[0].required", "true")
	require.Equal(t, http.StatusSeeOther, admin.post(app(u, "forms", f.ID), edit).Status)
	stale := admin.post(app(u, "forms", f.ID), edit)
	require.Equal(t, http.StatusPreconditionFailed, stale.Status, "the same page sent again, after its own save")
	require.Contains(t, stale.Body, "Someone saved this form while you were editing it")
	require.Contains(t, stale.Body, `name="version" value="2"`)
}

// TestFormActionsFollowTheRole is rule 6 (docs/rules.md) on the form's
// page: each button is offered only to whom the service would allow it,
// and refused by the service if forced.
func TestFormActionsFollowTheRole(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	child := s.Child(t, u)
	s.Fund(t, u, child.ID)
	f, _ := s.survey(t, child.ID)
	_, err := s.Svc.PutShare(ctx, s.As(t, child.ID), f.ID, u, canopy.RoleViewer)
	require.NoError(t, err)
	member := s.as(t, s.User(t, child.ID, canopy.UserMember).Email)
	cases := []struct {
		name      string
		who       *visitor
		account   string
		offered   []string
		withdrawn []string
	}{
		{"the owner's admin", s.as(t, child.Email), child.ID,
			[]string{`name="questions[0].label"`, "/records", "/sharing", "/copy", "/example", "/delete"}, nil},
		{"the owner's member edits questions and data, reads the audience, shares nothing", member, child.ID,
			[]string{`name="questions[0].label"`, "/records", "/copy", "/sharing"}, []string{"/example", "/delete"}},
		{"a viewer above reads", s.as(t, s.admin), u,
			[]string{"/records", "/copy"}, []string{`name="questions[0].label"`, "/example", "/delete", "/sharing"}},
	}
	for _, c := range cases {
		p := c.who.get(app(c.account, "forms", f.ID))
		require.Equal(t, http.StatusOK, p.Status, c.name)
		for _, x := range c.offered {
			require.Contains(t, p.Body, x, c.name)
		}
		for _, x := range c.withdrawn {
			require.NotContains(t, p.Body, x, c.name)
		}
	}
	viewer := s.as(t, s.admin)
	require.NotContains(t, viewer.get(app(u, "forms", f.ID, "records")).Body, "Add a record")
	forced := []struct {
		path string
		want int
	}{
		{app(u, "forms", f.ID), http.StatusForbidden},
		{app(u, "forms", f.ID, "records"), http.StatusForbidden},
	}
	for _, c := range forced {
		p := viewer.post(c.path, url.Values{"name": {"Hijacked"}, "questions.rows": {"0"}, "answers.name": {"x"}})
		require.Equal(t, c.want, p.Status, c.path)
	}
	require.Contains(t, viewer.follow(viewer.post(app(u, "forms", f.ID, "delete"), nil)).Body, "does not allow")
	got, err := s.Svc.GetForm(ctx, s.As(t, child.ID), f.ID)
	require.NoError(t, err)
	require.Equal(t, "Clinic survey", got.Name, "nothing was changed")
	recs, err := s.Svc.SearchRecords(ctx, s.As(t, child.ID), f.ID, service.RecordSearch{}, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, recs.Data)

	// The owner's admin deletes it; then it is gone for everyone.
	owner := s.as(t, child.Email)
	require.Contains(t, owner.follow(owner.post(app(child.ID, "forms", f.ID, "delete"), nil)).Body, "The form is deleted")
	require.Equal(t, http.StatusNotFound, viewer.get(app(u, "forms", f.ID)).Status)
}

// TestRecordsTableFiltersAndEdits: the data tab lists the newest first and
// filters by a choice, an option of several and dates; a record is added
// with its errors beside the answers that caused them, edited (an emptied
// answer is removed) and deleted.
func TestRecordsTableFiltersAndEdits(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	s.Fund(t, u)
	admin := s.as(t, s.admin)
	f, recs := s.survey(t, u,
		`{"name": "Ada", "sex": "F", "symptoms": ["fever"], "seen": "2026-11-01"}`,
		`{"name": "Bo", "sex": "M", "symptoms": ["fever", "cough"], "seen": "2026-11-15", "age": 41.5}`,
		`{"name": "Cy", "sex": "F", "symptoms": ["cough"], "where": {"lat": 51.5, "lng": -0.12}}`,
	)
	table := admin.get(app(u, "forms", f.ID, "records"))
	require.Equal(t, http.StatusOK, table.Status)
	require.Regexp(t, `(?s)Cy.*Bo.*Ada`, table.Body, "newest first")
	require.Contains(t, table.Body, "<td>fever, cough</td>")
	require.Contains(t, table.Body, "<td>51.5, -0.12</td>")
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"filter.sex=F", []string{"Cy", "Ada"}},
		{"filter.symptoms=cough", []string{"Cy", "Bo"}},
		{"filter.seen.from=2026-11-10", []string{"Bo"}},
		{"filter.sex=F&filter.symptoms=fever", []string{"Ada"}},
	} {
		p := admin.get(app(u, "forms", f.ID, "records") + "?" + c.query)
		require.Equal(t, http.StatusOK, p.Status, c.query)
		require.Equal(t, c.want, namesIn(p.Body), c.query)
		require.Contains(t, p.Body, "records.csv?"+strings.ReplaceAll(url.Values(mustQuery(c.query)).Encode(), "&", "&amp;"), "the export keeps the filters")
	}
	bad := admin.get(app(u, "forms", f.ID, "records") + "?filter.sex=X")
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Regexp(t, `name="filter.sex"[^>]*aria-invalid="true"`, bad.Body)

	add := admin.post(app(u, "forms", f.ID, "records"), url.Values{"answers.name": {""}, "answers.age": {"old"}, "answers.seen": {"yesterday"}})
	require.Equal(t, http.StatusUnprocessableEntity, add.Status)
	for _, name := range []string{"answers.name", "answers.age", "answers.seen"} {
		require.Regexp(t, `name="`+regexp.QuoteMeta(name)+`"[^>]*aria-invalid="true"`, add.Body, name)
	}
	require.Contains(t, add.Body, `value="old"`, "what was typed stays")
	added := admin.post(app(u, "forms", f.ID, "records"), url.Values{"answers.name": {"Di"}, "answers.age": {"7"},
		"answers.symptoms": {"fever", "cough"}, "answers.where.lat": {"1.5"}, "answers.where.lng": {"2"}})
	require.Equal(t, http.StatusSeeOther, added.Status, added.Body)
	page, err := s.Svc.SearchRecords(ctx, s.As(t, u), f.ID, service.RecordSearch{}, service.PageRequest{Limit: 1})
	require.NoError(t, err)
	di := page.Data[0]
	require.JSONEq(t, `{"name": "Di", "age": 7, "symptoms": ["fever", "cough"], "where": {"lat": 1.5, "lng": 2}}`, mustJSON(di.Answers))

	edit := admin.get(app(u, "forms", f.ID, "records", recs[1].ID))
	require.Contains(t, edit.Body, `value="41.5"`)
	require.Regexp(t, `value="cough" checked`, edit.Body)
	form := url.Values{"version": {"1"}, "answers.name": {"Bo"}, "answers.sex": {"M"}, "answers.symptoms": {"cough"}, "answers.seen": {""}, "answers.age": {"42"}}
	require.Equal(t, http.StatusSeeOther, admin.post(app(u, "forms", f.ID, "records", recs[1].ID), form).Status)
	got, err := s.Svc.GetRecord(ctx, s.As(t, u), f.ID, recs[1].ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "Bo", "sex": "M", "symptoms": ["cough"], "age": 42}`, mustJSON(got.Answers), "the emptied date is removed")
	stale := admin.post(app(u, "forms", f.ID, "records", recs[1].ID), form)
	require.Equal(t, http.StatusPreconditionFailed, stale.Status)

	gone := admin.follow(admin.post(app(u, "forms", f.ID, "records", recs[0].ID, "delete"), nil))
	require.Contains(t, gone.Body, "The record is deleted.")
	require.Equal(t, http.StatusNotFound, admin.get(app(u, "forms", f.ID, "records", recs[0].ID)).Status)
}

// TestExportCSVStreamsEveryPage: more records than one page of the
// service holds, in one file with a header row and the answers in question
// order; commas, quotes and newlines come back as they were written, and
// text that a spreadsheet would run as a formula does not.
func TestExportCSVStreamsEveryPage(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	u := s.umbrella.ID
	s.Fund(t, u)
	answers := []string{`{"name": "Comma, \"quote\"\nand a newline", "age": -3, "symptoms": ["fever", "cough"]}`, `{"name": "=1+2"}`}
	for i := range 2*service.MaxPageLimit + 10 {
		answers = append(answers, fmt.Sprintf(`{"name": "Person %d"}`, i))
	}
	f, recs := s.survey(t, u, answers...)
	admin := s.as(t, s.admin)
	res, err := admin.client.Get(s.srv.URL + app(u, "forms", f.ID, "records.csv"))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.Contains(t, res.Header.Get("Content-Disposition"), `filename="Clinic-survey.csv"`)
	rows, err := csv.NewReader(res.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(recs))
	require.Equal(t, []string{"Record", "Collected (UTC)", "Collected by account", "Name", "Age", "Sex", "Symptoms", "Seen on", "Where", "Photo"}, rows[0])
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[r[0]] = r
	}
	require.Len(t, byID, len(recs), "every record once")
	require.Equal(t, []string{"Comma, \"quote\"\nand a newline", "-3", "", "fever, cough"}, byID[recs[0].ID][3:7])
	require.Equal(t, "'=1+2", byID[recs[1].ID][3])

	filtered, err := admin.client.Get(s.srv.URL + app(u, "forms", f.ID, "records.csv") + "?filter.symptoms=cough")
	require.NoError(t, err)
	defer filtered.Body.Close()
	b, err := io.ReadAll(filtered.Body)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(b), "\n")-strings.Count(string(b), "\nand a newline"), "the header and the one record with a cough")
}

// namesIn reads the Name column of a records table, in order.
func namesIn(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td>(Ada|Bo|Cy|Di)</td>`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func mustQuery(q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	return v
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
