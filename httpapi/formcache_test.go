package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
)

// TestWarmFormReadsAreCountedInMetrics: a second read of a form is a hit of
// the form cache, and /metrics says so, with the cache's misses, evictions,
// entries and bytes; the answer and its ETag are those of the first read.
func TestWarmFormReadsAreCountedInMetrics(t *testing.T) {
	a := newTestAPI(t, testdb.SQLite(t))
	created := a.root(t, http.MethodPost, "/v1/forms", map[string]any{"name": "Intake", "questions": []any{}})
	require.Equal(t, http.StatusCreated, created.Status, "%s", created.Body)
	id := created.JSON(t)["id"].(string)

	cold := a.root(t, http.MethodGet, "/v1/forms/"+id, nil)
	warm := a.root(t, http.MethodGet, "/v1/forms/"+id, nil)
	require.Equal(t, http.StatusOK, warm.Status)
	require.Equal(t, string(cold.Body), string(warm.Body))
	require.Equal(t, `"1"`, warm.Header.Get("ETag"))
	require.Equal(t, "application/json", warm.Header.Get("Content-Type"))

	metrics := string(a.do(t, req{Method: http.MethodGet, Path: "/metrics"}).Body)
	require.Contains(t, metrics, `canopy_cache_hits_total{cache="form"} 1`+"\n")
	require.Contains(t, metrics, `canopy_cache_misses_total{cache="form"} 1`+"\n")
	require.Contains(t, metrics, `canopy_cache_evictions_total{cache="form"} 0`+"\n")
	require.Contains(t, metrics, `canopy_cache_entries{cache="form"} 1`+"\n")
	require.Contains(t, metrics, `canopy_form_cache_bytes `)
}
