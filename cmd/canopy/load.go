package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const loadSummary = `Measures a running Canopy under load. Three scenarios:

  canopy load --url http://127.0.0.1:8080 --key $ROOT_KEY [--children 1000] [--clients 256] [--duration 30s]

the hot account (the default): an umbrella with many sub-accounts, all debiting the
umbrella's credits at once through POST /v1/usage. It creates the umbrella and its
children (as the key's account), grants the umbrella credits, then runs the clients.

  canopy load --scenario sms --url … --key $ROOT_KEY --sms-auth-token $TOKEN [--collectors 1000] [--clients 64] [--rate 1000]

incoming structured texts: an account with a form and many authorised numbers, and
clients posting signed texts (CODE#answer#…) to POST /v1/sms/inbound as the provider
would, each a record. The server must check signatures with the same token, over
--public-url (the server's --public-url; default --url).

  canopy load --scenario forms --url … --key $ROOT_KEY [--data forms.json] [--clients 32] [--duration 10s]

form reads and listings on a big tree: it builds, through the API, accounts level by
level (--levels, default 1,3,9,27,80,220,560,1300,2800: 5,000 accounts nine levels
deep, each under a random account one level up; the top one under the key's account,
so nine levels below the root need canopy serve --max-depth 9), --forms forms (50,000) owned by
random accounts and --viewer-shares / --editor-shares shares (10,000 / 5,000), each
from a form's owner to a random ancestor or descendant of it, with a progress bar.
With --data FILE the ids are written to FILE, and a later run that finds FILE reuses
the data set instead of building it (delete FILE to build anew). It then runs, for
--duration each, GET /v1/forms/{id} as the form's owner, as its ancestor 1 and 6
levels up, as a sibling (denied: 404) and as the owner from one client, and walks
the top account's forms: the first 5 pages of 200, all of them page by page, and all
of them as one NDJSON stream (Accept: application/x-ndjson) when the server offers
it. It prints one table: requests/s (or walks/s), p50 and p99 per case.

They print requests/s and latency percentiles. The debits and sms scenarios take
--rate: requests then fall due at that steady pace across the clients (an open loop),
and each latency counts from when its request was due; without it (a closed loop)
each client sends its next request when the last one is answered, so latency is
roughly clients ÷ throughput however fast the server is. Point them at a throwaway installation:
they leave their accounts behind.

Every debit names a reference of its own. With several --url (replicas on one
PostgreSQL database, comma-separated) the clients spread over them, and --racing 0.05
sends 5% of the debits a second time at once to the next replica, as a client retrying
too early would: both answers must carry the same entry, one of them a replay.`

func runLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("load", loadSummary, getenv, stderr)
	base := f.string("url", "CANOPY_LOAD_URL", "http://127.0.0.1:8080", "the service's base URL; several, comma-separated, for replicas")
	racing := f.float("racing", "CANOPY_LOAD_RACING", 0, "the share of debits also sent at once to the next replica (0 to 1)")
	key := f.string("key", "CANOPY_LOAD_KEY", "", "an API key whose account may create the umbrella (the root key, say)")
	children := f.int("children", "CANOPY_LOAD_CHILDREN", 1000, "sub-accounts under the umbrella")
	clients := f.int("clients", "CANOPY_LOAD_CLIENTS", 256, "concurrent clients (forms: 32 unless set)")
	duration := f.duration("duration", "CANOPY_LOAD_DURATION", 30*time.Second, "how long the clients run")
	rate := f.float("rate", "CANOPY_LOAD_RATE", 0, "requests a second across all clients, at a steady pace (0: each client as fast as it can); latency counts from when a request was due, so a server that falls behind shows it")
	creditType := f.string("type", "CANOPY_LOAD_TYPE", "message", "the credit type the clients use")
	scenario := f.string("scenario", "CANOPY_LOAD_SCENARIO", "debits", "debits (the hot account), sms (incoming structured texts) or forms (reads and listings on a big tree)")
	collectors := f.int("collectors", "CANOPY_LOAD_COLLECTORS", 1000, "sms: numbers authorised to text the form")
	token := f.string("sms-auth-token", "CANOPY_SMS_AUTH_TOKEN", "", "sms: the auth token the server checks webhook signatures with (or $CANOPY_SMS_AUTH_TOKEN_FILE)")
	public := f.string("public-url", "CANOPY_PUBLIC_URL", "", "sms: the server's public URL, which signatures cover (default --url)")
	levels := f.string("levels", "CANOPY_LOAD_LEVELS", "1,3,9,27,80,220,560,1300,2800", "forms: accounts per level of the tree, the top first")
	forms := f.int("forms", "CANOPY_LOAD_FORMS", 50_000, "forms: forms, each owned by a random account")
	viewers := f.int("viewer-shares", "CANOPY_LOAD_VIEWER_SHARES", 10_000, "forms: viewer shares")
	editors := f.int("editor-shares", "CANOPY_LOAD_EDITOR_SHARES", 5_000, "forms: editor shares")
	data := f.string("data", "CANOPY_LOAD_DATA", "", "forms: a file keeping the data set's ids: reused when it exists, written when built")
	builders := f.int("build-clients", "CANOPY_LOAD_BUILD_CLIENTS", 8, "forms: requests at once while building the data set")
	if err := f.parse(args); err != nil {
		return err
	}
	clientsSet := f.getenv("CANOPY_LOAD_CLIENTS") != ""
	f.fs.Visit(func(fl *flag.Flag) { clientsSet = clientsSet || fl.Name == "clients" })
	if *key == "" {
		return usageError{"load needs --key (or CANOPY_LOAD_KEY): an API key that may create accounts"}
	}
	if *children < 1 || *clients < 1 || *duration <= 0 || *racing < 0 || *racing > 1 || *rate < 0 {
		return usageError{"--children and --clients must be at least 1, --duration positive, --racing from 0 to 1 and --rate at least 0"}
	}
	pace := pacing{clients: *clients, duration: *duration, rate: *rate}
	transport := &http.Transport{MaxIdleConns: 2 * *clients, MaxIdleConnsPerHost: 2 * *clients}
	var replicas []*loadClient
	for _, u := range strings.Split(*base, ",") {
		replicas = append(replicas, &loadClient{base: strings.TrimRight(strings.TrimSpace(u), "/"), key: *key,
			http: &http.Client{Timeout: time.Minute, Transport: transport}})
	}
	api := replicas[0]
	switch *scenario {
	case "debits":
	case "sms":
		if *token == "" || *collectors < 1 || *collectors > 1_000_000 {
			return usageError{"--scenario sms needs --sms-auth-token and 1 to 1,000,000 --collectors"}
		}
		if *public == "" {
			*public = api.base
		}
		return loadSMS(ctx, api, smsLoad{collectors: *collectors, pace: pace,
			token: *token, webhook: strings.TrimRight(*public, "/") + "/v1/sms/inbound"}, stdout, stderr)
	case "forms":
		lv, err := parseLevels(*levels)
		if err != nil {
			return usageError{err.Error()}
		}
		if *forms < 1 || *viewers < 0 || *editors < 0 || *builders < 1 {
			return usageError{"--forms and --build-clients must be at least 1, the shares at least 0"}
		}
		if !clientsSet {
			*clients = 32
		}
		return loadForms(ctx, api, formsLoad{levels: lv, forms: *forms, viewers: *viewers, editors: *editors,
			builders: *builders, clients: *clients, duration: *duration, data: *data, pagesOfFirst: 5, pageLimit: 200,
			rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17)), stdout: stdout, stder: stderr})
	default:
		return usageError{fmt.Sprintf("--scenario %q: use debits, sms or forms", *scenario)}
	}

	// Enterprise: each child sends its master user an email, which counts
	// against the creating account's daily quota (rule 11, docs/rules.md).
	umbrella, err := api.createAccount(ctx, "", "Load umbrella", "enterprise")
	if err != nil {
		return err
	}
	ids := make([]string, *children)
	bar := newProgress(stderr, "creating sub-accounts", *children)
	for i := range ids {
		if ids[i], err = api.createAccount(ctx, umbrella, fmt.Sprintf("Load child %d", i+1)); err != nil {
			return err
		}
		bar.set(i + 1)
	}
	bar.done()
	if status, body, err := api.do(ctx, "POST", "/v1/accounts/"+umbrella+"/credits/grants", "",
		map[string]any{"type": *creditType, "amount": 1_000_000_000, "reason": "canopy load"}); err != nil || status != http.StatusCreated {
		return fmt.Errorf("grant the umbrella credits: %d %s %v", status, body, err)
	}

	var raced atomic.Int64
	run := loadRun{umbrella: umbrella, creditType: *creditType}
	start := time.Now()
	res := drive(ctx, pace, stderr, "debits", func(ctx context.Context, c int, rng *rand.Rand) (int, error) {
		home := replicas[c%len(replicas)]
		ref := fmt.Sprintf("load-%d-%d-%d", start.UnixNano(), c, rng.Uint64())
		var twin *loadClient
		if len(replicas) > 1 && rng.Float64() < *racing {
			twin = replicas[(c+1)%len(replicas)]
			raced.Add(1)
		}
		switch run.debit(ctx, home, twin, ids[rng.IntN(len(ids))], ref) {
		case debitCharged:
			return http.StatusOK, nil
		case debitRefused:
			return http.StatusBadRequest, nil
		}
		return http.StatusInternalServerError, nil
	})
	fmt.Fprintf(stdout, "debits: %d in %s with %d clients over %d sub-accounts, %d replica(s), %d sent twice at once\n",
		res.ok, res.elapsed.Round(time.Millisecond), *clients, *children, len(replicas), raced.Load())
	return res.report(stdout, "debits")
}

// loadResult is what a load run measured.
type loadResult struct {
	ok, refused, failed int64
	elapsed             time.Duration
	latencies           []time.Duration // of the successful requests, sorted
}

// pacing is how a load run drives the server: clients at once for
// duration, each as fast as it can, or together at rate requests a second.
type pacing struct {
	clients  int
	duration time.Duration
	rate     float64
}

// drive runs p.clients goroutines for p.duration, each calling do in a
// loop (do answers an HTTP status: 200 counts as done, 5xx and errors as
// failed, anything else as refused), with a progress line on stderr. With
// a rate, requests fall due at a steady pace and a client takes the next
// one due; a request's latency counts from when it was due, so time spent
// waiting for a free client counts too (no coordinated omission).
func drive(ctx context.Context, p pacing, stderr io.Writer, what string,
	do func(ctx context.Context, client int, rng *rand.Rand) (int, error)) loadResult {
	var (
		ok, refused, failed atomic.Int64
		mu                  sync.Mutex
		latencies           []time.Duration
	)
	runCtx, stop := context.WithTimeout(ctx, p.duration)
	defer stop()
	start := time.Now()
	var due chan time.Time // nil: as fast as they can
	if p.rate > 0 {
		due = make(chan time.Time, p.clients)
		go func() {
			defer close(due)
			interval := time.Duration(float64(time.Second) / p.rate)
			for i := 0; ; i++ {
				at := start.Add(time.Duration(i) * interval)
				select {
				case <-runCtx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				select {
				case <-runCtx.Done():
					return
				case due <- at:
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for c := range p.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var mine []time.Duration
			for runCtx.Err() == nil {
				t0 := time.Now()
				if due != nil {
					var open bool
					if t0, open = <-due; !open {
						break
					}
				}
				status, err := do(runCtx, c, rng)
				switch {
				case runCtx.Err() != nil:
				case err != nil || status >= 500:
					failed.Add(1)
				case status == http.StatusOK:
					ok.Add(1)
					mine = append(mine, time.Since(t0))
				default:
					refused.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-ticker.C:
				el := time.Since(start)
				fmt.Fprintf(stderr, "\r%5.0fs  %9d %s  %8.0f/s  %d refused  %d failed ", el.Seconds(), ok.Load(), what,
					float64(ok.Load())/el.Seconds(), refused.Load(), failed.Load())
			}
		}
	}()
	wg.Wait()
	res := loadResult{ok: ok.Load(), refused: refused.Load(), failed: failed.Load(), elapsed: time.Since(start), latencies: latencies}
	fmt.Fprintln(stderr)
	slices.Sort(res.latencies)
	return res
}

func (r loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

// report prints the rate and the latency percentiles, and fails when any
// request failed.
func (r loadResult) report(stdout io.Writer, what string) error {
	fmt.Fprintf(stdout, "%s/s: %.0f\n", what, float64(r.ok)/r.elapsed.Seconds())
	fmt.Fprintf(stdout, "latency: p50 %s, p99 %s\n", r.pct(0.50).Round(time.Microsecond), r.pct(0.99).Round(time.Microsecond))
	fmt.Fprintf(stdout, "refused: %d, failed: %d\n", r.refused, r.failed)
	if r.failed > 0 {
		return fmt.Errorf("%d requests failed", r.failed)
	}
	return nil
}

// loadRun sends the debits of one load.
type loadRun struct {
	umbrella, creditType string
}

type debitOutcome int

const (
	debitCharged debitOutcome = iota
	debitRefused              // a 4xx: the service said no
	debitFailed               // a 5xx, a transport error, or twins that disagree
)

// debit charges one usage with its own reference through home and, when
// twin is set, at the same moment through twin too: both answers must be
// 201 with the same entry (one of them a replay).
func (r loadRun) debit(ctx context.Context, home, twin *loadClient, account, ref string) debitOutcome {
	body := map[string]any{"type": r.creditType, "quantity": 1, "reference": ref}
	send := func(c *loadClient) (int, string, error) {
		status, raw, err := c.do(ctx, "POST", "/v1/usage", account, body)
		var res struct{ Entry struct{ ID string } }
		if err == nil && status == http.StatusCreated {
			err = json.Unmarshal(raw, &res)
		}
		return status, res.Entry.ID, err
	}
	if twin == nil {
		status, _, err := send(home)
		return outcomeOf(status, err)
	}
	var (
		wg      sync.WaitGroup
		status2 int
		entry2  string
		err2    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		status2, entry2, err2 = send(twin)
	}()
	status, entry, err := send(home)
	wg.Wait()
	if o := outcomeOf(status, err); o != debitCharged {
		return o
	}
	if o := outcomeOf(status2, err2); o != debitCharged || entry2 != entry {
		return debitFailed
	}
	return debitCharged
}

func outcomeOf(status int, err error) debitOutcome {
	switch {
	case err != nil || status >= 500:
		return debitFailed
	case status == http.StatusCreated:
		return debitCharged
	}
	return debitRefused
}

type loadClient struct {
	base, key string
	http      *http.Client
}

func (c *loadClient) do(ctx context.Context, method, path, as string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	if as != "" {
		req.Header.Set("X-Customer-Id", as)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

func (c *loadClient) createAccount(ctx context.Context, parent, name string, plan ...string) (string, error) {
	email := fmt.Sprintf("load-%d@load.example", time.Now().UnixNano())
	account := map[string]any{"name": name, "email": email}
	if len(plan) > 0 {
		account["plan"] = plan[0]
	}
	status, raw, err := c.do(ctx, "POST", "/v1/accounts", parent, map[string]any{"account": account})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("create %s: %d %s", name, status, raw)
	}
	var res struct{ Account struct{ ID string } }
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", err
	}
	return res.Account.ID, nil
}

// progress draws a one-line progress bar on a terminal (or any writer).
type progress struct {
	w     io.Writer
	label string
	total int
	last  time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total}
}

func (p *progress) set(n int) {
	if n != p.total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * n / p.total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), n, p.total)
}

func (p *progress) done() { fmt.Fprintln(p.w) }
