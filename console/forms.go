package console

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// formsPage is how many forms the list shows at once.
const formsPage = 50

// questionTypes are the question types in the order the editor offers
// them, with the words people read.
var questionTypes = []option{
	{string(canopy.QuestionText), "Text"},
	{string(canopy.QuestionNumber), "Number"},
	{string(canopy.QuestionChoice), "One choice"},
	{string(canopy.QuestionMultiChoice), "Several choices"},
	{string(canopy.QuestionDate), "Date"},
	{string(canopy.QuestionLocation), "Location"},
	{string(canopy.QuestionPhoto), "Photo"},
}

// typeName is a question type as people read it.
func typeName(t canopy.QuestionType) string {
	for _, o := range questionTypes {
		if o.Value == string(t) {
			return o.Label
		}
	}
	return string(t)
}

type formsData struct {
	Page service.Page[*service.FormView]
	// Rows are the page's forms as the table writes them (written here:
	// each template call is a reflective one).
	Rows []formRow
	// Owners names the owners of the listed forms the person may know.
	Owners map[string]string
	// Scope is which forms are listed: all, own, shared or subtree.
	Scope string
	// Subtrees are the sub-accounts whose subtree's forms may be listed.
	Subtrees []option
	Query    url.Values
}

// forms lists the forms the acting account can see in tree order (the
// owner's place in the tree), with the API's filters: whose forms (its
// own, shared with it, a sub-account's subtree), the least role, examples.
func (h *Handler) forms(rq *request) error {
	ctx := rq.r.Context()
	q := rq.r.URL.Query()
	d := formsData{Scope: q.Get("scope"), Query: kept(q, "scope", "subtree", "role", "example")}
	pr := service.PageRequest{Limit: formsPage, Cursor: q.Get("cursor")}
	var err error
	switch d.Scope {
	case "shared":
		// The dashboard's section: every form of another account it sees.
		var dash *service.Dashboard
		if dash, err = h.svc.GetDashboard(ctx, rq.caller, "sharedWithMe", pr); err == nil && dash.SharedWithMe != nil {
			d.Page = service.Page[*service.FormView]{Data: dash.SharedWithMe.Data, NextCursor: dash.SharedWithMe.NextCursor}
		}
	default:
		fq := service.FormQuery{Role: canopy.Role(q.Get("role"))}
		switch q.Get("example") {
		case "yes":
			fq.Example = ptrTo(true)
		case "no":
			fq.Example = ptrTo(false)
		}
		switch d.Scope {
		case "own":
			fq.Owner = rq.caller.Acting.ID
		case "subtree":
			fq.OwnerSubtree = q.Get("subtree")
		default:
			d.Scope = ""
		}
		d.Page, err = h.svc.ListForms(ctx, rq.caller, fq, pr)
	}
	if err != nil {
		if canopy.ErrorKind(err) == canopy.KindBadRequest {
			// A filter or cursor that is no longer right: start over.
			h.flash(rq.w, peopleText(err), true)
			http.Redirect(rq.w, rq.r, canopy.ConsolePage(rq.caller.Acting.ID, "forms"), http.StatusSeeOther)
			return nil
		}
		return err
	}
	children, err := h.svc.ListChildren(ctx, rq.caller, rq.caller.Acting.ID, service.PageRequest{Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	for _, c := range children.Data {
		d.Subtrees = append(d.Subtrees, option{c.ID, c.Name})
	}
	owners := make([]string, 0, len(d.Page.Data))
	for _, f := range d.Page.Data {
		owners = append(owners, f.OwnerID)
	}
	if d.Owners, err = h.svc.AccountNames(ctx, rq.caller, owners); err != nil {
		return err
	}
	for _, fv := range d.Page.Data {
		r := formRow{FormView: fv, Link: canopy.ConsolePage(rq.caller.Acting.ID, "forms", fv.ID), OwnerName: "this account",
			QuestionCount: len(fv.Questions), RoleText: "example (read-only)"}
		if fv.OwnerID != rq.caller.Acting.ID {
			r.OwnerName = cmp.Or(d.Owners[fv.OwnerID], fv.OwnerID)
		}
		if !fv.ExampleOnly {
			r.RoleText = roleName(fv.Role)
		}
		d.Rows = append(d.Rows, r)
	}
	f := newForm(q)
	return h.page(rq, http.StatusOK, "forms", "forms", "Forms", f, d)
}

// formRow is a form as the forms table writes it: its page, its owner's
// name ("this account" for the acting one's), how many questions, and
// the acting account's role.
type formRow struct {
	*service.FormView
	Link, OwnerName, RoleText string
	QuestionCount             int
}

func ptrTo[T any](v T) *T { return &v }

// formHead is what every tab of a form's page shows: the form, what the
// person may do with it, its owner's name and the tab on display.
type formHead struct {
	Form   *service.FormView
	Rights service.FormRights
	Owner  string
	Tab    string
}

// head loads a form's head for the tab.
func (h *Handler) head(rq *request, formID, tab string) (formHead, error) {
	v, err := h.svc.GetForm(rq.r.Context(), rq.caller, formID)
	if err != nil {
		return formHead{}, err
	}
	return h.headOf(rq, v, tab)
}

func (h *Handler) headOf(rq *request, v *service.FormView, tab string) (formHead, error) {
	if a := rq.me.ActingAccount; a != nil && a.ID == v.OwnerID {
		// The acting account's own form: its name is at hand, no read.
		return formHead{Form: v, Rights: rq.caller.RightsOn(v), Owner: a.Name, Tab: tab}, nil
	}
	names, err := h.svc.AccountNames(rq.r.Context(), rq.caller, []string{v.OwnerID})
	if err != nil {
		return formHead{}, err
	}
	return formHead{Form: v, Rights: rq.caller.RightsOn(v), Owner: names[v.OwnerID], Tab: tab}, nil
}

// formData is a form's questions tab, or the editor of a new form (Head's
// Form nil).
type formData struct {
	Head formHead
	// Rows numbers the questions the editor shows.
	Rows []int
	// Types are the question types the editor offers.
	Types []option
	// Unsaved says the editor holds changes not saved yet.
	Unsaved bool
}

// newFormPage is the editor of a new form, with one blank question.
func (h *Handler) newFormPage(rq *request) error {
	f := newForm(url.Values{"questions.rows": {"1"}, "questions[0].id": {"q1"}, "questions[0].type": {string(canopy.QuestionText)}})
	return h.showEditor(rq, http.StatusOK, nil, f, false)
}

// showEditor renders the questions tab of v (the new-form editor when v
// is nil) with f.
func (h *Handler) showEditor(rq *request, status int, v *service.FormView, f *form, unsaved bool) error {
	d := formData{Rows: rows(questionRows(f.Values)), Types: questionTypes, Unsaved: unsaved}
	title := "New form"
	if v != nil {
		var err error
		if d.Head, err = h.headOf(rq, v, "questions"); err != nil {
			return err
		}
		title = v.Name
	}
	return h.page(rq, status, "form", "forms", title, f, d)
}

// questionRows is how many questions the editor shows and reads: what the
// form says, within what a form may hold.
func questionRows(v url.Values) int {
	return min(max(atoiOr(v.Get("questions.rows"), 0), 0), canopy.MaxQuestions)
}

// definitionValues fills the editor with a form's definition.
func definitionValues(fv *service.FormView) url.Values {
	v := url.Values{"name": {fv.Name}, "description": {fv.Description}, "version": {strconv.Itoa(fv.Version)}}
	setQuestions(v, fv.Questions)
	return v
}

// setQuestions writes questions into the editor's inputs.
func setQuestions(v url.Values, qs []canopy.Question) {
	v.Set("questions.rows", strconv.Itoa(len(qs)))
	for i, q := range qs {
		p := fmt.Sprintf("questions[%d]", i)
		v.Set(p+".id", q.ID)
		v.Set(p+".label", q.Label)
		v.Set(p+".type", string(q.Type))
		v.Set(p+".options", strings.Join(q.Options, "\n"))
		v.Set(p+".required", boolValue(q.Required))
	}
}

// readQuestions reads the editor's questions, as typed: the service says
// what is wrong with them. Options are one per line.
func readQuestions(v url.Values) []canopy.Question {
	out := []canopy.Question{}
	for i := range questionRows(v) {
		p := fmt.Sprintf("questions[%d]", i)
		q := canopy.Question{ID: strings.TrimSpace(v.Get(p + ".id")), Label: v.Get(p + ".label"),
			Type: canopy.QuestionType(v.Get(p + ".type")), Required: checked(v, p+".required")}
		for _, o := range strings.Split(v.Get(p+".options"), "\n") {
			if o = strings.TrimSpace(o); o != "" {
				q.Options = append(q.Options, o)
			}
		}
		out = append(out, q)
	}
	return out
}

// rearrange applies an editor button that changes the questions without
// saving them — add, remove, move up or down — and reports whether the
// request was one.
func rearrange(v url.Values) bool {
	n := questionRows(v)
	qs := readQuestions(v)
	switch {
	case v.Get("add") == "question":
		if n >= canopy.MaxQuestions {
			return true
		}
		qs = append(qs, canopy.Question{ID: nextQuestionID(qs), Type: canopy.QuestionText})
	case v.Has("remove"):
		i := atoiOr(v.Get("remove"), -1)
		if i < 0 || i >= n {
			return true
		}
		qs = slices.Delete(qs, i, i+1)
	case v.Has("move"):
		dir, at, _ := strings.Cut(v.Get("move"), ":")
		i := atoiOr(at, -1)
		j := i - 1
		if dir == "down" {
			j = i + 1
		}
		if i < 0 || i >= n || j < 0 || j >= n {
			return true
		}
		qs[i], qs[j] = qs[j], qs[i]
	default:
		return false
	}
	for k := range v {
		if strings.HasPrefix(k, "questions[") {
			v.Del(k)
		}
	}
	v.Del("add")
	v.Del("remove")
	v.Del("move")
	setQuestions(v, qs)
	return true
}

// nextQuestionID suggests an id for a new question: q1, q2 … the first
// not taken. The person may change it; answers are keyed by it.
func nextQuestionID(qs []canopy.Question) string {
	for n := len(qs) + 1; ; n++ {
		id := "q" + strconv.Itoa(n)
		if !slices.ContainsFunc(qs, func(q canopy.Question) bool { return q.ID == id }) {
			return id
		}
	}
}

// createForm makes a form owned by the acting account, or applies an
// editor button and shows the editor again unsaved.
func (h *Handler) createForm(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	if rearrange(f.Values) {
		return h.showEditor(rq, http.StatusOK, nil, f, true)
	}
	v, err := h.svc.CreateForm(rq.r.Context(), rq.caller, service.FormInput{
		Name: f.Values.Get("name"), Description: f.Values.Get("description"), Questions: readQuestions(f.Values),
	})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showEditor(rq, formStatus(err), nil, f, true)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", v.ID), "“"+v.Name+"” is created.")
}

// formPage shows a form's questions: in the editor for those who may edit
// them (rule 6 (docs/rules.md)), else as a list.
func (h *Handler) formPage(rq *request) error {
	v, err := h.svc.GetForm(rq.r.Context(), rq.caller, rq.r.PathValue("formId"))
	if err != nil {
		return err
	}
	return h.showEditor(rq, http.StatusOK, v, newForm(definitionValues(v)), false)
}

// saveForm saves the edited definition, or applies an editor button. The
// version the editor was opened at must still be the form's, or nobody's
// change is lost to another's (412, shown with the form as it is now).
func (h *Handler) saveForm(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	ctx := rq.r.Context()
	id := rq.r.PathValue("formId")
	cur, err := h.svc.GetForm(ctx, rq.caller, id)
	if err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	if rearrange(f.Values) {
		return h.showEditor(rq, http.StatusOK, cur, f, true)
	}
	name, description, questions := f.Values.Get("name"), f.Values.Get("description"), readQuestions(f.Values)
	var ifMatch *int
	if n, err := strconv.Atoi(f.Values.Get("version")); err == nil {
		ifMatch = &n
	}
	v, err := h.svc.UpdateForm(ctx, rq.caller, id, service.FormPatch{Name: &name, Description: &description, Questions: &questions}, ifMatch)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		if canopy.ErrorKind(err) == canopy.KindPreconditionFailed {
			// Show what is saved now; what the person typed is lost only
			// from the page, and the message says so.
			f = newForm(definitionValues(cur))
			f.General = "Someone saved this form while you were editing it. This is the form as it is now: make your changes again."
		}
		return h.showEditor(rq, formStatus(err), cur, f, true)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", v.ID), "The questions are saved.")
}

// setExample tags or untags a form as an example for the accounts below
// (rule 7 (docs/rules.md)).
func (h *Handler) setExample(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	on := checked(rq.r.PostForm, "example")
	id := rq.r.PathValue("formId")
	_, err := h.svc.SetExample(rq.r.Context(), rq.caller, id, on)
	msg := "The form is no longer an example."
	if on {
		msg = "The form is an example now: every account below this one sees it, read-only, and may copy it."
	}
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", id), msg, err)
}

// deleteForm deletes a form with its records and shares.
func (h *Handler) deleteForm(rq *request) error {
	err := h.svc.DeleteForm(rq.r.Context(), rq.caller, rq.r.PathValue("formId"))
	if err != nil {
		return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", rq.r.PathValue("formId")), "", err)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms"), "The form is deleted, with its records.")
}
