package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the cache; queries past it run unprepared.
// Canopy's query texts are few (a few hundred with every multi-row and
// IN-list width), so the bound only guards against a future bug.
const maxCachedStatements = 2000

// stmtCache keeps prepared statements per pool, for engines whose driver
// parses every statement it runs (SQLite: parsing was a fifth of a
// create's CPU). A statement cannot be prepared inside a transaction on a
// one-connection pool — that connection is busy — so a query first runs
// unprepared and is marked; once the transaction has released its
// connection, the marked queries are prepared for later transactions.
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache() *stmtCache {
	return &stmtCache{stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// lookup returns the prepared statement for q, or marks q for preparing.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[q]; ok {
		return st
	}
	if len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[q] = true
	}
	return nil
}

// preparePending prepares the marked queries on pool. Call it with no
// transaction open in this goroutine.
func (c *stmtCache) preparePending(ctx context.Context, pool *sql.DB) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		st, err := pool.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue // the query still runs unprepared; nothing is lost
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	clear(c.stmts)
}

func (c *stmtCache) size() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}
