package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canopyhq/canopy/store"
)

// DefaultAcquireTimeout is how long an operation waits for a connection
// before it answers store.ErrBusy, unless the store is told otherwise.
const DefaultAcquireTimeout = 5 * time.Second

// pool is one database/sql pool with the slots that bound its use. Every
// transaction (and every ReadOne) takes a slot before it asks the pool for
// a connection, and gives it back after: the pool itself never queues, and
// a wait for a slot has a deadline that database/sql's own queue lacks (a
// request stuck there waits for as long as its context lives).
type pool struct {
	db    *sql.DB
	slots chan struct{} // nil: the pool is unbounded
	stmts *stmtCache    // nil unless the dialect caches statements
}

func newPool(db *sql.DB, cache bool) *pool {
	p := &pool{db: db}
	if n := db.Stats().MaxOpenConnections; n > 0 {
		p.slots = make(chan struct{}, n)
	}
	if cache {
		p.stmts = newStmtCache()
	}
	return p
}

// acquire takes a slot, waiting at most timeout (no limit when it is not
// positive) and no longer than ctx lives.
func (p *pool) acquire(ctx context.Context, timeout time.Duration) (release func(), err error) {
	if p.slots == nil {
		return func() {}, nil
	}
	release = func() { <-p.slots }
	select {
	case p.slots <- struct{}{}:
		return release, nil
	default:
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case p.slots <- struct{}{}:
		return release, nil
	case <-expired:
		return nil, store.ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SetAcquireTimeout sets how long an operation waits for a connection
// before it fails with store.ErrBusy; zero or less waits as long as the
// operation's context lives. Call it before the store is used.
func (db *DB) SetAcquireTimeout(d time.Duration) { db.acquireTimeout = d }

// nestGuard catches a goroutine that begins a transaction (or a ReadOne)
// while it already holds one of the same store. Such code holds a pooled
// connection while it waits for a second: with as many of it running as
// the pool has connections, every connection is held by an outer
// operation and no inner one can begin, so they all wait for ever (or for
// the acquire timeout). Pass the transaction down instead (STYLE habit 2).
//
// Go has no goroutine-local storage, and the closures a store runs use
// their caller's context, so the guard keys on the goroutine's id, read
// from its stack header: a few microseconds a transaction. It is on in
// test binaries, where it panics, and off in production, where the
// acquire timeout turns the same mistake into a 503 under load.
type nestGuard struct {
	on   bool
	held sync.Map // goroutine id → struct{}
}

func newNestGuard() *nestGuard { return &nestGuard{on: testing.Testing()} }

// enter marks the calling goroutine as holding a connection of the store
// and returns the function that unmarks it. It panics when the goroutine
// holds one already.
func (g *nestGuard) enter() (leave func()) {
	if !g.on {
		return func() {}
	}
	id := goroutineID()
	if _, loaded := g.held.LoadOrStore(id, struct{}{}); loaded {
		panic(fmt.Sprintf("sqlstore: goroutine %d begins a transaction while it holds one of the same store; "+
			"pass the transaction down instead of opening another (a pool whose every connection is held this way deadlocks)", id))
	}
	return func() { g.held.Delete(id) }
}

// SetNestingGuard turns the nesting guard on or off (it is on in test
// binaries). Tests that hold a transaction on purpose while another
// goroutine's runs, on one goroutine, turn it off.
func (db *DB) SetNestingGuard(on bool) { db.guard.on = on }

// goroutineID reads the calling goroutine's id from the first line of its
// stack trace, "goroutine 18 [running]:".
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
