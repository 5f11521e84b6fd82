package service_test

// What writing events costs the writes that make them (issue target: less
// than 5% of create-child and debit throughput). Each case builds two
// identical worlds, one writing events and one not (Service.SetEventsOff),
// and runs them in alternating rounds, so that both see the same machine:
// the overhead is the on world's rate against the off world's, measured
// side by side. Run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./service -run '^$' -bench BenchmarkEventEmission -benchtime 4000x

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// paired runs op on the off world and the on world in alternating rounds
// of round operations (each round in the other order) until each has run
// b.N, and reports both rates and the overhead of events: the median, over
// rounds, of how much longer the on world's round took than the off
// world's — in wall time, and in this process's CPU time, which load from
// elsewhere on the machine disturbs far less (SQLite does its work in this
// process; PostgreSQL's happens in the server and shows in wall time only).
// A burst of load skews a round or two, not the median.
func paired(b *testing.B, unit string, round int, off, on func(n int)) {
	var (
		took      [2]time.Duration
		wall, cpu []float64
	)
	runs := []func(int){off, on}
	b.ResetTimer()
	for r, done := 0, 0; done < b.N; r, done = r+1, done+round {
		n := min(round, b.N-done)
		var t, c [2]time.Duration
		// Each round in the other order, so neither world always runs on
		// what the other left behind (garbage, warm caches).
		for k := range 2 {
			i := k ^ r%2
			start, startCPU := time.Now(), cpuTime()
			runs[i](n)
			t[i], c[i] = time.Since(start), cpuTime()-startCPU
			took[i] += t[i]
		}
		wall = append(wall, 100*(1-t[0].Seconds()/t[1].Seconds()))
		cpu = append(cpu, 100*(1-c[0].Seconds()/c[1].Seconds()))
	}
	b.StopTimer()
	slices.Sort(wall)
	slices.Sort(cpu)
	b.ReportMetric(float64(b.N)/took[0].Seconds(), unit+"-events-off")
	b.ReportMetric(float64(b.N)/took[1].Seconds(), unit+"-events-on")
	b.ReportMetric(wall[len(wall)/2], "%-overhead-wall")
	b.ReportMetric(cpu[len(cpu)/2], "%-overhead-cpu")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkEventEmission(b *testing.B) {
	ctx := context.Background()
	for _, e := range benchEngines {
		if e.name == "sqlite-normal" {
			continue
		}
		world := func(b *testing.B, eventsOff bool) *testfactory.Bundle {
			bundle := testfactory.New(b, e.open(b))
			bundle.Svc.SetEventsOff(eventsOff)
			return bundle
		}
		b.Run(e.name+"/op=create-child", func(b *testing.B) {
			creator := func(bundle *testfactory.Bundle) func(int) {
				c := bundle.As(b, bundle.ChildOn(b, bundle.Root.ID, canopy.PlanEnterprise).ID)
				return func(n int) {
					for range n {
						if _, err := bundle.Svc.CreateChild(ctx, c, fullCreate(seq.Add(1))); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			paired(b, "creates/s", 25, creator(world(b, true)), creator(world(b, false)))
		})
		b.Run(e.name+"/op=record", func(b *testing.B) {
			recorder := func(bundle *testfactory.Bundle) func(int) {
				acc := bundle.Child(b, bundle.Root.ID)
				grant(b, bundle, acc.ID, canopy.CreditUpload, canopy.MaxCreditAmount)
				c := bundle.As(b, acc.ID)
				form, err := bundle.Svc.CreateForm(ctx, c, service.FormInput{Name: "Visits",
					Questions: []canopy.Question{{ID: "site", Label: "Site", Type: "text", Required: true}}})
				if err != nil {
					b.Fatal(err)
				}
				return func(n int) {
					for range n {
						answer := json.RawMessage(fmt.Sprintf(`"site %d"`, seq.Add(1)))
						if _, err := bundle.Svc.CreateRecord(ctx, c, form.ID, service.RecordInput{Answers: map[string]json.RawMessage{"site": answer}}); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			paired(b, "records/s", 50, recorder(world(b, true)), recorder(world(b, false)))
		})
		b.Run(e.name+"/op=debit", func(b *testing.B) {
			// The hot account's debits (BenchmarkHotAccount), 256 clients.
			debiter := func(db *sqlstore.DB, eventsOff bool) func(int) {
				w := buildHotWorld(b, db)
				w.bundle.Svc.SetEventsOff(eventsOff)
				return func(n int) {
					var wg sync.WaitGroup
					per := max(1, n/hotClients)
					for g := range min(hotClients, n) {
						wg.Go(func() {
							rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
							for range per {
								i := rng.IntN(len(w.children))
								_, err := w.bundle.Svc.RecordUsage(ctx, w.callers[i], service.UsageInput{
									Type: canopy.CreditMessage, Quantity: 1, Reference: fmt.Sprintf("ev-%d", seq.Add(1))})
								if err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				}
			}
			paired(b, "debits/s", 1024, debiter(e.open(b), true), debiter(e.open(b), false))
		})
	}
}
