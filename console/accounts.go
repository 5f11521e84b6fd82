package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// subAccountsPage is how many children the tree lists per account at once.
const subAccountsPage = 25

type subAccountsData struct {
	// Under is the account whose children are listed, Trail the accounts
	// from the acting one down to it.
	Under    *canopy.Account
	Trail    []*canopy.Account
	Children service.Page[*canopy.Account]
}

// subAccounts shows the tree below the acting account one level at a
// time (?under= opens a deeper account; htmx expands rows in place), with
// each account's origin, terms and status.
func (h *Handler) subAccounts(rq *request) error {
	under := rq.r.URL.Query().Get("under")
	if under == "" {
		under = rq.caller.Acting.ID
	}
	d, err := h.children(rq, under)
	if err != nil {
		return err
	}
	if under != rq.caller.Acting.ID {
		anc, err := h.svc.ListAncestors(rq.r.Context(), rq.caller, under)
		if err != nil {
			return err
		}
		d.Trail = anc.Data
	}
	return h.page(rq, http.StatusOK, "accounts", "accounts", "Sub-accounts", nil, d)
}

func (h *Handler) children(rq *request, under string) (subAccountsData, error) {
	ctx := rq.r.Context()
	acc, err := h.svc.GetAccount(ctx, rq.caller, under)
	if err != nil {
		return subAccountsData{}, err
	}
	page, err := h.svc.ListChildren(ctx, rq.caller, under, service.PageRequest{Limit: subAccountsPage, Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		return subAccountsData{}, err
	}
	return subAccountsData{Under: acc, Children: page}, nil
}

// subAccountChildren is one account's children as a fragment of the tree,
// for htmx to expand a row (or, without script, as a page).
func (h *Handler) subAccountChildren(rq *request) error {
	d, err := h.children(rq, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.page(rq, http.StatusOK, "accounts", "accounts", "Sub-accounts of "+d.Under.Name, nil, d)
}

type subAccountData struct {
	Account *canopy.Account
	// Child is true when the account is a direct child of the acting one,
	// whose link terms the acting account may edit.
	Child bool
	// Self is true when it is the acting account itself.
	Self bool
	// MayAct says whether the person may act as the account (rule 2
	// (docs/rules.md), as service.Act decides it), to offer the link.
	MayAct bool
}

// subAccount shows one account below the acting one, with what may be
// done to it: edit, suspend or reactivate, close, release, link terms.
func (h *Handler) subAccount(rq *request) error {
	return h.showSubAccount(rq, http.StatusOK, rq.r.PathValue("id"), nil)
}

func (h *Handler) showSubAccount(rq *request, status int, id string, f *form) error {
	a, err := h.svc.GetAccount(rq.r.Context(), rq.caller, id)
	if err != nil {
		return err
	}
	if f == nil {
		f = newForm(url.Values{"name": {a.Name}, "email": {a.Email}, "plan": {string(a.Plan)}, "children": {""}})
		if a.Link != nil {
			f.Values.Set("autoShareRole", string(a.Link.AutoShareRole))
			f.Values.Set("billing", string(a.Link.Billing))
		}
	}
	d := subAccountData{Account: a, Child: a.ParentID == rq.caller.Acting.ID, Self: a.ID == rq.caller.Acting.ID}
	if a.Status != canopy.StatusClosed {
		_, err := h.svc.Act(rq.r.Context(), rq.caller.Principal, a.ID)
		d.MayAct = err == nil
	}
	return h.page(rq, status, "account", "accounts", a.Name, f, d)
}

// updateSubAccount changes an account's name, email and (for an account
// below the acting one) plan.
func (h *Handler) updateSubAccount(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	id := rq.r.PathValue("id")
	name, email := f.Values.Get("name"), f.Values.Get("email")
	p := service.AccountPatch{Name: &name, Email: &email}
	if f.Values.Has("plan") {
		plan := canopy.Plan(f.Values.Get("plan"))
		p.Plan = &plan
	}
	a, err := h.svc.UpdateAccount(rq.r.Context(), rq.caller, id, p)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showSubAccount(rq, formStatus(err), id, f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "accounts", a.ID), "Saved "+a.Name+".")
}

// accountAction runs one of an account's buttons and returns to it.
func (h *Handler) accountAction(rq *request, done string, act func(id string) (*canopy.Account, error)) error {
	id := rq.r.PathValue("id")
	_, err := act(id)
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "accounts", url.PathEscape(id)), done, err)
}

func (h *Handler) suspend(rq *request) error {
	return h.accountAction(rq, "The account is suspended: no writes in it or below it until it is reactivated.", func(id string) (*canopy.Account, error) {
		return h.svc.SetStatus(rq.r.Context(), rq.caller, id, canopy.StatusSuspended)
	})
}

func (h *Handler) reactivate(rq *request) error {
	return h.accountAction(rq, "The account is active again.", func(id string) (*canopy.Account, error) {
		return h.svc.SetStatus(rq.r.Context(), rq.caller, id, canopy.StatusActive)
	})
}

// closeAccount closes an account; the person says what becomes of its
// children (the service refuses a close that leaves that open).
func (h *Handler) closeAccount(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	return h.accountAction(rq, "The account is closed.", func(id string) (*canopy.Account, error) {
		return h.svc.CloseAccount(rq.r.Context(), rq.caller, id, rq.r.PostForm.Get("children"))
	})
}

// release ends an invited sub-account's link to its umbrella.
func (h *Handler) release(rq *request) error {
	id := rq.r.PathValue("id")
	_, err := h.svc.LeaveUmbrella(rq.r.Context(), rq.caller, id)
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "accounts"),
		"The sub-account was released: it pays for itself again and shares nothing with you through the link.", err)
}

// updateLink changes what a child shares upward and who pays for it.
func (h *Handler) updateLink(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	role, billing := canopy.Role(rq.r.PostForm.Get("autoShareRole")), canopy.Billing(rq.r.PostForm.Get("billing"))
	return h.accountAction(rq, "The link's terms are saved.", func(id string) (*canopy.Account, error) {
		return h.svc.UpdateLink(rq.r.Context(), rq.caller, id, service.LinkPatch{AutoShareRole: &role, Billing: &billing})
	})
}

// childData is the create-child form: how many user and external
// reference rows it shows.
type childData struct {
	Users, Refs []int
}

func rows(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// newChild is the blank create-child form.
func (h *Handler) newChild(rq *request) error {
	f := newForm(url.Values{"users.rows": {"1"}, "refs.rows": {"1"}})
	return h.showChildForm(rq, http.StatusOK, f)
}

func (h *Handler) showChildForm(rq *request, status int, f *form) error {
	return h.page(rq, status, "account-new", "accounts", "Create a child account", f,
		childData{Users: rows(userRows(f.Values)), Refs: rows(refRows(f.Values))})
}

// userRows and refRows are how many rows of users and external references
// the form shows (and is read from): at least one, at most what one create
// may hold, whatever the request says.
func userRows(v url.Values) int {
	return min(max(atoiOr(v.Get("users.rows"), 1), 1), service.MaxUsersPerCreate)
}

func refRows(v url.Values) int {
	return min(max(atoiOr(v.Get("refs.rows"), 1), 1), canopy.MaxExternalRefs)
}

// createChild creates a child with the whole create body (rule 3
// (docs/rules.md)): the account, its master user, further users,
// workflows, configurations and external references, in one call. The
// "add a row" buttons show the form again with one more row, without
// saving.
func (h *Handler) createChild(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	switch f.Values.Get("add") {
	case "user":
		f.Values.Set("users.rows", strconv.Itoa(userRows(f.Values)+1))
		return h.showChildForm(rq, http.StatusOK, f)
	case "ref":
		f.Values.Set("refs.rows", strconv.Itoa(refRows(f.Values)+1))
		return h.showChildForm(rq, http.StatusOK, f)
	}
	in, renumber := readChild(f)
	var err error
	if !f.Failed() {
		var res *service.CreateChildResult
		res, err = h.svc.CreateChild(rq.r.Context(), rq.caller, in)
		if err == nil {
			msg := res.Account.Name + " is created."
			if len(res.Users) > 0 {
				msg += " A welcome email with a link to set a password is on its way to " + res.Users[0].Email + "."
			}
			return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "accounts", res.Account.ID), msg)
		}
		if !f.fail(err) {
			return err
		}
		renumber(f)
	}
	return h.showChildForm(rq, formStatus(err), f)
}

// readChild reads the create-child form into the service's input. Blank
// user and reference rows are left out; renumber moves the service's
// field errors (users[0] of what was sent) onto the rows the person sees.
func readChild(f *form) (service.CreateChildInput, func(*form)) {
	v := f.Values
	in := service.CreateChildInput{Account: service.AccountInput{
		Name: v.Get("account.name"), Email: v.Get("account.email"), Plan: canopy.Plan(v.Get("account.plan")),
	}}
	if md := strings.TrimSpace(v.Get("account.metadata")); md != "" {
		if err := json.Unmarshal([]byte(md), &in.Account.Metadata); err != nil {
			f.addError("account.metadata", `must be a JSON object of strings, such as {"region": "eu"}`)
		}
	}
	if m := (service.MasterUserInput{Email: v.Get("masterUser.email"), Username: v.Get("masterUser.username"), Name: v.Get("masterUser.name")}); m != (service.MasterUserInput{}) {
		in.MasterUser = &m
	}
	moves := map[string]string{}
	for i := range userRows(v) {
		p := fmt.Sprintf("users[%d]", i)
		u := service.UserInput{Email: v.Get(p + ".email"), Username: v.Get(p + ".username"), Name: v.Get(p + ".name"), Role: canopy.UserRole(v.Get(p + ".role"))}
		if u.Email == "" && u.Username == "" && u.Name == "" {
			continue
		}
		moves[fmt.Sprintf("users[%d]", len(in.Users))] = p
		in.Users = append(in.Users, u)
	}
	if wf := strings.TrimSpace(v.Get("workflows")); wf != "" {
		var names []string
		for _, n := range strings.Split(wf, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		in.Workflows = &names
	}
	if cfg := strings.TrimSpace(v.Get("configurations")); cfg != "" {
		if err := json.Unmarshal([]byte(cfg), &in.Configurations); err != nil {
			f.addError("configurations", `must be a JSON object of namespaces, such as {"white_label_portal": {"brandName": "Acme"}}: `+jsonProblem(err))
		}
	}
	for i := range refRows(v) {
		p := fmt.Sprintf("externalReferences[%d]", i)
		r := service.ExternalReferenceInput{Type: v.Get(p + ".type"), Value: v.Get(p + ".value"), Description: v.Get(p + ".description")}
		if r.Type == "" && r.Value == "" && r.Description == "" {
			continue
		}
		moves[fmt.Sprintf("externalReferences[%d]", len(in.ExternalReferences))] = p
		in.ExternalReferences = append(in.ExternalReferences, r)
	}
	return in, func(f *form) {
		for i, e := range f.errors {
			for sent, row := range moves {
				if e.Field == sent || strings.HasPrefix(e.Field, sent+".") {
					f.errors[i].Field = row + strings.TrimPrefix(e.Field, sent)
					break
				}
			}
		}
	}
}

// jsonProblem says where JSON went wrong, in words.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var dup *canopy.DuplicateKeyError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("it is not valid JSON near character %d", se.Offset)
	case errors.As(err, &dup):
		return "the key " + dup.Key + " appears twice"
	}
	return "it is not a JSON object"
}
