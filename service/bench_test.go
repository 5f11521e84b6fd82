package service_test

// Benchmarks for the foundation's speed targets (2-core machine):
//
//	create-child            ≥ 1,000/s on SQLite
//	descendants, first page < 5 ms on a 100,000-account tree 8 levels deep
//	acting-account check    < 20 µs with a warm cache
//
// Each benchmark builds its own data set before the timer starts; the
// 100,000-account tree is built only here, never by `go test ./...`, which
// runs no benchmarks. Run them with, for example:
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./service -run '^$' -bench . -benchtime 2s

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlite"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// benchEngines are the stores the write benchmarks compare: SQLite as it
// ships (synchronous=FULL), SQLite as the tests run it (NORMAL), and
// PostgreSQL.
var benchEngines = []struct {
	name string
	open func(testing.TB) *sqlstore.DB
}{
	{"sqlite-full", sqliteFull},
	{"sqlite-normal", testdb.SQLite},
	{"postgres", testdb.Postgres},
}

// sqliteFull opens SQLite with the production default synchronous=FULL,
// which makes every commit wait for an fsync of the WAL.
func sqliteFull(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "canopy.db"), sqlite.Options{Synchronous: "FULL"})
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := sqlite.Migrate(context.Background(), db); err != nil {
		tb.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// seq makes emails, usernames and references unique across iterations,
// sub-benchmarks and goroutines.
var seq atomic.Int64

var (
	whiteLabel = json.RawMessage(`{"brandName":"Acme Dental","primaryColor":"#FF6600","secondaryColor":"#1A1A2E",` +
		`"logoUrl":"https://cdn.acme.example/logo.svg","supportEmail":"help@acme.example",` +
		`"customDomain":"portal.acme.example","features":{"chat":true,"darkMode":false,"locales":["en","de","fr"]}}`)
	notifications = json.RawMessage(`{"channels":["email","sms"],"digest":"daily","quietHours":{"from":"22:00","to":"07:00"},` +
		`"webhook":{"url":"https://hooks.acme.example/canopy","events":["account.created","user.invited"]}}`)
)

// fullCreate is the whole create-child body: an account with metadata, a
// master user, 3 further users, 2 workflows, 2 configurations and one
// external reference, all unique to n.
func fullCreate(n int64) service.CreateChildInput {
	workflows := []string{"kyc-standard", "invoicing"}
	return service.CreateChildInput{
		Account: service.AccountInput{
			Name: fmt.Sprintf("Acme Dental %d", n), Email: fmt.Sprintf("ops%d@acme.example", n), Plan: canopy.PlanPro,
			Metadata: map[string]string{"crmOwner": "jane.doe", "region": "eu-west-1", "segment": "dental"},
		},
		MasterUser: &service.MasterUserInput{
			Email: fmt.Sprintf("admin%d@acme.example", n), Username: fmt.Sprintf("acme-admin-%d", n), Name: "Ada Admin",
		},
		Workflows: &workflows,
		Users: []service.UserInput{
			{Email: fmt.Sprintf("bo%d@acme.example", n), Name: "Bo Member", Role: canopy.UserMember},
			{Email: fmt.Sprintf("cy%d@acme.example", n), Name: "Cy Admin", Role: canopy.UserAdmin},
			{Email: fmt.Sprintf("di%d@acme.example", n), Username: fmt.Sprintf("di-%d", n), Name: "Di Member"},
		},
		Configurations: canopy.Configurations{
			{Namespace: "white_label_portal", Value: whiteLabel},
			{Namespace: "notifications", Value: notifications},
		},
		ExternalReferences: []service.ExternalReferenceInput{{
			Type: "crm", Value: fmt.Sprintf("C-%d", n), Description: "HubSpot company",
			Metadata: map[string]string{"pipeline": "smb"},
		}},
	}
}

// reportRate reports operations per second of wall time.
func reportRate(b *testing.B, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, unit)
	}
}

// BenchmarkCreateChild measures the whole create-child operation, one
// transaction, serially and under concurrency (8 callers per core, as an
// HTTP server would run them): each caller under its own top-level
// customer, or all under one parent, as when one umbrella onboards many
// clients at once. The caller is resolved once; the per-request
// authorisation is BenchmarkActingAccountCheck's subject.
func BenchmarkCreateChild(b *testing.B) {
	ctx := context.Background()
	const callersPerCPU = 8 // goroutines per GOMAXPROCS: 16 concurrent callers on 2 cores
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				bundle := testfactory.New(b, e.open(b))
				// On a plan at least the children's (plans stay within the
				// creator's, rule 2).
				c := bundle.As(b, bundle.ChildOn(b, bundle.Root.ID, canopy.PlanEnterprise).ID)
				for b.Loop() {
					if _, err := bundle.Svc.CreateChild(ctx, c, fullCreate(seq.Add(1))); err != nil {
						b.Fatal(err)
					}
				}
				reportRate(b, "creates/s")
			})
			parallel := func(b *testing.B, sameParent bool) {
				bundle := testfactory.New(b, e.open(b))
				parents := 1
				if !sameParent {
					parents = callersPerCPU * runtime.GOMAXPROCS(0)
				}
				cs := make([]service.Caller, parents)
				for i := range cs {
					cs[i] = bundle.As(b, bundle.ChildOn(b, bundle.Root.ID, canopy.PlanEnterprise).ID)
				}
				var next atomic.Int64
				b.SetParallelism(callersPerCPU)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					c := cs[int(next.Add(1)-1)%len(cs)]
					for pb.Next() {
						if _, err := bundle.Svc.CreateChild(ctx, c, fullCreate(seq.Add(1))); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportRate(b, "creates/s")
			}
			b.Run("parallel", func(b *testing.B) { parallel(b, false) })
			b.Run("parallel-same-parent", func(b *testing.B) { parallel(b, true) })
		})
	}
}

// descendantsCase is one first-page listing of the large tree.
type descendantsCase struct {
	name     string
	id       string // the account listed; the caller acts as it
	depth    int
	wantRows int
}

// descendantsCases lists from the root and from a level-4 account, whole
// subtree and depth 1 and 2, 50 rows a page.
func descendantsCases(levels [][]*canopy.Account) []descendantsCase {
	root := levels[0][0].ID
	mid := levels[4][len(levels[4])/2].ID // subtree: 3 + 9 + 18 + 36 accounts
	return []descendantsCase{
		{"root", root, 0, 50},
		{"root-depth1", root, 1, 20},
		{"root-depth2", root, 2, 50},
		{"mid", mid, 0, 50},
		{"mid-depth1", mid, 1, 3},
		{"mid-depth2", mid, 2, 12},
	}
}

// BenchmarkDescendantsFirstPage measures Service.ListDescendants, first
// page of 50, on testfactory.LargeTree (100,000 accounts, 8 levels).
func BenchmarkDescendantsFirstPage(b *testing.B) {
	ctx := context.Background()
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			bundle := testfactory.New(b, testdb.Open(b, engine))
			start := time.Now()
			levels := bundle.BulkTree(b, testfactory.LargeTree())
			b.Logf("built %d-level tree of 100,000 accounts in %s", len(levels)-1, time.Since(start).Round(time.Millisecond))
			for _, tc := range descendantsCases(levels) {
				b.Run(tc.name, func(b *testing.B) {
					c := bundle.As(b, tc.id)
					pr := service.PageRequest{Limit: 50}
					page, err := bundle.Svc.ListDescendants(ctx, c, tc.id, tc.depth, pr)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Data) != tc.wantRows {
						b.Fatalf("first page has %d rows, want %d", len(page.Data), tc.wantRows)
					}
					for b.Loop() {
						if _, err := bundle.Svc.ListDescendants(ctx, c, tc.id, tc.depth, pr); err != nil {
							b.Fatal(err)
						}
					}
					reportRate(b, "pages/s")
				})
			}
		})
	}
}

// BenchmarkActingAccountCheck measures the per-request authorisation:
// Authenticate a top-level customer's key and Act as its descendant 7
// levels further down (depth 8). Warm: the cache holds the key and both
// accounts. Cold: the cache is off, so every check reads the key, the
// key's account and the acting account from the store.
func BenchmarkActingAccountCheck(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B, db *sqlstore.DB, opts testfactory.Options) (*service.Service, string, string) {
		bundle := testfactory.New(b, db, opts)
		chain := bundle.Tree(b, 1, canopy.DefaultMaxDepth)
		deep := chain[canopy.DefaultMaxDepth][0]
		key := bundle.Key(b, chain[1][0].ID)
		if err := check(ctx, bundle.Svc, key, deep.ID); err != nil { // fills the cache
			b.Fatal(err)
		}
		return bundle.Svc, key, deep.ID
	}
	b.Run("warm", func(b *testing.B) {
		svc, key, id := setup(b, testdb.SQLite(b), testfactory.Options{})
		for b.Loop() {
			if err := check(ctx, svc, key, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm-parallel", func(b *testing.B) {
		svc, key, id := setup(b, testdb.SQLite(b), testfactory.Options{})
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := check(ctx, svc, key, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, engine := range testdb.Engines {
		b.Run("cold/"+engine, func(b *testing.B) {
			svc, key, id := setup(b, testdb.Open(b, engine), testfactory.Options{AuthCacheTTL: -1})
			for b.Loop() {
				if err := check(ctx, svc, key, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// check authenticates key and acts as id, as every API request does.
func check(ctx context.Context, svc *service.Service, key, id string) error {
	p, err := svc.Authenticate(ctx, key)
	if err != nil {
		return err
	}
	a, err := svc.Act(ctx, p, id)
	if err != nil {
		return err
	}
	if a.ID != id {
		return fmt.Errorf("acting as %s, want %s", a.ID, id)
	}
	return nil
}

// BenchmarkLogin measures a whole sign-in with the production argon2id
// parameters (password.Default): throttle check, user lookup, password
// verification and the new session, on SQLite.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	bundle := testfactory.New(b, testdb.SQLite(b), testfactory.Options{PasswordParams: password.Default})
	acc := bundle.Child(b, bundle.Root.ID)
	page, err := bundle.Svc.ListUsers(ctx, bundle.As(b, acc.ID), acc.ID, service.PageRequest{})
	if err != nil {
		b.Fatal(err)
	}
	email := page.Data[0].Email
	bundle.SignIn(b, email)
	in := service.LoginInput{Login: email, Password: testfactory.StrongPassword}
	b.Run("known-user", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.Svc.Login(ctx, in, service.RequestInfo{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unknown-login", func(b *testing.B) {
		// Costs the same hashing, so timing tells nothing about who exists.
		for i := 0; b.Loop(); i++ {
			_, err := bundle.Svc.Login(ctx, service.LoginInput{Login: fmt.Sprintf("ghost%d@example.com", i), Password: "whatever it is 123"}, service.RequestInfo{})
			if canopy.ErrorCode(err) != canopy.CodeInvalidCredentials {
				b.Fatal(err)
			}
		}
	})
}
