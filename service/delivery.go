package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Brand is the white-label look an email carries (rule 11, docs/rules.md).
type Brand = canopy.Brand

// PreparedEmail is one outbox message ready to render: what it says, in
// its kind's content type (email.go).
type PreparedEmail struct {
	Outbox  *canopy.OutboxMessage
	Content canopy.Email
}

// PermanentError marks a message that can never be delivered (its user
// was removed, say): it is failed at once instead of retried.
type PermanentError struct{ Reason string }

func (e *PermanentError) Error() string { return e.Reason }

// ClaimOutbox leases up to limit due messages to this worker. It first
// turns waiting password-reset requests into emails, so that they go out
// with this round.
func (s *Service) ClaimOutbox(ctx context.Context, limit int) ([]*canopy.OutboxMessage, error) {
	if _, err := s.DecideResetRequests(ctx); err != nil {
		return nil, fmt.Errorf("decide reset requests: %w", err)
	}
	var msgs []*canopy.OutboxMessage
	err := s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		var err error
		msgs, err = tx.ClaimOutbox(ctx, now, now.Add(s.cfg.OutboxLease), limit)
		return err
	})
	return msgs, err
}

// PrepareEmails gathers what each message's template needs and issues the
// one-time links, in one transaction. Links are made here, at delivery,
// so no secret ever rests in the outbox; a retried message gets a new link
// and older ones keep working until one is used (then all stop). The
// result has one entry per message: its content, or an error (a
// *PermanentError when it can never be sent).
func (s *Service) PrepareEmails(ctx context.Context, msgs []*canopy.OutboxMessage) ([]*PreparedEmail, []error) {
	contents := make([]*PreparedEmail, len(msgs))
	errs := make([]error, len(msgs))
	err := s.store.Write(ctx, func(tx store.Tx) error {
		now := s.now()
		for i, m := range msgs {
			contents[i], errs[i] = s.prepareEmail(ctx, tx, m, now)
			if errs[i] != nil && !isPermanent(errs[i]) {
				return errs[i]
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			contents[i], errs[i] = nil, err
		}
	}
	return contents, errs
}

func isPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// prepareEmail gathers one message's content; emails about users get a
// one-time link, invitation emails their answer or sign-up links.
func (s *Service) prepareEmail(ctx context.Context, tx store.Tx, m *canopy.OutboxMessage, now time.Time) (*PreparedEmail, error) {
	acc, err := tx.GetAccount(ctx, m.AccountID)
	if err != nil {
		return nil, err
	}
	common := canopy.EmailCommon{AccountName: acc.Name, Email: m.Recipient}
	var u *canopy.User
	if m.UserID != "" {
		u, err = tx.GetUser(ctx, m.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &PermanentError{Reason: "the user was removed before the email could be sent"}
		}
		if err != nil {
			return nil, err
		}
		if u.Status == canopy.UserDisabled {
			return nil, &PermanentError{Reason: "the user was disabled before the email could be sent"}
		}
		// Links are made for the address the message goes to, and only
		// while it is the person's (or, to confirm a change, the one asked
		// for): mail queued for an address the person has since left is
		// not sent (rule 11, docs/rules.md).
		want := u.Person.Email
		switch m.Template {
		case canopy.TemplateEmailChange:
			want = u.Person.PendingEmail
		case canopy.TemplateEmailChangeNotice:
			want = m.Recipient // the old address is told, whatever happened since
		}
		if canopy.NormalizeEmail(want) != canopy.NormalizeEmail(m.Recipient) {
			return nil, &PermanentError{Reason: "the person's address changed before the email could be sent"}
		}
		common.UserName = u.Person.Name
	}
	content, err := s.emailContent(ctx, tx, m, acc, u, common, now)
	if err != nil {
		return nil, err
	}
	return &PreparedEmail{Outbox: m, Content: content}, nil
}

// emailContent builds the content of one message of kind m.Template.
func (s *Service) emailContent(ctx context.Context, tx store.Tx, m *canopy.OutboxMessage, acc *canopy.Account, u *canopy.User, common canopy.EmailCommon, now time.Time) (canopy.Email, error) {
	var err error
	switch m.Template {
	case canopy.TemplateWelcome, canopy.TemplateUserInvitation, canopy.TemplatePasswordReset, canopy.TemplateEmailChange:
		return s.userEmail(ctx, tx, m, common, acc, u, now)
	case canopy.TemplateEmailChangeNotice:
		if u == nil {
			return nil, &PermanentError{Reason: "an address-change notice names no user"}
		}
		e := &canopy.EmailChangeNoticeEmail{EmailCommon: common, NewEmail: u.Person.PendingEmail}
		e.Brand, err = effectiveBrand(ctx, tx, acc)
		return e, err
	case canopy.TemplateInvitation, canopy.TemplateInvitationAccepted, canopy.TemplateInvitationDeclined,
		canopy.TemplateInvitationCancelled, canopy.TemplateInvitationExpired:
		return s.invitationEmail(ctx, tx, m, common, now)
	case canopy.TemplateLowBalance:
		var d lowBalanceData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, &PermanentError{Reason: "a low-balance notice without its numbers: " + err.Error()}
		}
		e := &canopy.LowBalanceEmail{EmailCommon: common, CreditType: string(d.Type), Threshold: d.Threshold, Balance: d.Balance}
		e.Brand, err = effectiveBrand(ctx, tx, acc)
		// The payer's console: its admins sign in there to see balances.
		e.Link = s.cfg.PublicURL + canopy.ConsolePage(acc.ID)
		return e, err
	case canopy.TemplateWebhookDisabled:
		var d webhookDisabledData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, &PermanentError{Reason: "a webhook notice without its endpoint: " + err.Error()}
		}
		e := &canopy.WebhookDisabledEmail{EmailCommon: common, WebhookURL: d.URL, FailingSince: d.FailingSince}
		e.Brand, err = effectiveBrand(ctx, tx, acc)
		e.Link = s.cfg.PublicURL + canopy.ConsolePage(acc.ID)
		return e, err
	case canopy.TemplateSignupAttempt:
		if u == nil {
			return nil, &PermanentError{Reason: "a sign-up attempt email names no user"}
		}
		e := &canopy.SignupAttemptEmail{EmailCommon: common}
		e.Brand, err = effectiveBrand(ctx, tx, acc)
		e.Link = s.cfg.PublicURL + canopy.PageResetPassword
		return e, err
	}
	return nil, &PermanentError{Reason: "unknown template " + m.Template}
}

// userEmail builds a welcome, invitation, reset or address-change email to
// a user of acc, issuing its one-time link.
func (s *Service) userEmail(ctx context.Context, tx store.Tx, m *canopy.OutboxMessage, c canopy.EmailCommon, acc *canopy.Account, u *canopy.User, now time.Time) (canopy.Email, error) {
	if u == nil {
		return nil, &PermanentError{Reason: "a user email names no user"}
	}
	if acc.Status == canopy.StatusClosed {
		return nil, &PermanentError{Reason: "the account was closed before the email could be sent"}
	}
	purpose, joins := canopy.PurposeSetPassword, ""
	switch m.Template {
	case canopy.TemplatePasswordReset:
		purpose = canopy.PurposeReset
	case canopy.TemplateEmailChange:
		purpose = canopy.PurposeEmailChange
	default: // welcome, user invitation
		if u.Status != canopy.UserInvited {
			return nil, &PermanentError{Reason: "the user joined before the email could be sent"}
		}
		joins = u.ID
	}
	var err error
	if c.Brand, err = effectiveBrand(ctx, tx, acc); err != nil {
		return nil, err
	}
	signIn := joins != "" && u.Person.PasswordHash != ""
	if signIn {
		// The person already has a login: they sign in and accept.
		c.Link = s.cfg.PublicURL + canopy.MembershipPage(u.ID)
	} else {
		secret, err := canopy.NewSecret(canopy.TokenPrefix)
		if err != nil {
			return nil, err
		}
		tok := &canopy.UserToken{
			ID: s.ids.New(canopy.PrefixToken), PersonID: u.PersonID, UserID: joins, Purpose: purpose,
			Email: canopy.NormalizeEmail(m.Recipient), Hash: canopy.HashSecret(secret),
			CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL),
		}
		if err := tx.InsertUserToken(ctx, tok); err != nil {
			return nil, err
		}
		c.Link, c.ExpiresAt = s.cfg.PublicURL+canopy.TokenLink(purpose, secret), tok.ExpiresAt
	}
	switch m.Template {
	case canopy.TemplatePasswordReset:
		return &canopy.PasswordResetEmail{EmailCommon: c}, nil
	case canopy.TemplateEmailChange:
		return &canopy.EmailChangeEmail{EmailCommon: c}, nil
	case canopy.TemplateUserInvitation:
		return &canopy.UserInvitationEmail{EmailCommon: c, Role: string(u.Role), Username: u.Person.Username, SignIn: signIn}, nil
	}
	e := &canopy.WelcomeEmail{EmailCommon: c, Username: u.Person.Username, SignIn: signIn}
	if acc.ParentID != "" {
		parent, err := tx.GetAccount(ctx, acc.ParentID)
		if err != nil {
			return nil, err
		}
		if !parent.IsRoot() {
			e.ParentAccountName = parent.Name
		}
	}
	return e, nil
}

// invitationEmail builds an email about an invitation. Emails carry the
// umbrella's brand. An invitation that is no longer pending is not sent.
func (s *Service) invitationEmail(ctx context.Context, tx store.Tx, m *canopy.OutboxMessage, c canopy.EmailCommon, now time.Time) (canopy.Email, error) {
	inv, err := s.invitationForEmail(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	umbrella, err := tx.GetAccount(ctx, inv.UmbrellaID)
	if err != nil {
		return nil, err
	}
	if c.Brand, err = effectiveBrand(ctx, tx, umbrella); err != nil {
		return nil, err
	}
	page := s.cfg.PublicURL + canopy.InvitationPage(inv.ID)
	c.Link, c.ExpiresAt = page, inv.ExpiresAt
	switch m.Template {
	case canopy.TemplateInvitation:
		return s.invitationOffer(ctx, tx, inv, c, page, now)
	case canopy.TemplateInvitationCancelled:
		if inv.InviteeAccountID != "" {
			if invitee, err := tx.GetAccount(ctx, inv.InviteeAccountID); err == nil {
				c.AccountName = invitee.Name
			}
		}
		return &canopy.InvitationNewsEmail{EmailCommon: c, Which: m.Template, OtherAccountName: inv.UmbrellaName}, nil
	}
	// Accepted, declined, expired: to the umbrella, about the invitee.
	// Only an account that accepted is named: of any other the umbrella
	// learns nothing it did not type itself (rule 11, docs/rules.md).
	e := &canopy.InvitationNewsEmail{EmailCommon: c, Which: m.Template, OtherAccountName: inv.Email}
	e.AccountName = umbrella.Name
	if inv.InviteeAccountID != "" {
		e.OtherAccountName = inv.InviteeAccountID
	}
	if m.Template == canopy.TemplateInvitationAccepted && inv.InviteeAccountID != "" {
		invitee, err := tx.GetAccount(ctx, inv.InviteeAccountID)
		if err == nil {
			e.OtherAccountName = invitee.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return e, nil
}

// invitationOffer builds the invitation itself: the umbrella's terms and
// the links that answer it.
func (s *Service) invitationOffer(ctx context.Context, tx store.Tx, inv *canopy.Invitation, c canopy.EmailCommon, page string, now time.Time) (canopy.Email, error) {
	if inv.StatusAt(now) != canopy.InvitationPending {
		return nil, &PermanentError{Reason: "the invitation is no longer pending"}
	}
	e := &canopy.InvitationEmail{
		EmailCommon: c, OtherAccountName: inv.UmbrellaName, Message: inv.Message,
		DeclineLink: page + "?" + canopy.ParamAnswer + "=decline",
		ShareRole:   string(inv.AutoShareRole), UmbrellaPays: inv.Billing == canopy.BillingParent,
		DelegatedAdmin: inv.DelegatedAdmin,
	}
	if inv.InviteeAccountID != "" {
		invitee, err := tx.GetAccount(ctx, inv.InviteeAccountID)
		if err != nil {
			return nil, err
		}
		e.AccountName = invitee.Name
		return e, nil
	}
	e.AccountName = ""
	// A person who proved the address signs in and answers; an address
	// nobody has proved gets the sign-up link, whose token proves it.
	if p, err := tx.GetPersonByEmail(ctx, canopy.NormalizeEmail(inv.Email)); err == nil && p.Verified() {
		return e, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// No account yet: the link signs up and accepts in one go. Each email
	// gets a fresh token; only the newest link works.
	secret, err := canopy.NewSecret(canopy.TokenPrefix)
	if err != nil {
		return nil, err
	}
	if err := tx.SetInvitationToken(ctx, inv.ID, canopy.HashSecret(secret), now); err != nil {
		return nil, err
	}
	e.NewAccount, e.DeclineLink = true, ""
	e.Link = s.cfg.PublicURL + canopy.SignupLink(inv.ID, secret)
	return e, nil
}

// BrandNamespace is the configuration namespace emails take their brand from.
const BrandNamespace = "white_label_portal"

// effectiveBrand reads the account's white_label_portal configuration, or
// the nearest one an ancestor marked inheritable. A payload that is not an object of strings still lets
// the email go out, in the default look.
func effectiveBrand(ctx context.Context, tx store.ConfigTx, acc *canopy.Account) (Brand, error) {
	ids := acc.Path.IDs()
	rows, err := tx.ListConfigurations(ctx, ids)
	if err != nil {
		return Brand{}, err
	}
	cfgs, _ := merge(ids, inherited(acc.ID, rows))
	for _, cfg := range cfgs {
		if cfg.Namespace != BrandNamespace {
			continue
		}
		var v struct {
			BrandName    string `json:"brandName"`
			PrimaryColor string `json:"primaryColor"`
			LogoURL      string `json:"logoUrl"`
		}
		if json.Unmarshal(cfg.Value, &v) == nil {
			return Brand{Name: v.BrandName, PrimaryColor: v.PrimaryColor, LogoURL: v.LogoURL}, nil
		}
	}
	return Brand{}, nil
}

// OutboxSent records delivered messages.
func (s *Service) OutboxSent(ctx context.Context, ids []string) error {
	return s.store.Write(ctx, func(tx store.Tx) error { return tx.MarkOutboxSent(ctx, ids, s.now()) })
}

// Claimed is a message a worker holds: its id and its attempts as the
// claim counted them.
type Claimed struct {
	ID       string
	Attempts int
}

// ReleaseOutbox gives back emails a stopping worker claimed and did not
// try: due again at once for any worker, their attempts uncounted. It
// returns how many it released; one whose lease already passed to
// another worker is left to it.
func (s *Service) ReleaseOutbox(ctx context.Context, msgs []Claimed) (int, error) {
	return s.release(ctx, msgs, store.Tx.ReleaseOutbox)
}

// ReleaseSMS is ReleaseOutbox for text messages.
func (s *Service) ReleaseSMS(ctx context.Context, msgs []Claimed) (int, error) {
	return s.release(ctx, msgs, store.Tx.ReleaseSMS)
}

func (s *Service) release(ctx context.Context, msgs []Claimed, release func(store.Tx, context.Context, string, int) error) (int, error) {
	n := 0
	err := s.store.Write(ctx, func(tx store.Tx) error {
		n = 0
		for _, m := range msgs {
			err := release(tx, ctx, m.ID, m.Attempts)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// OutboxFailed records a failed attempt: the message is retried after an
// exponential backoff with jitter, or marked failed — kept, with the last
// error — once it has used its attempts or when the failure is permanent.
func (s *Service) OutboxFailed(ctx context.Context, m *canopy.OutboxMessage, cause error) error {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		if isPermanent(cause) || m.Attempts >= s.cfg.OutboxMaxAttempts {
			return tx.MarkOutboxFailed(ctx, m.ID, msg)
		}
		return tx.MarkOutboxRetry(ctx, m.ID, s.now().Add(s.retryDelay(m.Attempts)), msg)
	})
}

// retryDelay doubles from OutboxBackoff per attempt up to OutboxMaxBackoff,
// then keeps a random half of it ("equal jitter"), so that many messages
// that failed together do not all come back at once.
func (s *Service) retryDelay(attempts int) time.Duration {
	return backoff(s.cfg.OutboxBackoff, s.cfg.OutboxMaxBackoff, attempts)
}

// backoff is the wait after the attempts-th failure: first, doubling up
// to most, and then each between half and all of that, so that messages
// failing together spread out.
func backoff(first, most time.Duration, attempts int) time.Duration {
	d := first
	for i := 1; i < attempts && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	return d/2 + rand.N(d/2+1)
}

// OutboxQuery narrows an outbox listing.
type OutboxQuery struct {
	Status canopy.OutboxStatus
}

// ListOutbox lists the outbox messages of the acting account's subtree,
// newest first. Only admins and API keys may.
func (s *Service) ListOutbox(ctx context.Context, c Caller, q OutboxQuery, pr PageRequest) (Page[*canopy.OutboxMessage], error) {
	if !c.MayManage() {
		return Page[*canopy.OutboxMessage]{}, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "only admins may read the outbox")
	}
	if err := validOutboxStatus(q.Status); err != nil {
		return Page[*canopy.OutboxMessage]{}, err
	}
	kind := cursorKind(c, "outbox", string(q.Status))
	before, err := s.decodeIDCursor(kind, canopy.PrefixOutbox, pr.Cursor)
	if err != nil {
		return Page[*canopy.OutboxMessage]{}, err
	}
	var rows []*canopy.OutboxMessage
	err = s.read(ctx, func(tx store.Tx) error {
		// An invited sub-account's outbox is its own (rule 2).
		acting, cuts, err := actingWithCuts(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListOutbox(ctx, store.OutboxFilter{Subtree: acting.Path, Except: cuts, Status: q.Status, Before: before, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.OutboxMessage]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(m *canopy.OutboxMessage) string { return m.ID }), nil
}

func validOutboxStatus(st canopy.OutboxStatus) error {
	switch st {
	case "", canopy.OutboxPending, canopy.OutboxSent, canopy.OutboxFailed:
		return nil
	}
	return canopy.BadParam("status", "invalid-enum", "must be pending, sent or failed")
}

// Operator is the outbox as the operator's command line sees it: every
// account, no caller.
type Operator struct{ s *Service }

// Operator returns the operator's view.
func (s *Service) Operator() Operator { return Operator{s} }

// ListOutbox lists messages, newest first, before the id before.
func (op Operator) ListOutbox(ctx context.Context, status canopy.OutboxStatus, before string, limit int) ([]*canopy.OutboxMessage, error) {
	if err := validOutboxStatus(status); err != nil {
		return nil, err
	}
	var rows []*canopy.OutboxMessage
	err := op.s.read(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.ListOutbox(ctx, store.OutboxFilter{Status: status, Before: before, Limit: limit})
		return err
	})
	return rows, err
}

// GetOutbox returns one message.
func (op Operator) GetOutbox(ctx context.Context, id string) (*canopy.OutboxMessage, error) {
	var m *canopy.OutboxMessage
	err := op.s.read(ctx, func(tx store.Tx) error {
		var err error
		m, err = tx.GetOutboxMessage(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, canopy.NotFound("outbox message " + id)
	}
	return m, err
}

// Retry makes messages due again with fresh attempts: the given ids, or
// with none every failed message. It returns how many it requeued.
func (op Operator) Retry(ctx context.Context, ids ...string) (int, error) {
	n := 0
	err := op.s.store.Write(ctx, func(tx store.Tx) error {
		n = 0
		if len(ids) == 0 {
			failed, err := tx.ListOutbox(ctx, store.OutboxFilter{Status: canopy.OutboxFailed, Limit: 100_000})
			if err != nil {
				return err
			}
			for _, m := range failed {
				ids = append(ids, m.ID)
			}
		}
		for _, id := range ids {
			err := tx.RequeueOutbox(ctx, id, op.s.now())
			if errors.Is(err, store.ErrNotFound) {
				return canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "message %s does not exist or was already sent", id)
			}
			if err != nil {
				return fmt.Errorf("requeue %s: %w", id, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// OutboxMaxAttempts is how many attempts a message gets before it fails.
func (s *Service) OutboxMaxAttempts() int { return s.cfg.OutboxMaxAttempts }
