package service

import (
	"context"
	"errors"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// ContactInput is a new address-book entry. With SubAccount the address is
// invited to become a sub-account of the acting account (seed 002: the
// "Sub Account" checkbox on a contact).
type ContactInput struct {
	Email      string `json:"email"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Mobile     string `json:"mobile"`
	Notes      string `json:"notes"`
	SubAccount bool   `json:"subAccount"`
}

func validateContact(v *canopy.Validator, email, first, last, mobile, notes *string) {
	if email != nil {
		canopy.ValidateEmail(v, "email", *email, true)
	}
	if first != nil {
		canopy.ValidatePersonName(v, "firstName", *first)
	}
	if last != nil {
		canopy.ValidatePersonName(v, "lastName", *last)
	}
	if mobile != nil {
		canopy.ValidateMobile(v, "mobile", *mobile)
	}
	if notes != nil {
		canopy.ValidateText(v, "notes", *notes, 5000)
	}
}

// CreateContact adds a contact to the acting account's address book, and
// with SubAccount invites it, all in one transaction.
//
// Errors: validation-failed; contact-exists (409) for an address already
// in the book; the errors of CreateInvitation.
func (s *Service) CreateContact(ctx context.Context, c Caller, in ContactInput) (*canopy.Contact, error) {
	var v canopy.Validator
	validateContact(&v, &in.Email, &in.FirstName, &in.LastName, &in.Mobile, &in.Notes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.Contact, error) {
		ct := &canopy.Contact{
			ID: s.ids.New(canopy.PrefixContact), AccountID: o.acting.ID, Email: in.Email, FirstName: in.FirstName,
			LastName: in.LastName, Mobile: in.Mobile, Notes: in.Notes, CreatedAt: o.now, UpdatedAt: o.now,
		}
		if in.SubAccount {
			inv, err := s.invite(o, InvitationInput{Email: ct.Email, FirstName: ct.FirstName, LastName: ct.LastName, Mobile: ct.Mobile}, ct.ID)
			if err != nil {
				return nil, err
			}
			ct.InvitationID = inv.ID
		}
		if err := o.tx.InsertContact(ctx, ct); err != nil {
			return nil, contactConflict(err)
		}
		o.audit(o.acting.ID, "contact.created", "contact", ct.ID, map[string]any{"subAccount": in.SubAccount})
		return ct, decorateContacts(ctx, o.tx, o.now, ct)
	})
}

func contactConflict(err error) error {
	if store.Conflict(err) == store.UniqueContactEmail {
		return canopy.ConflictField("email", canopy.CodeContactExists, "is already in the address book")
	}
	return err
}

// ContactPatch changes some of a contact's fields. SubAccount true invites
// the contact (unless it is invited or a sub-account already); false
// withdraws a pending invitation.
type ContactPatch struct {
	Email      *string `json:"email"`
	FirstName  *string `json:"firstName"`
	LastName   *string `json:"lastName"`
	Mobile     *string `json:"mobile"`
	Notes      *string `json:"notes"`
	SubAccount *bool   `json:"subAccount"`
}

// UpdateContact applies a patch.
func (s *Service) UpdateContact(ctx context.Context, c Caller, id string, p ContactPatch) (*canopy.Contact, error) {
	var v canopy.Validator
	validateContact(&v, p.Email, p.FirstName, p.LastName, p.Mobile, p.Notes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.Contact, error) {
		ct, err := contactIn(ctx, o.tx, o.acting.ID, id)
		if err != nil {
			return nil, err
		}
		for _, f := range []struct {
			to   *string
			from *string
		}{{&ct.Email, p.Email}, {&ct.FirstName, p.FirstName}, {&ct.LastName, p.LastName}, {&ct.Mobile, p.Mobile}, {&ct.Notes, p.Notes}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if err := decorateContacts(ctx, o.tx, o.now, ct); err != nil {
			return nil, err
		}
		switch {
		case p.SubAccount == nil:
		case *p.SubAccount && ct.SubAccountStatus != canopy.SubAccountInvited && ct.SubAccountStatus != canopy.SubAccountActive:
			inv, err := s.invite(o, InvitationInput{Email: ct.Email, FirstName: ct.FirstName, LastName: ct.LastName, Mobile: ct.Mobile}, ct.ID)
			if err != nil {
				return nil, err
			}
			ct.InvitationID = inv.ID
		case !*p.SubAccount && ct.SubAccountStatus == canopy.SubAccountInvited:
			inv, err := o.tx.GetInvitation(ctx, ct.InvitationID)
			if err != nil {
				return nil, err
			}
			if err := o.tx.TransitionInvitation(ctx, store.InvitationTransition{ID: inv.ID, To: canopy.InvitationCancelled, At: o.now}); err != nil {
				return nil, staleInvitation(err, inv.ID)
			}
			if err := s.queueInvitationEmails(ctx, o.tx, inv, canopy.TemplateInvitationCancelled, o.now); err != nil {
				return nil, err
			}
			o.audit(o.acting.ID, "invitation.cancelled", "invitation", inv.ID, map[string]string{"contactId": ct.ID})
		}
		ct.UpdatedAt = o.now
		if err := o.tx.UpdateContact(ctx, ct); err != nil {
			return nil, contactConflict(err)
		}
		o.audit(o.acting.ID, "contact.updated", "contact", ct.ID, nil)
		return ct, decorateContacts(ctx, o.tx, o.now, ct)
	})
}

// contactIn loads a contact of the account, or answers not-found.
func contactIn(ctx context.Context, tx store.InvitationTx, accountID, id string) (*canopy.Contact, error) {
	ct, err := tx.GetContact(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ct.AccountID != accountID) {
		return nil, canopy.NotFound("contact")
	}
	return ct, err
}

// GetContact returns one of the acting account's contacts.
func (s *Service) GetContact(ctx context.Context, c Caller, id string) (*canopy.Contact, error) {
	var ct *canopy.Contact
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		if ct, err = contactIn(ctx, tx, acting.ID, id); err != nil {
			return err
		}
		return decorateContacts(ctx, tx, s.now(), ct)
	})
	return ct, err
}

// ListContacts lists the acting account's contacts, oldest first.
func (s *Service) ListContacts(ctx context.Context, c Caller, pr PageRequest) (Page[*canopy.Contact], error) {
	kind := cursorKind(c, "contacts")
	after, err := s.decodeIDCursor(kind, canopy.PrefixContact, pr.Cursor)
	if err != nil {
		return Page[*canopy.Contact]{}, err
	}
	var rows []*canopy.Contact
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		if rows, err = tx.ListContacts(ctx, acting.ID, store.Page{After: after, Limit: pr.limit() + 1}); err != nil {
			return err
		}
		return decorateContacts(ctx, tx, s.now(), rows...)
	})
	if err != nil {
		return Page[*canopy.Contact]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(ct *canopy.Contact) string { return ct.ID }), nil
}

// DeleteContact removes a contact; its invitation, if any, stays as it is.
func (s *Service) DeleteContact(ctx context.Context, c Caller, id string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		ct, err := contactIn(ctx, o.tx, o.acting.ID, id)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteContact(ctx, ct.ID); err != nil {
			return struct{}{}, err
		}
		o.audit(o.acting.ID, "contact.deleted", "contact", ct.ID, nil)
		return struct{}{}, nil
	})
	return err
}

// decorateContacts derives each contact's sub-account status from its
// latest invitation and from where the invited account is now: a
// sub-account that left (or was released) is none again.
func decorateContacts(ctx context.Context, tx store.Tx, now time.Time, cts ...*canopy.Contact) error {
	var ids []string
	for _, ct := range cts {
		ct.SubAccountStatus, ct.SubAccountID = canopy.SubAccountNone, ""
		if ct.InvitationID != "" {
			ids = append(ids, ct.InvitationID)
		}
	}
	invs, err := tx.GetInvitations(ctx, ids)
	if err != nil {
		return err
	}
	byID := map[string]*canopy.Invitation{}
	var invitees []string
	for _, inv := range invs {
		byID[inv.ID] = inv
		if inv.Status == canopy.InvitationAccepted {
			invitees = append(invitees, inv.InviteeAccountID)
		}
	}
	accs, err := tx.GetAccounts(ctx, invitees)
	if err != nil {
		return err
	}
	parentOf := map[string]*canopy.Account{}
	for _, a := range accs {
		parentOf[a.ID] = a
	}
	for _, ct := range cts {
		inv, ok := byID[ct.InvitationID]
		if !ok {
			continue
		}
		switch inv.StatusAt(now) {
		case canopy.InvitationPending:
			ct.SubAccountStatus = canopy.SubAccountInvited
		case canopy.InvitationDeclined:
			ct.SubAccountStatus = canopy.SubAccountDeclined
		case canopy.InvitationExpired:
			ct.SubAccountStatus = canopy.SubAccountExpired
		case canopy.InvitationAccepted:
			if a := parentOf[inv.InviteeAccountID]; a != nil && a.ParentID == ct.AccountID && a.Link.Origin == canopy.OriginInvited {
				ct.SubAccountStatus, ct.SubAccountID = canopy.SubAccountActive, a.ID
			}
		}
	}
	return nil
}
