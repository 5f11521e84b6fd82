package mail_test

import (
	"context"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/mail"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// BenchmarkOutboxDelivery measures the whole delivery path — claim, issue
// links, render, send over SMTP to a local server, record — with the
// worker's default concurrency, in emails per second.
func BenchmarkOutboxDelivery(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			var db *sqlstore.DB
			if engine == "sqlite" {
				db = testdb.SQLite(b)
			} else {
				db = testdb.Postgres(b)
			}
			f := testfactory.New(b, db)
			srv := smtptest.Start(b)
			sender, err := mail.NewSMTPSender(srv.URL(), 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			tpl, err := mail.LoadTemplates("")
			if err != nil {
				b.Fatal(err)
			}
			w := mail.NewWorker(f.Svc, sender, tpl, mail.WorkerConfig{From: "no-reply@canopy.example"}, nil)
			const perRound = 200
			sent := 0
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				for range perRound {
					f.Child(b, f.Root.ID) // one welcome email each
				}
				b.StartTimer()
				start := time.Now()
				res, err := w.Drain(context.Background())
				elapsed += time.Since(start)
				if err != nil || res.Sent != perRound {
					b.Fatalf("sent %d of %d: %v", res.Sent, perRound, err)
				}
				sent += res.Sent
			}
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "emails/s")
		})
	}
}
