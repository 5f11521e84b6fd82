// Package sqlite opens Canopy's embedded default store: one SQLite file in
// WAL mode through the pure-Go modernc.org/sqlite driver, so a first run
// needs no database server and no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/migrate"
	"github.com/canopyhq/canopy/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the SQLite store.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: FULL (the default) makes
	// every commit durable against power loss, NORMAL only against process
	// crashes, and is several times faster.
	Synchronous string
	// ReadConns is the size of the read pool (default: max(4, GOMAXPROCS)).
	ReadConns int
	// AcquireTimeout bounds the wait for a free connection (for writes,
	// the one writer), after which an operation fails with store.ErrBusy
	// (default sqlstore.DefaultAcquireTimeout).
	AcquireTimeout time.Duration
}

// Open opens (creating if needed) the database file at path. It does not
// apply migrations; call Migrate.
func Open(path string, opts Options) (*sqlstore.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" && sync != "EXTRA" && sync != "OFF" {
		return nil, fmt.Errorf("sqlite: synchronous must be FULL, NORMAL, EXTRA or OFF, not %q", opts.Synchronous)
	}
	params := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(" + sync + ")&_txlock=immediate"
	// The writer keeps a larger page cache, its statement journal in
	// memory, and checkpoints the WAL every 10,000 pages rather than 1,000:
	// a transaction that writes many rows (a batch of debits) touches many
	// index pages, a multi-row INSERT journals each page it changes (to a
	// temporary file unless told otherwise), and a rarer checkpoint copies
	// a page changed by many commits once.
	write, err := sql.Open("sqlite", "file:"+path+"?"+params+"&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer at a time anyway, and
	// queueing in Go is far cheaper than spinning on the file lock.
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(context.Background()); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+params+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	st := sqlstore.New(write, read, dialect{})
	if opts.AcquireTimeout > 0 {
		st.SetAcquireTimeout(opts.AcquireTimeout)
	}
	return st, nil
}

// Migrate applies every pending migration.
func Migrate(ctx context.Context, db *sqlstore.DB) ([]migrate.Applied, error) {
	return migrate.Up(ctx, migrate.SQLite, db.WritePool(), migrations)
}

// MigrateTo applies the pending migrations up to version, for tests that
// start from a database an older Canopy left.
func MigrateTo(ctx context.Context, db *sqlstore.DB, version int64) error {
	return migrate.UpTo(ctx, migrate.SQLite, db.WritePool(), migrations, version)
}

// MigrationStatus lists the migrations and whether each is applied.
func MigrationStatus(ctx context.Context, db *sqlstore.DB) ([]migrate.Status, error) {
	return migrate.List(ctx, migrate.SQLite, db.WritePool(), migrations)
}

type dialect struct{}

func (dialect) Engine() string                { return "sqlite" }
func (dialect) NumberedPlaceholders() bool    { return false }
func (dialect) ForShare() string              { return "" }
func (dialect) ForUpdate() string             { return "" }
func (dialect) SkipLocked() string            { return "" }
func (dialect) LockTreeSQL() string           { return "" } // BEGIN IMMEDIATE already serialises writers
func (dialect) NotifySQL() string             { return "" }
func (dialect) ReadTxOptions() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }
func (dialect) CacheStatements() bool         { return true }  // the driver parses every statement it runs
func (dialect) ExactRowCounts() bool          { return false } // statements cost no round trip; few texts stay prepared
func (dialect) Arrays() bool                  { return false } // no array type; VALUES lists cost no round trip
func (dialect) ProbeEach() string             { return "" }    // SQLite runs a correlated NOT EXISTS per row
func (dialect) CustomPlanSQL() string         { return "" }    // SQLite plans with the arguments bound
func (dialect) Fence() string                 { return "" }    // SQLite walks the index in order and filters as it goes
func (dialect) JSON(col string) string        { return col }
func (dialect) JSONArrayHas(expr string) string {
	// Array elements have integer keys (object members text, a scalar none).
	return `EXISTS (SELECT 1 FROM json_each(` + expr + `) WHERE typeof(key) = 'integer' AND type = 'text' AND value = ?)`
}

// Arg stores times as microseconds since the epoch: SQLite has no time
// type, and integers sort and compare correctly.
func (dialect) Arg(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UnixMicro()
	}
	return v
}

// uniqueColumns maps the column list SQLite reports for a unique violation
// to the constraint's name.
var uniqueColumns = map[string]string{
	"people.email_norm":                             store.UniqueUserEmail,
	"people.username_norm":                          store.UniqueUsername,
	"memberships.person_id, memberships.account_id": store.UniqueMembership,
	"api_keys.secret_hash":                          store.UniqueAPIKeyHash,
	"index 'accounts_one_root'":                     store.UniqueRootAccount,
	"external_references.parent_id, external_references.type, external_references.value": store.UniqueExternalRef,
	"idempotency_keys.scope, idempotency_keys.idem_key":                                  store.UniqueIdempotency,
	"account_workflows.account_id, account_workflows.name":                               store.UniqueWorkflowName,
	"invitations.umbrella_id, invitations.invitee_key":                                   store.UniquePendingInvite,
	"invitations.token_hash":                                                             store.UniqueInviteToken,
	"contacts.account_id, contacts.email_norm":                                           store.UniqueContactEmail,
	"credit_ledger.usage_account_id, credit_ledger.idempotency_key":                      store.UniqueLedgerKey, // before migration 16
	"credit_ledger.idempotency_key, credit_ledger.usage_account_id":                      store.UniqueLedgerKey,
	"form_codes.code": store.UniqueFormCode,
}

func (dialect) Classify(err error) (string, bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return "", false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		msg := e.Error()
		const marker = "UNIQUE constraint failed: "
		if i := strings.Index(msg, marker); i >= 0 {
			cols := msg[i+len(marker):]
			if j := strings.LastIndex(cols, " ("); j >= 0 {
				cols = cols[:j]
			}
			if name, ok := uniqueColumns[cols]; ok {
				return name, false
			}
		}
		return store.UniqueOther, false
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_SNAPSHOT, sqlite3.SQLITE_LOCKED:
		return "", true
	}
	return "", false
}
