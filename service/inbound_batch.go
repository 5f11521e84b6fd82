package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Group commit for incoming texts. Each text is one write — the provider's
// id claimed, the record, its upload, the confirmation and its message
// credit — and most of its cost is the commit (an fsync; on SQLite, where
// one connection writes, the pages the transaction changed, written out)
// and, on PostgreSQL, the round trips of its statements. Texts that arrive
// while a transaction is in flight therefore run together in the next
// one: their ids claimed and their collectors read in one statement each,
// each text handled in a savepoint of its own (so that a text taken in
// again without what its payer cannot cover undoes only itself), and the
// rows they add written at the end in a few multi-row statements (see
// inboundTx). Under load a few dozen texts share one commit; alone a text
// runs at once. When the shared transaction fails, each of its texts runs
// again in a transaction of its own.

// maxInboundBatch bounds the texts of one transaction.
const maxInboundBatch = 64

// One batch runs at a time. On PostgreSQL several at once, each on a
// connection of its own, measured slower on two cores (BenchmarkReceiveSMS:
// 1,200-1,350 texts/s against 1,500-1,700 for one): they add locking and
// scheduling, and a batch's cost is its statements, not waiting.
type inboundBatcher struct {
	s     *Service
	queue groupCommit[*inboundReq]
	// beforeFlush, when set (by a test), runs in a batch just before it
	// writes what it held back.
	beforeFlush func(lockBalances bool)
}

func newInboundBatcher(s *Service) *inboundBatcher {
	b := &inboundBatcher{s: s}
	b.queue = groupCommit[*inboundReq]{max: maxInboundBatch, run: b.run}
	return b
}

type inboundReq struct {
	ctx       context.Context
	in        canopy.InboundSMS
	requestID string
	res       *InboundResult
	err       error
}

func (r *inboundReq) callerCtx() context.Context { return r.ctx }
func (r *inboundReq) leave(err error)            { r.err = err }

// receive queues a text and waits for its outcome.
func (b *inboundBatcher) receive(ctx context.Context, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	r := &inboundReq{ctx: ctx, in: in, requestID: requestID}
	b.queue.do(r)
	if errors.Is(r.err, errRunAlone) {
		return b.alone(ctx, in, requestID)
	}
	return r.res, r.err
}

// alone takes a text in in a transaction of its own.
func (b *inboundBatcher) alone(ctx context.Context, in canopy.InboundSMS, requestID string) (*InboundResult, error) {
	var res *InboundResult
	err := b.s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		res, err = b.s.receiveIn(ctx, tx, in, requestID)
		return err
	})
	return res, err
}

// run takes a batch of texts in in one transaction, each in a savepoint.
func (b *inboundBatcher) run(live []*inboundReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// First with the payers' balances read as they are, locked only when
	// the batch writes them, so that batches of other processes (replicas)
	// and debits through the API meet only at the end; should one have
	// fallen meanwhile below what the batch takes, the batch runs again
	// with each balance locked from the first text that draws on it.
	err := b.write(ctx, live, false)
	if errors.Is(err, errBalanceMoved) {
		err = b.write(ctx, live, true)
	}
	switch {
	case err != nil && len(live) == 1:
		live[0].res, live[0].err = nil, err
	case err != nil:
		b.s.log.Warn("inbound SMS batch failed; its texts run alone", "texts", len(live), "err", err)
		for _, r := range live {
			r.res, r.err = nil, errRunAlone
		}
	}
}

// errBalanceMoved ends a batch that read balances (and month counts)
// unlocked when one moved before the batch could write it so that the
// batch's decisions no longer hold: a balance fell below what its texts or
// debits took, or one that refused a debit changed.
var errBalanceMoved = errors.New("a payer's balance fell below what the batch took")

// write runs a batch in one transaction.
func (b *inboundBatcher) write(ctx context.Context, live []*inboundReq, lockBalances bool) error {
	return b.s.store.Write(ctx, func(tx store.Tx) error {
		shared := newInboundTx(b.s, tx, lockBalances)
		run, err := shared.prefetch(ctx, b.s.now(), live)
		if err != nil {
			return err
		}
		// Each text runs in a savepoint of its own (receiveIn), afresh on
		// each retry of the transaction. A text that fails fails the batch:
		// its provider id was claimed for it outside that savepoint, and
		// must not stay claimed, or the provider's retry would be taken for
		// a duplicate. Each text then runs alone.
		for _, r := range run {
			r.res, r.err = b.s.receiveIn(ctx, shared, r.in, r.requestID)
			if r.err != nil {
				return r.err
			}
		}
		if b.beforeFlush != nil {
			b.beforeFlush(lockBalances)
		}
		return shared.flush(ctx)
	})
}

// inboundTx is one shared transaction as its texts see it. It remembers
// what they read and none of them changes — accounts (batchTx), forms as
// an account sees them, the caps on the way to a payer — so that a
// clinic's fifty texts read each once. And it holds back what they only
// add, to write it when the batch ends (flush), in a few multi-row
// statements: records, ledger entries, texts for the outbox, audit
// events, the daily usage rollups, and what they take from the payers'
// balances — a balance is read under its row lock the first time a text
// draws on it, each debit is decided against it in memory as TakeCredits
// would decide it, and their sum is taken in one statement. The rows held
// back are ids no other write can hold, so writing them later changes no
// outcome; a savepoint rolled back (Try) takes its text's rows and debits
// back out of memory too.
type inboundTx struct {
	*batchTx
	s *Service
	// claims and collectors are read for the whole batch at once
	// (prefetch): whether each text's provider id was new, and the
	// collector each "CODE#…" text names (nil: none).
	claims     map[string]bool
	collectors map[store.CodeNumber]*canopy.SMSCollector
	forms      map[[2]string]*store.FormFor
	limits     map[string][]store.CreditLimit
	balances   map[typedKey]heldBalance
	at         time.Time // of the last debit
	held       heldRows
}

// heldRows are the rows a batch writes when it ends.
type heldRows struct {
	records []*canopy.Record
	entries []*canopy.LedgerEntry
	texts   []*canopy.SMSMessage
	events  []*canopy.AuditEvent
	days    []store.UsageDay
	emitted []*canopy.Event
}

// upTo cuts each list back to the lengths of an earlier moment.
func (h heldRows) upTo(at heldRows) heldRows {
	return heldRows{h.records[:len(at.records)], h.entries[:len(at.entries)], h.texts[:len(at.texts)],
		h.events[:len(at.events)], h.days[:len(at.days)], h.emitted[:len(at.emitted)]}
}

func (m *inboundTx) InsertRecord(ctx context.Context, r *canopy.Record) error {
	m.held.records = append(m.held.records, r)
	return nil
}

func (m *inboundTx) InsertLedgerEntry(ctx context.Context, e *canopy.LedgerEntry) error {
	m.held.entries = append(m.held.entries, e)
	return nil
}

// InsertNewLedgerEntries holds the entries as InsertLedgerEntry does: a
// batch's texts charge under keys made in the batch (new records' ids) or
// none, which no twin elsewhere can hold.
func (m *inboundTx) InsertNewLedgerEntries(ctx context.Context, es []*canopy.LedgerEntry) ([]string, error) {
	m.held.entries = append(m.held.entries, es...)
	return nil, nil
}

func (m *inboundTx) InsertSMSMessages(ctx context.Context, ms ...*canopy.SMSMessage) error {
	m.held.texts = append(m.held.texts, ms...)
	return nil
}

func (m *inboundTx) InsertAuditEvent(ctx context.Context, e *canopy.AuditEvent) error {
	m.held.events = append(m.held.events, e)
	return nil
}

func (m *inboundTx) InsertEvents(ctx context.Context, es ...*canopy.Event) error {
	m.held.emitted = append(m.held.emitted, es...)
	return nil
}

func (m *inboundTx) InsertAuditAndEvents(ctx context.Context, audits []*canopy.AuditEvent, es []*canopy.Event) error {
	m.held.events = append(m.held.events, audits...)
	m.held.emitted = append(m.held.emitted, es...)
	return nil
}

// heldBalance is a payer's balance of one type as a batch sees it: the
// balance it read, what its texts took, debit by debit, in order.
type heldBalance struct {
	read   int64
	debits []int64
}

func (b heldBalance) left() int64 {
	left := b.read
	for _, d := range b.debits {
		left -= d
	}
	return left
}

// newInboundTx reads each balance under its row lock the first time a
// text draws on it when lockBalances, else plainly, to be locked at flush
// (batchTx.unlocked).
func newInboundTx(s *Service, tx store.Tx, lockBalances bool) *inboundTx {
	m := &inboundTx{
		s:          s,
		batchTx:    newBatchTx(tx),
		claims:     map[string]bool{},
		collectors: map[store.CodeNumber]*canopy.SMSCollector{},
		forms:      map[[2]string]*store.FormFor{},
		limits:     map[string][]store.CreditLimit{},
		balances:   map[typedKey]heldBalance{},
	}
	m.batchTx.unlocked = !lockBalances
	return m
}

func (m *inboundTx) holdsBalances() bool { return true }

// BalanceForUpdate is the balance as the batch holds it: read the first
// time a text draws on it (under its row lock unless batchTx.unlocked), less
// what the batch's texts took since.
func (m *inboundTx) BalanceForUpdate(ctx context.Context, account string, t canopy.CreditType) (int64, error) {
	b, err := m.balance(ctx, typedKey{account, t})
	return b.left(), err
}

// TakeCredits decides a debit as the store's TakeCredits would, against the
// balance as the batch holds it.
func (m *inboundTx) TakeCredits(ctx context.Context, account string, t canopy.CreditType, amount int64, at time.Time) (bool, int64, error) {
	k := typedKey{account, t}
	b, err := m.balance(ctx, k)
	if err != nil {
		return false, 0, err
	}
	left := b.left()
	if left < amount {
		return false, left, nil
	}
	b.debits = append(slices.Clip(b.debits), amount)
	m.balances[k], m.at = b, at
	return true, left - amount, nil
}

// TakeCreditsForUsage decides each take as TakeCredits does and holds the
// days back as AddUsageDays does.
func (m *inboundTx) TakeCreditsForUsage(ctx context.Context, takes []store.CreditTake, at time.Time, days []store.UsageDay) ([]store.CreditTaken, error) {
	out := make([]store.CreditTaken, len(takes))
	for i, k := range takes {
		var err error
		if out[i].OK, out[i].Balance, err = m.TakeCredits(ctx, k.AccountID, k.Type, k.Amount, at); err != nil {
			return nil, err
		}
	}
	return out, m.AddUsageDays(ctx, days)
}

// balance is a payer's balance as the batch holds it, read the first time.
func (m *inboundTx) balance(ctx context.Context, k typedKey) (heldBalance, error) {
	if b, ok := m.balances[k]; ok {
		return b, nil
	}
	read, err := m.batchTx.balance(ctx, k)
	if err != nil {
		return heldBalance{}, err
	}
	b := heldBalance{read: read}
	m.balances[k] = b
	return b, nil
}

func (m *inboundTx) AddUsageDays(ctx context.Context, days []store.UsageDay) error {
	m.held.days = append(m.held.days, days...)
	return nil
}

func (m *inboundTx) Try(ctx context.Context, fn func() error) error {
	// A balance's debits are appended to a clipped slice (TakeCredits), so
	// the copy taken here keeps its own.
	balances, held := maps.Clone(m.balances), m.held
	err := m.batchTx.Try(ctx, fn)
	if err != nil {
		m.balances, m.held = balances, m.held.upTo(held)
	}
	return err
}

// flush writes the rows the batch's texts added, what they took from each
// balance and what they added to the usage rollups.
func (m *inboundTx) flush(ctx context.Context) error {
	if err := m.batchTx.InsertRecords(ctx, m.held.records); err != nil {
		return err
	}
	if err := m.batchTx.InsertLedgerEntries(ctx, m.held.entries); err != nil {
		return err
	}
	if err := m.batchTx.InsertSMSMessages(ctx, m.held.texts...); err != nil {
		return err
	}
	if err := m.batchTx.InsertAuditAndEvents(ctx, m.held.events, m.held.emitted); err != nil {
		return err
	}
	// Each balance is written in one statement, which locks it until the
	// batch commits. Its debits' low-balance notices follow from the
	// balance as written — the debits replayed in order from it — so each
	// crossing is noticed once, however the batches interleave.
	for _, k := range sortedKeys(m.balances) {
		b := m.balances[k]
		taken := b.read - b.left()
		if taken == 0 {
			continue
		}
		ok, after, err := m.batchTx.TakeCredits(ctx, k.account, k.t, taken, m.at)
		if err != nil {
			return err
		}
		if !ok {
			return errBalanceMoved
		}
		balance := after + taken
		for _, d := range b.debits {
			if err := m.s.noticeLowBalance(ctx, m.batchTx, m.at, k.account, k.t, balance, balance-d); err != nil {
				return err
			}
			balance -= d
		}
	}
	if len(m.held.days) == 0 {
		return nil
	}
	// One row per path, type, day and payer, as UsageDaysOf would make
	// them.
	merged := make([]store.UsageDay, 0, len(m.held.days))
	at := map[store.UsageDay]int{}
	for _, d := range m.held.days {
		k := store.UsageDay{Path: d.Path, Type: d.Type, Day: d.Day, Payer: d.Payer}
		if i, ok := at[k]; ok {
			merged[i].Amount += d.Amount
			continue
		}
		at[k] = len(merged)
		merged = append(merged, d)
	}
	return m.batchTx.AddUsageDays(ctx, merged)
}

// prefetch claims the batch's provider ids and reads the collectors its
// structured texts name, two statements for the whole batch instead of two
// per text. A text whose id an earlier one in the batch carries is a
// provider's retry: it is answered as a duplicate and not run. It returns
// the texts to run.
func (m *inboundTx) prefetch(ctx context.Context, now time.Time, batch []*inboundReq) ([]*inboundReq, error) {
	run := make([]*inboundReq, 0, len(batch))
	var claims []store.InboundClaim
	var pairs []store.CodeNumber
	for _, r := range batch {
		if _, dup := m.claims[r.in.SID]; dup {
			r.res = &InboundResult{Outcome: InboundDuplicate, Replies: []SMSQueued{}}
			continue
		}
		m.claims[r.in.SID] = false
		run = append(run, r)
		claims = append(claims, store.InboundClaim{SID: r.in.SID, From: r.in.From})
		if !canopy.ValidE164(r.in.From) || canopy.SMSKeywordOf(r.in.Body) != canopy.KeywordNone {
			continue
		}
		if code, _, ok := canopy.SplitStructured(r.in.Body); ok {
			k := store.CodeNumber{Code: code, Number: r.in.From}
			if _, seen := m.collectors[k]; !seen {
				m.collectors[k] = nil
				pairs = append(pairs, k)
			}
		}
	}
	claimed, err := m.batchTx.ClaimInboundSMSs(ctx, claims, now)
	if err != nil {
		return nil, err
	}
	for _, sid := range claimed {
		m.claims[sid] = true
	}
	found, err := m.batchTx.CollectorsByCode(ctx, pairs)
	if err != nil {
		return nil, err
	}
	for _, cc := range found {
		m.collectors[store.CodeNumber{Code: cc.Code, Number: cc.Collector.Number}] = cc.Collector
	}
	return run, nil
}

func (m *inboundTx) ClaimInboundSMS(ctx context.Context, sid, from string, at time.Time) (bool, error) {
	if ok, known := m.claims[sid]; known {
		return ok, nil
	}
	return m.batchTx.ClaimInboundSMS(ctx, sid, from, at)
}

func (m *inboundTx) CollectorByCode(ctx context.Context, code, number string) (*canopy.SMSCollector, error) {
	c, known := m.collectors[store.CodeNumber{Code: code, Number: number}]
	switch {
	case !known:
		return m.batchTx.CollectorByCode(ctx, code, number)
	case c == nil:
		return nil, store.ErrNotFound
	}
	copied := *c
	return &copied, nil
}

// forget drops what the batch read of a number's collectors, when a text
// changes them (a notice, an opt-out): the next text reads them again.
func (m *inboundTx) forget(number string) {
	for k := range m.collectors {
		if k.Number == number {
			delete(m.collectors, k)
		}
	}
}

func (m *inboundTx) SetCollectorNoticed(ctx context.Context, formID, number string, at *time.Time) error {
	m.forget(number)
	return m.batchTx.SetCollectorNoticed(ctx, formID, number, at)
}

func (m *inboundTx) PutSMSOptOut(ctx context.Context, number string, at time.Time) error {
	m.forget(number)
	return m.batchTx.PutSMSOptOut(ctx, number, at)
}

func (m *inboundTx) DeleteSMSOptOut(ctx context.Context, number string) error {
	m.forget(number)
	return m.batchTx.DeleteSMSOptOut(ctx, number)
}

func (m *inboundTx) GetFormFor(ctx context.Context, id, viewer string) (*store.FormFor, error) {
	k := [2]string{id, viewer}
	if f, ok := m.forms[k]; ok {
		return f, nil
	}
	f, err := m.batchTx.GetFormFor(ctx, id, viewer)
	if err == nil {
		m.forms[k] = f
	}
	return f, err
}

func (m *inboundTx) CreditLimits(ctx context.Context, accountIDs []string, t canopy.CreditType) ([]store.CreditLimit, error) {
	k := string(t) + ":" + strings.Join(accountIDs, ",")
	if l, ok := m.limits[k]; ok {
		return slices.Clone(l), nil
	}
	l, err := m.batchTx.CreditLimits(ctx, accountIDs, t)
	if err == nil {
		m.limits[k] = slices.Clone(l)
	}
	return l, err
}
