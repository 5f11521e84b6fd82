package main

import (
	"bytes"
	"context"
	"encoding/json"
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

const loadSummary = `Measures a running Canopy under the hot-account load: an umbrella with many
sub-accounts, all debiting the umbrella's credits at once through POST /v1/usage.

  canopy load --url http://127.0.0.1:8080 --key $ROOT_KEY [--children 1000] [--clients 256] [--duration 30s]

It creates the umbrella and its children (as the key's account), grants the umbrella
credits, then runs the clients for the duration and prints debits/s and latency
percentiles. Point it at a throwaway installation: it leaves its accounts behind.

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
	clients := f.int("clients", "CANOPY_LOAD_CLIENTS", 256, "concurrent clients")
	duration := f.duration("duration", "CANOPY_LOAD_DURATION", 30*time.Second, "how long the clients run")
	creditType := f.string("type", "CANOPY_LOAD_TYPE", "message", "the credit type the clients use")
	if err := f.parse(args); err != nil {
		return err
	}
	if *key == "" {
		return usageError{"load needs --key (or CANOPY_LOAD_KEY): an API key that may create accounts"}
	}
	if *children < 1 || *clients < 1 || *duration <= 0 || *racing < 0 || *racing > 1 {
		return usageError{"--children and --clients must be at least 1, --duration positive and --racing from 0 to 1"}
	}
	transport := &http.Transport{MaxIdleConns: 2 * *clients, MaxIdleConnsPerHost: 2 * *clients}
	var replicas []*loadClient
	for _, u := range strings.Split(*base, ",") {
		replicas = append(replicas, &loadClient{base: strings.TrimRight(strings.TrimSpace(u), "/"), key: *key,
			http: &http.Client{Timeout: time.Minute, Transport: transport}})
	}
	api := replicas[0]

	umbrella, err := api.createAccount(ctx, "", "Load umbrella")
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

	var (
		ok, refused, failed, raced atomic.Int64
		mu                         sync.Mutex
		latencies                  []time.Duration
	)
	run := loadRun{umbrella: umbrella, creditType: *creditType}
	runCtx, stop := context.WithTimeout(ctx, *duration)
	defer stop()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var mine []time.Duration
			home := replicas[c%len(replicas)]
			for i := 0; runCtx.Err() == nil; i++ {
				t0 := time.Now()
				ref := fmt.Sprintf("load-%d-%d-%d", start.UnixNano(), c, i)
				var twin *loadClient
				if len(replicas) > 1 && rng.Float64() < *racing {
					twin = replicas[(c+1)%len(replicas)]
					raced.Add(1)
				}
				out := run.debit(runCtx, home, twin, ids[rng.IntN(len(ids))], ref)
				switch {
				case runCtx.Err() != nil:
				case out == debitFailed:
					failed.Add(1)
				case out == debitCharged:
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
				fmt.Fprintf(stderr, "\r%5.0fs  %9d debits  %8.0f/s  %d refused  %d failed ", el.Seconds(), ok.Load(),
					float64(ok.Load())/el.Seconds(), refused.Load(), failed.Load())
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintln(stderr)

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	fmt.Fprintf(stdout, "debits: %d in %s with %d clients over %d sub-accounts, %d replica(s), %d sent twice at once\n",
		ok.Load(), elapsed.Round(time.Millisecond), *clients, *children, len(replicas), raced.Load())
	fmt.Fprintf(stdout, "debits/s: %.0f\n", float64(ok.Load())/elapsed.Seconds())
	fmt.Fprintf(stdout, "latency: p50 %s, p99 %s\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	fmt.Fprintf(stdout, "refused: %d, failed: %d\n", refused.Load(), failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
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

func (c *loadClient) createAccount(ctx context.Context, parent, name string) (string, error) {
	email := fmt.Sprintf("load-%d@load.example", time.Now().UnixNano())
	status, raw, err := c.do(ctx, "POST", "/v1/accounts", parent, map[string]any{"account": map[string]any{"name": name, "email": email}})
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
