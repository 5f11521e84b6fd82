package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// MaxInvitationMessage bounds an invitation's note, which goes out in an
// email under the platform's name: long enough for a personal word, too
// short to carry anything else.
const MaxInvitationMessage = 500

// InvitationInput is an umbrella's invitation, addressed to an existing
// account (AccountID) or to a person (Email), with the link policy offered.
type InvitationInput struct {
	AccountID     string         `json:"accountId"`
	Email         string         `json:"email"`
	FirstName     string         `json:"firstName"`
	LastName      string         `json:"lastName"`
	Mobile        string         `json:"mobile"`
	Message       string         `json:"message"`
	AutoShareRole canopy.Role    `json:"autoShareRole"`
	Billing       canopy.Billing `json:"billing"`
	// DelegatedAdmin asks the invitee to let the umbrella act as it
	// (rule 2, docs/rules.md); the invitee may withdraw it at any time.
	DelegatedAdmin bool `json:"delegatedAdmin"`
	// ExpiresInDays is 1–30; 0 uses the configured default.
	ExpiresInDays int `json:"expiresInDays"`
}

func (in *InvitationInput) validate(v *canopy.Validator) {
	switch {
	case in.AccountID == "" && in.Email == "":
		v.Add("accountId", "required", "give accountId to invite an existing account, or email to invite a person")
	case in.AccountID != "" && in.Email != "":
		v.Add("email", "conflict", "give either accountId or email, not both")
	case in.AccountID != "":
		v.Check(canopy.ValidID(canopy.PrefixAccount, in.AccountID), "accountId", canopy.CodeInvalidID, "must be an account id")
	default:
		canopy.ValidateEmail(v, "email", in.Email, true)
	}
	canopy.ValidatePersonName(v, "firstName", in.FirstName)
	canopy.ValidatePersonName(v, "lastName", in.LastName)
	canopy.ValidateMobile(v, "mobile", in.Mobile)
	canopy.ValidateText(v, "message", in.Message, MaxInvitationMessage)
	if in.AutoShareRole != "" && !in.AutoShareRole.ShareableRole() {
		v.Add("autoShareRole", "invalid-enum", "must be editor, dataManager, viewer or none")
	}
	if in.Billing != "" && !in.Billing.Valid() {
		v.Add("billing", "invalid-enum", "must be parent or self")
	}
	if in.ExpiresInDays != 0 && (in.ExpiresInDays < canopy.MinInvitationDays || in.ExpiresInDays > canopy.MaxInvitationDays) {
		v.Add("expiresInDays", "out-of-range", "must be between %d and %d", canopy.MinInvitationDays, canopy.MaxInvitationDays)
	}
}

// CreateInvitation sends an invitation from the acting account, which must
// be on a plan that may invite. The answer is the same whether or not the
// invited account exists, so ids cannot be probed; an account that does not
// exist, or that is an ancestor, simply never accepts.
//
// Errors: validation-failed; forbidden (plan); conflict when the invitee
// is the acting account or one of its descendants; invitation-pending
// (409) when one is already pending for the invitee.
func (s *Service) CreateInvitation(ctx context.Context, c Caller, in InvitationInput) (*canopy.Invitation, error) {
	var v canopy.Validator
	in.validate(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.Invitation, error) {
		inv, err := s.invite(o, in, "")
		if err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "invitation.created", "invitation", inv.ID, map[string]string{"accountId": inv.InviteeAccountID, "email": inv.Email})
		return inv, nil
	})
}

// invite stores an invitation from the acting account and queues its email.
func (s *Service) invite(o *op, in InvitationInput, contactID string) (*canopy.Invitation, error) {
	umbrella := o.acting
	if !slices.Contains(s.cfg.InvitePlans, umbrella.Plan) {
		return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodePlanNotAllowed,
			"account %s is on the %s plan; only %v accounts may invite sub-accounts", umbrella.ID, umbrella.Plan, s.cfg.InvitePlans)
	}
	if in.AccountID != "" {
		if in.AccountID == umbrella.ID {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCycle, "an account cannot invite itself")
		}
		if invitee, err := o.tx.GetAccount(o.ctx, in.AccountID); err == nil && invitee.VisibleTo(umbrella.ID) {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeCycle,
				"account %s is already below %s; move it instead of inviting it", invitee.ID, umbrella.ID)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	days := in.ExpiresInDays
	if days == 0 {
		days = s.cfg.InvitationDays
	}
	inv := &canopy.Invitation{
		ID: s.ids.New(canopy.PrefixInvitation), UmbrellaID: umbrella.ID, UmbrellaName: umbrella.Name,
		InviteeAccountID: in.AccountID, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
		Mobile: in.Mobile, Message: in.Message, AutoShareRole: in.AutoShareRole, Billing: in.Billing,
		DelegatedAdmin: in.DelegatedAdmin, Status: canopy.InvitationPending, ContactID: contactID,
		ExpiresAt: o.now.Add(time.Duration(days) * 24 * time.Hour), CreatedAt: o.now, UpdatedAt: o.now,
	}
	if inv.AutoShareRole == "" {
		inv.AutoShareRole = canopy.RoleDataManager
	}
	if inv.Billing == "" {
		inv.Billing = canopy.BillingParent
	}
	if err := o.countEmails(1); err != nil {
		return nil, err
	}
	// An invitation past its expiry that the sweeper has not reached yet
	// must not block a new one: expire due invitations first.
	if err := s.expireDue(o.ctx, o.tx, o.now); err != nil {
		return nil, err
	}
	if err := o.tx.InsertInvitation(o.ctx, inv); err != nil {
		if store.Conflict(err) == store.UniquePendingInvite {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeInvitationPending,
				"an invitation to this invitee is already pending; resend or cancel it")
		}
		return nil, err
	}
	if err := s.queueInvitationEmails(o.ctx, o.tx, inv, canopy.TemplateInvitation, o.now); err != nil {
		return nil, err
	}
	return inv, nil
}

// queueInvitationEmails writes an invitation email (template) to its
// audience: for the invitation itself and its cancellation the invitee —
// the invitee account's admins, or the address; for answers and expiry the
// umbrella's admins.
func (s *Service) queueInvitationEmails(ctx context.Context, tx store.Tx, inv *canopy.Invitation, template string, now time.Time) error {
	toUmbrella := template != canopy.TemplateInvitation && template != canopy.TemplateInvitationCancelled
	accountID := inv.InviteeAccountID
	if toUmbrella {
		accountID = inv.UmbrellaID
	}
	data, err := json.Marshal(map[string]string{"invitationId": inv.ID})
	if err != nil {
		return err
	}
	var msgs []*canopy.OutboxMessage
	if accountID == "" { // addressed by email, not yet an account's
		msgs = append(msgs, &canopy.OutboxMessage{Recipient: inv.Email, AccountID: inv.UmbrellaID})
	} else {
		acc, err := tx.GetAccount(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // no such account: nobody to tell, and the caller cannot tell either
		}
		if err != nil {
			return err
		}
		admins, err := accountAdmins(ctx, tx, acc.ID)
		if err != nil {
			return err
		}
		for _, u := range admins {
			msgs = append(msgs, &canopy.OutboxMessage{Recipient: u.Email, UserID: u.ID, AccountID: acc.ID})
		}
	}
	for _, m := range msgs {
		m.ID, m.Channel, m.Template, m.Data = s.ids.New(canopy.PrefixOutbox), "email", template, data
		m.Status, m.NextAttemptAt, m.CreatedAt = canopy.OutboxPending, now, now
	}
	return tx.InsertOutboxMessages(ctx, msgs...)
}

// accountAdmins lists the memberships that may give an account's consent
// (canopy.User.Consents): its active admins with a verified address. Only
// they are told of, and may answer, what needs the account's consent.
func accountAdmins(ctx context.Context, tx store.UserTx, accountID string) ([]*canopy.User, error) {
	var out []*canopy.User
	after := ""
	for {
		page, err := tx.ListUsers(ctx, accountID, store.Page{After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, u := range page {
			if u.Consents() {
				out = append(out, u)
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// InvitationQuery narrows an invitation listing.
type InvitationQuery struct {
	// Direction is "sent" (by the acting account) or "received" (by it,
	// or by the addresses of its admins).
	Direction string
	Status    canopy.InvitationStatus
}

// ListInvitations lists invitations sent or received by the acting
// account, newest first. Statuses read as of now: a pending invitation
// past its expiry is listed as expired.
func (s *Service) ListInvitations(ctx context.Context, c Caller, q InvitationQuery, pr PageRequest) (Page[*canopy.Invitation], error) {
	if q.Direction != "sent" && q.Direction != "received" {
		return Page[*canopy.Invitation]{}, canopy.BadParam("direction", "invalid-enum", "must be sent or received")
	}
	if q.Status != "" && !q.Status.Valid() {
		return Page[*canopy.Invitation]{}, canopy.BadParam("status", "invalid-enum", "must be pending, accepted, declined, cancelled or expired")
	}
	kind := cursorKind(c, "invitations", q.Direction, string(q.Status))
	before, err := s.decodeIDCursor(kind, canopy.PrefixInvitation, pr.Cursor)
	if err != nil {
		return Page[*canopy.Invitation]{}, err
	}
	now := s.now()
	var rows []*canopy.Invitation
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		f := store.InvitationFilter{Before: before, Limit: pr.limit() + 1}
		if q.Direction == "sent" {
			f.UmbrellaID = acting.ID
		} else {
			f.InviteeAccountID = acting.ID
			if f.Emails, err = s.receivingAddresses(ctx, tx, c, acting.ID); err != nil {
				return err
			}
		}
		// Expired is read as of now: pending rows past their expiry count
		// as expired, and only those before it as pending.
		if q.Status == canopy.InvitationExpired || q.Status == canopy.InvitationPending {
			f.Status = ""
		} else {
			f.Status = q.Status
		}
		for {
			page, err := tx.ListInvitations(ctx, f)
			if err != nil {
				return err
			}
			for _, inv := range page {
				inv.Status = inv.StatusAt(now)
				if q.Status == "" || inv.Status == q.Status {
					rows = append(rows, inv)
				}
			}
			if len(rows) > pr.limit() || len(page) < f.Limit {
				return nil
			}
			f.Before = page[len(page)-1].ID
		}
	})
	if err != nil {
		return Page[*canopy.Invitation]{}, err
	}
	if len(rows) > pr.limit()+1 {
		rows = rows[:pr.limit()+1]
	}
	return paginate(s, rows, pr.limit(), kind, func(i *canopy.Invitation) string { return i.ID }), nil
}

// receivingAddresses are the addresses whose email invitations the caller
// may see and answer for accountID: the verified address of a signed-in
// person acting through their own admin membership of that account. Nobody
// else — no API key, no ancestor acting on its behalf, no unverified or
// invited admin — answers for an address (rule 11, docs/rules.md).
func (s *Service) receivingAddresses(ctx context.Context, tx store.UserTx, c Caller, accountID string) ([]string, error) {
	if !c.IsUser() || c.AccountID != accountID || c.Acting.ID != accountID || !c.MayManage() {
		return nil, nil
	}
	u, err := tx.GetUser(ctx, c.Actor.ID)
	if err != nil {
		return nil, err
	}
	if !u.Consents() || u.PersonID != c.PersonID {
		return nil, nil
	}
	return []string{canopy.NormalizeEmail(u.Person.Email)}, nil
}

// GetInvitation returns an invitation the acting account sent or received.
func (s *Service) GetInvitation(ctx context.Context, c Caller, id string) (*canopy.Invitation, error) {
	var inv *canopy.Invitation
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := actingIn(ctx, tx, c); err != nil {
			return err
		}
		var err error
		inv, err = s.readable(ctx, tx, c, id)
		return err
	})
	return inv, err
}

// involved loads an invitation the caller may act on: as its umbrella
// (when sender is true) or as the invitee's admin (isInvitee). Anything
// else is not found.
func (s *Service) involved(ctx context.Context, tx store.Tx, c Caller, id string, sender bool) (*canopy.Invitation, error) {
	inv, err := tx.GetInvitation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, canopy.NotFound("invitation")
	}
	if err != nil {
		return nil, err
	}
	inv.Status = inv.StatusAt(s.now())
	if sender && inv.UmbrellaID == c.Acting.ID {
		return inv, nil
	}
	if ok, err := s.isInvitee(ctx, tx, c, inv); err != nil || !ok {
		return nil, errors.Join(err, canopy.NotFound("invitation"))
	}
	return inv, nil
}

// readable loads an invitation the acting account may read: one it sent,
// or one addressed to it or to an address its received list shows — the
// same set ListInvitations returns, whoever the credential.
func (s *Service) readable(ctx context.Context, tx store.Tx, c Caller, id string) (*canopy.Invitation, error) {
	inv, err := tx.GetInvitation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, canopy.NotFound("invitation")
	}
	if err != nil {
		return nil, err
	}
	inv.Status = inv.StatusAt(s.now())
	if inv.UmbrellaID == c.Acting.ID || (inv.InviteeAccountID != "" && inv.InviteeAccountID == c.Acting.ID) {
		return inv, nil
	}
	if inv.InviteeAccountID == "" {
		addrs, err := s.receivingAddresses(ctx, tx, c, c.Acting.ID)
		if err != nil {
			return nil, err
		}
		if slices.Contains(addrs, canopy.NormalizeEmail(inv.Email)) {
			return inv, nil
		}
	}
	return nil, canopy.NotFound("invitation")
}

// isInvitee reports whether the caller answers for the invitation's
// invitee: it acts as the invited account with its own admin rights (an
// API key of that account or a signed-in admin of it — not an ancestor
// acting on its behalf), or, for an invitation by email, as an account
// whose admin has that address.
func (s *Service) isInvitee(ctx context.Context, tx store.UserTx, c Caller, inv *canopy.Invitation) (bool, error) {
	if c.Acting.ID != c.AccountID || !c.MayManage() {
		return false, nil
	}
	if inv.InviteeAccountID != "" {
		if inv.InviteeAccountID != c.Acting.ID {
			return false, nil
		}
		if !c.IsUser() {
			return true, nil // the account's own key
		}
		// A person answers for the account only as a consenting admin: active,
		// with a verified address (rule 11, docs/rules.md).
		u, err := tx.GetUser(ctx, c.Actor.ID)
		if err != nil {
			return false, err
		}
		return u.Consents(), nil
	}
	addrs, err := s.receivingAddresses(ctx, tx, c, c.Acting.ID)
	if err != nil {
		return false, err
	}
	return slices.Contains(addrs, canopy.NormalizeEmail(inv.Email)), nil
}

// AcceptInvitation makes the acting account a sub-account of the umbrella,
// with the link policy the invitation offered, in one transaction that
// holds the tree lock and checks the tree rules at that moment.
//
// Errors: not-found (not the invitee's admin); invalid-state (409, not
// pending); has-umbrella (409, the account is below another account and
// must leave it first); cycle and depth-limit-exceeded (409).
func (s *Service) AcceptInvitation(ctx context.Context, c Caller, id string) (*canopy.Invitation, error) {
	// Members pass the general write check: isInvitee refuses them with
	// not-found, as it refuses everyone who is not the invitee's admin.
	return runWrite(ctx, s, c, writeOpts{lockTree: true, members: true}, func(o *op) (*canopy.Invitation, error) {
		inv, err := s.involved(ctx, o.tx, c, id, false)
		if err != nil {
			return nil, err
		}
		if err := s.join(o, inv, o.acting); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "invitation.accepted", "invitation", inv.ID, map[string]string{"umbrellaId": inv.UmbrellaID})
		o.audit(inv.UmbrellaID, "subAccount.joined", "account", o.acting.ID, map[string]string{"invitationId": inv.ID})
		return inv, nil
	})
}

// join moves invitee under the invitation's umbrella. The caller holds the
// tree lock.
func (s *Service) join(o *op, inv *canopy.Invitation, invitee *canopy.Account) error {
	if inv.Status != canopy.InvitationPending {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "invitation %s is %s, not pending", inv.ID, inv.Status)
	}
	if invitee.IsRoot() {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeHasUmbrella, "the platform root cannot become a sub-account")
	}
	root, err := o.tx.GetRootAccount(o.ctx)
	if err != nil {
		return err
	}
	if invitee.ParentID != root.ID {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeHasUmbrella,
			"account %s already belongs under another account; it must leave it (DELETE /v1/accounts/%s/parent) before accepting",
			invitee.ID, invitee.ID)
	}
	umbrella, err := o.tx.GetAccount(o.ctx, inv.UmbrellaID)
	if err != nil {
		return err
	}
	if umbrella.Status == canopy.StatusClosed {
		return closedError(umbrella.ID)
	}
	if umbrella.Path.Contains(invitee.ID) {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeCycle,
			"account %s cannot join %s, which lies below it", invitee.ID, umbrella.ID)
	}
	deepest, err := o.tx.SubtreeMaxDepth(o.ctx, invitee.Path)
	if err != nil {
		return err
	}
	if newDeepest := deepest - invitee.Depth() + umbrella.Depth() + 1; newDeepest > s.cfg.MaxDepth {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeDepthLimit,
			"joining %s would put accounts at depth %d; the limit is %d", umbrella.ID, newDeepest, s.cfg.MaxDepth)
	}
	link := &canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: inv.AutoShareRole, Billing: inv.Billing,
		DelegatedAdmin: inv.DelegatedAdmin, CreatedAt: o.now}
	if err := o.relink(invitee, umbrella, link); err != nil {
		return err
	}
	if err := o.tx.TransitionInvitation(o.ctx, store.InvitationTransition{ID: inv.ID, To: canopy.InvitationAccepted, InviteeAccountID: invitee.ID, At: o.now}); err != nil {
		return staleInvitation(err, inv.ID)
	}
	inv.Status, inv.InviteeAccountID, inv.RespondedAt, inv.UpdatedAt = canopy.InvitationAccepted, invitee.ID, &o.now, o.now
	return s.queueInvitationEmails(o.ctx, o.tx, inv, canopy.TemplateInvitationAccepted, o.now)
}

func staleInvitation(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "invitation %s was answered meanwhile", id)
	}
	return err
}

// DeclineInvitation declines an invitation for the acting account.
func (s *Service) DeclineInvitation(ctx context.Context, c Caller, id string) (*canopy.Invitation, error) {
	return s.answer(ctx, c, id, false, canopy.InvitationDeclined, canopy.TemplateInvitationDeclined)
}

// CancelInvitation withdraws a pending invitation the acting account sent.
func (s *Service) CancelInvitation(ctx context.Context, c Caller, id string) (*canopy.Invitation, error) {
	return s.answer(ctx, c, id, true, canopy.InvitationCancelled, canopy.TemplateInvitationCancelled)
}

// answer moves a pending invitation to status (declined by the invitee,
// cancelled by the umbrella) and emails the other side.
func (s *Service) answer(ctx context.Context, c Caller, id string, byUmbrella bool, to canopy.InvitationStatus, template string) (*canopy.Invitation, error) {
	return runWrite(ctx, s, c, writeOpts{members: !byUmbrella}, func(o *op) (*canopy.Invitation, error) {
		inv, err := s.involved(ctx, o.tx, c, id, byUmbrella)
		if err != nil {
			return nil, err
		}
		if byUmbrella != (inv.UmbrellaID == o.acting.ID) {
			return nil, canopy.NotFound("invitation")
		}
		if inv.Status != canopy.InvitationPending {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "invitation %s is %s, not pending", inv.ID, inv.Status)
		}
		invitee := ""
		if !byUmbrella {
			invitee = o.acting.ID
		}
		if err := o.tx.TransitionInvitation(ctx, store.InvitationTransition{ID: inv.ID, To: to, InviteeAccountID: invitee, At: o.now}); err != nil {
			return nil, staleInvitation(err, inv.ID)
		}
		inv.Status, inv.RespondedAt, inv.UpdatedAt = to, &o.now, o.now
		if invitee != "" {
			inv.InviteeAccountID = invitee
		}
		if err := s.queueInvitationEmails(ctx, o.tx, inv, template, o.now); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "invitation."+string(to), "invitation", inv.ID, nil)
		return inv, nil
	})
}

// ResendInvitationEmail sends a pending invitation's email again, with a
// fresh link where it has one.
func (s *Service) ResendInvitationEmail(ctx context.Context, c Caller, id string) (*canopy.Invitation, error) {
	return write(ctx, s, c, func(o *op) (*canopy.Invitation, error) {
		inv, err := s.involved(ctx, o.tx, c, id, true)
		if err != nil {
			return nil, err
		}
		if inv.UmbrellaID != o.acting.ID {
			return nil, canopy.NotFound("invitation")
		}
		if inv.Status != canopy.InvitationPending {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "invitation %s is %s, not pending", inv.ID, inv.Status)
		}
		if err := o.countEmails(1); err != nil {
			return nil, err
		}
		if err := s.queueInvitationEmails(ctx, o.tx, inv, canopy.TemplateInvitation, o.now); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "invitation.resent", "invitation", inv.ID, nil)
		return inv, nil
	})
}

// ExpireInvitations records the expiry of pending invitations past their
// time and tells their umbrellas, in batches; it returns how many expired.
// canopy serve runs it every minute.
func (s *Service) ExpireInvitations(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.store.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = s.expireBatch(ctx, tx, s.now())
			return err
		})
		total += n
		if err != nil || n < 100 {
			return total, err
		}
	}
}

// expireBatch records the expiry of up to 100 due invitations, emailing and
// auditing each; it returns how many.
func (s *Service) expireBatch(ctx context.Context, tx store.Tx, now time.Time) (int, error) {
	expired, err := tx.ExpireInvitations(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	for _, inv := range expired {
		if err := s.queueInvitationEmails(ctx, tx, inv, canopy.TemplateInvitationExpired, now); err != nil {
			return 0, err
		}
		if err := s.systemAudit(ctx, tx, RequestInfo{}, canopy.Actor{Type: "system", ID: "expiry"}, inv.UmbrellaID,
			"invitation.expired", "invitation", inv.ID, nil); err != nil {
			return 0, err
		}
	}
	return len(expired), nil
}

// expireDue expires every due invitation, in tx.
func (s *Service) expireDue(ctx context.Context, tx store.Tx, now time.Time) error {
	for {
		n, err := s.expireBatch(ctx, tx, now)
		if err != nil || n < 100 {
			return err
		}
	}
}

// invitationForEmail is what an invitation email shows.
func (s *Service) invitationForEmail(ctx context.Context, tx store.InvitationTx, m *canopy.OutboxMessage) (*canopy.Invitation, error) {
	var d struct {
		InvitationID string `json:"invitationId"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil || d.InvitationID == "" {
		return nil, &PermanentError{Reason: fmt.Sprintf("message %s names no invitation", m.ID)}
	}
	inv, err := tx.GetInvitation(ctx, d.InvitationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PermanentError{Reason: "the invitation no longer exists"}
	}
	return inv, err
}
