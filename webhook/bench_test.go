package webhook_test

// Webhook delivery throughput (issue target: at least 1,000 deliveries a
// second to a local receiver). Each iteration writes 2,000 events in one
// account with an endpoint, then the worker fans them out and posts them
// (fan-out, claim, sign, post, record) until none is due. Run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./webhook -run '^$' -bench BenchmarkDelivery -benchtime 5x

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlite"
	"github.com/canopyhq/canopy/store/sqlstore"
	"github.com/canopyhq/canopy/webhook"
)

const benchEvents = 2000

func BenchmarkDelivery(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB) *sqlstore.DB
	}{
		{"sqlite-full", func(tb testing.TB) *sqlstore.DB {
			db, err := sqlite.Open(filepath.Join(tb.TempDir(), "canopy.db"), sqlite.Options{Synchronous: "FULL"})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			if _, err := sqlite.Migrate(context.Background(), db); err != nil {
				tb.Fatal(err)
			}
			return db
		}},
		{"postgres", testdb.Postgres},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			var posts atomic.Int64
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				posts.Add(1)
			}))
			defer rcv.Close()
			bundle := testfactory.New(b, e.open(b), testfactory.Options{Configure: func(c *service.Config) { c.WebhookAllowLocal = true }})
			acc := bundle.Child(b, bundle.Root.ID)
			url := rcv.URL + "/in"
			if _, err := bundle.Svc.CreateWebhookEndpoint(ctx, bundle.As(b, acc.ID), service.WebhookEndpointInput{URL: &url}); err != nil {
				b.Fatal(err)
			}
			worker := webhook.NewWorker(bundle.Svc, webhook.NewClient(webhook.ClientConfig{AllowLocal: true}), webhook.WorkerConfig{}, nil)
			if _, err := worker.Drain(ctx); err != nil { // the endpoint's own creation
				b.Fatal(err)
			}
			ids := canopy.NewIDs(nil, nil)
			var delivered int64
			var took time.Duration
			for b.Loop() {
				b.StopTimer()
				evs := make([]*canopy.Event, benchEvents)
				for i := range evs {
					evs[i] = &canopy.Event{ID: ids.New(canopy.PrefixAuditEvent), Type: canopy.EventAccountUpdated,
						OccurredAt: time.Now(), AccountID: acc.ID, Actor: canopy.Actor{Type: "system", ID: "bench"},
						Target: canopy.EventTarget{Type: "account", ID: acc.ID}, Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
				}
				if err := bundle.Store.Write(ctx, func(tx store.Tx) error { return tx.InsertEvents(ctx, evs...) }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := worker.Drain(ctx)
				took += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if res.Sent != benchEvents {
					b.Fatalf("delivered %d of %d", res.Sent, benchEvents)
				}
				delivered += int64(res.Sent)
			}
			b.ReportMetric(float64(delivered)/took.Seconds(), "deliveries/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
