package httpapi

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/testdb"
)

// BenchmarkNoAnswerTellsWhoExists times, over HTTP on SQLite, the answers
// of the enumeration table (rule 11, docs/rules.md) for a value that
// belongs to someone and one that belongs to nobody: adding a user by
// address, and asking for a password reset. Each reports its p50 and p99;
// the known and unknown lines of one endpoint should agree within noise.
func BenchmarkNoAnswerTellsWhoExists(b *testing.B) {
	a := newTestAPI(b, testdb.SQLite(b))
	known := a.Child(b, a.Root.ID)
	knownEmail := a.Master(b, known.ID).Email
	a.SignIn(b, knownEmail)
	a.Emails(b)
	for _, tc := range []struct {
		name string
		send func(i int) *response
	}{
		{"add-user/known", func(i int) *response {
			acc := a.Child(b, a.Root.ID)
			return a.timed(b, req{Method: http.MethodPost, Path: "/v1/accounts/" + acc.ID + "/users", Key: a.RootKey, As: acc.ID,
				Body: map[string]any{"email": knownEmail}})
		}},
		{"add-user/unknown", func(i int) *response {
			acc := a.Child(b, a.Root.ID)
			return a.timed(b, req{Method: http.MethodPost, Path: "/v1/accounts/" + acc.ID + "/users", Key: a.RootKey, As: acc.ID,
				Body: map[string]any{"email": "nobody" + itoa(i) + "@nowhere.example"}})
		}},
		{"password-reset/known", func(int) *response {
			return a.timed(b, req{Method: http.MethodPost, Path: "/v1/auth/password-reset", Body: map[string]any{"email": knownEmail}})
		}},
		{"password-reset/unknown", func(i int) *response {
			return a.timed(b, req{Method: http.MethodPost, Path: "/v1/auth/password-reset", Body: map[string]any{"email": "nobody" + itoa(i) + "@nowhere.example"}})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a.samples = a.samples[:0]
			for i := 0; b.Loop(); i++ {
				if res := tc.send(i); res.Status >= 300 {
					b.Fatalf("%d %s", res.Status, res.Body)
				}
			}
			slices.Sort(a.samples)
			at := func(q float64) float64 { return float64(a.samples[int(q*float64(len(a.samples)-1))].Microseconds()) }
			b.ReportMetric(at(0.50), "p50-µs")
			b.ReportMetric(at(0.99), "p99-µs")
		})
	}
}

// timed sends one request and records how long the handler took.
func (a *testAPI) timed(b *testing.B, rq req) *response {
	start := time.Now()
	res := a.do(b, rq)
	a.samples = append(a.samples, time.Since(start))
	return res
}
