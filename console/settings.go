package console

import (
	"net/http"
	"net/url"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

type settingsData struct {
	Account *canopy.Account
	// Own are the account's configuration namespaces; Inherited, the ones
	// its effective view takes from ancestors (read-only here).
	Own       canopy.Configurations
	Inherited []inherited
	// Umbrella names the umbrella of an invited sub-account, from the
	// invitation it accepted (the umbrella itself is above it, out of its
	// sight).
	Umbrella string
}

type inherited struct {
	Configuration canopy.Configuration
	From          string
}

// settings shows the acting account's name, email and plan (its plan is
// changed from above) and its configurations.
func (h *Handler) settings(rq *request) error {
	return h.showSettings(rq, http.StatusOK, nil)
}

func (h *Handler) showSettings(rq *request, status int, f *form) error {
	ctx := rq.r.Context()
	id := rq.caller.Acting.ID
	a, err := h.svc.GetAccount(ctx, rq.caller, id)
	if err != nil {
		return err
	}
	eff, err := h.svc.ListConfigurations(ctx, rq.caller, id, true)
	if err != nil {
		return err
	}
	d := settingsData{Account: a}
	for _, c := range eff.Configurations {
		if from := eff.Sources[c.Namespace]; from == id {
			d.Own = append(d.Own, c)
		} else {
			d.Inherited = append(d.Inherited, inherited{Configuration: c, From: from})
		}
	}
	if a.Link != nil && a.Link.Origin == canopy.OriginInvited {
		accepted, err := h.svc.ListInvitations(ctx, rq.caller, service.InvitationQuery{Direction: "received", Status: canopy.InvitationAccepted}, service.PageRequest{})
		if err != nil {
			return err
		}
		for _, inv := range accepted.Data {
			if inv.UmbrellaID == a.ParentID {
				d.Umbrella = inv.UmbrellaName
				break
			}
		}
	}
	if f == nil {
		f = newForm(url.Values{"name": {a.Name}, "email": {a.Email}})
	}
	return h.page(rq, status, "settings", "settings", "Account settings", f, d)
}

func (h *Handler) updateSettings(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	name, email := f.Values.Get("name"), f.Values.Get("email")
	_, err := h.svc.UpdateAccount(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.AccountPatch{Name: &name, Email: &email})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showSettings(rq, formStatus(err), f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "settings"), "Saved.")
}

// putConfiguration stores one namespace byte for byte as typed. The
// textarea is named "body", the field the service names for the payload.
func (h *Handler) putConfiguration(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	ns := f.Values.Get("namespace")
	_, err := h.svc.PutConfiguration(rq.r.Context(), rq.caller, rq.caller.Acting.ID, ns, []byte(f.Values.Get("body")))
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showSettings(rq, formStatus(err), f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "settings"), "Saved the "+ns+" configuration.")
}

func (h *Handler) deleteConfiguration(rq *request) error {
	ns := rq.r.PathValue("namespace")
	err := h.svc.DeleteConfiguration(rq.r.Context(), rq.caller, rq.caller.Acting.ID, ns)
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "settings"), "Deleted the "+ns+" configuration.", err)
}

// setDelegation grants or withdraws the umbrella's administration of the
// acting account, an invited sub-account (rule 2, docs/rules.md): the
// account's own decision, which the service refuses from anyone else.
func (h *Handler) setDelegation(rq *request) error {
	grant := rq.r.PostFormValue("delegatedAdmin") == "true"
	_, err := h.svc.UpdateLink(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.LinkPatch{DelegatedAdmin: &grant})
	msg := "The umbrella no longer administers this account."
	if grant {
		msg = "The umbrella may now administer this account."
	}
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "settings"), msg, err)
}

// leaveUmbrella ends the acting account's invited link to its umbrella.
func (h *Handler) leaveUmbrella(rq *request) error {
	_, err := h.svc.LeaveUmbrella(rq.r.Context(), rq.caller, rq.caller.Acting.ID)
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "settings"),
		"This account has left its umbrella: it pays for itself and shares nothing upward through the link.", err)
}
