package service_test

// BenchmarkReceiveSMS measures incoming structured texts becoming records
// in the service, the part of the webhook that holds the database (HTTP
// and the signature are in `canopy load --scenario sms`): an account with
// a three-question form and 1,000 authorised numbers, texts from them in
// parallel, each one write transaction that claims the provider's id,
// makes the record, charges its upload and queues the confirmation.
//
//	go test ./service -run '^$' -bench BenchmarkReceiveSMS -benchtime 5s

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

func BenchmarkReceiveSMS(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			bundle := testfactory.New(b, testdb.Open(b, engine))
			in := bundle.ChildInput()
			in.Account.Plan = canopy.PlanPro
			res, err := bundle.Svc.CreateChild(ctx, bundle.As(b, bundle.Root.ID), in)
			if err != nil {
				b.Fatal(err)
			}
			clinic := res.Account
			for _, ct := range canopy.DefaultCreditTypes {
				if _, err := bundle.Svc.Grant(ctx, bundle.As(b, bundle.Root.ID), clinic.ID, service.GrantInput{Type: ct, Amount: 1_000_000_000}); err != nil {
					b.Fatal(err)
				}
			}
			f, err := bundle.Svc.CreateForm(ctx, bundle.As(b, clinic.ID), service.FormInput{Name: "Load", Questions: []canopy.Question{
				{ID: "name", Label: "Name", Type: canopy.QuestionText, Required: true},
				{ID: "sex", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"Female", "Male"}, Required: true},
				{ID: "age", Label: "Age", Type: canopy.QuestionNumber, Required: true}}})
			if err != nil {
				b.Fatal(err)
			}
			numbers := make([]string, 1000)
			for i := range numbers {
				numbers[i] = fmt.Sprintf("+1555%07d", i)
			}
			var code string
			for i := 0; i < len(numbers); i += 100 {
				added, err := bundle.Svc.AddCollectors(ctx, bundle.As(b, clinic.ID), f.ID, service.CollectorsInput{Numbers: numbers[i : i+100], Mode: canopy.SMSStructured})
				if err != nil {
					b.Fatal(err)
				}
				code = added.Code
			}
			var seq atomic.Int64
			b.ResetTimer()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 senders, as canopy load runs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					res, err := bundle.Svc.ReceiveSMS(ctx, canopy.InboundSMS{SID: fmt.Sprintf("SM%d", n), From: numbers[n%1000],
						Body: code + "#Ada#F#34"}, "")
					if err != nil || res.Outcome != service.InboundRecord {
						b.Errorf("%v %v", res, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
