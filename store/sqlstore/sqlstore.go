// Package sqlstore implements store.Store once, over database/sql, for both
// SQLite and PostgreSQL. The SQL it writes stays inside what both engines
// (and PostgreSQL-compatible distributed engines) accept; the few real
// differences — placeholders, row locks, time columns, error codes — sit
// behind Dialect, which packages store/sqlite and store/postgres provide.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canopyhq/canopy/store"
)

// Dialect is what differs between the engines.
type Dialect interface {
	// Engine names the engine: "sqlite" or "postgres".
	Engine() string
	// NumberedPlaceholders is true when the engine wants $1, $2 … instead of ?.
	NumberedPlaceholders() bool
	// ForShare and ForUpdate are the row-lock clauses appended to a SELECT;
	// empty where the engine serialises writers anyway.
	ForShare() string
	ForUpdate() string
	// SkipLocked is appended to a SELECT … LIMIT that claims work, so
	// concurrent workers take different rows; empty where one writer runs.
	SkipLocked() string
	// LockTreeSQL is the statement that takes the tree lock, or "".
	LockTreeSQL() string
	// NotifySQL is the statement that announces an auth change at commit,
	// its payload (store.AuthChange) its one argument; or "".
	NotifySQL() string
	// Arg converts a Go value to what the driver stores (times, mainly).
	Arg(v any) any
	// Classify maps a driver error to a store constraint name (for unique
	// violations) and says whether the transaction may be retried.
	Classify(err error) (constraint string, retry bool)
	// ReadTxOptions are the options of a read-only snapshot transaction.
	ReadTxOptions() *sql.TxOptions
	// CacheStatements says whether the store should keep prepared
	// statements (drivers that cache them themselves, like pgx, say no).
	CacheStatements() bool
	// ExactRowCounts says whether n rows written together go in one
	// statement of n rows, rather than in groups of a power of two. Where
	// each statement is a round trip to a server (PostgreSQL), five groups
	// for 31 rows cost four round trips more than one statement; where the
	// engine runs in the process (SQLite), the groups keep the store's
	// statement cache to a few texts.
	ExactRowCounts() bool
	// Arrays says whether the engine takes a column of many rows as one
	// array parameter, read as rows by unnest (PostgreSQL). Where it does,
	// n rows written or looked up together are one statement text of a
	// parameter a column, whatever n is: a VALUES list of 128 ledger rows
	// was 1,664 parameters to bind and encode, a text per row count for
	// the server to parse and plan, and a statement per 128 rows.
	Arrays() bool
	// ProbeEach is appended to a correlated subquery (a NOT EXISTS, a
	// lateral one) that must run as one index probe per outer row. Left
	// alone, PostgreSQL's generic plan turns it into an anti join that, for
	// a viewer with thousands of shares, filters every row against all of
	// them, or a hash join over a whole table.
	ProbeEach() string
	// Fence is appended to a subquery whose rows the query around it must
	// filter in the subquery's order, as they come, rather than have the
	// planner merge the two ("" where the engine keeps the order anyway).
	Fence() string
	// CustomPlanSQL is a statement that makes the transaction's next
	// statements planned for their arguments every time, or "" where
	// plans always are. Reports over ranges of paths and days need it:
	// a plan cached for any range scans the whole subtree's history.
	CustomPlanSQL() string
	// JSON is the SQL of a column of JSON text as JSON that the -> and ->>
	// operators read.
	JSON(col string) string
	// JSONArrayHas is the condition that the JSON array expr holds the
	// string given as the next argument (false when expr is no array).
	JSONArrayHas(expr string) string
}

// DB is a store.Store over one database. Writes go through the write pool
// (for SQLite a single connection, so writers queue in Go rather than spin
// on the file lock); reads use the read pool.
type DB struct {
	write   *pool
	read    *pool // the same as write when one pool serves both
	dialect Dialect

	rebound sync.Map // query text → rebound text

	acquireTimeout time.Duration
	guard          *nestGuard
}

var _ store.Store = (*DB)(nil)

// New returns a store over the given pools (which may be the same pool).
// Operations wait DefaultAcquireTimeout for a connection (see
// SetAcquireTimeout).
func New(write, read *sql.DB, d Dialect) *DB {
	db := &DB{dialect: d, acquireTimeout: DefaultAcquireTimeout, guard: newNestGuard()}
	db.write = newPool(write, d.CacheStatements())
	db.read = db.write
	if read != write {
		db.read = newPool(read, d.CacheStatements())
	}
	return db
}

// Engine names the database engine.
func (db *DB) Engine() string { return db.dialect.Engine() }

// PreparedStatements reports how many statements the write and read pools
// keep prepared (always 0 where the driver caches them itself).
func (db *DB) PreparedStatements() (write, read int) {
	return db.write.stmts.size(), db.read.stmts.size()
}

// WritePool exposes the write pool for migrations and benchmark fixtures.
func (db *DB) WritePool() *sql.DB { return db.write.db }

// Ping checks both pools.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping write pool: %w", err)
	}
	if err := db.read.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping read pool: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.write.stmts.close()
	err := db.write.db.Close()
	if db.read != db.write {
		db.read.stmts.close()
		err = errors.Join(err, db.read.db.Close())
	}
	return err
}

const maxAttempts = 5

// Write runs fn in a read-write transaction, retrying on deadlocks and
// serialisation failures.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	if store.IsReadOnly(ctx) {
		return store.ErrReadOnly
	}
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = db.run(ctx, db.write, nil, fn)
		if err == nil {
			return nil
		}
		if _, retry := db.dialect.Classify(err); !retry || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
	}
	return err
}

// Read runs fn in a read-only snapshot transaction.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, db.read, db.dialect.ReadTxOptions(), fn)
}

// ReadOne runs fn on the read pool outside a transaction, for reads of a
// single statement, which see one snapshot on their own: it saves
// Read's BEGIN and COMMIT, two of three round trips on PostgreSQL.
func (db *DB) ReadOne(ctx context.Context, fn func(store.Tx) error) error {
	defer db.guard.enter()()
	release, err := db.read.acquire(ctx, db.acquireTimeout)
	if err != nil {
		return err
	}
	defer release()
	// Runs after fn's statements have let go of their connections.
	defer db.read.stmts.preparePending(ctx, db.read.db)
	return fn(&tx{conn: db.read.db, db: db, stmts: db.read.stmts})
}

func (db *DB) run(ctx context.Context, p *pool, opts *sql.TxOptions, fn func(store.Tx) error) (err error) {
	defer db.guard.enter()()
	release, err := p.acquire(ctx, db.acquireTimeout)
	if err != nil {
		return err
	}
	defer release()
	// Runs after the transaction has let go of its connection, while the
	// slot is still held: on a one-connection pool nobody else is using it.
	defer p.stmts.preparePending(ctx, p.db)
	sqlTx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", db.mapErr(err))
	}
	t := &tx{conn: sqlTx, tx: sqlTx, db: db, stmts: p.stmts}
	// Roll back unless the commit was reached, not only on an error or a
	// panic: fn may also end the goroutine with runtime.Goexit (t.FailNow
	// in a test does), and a transaction left open keeps its locks — and
	// on SQLite the only write connection — for ever.
	committed := false
	defer func() {
		if committed {
			return
		}
		_ = sqlTx.Rollback()
		if p := recover(); p != nil {
			panic(p)
		}
	}()
	if err = fn(t); err != nil {
		return err
	}
	committed = true
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.mapErr(err))
	}
	return nil
}

// mapErr turns unique violations into *store.ConflictError; other errors
// pass through unchanged.
func (db *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if c, _ := db.dialect.Classify(err); c != "" {
		return &store.ConflictError{Constraint: c, Err: err}
	}
	return err
}

func (db *DB) rebind(q string) string {
	if !db.dialect.NumberedPlaceholders() {
		return q
	}
	if v, ok := db.rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	out := b.String()
	db.rebound.Store(q, out)
	return out
}

// tx is one transaction (or, from ReadOne, statements on the pool); its
// methods live in one file per resource.
type tx struct {
	conn  conn
	tx    *sql.Tx // nil outside a transaction
	db    *DB
	stmts *stmtCache
	// depth is how many savepoints Try has begun: each is named after its
	// depth, so the few statements that open and close them are prepared
	// once. opened is how many of them the database has been told of: a
	// savepoint is opened only when the first statement inside it runs, so
	// a Try whose fn runs none (a text of a batch that only reads what the
	// batch holds in memory) costs no round trip.
	depth, opened int
	// spErr is the error of opening savepoints before a statement that
	// cannot return it (queryRow); Try returns it.
	spErr error
	// customPlanned says the transaction plans its statements for their
	// arguments already (see customPlans): a page's reports share one.
	customPlanned bool
}

// openSavepoints opens the savepoints begun but not yet opened, before a
// statement runs inside them.
func (t *tx) openSavepoints(ctx context.Context) error {
	for t.opened < t.depth {
		if _, err := t.execHere(ctx, "SAVEPOINT sp"+strconv.Itoa(t.opened+1)); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		t.opened++
	}
	return nil
}

// conn runs statements: a transaction or a pool.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var _ store.Tx = (*tx)(nil)

func (t *tx) args(args []any) []any {
	for i, a := range args {
		args[i] = t.db.dialect.Arg(a)
	}
	return args
}

// prepared returns the transaction's handle on a cached statement for q,
// or nil when q is not prepared yet (or statements are not cached).
func (t *tx) prepared(ctx context.Context, q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if st := t.stmts.lookup(q); st != nil {
		if t.tx == nil {
			return st // a statement prepared on the pool runs on the pool
		}
		return t.tx.StmtContext(ctx, st)
	}
	return nil
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := t.openSavepoints(ctx); err != nil {
		return nil, err
	}
	return t.execHere(ctx, q, args...)
}

// execHere runs a statement where the transaction is, opening no
// savepoint first: the statements that open and close them.
func (t *tx) execHere(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.db.rebind(q)
	var (
		res sql.Result
		err error
	)
	if st := t.prepared(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, t.args(args)...)
	} else {
		res, err = t.conn.ExecContext(ctx, q, t.args(args)...)
	}
	return res, t.db.mapErr(err)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := t.openSavepoints(ctx); err != nil {
		return nil, err
	}
	q = t.db.rebind(q)
	var (
		rows *sql.Rows
		err  error
	)
	if st := t.prepared(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, t.args(args)...)
	} else {
		rows, err = t.conn.QueryContext(ctx, q, t.args(args)...)
	}
	return rows, t.db.mapErr(err)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if err := t.openSavepoints(ctx); err != nil && t.spErr == nil {
		t.spErr = err // the statement then fails too; Try names the cause
	}
	q = t.db.rebind(q)
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, t.args(args)...)
	}
	return t.conn.QueryRowContext(ctx, q, t.args(args)...)
}

// LockTree takes the installation-wide structural lock.
func (t *tx) LockTree(ctx context.Context) error {
	q := t.db.dialect.LockTreeSQL()
	if q == "" {
		return nil
	}
	var one int
	if err := t.queryRow(ctx, q).Scan(&one); err != nil {
		return fmt.Errorf("lock tree: %w", t.db.mapErr(err))
	}
	return nil
}

// NotifyAuthChange announces an auth change to other processes at commit.
func (t *tx) NotifyAuthChange(ctx context.Context, forms ...string) error {
	q := t.db.dialect.NotifySQL()
	if q == "" {
		return nil
	}
	if _, err := t.exec(ctx, q, store.AuthChange(forms)); err != nil {
		return fmt.Errorf("notify auth change: %w", err)
	}
	return nil
}

// Try runs fn inside a savepoint, rolling back to it when fn fails.
func (t *tx) Try(ctx context.Context, fn func() error) error {
	if t.tx == nil {
		return errors.New("savepoint outside a transaction")
	}
	t.depth++
	defer func() { t.depth-- }()
	ferr := fn()
	if t.opened < t.depth {
		return ferr // no statement ran inside: nothing to undo or release
	}
	if t.spErr != nil {
		ferr, t.spErr = errors.Join(ferr, t.spErr), nil
	}
	name := "sp" + strconv.Itoa(t.depth)
	if ferr != nil {
		if _, err := t.execHere(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
			return errors.Join(ferr, fmt.Errorf("roll back to savepoint: %w", err))
		}
	}
	if _, err := t.execHere(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return errors.Join(ferr, fmt.Errorf("release savepoint: %w", err))
	}
	t.opened = t.depth - 1
	return ferr
}

// rowsPerStatement is how many of n rows left to write the next
// multi-row statement takes, at most limit (a power of two): all it may
// on engines with ExactRowCounts, else the largest power of two that
// fits.
func (t *tx) rowsPerStatement(n, limit int) int {
	k := min(n, limit)
	if t.db.dialect.ExactRowCounts() {
		return k
	}
	p := limit
	for p > k {
		p /= 2
	}
	return p
}

// unnest is the FROM item of rows passed a column at a time (on engines
// with Arrays), one array argument per column, of the SQL types given.
func unnest(types ...string) string {
	var b strings.Builder
	b.WriteString("unnest(")
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("CAST(? AS " + t + "[])")
	}
	b.WriteString(")")
	return b.String()
}

// scanAll runs q and scans each row with scan.
func scanAll[T any](ctx context.Context, t *tx, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

type rowScanner interface{ Scan(dest ...any) error }

// dbTime scans a time stored either as microseconds since the epoch
// (SQLite) or as timestamptz (PostgreSQL).
type dbTime struct {
	T     time.Time
	Valid bool
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.T, d.Valid = time.Time{}, false
	case int64:
		d.T, d.Valid = time.UnixMicro(x).UTC(), true
	case time.Time:
		d.T, d.Valid = x.UTC(), true
	default:
		return fmt.Errorf("cannot scan %T into a time", v)
	}
	return nil
}

func (d dbTime) ptr() *time.Time {
	if !d.Valid {
		return nil
	}
	t := d.T
	return &t
}

// nullable returns nil for the zero value, so optional columns store NULL.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func timePtrArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
