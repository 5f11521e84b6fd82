package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
)

// TestWebhooksSurviveSIGKILL changes accounts while `canopy serve`
// delivers their events to a slow endpoint, and kills it with SIGKILL in
// the middle of deliveries, twice. Once it runs again, every event the
// events listing shows reaches the endpoint: a crash may make it post
// again what was in flight (receivers deduplicate by webhook-id), never
// lose an event.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
			if engine == "postgres" {
				dbURL = testdb.PostgresSchemaURL(t)
			}
			var (
				mu    sync.Mutex
				posts = map[string]int{} // webhook-id → posts
			)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // slow enough that a kill finds posts in flight
				mu.Lock()
				posts[r.Header.Get("webhook-id")]++
				mu.Unlock()
			}))
			defer rcv.Close()
			received := func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(posts)
			}
			args := []string{"--database-url", dbURL, "--webhook-allow-local", "--webhook-timeout", "1s",
				"--webhook-lease", "2s", "--webhook-concurrency", "2"}
			p := startServeProcess(t, args...)
			call := func(method, path string, body any) []byte {
				t.Helper()
				status, raw, err := (&process{addr: p.addr}).call(method, path, "", body)
				require.NoError(t, err)
				require.Less(t, status, 300, "%s %s: %s", method, path, raw)
				return raw
			}
			call("POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL + "/in", "eventTypes": []string{"account.updated"}})
			var acc struct{ Account struct{ ID string } }
			require.NoError(t, json.Unmarshal(call("POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Hooked", "email": "hooked@example.com"}}), &acc))

			n := 0
			for kill := range 2 {
				for range 150 {
					n++
					call("PATCH", "/v1/accounts/"+acc.Account.ID, map[string]any{"name": fmt.Sprintf("Hooked %d", n)})
				}
				before := received()
				require.Eventually(t, func() bool { return received() > before+10 }, 30*time.Second, 5*time.Millisecond,
					"deliveries under way before kill %d", kill+1)
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
				<-p.exited
				t.Logf("kill %d: %d of %d events received so far", kill+1, received(), n)
				p = startServeProcess(t, args...)
			}

			var listed []string
			cursor := ""
			for {
				var page struct {
					Data       []struct{ ID string }
					NextCursor *string
				}
				require.NoError(t, json.Unmarshal(call("GET", "/v1/events?type=account.updated&limit=200"+cursor, nil), &page))
				for _, e := range page.Data {
					listed = append(listed, e.ID)
				}
				if page.NextCursor == nil {
					break
				}
				cursor = "&cursor=" + *page.NextCursor
			}
			require.Len(t, listed, n, "every update is an event")
			require.Eventually(t, func() bool { return received() == n }, 60*time.Second, 20*time.Millisecond,
				"every event reaches the endpoint after the crashes")
			mu.Lock()
			defer mu.Unlock()
			again := 0
			for _, id := range listed {
				require.Positive(t, posts[id], "event %s was never delivered", id)
				again += posts[id] - 1
			}
			t.Logf("%d events, each delivered; %d posted again after a crash", n, again)
			// A post holds its slot until its answer is recorded, so a kill
			// leaves at most one unrecorded post per slot (concurrency 2).
			require.LessOrEqual(t, again, 2*2, "only what was in flight at each kill is posted again")
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		})
	}
}
