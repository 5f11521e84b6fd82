package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

type contactsData struct {
	Page service.Page[*canopy.Contact]
}

// contacts lists the acting account's address book, with each contact's
// sub-account status.
func (h *Handler) contacts(rq *request) error {
	page, err := h.svc.ListContacts(rq.r.Context(), rq.caller, service.PageRequest{Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(rq, http.StatusOK, "contacts", "contacts", "Contacts", nil, contactsData{Page: page})
}

// contactData is the contact form: blank for a new contact, or one to
// edit.
type contactData struct {
	Contact *canopy.Contact
}

func (h *Handler) newContact(rq *request) error {
	return h.page(rq, http.StatusOK, "contact", "contacts", "New contact", nil, contactData{})
}

// createContact saves a contact; with Sub Account checked the service
// invites it in the same transaction (seed 002).
func (h *Handler) createContact(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	in := service.ContactInput{
		Email: f.Values.Get("email"), FirstName: f.Values.Get("firstName"), LastName: f.Values.Get("lastName"),
		Mobile: f.Values.Get("mobile"), Notes: f.Values.Get("notes"), SubAccount: checked(f.Values, "subAccount"),
	}
	ct, err := h.svc.CreateContact(rq.r.Context(), rq.caller, in)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.page(rq, statusOf(canopy.ErrorKind(err)), "contact", "contacts", "New contact", f, contactData{})
	}
	msg := "Saved " + contactName(ct) + "."
	if in.SubAccount {
		msg += " An invitation to become your sub-account was sent to " + ct.Email + "."
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "contacts"), msg)
}

func contactName(ct *canopy.Contact) string {
	if n := strings.TrimSpace(ct.FirstName + " " + ct.LastName); n != "" {
		return n
	}
	return ct.Email
}

func (h *Handler) contact(rq *request) error {
	ct, err := h.svc.GetContact(rq.r.Context(), rq.caller, rq.r.PathValue("contactId"))
	if err != nil {
		return err
	}
	sub := ct.SubAccountStatus == canopy.SubAccountInvited || ct.SubAccountStatus == canopy.SubAccountActive
	f := newForm(url.Values{
		"email": {ct.Email}, "firstName": {ct.FirstName}, "lastName": {ct.LastName}, "mobile": {ct.Mobile},
		"notes": {ct.Notes}, "subAccount": {boolValue(sub)}, "subAccountWas": {boolValue(sub)},
	})
	return h.page(rq, http.StatusOK, "contact", "contacts", contactName(ct), f, contactData{Contact: ct})
}

func boolValue(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// updateContact saves the edited fields. The Sub Account box is sent to
// the service only when the person changed it: checking it invites,
// unchecking it withdraws a pending invitation.
func (h *Handler) updateContact(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	v := f.Values
	str := func(k string) *string { s := v.Get(k); return &s }
	p := service.ContactPatch{Email: str("email"), FirstName: str("firstName"), LastName: str("lastName"), Mobile: str("mobile"), Notes: str("notes")}
	if now := checked(v, "subAccount"); now != checked(v, "subAccountWas") {
		p.SubAccount = &now
	}
	id := rq.r.PathValue("contactId")
	ct, err := h.svc.UpdateContact(rq.r.Context(), rq.caller, id, p)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		cur, gerr := h.svc.GetContact(rq.r.Context(), rq.caller, id)
		if gerr != nil {
			return gerr
		}
		return h.page(rq, statusOf(canopy.ErrorKind(err)), "contact", "contacts", contactName(cur), f, contactData{Contact: cur})
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "contacts"), "Saved "+contactName(ct)+".")
}

func (h *Handler) deleteContact(rq *request) error {
	err := h.svc.DeleteContact(rq.r.Context(), rq.caller, rq.r.PathValue("contactId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "contacts"), "The contact was deleted.", err)
}
