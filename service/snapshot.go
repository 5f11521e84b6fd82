package service

import (
	"context"
	"maps"
	"slices"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// snapshot is the read transaction Snapshot opened, carried on its
// context.
type snapshot struct {
	tx store.Tx
	// gen is the caches' generation read before it began: what is read in
	// it is at least that new, and no newer than its start, so fills from
	// it pass this generation (a fill after a later change is dropped).
	gen uint64
}

type snapshotKey struct{}

func snapshotOf(ctx context.Context) *snapshot {
	sn, _ := ctx.Value(snapshotKey{}).(*snapshot)
	return sn
}

// Snapshot runs fn in one read transaction that every read the service
// makes on fn's context joins: a console page that calls several methods
// sees one snapshot and pays one BEGIN and COMMIT (two round trips on
// PostgreSQL) rather than one pair a method. fn must not write: the store
// refuses a write on its context (store.ReadOnly), which would otherwise
// wait for the write connection while holding a read one. Methods run
// one after another on it, never at once.
func (s *Service) Snapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	if snapshotOf(ctx) != nil {
		return fn(ctx)
	}
	gen := s.cache.generation()
	return s.store.Read(ctx, func(tx store.Tx) error {
		st := &snapshotTx{Tx: tx, accounts: map[string]*canopy.Account{}, forms: map[[2]string]*store.FormFor{}}
		return fn(context.WithValue(store.ReadOnly(ctx), snapshotKey{}, &snapshot{tx: st, gen: gen}))
	})
}

// cacheGeneration is the generation a cache fill read on ctx passes: the
// snapshot's when it reads in one (see snapshot), else the current one.
// Read it before reading what is to be cached.
func (s *Service) cacheGeneration(ctx context.Context) uint64 {
	if sn := snapshotOf(ctx); sn != nil {
		return sn.gen
	}
	return s.cache.generation()
}

// snapshotTx is a snapshot's transaction. In one read-only snapshot a row
// read twice is the same row, so it keeps the accounts and forms that a
// page's methods read again and again — each checks the acting account
// and the form afresh (rule 2, docs/rules.md), which in one snapshot is
// one read — and hands out copies, so that no caller sees another's
// changes to them.
type snapshotTx struct {
	store.Tx
	accounts map[string]*canopy.Account
	forms    map[[2]string]*store.FormFor // by form and viewer
}

func (t *snapshotTx) GetAccount(ctx context.Context, id string) (*canopy.Account, error) {
	a, ok := t.accounts[id]
	if !ok {
		var err error
		if a, err = t.Tx.GetAccount(ctx, id); err != nil {
			return nil, err
		}
		t.accounts[id] = a
	}
	return cloneAccount(a), nil
}

func (t *snapshotTx) GetFormFor(ctx context.Context, id, viewer string) (*store.FormFor, error) {
	k := [2]string{id, viewer}
	ff, ok := t.forms[k]
	if !ok {
		var err error
		if ff, err = t.Tx.GetFormFor(ctx, id, viewer); err != nil {
			return nil, err
		}
		t.forms[k] = ff
	}
	c := *ff
	c.Form = cloneForm(ff.Form)
	if ff.Explicit != nil {
		r := *ff.Explicit
		c.Explicit = &r
	}
	return &c, nil
}

func cloneAccount(a *canopy.Account) *canopy.Account {
	c := *a
	c.Metadata = maps.Clone(a.Metadata)
	if a.Link != nil {
		l := *a.Link
		c.Link = &l
	}
	if a.ClosedAt != nil {
		at := *a.ClosedAt
		c.ClosedAt = &at
	}
	return &c
}

func cloneForm(f *canopy.Form) *canopy.Form {
	if f == nil {
		return nil
	}
	c := *f
	c.Questions = slices.Clone(f.Questions)
	for i := range c.Questions {
		c.Questions[i].Options = slices.Clone(f.Questions[i].Options)
	}
	return &c
}

// fillGeneration is the generation a cache fill read in tx passes (tx nil:
// a read of its own, see within): a read transaction's from before it
// began (readTx), else as cacheGeneration. A write transaction reads what
// is committed when each statement runs, and a change of its own that it
// fills from clears the caches before it commits (runWrite), so the
// current generation serves it.
func (s *Service) fillGeneration(ctx context.Context, tx store.Tx) uint64 {
	if rt, ok := tx.(readTx); ok {
		return rt.gen
	}
	return s.cacheGeneration(ctx)
}
