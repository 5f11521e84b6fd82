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

// Brand is the white-label look an email carries, from the account's
// effective white_label_portal configuration (DESIGN: a reseller's clients
// see the reseller's brand).
type Brand struct {
	Name         string
	PrimaryColor string
	LogoURL      string
}

// EmailContent is what a template needs to render one outbox message.
type EmailContent struct {
	Message           *canopy.OutboxMessage
	Brand             Brand
	AccountName       string
	ParentAccountName string
	UserName          string
	Email             string
	Username          string
	Role              string
	// Link is the one-time set-password or reset link, issued now.
	Link      string
	ExpiresAt time.Time
}

// PermanentError marks a message that can never be delivered (its user
// was removed, say): it is failed at once instead of retried.
type PermanentError struct{ Reason string }

func (e *PermanentError) Error() string { return e.Reason }

// ClaimOutbox leases up to limit due messages to this worker.
func (s *Service) ClaimOutbox(ctx context.Context, limit int) ([]*canopy.OutboxMessage, error) {
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
func (s *Service) PrepareEmails(ctx context.Context, msgs []*canopy.OutboxMessage) ([]*EmailContent, []error) {
	contents := make([]*EmailContent, len(msgs))
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

// linkPaths are the pages of the public site that redeem each purpose.
var linkPaths = map[canopy.TokenPurpose]string{
	canopy.PurposeSetPassword: "/set-password",
	canopy.PurposeReset:       "/reset-password",
}

func (s *Service) prepareEmail(ctx context.Context, tx store.Tx, m *canopy.OutboxMessage, now time.Time) (*EmailContent, error) {
	var purpose canopy.TokenPurpose
	switch m.Template {
	case canopy.TemplateWelcome, canopy.TemplateUserInvitation:
		purpose = canopy.PurposeSetPassword
	case canopy.TemplatePasswordReset:
		purpose = canopy.PurposeReset
	default:
		return nil, &PermanentError{Reason: "unknown template " + m.Template}
	}
	u, err := tx.GetUser(ctx, m.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PermanentError{Reason: "the user was removed before the email could be sent"}
	}
	if err != nil {
		return nil, err
	}
	if u.Status == canopy.UserDisabled {
		return nil, &PermanentError{Reason: "the user was disabled before the email could be sent"}
	}
	acc, err := tx.GetAccount(ctx, m.AccountID)
	if err != nil {
		return nil, err
	}
	if acc.Status == canopy.StatusClosed {
		return nil, &PermanentError{Reason: "the account was closed before the email could be sent"}
	}
	c := &EmailContent{
		Message: m, AccountName: acc.Name, UserName: u.Name, Email: m.Recipient, Username: u.Username, Role: string(u.Role),
	}
	if acc.ParentID != "" {
		parent, err := tx.GetAccount(ctx, acc.ParentID)
		if err != nil {
			return nil, err
		}
		if !parent.IsRoot() {
			c.ParentAccountName = parent.Name
		}
	}
	if c.Brand, err = effectiveBrand(ctx, tx, acc); err != nil {
		return nil, err
	}
	secret, err := canopy.NewSecret(canopy.TokenPrefix)
	if err != nil {
		return nil, err
	}
	tok := &canopy.UserToken{
		ID: s.ids.New(canopy.PrefixToken), UserID: u.ID, Purpose: purpose, Hash: canopy.HashSecret(secret),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL),
	}
	if err := tx.InsertUserToken(ctx, tok); err != nil {
		return nil, err
	}
	c.Link = s.cfg.PublicURL + linkPaths[purpose] + "?token=" + secret
	c.ExpiresAt = tok.ExpiresAt
	return c, nil
}

// BrandNamespace is the configuration namespace emails take their brand from.
const BrandNamespace = "white_label_portal"

// effectiveBrand reads the nearest white_label_portal configuration on the
// account's path. A payload that is not an object of strings still lets
// the email go out, in the default look.
func effectiveBrand(ctx context.Context, tx store.Tx, acc *canopy.Account) (Brand, error) {
	ids := acc.Path.IDs()
	rows, err := tx.ListConfigurations(ctx, ids)
	if err != nil {
		return Brand{}, err
	}
	cfgs, _ := merge(ids, rows)
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
	d := s.cfg.OutboxBackoff
	for i := 1; i < attempts && d < s.cfg.OutboxMaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.OutboxMaxBackoff)
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
	const kind = "outbox"
	before, err := decodeIDCursor(kind, canopy.PrefixOutbox, pr.Cursor)
	if err != nil {
		return Page[*canopy.OutboxMessage]{}, err
	}
	var rows []*canopy.OutboxMessage
	err = s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		rows, err = tx.ListOutbox(ctx, store.OutboxFilter{Subtree: acting.Path, Status: q.Status, Before: before, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.OutboxMessage]{}, err
	}
	return paginate(rows, pr.limit(), kind, func(m *canopy.OutboxMessage) string { return m.ID }), nil
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
