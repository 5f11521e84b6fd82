package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/internal/testdb"
)

// buildCanopy builds the binary once per test binary run.
var buildCanopy = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "canopy-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "canopy")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: out, err: err}
	}
	return bin, nil
})

type buildError struct {
	out []byte
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

func canopyBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildCanopy()
	require.NoError(t, err)
	return bin
}

// EnvLoadBench turns on the long racing-retry load runs.
const EnvLoadBench = "CANOPY_LOAD_BENCH"

var debitsPerSecond = regexp.MustCompile(`debits/s: (\d+)`)

// TestRacingRetriesAcrossReplicas is the racing-retry benchmark: three
// `canopy serve` processes on one PostgreSQL database, 256 clients spread
// over them debiting 1,000 sub-accounts of one umbrella, each debit with
// a reference of its own; then the same with 5% of the debits sent a
// second time at once to the next replica. Every pair of twins must get
// one entry (the load fails otherwise), and the throughput with racing
// retries must stay within 15% of the run without them. Set
// CANOPY_LOAD_BENCH=1 (and CANOPY_LOAD_SECONDS, default 15) to run it.
func TestRacingRetriesAcrossReplicas(t *testing.T) {
	if os.Getenv(EnvLoadBench) == "" {
		t.Skipf("a load benchmark of a minute or so; set %s=1 to run it", EnvLoadBench)
	}
	seconds := 15
	if v := os.Getenv("CANOPY_LOAD_SECONDS"); v != "" {
		seconds, _ = strconv.Atoi(v)
	}
	bin := canopyBinary(t)
	dbURL := testdb.PostgresSchemaURL(t)
	var urls []string
	for range 3 {
		p := startProcess(t, bin, dbURL)
		t.Cleanup(func() { p.kill(t) })
		urls = append(urls, "http://"+p.addr)
	}
	rates := map[string]float64{}
	for _, racing := range []string{"0", "0.05"} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"load", "--url", strings.Join(urls, ","), "--key", crashRootKey,
			"--children", "1000", "--clients", "256", "--duration", strconv.Itoa(seconds) + "s", "--racing", racing},
			func(string) string { return "" }, nil, &out, &errOut)
		require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
		t.Logf("racing %s:\n%s", racing, out.String())
		m := debitsPerSecond.FindStringSubmatch(out.String())
		require.NotNil(t, m)
		rates[racing], _ = strconv.ParseFloat(m[1], 64)
	}
	ratio := rates["0.05"] / rates["0"]
	t.Logf("with 5%% racing retries: %.0f debits/s, %.0f%% of %.0f without", rates["0.05"], 100*ratio, rates["0"])
	require.GreaterOrEqual(t, ratio, 0.85, "racing retries cost more than 15%% of the throughput")
}

// replicaSet is n `canopy serve` processes on one database.
type replicaSet struct {
	t    *testing.T
	args []string
	ps   []*serveProcess
}

func startReplicas(t *testing.T, n int, args ...string) *replicaSet {
	rs := &replicaSet{t: t, args: args}
	for range n {
		rs.ps = append(rs.ps, startServeProcess(t, args...))
	}
	return rs
}

// client sends requests to replica i with the root key.
func (rs *replicaSet) call(i int, method, path, as string, body any) (int, []byte, error) {
	p := &process{addr: rs.ps[i%len(rs.ps)].addr}
	return p.call(method, path, as, body)
}

// TestReplicasSurviveSIGKILL is the replica and crash experiment as a
// test: three `canopy serve` processes on one PostgreSQL database and one
// SMTP server; clients create accounts and debit sub-accounts through all
// three, retrying on another replica when a request fails and sending 5%
// of the debits to two replicas at once; meanwhile one replica after
// another is killed with SIGKILL and started again. Afterwards every
// acknowledged debit is in the ledger exactly once, no reference is
// charged twice, `canopy credits verify` passes, every acknowledged
// account's welcome email arrived, and emails sent twice number at most
// one per SMTP connection of each killed process.
func TestReplicasSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes and kills them; skipped with -short")
	}
	const (
		replicas    = 3
		kills       = 3
		connections = 4
	)
	dbURL := testdb.PostgresSchemaURL(t)
	smtp := smtptest.Start(t, smtptest.WithDelay(2*time.Millisecond))
	rs := startReplicas(t, replicas, "--database-url", dbURL, "--smtp-url", smtp.URL(), "--outbox-lease", "2s",
		"--outbox-concurrency", fmt.Sprint(connections))

	create := func(i int, as, name string) (string, error) {
		status, raw, err := rs.call(i, "POST", "/v1/accounts", as, map[string]any{"account": map[string]any{
			"name": name, "email": name + "@replicas.example"}})
		if err != nil || status != 201 {
			return "", fmt.Errorf("create %s: %d %s %v", name, status, raw, err)
		}
		var res struct{ Account struct{ ID string } }
		return res.Account.ID, json.Unmarshal(raw, &res)
	}
	umbrella, err := create(0, "", "umbrella")
	require.NoError(t, err)
	var children []string
	for i := range 10 {
		id, err := create(i, umbrella, fmt.Sprintf("child%d", i))
		require.NoError(t, err)
		children = append(children, id)
	}
	status, raw, err := rs.call(0, "POST", "/v1/accounts/"+umbrella+"/credits/grants", "", map[string]any{"type": "message", "amount": 10_000_000})
	require.NoError(t, err)
	require.Equal(t, 201, status, "%s", raw)

	var (
		mu        sync.Mutex
		acked     = map[string]bool{} // debit references answered 201
		created   = map[string]bool{} // account emails answered 201
		attempted int
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ctx.Err() == nil; i++ {
				home := w + i
				if i%20 == 0 { // now and then an account (and its welcome email)
					name := fmt.Sprintf("w%d-%d", w, i)
					for try := range 2 {
						if _, err := create(home+try, umbrella, name); err == nil {
							mu.Lock()
							created[name+"@replicas.example"] = true
							mu.Unlock()
							break
						}
					}
					continue
				}
				ref := fmt.Sprintf("w%d-%d", w, i)
				body := map[string]any{"type": "message", "quantity": 1 + i%3, "reference": ref}
				child := children[rng.IntN(len(children))]
				if rng.IntN(20) == 0 { // a racing retry: two replicas at once
					go func() { _, _, _ = rs.call(home+1, "POST", "/v1/usage", child, body) }()
				}
				mu.Lock()
				attempted++
				mu.Unlock()
				for try := range 3 { // a failed request is retried on the next replica
					status, _, err := rs.call(home+try, "POST", "/v1/usage", child, body)
					if err == nil && status == 201 {
						mu.Lock()
						acked[ref] = true
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	for k := range kills {
		time.Sleep(1500 * time.Millisecond)
		victim := k % replicas
		rs.ps[victim].stop(t, syscall.SIGKILL)
		time.Sleep(300 * time.Millisecond)
		rs.ps[victim] = startServeProcess(t, rs.args...)
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	// Every email of an acknowledged account arrives; a few more may (an
	// account whose answer a kill cut off).
	require.Eventually(t, func() bool {
		got := map[string]bool{}
		for _, m := range smtp.Messages() {
			got[m.To[0]] = true
		}
		for email := range created {
			if !got[email] {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "every acknowledged account's welcome email arrives")
	time.Sleep(3 * time.Second) // a lease and a round: duplicates still to come have come
	msgs := smtp.Messages()
	dups := len(msgs) - len(messageIDs(msgs))

	var verified bytes.Buffer
	err = runCredits(context.Background(), []string{"verify", "--database-url", dbURL}, func(string) string { return "" }, &verified, &verified)
	require.NoError(t, err, "the ledger and the balances agree: %s", verified.String())

	inLedger := map[string]bool{}
	cursor := ""
	for {
		status, raw, err := rs.call(0, "GET", "/v1/accounts/"+umbrella+"/credits/ledger?kind=usage&limit=200"+cursor, "", nil)
		require.NoError(t, err)
		require.Equal(t, 200, status, "%s", raw)
		var page struct {
			Data []struct {
				IdempotencyKey string `json:"idempotencyKey"`
			}
			NextCursor *string
		}
		require.NoError(t, json.Unmarshal(raw, &page))
		for _, e := range page.Data {
			if ref, ok := strings.CutPrefix(e.IdempotencyKey, "ref:"); ok {
				require.False(t, inLedger[ref], "reference %s charged twice", ref)
				inLedger[ref] = true
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	require.NotEmpty(t, acked)
	for ref := range acked {
		require.True(t, inLedger[ref], "debit %s was acknowledged but is not in the ledger", ref)
	}
	t.Logf("%d debits attempted, %d acknowledged, %d in the ledger; %d accounts acknowledged, %d emails received, %d sent twice (at most %d)",
		attempted, len(acked), len(inLedger), len(created), len(msgs), dups, kills*connections)
	require.LessOrEqual(t, dups, kills*connections, "a kill resends at most the emails in flight")
}
