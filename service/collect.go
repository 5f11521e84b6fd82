package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Collecting data by SMS (docs/rules.md, "Collecting data from the field"): a form
// has a code, numbers are authorised per mode, and each authorised number
// gets a one-time message telling it how to send the form's answers. Every
// text is paid by the payer of the account that set the collection up
// (rule 8 (docs/rules.md)).

// CodeFormCodeTaken answers a code another form holds.
const CodeFormCodeTaken = "form-code-taken"

// MaxCollectorMessage bounds the introduction of a one-time message.
const MaxCollectorMessage = 320

// SMSSettings is how a form collects by SMS, as the console's Sharing tab
// shows it.
type SMSSettings struct {
	FormID string `json:"formId"`
	// Code names the form in texts; null until the form first collects by
	// SMS (or its owner chooses one).
	Code *string `json:"code"`
	// Number is the installation's number that collectors text; null when
	// no provider number is configured.
	Number     *string  `json:"number"`
	Separators []string `json:"separators"`
	// Structured is what a structured collector texts: the code and one
	// placeholder per question, in order. Null without a code.
	Structured *string `json:"structured"`
	Collectors struct {
		Structured  int `json:"structured"`
		Interactive int `json:"interactive"`
	} `json:"collectors"`
	// ConversationIdleSeconds is how long an interactive conversation
	// waits for a reply before it ends unsaved.
	ConversationIdleSeconds int64 `json:"conversationIdleSeconds"`
}

func (s *Service) smsSettings(ctx context.Context, tx store.CollectTx, f *canopy.Form) (*SMSSettings, error) {
	out := &SMSSettings{FormID: f.ID, Separators: strings.Split(canopy.StructuredSeparators, ""),
		ConversationIdleSeconds: int64(s.cfg.SMSConversationIdle.Seconds())}
	if s.cfg.SMSNumber != "" {
		out.Number = &s.cfg.SMSNumber
	}
	code, err := tx.GetFormCode(ctx, f.ID)
	switch {
	case err == nil:
		out.Code = &code
		example := structuredTemplate(f, code)
		out.Structured = &example
	case !isNotFound(err):
		return nil, err
	}
	counts, err := tx.CountSMSCollectors(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	out.Collectors.Structured, out.Collectors.Interactive = counts[canopy.SMSStructured], counts[canopy.SMSInteractive]
	return out, nil
}

// GetSMSSettings returns how a form collects by SMS; a role that edits the
// form's data may read it.
func (s *Service) GetSMSSettings(ctx context.Context, c Caller, formID string) (*SMSSettings, error) {
	var out *SMSSettings
	err := s.readForm(ctx, c, formID, canopy.EditData, func(tx store.Tx, f *canopy.Form) error {
		var err error
		out, err = s.smsSettings(ctx, tx, f)
		return err
	})
	return out, err
}

// readForm runs fn in a read, on a form the acting account may act on
// with action.
func (s *Service) readForm(ctx context.Context, c Caller, formID string, action canopy.Action, fn func(tx store.Tx, f *canopy.Form) error) error {
	return s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		f, _, err := s.formFor(ctx, tx, acting.Path, formID, action)
		if err != nil {
			return err
		}
		return fn(tx, f)
	})
}

// SMSSettingsPatch changes how a form collects by SMS.
type SMSSettingsPatch struct {
	Code *string `json:"code"`
}

// UpdateSMSSettings changes a form's code; only its owner may. A code
// another form holds answers 409 form-code-taken. Texts sent before keep
// the old code, which stops working at once.
func (s *Service) UpdateSMSSettings(ctx context.Context, c Caller, formID string, p SMSSettingsPatch) (*SMSSettings, error) {
	var v canopy.Validator
	if p.Code != nil {
		canopy.ValidateFormCode(&v, "code", strings.TrimSpace(*p.Code))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*SMSSettings, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.ShareOrDelete)
		if err != nil {
			return nil, err
		}
		if p.Code != nil {
			code := canopy.NormalizeFormCode(*p.Code)
			old, err := o.tx.GetFormCode(ctx, f.ID)
			if err != nil && !isNotFound(err) {
				return nil, err
			}
			if old != code {
				if err := o.tx.SetFormCode(ctx, f.ID, code, o.now); store.Conflict(err) == store.UniqueFormCode {
					return nil, canopy.ConflictField("code", CodeFormCodeTaken, "%s is the code of another form; choose another", code)
				} else if err != nil {
					return nil, err
				}
				o.audit(f.OwnerID, "form.smsCodeSet", "form", f.ID, map[string]string{"code": code, "previous": old})
			}
		}
		return s.smsSettings(ctx, o.tx, f)
	})
}

// formCode returns a form's code, giving it a random default one (U and
// five digits, more when those run short) the first time it collects by
// SMS.
func (o *op) formCode(f *canopy.Form) (string, error) {
	code, err := o.tx.GetFormCode(o.ctx, f.ID)
	if !isNotFound(err) {
		return code, err
	}
	for attempt := range 40 {
		digits := 5 + attempt/10
		code = fmt.Sprintf("U%0*d", digits, rand.IntN(pow10(digits)))
		ok, err := o.tx.InsertFormCode(o.ctx, f.ID, code, o.now)
		if err != nil {
			return "", err
		}
		if ok {
			o.audit(f.OwnerID, "form.smsCodeSet", "form", f.ID, map[string]string{"code": code})
			return code, nil
		}
	}
	return "", fmt.Errorf("no free form code for %s after 40 tries", f.ID)
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// CollectorsInput authorises numbers to send a form's data by SMS.
type CollectorsInput struct {
	Numbers []string       `json:"numbers"`
	Mode    canopy.SMSMode `json:"mode"`
	// Message introduces the one-time message (default: the form's name);
	// the instructions (structured) or the first question (interactive)
	// follow it.
	Message string `json:"message"`
}

// CollectorsAdded is what authorising numbers did: the collectors, and
// the one-time messages queued and charged as one usage entry.
type CollectorsAdded struct {
	FormID     string                 `json:"formId"`
	Code       string                 `json:"code"`
	Mode       canopy.SMSMode         `json:"mode"`
	Collectors []*canopy.SMSCollector `json:"collectors"`
	// ChargeEntryID is the usage entry and PayerID the account it
	// debited, Credits the message credits (empty and 0 when every number
	// had opted out).
	ChargeEntryID string      `json:"chargeEntryId"`
	PayerID       string      `json:"payerId"`
	Credits       int64       `json:"credits"`
	Messages      []SMSQueued `json:"messages"`
}

func validateCollectors(in CollectorsInput) error {
	var v canopy.Validator
	switch {
	case in.Mode == "":
		v.Add("mode", "required", "is required: structured (all answers in one text) or interactive (one question per text)")
	case !in.Mode.Valid():
		v.Add("mode", "invalid-enum", "must be structured or interactive")
	}
	canopy.ValidateText(&v, "message", in.Message, MaxCollectorMessage)
	switch {
	case len(in.Numbers) == 0:
		v.Add("numbers", "required", "must list 1 to %d phone numbers", canopy.MaxSMSRecipients)
	case len(in.Numbers) > canopy.MaxSMSRecipients:
		v.Add("numbers", "too-many", "must list at most %d phone numbers", canopy.MaxSMSRecipients)
	default:
		seen := make(map[string]int, len(in.Numbers))
		for i, n := range in.Numbers {
			f := fmt.Sprintf("numbers[%d]", i)
			if !canopy.ValidE164(n) {
				v.Add(f, "invalid-phone", "must be an E.164 phone number: a plus and 7 to 15 digits, such as +15551234567")
				continue
			}
			if j, dup := seen[n]; dup {
				v.Add(f, "duplicate", "is the same number as numbers[%d]", j)
				continue
			}
			seen[n] = i
		}
	}
	return v.Err()
}

// AddCollectors authorises numbers to send a form's data by SMS in one
// mode and queues each its one-time message: how to text the form
// (structured) or the form's first question, which starts a conversation
// (interactive). A number authorised before changes to this mode and gets
// the message again. The acting account needs a role that edits the
// form's data; it pays, through its payer, one message credit per
// message, in this transaction (402 authorises nothing). A number on the
// opt-out list is authorised but sent nothing. An account whose effective
// plan is basic may authorise one number, to try it; more needs pro.
// Errors: 402, 403, 404, 422.
func (s *Service) AddCollectors(ctx context.Context, c Caller, formID string, in CollectorsInput) (*CollectorsAdded, error) {
	if err := validateCollectors(in); err != nil {
		return nil, err
	}
	return writeWork(ctx, s, c, func(o *op) (*CollectorsAdded, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return nil, err
		}
		if in.Mode == canopy.SMSInteractive && len(f.Questions) == 0 {
			return nil, canopy.InvalidField("mode", "no-questions", "the form has no questions to ask one by one; add questions first")
		}
		if err := o.checkCollectorPlan(in.Numbers); err != nil {
			return nil, err
		}
		code, err := o.formCode(f)
		if err != nil {
			return nil, err
		}
		out, err := o.tx.OptedOut(ctx, in.Numbers)
		if err != nil {
			return nil, err
		}
		body := oneTimeMessage(f, code, in.Mode, in.Message, s.cfg.SMSNumber)
		var texts []textOut
		for _, n := range in.Numbers {
			if !slices.Contains(out, n) {
				texts = append(texts, textOut{to: n, body: body})
			}
		}
		e, msgs, err := o.queueTexts(f.ID, in.Mode, texts)
		if err != nil {
			return nil, err
		}
		res := &CollectorsAdded{FormID: f.ID, Code: code, Mode: in.Mode, Messages: queuedView(msgs)}
		if e != nil {
			res.ChargeEntryID, res.PayerID, res.Credits = e.ID, e.Debit, e.Amount
		}
		sent := map[string]string{}
		for _, m := range msgs {
			sent[m.To] = m.ID
		}
		for _, n := range in.Numbers {
			col := &canopy.SMSCollector{FormID: f.ID, Number: n, Mode: in.Mode, AccountID: o.acting.ID, Message: in.Message,
				MessageID: sent[n], State: canopy.CollectorPending, CreatedAt: o.now, UpdatedAt: o.now}
			if col.MessageID == "" {
				col.State = canopy.CollectorOptedOut
			}
			if err := o.tx.PutSMSCollector(ctx, col); err != nil {
				return nil, err
			}
			// Whatever conversation the number had on the form ends; in
			// interactive mode the one-time message asks question 1 again.
			if err := o.tx.DeleteSMSConversations(ctx, n, f.ID); err != nil {
				return nil, err
			}
			if in.Mode == canopy.SMSInteractive && col.MessageID != "" {
				if err := o.tx.PutSMSConversation(ctx, &canopy.SMSConversation{Number: n, FormID: f.ID, StartedAt: o.now, UpdatedAt: o.now}); err != nil {
					return nil, err
				}
			}
			stored, err := o.tx.GetSMSCollector(ctx, f.ID, n)
			if err != nil {
				return nil, err
			}
			res.Collectors = append(res.Collectors, stored)
		}
		o.audit(f.OwnerID, "form.smsCollectorsAdded", "form", f.ID, map[string]any{
			"mode": in.Mode, "numbers": len(in.Numbers), "messages": len(msgs), "accountId": o.acting.ID, "payerId": res.PayerID})
		return res, nil
	})
}

// checkCollectorPlan lets an account on the basic plan (effectively)
// authorise one number across its forms, as a trial; pro and above any.
func (o *op) checkCollectorPlan(numbers []string) error {
	if o.acting.EffectivePlan() != canopy.PlanBasic {
		return nil
	}
	have, err := o.tx.AccountCollectorNumbers(o.ctx, o.acting.ID, 2)
	if err != nil {
		return err
	}
	all := slices.Clone(have)
	for _, n := range numbers {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	if len(all) > 1 {
		return canopy.Errorf(canopy.KindForbidden, canopy.CodePlanNotAllowed,
			"account %s is on the basic plan, which may authorise one number to try SMS collection; more need the pro plan", o.acting.ID)
	}
	return nil
}

// CollectorQuery narrows a collector listing.
type CollectorQuery struct {
	Mode canopy.SMSMode
}

// ListCollectors lists a form's authorised numbers with their state, by
// number; a role that edits the form's data may.
func (s *Service) ListCollectors(ctx context.Context, c Caller, formID string, q CollectorQuery, pr PageRequest) (Page[*canopy.SMSCollector], error) {
	kind := cursorKind(c, "collectors", formID, string(q.Mode))
	after, err := s.decodeCursor(kind, pr.Cursor)
	if err != nil {
		return Page[*canopy.SMSCollector]{}, err
	}
	if q.Mode != "" && !q.Mode.Valid() {
		return Page[*canopy.SMSCollector]{}, canopy.BadParam("mode", "invalid-enum", "must be structured or interactive")
	}
	var rows []*canopy.SMSCollector
	err = s.readForm(ctx, c, formID, canopy.EditData, func(tx store.Tx, f *canopy.Form) error {
		var err error
		rows, err = tx.ListSMSCollectors(ctx, f.ID, q.Mode, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.SMSCollector]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(c *canopy.SMSCollector) string { return c.Number }), nil
}

// DeleteCollector withdraws a number's authorisation (and ends its
// conversation): its texts are ignored from now on.
func (s *Service) DeleteCollector(ctx context.Context, c Caller, formID, number string) error {
	if !canopy.ValidE164(number) {
		return canopy.BadParam("number", "invalid-phone", "must be an E.164 phone number such as +15551234567")
	}
	_, err := writeWork(ctx, s, c, func(o *op) (struct{}, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.EditData)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteSMSCollector(ctx, f.ID, number); isNotFound(err) {
			return struct{}{}, canopy.NotFound("collector")
		} else if err != nil {
			return struct{}{}, err
		}
		o.audit(f.OwnerID, "form.smsCollectorRemoved", "form", f.ID, map[string]string{"accountId": o.acting.ID})
		return struct{}{}, nil
	})
	return err
}
