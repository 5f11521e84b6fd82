package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
)

// BenchmarkFormListingTop measures GET /v1/forms for the top account of a
// random nine-level tree, through the real handler (authentication with a
// warm cache, the listing, JSON encoding): the first page of 200, a deep
// page (page 100, or the middle page of a smaller set), and every visible
// form at once as NDJSON. Each reports its p50 and p99.
//
// By default the set is small, so the benchmark builds in seconds. With
// CANOPY_BENCH_SET=openfga it is the comparison with OpenFGA
// (testfactory.OpenFGALevels: 5,000 accounts, 50,000 forms, 15,000
// shares), built once per engine; the targets there are a page in < 5 ms
// on PostgreSQL and < 3 ms on SQLite at any depth, and all 50,000 in
// < 500 ms:
//
//	CANOPY_BENCH_SET=openfga CANOPY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_test \
//	  go test ./httpapi -run '^$' -bench BenchmarkFormListingTop -benchtime 3s -timeout 30m
func BenchmarkFormListingTop(b *testing.B) {
	spec := testfactory.LevelsSpec{Levels: []int{1, 3, 9, 27, 60}, Forms: 5000, Viewers: 1000, Editors: 500, Seed: 17}
	if os.Getenv("CANOPY_BENCH_SET") == "openfga" {
		spec = testfactory.OpenFGALevels()
	}
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			api := newTestAPI(b, testdb.Open(b, engine), testfactory.Options{MaxDepth: len(spec.Levels)})
			start := time.Now()
			data := api.BulkLevels(b, spec)
			top := data.Levels[1][0].ID
			b.Logf("%s: %d levels, %d forms, %d shares in %s", engine, len(spec.Levels), len(data.Forms), data.Shares,
				time.Since(start).Round(time.Millisecond))

			get := func(query, accept string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodGet, "/v1/forms?"+query, nil)
				r.Header.Set("Authorization", "Bearer "+api.RootKey)
				r.Header.Set("X-Customer-Id", top)
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				w := httptest.NewRecorder()
				api.srv.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("GET /v1/forms?%s: %d\n%s", query, w.Code, w.Body)
				}
				return w
			}

			// Walk the pages once: the visible set and the cursors.
			var cursors []string // cursors[i] starts page i+2
			visible := 0
			for q := "limit=200"; ; {
				var page struct {
					Data       []json.RawMessage
					NextCursor *string
				}
				if err := json.Unmarshal(get(q, "").Body.Bytes(), &page); err != nil {
					b.Fatal(err)
				}
				visible += len(page.Data)
				if page.NextCursor == nil {
					break
				}
				cursors = append(cursors, *page.NextCursor)
				q = "limit=200&cursor=" + url.QueryEscape(*page.NextCursor)
			}
			deep := min(100, (len(cursors)+1)/2)
			b.Logf("the top account sees %d forms: %d pages of 200", visible, len(cursors)+1)

			timed := func(b *testing.B, query, accept string, rows int) {
				samples := make([]time.Duration, 0, 1024)
				for b.Loop() {
					t0 := time.Now()
					w := get(query, accept)
					samples = append(samples, time.Since(t0))
					if rows >= 0 {
						if n := countRows(w.Body.Bytes(), accept != ""); n != rows {
							b.Fatalf("%d rows, want %d", n, rows)
						}
					}
				}
				reportPercentiles(b, samples)
			}
			b.Run("page1", func(b *testing.B) { timed(b, "limit=200", "", 200) })
			b.Run(fmt.Sprintf("page%d", deep), func(b *testing.B) {
				timed(b, "limit=200&cursor="+url.QueryEscape(cursors[deep-2]), "", 200)
			})
			b.Run("page1-limit1000", func(b *testing.B) { timed(b, "limit=1000", "", min(1000, visible)) })
			b.Run(fmt.Sprintf("ndjson-all-%d", visible), func(b *testing.B) { timed(b, "", "application/x-ndjson", visible) })
		})
	}
}

// countRows counts the forms of a JSON page or an NDJSON stream.
func countRows(body []byte, ndjson bool) int {
	if ndjson {
		return bytes.Count(body, []byte("\n"))
	}
	var page struct{ Data []json.RawMessage }
	if err := json.Unmarshal(body, &page); err != nil {
		return -1
	}
	return len(page.Data)
}

// reportPercentiles reports the 50th and 99th percentile of the samples.
func reportPercentiles(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	at := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))].Nanoseconds()) / 1e6
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
