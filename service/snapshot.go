package service

import (
	"context"
	"maps"
	"slices"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

type snapshotKey struct{}

// snapshotOf is the read transaction Snapshot opened, carried on ctx.
func snapshotOf(ctx context.Context) *snapshotTx {
	sn, _ := ctx.Value(snapshotKey{}).(*snapshotTx)
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
		st := &snapshotTx{Tx: tx, gen: gen, accounts: map[string]*canopy.Account{}, forms: map[[2]string]*store.FormFor{}}
		return fn(context.WithValue(store.ReadOnly(ctx), snapshotKey{}, st))
	})
}

// snapshotTx is a snapshot's transaction. In one read-only snapshot a row
// read twice is the same row, so it keeps the accounts and forms that a
// page's methods read again and again — each checks the acting account
// and the form afresh (rule 2, docs/rules.md), which in one snapshot is
// one read — and hands out copies, so that no caller sees another's
// changes to them.
type snapshotTx struct {
	store.Tx
	gen      uint64 // see began
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

// began is implemented by the read transactions that remember the
// caches' generation read before they began (readTx, snapshotTx): what
// is read in one may be older than the generation current by then, so a
// cache fill from it passes this one, and a fill after a change that
// committed meanwhile is dropped rather than kept stale (rule 5,
// docs/rules.md).
type began interface{ beganAt() uint64 }

func (t readTx) beganAt() uint64      { return t.gen }
func (t *snapshotTx) beganAt() uint64 { return t.gen }

// fillGeneration is the generation a cache fill passes; read it before
// reading what is to be cached. The fill reads in tx, or with tx nil in
// the context's snapshot or else a read of its own (see within). A read
// transaction passes the generation from before it began. A write
// transaction reads what is committed when each statement runs, and a
// change of its own that it fills from clears the caches before it
// commits (runWrite), so the current generation serves it, as it does a
// read of its own, which begins after it.
func (s *Service) fillGeneration(ctx context.Context, tx store.Tx) uint64 {
	if tx == nil {
		if sn := snapshotOf(ctx); sn != nil {
			return sn.gen
		}
	}
	if b, ok := tx.(began); ok {
		return b.beganAt()
	}
	return s.cache.generation()
}
