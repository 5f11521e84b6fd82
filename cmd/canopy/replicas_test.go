package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

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
