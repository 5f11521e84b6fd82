package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
)

// process is `canopy serve` running as its own OS process, so that it can
// be killed the hard way.
type process struct {
	cmd  *exec.Cmd
	addr string
}

const crashRootKey = "cnk_crash-test-root-key-0123456789"

func startProcess(t *testing.T, bin, dbURL string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database-url", dbURL, "--mail-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "CANOPY_ROOT_API_KEY="+crashRootKey)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, addr: a}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not start")
		return nil
	}
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

func (p *process) call(method, path, as string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+crashRootKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != "" {
		req.Header.Set("X-Customer-Id", as)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

// TestDebitsSurviveSIGKILL drives debits at `canopy serve` and kills it
// with SIGKILL mid-load, several times. After each restart every debit
// that was answered 2xx is in the ledger, and the ledger and balances
// agree (canopy credits verify): a crash loses no acknowledged debit and
// leaves no half-written one.
func TestDebitsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "canopy")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
			if engine == "postgres" {
				dbURL = testdb.PostgresSchemaURL(t)
			}
			p := startProcess(t, bin, dbURL)
			n := 0
			create := func(as string) string {
				n++
				status, raw, err := p.call("POST", "/v1/accounts", as, map[string]any{"account": map[string]any{
					"name": fmt.Sprintf("Crash %d", n), "email": fmt.Sprintf("crash%d@example.com", n)}})
				require.NoError(t, err)
				require.Equal(t, 201, status, "%s", raw)
				var res struct{ Account struct{ ID string } }
				require.NoError(t, json.Unmarshal(raw, &res))
				return res.Account.ID
			}
			umbrella := create("")
			var children []string
			for range 10 {
				children = append(children, create(umbrella))
			}
			status, raw, err := p.call("POST", "/v1/accounts/"+umbrella+"/credits/grants", "", map[string]any{"type": "message", "amount": 1_000_000})
			require.NoError(t, err)
			require.Equal(t, 201, status, "%s", raw)

			var mu sync.Mutex
			acked := map[string]bool{} // references answered 2xx
			for round := range 4 {
				if round > 0 {
					p = startProcess(t, bin, dbURL)
				}
				ctx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for w := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; ctx.Err() == nil; i++ {
							ref := fmt.Sprintf("r%d-w%d-%d", round, w, i)
							status, _, err := p.call("POST", "/v1/usage", children[(w+i)%len(children)],
								map[string]any{"type": "message", "quantity": 1 + i%3, "reference": ref})
							if err == nil && status == 201 {
								mu.Lock()
								acked[ref] = true
								mu.Unlock()
							}
						}
					}()
				}
				time.Sleep(time.Duration(200+100*round) * time.Millisecond)
				p.kill(t) // mid-load: requests are in flight
				stop()
				wg.Wait()
			}

			var verified bytes.Buffer
			err = runCredits(context.Background(), []string{"verify", "--database-url", dbURL}, func(string) string { return "" },
				&verified, &verified)
			require.NoError(t, err, "the ledger and the balances agree after four SIGKILLs: %s", verified.String())

			p = startProcess(t, bin, dbURL)
			defer p.kill(t)
			inLedger := map[string]bool{}
			cursor := ""
			keyRE := regexp.MustCompile(`^ref:(.*)$`)
			for {
				status, raw, err := p.call("GET", "/v1/accounts/"+umbrella+"/credits/ledger?kind=usage&limit=200"+cursor, "", nil)
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
					if m := keyRE.FindStringSubmatch(e.IdempotencyKey); m != nil {
						require.False(t, inLedger[m[1]], "reference %s charged twice", m[1])
						inLedger[m[1]] = true
					}
				}
				if page.NextCursor == nil {
					break
				}
				cursor = "&cursor=" + *page.NextCursor
			}
			require.NotEmpty(t, acked, "the load reached the server")
			for ref := range acked {
				require.True(t, inLedger[ref], "debit %s was acknowledged but is not in the ledger", ref)
			}
			t.Logf("%d debits acknowledged, %d in the ledger (the rest committed but their answers were cut off)", len(acked), len(inLedger))
		})
	}
}
