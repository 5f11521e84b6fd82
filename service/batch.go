package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Group commit for usage debits: the hot account of rule 8 (docs/rules.md).
//
// Every durable commit waits for an fsync, and every debit of an
// umbrella's children locks the umbrella's one balance row, so one
// transaction per debit caps an umbrella at one debit per commit. The
// batcher instead runs the debits that arrive while a transaction is in
// flight together, in the next transaction: under load, hundreds of debits
// share one commit; alone, a debit runs at once.
//
// Inside the shared transaction each debit is still a write of its own,
// decided in arrival order exactly as a serial run would decide it: the
// acting account is re-read (share-locked) and checked for visibility,
// suspension and closure, the credential re-read, the reference looked
// up, and the caps and the payer's balance checked against the counts
// read in this transaction, less what the debits before it in the batch
// took. A debit refused (402, 404, 409, 422) writes nothing and does not
// disturb the others. Only the successful debits are written: their
// entries in one multi-row INSERT, one conditional UPDATE per payer
// balance and per capped month. The balances and counts are read
// unlocked first and locked as they are written, at the end, when the
// batch checks that its decisions still hold; where they do not, the
// batch runs again with them locked from the start (see run). So two
// batches run at a time where the engine locks rows (PostgreSQL): one
// reads, decides and inserts its entries while the other writes the
// umbrella's balance and commits. A debit whose reference a twin outside
// the batch charged meanwhile (a retry racing its first try on another
// replica) becomes the replay it is, in the same transaction (see
// chargeBatch). When the transaction as a whole fails (the store), each
// debit runs again on its own through the plain path.

// maxBatch bounds the debits of one transaction.
const maxBatch = 512

// batchTimeout bounds one shared transaction: no caller's context may end
// it early for the others.
const batchTimeout = 30 * time.Second

// errRunAlone tells a caller whose batch failed as a whole to run its
// debit on its own.
var errRunAlone = errors.New("batch failed; run the debit alone")

// debitBatcher runs concurrent debits in shared transactions, one or two
// at a time.
type debitBatcher struct {
	s     *Service
	queue groupCommit[*debitReq]
}

type debitReq struct {
	ctx context.Context
	c   Caller
	in  UsageInput
	key string
	res *UsageResult
	err error
}

func (r *debitReq) callerCtx() context.Context { return r.ctx }
func (r *debitReq) leave(err error)            { r.err = err }

func newDebitBatcher(s *Service) *debitBatcher {
	b := &debitBatcher{s: s}
	b.queue = groupCommit[*debitReq]{max: maxBatch, run: b.run, lanes: 1}
	if s.store.Engine() == "postgres" {
		// Two batches at a time where the engine locks rows, not the
		// database: the second reads, decides and inserts its entries
		// while the first writes the balance and commits (see run). Where
		// one writer runs (SQLite) a second batch would only queue for it.
		b.queue.lanes = 2
	}
	return b
}

// charge queues one debit and waits for its outcome.
func (b *debitBatcher) charge(ctx context.Context, c Caller, in UsageInput, key string) (*UsageResult, error) {
	r := &debitReq{ctx: ctx, c: c, in: in, key: key}
	b.queue.do(r)
	return r.res, r.err
}

// run charges a batch in one transaction and sets each debit's outcome.
func (b *debitBatcher) run(live []*debitReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var outs []debitOutcome
	write := func(unlocked bool) error {
		return b.s.store.Write(ctx, func(tx store.Tx) error {
			var err error
			outs, err = chargeBatch(ctx, b.s, tx, live, unlocked) // afresh on each retry
			return err
		})
	}
	// First with the balances and month counts read as they are, locked
	// only when the batch writes them at its end, so that the next batch
	// (batches run two at a time where the engine locks rows) reads,
	// decides and inserts its entries while this one finishes; should one
	// have moved meanwhile so that the batch's decisions no longer hold
	// (see batchState.apply), the batch runs again with each locked from
	// the start.
	err := write(true)
	if errors.Is(err, errBalanceMoved) {
		b.s.log.Debug("a balance or month count moved under a debit batch; it runs again locked", "debits", len(live))
		err = write(false)
	}
	if err != nil {
		b.s.log.Warn("debit batch failed; its debits run alone", "debits", len(live), "err", err)
		for _, r := range live {
			r.err = errRunAlone
		}
		return
	}
	for i, r := range live {
		r.res, r.err = outs[i].res, outs[i].err
	}
}

type debitOutcome struct {
	res *UsageResult
	err error
}

// batchTx remembers, for one shared transaction, the accounts, keys and
// users its debits read, so that a hundred debits of one umbrella's
// children read the umbrella once. Debits change none of them.
type batchTx struct {
	store.Tx
	accounts map[string]*canopy.Account
	keys     map[string]*canopy.APIKey
	users    map[string]*canopy.User
	// unlocked reads the balances and month counts its debits draw on
	// plainly, to be locked only when the batch writes them (see
	// debitBatcher.run); otherwise each is read under its row lock.
	unlocked bool
}

// balance reads a balance the batch decides against (see unlocked).
func (m *batchTx) balance(ctx context.Context, k typedKey) (int64, error) {
	if !m.unlocked {
		return m.BalanceForUpdate(ctx, k.account, k.t)
	}
	all, err := m.Balances(ctx, k.account)
	return amountOf(all, k.t), err
}

// monthUsage reads a month count the batch decides against (see unlocked).
func (m *batchTx) monthUsage(ctx context.Context, k typedKey, month string) (int64, error) {
	if !m.unlocked {
		return m.MonthUsageForUpdate(ctx, k.account, k.t, month)
	}
	return m.MonthUsage(ctx, k.account, k.t, month)
}

func (m *batchTx) GetAccountForShare(ctx context.Context, id string) (*canopy.Account, error) {
	if a, ok := m.accounts[id]; ok {
		return a, nil
	}
	a, err := m.Tx.GetAccountForShare(ctx, id)
	if err == nil {
		m.accounts[id] = a
	}
	return a, err
}

func (m *batchTx) GetAccounts(ctx context.Context, ids []string) ([]*canopy.Account, error) {
	out := make([]*canopy.Account, 0, len(ids))
	var missing []string
	for _, id := range ids {
		if a, ok := m.accounts[id]; ok {
			out = append(out, a)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	more, err := m.Tx.GetAccounts(ctx, missing)
	if err != nil {
		return nil, err
	}
	for _, a := range more {
		m.accounts[a.ID] = a
	}
	return append(out, more...), nil
}

func (m *batchTx) GetAPIKey(ctx context.Context, id string) (*canopy.APIKey, error) {
	if k, ok := m.keys[id]; ok {
		return k, nil
	}
	k, err := m.Tx.GetAPIKey(ctx, id)
	if err == nil {
		m.keys[id] = k
	}
	return k, err
}

func (m *batchTx) GetUser(ctx context.Context, id string) (*canopy.User, error) {
	if u, ok := m.users[id]; ok {
		return u, nil
	}
	u, err := m.Tx.GetUser(ctx, id)
	if err == nil {
		m.users[id] = u
	}
	return u, err
}

type typedKey struct {
	account string
	t       canopy.CreditType
}

type usageKey struct{ account, key string }

// debit is one usage to charge, by an account its write has already
// checked may act: a batch of concurrent usages (chargeBatch) and the one
// usage of a record, a text or a lone request (op.charge) are decided by
// the same code, chargeDebits.
type debit struct {
	// ctx is the caller's, when it is not the transaction's: a debit whose
	// caller left before it was decided is not charged.
	ctx       context.Context
	account   *canopy.Account
	usage     Usage
	requestID string
}

// batchBase is what a batch reads once, under lock: balances and month
// counts, caps, and the entries its references already have. Each pass of
// its decisions starts from it.
type batchBase struct {
	balances map[typedKey]int64
	used     map[typedKey]int64
	limits   map[typedKey]store.CreditLimit
	earlier  map[usageKey]*canopy.LedgerEntry // by other transactions
	// written are the entries an earlier pass inserted: the same debits
	// succeed again, with the same entries.
	written map[*debit]*canopy.LedgerEntry
}

// batchState is what the debits before the current one left in one pass:
// balances and month counts less what they took, and the entries charged.
type batchState struct {
	base     *batchBase
	balances map[typedKey]int64
	used     map[typedKey]int64
	charged  map[usageKey]*canopy.LedgerEntry // by this pass
	entries  []*canopy.LedgerEntry
	by       map[string]*debit  // entry id → its debit
	took     map[typedKey]int64 // per payer balance
	counted  map[typedKey]int64 // per capped account
	// refused holds the balances and month counts that refused a debit.
	refused map[typedKey]bool
}

func (b *batchBase) pass() *batchState {
	return &batchState{base: b, balances: maps.Clone(b.balances), used: maps.Clone(b.used),
		charged: map[usageKey]*canopy.LedgerEntry{}, by: map[string]*debit{},
		took: map[typedKey]int64{}, counted: map[typedKey]int64{}, refused: map[typedKey]bool{}}
}

// maxBatchPasses bounds the passes of a batch whose debits keep meeting
// twins; after it the batch fails and its debits run alone.
const maxBatchPasses = 3

func newBatchTx(tx store.Tx) *batchTx {
	return &batchTx{Tx: tx, accounts: map[string]*canopy.Account{}, keys: map[string]*canopy.APIKey{}, users: map[string]*canopy.User{}}
}

// chargeBatch decides and writes the concurrent debits of reqs in one
// transaction, in order: each is checked as its own write would check
// its acting account and credential, then charged by chargeDebits. The
// error is the transaction's; each debit's own is in its outcome.
func chargeBatch(ctx context.Context, s *Service, tx store.Tx, reqs []*debitReq, unlocked bool) ([]debitOutcome, error) {
	m := newBatchTx(tx)
	m.unlocked = unlocked
	// The acting accounts, share-locked as each write's would be, and in
	// the same statement the accounts above them as the callers last saw
	// them (chargeDebits reads any other its debits' paths hold).
	var acting, above []string
	for _, r := range reqs {
		acting = append(acting, r.c.Acting.ID)
		above = append(above, r.c.Acting.Path.IDs()...)
	}
	acting = sortedUnique(acting)
	above = slices.DeleteFunc(sortedUnique(above), func(id string) bool {
		_, found := slices.BinarySearch(acting, id)
		return found
	})
	read, err := tx.GetAccountsForShare(ctx, acting, above)
	if err != nil {
		return nil, fmt.Errorf("load acting accounts: %w", err)
	}
	for _, a := range read {
		m.accounts[a.ID] = a
	}
	outs := make([]debitOutcome, len(reqs))
	var ds []*debit
	var at []int
	for i, r := range reqs {
		a, err := actingForDebit(ctx, m, r.c)
		if err != nil {
			if !isDebitRefusal(err) {
				return nil, err
			}
			outs[i].err = err
			continue
		}
		ds = append(ds, &debit{ctx: r.ctx, account: a, requestID: r.c.RequestID,
			usage: Usage{Type: r.in.Type, Quantity: r.in.Quantity, Reason: r.in.Reason, Ref: "usage", Key: r.key}})
		at = append(at, i)
	}
	charged, err := chargeDebits(ctx, s, m, s.now(), ds)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		outs[i] = charged[j]
	}
	return outs, nil
}

// actingForDebit checks a batched debit's acting account and credential
// as runWrite checks a write's: the account visible to the caller, open
// and not suspended, the credential still valid.
func actingForDebit(ctx context.Context, m *batchTx, c Caller) (*canopy.Account, error) {
	acting, err := m.GetAccountForShare(ctx, c.Acting.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, canopy.NotFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("load acting account: %w", err)
	}
	if reach, err := reachIn(ctx, m, c, acting); err != nil {
		return nil, err
	} else if reach != canopy.ReachAct {
		return nil, canopy.NotFound("account")
	}
	if err := checkWritable(ctx, m, acting); err != nil {
		return nil, err
	}
	if err := checkCredential(ctx, m, c.Principal); err != nil {
		return nil, err
	}
	return acting, nil
}

// chargeDebits is the one place a debit is decided (rule 8,
// docs/rules.md): it draws each usage of ds, in order, from its payer,
// within tx. The caps of every account on the way up are counted first,
// then the payer's balance; a debit short of either is refused (402) and
// writes nothing, without disturbing the others. A usage whose key was
// charged before is that charge's replay and takes nothing. The error is
// the transaction's; each debit's own is in its outcome.
//
// Everything is locked in one order — month counts by account, then the
// payers' balances, then the references (the entries), then the usage
// rollups — so two writes charging debits never wait for each other in a
// cycle. A batch that reads its balances and counts unlocked
// (batchTx.unlocked) inserts its references before it locks them; it can
// wait in a cycle only with a locked write that charges the same
// reference at once (a retry racing its first try), which the database
// breaks by failing one, to be run again.
//
// A debit whose reference another transaction charges meanwhile (a retry
// racing its first try on another replica) loses only itself: the entries
// are inserted leaving taken references out, and when some were, the
// debits are decided again with those answered as the replays they are,
// in the same transaction. The debits that were written succeed again (a
// replay takes nothing, so every later debit has as much room or more);
// only new successes are inserted. Where the payers' balances are locked
// before the references are read, a twin charged through the same payer
// has committed by then and is seen at once: the second pass is for the
// rare twin that races past that.
func chargeDebits(ctx context.Context, s *Service, tx store.Tx, now time.Time, ds []*debit) ([]debitOutcome, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	m, ok := tx.(*batchTx)
	if !ok {
		m = newBatchTx(tx)
	}
	month := canopy.MonthOf(now)

	// Every account on the paths, then the caps on those paths with their
	// month counts, the payers' balances, and the references already
	// charged.
	var onPaths []string
	var types []canopy.CreditType
	var keys []store.LedgerKey
	for _, d := range ds {
		onPaths = append(onPaths, d.account.Path.IDs()...)
		types = append(types, d.usage.Type)
		if d.usage.Key != "" && !d.usage.Fresh {
			keys = append(keys, store.LedgerKey{UsageAccountID: d.account.ID, Key: d.usage.Key})
		}
	}
	onPaths = sortedUnique(onPaths)
	if _, err := m.GetAccounts(ctx, onPaths); err != nil {
		return nil, fmt.Errorf("load ancestors: %w", err)
	}
	base := &batchBase{
		balances: map[typedKey]int64{}, used: map[typedKey]int64{}, limits: map[typedKey]store.CreditLimit{},
		earlier: map[usageKey]*canopy.LedgerEntry{}, written: map[*debit]*canopy.LedgerEntry{},
	}
	var capped []typedKey
	for _, t := range sortedUnique(types) {
		limits, err := m.CreditLimits(ctx, onPaths, t)
		if err != nil {
			return nil, err
		}
		for _, l := range limits {
			k := typedKey{l.AccountID, t}
			base.limits[k] = l
			capped = append(capped, k)
		}
	}
	slices.SortFunc(capped, compareTyped)
	var err error
	for _, k := range capped {
		if base.used[k], err = m.monthUsage(ctx, k, month); err != nil {
			return nil, err
		}
	}
	for _, k := range debitPayers(ctx, m, ds) {
		if base.balances[k], err = m.balance(ctx, k); err != nil {
			return nil, err
		}
	}
	if err := base.addEarlier(ctx, m, keys); err != nil {
		return nil, err
	}

	for pass := 1; ; pass++ {
		st := base.pass()
		outs := make([]debitOutcome, len(ds))
		for i, d := range ds {
			if d.ctx != nil && base.written[d] == nil {
				if err := d.ctx.Err(); err != nil {
					outs[i] = debitOutcome{nil, err}
					continue
				}
			}
			res, err := st.decide(ctx, s, m, d, now)
			if err != nil && !isDebitRefusal(err) {
				return nil, err
			}
			outs[i] = debitOutcome{res, err}
		}
		var fresh []*canopy.LedgerEntry
		for _, e := range st.entries {
			if base.written[st.by[e.ID]] == nil {
				fresh = append(fresh, e)
			}
		}
		for d := range base.written {
			if o := outs[slices.Index(ds, d)]; o.err != nil || o.res.Entry != base.written[d] {
				return nil, fmt.Errorf("a debit written in an earlier pass did not succeed again")
			}
		}
		// In key order, so two writes inserting twins of each other's
		// debits wait for each other in one order, never in a cycle.
		slices.SortFunc(fresh, func(a, b *canopy.LedgerEntry) int {
			return cmp.Or(cmp.Compare(a.UsageAccountID, b.UsageAccountID), cmp.Compare(a.IdempotencyKey, b.IdempotencyKey))
		})
		taken, err := m.InsertNewLedgerEntries(ctx, fresh)
		if err != nil {
			return nil, err
		}
		var twins []store.LedgerKey
		for _, e := range fresh {
			if slices.Contains(taken, e.ID) {
				twins = append(twins, store.LedgerKey{UsageAccountID: e.UsageAccountID, Key: e.IdempotencyKey})
			} else {
				base.written[st.by[e.ID]] = e
			}
		}
		if len(twins) == 0 {
			return outs, st.apply(ctx, s, tx, m, now, month)
		}
		if pass == maxBatchPasses {
			return nil, fmt.Errorf("%d debits still met twins after %d passes", len(twins), pass)
		}
		s.log.Debug("debits met twins charged meanwhile; they are decided again", "twins", len(twins), "pass", pass)
		if err := base.addEarlier(ctx, m, twins); err != nil {
			return nil, err
		}
	}
}

// debitPayers returns the balances the debits draw on, in a fixed order.
// A debit whose payer cannot be resolved draws on none (its outcome says
// why).
func debitPayers(ctx context.Context, m *batchTx, ds []*debit) []typedKey {
	var out []typedKey
	for _, d := range ds {
		up, payer, err := payerOf(ctx, m, d.account.Path)
		if err != nil {
			continue
		}
		out = append(out, typedKey{up[payer].ID, d.usage.Type})
	}
	slices.SortFunc(out, compareTyped)
	return slices.Compact(out)
}

// addEarlier reads the entries already charged under keys.
func (b *batchBase) addEarlier(ctx context.Context, tx store.Tx, keys []store.LedgerKey) error {
	if len(keys) == 0 {
		return nil
	}
	prev, err := tx.LedgerEntriesByKeys(ctx, keys)
	if err != nil {
		return err
	}
	for _, e := range prev {
		b.earlier[usageKey{e.UsageAccountID, e.IdempotencyKey}] = e
	}
	return nil
}

// apply writes what the pass's debits took: month counts, balances, usage
// rollups, and the notices of caps reached and low balances — in that
// order, the order every write that charges or refunds usage locks them
// in. A transaction that holds balances itself (a batch of incoming
// texts) notices low balances when it writes them.
//
// In a batch that read its balances and counts unlocked (batchTx.unlocked)
// each is checked as it is written, under its row lock now: the batch's
// decisions hold if the debits it charged still fit, and if nothing it
// refused was refused on a balance or count that moved since it was read.
// Otherwise apply returns errBalanceMoved, and the batch runs again
// locked.
func (st *batchState) apply(ctx context.Context, s *Service, tx store.Tx, m *batchTx, now time.Time, month string) error {
	moved := func(k typedKey, read, found int64) bool { return m.unlocked && found != read && st.refused[k] }
	for _, k := range sortedKeys(st.base.used) {
		n := st.counted[k]
		before := st.base.used[k]
		if n == 0 {
			if m.unlocked && st.refused[k] {
				used, err := m.MonthUsageForUpdate(ctx, k.account, k.t, month)
				if err != nil {
					return err
				}
				if moved(k, before, used) {
					return errBalanceMoved
				}
			}
			continue
		}
		ok, used, err := m.AddMonthUsage(ctx, k.account, k.t, month, n, st.base.limits[k].Monthly)
		if err != nil {
			return err
		}
		if !ok && m.unlocked || ok && moved(k, before, used-n) {
			return errBalanceMoved
		}
		if !ok {
			return fmt.Errorf("month count of %s changed under its lock", k.account)
		}
		if err := s.noticeLimitReached(ctx, m, now, st.base.limits[k], month, used-n, used); err != nil {
			return err
		}
	}
	h, held := tx.(balanceHolder)
	held = held && h.holdsBalances()
	// The balances, in key order, then the usage rollups: one statement
	// where the engine allows it. An unlocked batch also takes nothing
	// from a balance that only refused debits, to lock it and see whether
	// it moved.
	var takes []store.CreditTake
	for _, k := range sortedKeys(st.base.balances) {
		if n := st.took[k]; n > 0 || m.unlocked && st.refused[k] {
			takes = append(takes, store.CreditTake{AccountID: k.account, Type: k.t, Amount: n})
		}
	}
	taken, err := m.TakeCreditsForUsage(ctx, takes, now, store.UsageDaysOf(st.entries))
	if err != nil {
		return err
	}
	for i, t := range takes {
		k, n, after := typedKey{t.AccountID, t.Type}, t.Amount, taken[i].Balance
		if n == 0 { // a balance without a row holds nothing
			if moved(k, st.base.balances[k], after) {
				return errBalanceMoved
			}
			continue
		}
		if !taken[i].OK && m.unlocked || taken[i].OK && moved(k, st.base.balances[k], after+n) {
			return errBalanceMoved
		}
		if !taken[i].OK {
			return fmt.Errorf("balance of %s changed under its lock", k.account)
		}
		if held {
			continue
		}
		// The debits of one payer only lower its balance: together they
		// cross a threshold as one debit of their sum would.
		if err := s.noticeLowBalance(ctx, m, now, k.account, k.t, after+n, after); err != nil {
			return err
		}
	}
	return nil
}

// decide decides one debit against the state the debits before it left,
// and records it there when it succeeds.
func (st *batchState) decide(ctx context.Context, s *Service, m *batchTx, d *debit, now time.Time) (*UsageResult, error) {
	u, acting := d.usage, d.account
	if u.Key != "" {
		k := usageKey{acting.ID, u.Key}
		prev := st.charged[k]
		if prev == nil {
			prev = st.base.earlier[k]
		}
		if prev != nil {
			if prev.Type != u.Type || prev.Amount != u.Quantity {
				return nil, keyMismatch(prev)
			}
			return &UsageResult{Entry: prev, Replayed: true}, nil
		}
	}
	up, payer, err := payerOf(ctx, m, acting.Path)
	if err != nil {
		return nil, err
	}
	// Caps nearest first, so the error names the cap closest to the user.
	for _, a := range up {
		k := typedKey{a.ID, u.Type}
		l, ok := st.base.limits[k]
		if !ok {
			continue
		}
		if used := st.used[k]; u.Quantity > l.Monthly-used {
			st.refused[k] = true
			return nil, capError(l, u, used)
		}
	}
	pk := typedKey{up[payer].ID, u.Type}
	balance, ok := st.balances[pk]
	if !ok { // a payer debitPayers did not foresee
		if balance, err = m.balance(ctx, pk); err != nil {
			return nil, err
		}
		st.base.balances[pk], st.balances[pk] = balance, balance
	}
	if balance < u.Quantity {
		st.refused[pk] = true
		return nil, balanceError(pk.account, u, balance)
	}

	e := st.base.written[d]
	if e == nil {
		e = &canopy.LedgerEntry{
			ID: s.ids.New(canopy.PrefixLedgerEntry), At: now, Kind: canopy.EntryUsage, Type: u.Type, Amount: u.Quantity,
			Debit: pk.account, Credit: canopy.BookConsumption, Reason: u.Reason,
			UsageAccountID: acting.ID, UsagePath: acting.Path, UsageRef: u.Ref, IdempotencyKey: u.Key, RequestID: d.requestID,
		}
	}
	st.entries = append(st.entries, e)
	st.by[e.ID] = d
	st.balances[pk] -= u.Quantity
	st.took[pk] += u.Quantity
	for _, a := range up {
		if k := (typedKey{a.ID, u.Type}); hasLimit(st, k) {
			st.used[k] += u.Quantity
			st.counted[k] += u.Quantity
		}
	}
	if u.Key != "" {
		st.charged[usageKey{acting.ID, u.Key}] = e
	}
	return &UsageResult{Entry: e}, nil
}

func hasLimit(st *batchState, k typedKey) bool {
	_, ok := st.base.limits[k]
	return ok
}

func compareTyped(a, b typedKey) int {
	return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.t, b.t))
}

// isDebitRefusal tells one debit's answer (a 402, a 404, a suspended
// account …) from a failure of the whole transaction.
func isDebitRefusal(err error) bool {
	var e *canopy.Error
	return errors.As(err, &e)
}

func sortedUnique[T cmp.Ordered](xs []T) []T {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return slices.Compact(xs)
}

func sortedKeys[V any](m map[typedKey]V) []typedKey {
	ks := make([]typedKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, compareTyped)
	return ks
}
