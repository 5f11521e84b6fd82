package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/migrate"
	"github.com/canopyhq/canopy/store/postgres"
	"github.com/canopyhq/canopy/store/sqlite"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// DefaultDatabaseURL is the embedded default: a SQLite file in the
// working directory.
const DefaultDatabaseURL = "sqlite:canopy.db"

// flags wraps a FlagSet whose defaults come from environment variables,
// with *_FILE variants for secrets, validated before anything starts.
type flags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func newFlags(name, summary string, getenv func(string) string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: canopy %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return &flags{fs: fs, getenv: getenv}
}

// env returns the environment value of key, or of key_FILE read from disk.
func (f *flags) env(key string) string {
	if v := f.getenv(key); v != "" {
		return v
	}
	if path := f.getenv(key + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s_FILE: %w", key, err))
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return ""
}

func (f *flags) string(name, envKey, def, help string) *string {
	if v := f.env(envKey); v != "" {
		def = v
	}
	return f.fs.String(name, def, help+" ($"+envKey+")")
}

func (f *flags) int(name, envKey string, def int, help string) *int {
	if v := f.env(envKey); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a whole number", envKey, v))
		} else {
			def = n
		}
	}
	return f.fs.Int(name, def, help+" ($"+envKey+")")
}

func (f *flags) bool(name, envKey string, def bool, help string) *bool {
	if v := f.env(envKey); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not true or false", envKey, v))
		} else {
			def = b
		}
	}
	return f.fs.Bool(name, def, help+" ($"+envKey+")")
}

func (f *flags) float(name, envKey string, def float64, help string) *float64 {
	if v := f.env(envKey); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a number", envKey, v))
		} else {
			def = n
		}
	}
	return f.fs.Float64(name, def, help+" ($"+envKey+")")
}

func (f *flags) duration(name, envKey string, def time.Duration, help string) *time.Duration {
	if v := f.env(envKey); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a duration such as 5s or 1m", envKey, v))
		} else {
			def = d
		}
	}
	return f.fs.Duration(name, def, help+" ($"+envKey+")")
}

// parse parses flags and refuses positional arguments.
func (f *flags) parse(args []string) error {
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", f.fs.Arg(0))}
	}
	return nil
}

// parseWithArgs parses flags and leaves positional arguments in f.fs.Args().
func (f *flags) parseWithArgs(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return errors.Join(f.errs...)
}

// dbFlags are the database settings shared by serve and migrate.
type dbFlags struct {
	url            *string
	synchronous    *string
	maxConns       *int
	acquireTimeout *time.Duration
}

func addDBFlags(f *flags) dbFlags {
	return dbFlags{
		url: f.string("database-url", "CANOPY_DATABASE_URL", DefaultDatabaseURL,
			"database: sqlite:PATH (embedded, the default) or postgres://user@host:5432/db"),
		synchronous: f.string("sqlite-synchronous", "CANOPY_SQLITE_SYNCHRONOUS", "FULL",
			"SQLite durability: FULL (every commit survives power loss) or NORMAL (faster; survives process crashes)"),
		maxConns: f.int("max-db-conns", "CANOPY_MAX_DB_CONNS", 20, "PostgreSQL connection pool size"),
		acquireTimeout: f.duration("db-acquire-timeout", "CANOPY_DB_ACQUIRE_TIMEOUT", sqlstore.DefaultAcquireTimeout,
			"how long a request waits for a free database connection before it answers 503 busy with Retry-After"),
	}
}

// openedStore is an open database with its migration functions.
type openedStore struct {
	db       *sqlstore.DB
	engine   string
	where    string
	migrate  func(context.Context, *sqlstore.DB) ([]migrate.Applied, error)
	statuses func(context.Context, *sqlstore.DB) ([]migrate.Status, error)
}

func openStore(ctx context.Context, d dbFlags) (*openedStore, error) {
	url := *d.url
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: *d.maxConns, AcquireTimeout: *d.acquireTimeout})
		if err != nil {
			return nil, err
		}
		return &openedStore{db: db, engine: "postgres", where: redact(url), migrate: postgres.Migrate, statuses: postgres.MigrationStatus}, nil
	default:
		path, _ := sqlitePath(url)
		if strings.Contains(path, "://") {
			return nil, usageError{fmt.Sprintf("--database-url %q: use sqlite:PATH or postgres://…", url)}
		}
		db, err := sqlite.Open(path, sqlite.Options{Synchronous: *d.synchronous, AcquireTimeout: *d.acquireTimeout})
		if err != nil {
			return nil, err
		}
		return &openedStore{db: db, engine: "sqlite", where: path, migrate: sqlite.Migrate, statuses: sqlite.MigrationStatus}, nil
	}
}

// redact hides a password in a database URL for logs.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	creds, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	user, _, hasPass := strings.Cut(creds, ":")
	if !hasPass {
		return url
	}
	return scheme + "://" + user + ":xxxxx@" + host
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", level)}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// subcommand splits the arguments of a command made of subcommands
// ("canopy outbox list …"). With no subcommand it prints the summary and
// answers a usage error naming want; for help it prints the summary and
// answers done.
func subcommand(name, summary, want string, args []string, stdout, stderr io.Writer) (sub string, rest []string, done bool, err error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintln(stderr, summary)
		return "", nil, false, usageError{name + " needs a subcommand: " + want}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, summary)
		return "", nil, true, nil
	}
	return args[0], args[1:], false, nil
}

// operateDB parses the flags of a command that only reads or writes the
// database (db, its own flags in f, and --log-level, added here) and opens
// the installation with operate.
func operateDB(ctx context.Context, f *flags, db dbFlags, args []string, stderr io.Writer) (*service.Service, func(), error) {
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "warn", "debug, info, warn or error")
	if err := f.parseWithArgs(args); err != nil {
		return nil, nil, err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return nil, nil, err
	}
	return operate(ctx, db, nil, "", log)
}

// operate opens an existing installation's database, applies pending
// migrations and builds the service, for the commands that operate on an
// installation; close releases the database. sf is nil for commands that
// send nothing (their service keeps its defaults). An SQLite file that does
// not exist is an error, not a new empty installation: an operator in the
// wrong folder must not be told that all is well. adjust, if any,
// completes the configuration.
func operate(ctx context.Context, db dbFlags, sf *serviceFlags, addr string, log *slog.Logger, adjust ...func(*service.Config) error) (svc *service.Service, close func(), err error) {
	cfg := service.Config{IDs: canopy.NewIDs(nil, nil), Logger: log}
	if sf != nil {
		if cfg, err = sf.config(addr, cfg.IDs, log); err != nil {
			return nil, nil, err
		}
	}
	if path, ok := sqlitePath(*db.url); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no Canopy database at %s: run this command where canopy serve keeps its database, or name it with --database-url", path)
		}
	}
	for _, a := range adjust {
		if err := a(&cfg); err != nil {
			return nil, nil, err
		}
	}
	st, err := openStore(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.migrate(ctx, st.db); err != nil {
		st.db.Close()
		return nil, nil, err
	}
	return newService(st.db, cfg), func() { st.db.Close() }, nil
}

// sqlitePath returns the file of an SQLite database URL.
func sqlitePath(url string) (string, bool) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return "", false
	}
	return strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:"), true
}
