package service_test

// The hot-account benchmark: 1,000 sub-accounts, all billed to
// one umbrella, debit it at once from 256 clients, with durable commits —
// SQLite with synchronous=FULL (the store's default), PostgreSQL with
// synchronous_commit=on (the server's default). Every commit waits for an
// fsync, so the fsync time of this machine (fsync-p50-µs, measured in the
// temporary directory the SQLite file lives in) bounds what one
// transaction per debit can do. Two sub-benchmarks per engine, on one data
// set: naive, one transaction per debit (the balance row locked by the
// conditional UPDATE, then the entry), and canopy, Service.RecordUsage,
// whose concurrent debits share transactions (batch.go); x-naive is
// canopy's debits/s over naive's. Run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./service -run '^$' -bench BenchmarkHotAccount -benchtime 3s
//
// Targets (2 cores): canopy ≥ 10× naive on each engine, ≥ 15,000 debits/s.
// What bounds canopy is no longer the fsync but the one writer: the pages
// each debit changes, which SQLite writes to the WAL and later checkpoints,
// and its CPU. Each sub-benchmark reports them: wal-pages/debit (SQLite,
// with the tables and indexes they belong to in the log), wal-B/debit
// (PostgreSQL) and cpu-µs/debit, the last steadier than debits/s on a
// machine other work loads.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

const (
	hotChildren = 1000
	hotClients  = 256
)

// hotWorld is an umbrella with hotChildren children that it pays for
// (billing parent, the default), funded with plenty of message credits.
type hotWorld struct {
	bundle   *testfactory.Bundle
	umbrella *canopy.Account
	children []*canopy.Account
	callers  []service.Caller
	ids      *canopy.IDs // for the baseline's entries
}

func buildHotWorld(b *testing.B, db *sqlstore.DB) *hotWorld {
	b.Helper()
	bundle := testfactory.New(b, db)
	w := &hotWorld{bundle: bundle, umbrella: bundle.Child(b, bundle.Root.ID), ids: canopy.NewIDs(time.Now, nil)}
	for range hotChildren {
		c := bundle.Child(b, w.umbrella.ID)
		w.children = append(w.children, c)
		w.callers = append(w.callers, bundle.As(b, c.ID))
	}
	grant(b, bundle, w.umbrella.ID, canopy.CreditMessage, canopy.MaxCreditAmount)
	return w
}

// naiveDebit is the baseline: one transaction per debit, the umbrella's
// balance row locked by the conditional UPDATE, then the entry.
func naiveDebit(ctx context.Context, w *hotWorld, child *canopy.Account, ref string) error {
	now := w.bundle.Clock.Now()
	return w.bundle.Store.Write(ctx, func(tx store.Tx) error {
		ok, _, err := tx.TakeCredits(ctx, w.umbrella.ID, canopy.CreditMessage, 1, now)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("umbrella ran dry")
		}
		e := &canopy.LedgerEntry{
			ID: w.ids.New(canopy.PrefixLedgerEntry), At: now, Kind: canopy.EntryUsage, Type: canopy.CreditMessage, Amount: 1,
			Debit: w.umbrella.ID, Credit: canopy.BookConsumption, UsageAccountID: child.ID, UsagePath: child.Path,
			UsageRef: "usage", IdempotencyKey: "ref:" + ref,
		}
		if err := tx.InsertLedgerEntry(ctx, e); err != nil {
			return err
		}
		return tx.AddUsageDays(ctx, store.UsageDaysOf([]*canopy.LedgerEntry{e}))
	})
}

// runHot runs b.N debits from hotClients concurrent clients, each for a
// random child, and reports debits/s and the latency percentiles.
func runHot(b *testing.B, w *hotWorld, debit func(i int, ref string) error) float64 {
	b.Helper()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		clients atomic.Int64
	)
	b.SetParallelism((hotClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := clients.Add(1)
		rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
		var mine []time.Duration
		for pb.Next() {
			i := rng.IntN(len(w.children))
			ref := fmt.Sprintf("hot-%d", seq.Add(1))
			start := time.Now()
			if err := debit(i, ref); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "debits/s")
	if len(lat) > 0 {
		percentiles(b, lat)
	}
	b.ReportMetric(0, "ns/op") // debits/s says it; ns/op of a parallel run misleads
	return rate
}

// BenchmarkHotAccount compares the naive baseline with Canopy's debit
// path (Service.RecordUsage) on each engine, in one run.
func BenchmarkHotAccount(b *testing.B) {
	ctx := context.Background()
	fsync := fsyncP50(b, b.TempDir(), 200)
	b.Logf("fsync p50 on this machine's temp filesystem: %s", fsync)
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			db := hotStore(b, engine)
			w := buildHotWorld(b, db)
			var naive float64
			b.Run("naive", func(b *testing.B) {
				meter := startWrites(b, engine, db)
				naive = runHot(b, w, func(i int, ref string) error {
					return naiveDebit(ctx, w, w.children[i], ref)
				})
				meter.report(b)
				b.ReportMetric(float64(fsync.Microseconds()), "fsync-p50-µs")
			})
			b.Run("canopy", func(b *testing.B) {
				meter := startWrites(b, engine, db)
				rate := runHot(b, w, func(i int, ref string) error {
					_, err := w.bundle.Svc.RecordUsage(ctx, w.callers[i], service.UsageInput{
						Type: canopy.CreditMessage, Quantity: 1, Reference: ref})
					return err
				})
				meter.report(b)
				if naive > 0 {
					b.ReportMetric(rate/naive, "x-naive")
				}
				b.ReportMetric(float64(fsync.Microseconds()), "fsync-p50-µs")
			})
			mismatches, _, err := w.bundle.Svc.VerifyCredits(ctx)
			if err != nil || len(mismatches) > 0 {
				b.Fatalf("verify credits: %v %v", mismatches, err)
			}
		})
	}
}

// hotStore opens the engine with durable commits: SQLite as it ships
// (synchronous=FULL), PostgreSQL as the server runs it.
func hotStore(b *testing.B, engine string) *sqlstore.DB {
	if engine == "sqlite" {
		return sqliteFull(b)
	}
	return testdb.Open(b, engine)
}

// writeMeter measures what a run of debits writes. On SQLite: the pages
// appended to the WAL (with automatic checkpoints held off for the run, so
// that every page written is still there to count), reported per debit
// and, per table or index, in the benchmark's log. On PostgreSQL: the WAL
// bytes written for the benchmark's own tables, per debit.
type writeMeter struct {
	db      *sqlstore.DB
	engine  string
	walPath string
	lsn     string
	cpu     time.Duration // this process's CPU time at the start
}

// processCPU is the CPU time this process has used, user and system: per
// debit, it tells the work a debit costs apart from the waiting a loaded
// machine adds to its latency.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startWrites(b *testing.B, engine string, db *sqlstore.DB) *writeMeter {
	b.Helper()
	ctx := context.Background()
	m := &writeMeter{db: db, engine: engine}
	defer func() { m.cpu = processCPU(b) }()
	pool := db.WritePool()
	if engine == "sqlite" {
		if err := pool.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&m.walPath); err != nil {
			b.Fatal(err)
		}
		m.walPath += "-wal"
		// The store has one write connection, so these hold for the run.
		for _, q := range []string{`PRAGMA wal_autocheckpoint = 0`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
			if _, err := pool.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		return m
	}
	if err := pool.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&m.lsn); err != nil {
		b.Fatal(err)
	}
	return m
}

// report adds the run's writes per debit (b.N debits) to the results.
func (m *writeMeter) report(b *testing.B) {
	b.Helper()
	b.ReportMetric(float64((processCPU(b)-m.cpu).Microseconds())/float64(b.N), "cpu-µs/debit")
	ctx := context.Background()
	pool := m.db.WritePool()
	if m.engine != "sqlite" {
		// The server's WAL holds every database's writes: pg_walinspect
		// reads its records, and those of this schema's tables (with the
		// commits of their transactions) are the debits'.
		if _, err := pool.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA public`); err != nil {
			b.Logf("no WAL per debit: %v", err)
			return
		}
		var bytes float64
		err := pool.QueryRowContext(ctx, `WITH mine AS (
				SELECT pg_relation_filenode(oid)::text AS node FROM pg_class WHERE relnamespace = current_schema()::regnamespace
			), r AS (
				SELECT xid, record_length, resource_manager, (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1] AS node
				FROM public.pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())
			), x AS (SELECT DISTINCT xid FROM r WHERE node IN (SELECT node FROM mine))
			SELECT coalesce(sum(record_length), 0) FROM r
			WHERE node IN (SELECT node FROM mine) OR (resource_manager = 'Transaction' AND xid IN (SELECT xid FROM x))`, m.lsn).Scan(&bytes)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(bytes/float64(b.N), "wal-B/debit")
		return
	}
	frames, commits, pages, err := readWAL(m.walPath)
	if err != nil {
		b.Fatal(err)
	}
	trees, err := pageOwners(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	byTree := map[string]int{}
	for p, n := range pages {
		name := trees[p]
		if name == "" {
			name = "(free or new)"
		}
		byTree[name] += n
	}
	names := make([]string, 0, len(byTree))
	for n := range byTree {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, c string) int { return byTree[c] - byTree[a] })
	if b.N >= 1000 { // not the runs that size b.N
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %.3f", n, float64(byTree[n])/float64(b.N)))
		}
		b.Logf("pages per debit: %s", strings.Join(parts, ", "))
	}
	b.ReportMetric(float64(frames)/float64(b.N), "wal-pages/debit")
	b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "debits/commit")
	if _, err := pool.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 10000`); err != nil {
		b.Fatal(err)
	}
}

// readWAL counts the frames of a SQLite WAL file, the commits among them,
// and the frames of each page number.
func readWAL(path string) (frames, commits int, pages map[uint32]int, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(raw) < 32 {
		return 0, 0, map[uint32]int{}, nil
	}
	pageSize := int(binary.BigEndian.Uint32(raw[8:12]))
	pages = map[uint32]int{}
	for off := 32; off+24+pageSize <= len(raw); off += 24 + pageSize {
		frames++
		pages[binary.BigEndian.Uint32(raw[off:off+4])]++
		if binary.BigEndian.Uint32(raw[off+4:off+8]) != 0 {
			commits++
		}
	}
	return frames, commits, pages, nil
}

// pageOwners maps each page of the database to its table or index.
func pageOwners(ctx context.Context, pool *sql.DB) (map[uint32]string, error) {
	rows, err := pool.QueryContext(ctx, `SELECT name, pageno FROM dbstat`)
	if err != nil {
		return nil, fmt.Errorf("read dbstat: %w", err)
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var name string
		var p uint32
		if err := rows.Scan(&name, &p); err != nil {
			return nil, err
		}
		out[p] = name
	}
	return out, rows.Err()
}

// fsyncP50 writes 4 KiB and fsyncs a file in dir n times and returns the
// median time of one write and fsync.
func fsyncP50(b *testing.B, dir string, n int) time.Duration {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i%16)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[n/2]
}
