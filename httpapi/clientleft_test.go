package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestClientThatLeftIsNoInternalError: a request whose client went away
// before its answer (its context canceled) is logged as such, at info,
// with status 499 in the request log — not as an internal error, which
// pages whoever watches the error log.
func TestClientThatLeftIsNoInternalError(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		var logs bytes.Buffer
		a := newTestAPIWith(t, db, Options{PublicRateLimit: -1, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		for _, rq := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/usage", `{"type": "message", "quantity": 1, "reference": "left"}`},
			{http.MethodGet, "/v1/accounts/" + a.Root.ID, ""},
		} {
			logs.Reset()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := httptest.NewRequestWithContext(ctx, rq.method, rq.path, strings.NewReader(rq.body))
			r.Header.Set("Authorization", "Bearer "+a.RootKey)
			r.Header.Set("Content-Type", "application/json")
			a.srv.ServeHTTP(httptest.NewRecorder(), r)
			var statuses []float64
			for line := range strings.Lines(logs.String()) {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec))
				require.NotEqual(t, "ERROR", rec["level"], "%s %s: %s", rq.method, rq.path, line)
				if rec["msg"] == "request" {
					statuses = append(statuses, rec["status"].(float64))
				}
			}
			require.Equal(t, []float64{statusClientClosedRequest}, statuses, "%s %s: the request log\n%s", rq.method, rq.path, logs.String())
		}
	})
}
