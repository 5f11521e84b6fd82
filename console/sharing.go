package console

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// shareableRoles are the roles a share may give, as the role select
// offers them.
var shareableRoles = []option{
	{string(canopy.RoleEditor), "editor"},
	{string(canopy.RoleDataManager), "data manager"},
	{string(canopy.RoleViewer), "viewer"},
	{string(canopy.RoleNone), "none (hidden)"},
}

type sharingData struct {
	Head formHead
	// Rows are the owner, every account above it and every account the
	// owner shared the form with: who sees it, as what, and why.
	Rows     []shareRow
	Roles    []option
	Children []option
	// View names the Sharing sub-tab on display.
	View string
}

// shareRow is one account of the Sharing tab.
type shareRow struct {
	AccountID, Name string
	Role            canopy.Role
	Reason          string
	rule            string
	link            *canopy.DecidingLink
	// Explicit is an override the owner set: removing it gives the
	// account what the links give.
	Explicit bool
	Owner    bool
	Above    bool
}

// sharing is a form's Sharing tab: every account that can see the form,
// with its role and why, from the owner's audience listing (rules 5 and
// 6, docs/rules.md); the accounts above the owner that cannot, and why;
// and per account the role to set (none included) or the override to
// remove.
func (h *Handler) sharing(rq *request) error {
	head, err := h.head(rq, rq.r.PathValue("formId"), "sharing")
	if err != nil {
		return err
	}
	if !head.Rights.SeeAudience && head.Rights.SetUpCollection {
		// Who may collect but not see the audience starts on the ways to
		// collect.
		http.Redirect(rq.w, rq.r, canopy.ConsolePage(rq.caller.Acting.ID, "forms", head.Form.ID, "sharing", "web"), http.StatusSeeOther)
		return nil
	}
	return h.showSharing(rq, http.StatusOK, head, nil)
}

func (h *Handler) showSharing(rq *request, status int, head formHead, f *form) error {
	ctx := rq.r.Context()
	fv := head.Form
	var audience []*service.AudienceEntry
	pr := service.PageRequest{Limit: service.MaxPageLimit}
	for {
		page, err := h.svc.AudienceOf(ctx, rq.caller, fv.ID, pr)
		if err != nil {
			return err
		}
		audience = append(audience, page.Data...)
		if page.NextCursor == nil {
			break
		}
		pr.Cursor = *page.NextCursor
	}
	shares, err := h.svc.ListShares(ctx, rq.caller, fv.ID)
	if err != nil {
		return err
	}
	explicit := map[string]bool{}
	for _, sh := range shares.Data {
		explicit[sh.AccountID] = true
	}
	ids := fv.OwnerPath.IDs()
	above := ids[:len(ids)-1]
	var rows []shareRow
	seen := map[string]bool{}
	for _, e := range audience {
		seen[e.AccountID] = true
		rows = append(rows, shareRow{AccountID: e.AccountID, Role: e.Role, rule: e.Rule, link: e.Link, Explicit: explicit[e.AccountID],
			Owner: e.Rule == canopy.RuleOwner, Above: slices.Contains(above, e.AccountID)})
	}
	// The accounts above that the form is hidden from, nearest first: the
	// owner may give them a role.
	for i := len(above) - 1; i >= 0; i-- {
		id := above[i]
		if seen[id] {
			continue
		}
		x, err := h.svc.ExplainAccess(ctx, rq.caller, fv.ID, id)
		if err != nil {
			return err
		}
		rows = append(rows, shareRow{AccountID: id, Role: x.Role, rule: x.Rule, link: x.Link, Explicit: explicit[id], Above: true})
		seen[id] = true
	}
	// Overrides of none below the owner hide nothing the tree shows, but
	// they are the owner's to remove.
	for _, sh := range shares.Data {
		if !seen[sh.AccountID] {
			rows = append(rows, shareRow{AccountID: sh.AccountID, Role: sh.Role, rule: canopy.RuleExplicit, Explicit: true})
		}
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.AccountID)
	}
	children, err := h.svc.ListChildren(ctx, rq.caller, fv.OwnerID, service.PageRequest{Limit: service.MaxPageLimit})
	if err != nil {
		return err
	}
	known, err := h.svc.AccountNames(ctx, rq.caller, names)
	if err != nil {
		return err
	}
	d := sharingData{Head: head, Roles: shareableRoles, View: "accounts"}
	for _, r := range rows {
		r.Name = cmp.Or(known[r.AccountID], r.AccountID)
		r.Reason = reasonText(r.rule, r.link, known)
		d.Rows = append(d.Rows, r)
	}
	for _, c := range children.Data {
		d.Children = append(d.Children, option{c.ID, c.Name})
	}
	if f == nil {
		f = newForm(nil)
	}
	return h.page(rq, status, "sharing", "forms", fv.Name+": sharing", f, d)
}

// reasonText words why an account has its role on a form.
func reasonText(rule string, link *canopy.DecidingLink, names map[string]string) string {
	switch {
	case rule == canopy.RuleOwner:
		return "owner"
	case rule == canopy.RuleExplicit:
		return "explicit share"
	case rule == canopy.RuleLink && link != nil:
		name := func(id string) string { return cmp.Or(names[id], "an account") }
		shares := "shares as " + roleName(link.AutoShareRole)
		if link.AutoShareRole == canopy.RoleNone {
			shares = "shares nothing"
		}
		return "through the link chain, lowest link: " + name(link.AccountID) + " → " + name(link.ParentID) + " " + shares
	}
	return "nothing gives it access"
}

// putShare sets an account's role on the form (none hides it), overriding
// what the links give.
func (h *Handler) putShare(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	formID := rq.r.PathValue("formId")
	f := newForm(rq.r.PostForm)
	account := cmp.Or(f.Values.Get("accountId"), f.Values.Get("child"))
	role := canopy.Role(f.Values.Get("role"))
	_, err := h.svc.PutShare(rq.r.Context(), rq.caller, formID, account, role)
	to := canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "sharing")
	if err != nil && f.fail(err) && canopy.ErrorKind(err) == canopy.KindInvalid {
		head, herr := h.head(rq, formID, "sharing")
		if herr != nil {
			return herr
		}
		return h.showSharing(rq, formStatus(err), head, f)
	}
	msg := "The role is set to " + roleName(role) + "."
	if role == canopy.RoleNone {
		msg = "The form is hidden from that account now."
	}
	return h.outcome(rq, to, msg, err)
}

// deleteShare removes an override: the links decide the account's role
// again.
func (h *Handler) deleteShare(rq *request) error {
	formID := rq.r.PathValue("formId")
	err := h.svc.DeleteShare(rq.r.Context(), rq.caller, formID, rq.r.PathValue("accountId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "sharing"),
		"The override is removed: the link chain decides that account's role again.", err)
}
