package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Group commit for usage debits (issue 6, "the hot account").
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
// and per capped month. When the transaction as a whole fails (a race
// lost to a debit outside the batch, the store), each debit runs again on
// its own through the plain path.

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

// batchState is what the debits before the current one left: balances
// and month counts as read under lock less what they took, and the
// entries charged so far.
type batchState struct {
	balances map[typedKey]int64
	used     map[typedKey]int64
	limits   map[typedKey]store.CreditLimit
	charged  map[usageKey]*canopy.LedgerEntry // by this batch
	earlier  map[usageKey]*canopy.LedgerEntry // by earlier transactions
	entries  []*canopy.LedgerEntry
	took     map[typedKey]int64 // per payer balance
	counted  map[typedKey]int64 // per capped account
}

// chargeBatch decides and writes the debits of reqs in one transaction, in
// order. The error is the transaction's; each debit's own is in its
// outcome.
func chargeBatch(ctx context.Context, s *Service, tx store.Tx, reqs []*debitReq) ([]debitOutcome, error) {
	m := &batchTx{Tx: tx, accounts: map[string]*canopy.Account{}, keys: map[string]*canopy.APIKey{}, users: map[string]*canopy.User{}}
	now := s.now()
	month := canopy.MonthOf(now)

	// The acting accounts, share-locked as each write's would be, then
	// every account on their paths, then the references already charged
	// and the caps on those paths.
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
	st := &batchState{
		balances: map[typedKey]int64{}, used: map[typedKey]int64{}, limits: map[typedKey]store.CreditLimit{},
		charged: map[usageKey]*canopy.LedgerEntry{}, earlier: map[usageKey]*canopy.LedgerEntry{},
		took: map[typedKey]int64{}, counted: map[typedKey]int64{},
	}
	if len(keys) > 0 {
		prev, err := tx.LedgerEntriesByKeys(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, e := range prev {
			st.earlier[usageKey{e.UsageAccountID, e.IdempotencyKey}] = e
		}
	}
	var capped []typedKey
	for _, t := range sortedUnique(types) {
		limits, err := tx.CreditLimits(ctx, onPaths, t)
		if err != nil {
			return nil, err
		}
		for _, l := range limits {
			k := typedKey{l.AccountID, t}
			st.limits[k] = l
			capped = append(capped, k)
		}
	}
	// Month counts before balances, in a fixed order: the plain path
	// locks them in that order too.
	slices.SortFunc(capped, func(a, b typedKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.t, b.t))
	})
	for _, k := range capped {
		if st.used[k], err = tx.MonthUsageForUpdate(ctx, k.account, k.t, month); err != nil {
			return nil, err
		}
	}

	outs := make([]debitOutcome, len(reqs))
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			outs[i] = debitOutcome{nil, err}
			continue
		}
		res, err := st.debit(ctx, s, m, r, now)
		if err != nil && !isDebitRefusal(err) {
			return nil, err
		}
		outs[i] = debitOutcome{res, err}
	}

	if err := tx.InsertLedgerEntries(ctx, st.entries); err != nil {
		return nil, err
	}
	if err := tx.AddUsageDays(ctx, store.UsageDaysOf(st.entries)); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(st.counted) {
		ok, _, err := tx.AddMonthUsage(ctx, k.account, k.t, month, st.counted[k], st.limits[k].Monthly)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("month count of %s changed under its lock", k.account)
		}
	}
	for _, k := range sortedKeys(st.took) {
		ok, after, err := tx.TakeCredits(ctx, k.account, k.t, st.took[k], now)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("balance of %s changed under its lock", k.account)
		}
		// The batch's debits of one payer only lower its balance: the
		// batch crosses a threshold as one debit of their sum would.
		if err := s.noticeLowBalance(ctx, tx, now, k.account, k.t, after+st.took[k], after); err != nil {
			return nil, err
		}
	}
	return outs, nil
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
			prev = st.earlier[k]
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
		l, ok := st.limits[k]
		if !ok {
			continue
		}
		if used := st.used[k]; u.Quantity > l.Monthly-used {
			return nil, capError(l, u, used)
		}
	}
	pk := typedKey{up[payer].ID, u.Type}
	balance, ok := st.balances[pk]
	if !ok {
		if balance, err = m.BalanceForUpdate(ctx, pk.account, pk.t); err != nil {
			return nil, err
		}
		st.balances[pk] = balance
	}
	if balance < u.Quantity {
		return nil, balanceError(pk.account, u, balance)
	}

	e := &canopy.LedgerEntry{
		ID: s.ids.New(canopy.PrefixLedgerEntry), At: now, Kind: canopy.EntryUsage, Type: u.Type, Amount: u.Quantity,
		Debit: pk.account, Credit: canopy.BookConsumption, Reason: u.Reason,
		UsageAccountID: acting.ID, UsagePath: acting.Path, UsageRef: u.Ref, IdempotencyKey: u.Key, RequestID: c.RequestID,
	}
	st.entries = append(st.entries, e)
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
	_, ok := st.limits[k]
	return ok
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
	slices.SortFunc(ks, func(a, b typedKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.t, b.t))
	})
	return ks
}
