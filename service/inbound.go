package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Incoming texts (the provider's webhook, or `canopy sms inbound`): the
// keywords every number answers to, structured texts that make a record
// each, and replies that carry an interactive conversation on. Whatever
// the text, the provider gets the same empty answer; what it did is in
// InboundResult.

// InboundOutcome says what became of an incoming text.
type InboundOutcome string

// The outcomes.
const (
	InboundDuplicate InboundOutcome = "duplicate" // a provider's retry of a text taken in before
	InboundIgnored   InboundOutcome = "ignored"   // not from a number authorised for what it sent
	InboundOptedOut  InboundOutcome = "optedOut"  // STOP: nothing is sent to the number any more
	InboundOptedIn   InboundOutcome = "optedIn"   // START
	InboundHelp      InboundOutcome = "help"
	InboundRecord    InboundOutcome = "record"   // a record was saved
	InboundInvalid   InboundOutcome = "invalid"  // a wrong answer; the collector was told what to send
	InboundStarted   InboundOutcome = "started"  // an interactive conversation began
	InboundAnswered  InboundOutcome = "answered" // an answer was taken; the next question went out
	InboundNoCredit  InboundOutcome = "noCredit" // the payer could not cover the record: nothing was written
)

// InboundResult is what an incoming text did.
type InboundResult struct {
	Outcome  InboundOutcome `json:"outcome"`
	FormID   string         `json:"formId,omitempty"`
	RecordID string         `json:"recordId,omitempty"`
	Replies  []SMSQueued    `json:"replies"`
}

// The channel and actor type that field collection's audit events carry.
const (
	ChannelSMS     = "sms"
	ChannelWeb     = "web"
	ActorCollector = "smsCollector"
	ActorFormLink  = "formLink"
)

const (
	maxProviderSID = 64
	// maxProviderNumber bounds the numbers a provider names: E.164 takes
	// 16 bytes, a channel prefix ("whatsapp:") a few more.
	maxProviderNumber = 64
	// inboundKeepDays is how long a provider message id is remembered.
	inboundKeepDays = 7
)

// ReceiveSMS takes in one text as the provider delivered it, in one
// transaction, exactly once per provider message id: a retry of a text
// taken in before does nothing (InboundDuplicate). Texts from numbers
// that are not authorised for what they send are ignored. requestID goes
// into the audit trail. Errors: 422 for a text the provider could not
// have sent (no message id, a body that is not text, or longer than a
// concatenated SMS); anything else is internal, and the provider retries.
func (s *Service) ReceiveSMS(ctx context.Context, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	var v canopy.Validator
	v.Check(in.SID != "" && len(in.SID) <= maxProviderSID && printable(in.SID), "MessageSid", "invalid",
		"must be the provider's message id: 1 to %d printable characters", maxProviderSID)
	v.Check(in.From != "", "From", "required", "is required: the number that sent the text")
	if canopy.ValidText(&v, "From", in.From) {
		canopy.ValidateText(&v, "From", in.From, maxProviderNumber)
	}
	if canopy.ValidText(&v, "To", in.To) {
		canopy.ValidateText(&v, "To", in.To, maxProviderNumber)
	}
	if canopy.ValidText(&v, "Body", in.Body) {
		canopy.ValidateText(&v, "Body", in.Body, canopy.MaxSMSBody)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.inbound.receive(ctx, in, requestID)
}

// receiveIn takes in one text inside tx, in a savepoint of its own, so
// that its failure undoes it alone. It first assumes the payer covers
// everything; when the record or a reply cannot be paid, the text is
// undone and taken in again without what could not be paid. The common
// case so needs no savepoint around each debit.
func (s *Service) receiveIn(ctx context.Context, tx store.Tx, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	var without unpaid
	for {
		var res *InboundResult
		err := tx.Try(ctx, func() error {
			var err error
			res, err = s.receiveOnce(ctx, tx, in, requestID, without)
			return err
		})
		var short *shortOf
		if errors.As(err, &short) && without&short.what == 0 {
			without |= short.what
			continue
		}
		return res, err
	}
}

// unpaid says what a text is taken in without, because its payer could
// not cover it.
type unpaid int

const (
	unpaidRecord unpaid = 1 << iota
	unpaidReplies
)

// shortOf ends an attempt that met a debit its payer could not cover.
type shortOf struct{ what unpaid }

func (e *shortOf) Error() string { return "the payer cannot cover part of an incoming text's handling" }

func (s *Service) receiveOnce(ctx context.Context, tx store.Tx, in canopy.InboundSMS, requestID string, without unpaid) (*InboundResult, error) {
	h := &inbound{s: s, ctx: ctx, tx: tx, now: s.now(), in: in, requestID: requestID, without: without,
		res: &InboundResult{Outcome: InboundIgnored, Replies: []SMSQueued{}}}
	ok, err := tx.ClaimInboundSMS(ctx, in.SID, in.From, h.now)
	if err != nil {
		return nil, err
	}
	if !ok {
		h.res.Outcome = InboundDuplicate
		return h.res, nil
	}
	if !canopy.ValidE164(in.From) {
		return h.res, nil // a short code or a sender name: nobody authorised it
	}
	if err := h.handle(); err != nil {
		return nil, err
	}
	if h.o != nil {
		if err := h.o.saveEvents(); err != nil {
			return nil, err
		}
	}
	return h.res, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// inbound is one incoming text being handled, in its transaction.
type inbound struct {
	s         *Service
	ctx       context.Context
	tx        store.Tx
	now       time.Time
	in        canopy.InboundSMS
	requestID string
	res       *InboundResult
	without   unpaid
	optedOut  bool
	// o acts for the account that set up the collection the text belongs
	// to, once one is found.
	o *op
}

func (h *inbound) handle() error {
	switch canopy.SMSKeywordOf(h.in.Body) {
	case canopy.KeywordStop:
		h.res.Outcome = InboundOptedOut
		if err := h.tx.PutSMSOptOut(h.ctx, h.in.From, h.now); err != nil {
			return err
		}
		return h.tx.DeleteSMSConversations(h.ctx, h.in.From, "")
	case canopy.KeywordStart:
		h.res.Outcome = InboundOptedIn
		if err := h.tx.DeleteSMSOptOut(h.ctx, h.in.From); err != nil {
			return err
		}
		return h.answerAsBrand(startText)
	case canopy.KeywordHelp:
		h.res.Outcome = InboundHelp
		return h.answerAsBrand(helpText)
	}
	if code, answers, ok := canopy.SplitStructured(h.in.Body); ok {
		handled, err := h.byCode(code, answers)
		if handled || err != nil {
			return err
		}
	}
	return h.continueConversation()
}

// as acts for the account that authorised col, on col's form as that
// account sees it now. When that account can no longer run the
// collection — it lost the role that edits the form's data, or it (or an
// ancestor) is suspended or closed — f is nil and the text is ignored.
func (h *inbound) as(col *canopy.SMSCollector) (*op, *canopy.Form, error) {
	o, err := h.s.fieldOp(h.ctx, h.tx, h.now, col.AccountID, canopy.Actor{Type: ActorCollector, ID: col.Number}, ChannelSMS, h.requestID)
	if err != nil {
		return nil, nil, ignorable(err)
	}
	f, _, err := h.s.formFor(h.ctx, h.tx, o.acting.Path, col.FormID, canopy.EditData)
	if err != nil {
		return nil, nil, ignorable(err)
	}
	h.o, h.res.FormID = o, f.ID
	// A collector is read with its state: opted out, its number gets no
	// replies.
	h.optedOut = col.State == canopy.CollectorOptedOut
	return o, f, nil
}

// ignorable drops the refusals of an application rule (the collection may
// not run), keeping internal errors.
func ignorable(err error) error {
	if canopy.ErrorKind(err) != canopy.KindInternal {
		return nil
	}
	return err
}

// answerAsBrand replies with text(brand) on behalf of the collection the
// number took part in last that can still run; a number that collects
// for nobody gets nothing.
func (h *inbound) answerAsBrand(text func(brand string) string) error {
	cols, err := h.tx.CollectorsOf(h.ctx, h.in.From)
	if err != nil {
		return err
	}
	for _, col := range cols {
		o, f, err := h.as(col)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		brand, err := effectiveBrand(h.ctx, h.tx, o.acting)
		if err != nil {
			return err
		}
		if brand.Name == "" {
			brand.Name = o.acting.Name
		}
		return h.send(f, col, text(brand.Name))
	}
	return nil
}

// byCode handles a text that starts with a form's code, from a number
// authorised for that form; handled is false otherwise (the text may be an
// answer that looks like a code).
func (h *inbound) byCode(code string, answers []string) (handled bool, err error) {
	col, err := h.tx.CollectorByCode(h.ctx, code, h.in.From)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, f, err := h.as(col)
	if err != nil || f == nil {
		return true, err
	}
	if col.Mode == canopy.SMSInteractive {
		return true, h.startConversation(f, col)
	}
	return true, h.structured(f, col, code, answers)
}

// structured makes one record of a structured text's answers, in question
// order, or names the first wrong one.
func (h *inbound) structured(f *canopy.Form, col *canopy.SMSCollector, code string, texts []string) error {
	if len(texts) > len(f.Questions) {
		h.res.Outcome = InboundInvalid
		return h.send(f, col, tooManyAnswers(f, code, len(texts)))
	}
	answers := map[string]json.RawMessage{}
	for i, t := range texts {
		if raw := canopy.TextAnswer(f.Questions[i], t); raw != nil {
			answers[f.Questions[i].ID] = raw
		}
	}
	if p := canopy.FirstAnswerProblem(f.Questions, answers); p != nil {
		h.res.Outcome = InboundInvalid
		return h.send(f, col, structuredError(f, code, p))
	}
	return h.save(f, col, answers, structuredSaved(code))
}

// startConversation begins an interactive collector's conversation anew
// and asks the first question.
func (h *inbound) startConversation(f *canopy.Form, col *canopy.SMSCollector) error {
	if len(f.Questions) == 0 {
		return nil
	}
	err := h.tx.PutSMSConversation(h.ctx, &canopy.SMSConversation{Number: col.Number, FormID: f.ID,
		Answers: map[string]json.RawMessage{}, StartedAt: h.now, UpdatedAt: h.now})
	if err != nil {
		return err
	}
	h.res.Outcome = InboundStarted
	return h.send(f, col, questionText(f, 0))
}

// continueConversation takes a text as the answer to the question the
// number's latest conversation asked: a wrong answer is asked again with
// a hint, a right one brings the next question, and the last saves the
// record. A conversation idle for longer than SMSConversationIdle has
// ended, unsaved.
func (h *inbound) continueConversation() error {
	conv, err := h.tx.LatestSMSConversation(h.ctx, h.in.From, h.now.Add(-h.s.cfg.SMSConversationIdle))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	end := func() error { return h.tx.DeleteSMSConversations(h.ctx, conv.Number, conv.FormID) }
	col, err := h.tx.GetSMSCollector(h.ctx, conv.FormID, conv.Number)
	if err != nil {
		return err
	}
	if col.Mode != canopy.SMSInteractive {
		return end()
	}
	_, f, err := h.as(col)
	if err != nil || f == nil {
		return err
	}
	if conv.Question >= len(f.Questions) { // the form lost questions since
		return end()
	}
	if conv.Answers == nil {
		conv.Answers = map[string]json.RawMessage{}
	}
	q := f.Questions[conv.Question]
	one := map[string]json.RawMessage{}
	if raw := canopy.TextAnswer(q, h.in.Body); raw != nil {
		one[q.ID] = raw
	}
	conv.UpdatedAt = h.now
	if p := canopy.FirstAnswerProblem([]canopy.Question{q}, one); p != nil {
		p.Index = conv.Question
		return h.askAgain(f, col, conv, p)
	}
	delete(conv.Answers, q.ID)
	for k, v := range one {
		conv.Answers[k] = v
	}
	conv.Question++
	if conv.Question < len(f.Questions) {
		if err := h.tx.PutSMSConversation(h.ctx, conv); err != nil {
			return err
		}
		h.res.Outcome = InboundAnswered
		return h.send(f, col, questionText(f, conv.Question))
	}
	// The whole set must still make a record: the form may have changed
	// during the conversation.
	if p := canopy.FirstAnswerProblem(f.Questions, conv.Answers); p != nil {
		conv.Question = p.Index
		return h.askAgain(f, col, conv, p)
	}
	if err := end(); err != nil {
		return err
	}
	return h.save(f, col, conv.Answers, interactiveSaved(f))
}

func (h *inbound) askAgain(f *canopy.Form, col *canopy.SMSCollector, conv *canopy.SMSConversation, p *canopy.AnswerProblem) error {
	if err := h.tx.PutSMSConversation(h.ctx, conv); err != nil {
		return err
	}
	h.res.Outcome = InboundInvalid
	return h.send(f, col, askAgain(f, p))
}

// save collects a record and thanks the collector. When the payer cannot
// cover it nothing of it is written, and the collector is told so once
// (until a record is accepted again).
func (h *inbound) save(f *canopy.Form, col *canopy.SMSCollector, answers map[string]json.RawMessage, thanks string) error {
	if h.without&unpaidRecord != 0 {
		h.res.Outcome = InboundNoCredit
		if col.NoticedAt != nil {
			return nil
		}
		if err := h.tx.SetCollectorNoticed(h.ctx, f.ID, col.Number, &h.now); err != nil {
			return err
		}
		return h.send(f, col, noCreditText(f))
	}
	rec, err := h.o.collect(f, answers, "sms:"+col.Number, ChannelSMS)
	if canopy.ErrorKind(err) == canopy.KindPaymentRequired {
		return &shortOf{unpaidRecord}
	}
	if err != nil {
		return err
	}
	h.res.Outcome, h.res.RecordID = InboundRecord, rec.ID
	if col.NoticedAt != nil {
		if err := h.tx.SetCollectorNoticed(h.ctx, f.ID, col.Number, nil); err != nil {
			return err
		}
	}
	return h.send(f, col, thanks)
}

// send queues a reply to the collector, paid like every text (rule 8
// (docs/rules.md)). Replies the payer cannot cover, or to a number that
// opted out, are not sent; the rest of the handling stands.
func (h *inbound) send(f *canopy.Form, col *canopy.SMSCollector, body string) error {
	if h.optedOut || h.without&unpaidReplies != 0 {
		return nil
	}
	_, msgs, err := h.o.queueTexts(f.ID, col.Mode, []textOut{{to: col.Number, body: body}})
	if canopy.ErrorKind(err) == canopy.KindPaymentRequired {
		return &shortOf{unpaidReplies}
	}
	if err != nil {
		return err
	}
	h.res.Replies = append(h.res.Replies, queuedView(msgs)...)
	return nil
}

// fieldOp is the op of a write that a field channel (an incoming text, a
// web link's submission) makes for the account that set the collection
// up, inside tx: no credential stands behind it — the provider's
// signature or the link's token did — so the account itself is the
// principal, and it must be writable (rule 9 (docs/rules.md)).
func (s *Service) fieldOp(ctx context.Context, tx store.Tx, now time.Time, accountID string, actor canopy.Actor, channel, requestID string) (*op, error) {
	acting, err := tx.GetAccountForShare(ctx, accountID)
	if isNotFound(err) {
		return nil, canopy.NotFound("account")
	}
	if err != nil {
		return nil, err
	}
	if err := checkWritable(ctx, tx, acting); err != nil {
		return nil, err
	}
	return &op{ctx: ctx, tx: tx, now: now, s: s, acting: acting, caller: Caller{
		Principal: Principal{Actor: actor, AccountID: acting.ID}, Acting: Acting{ID: acting.ID, Path: acting.Path},
		Channel: channel, RequestID: requestID,
	}}, nil
}

// saveEvents writes the audit events a field write recorded, and the
// events they are.
func (o *op) saveEvents() error {
	return o.flush()
}

// ExpireSMSConversations ends the interactive conversations idle for
// longer than SMSConversationIdle, unsaved (a reply would not continue
// them anyway; this only clears them away).
func (s *Service) ExpireSMSConversations(ctx context.Context) (int64, error) {
	var n int64
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteIdleSMSConversations(ctx, s.now().Add(-s.cfg.SMSConversationIdle))
		return err
	})
	return n, err
}

// PruneInboundSMS forgets provider message ids taken in over a week ago:
// providers retry within hours.
func (s *Service) PruneInboundSMS(ctx context.Context) (int64, error) {
	var n int64
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteInboundSMSBefore(ctx, s.now().AddDate(0, 0, -inboundKeepDays))
		return err
	})
	return n, err
}
