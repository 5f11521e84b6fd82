package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
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
// up, and the caps and the payer's balance checked against counts read
// under lock in this transaction, less what the debits before it in the
// batch took. A debit refused (402, 404, 409, 422) writes nothing and does
// not disturb the others. Only the successful debits are written: their
// entries in multi-row INSERTs, one conditional UPDATE per payer balance
// and per capped month. A debit whose reference a twin outside the batch
// charged meanwhile (a retry racing its first try on another replica)
// becomes the replay it is, in the same transaction (see chargeBatch).
// When the transaction as a whole fails (the store), each debit runs
// again on its own through the plain path.

// maxBatch bounds the debits of one transaction.
const maxBatch = 512

// batchTimeout bounds one shared transaction: no caller's context may end
// it early for the others.
const batchTimeout = 30 * time.Second

// errRunAlone tells a caller whose batch failed as a whole to run its
// debit on its own.
var errRunAlone = errors.New("batch failed; run the debit alone")

// debitBatcher collects concurrent debits and runs them in shared
// transactions, one at a time.
type debitBatcher struct {
	s       *Service
	mu      sync.Mutex
	pending []*debitReq
	running bool // a goroutine is draining pending
}

type debitReq struct {
	ctx  context.Context
	c    Caller
	in   UsageInput
	key  string
	res  *UsageResult
	err  error
	done chan struct{}
}

func newDebitBatcher(s *Service) *debitBatcher { return &debitBatcher{s: s} }

// charge queues one debit and waits for its outcome. It waits even when
// ctx ends: the debit may be committed by then, and the caller must not
// report a failure for a charge that happened.
func (b *debitBatcher) charge(ctx context.Context, c Caller, in UsageInput, key string) (*UsageResult, error) {
	r := &debitReq{ctx: ctx, c: c, in: in, key: key, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	<-r.done
	return r.res, r.err
}

// drain runs batches until no debit waits; the next debit starts it anew.
func (b *debitBatcher) drain() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.run(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// run charges a batch in one transaction and sets each debit's outcome.
func (b *debitBatcher) run(batch []*debitReq) {
	live := make([]*debitReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err // gone before it started, as a write would be
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var outs []debitOutcome
	err := b.s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		outs, err = chargeBatch(ctx, b.s, tx, live) // afresh on each retry
		return err
	})
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
	written map[*debitReq]*canopy.LedgerEntry
}

// batchState is what the debits before the current one left in one pass:
// balances and month counts less what they took, and the entries charged.
type batchState struct {
	base     *batchBase
	balances map[typedKey]int64
	used     map[typedKey]int64
	charged  map[usageKey]*canopy.LedgerEntry // by this pass
	entries  []*canopy.LedgerEntry
	by       map[string]*debitReq // entry id → its debit
	took     map[typedKey]int64   // per payer balance
	counted  map[typedKey]int64   // per capped account
}

func (b *batchBase) pass() *batchState {
	return &batchState{base: b, balances: maps.Clone(b.balances), used: maps.Clone(b.used),
		charged: map[usageKey]*canopy.LedgerEntry{}, by: map[string]*debitReq{},
		took: map[typedKey]int64{}, counted: map[typedKey]int64{}}
}

// maxBatchPasses bounds the passes of a batch whose debits keep meeting
// twins; after it the batch fails and its debits run alone.
const maxBatchPasses = 3

// chargeBatch decides and writes the debits of reqs in one transaction, in
// order. The error is the transaction's; each debit's own is in its
// outcome.
//
// A debit whose reference another transaction charges meanwhile (a retry
// racing its first try on another replica) loses only itself: the entries
// are inserted leaving taken references out, and when some were, the
// batch is decided again with those debits answered as the replays they
// are, in the same transaction. The debits that were written succeed
// again (a replay takes nothing, so every later debit has as much room or
// more); only new successes are inserted. The payers' balances are locked
// before the references are read, so a twin charged through the same
// payer has committed by then and is seen at once: the second pass is
// for the rare twin that races past that.
func chargeBatch(ctx context.Context, s *Service, tx store.Tx, reqs []*debitReq) ([]debitOutcome, error) {
	m := &batchTx{Tx: tx, accounts: map[string]*canopy.Account{}, keys: map[string]*canopy.APIKey{}, users: map[string]*canopy.User{}}
	now := s.now()
	month := canopy.MonthOf(now)

	// The acting accounts, share-locked as each write's would be, then
	// every account on their paths, then the caps on those paths with
	// their month counts, the payers' balances, and the references
	// already charged.
	acting := make([]string, 0, len(reqs))
	for _, r := range reqs {
		acting = append(acting, r.c.Acting.ID)
	}
	acting = sortedUnique(acting)
	locked, err := tx.GetAccountsForShare(ctx, acting)
	if err != nil {
		return nil, fmt.Errorf("load acting accounts: %w", err)
	}
	var onPaths []string
	for _, a := range locked {
		m.accounts[a.ID] = a
		onPaths = append(onPaths, a.Path.IDs()...)
	}
	onPaths = sortedUnique(onPaths)
	if _, err := m.GetAccounts(ctx, onPaths); err != nil {
		return nil, fmt.Errorf("load ancestors: %w", err)
	}
	var types []canopy.CreditType
	var keys []store.LedgerKey
	for _, r := range reqs {
		types = append(types, r.in.Type)
		if r.key != "" {
			keys = append(keys, store.LedgerKey{UsageAccountID: r.c.Acting.ID, Key: r.key})
		}
	}
	base := &batchBase{
		balances: map[typedKey]int64{}, used: map[typedKey]int64{}, limits: map[typedKey]store.CreditLimit{},
		earlier: map[usageKey]*canopy.LedgerEntry{}, written: map[*debitReq]*canopy.LedgerEntry{},
	}
	var capped []typedKey
	for _, t := range sortedUnique(types) {
		limits, err := tx.CreditLimits(ctx, onPaths, t)
		if err != nil {
			return nil, err
		}
		for _, l := range limits {
			k := typedKey{l.AccountID, t}
			base.limits[k] = l
			capped = append(capped, k)
		}
	}
	// Month counts before balances, in a fixed order: the plain path
	// locks them in that order too.
	slices.SortFunc(capped, compareTyped)
	for _, k := range capped {
		if base.used[k], err = tx.MonthUsageForUpdate(ctx, k.account, k.t, month); err != nil {
			return nil, err
		}
	}
	for _, k := range batchPayers(ctx, m, reqs) {
		if base.balances[k], err = tx.BalanceForUpdate(ctx, k.account, k.t); err != nil {
			return nil, err
		}
	}
	if err := base.addEarlier(ctx, tx, keys); err != nil {
		return nil, err
	}

	for pass := 1; ; pass++ {
		st := base.pass()
		outs := make([]debitOutcome, len(reqs))
		for i, r := range reqs {
			if err := r.ctx.Err(); err != nil && base.written[r] == nil {
				outs[i] = debitOutcome{nil, err}
				continue
			}
			res, err := st.debit(ctx, s, m, r, now)
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
		for r := range base.written {
			if o := outs[slices.Index(reqs, r)]; o.err != nil || o.res.Entry != base.written[r] {
				return nil, fmt.Errorf("a debit written in an earlier pass of its batch did not succeed again")
			}
		}
		// In key order, so two batches inserting twins of each other's
		// debits wait for each other in one order, never in a cycle.
		slices.SortFunc(fresh, func(a, b *canopy.LedgerEntry) int {
			return cmp.Or(cmp.Compare(a.UsageAccountID, b.UsageAccountID), cmp.Compare(a.IdempotencyKey, b.IdempotencyKey))
		})
		taken, err := tx.InsertNewLedgerEntries(ctx, fresh)
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
			return outs, st.apply(ctx, s, tx, now, month)
		}
		if pass == maxBatchPasses {
			return nil, fmt.Errorf("%d debits of the batch still met twins after %d passes", len(twins), pass)
		}
		s.log.Debug("debits met twins charged meanwhile; the batch is decided again", "twins", len(twins), "pass", pass)
		if err := base.addEarlier(ctx, tx, twins); err != nil {
			return nil, err
		}
	}
}

// batchPayers returns the balances the batch's debits draw on, in a fixed
// order. A debit whose account cannot be resolved draws on none (its
// outcome says why).
func batchPayers(ctx context.Context, m *batchTx, reqs []*debitReq) []typedKey {
	var out []typedKey
	for _, r := range reqs {
		a, ok := m.accounts[r.c.Acting.ID]
		if !ok {
			continue
		}
		up, payer, err := payerOf(ctx, m, a.Path)
		if err != nil {
			continue
		}
		out = append(out, typedKey{up[payer].ID, r.in.Type})
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

// apply writes what the pass's debits took: usage rollups, month counts,
// balances, and low-balance notices.
func (st *batchState) apply(ctx context.Context, s *Service, tx store.Tx, now time.Time, month string) error {
	if err := tx.AddUsageDays(ctx, store.UsageDaysOf(st.entries)); err != nil {
		return err
	}
	for _, k := range sortedKeys(st.counted) {
		ok, _, err := tx.AddMonthUsage(ctx, k.account, k.t, month, st.counted[k], st.base.limits[k].Monthly)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("month count of %s changed under its lock", k.account)
		}
		before := st.base.used[k]
		if err := s.noticeLimitReached(ctx, tx, now, st.base.limits[k], month, before, before+st.counted[k]); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(st.took) {
		ok, after, err := tx.TakeCredits(ctx, k.account, k.t, st.took[k], now)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("balance of %s changed under its lock", k.account)
		}
		// The batch's debits of one payer only lower its balance: the
		// batch crosses a threshold as one debit of their sum would.
		if err := s.noticeLowBalance(ctx, tx, now, k.account, k.t, after+st.took[k], after); err != nil {
			return err
		}
	}
	return nil
}

// debit decides one debit of the batch as runWrite and op.charge would,
// against the batch's state, and records it there when it succeeds.
func (st *batchState) debit(ctx context.Context, s *Service, m *batchTx, r *debitReq, now time.Time) (*UsageResult, error) {
	c := r.c
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
	u := Usage{Type: r.in.Type, Quantity: r.in.Quantity, Reason: r.in.Reason, Ref: "usage", Key: r.key}
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
			return nil, capError(l, u, used)
		}
	}
	pk := typedKey{up[payer].ID, u.Type}
	balance, ok := st.balances[pk]
	if !ok { // a payer batchPayers did not foresee
		if balance, err = m.BalanceForUpdate(ctx, pk.account, pk.t); err != nil {
			return nil, err
		}
		st.base.balances[pk], st.balances[pk] = balance, balance
	}
	if balance < u.Quantity {
		return nil, balanceError(pk.account, u, balance)
	}

	e := st.base.written[r]
	if e == nil {
		e = &canopy.LedgerEntry{
			ID: s.ids.New(canopy.PrefixLedgerEntry), At: now, Kind: canopy.EntryUsage, Type: u.Type, Amount: u.Quantity,
			Debit: pk.account, Credit: canopy.BookConsumption, Reason: u.Reason,
			UsageAccountID: acting.ID, UsagePath: acting.Path, UsageRef: u.Ref, IdempotencyKey: u.Key, RequestID: c.RequestID,
		}
	}
	st.entries = append(st.entries, e)
	st.by[e.ID] = r
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
