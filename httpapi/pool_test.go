package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/postgres"
	"github.com/canopyhq/canopy/store/sqlite"
)

// readWorld is a tree seven levels deep with something of every kind at its
// leaf, and a GET path for every GET route, filled with real ids.
type readWorld struct {
	top, leaf string // top is the leaf's ancestor six levels up
	topKey    string
	session   string // an admin of the leaf, signed in
	paths     []string
}

func buildReadWorld(t *testing.T, a *testAPI) readWorld {
	t.Helper()
	d := &driver{t: t, api: a}
	const get, post, put = http.MethodGet, http.MethodPost, http.MethodPut
	var w readWorld
	w.top = d.child(a.Root.ID)
	d.call(http.StatusOK, http.MethodPatch, "/v1/accounts/"+w.top, map[string]any{"plan": "enterprise"})
	parent := w.top
	for range 6 {
		parent = d.child(parent)
	}
	w.leaf = parent
	w.topKey = d.key(w.top)
	leaf := "/v1/accounts/" + w.leaf
	for _, id := range []string{w.top, w.leaf} {
		d.call(http.StatusOK, put, "/v1/accounts/"+id+"/configurations/white_label_portal", `{"brandName":"B"}`)
	}
	d.call(http.StatusOK, put, leaf+"/workflows", map[string]any{"workflows": []string{"kyc-standard"}})
	d.n++
	ref := fmt.Sprintf("C-%d", d.n)
	d.call(http.StatusCreated, post, "/v1/accounts", map[string]any{
		"account":            map[string]any{"name": "Referenced", "email": "referenced@example.com"},
		"externalReferences": []map[string]any{{"type": "crm", "value": ref}},
	}, as(w.leaf))
	users := d.users(w.leaf)
	var master string
	for email, id := range users {
		master = id
		w.session = a.SignIn(t, email)
	}
	form := idOf(t, d.call(http.StatusCreated, post, "/v1/forms", map[string]any{
		"name": "Survey", "questions": []map[string]any{{"id": "site", "label": "Site", "type": "text"}},
	}, as(w.leaf)))
	a.Fund(t, w.top)
	record := idOf(t, d.call(http.StatusCreated, post, "/v1/forms/"+form+"/records", map[string]any{
		"answers": map[string]any{"site": "North"}}, as(w.leaf)))
	d.call(http.StatusCreated, post, "/v1/forms/"+form+"/sms/collectors", map[string]any{"numbers": []string{"+15551230000"}, "mode": "structured"}, as(w.leaf))
	d.call(http.StatusCreated, post, "/v1/forms/"+form+"/links", map[string]any{}, as(w.leaf))
	d.call(http.StatusOK, put, "/v1/forms/"+form+"/shares/"+w.top, map[string]any{"role": "viewer"}, as(w.leaf))
	d.call(http.StatusOK, put, "/v1/forms/"+form+"/example", map[string]any{"example": true}, as(w.leaf))
	d.call(http.StatusOK, put, leaf+"/credits/limits", map[string]any{"type": "upload", "monthly": 100}, as(w.top))
	other := d.child(a.Root.ID)
	invitation := idOf(t, d.call(http.StatusCreated, post, "/v1/invitations", map[string]any{"accountId": other}, as(w.top)))
	contact := idOf(t, d.call(http.StatusCreated, post, "/v1/contacts", map[string]any{"email": "c@example.com"}, as(w.leaf)))
	hook := idOf(t, d.call(http.StatusCreated, post, "/v1/webhook-endpoints", map[string]any{"url": "https://hooks.example.com/in"}, as(w.leaf)))
	if _, err := a.Svc.FanOutEvents(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
	w.paths = []string{
		"/v1/accounts?externalReference=crm:" + ref,
		leaf, leaf + "/children", leaf + "/descendants", leaf + "/ancestors", leaf + "/external-references",
		leaf + "/configurations", leaf + "/configurations?effective=true",
		leaf + "/configurations/white_label_portal", leaf + "/workflows", leaf + "/api-keys",
		leaf + "/users", leaf + "/users/" + master,
		"/v1/me",
		"/v1/invitations?direction=sent", "/v1/invitations?direction=received", "/v1/invitations/" + invitation,
		"/v1/contacts", "/v1/contacts/" + contact,
		"/v1/forms", "/v1/forms/" + form, "/v1/forms/" + form + "/access", "/v1/forms/" + form + "/shares",
		"/v1/forms/" + form + "/records", "/v1/forms/" + form + "/records/" + record,
		"/v1/forms/" + form + "/sms", "/v1/forms/" + form + "/sms/collectors", "/v1/forms/" + form + "/links",
		"/v1/dashboard",
		leaf + "/credits", leaf + "/credits/ledger", leaf + "/credits/usage",
		"/v1/outbox", "/v1/audit-events",
		"/v1/events", "/v1/webhook-endpoints", "/v1/webhook-endpoints/" + hook, "/v1/webhook-endpoints/" + hook + "/deliveries",
	}
	// Every GET route is among them, so a new kind of read is tested too.
	covered := map[string]bool{}
	for _, p := range w.paths {
		_, pattern := a.srv.mux.Handler(httptest.NewRequest(get, p, nil))
		covered[pattern] = true
	}
	for _, r := range a.srv.Routes() {
		if r.Method == get && strings.HasPrefix(r.Path, "/v1/") && !covered[get+" "+r.Path] {
			t.Errorf("GET %s is not among the reads of the pool test; add a path for it", r.Path)
		}
	}
	return w
}

// TestPoolOfTwoServesEveryReadAtOnce is the pool-deadlock experiment as a
// test: 64 clients at once send every kind of read, with every cache off
// (so each fills from the database), to a server whose PostgreSQL pool has
// two connections. A read that held its connection while it waited for
// another would leave all of them waiting; here every one is answered, and
// none with a 5xx (an acquire that timed out would be a 503).
func TestPoolOfTwoServesEveryReadAtOnce(t *testing.T) {
	db := testdb.PostgresWith(t, postgres.Options{MaxConns: 2, AcquireTimeout: 30 * time.Second})
	a := newTestAPI(t, db, testfactory.Options{AuthCacheTTL: -1})
	w := buildReadWorld(t, a)

	type caller struct{ key, as string }
	callers := []caller{
		{a.RootKey, w.leaf}, // acting as the leaf
		{w.topKey, ""},      // its ancestor six levels up, reading the leaf's things
		{w.topKey, w.leaf},  // the ancestor acting as the leaf
		{w.session, ""},     // a signed-in admin of the leaf
	}
	const clients = 64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		answered int
	)
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := callers[i%len(callers)]
			for j := range w.paths {
				if ctx.Err() != nil {
					return
				}
				p := w.paths[(i+j)%len(w.paths)]
				r := httptest.NewRequestWithContext(ctx, http.MethodGet, p, nil)
				r.Header.Set("Authorization", "Bearer "+c.key)
				if c.as != "" {
					r.Header.Set("X-Customer-Id", c.as)
				}
				rec := httptest.NewRecorder()
				a.srv.ServeHTTP(rec, r)
				mu.Lock()
				answered++
				if rec.Code >= 500 {
					failures = append(failures, fmt.Sprintf("GET %s as %q: %d %s", p, c.as, rec.Code, rec.Body))
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("the reads did not finish in two minutes: the pool deadlocked (%d of %d answered)", answered, clients*len(w.paths))
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d reads failed on a pool of two, e.g.:\n%s", len(failures), answered, strings.Join(failures[:min(5, len(failures))], "\n"))
	}
	if answered != clients*len(w.paths) {
		t.Fatalf("%d reads answered, want %d", answered, clients*len(w.paths))
	}
}

// busyAPI returns a server over a SQLite store none of whose connections
// comes free: the one writer and the one reader are held until the test
// ends, and an operation waits 20 ms for them.
func busyAPI(t *testing.T) *testAPI {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "canopy.db"), sqlite.Options{
		Synchronous: "NORMAL", ReadConns: 1, AcquireTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := sqlite.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, db)
	release := make(chan struct{})
	var held sync.WaitGroup
	for _, begin := range []func(context.Context, func(store.Tx) error) error{db.Write, db.Read} {
		held.Add(1)
		go func() {
			_ = begin(context.Background(), func(store.Tx) error {
				held.Done()
				<-release
				return nil
			})
		}()
	}
	held.Wait()
	t.Cleanup(func() { close(release) })
	return a
}
