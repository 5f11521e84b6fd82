package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// creditType checks that t is one of the installation's credit types.
func (s *Service) creditType(field string, t canopy.CreditType, v *canopy.Validator) {
	if !slices.Contains(s.cfg.CreditTypes, t) {
		names := make([]string, len(s.cfg.CreditTypes))
		for i, ct := range s.cfg.CreditTypes {
			names[i] = string(ct)
		}
		v.Add(field, "invalid-enum", "must be one of the credit types: %s", strings.Join(names, ", "))
	}
}

func validAmount(v *canopy.Validator, field string, n int64) {
	v.Check(n >= 1 && n <= canopy.MaxCreditAmount, field, "out-of-range", "must be a whole number from 1 to %d", canopy.MaxCreditAmount)
}

// payerOf walks rule 8 (docs/rules.md) from the account at path: the accounts on
// the way, nearest first, and the index of the payer among them.
func payerOf(ctx context.Context, tx store.Tx, path canopy.Path) ([]*canopy.Account, int, error) {
	ids := path.IDs()
	accs, err := tx.GetAccounts(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]*canopy.Account, len(accs))
	for _, a := range accs {
		byID[a.ID] = a
	}
	up := make([]*canopy.Account, 0, len(ids))
	steps := make([]canopy.PayerStep, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		a, ok := byID[ids[i]]
		if !ok {
			return nil, 0, fmt.Errorf("account %s on path %s: %w", ids[i], path, store.ErrNotFound)
		}
		step := canopy.PayerStep{AccountID: a.ID, Billing: canopy.BillingSelf}
		if a.Link != nil {
			step.Billing = a.Link.Billing
		}
		up, steps = append(up, a), append(steps, step)
	}
	return up, canopy.Payer(steps), nil
}

// Usage is one metered use of credits.
type Usage struct {
	Type     canopy.CreditType
	Quantity int64
	Reason   string
	Ref      string // what was used: "record:rec_…", "sms:…"
	// Key makes a retry a replay: the same key for the same account is
	// charged once.
	Key string
	// Fresh says that Key names something made in this very write (a new
	// record's id), so no earlier charge can hold it and none is looked
	// for; the ledger's unique key still stands guard.
	Fresh bool
}

// charge draws u from the payer of the account user, within the write, as
// a batch of one (chargeDebits): anything short fails the whole write with
// 402. A usage whose key was charged before returns that entry, charging
// nothing.
func (o *op) charge(user *canopy.Account, u Usage) (entry *canopy.LedgerEntry, replayed bool, err error) {
	outs, err := chargeDebits(o.ctx, o.s, o.tx, o.now, []*debit{{account: user, usage: u, requestID: o.caller.RequestID}})
	if err != nil {
		return nil, false, err
	}
	if err := outs[0].err; err != nil {
		return nil, false, err
	}
	return outs[0].res.Entry, outs[0].res.Replayed, nil
}

// lowBalanceData is a low-balance notice's outbox data.
type lowBalanceData struct {
	Type      canopy.CreditType `json:"type"`
	Threshold int64             `json:"threshold"`
	Balance   int64             `json:"balance"`
}

// balanceHolder is a transaction that takes credits in memory and writes
// the balances at its end (a batch of incoming texts): the low-balance
// notices are its to send then, from the balances as written.
type balanceHolder interface{ holdsBalances() bool }

func (s *Service) noticeLowBalance(ctx context.Context, tx store.Tx, now time.Time, accountID string, t canopy.CreditType, before, after int64) error {
	threshold, crossed := canopy.CrossedThreshold(s.cfg.LowBalanceThresholds, before, after)
	if !crossed {
		return nil
	}
	data, err := json.Marshal(lowBalanceData{Type: t, Threshold: threshold, Balance: after})
	if err != nil {
		return err
	}
	if err := s.emitCreditsEvent(ctx, tx, now, accountID, canopy.EventCreditsLowBalance, data); err != nil {
		return err
	}
	admins, err := accountAdmins(ctx, tx, accountID)
	if err != nil {
		return err
	}
	msgs := make([]*canopy.OutboxMessage, 0, len(admins))
	for _, u := range admins {
		msgs = append(msgs, &canopy.OutboxMessage{
			ID: s.ids.New(canopy.PrefixOutbox), Channel: "email", AccountID: accountID, UserID: u.ID, Recipient: u.Email,
			Template: canopy.TemplateLowBalance, Data: data, Status: canopy.OutboxPending, NextAttemptAt: now, CreatedAt: now,
		})
	}
	return tx.InsertOutboxMessages(ctx, msgs...)
}

// keyMismatch refuses a reference charged before for another usage.
func keyMismatch(prev *canopy.LedgerEntry) error {
	return canopy.InvalidField("reference", canopy.CodeIdempotencyMismatch,
		"was charged before for %d %s credits (entry %s); a reference names one usage", prev.Amount, prev.Type, prev.ID)
}

// capError is the 402 of a usage that would pass the monthly cap l, of
// which used is used.
func capError(l store.CreditLimit, u Usage, used int64) error {
	monthly := l.Monthly
	return &canopy.Error{Kind: canopy.KindPaymentRequired, Code: canopy.CodeChildLimitExceeded,
		Message: fmt.Sprintf("account %s may use %d %s credits a month and has used %d this month; %d more would pass the cap",
			l.AccountID, l.Monthly, u.Type, used, u.Quantity),
		Shortfall: &canopy.Shortfall{Type: u.Type, Needed: u.Quantity, LimitedID: l.AccountID, Monthly: &monthly, Used: &used}}
}

// balanceError is the 402 of a usage its payer's balance cannot cover.
func balanceError(payerID string, u Usage, balance int64) error {
	return &canopy.Error{Kind: canopy.KindPaymentRequired, Code: canopy.CodeInsufficientCredits,
		Message:   fmt.Sprintf("account %s pays for this usage and holds %d %s credits; it needs %d", payerID, balance, u.Type, u.Quantity),
		Shortfall: &canopy.Shortfall{Type: u.Type, Needed: u.Quantity, PayerID: payerID, Balance: &balance}}
}

// UsageInput is a metered event of the product built on Canopy.
type UsageInput struct {
	Type     canopy.CreditType `json:"type"`
	Quantity int64             `json:"quantity"`
	Reason   string            `json:"reason"`
	// Reference names the event (the product's own id for it): a usage
	// with a reference already charged for this account is not charged
	// again. Without one, the request's Idempotency-Key serves.
	Reference string `json:"reference"`
}

// UsageResult is a charged usage: its ledger entry, and whether it was
// charged by an earlier request.
type UsageResult struct {
	Entry    *canopy.LedgerEntry `json:"entry"`
	Replayed bool                `json:"replayed"`
}

// RecordUsage charges a usage by the acting account to its payer.
func (s *Service) RecordUsage(ctx context.Context, c Caller, in UsageInput) (*UsageResult, error) {
	var v canopy.Validator
	s.creditType("type", in.Type, &v)
	validAmount(&v, "quantity", in.Quantity)
	canopy.ValidateText(&v, "reason", in.Reason, 500)
	canopy.ValidateText(&v, "reference", in.Reference, 200)
	if err := v.Err(); err != nil {
		return nil, err
	}
	key, idem := debitKey(ctx, in)
	if idem == nil {
		// Concurrent debits share one transaction (batch.go); a request
		// whose response is stored for its Idempotency-Key runs alone.
		res, err := s.debits.charge(ctx, c, in, key)
		if !errors.Is(err, errRunAlone) {
			return res, err
		}
	}
	return s.recordUsageAlone(ctx, c, in, key)
}

// debitKey is the key that makes a retried usage a replay: its reference,
// else the request's Idempotency-Key, if any.
func debitKey(ctx context.Context, in UsageInput) (string, *Idempotent) {
	idem, _ := ctx.Value(idemKey{}).(*Idempotent)
	switch {
	case in.Reference != "":
		return "ref:" + in.Reference, idem
	case idem != nil:
		// Idempotency-Keys belong to a credential's account, as the HTTP
		// layer scopes them: two credentials' keys never meet.
		return "idem:" + idem.Scope + ":" + idem.Key, idem
	}
	return "", idem
}

// recordUsageAlone is RecordUsage in a write of its own.
func (s *Service) recordUsageAlone(ctx context.Context, c Caller, in UsageInput, key string) (*UsageResult, error) {
	return writeWork(ctx, s, c, func(o *op) (*UsageResult, error) {
		e, replayed, err := o.charge(o.acting, Usage{Type: in.Type, Quantity: in.Quantity, Reason: in.Reason, Ref: "usage", Key: key})
		if err != nil {
			return nil, err
		}
		return &UsageResult{Entry: e, Replayed: replayed}, nil
	})
}

// GrantInput creates credits on an account's balance.
type GrantInput struct {
	Type   canopy.CreditType `json:"type"`
	Amount int64             `json:"amount"`
	Reason string            `json:"reason"`
}

// strictAncestor loads an open account the acting account sits above:
// grants, transfers and caps are for ancestors, never for the account
// itself — also for an umbrella that only sees an invited sub-account
// (rule 2, docs/rules.md).
func (o *op) strictAncestor(id, what string) (*canopy.Account, error) {
	a, _, err := o.seen(id)
	if err != nil {
		return nil, err
	}
	if a.ID == o.acting.ID {
		return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
			"%s an account's credits is for its ancestors (or the platform root); act as one of them", what)
	}
	return a, nil
}

// Grant gives credits to an account: for the platform root and the
// account's ancestors. Only the platform root creates credits (out of
// issuance); any other ancestor's grant comes out of its own balance, or
// a customer could mint credits for a child it bills itself.
func (s *Service) Grant(ctx context.Context, c Caller, accountID string, in GrantInput) (*canopy.LedgerEntry, error) {
	var v canopy.Validator
	s.creditType("type", in.Type, &v)
	validAmount(&v, "amount", in.Amount)
	canopy.ValidateText(&v, "reason", in.Reason, 500)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.LedgerEntry, error) {
		// The platform root issues credits, to itself too; everyone else
		// grants to the accounts below it.
		var a *canopy.Account
		var err error
		if o.acting.IsRoot() {
			a, err = o.open(accountID)
		} else {
			a, err = o.strictAncestor(accountID, "granting")
		}
		if err != nil {
			return nil, err
		}
		e := &canopy.LedgerEntry{
			ID: s.ids.New(canopy.PrefixLedgerEntry), At: o.now, Kind: canopy.EntryGrant, Type: in.Type, Amount: in.Amount,
			Debit: canopy.BookIssuance, Credit: a.ID, Reason: in.Reason, RequestID: c.RequestID,
		}
		if !o.acting.IsRoot() {
			e.Debit = o.acting.ID
		}
		if err := o.tx.InsertLedgerEntry(ctx, e); err != nil {
			return nil, err
		}
		if e.Debit == o.acting.ID {
			if err := o.takeOwn(in.Type, in.Amount, "give"); err != nil {
				return nil, err
			}
		}
		if err := o.tx.AddCredits(ctx, a.ID, in.Type, in.Amount, o.now); err != nil {
			return nil, err
		}
		o.audit(a.ID, "credits.granted", "ledgerEntry", e.ID, map[string]any{"type": in.Type, "amount": in.Amount})
		return e, nil
	})
}

// Transfer moves credits from the acting account's own balance to a
// descendant's.
func (s *Service) Transfer(ctx context.Context, c Caller, accountID string, in GrantInput) (*canopy.LedgerEntry, error) {
	var v canopy.Validator
	s.creditType("type", in.Type, &v)
	validAmount(&v, "amount", in.Amount)
	canopy.ValidateText(&v, "reason", in.Reason, 500)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.LedgerEntry, error) {
		a, err := o.strictAncestor(accountID, "transferring to")
		if err != nil {
			return nil, err
		}
		e := &canopy.LedgerEntry{
			ID: s.ids.New(canopy.PrefixLedgerEntry), At: o.now, Kind: canopy.EntryTransfer, Type: in.Type, Amount: in.Amount,
			Debit: o.acting.ID, Credit: a.ID, Reason: in.Reason, RequestID: c.RequestID,
		}
		if err := o.tx.InsertLedgerEntry(ctx, e); err != nil {
			return nil, err
		}
		if err := o.takeOwn(in.Type, in.Amount, "transfer"); err != nil {
			return nil, err
		}
		if err := o.tx.AddCredits(ctx, a.ID, in.Type, in.Amount, o.now); err != nil {
			return nil, err
		}
		o.audit(a.ID, "credits.transferred", "ledgerEntry", e.ID, map[string]any{"type": in.Type, "amount": in.Amount, "from": o.acting.ID})
		return e, nil
	})
}

// takeOwn takes credits the acting account gives away from its own
// balance.
func (o *op) takeOwn(t canopy.CreditType, amount int64, verb string) error {
	ok, balance, err := o.tx.TakeCredits(o.ctx, o.acting.ID, t, amount, o.now)
	if err != nil {
		return err
	}
	if !ok {
		return &canopy.Error{Kind: canopy.KindPaymentRequired, Code: canopy.CodeInsufficientCredits,
			Message:   fmt.Sprintf("account %s holds %d %s credits; it cannot %s %d", o.acting.ID, balance, t, verb, amount),
			Shortfall: &canopy.Shortfall{Type: t, Needed: amount, PayerID: o.acting.ID, Balance: &balance}}
	}
	return o.s.noticeLowBalance(o.ctx, o.tx, o.now, o.acting.ID, t, balance+amount, balance)
}

// Credits is an account's credits as GET …/credits shows them.
type Credits struct {
	AccountID string        `json:"accountId"`
	Balances  []TypeAmount  `json:"balances"`
	Payer     CreditsPayer  `json:"payer"`
	Limits    []LimitStatus `json:"limits"`
}

// TypeAmount is an amount of one credit type.
type TypeAmount struct {
	Type   canopy.CreditType `json:"type"`
	Amount int64             `json:"amount"`
}

// CreditsPayer says who pays for the account's usage and what it may
// still draw: the payer's balance, less what the caps on the way allow.
type CreditsPayer struct {
	AccountID      string       `json:"accountId"`
	PaidByAncestor bool         `json:"paidByAncestor"`
	Available      []TypeAmount `json:"available"`
}

// LimitStatus is a cap on the account and what it used of it this month.
type LimitStatus struct {
	Type      canopy.CreditType `json:"type"`
	Monthly   int64             `json:"monthly"`
	UsedMonth int64             `json:"usedThisMonth"`
	Month     string            `json:"month"`
	SetBy     string            `json:"setBy"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// GetCredits returns an account's balances, its payer and what it may
// still draw, and the caps on it. An umbrella that only sees an invited
// sub-account reads the credits it pays for (rule 2, docs/rules.md): the
// payer and the caps, and what the sub-account may still draw when the
// payer is on the umbrella's side — not the sub-account's own balances.
func (s *Service) GetCredits(ctx context.Context, c Caller, accountID string) (*Credits, error) {
	var out *Credits
	err := s.read(ctx, func(tx store.Tx) error {
		a, reach, err := seenIn(ctx, tx, c, accountID)
		if err != nil {
			return err
		}
		defer func() {
			if reach == canopy.ReachSee && out != nil {
				out.Balances = []TypeAmount{}
				if !out.Payer.PaidByAncestor {
					out.Payer.Available = []TypeAmount{}
				}
			}
		}()
		month := canopy.MonthOf(s.now())
		out = &Credits{AccountID: a.ID, Balances: []TypeAmount{}, Limits: []LimitStatus{}}
		own, err := tx.Balances(ctx, a.ID)
		if err != nil {
			return err
		}
		up, payer, err := payerOf(ctx, tx, a.Path)
		if err != nil {
			return err
		}
		payerBalances := own
		if payer > 0 {
			if payerBalances, err = tx.Balances(ctx, up[payer].ID); err != nil {
				return err
			}
		}
		out.Payer = CreditsPayer{AccountID: up[payer].ID, PaidByAncestor: payer > 0, Available: []TypeAmount{}}
		ids := make([]string, len(up))
		for i, x := range up {
			ids[i] = x.ID
		}
		for _, t := range s.cfg.CreditTypes {
			out.Balances = append(out.Balances, TypeAmount{t, amountOf(own, t)})
			avail := amountOf(payerBalances, t)
			limits, err := tx.CreditLimits(ctx, ids, t)
			if err != nil {
				return err
			}
			for _, l := range limits {
				used, err := tx.MonthUsage(ctx, l.AccountID, t, month)
				if err != nil {
					return err
				}
				avail = min(avail, max(0, l.Monthly-used))
				if l.AccountID == a.ID {
					out.Limits = append(out.Limits, LimitStatus{Type: t, Monthly: l.Monthly, UsedMonth: used, Month: month, SetBy: l.SetBy, UpdatedAt: l.UpdatedAt})
				}
			}
			out.Payer.Available = append(out.Payer.Available, TypeAmount{t, avail})
		}
		return nil
	})
	return out, err
}

func amountOf(bs []store.Balance, t canopy.CreditType) int64 {
	for _, b := range bs {
		if b.Type == t {
			return b.Balance
		}
	}
	return 0
}

// LimitInput caps what an account's subtree may use of a credit type in a
// calendar month (UTC).
type LimitInput struct {
	Type    canopy.CreditType `json:"type"`
	Monthly *int64            `json:"monthly"`
}

// SetLimit puts a monthly cap on an account (its ancestors only). The
// month's usage so far counts against it at once.
func (s *Service) SetLimit(ctx context.Context, c Caller, accountID string, in LimitInput) (*LimitStatus, error) {
	var v canopy.Validator
	s.creditType("type", in.Type, &v)
	if in.Monthly == nil {
		v.Add("monthly", "required", "is required: the credits the account may use a month (0 stops its usage)")
	} else {
		v.Check(*in.Monthly >= 0 && *in.Monthly <= canopy.MaxCreditAmount, "monthly", "out-of-range", "must be from 0 to %d", canopy.MaxCreditAmount)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*LimitStatus, error) {
		a, err := o.strictAncestor(accountID, "capping")
		if err != nil {
			return nil, err
		}
		l := &store.CreditLimit{AccountID: a.ID, Type: in.Type, Monthly: *in.Monthly, SetBy: o.acting.ID, UpdatedAt: o.now}
		if err := o.tx.PutCreditLimit(ctx, l); err != nil {
			return nil, err
		}
		month := canopy.MonthOf(o.now)
		start, _ := time.Parse("2006-01", month)
		rows, err := o.tx.UsageByPrefix(ctx, a.Path, len(a.Path), start, start.AddDate(0, 1, 0))
		if err != nil {
			return nil, err
		}
		var used int64
		for _, r := range rows {
			if r.Type == in.Type {
				used += r.Amount
			}
		}
		if err := o.tx.SetMonthUsage(ctx, a.ID, in.Type, month, max(0, used)); err != nil {
			return nil, err
		}
		o.audit(a.ID, "credits.limitSet", "account", a.ID, map[string]any{"type": in.Type, "monthly": *in.Monthly})
		return &LimitStatus{Type: in.Type, Monthly: l.Monthly, UsedMonth: max(0, used), Month: month, SetBy: l.SetBy, UpdatedAt: l.UpdatedAt}, nil
	})
}

// DeleteLimit lifts a cap.
func (s *Service) DeleteLimit(ctx context.Context, c Caller, accountID string, t canopy.CreditType) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		a, err := o.strictAncestor(accountID, "capping")
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteCreditLimit(ctx, a.ID, t); isNotFound(err) {
			return struct{}{}, canopy.NotFound("limit")
		} else if err != nil {
			return struct{}{}, err
		}
		o.audit(a.ID, "credits.limitDeleted", "account", a.ID, map[string]any{"type": t})
		return struct{}{}, nil
	})
	return err
}

// LedgerQuery narrows a ledger listing.
type LedgerQuery struct {
	Type     canopy.CreditType
	Kind     canopy.EntryKind
	From, To time.Time
}

// ListLedger lists the entries on either side of an account, newest first.
// An umbrella that only sees an invited sub-account lists the entries
// between the sub-account and the accounts it acts on above it (rule 2,
// docs/rules.md).
func (s *Service) ListLedger(ctx context.Context, c Caller, accountID string, q LedgerQuery, pr PageRequest) (Page[*canopy.LedgerEntry], error) {
	kind := cursorKind(c, "ledger", accountID, string(q.Type), string(q.Kind), q.From.String(), q.To.String())
	before, err := s.decodeIDCursor(kind, canopy.PrefixLedgerEntry, pr.Cursor)
	if err != nil {
		return Page[*canopy.LedgerEntry]{}, err
	}
	if q.Kind != "" && !q.Kind.Valid() {
		return Page[*canopy.LedgerEntry]{}, canopy.BadParam("kind", "invalid-enum", "must be grant, transfer, usage or refund")
	}
	if q.Type != "" && !slices.Contains(s.cfg.CreditTypes, q.Type) {
		return Page[*canopy.LedgerEntry]{}, canopy.BadParam("type", "invalid-enum", "is not one of the credit types")
	}
	var rows []*canopy.LedgerEntry
	err = s.read(ctx, func(tx store.Tx) error {
		a, reach, err := seenIn(ctx, tx, c, accountID)
		if err != nil {
			return err
		}
		f := store.LedgerFilter{AccountID: a.ID, Type: q.Type, Kind: q.Kind, From: q.From, To: q.To,
			Before: before, Limit: pr.limit() + 1}
		if reach == canopy.ReachSee {
			f.Counterparts = a.Path.Between(c.Acting.ID)
			f.Counterparts = append([]string{c.Acting.ID}, f.Counterparts[:len(f.Counterparts)-1]...)
		}
		rows, err = tx.ListLedger(ctx, f)
		return err
	})
	if err != nil {
		return Page[*canopy.LedgerEntry]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(e *canopy.LedgerEntry) string { return e.ID }), nil
}

// UsageReport is an account's subtree's net usage in a period, per child.
type UsageReport struct {
	AccountID string       `json:"accountId"`
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	GroupBy   string       `json:"groupBy"`
	Groups    []UsageGroup `json:"groups"`
	Total     []TypeAmount `json:"total"`
}

// UsageGroup is the usage of one child's subtree (or of the account
// itself, with self true).
type UsageGroup struct {
	AccountID string       `json:"accountId"`
	Self      bool         `json:"self"`
	Usage     []TypeAmount `json:"usage"`
}

// GetUsage rolls an account's subtree's usage up per child over [from, to)
// (default: this calendar month, UTC), so an umbrella can bill its
// clients. groupBy is "child" (the default) or "none". An umbrella that
// only sees an invited sub-account gets its subtree's usage as one total:
// grouping by child would list below it (rule 2, docs/rules.md).
func (s *Service) GetUsage(ctx context.Context, c Caller, accountID string, from, to time.Time, groupBy string) (*UsageReport, error) {
	if groupBy == "" {
		groupBy = "child"
	}
	if groupBy != "child" && groupBy != "none" {
		return nil, canopy.BadParam("groupBy", "invalid-enum", "must be child or none")
	}
	if from.IsZero() && to.IsZero() {
		start, _ := time.Parse("2006-01", canopy.MonthOf(s.now()))
		from, to = start, start.AddDate(0, 1, 0)
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return nil, canopy.BadParam("from", "invalid-range", "from and to go together, from before to")
	}
	var out *UsageReport
	err := s.read(ctx, func(tx store.Tx) error {
		a, reach, err := seenIn(ctx, tx, c, accountID)
		if err != nil {
			return err
		}
		if reach == canopy.ReachSee {
			groupBy = "none"
		}
		prefix := len(a.Path)
		if groupBy == "child" {
			prefix += len(a.ID) + 1 // one more "acc_…/" segment: ids all have one length
		}
		rows, err := tx.UsageByPrefix(ctx, a.Path, prefix, from, to)
		if err != nil {
			return err
		}
		out = &UsageReport{AccountID: a.ID, From: from.UTC(), To: to.UTC(), GroupBy: groupBy, Groups: []UsageGroup{}, Total: []TypeAmount{}}
		totals := map[canopy.CreditType]int64{}
		for _, r := range rows {
			ids := r.Prefix.IDs()
			id := ids[len(ids)-1]
			if n := len(out.Groups); n == 0 || out.Groups[n-1].AccountID != id {
				out.Groups = append(out.Groups, UsageGroup{AccountID: id, Self: id == a.ID, Usage: []TypeAmount{}})
			}
			g := &out.Groups[len(out.Groups)-1]
			g.Usage = append(g.Usage, TypeAmount{r.Type, r.Amount})
			totals[r.Type] += r.Amount
		}
		for _, t := range s.cfg.CreditTypes {
			out.Total = append(out.Total, TypeAmount{t, totals[t]})
		}
		return nil
	})
	return out, err
}

// Mismatch is a balance that differs from its ledger.
type Mismatch struct {
	AccountID string
	Type      canopy.CreditType
	Balance   int64 // stored
	Ledger    int64 // sum of entries
}

// VerifyCredits proves the ledger invariant: every stored balance equals
// its entries' credits less debits, no balance is negative, the books
// balance (issuance less consumption equals the sum of balances), and the
// usage rollups — by path and day, by path and month, by payer and day —
// equal the ledger's usage. It reads one snapshot.
func (s *Service) VerifyCredits(ctx context.Context) (mismatches []Mismatch, balances int, err error) {
	err = s.read(ctx, func(tx store.Tx) error {
		stored, err := tx.AllBalances(ctx)
		if err != nil {
			return err
		}
		sums, err := tx.LedgerSums(ctx)
		if err != nil {
			return err
		}
		balances = len(stored)
		type key struct {
			acc string
			t   canopy.CreditType
		}
		ledger := map[key]int64{}
		books := map[canopy.CreditType]int64{}
		for _, b := range sums {
			if b.AccountID == canopy.BookIssuance || b.AccountID == canopy.BookConsumption {
				books[b.Type] += b.Balance
				continue
			}
			ledger[key{b.AccountID, b.Type}] = b.Balance
		}
		held := map[canopy.CreditType]int64{}
		for _, b := range stored {
			k := key{b.AccountID, b.Type}
			if b.Balance != ledger[k] || b.Balance < 0 {
				mismatches = append(mismatches, Mismatch{b.AccountID, b.Type, b.Balance, ledger[k]})
			}
			held[b.Type] += b.Balance
			delete(ledger, k)
		}
		for k, sum := range ledger {
			if sum != 0 {
				mismatches = append(mismatches, Mismatch{k.acc, k.t, 0, sum})
			}
		}
		for t, sum := range books {
			if sum+held[t] != 0 {
				mismatches = append(mismatches, Mismatch{"(books)", t, held[t], -sum})
			}
		}
		// The usage rollups that reports read (by path, by day and by
		// month) and balance histories read (by payer) agree with the
		// ledger.
		byPath, err := tx.UsageTotals(ctx, true)
		if err != nil {
			return err
		}
		daily, err := tx.UsageTotals(ctx, false)
		if err != nil {
			return err
		}
		monthly, err := tx.MonthlyUsageTotals(ctx)
		if err != nil {
			return err
		}
		byPayer, err := tx.PayerUsageTotals(ctx, true)
		if err != nil {
			return err
		}
		paid, err := tx.PayerUsageTotals(ctx, false)
		if err != nil {
			return err
		}
		mismatches = append(mismatches, rollupMismatches(usageOf("usage of", byPath), usageOf("usage of", daily))...)
		mismatches = append(mismatches, rollupMismatches(usageOf("monthly usage of", byPath), usageOf("monthly usage of", monthly))...)
		mismatches = append(mismatches, rollupMismatches(paidBy(byPayer), paidBy(paid))...)
		return nil
	})
	return mismatches, balances, err
}

// usageOf names each path's totals for a mismatch: "(label path)".
func usageOf(label string, rows []store.UsageRow) []store.Balance {
	out := make([]store.Balance, len(rows))
	for i, r := range rows {
		out[i] = store.Balance{AccountID: "(" + label + " " + string(r.Prefix) + ")", Type: r.Type, Balance: r.Amount}
	}
	return out
}

// paidBy names each payer's totals for a mismatch: "(usage paid by id)".
func paidBy(rows []store.Balance) []store.Balance {
	for i := range rows {
		rows[i].AccountID = "(usage paid by " + rows[i].AccountID + ")"
	}
	return rows
}

// rollupMismatches lists the totals, by owner and type, in which a
// rollup's rows differ from the ledger's.
func rollupMismatches(fromLedger, rolled []store.Balance) []Mismatch {
	type key struct {
		owner string
		t     canopy.CreditType
	}
	want := map[key]int64{}
	for _, r := range fromLedger {
		want[key{r.AccountID, r.Type}] = r.Balance
	}
	var out []Mismatch
	for _, r := range rolled {
		k := key{r.AccountID, r.Type}
		if r.Balance != want[k] {
			out = append(out, Mismatch{r.AccountID, r.Type, r.Balance, want[k]})
		}
		delete(want, k)
	}
	for k, sum := range want {
		if sum != 0 {
			out = append(out, Mismatch{k.owner, k.t, 0, sum})
		}
	}
	return out
}
