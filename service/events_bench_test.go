package service_test

// What writing events costs the writes that make them (issue target: less
// than 5% of create-child and debit throughput). Each case runs with events
// off and on, on fresh stores, in one run; compare with benchstat:
//
//	go test ./service -run '^$' -bench BenchmarkEventEmission -count 6 -benchtime 2s | tee events.txt
//	benchstat -col /events events.txt

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

func BenchmarkEventEmission(b *testing.B) {
	ctx := context.Background()
	for _, e := range benchEngines {
		if e.name == "sqlite-normal" {
			continue
		}
		b.Run(e.name, func(b *testing.B) {
			for _, events := range []string{"off", "on"} {
				// A fresh store each, so neither case runs on the other's rows.
				setup := func(b *testing.B) *testfactory.Bundle {
					bundle := testfactory.New(b, e.open(b))
					bundle.Svc.SetEventsOff(events == "off")
					return bundle
				}
				b.Run("op=create-child/events="+events, func(b *testing.B) {
					bundle := setup(b)
					c := bundle.As(b, bundle.ChildOn(b, bundle.Root.ID, canopy.PlanEnterprise).ID)
					for b.Loop() {
						if _, err := bundle.Svc.CreateChild(ctx, c, fullCreate(seq.Add(1))); err != nil {
							b.Fatal(err)
						}
					}
					reportRate(b, "creates/s")
				})
				b.Run("op=record/events="+events, func(b *testing.B) {
					bundle := setup(b)
					acc := bundle.Child(b, bundle.Root.ID)
					grant(b, bundle, acc.ID, canopy.CreditUpload, canopy.MaxCreditAmount)
					c := bundle.As(b, acc.ID)
					form, err := bundle.Svc.CreateForm(ctx, c, service.FormInput{Name: "Visits",
						Questions: []canopy.Question{{ID: "site", Label: "Site", Type: "text", Required: true}}})
					if err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						answer := json.RawMessage(fmt.Sprintf(`"site %d"`, seq.Add(1)))
						if _, err := bundle.Svc.CreateRecord(ctx, c, form.ID, service.RecordInput{Answers: map[string]json.RawMessage{"site": answer}}); err != nil {
							b.Fatal(err)
						}
					}
					reportRate(b, "records/s")
				})
				b.Run("op=debit/events="+events, func(b *testing.B) {
					w := buildHotWorld(b, e.open(b))
					w.bundle.Svc.SetEventsOff(events == "off")
					runHot(b, w, func(i int, ref string) error {
						_, err := w.bundle.Svc.RecordUsage(ctx, w.callers[i], service.UsageInput{
							Type: canopy.CreditMessage, Quantity: 1, Reference: ref})
						return err
					})
				})
			}
		})
	}
}
