package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
)

// BenchmarkDescendantsFirstPage measures GET /v1/accounts/{id}/descendants
// (first page of 50) through the real handler — routing, authentication
// with a warm cache, the listing, JSON encoding, metrics — on
// testfactory.LargeTree, 100,000 accounts 8 levels deep. The target is
// 5 ms. The service-level benchmark of the same name, in package service,
// separates the store's share from the HTTP layer's.
func BenchmarkDescendantsFirstPage(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			api := newTestAPI(b, testdb.Open(b, engine))
			start := time.Now()
			levels := api.BulkTree(b, testfactory.LargeTree())
			b.Logf("built %d-level tree of 100,000 accounts in %s", len(levels)-1, time.Since(start).Round(time.Millisecond))
			root := levels[0][0].ID
			mid := levels[4][len(levels[4])/2].ID
			cases := []struct {
				name, id, query string
				wantRows        int
			}{
				{"root", root, "", 50},
				{"root-depth1", root, "&depth=1", 20},
				{"root-depth2", root, "&depth=2", 50},
				{"mid", mid, "", 50},
				{"mid-depth1", mid, "&depth=1", 3},
				{"mid-depth2", mid, "&depth=2", 12},
			}
			for _, tc := range cases {
				b.Run(tc.name, func(b *testing.B) {
					target := fmt.Sprintf("/v1/accounts/%s/descendants?limit=50%s", tc.id, tc.query)
					get := func() *httptest.ResponseRecorder {
						r := httptest.NewRequest(http.MethodGet, target, nil)
						r.Header.Set("Authorization", "Bearer "+api.RootKey)
						r.Header.Set("X-Customer-Id", tc.id)
						w := httptest.NewRecorder()
						api.srv.ServeHTTP(w, r)
						return w
					}
					w := get()
					var page struct{ Data []json.RawMessage }
					if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != http.StatusOK {
						b.Fatalf("GET %s: %d %v\n%s", target, w.Code, err, w.Body)
					}
					if len(page.Data) != tc.wantRows {
						b.Fatalf("first page has %d rows, want %d", len(page.Data), tc.wantRows)
					}
					for b.Loop() {
						if w := get(); w.Code != http.StatusOK {
							b.Fatalf("GET %s: %d\n%s", target, w.Code, w.Body)
						}
					}
					if s := b.Elapsed().Seconds(); s > 0 {
						b.ReportMetric(float64(b.N)/s, "pages/s")
					}
				})
			}
		})
	}
}
