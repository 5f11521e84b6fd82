package service_test

// Benchmarks for the forms issue's speed targets (2-core machine), on one
// data set per engine: an umbrella with 5,000 accounts below it, 8 levels
// deep counting from the platform root, 100 forms each (500,000), 5% of
// them explicitly shared with a random ancestor or descendant, and 2% of
// the links sharing nothing upward.
//
//	role check, one (account, form), warm   p99 < 100 µs
//	GET /v1/forms first page, top umbrella  < 30 ms
//	GET /v1/forms first page, leaf          < 5 ms
//
// Building the data set takes a minute or two per engine; run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./service -run '^$' -bench BenchmarkForms -benchtime 2s -timeout 60m

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
)

// formsDataSet is the benchmark's world.
type formsDataSet struct {
	bundle   *testfactory.Bundle
	umbrella *canopy.Account
	levels   [][]*canopy.Account // the umbrella's tree, level by level, umbrella first
	accounts []*canopy.Account   // the umbrella and everything below it
	forms    []*canopy.Form
	other    *canopy.Account // a second top-level customer, for moves
}

func buildFormsDataSet(b *testing.B, engine string) *formsDataSet {
	b.Helper()
	ctx := context.Background()
	bundle := testfactory.New(b, testdb.Open(b, engine))
	start := time.Now()
	// 1 umbrella, then 5, 15, 45 … filled breadth first until 5,000
	// accounts are below the umbrella; depth 8 from the root.
	levels := bundle.BulkTree(b, testfactory.BulkSpec{Fanout: []int{1, 5, 3, 3, 3, 3, 3, 3}, Total: 5001})
	ds := &formsDataSet{bundle: bundle, umbrella: levels[1][0], levels: levels[1:]}
	for _, l := range ds.levels {
		ds.accounts = append(ds.accounts, l...)
	}
	ds.other = bundle.Child(b, bundle.Root.ID)

	// 2% of the links below the umbrella share nothing, 10% only as viewer.
	rng := rand.New(rand.NewPCG(3, 4))
	err := bundle.Store.Write(ctx, func(tx store.Tx) error {
		for _, a := range ds.accounts[1:] {
			switch x := rng.IntN(100); {
			case x < 2:
				a.Link.AutoShareRole = canopy.RoleNone
			case x < 12:
				a.Link.AutoShareRole = canopy.RoleViewer
			default:
				continue
			}
			if err := tx.UpdateAccount(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	treeTook := time.Since(start)
	res := bundle.BulkForms(b, ds.accounts, testfactory.BulkFormSpec{
		PerAccount: 100, SharedFraction: 0.05, ExampleFraction: 0.01, Top: ds.umbrella,
	})
	ds.forms = res.Forms
	b.Logf("%s: %d accounts below the umbrella (deepest at depth %d) in %s; %d forms, %d explicit shares in %s",
		engine, len(ds.accounts)-1, ds.levels[len(ds.levels)-1][0].Depth(), treeTook.Round(time.Millisecond),
		len(ds.forms), res.Shares, (time.Since(start) - treeTook).Round(time.Second))
	return ds
}

// descendantsOf counts the accounts of the data set below a.
func (ds *formsDataSet) descendantsOf(a *canopy.Account) int {
	n := 0
	for _, x := range ds.accounts {
		if x.ID != a.ID && x.Path.Contains(a.ID) {
			n++
		}
	}
	return n
}

// percentiles reports the 50th and 99th percentile of the samples.
func percentiles(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	at := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

func BenchmarkForms(b *testing.B) {
	ctx := context.Background()
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			ds := buildFormsDataSet(b, engine)
			bundle := ds.bundle

			b.Run("role-check", func(b *testing.B) {
				// Random forms, each checked for its owner or one of the
				// owner's ancestors up to the umbrella: the checks an
				// umbrella's users make all day.
				rng := rand.New(rand.NewPCG(5, 6))
				type pair struct {
					c    service.Caller
					form string
				}
				callers := map[string]service.Caller{}
				pairs := make([]pair, 2000)
				for i := range pairs {
					f := ds.forms[rng.IntN(len(ds.forms))]
					ids := f.OwnerPath.IDs()
					ids = ids[slices.Index(ids, ds.umbrella.ID):]
					viewer := ids[rng.IntN(len(ids))]
					if _, ok := callers[viewer]; !ok {
						callers[viewer] = bundle.As(b, viewer)
					}
					pairs[i] = pair{callers[viewer], f.ID}
				}
				check := func(p pair) {
					_, err := bundle.Svc.FormAccess(ctx, p.c, p.form)
					if err != nil && canopy.ErrorCode(err) != canopy.CodeNotFound {
						b.Fatal(err)
					}
				}
				for _, p := range pairs { // warm the caches
					check(p)
				}
				samples := make([]time.Duration, 0, 1<<16)
				i := 0
				for b.Loop() {
					p := pairs[i%len(pairs)]
					i++
					t0 := time.Now()
					check(p)
					samples = append(samples, time.Since(t0))
				}
				percentiles(b, samples)
			})

			mid := ds.levels[3][0]
			leaf := ds.levels[len(ds.levels)-1][0]
			for _, tc := range []struct {
				name string
				at   *canopy.Account
			}{{"top", ds.umbrella}, {"depth4", mid}, {"leaf", leaf}} {
				name := fmt.Sprintf("list-first-page/%s-%d-descendants", tc.name, ds.descendantsOf(tc.at))
				b.Run(name, func(b *testing.B) {
					c := bundle.As(b, tc.at.ID)
					pr := service.PageRequest{Limit: 50}
					page, err := bundle.Svc.ListForms(ctx, c, service.FormQuery{}, pr)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Data) != 50 {
						b.Fatalf("first page has %d forms, want 50", len(page.Data))
					}
					samples := make([]time.Duration, 0, 1<<12)
					for b.Loop() {
						t0 := time.Now()
						if _, err := bundle.Svc.ListForms(ctx, c, service.FormQuery{}, pr); err != nil {
							b.Fatal(err)
						}
						samples = append(samples, time.Since(t0))
					}
					percentiles(b, samples)
				})
			}

			b.Run("dashboard/top", func(b *testing.B) {
				c := bundle.As(b, ds.umbrella.ID)
				for b.Loop() {
					if _, err := bundle.Svc.GetDashboard(ctx, c, "", service.PageRequest{}); err != nil {
						b.Fatal(err)
					}
				}
			})

			// A subtree of about a thousand accounts (an umbrella's first
			// client and everything below it, with its 100 forms each)
			// moves to another top-level customer and back.
			sub := ds.levels[1][0]
			b.Run(fmt.Sprintf("move-subtree-%d-accounts", ds.descendantsOf(sub)+1), func(b *testing.B) {
				root := bundle.As(b, bundle.Root.ID)
				parents := []string{ds.other.ID, ds.umbrella.ID}
				i := 0
				for b.Loop() {
					if _, err := bundle.Svc.MoveAccount(ctx, root, sub.ID, parents[i%2]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if i%2 == 1 { // leave it where it was
					if _, err := bundle.Svc.MoveAccount(ctx, root, sub.ID, ds.umbrella.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
