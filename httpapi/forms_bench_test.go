package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/service"
)

// BenchmarkGetForm measures a warm GET /v1/forms/{id} through the real
// handler for the four read cases of the comparison: the owner,
// an ancestor one level up, one six levels up, and a sibling (denied,
// 404). The form has 12 questions and is owned at depth 8. Each case runs
//
//   - inproc: ServeHTTP with a recorder, the server's work alone (its
//     allocations are the handler's);
//   - http-1: one client over a real loopback connection, keep-alive;
//   - http-32: 32 concurrent clients (RunParallel), reported as req/s.
//
// Run with
//
//	CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./httpapi -run '^$' -bench BenchmarkGetForm -benchtime 2s
func BenchmarkGetForm(b *testing.B) {
	ctx := context.Background()
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			api := newTestAPI(b, testdb.Open(b, engine))
			chain := []*canopy.Account{api.Root}
			for range 8 {
				chain = append(chain, api.Child(b, chain[len(chain)-1].ID))
			}
			owner := chain[8]
			sibling := api.Child(b, chain[7].ID)
			questions := make([]canopy.Question, 12)
			for i := range questions {
				questions[i] = canopy.Question{ID: fmt.Sprintf("q%d", i+1), Type: canopy.QuestionText, Label: fmt.Sprintf("Question number %d of the survey", i+1)}
			}
			f, err := api.Svc.CreateForm(ctx, api.As(b, owner.ID), service.FormInput{Name: "Household survey", Description: "A form of twelve questions", Questions: questions})
			if err != nil {
				b.Fatal(err)
			}
			cases := []struct {
				name   string
				viewer *canopy.Account
				status int
			}{
				{"owner", owner, http.StatusOK},
				{"ancestor-1-up", chain[7], http.StatusOK},
				{"ancestor-6-up", chain[2], http.StatusOK},
				{"sibling-denied", sibling, http.StatusNotFound},
			}
			hs := httptest.NewServer(api.srv)
			defer hs.Close()
			target := hs.URL + "/v1/forms/" + f.ID
			for _, tc := range cases {
				key := api.Key(b, tc.viewer.ID)
				b.Run(tc.name+"/inproc", func(b *testing.B) {
					get := func() {
						r := httptest.NewRequest(http.MethodGet, "/v1/forms/"+f.ID, nil)
						r.Header.Set("Authorization", "Bearer "+key)
						w := httptest.NewRecorder()
						api.srv.ServeHTTP(w, r)
						if w.Code != tc.status {
							b.Fatalf("GET: %d, want %d\n%s", w.Code, tc.status, w.Body)
						}
					}
					get() // warm
					b.ReportAllocs()
					defer reportCPU(b)()
					for b.Loop() {
						get()
					}
				})
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				get := func() error {
					r, err := http.NewRequest(http.MethodGet, target, nil)
					if err != nil {
						return err
					}
					r.Header.Set("Authorization", "Bearer "+key)
					res, err := client.Do(r)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != tc.status {
						err = fmt.Errorf("GET: %d, want %d", res.StatusCode, tc.status)
					}
					return err
				}
				b.Run(tc.name+"/http-1", func(b *testing.B) {
					if err := get(); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if err := get(); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(tc.name+"/http-32", func(b *testing.B) {
					if err := get(); err != nil {
						b.Fatal(err)
					}
					// 32 clients: RunParallel starts parallelism × GOMAXPROCS.
					b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
					defer reportCPU(b)()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := get(); err != nil {
								b.Error(err)
								return
							}
						}
					})
					if s := b.Elapsed().Seconds(); s > 0 {
						b.ReportMetric(float64(b.N)/s, "req/s")
					}
				})
				client.CloseIdleConnections()
			}
		})
	}
}

// reportCPU reports the process's CPU time per operation (server and
// client together, when both run here) and the rate two idle cores would
// give at that cost: unlike ns/op, neither moves much when other work
// shares the machine. Call the function it returns when the loop is done.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		per := float64((cpu() - start).Nanoseconds()) / float64(b.N) / 1e3
		b.ReportMetric(per, "cpu-µs/op")
		if per > 0 {
			b.ReportMetric(2e6/per, "req/s-on-2-idle-cores")
		}
	}
}
