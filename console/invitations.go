package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

type invitationsData struct {
	Received, Sent service.Page[*canopy.Invitation]
	MayInvite      bool
}

// invitations lists the invitations the acting account received (Accept /
// Decline) and sent (Cancel / Resend), with the form that sends one.
func (h *Handler) invitations(rq *request) error {
	return h.showInvitations(rq, http.StatusOK, newForm(url.Values{"autoShareRole": {"dataManager"}, "billing": {"parent"}}))
}

func (h *Handler) showInvitations(rq *request, status int, f *form) error {
	q := rq.r.URL.Query()
	ctx := rq.r.Context()
	received, err := h.svc.ListInvitations(ctx, rq.caller, service.InvitationQuery{Direction: "received"}, service.PageRequest{Cursor: q.Get("received")})
	if err != nil {
		return err
	}
	sent, err := h.svc.ListInvitations(ctx, rq.caller, service.InvitationQuery{Direction: "sent"}, service.PageRequest{Cursor: q.Get("sent")})
	if err != nil {
		return err
	}
	return h.page(rq, status, "invitations", "invitations", "Invitations", f, invitationsData{Received: received, Sent: sent})
}

// invite sends an invitation to an existing account (by id) or a person
// (by email); the service decides who may invite and answers the same
// whether or not the invitee exists.
func (h *Handler) invite(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	v := f.Values
	in := service.InvitationInput{
		AccountID: v.Get("accountId"), Email: v.Get("email"), FirstName: v.Get("firstName"), LastName: v.Get("lastName"),
		Message: v.Get("message"), AutoShareRole: canopy.Role(v.Get("autoShareRole")), Billing: canopy.Billing(v.Get("billing")),
	}
	if d := v.Get("expiresInDays"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			f.addError("expiresInDays", "must be a whole number of days")
		}
		in.ExpiresInDays = n
	}
	var err error
	if !f.Failed() {
		var inv *canopy.Invitation
		inv, err = h.svc.CreateInvitation(rq.r.Context(), rq.caller, in)
		if err == nil {
			to := inv.Email
			if to == "" {
				to = "account " + inv.InviteeAccountID
			}
			return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "invitations"), "Invitation sent to "+to+".")
		}
		if !f.fail(err) {
			return err
		}
	}
	return h.showInvitations(rq, formStatus(err), f)
}

type invitationData struct {
	Invitation *canopy.Invitation
	// Received is true when the acting account is the invitee, false when
	// it sent the invitation.
	Received bool
	Answer   string
}

// invitation shows one invitation with its terms and the answers the
// acting account may give; a received one wears the inviter's brand, as
// its email did.
func (h *Handler) invitation(rq *request) error {
	ctx := rq.r.Context()
	id := rq.r.PathValue("invitationId")
	inv, err := h.svc.GetInvitation(ctx, rq.caller, id)
	if err != nil {
		return err
	}
	d := invitationData{Invitation: inv, Received: inv.UmbrellaID != rq.caller.Acting.ID, Answer: rq.r.URL.Query().Get(canopy.ParamAnswer)}
	if d.Received {
		if rq.brand, err = h.svc.InvitationBrand(ctx, rq.caller, id); err != nil {
			return err
		}
	}
	return h.page(rq, http.StatusOK, "invitation", "invitations", "Invitation from "+inv.UmbrellaName, nil, d)
}

type invitationAction func(context.Context, service.Caller, string) (*canopy.Invitation, error)

// answer runs one of the invitation's buttons and returns to it.
func (h *Handler) answer(rq *request, act invitationAction, done string) error {
	id := rq.r.PathValue("invitationId")
	_, err := act(rq.r.Context(), rq.caller, id)
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "invitations", url.PathEscape(id)), done, err)
}

func (h *Handler) acceptInvitation(rq *request) error {
	return h.answer(rq, h.svc.AcceptInvitation, "You accepted the invitation: this account is now a sub-account of the umbrella.")
}

func (h *Handler) declineInvitation(rq *request) error {
	return h.answer(rq, h.svc.DeclineInvitation, "You declined the invitation.")
}

func (h *Handler) cancelInvitation(rq *request) error {
	return h.answer(rq, h.svc.CancelInvitation, "The invitation was cancelled.")
}

func (h *Handler) resendInvitation(rq *request) error {
	return h.answer(rq, h.svc.ResendInvitationEmail, "The invitation email was sent again.")
}
