package service_test

// What writing events costs the writes that make them (issue target: less
// than 5% of create-child and debit throughput). Each case builds two
// identical worlds, one writing events and one not (Service.SetEventsOff),
// and runs them in alternating rounds, so that both see the same machine:
// the overhead is the on world's rate against the off world's, measured
// side by side. Run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./service -run '^$' -bench BenchmarkEventEmission -benchtime 2000x

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// paired runs op on the off world and the on world in alternating rounds
// of round operations until each has run b.N, and reports both rates and
// the overhead of events.
func paired(b *testing.B, unit string, round int, off, on func(n int)) {
	var took [2]time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for i, run := range []func(int){off, on} {
			start := time.Now()
			run(n)
			took[i] += time.Since(start)
		}
	}
	b.StopTimer()
	offRate, onRate := float64(b.N)/took[0].Seconds(), float64(b.N)/took[1].Seconds()
	b.ReportMetric(offRate, unit+"-events-off")
	b.ReportMetric(onRate, unit+"-events-on")
	b.ReportMetric(100*(offRate-onRate)/offRate, "%-overhead")
	b.ReportMetric(0, "ns/op")
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
			paired(b, "creates/s", 50, creator(world(b, true)), creator(world(b, false)))
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
			paired(b, "records/s", 100, recorder(world(b, true)), recorder(world(b, false)))
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
			paired(b, "debits/s", 2048, debiter(e.open(b), true), debiter(e.open(b), false))
		})
	}
}
