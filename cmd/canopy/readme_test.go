package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EnvRequireReadme makes TestREADMESnippetsRun fail, instead of skip, when
// bash, curl or jq is missing (CI sets it and installs them).
const EnvRequireReadme = "CANOPY_TEST_REQUIRE_README"

// snippet is one ```sh block of the README.
type snippet struct {
	line int    // where the block starts in README.md
	body string // its text
	// skip is the reason given in a "<!-- readme-test: skip (why) -->"
	// comment just above the block; empty when the block runs.
	skip string
	// showsErrors marks a block whose requests are meant to fail (a
	// "<!-- readme-test: shows errors -->" comment): its curl commands may
	// answer 4xx without stopping the run.
	showsErrors bool
}

var marker = regexp.MustCompile(`^<!-- readme-test: (skip \((.+)\)|shows errors) -->$`)

// readmeSnippets returns every ```sh block of the README with its marker.
func readmeSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		out  []snippet
		cur  *snippet
		last string // the last non-blank line outside a block
		n    int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && line == "```sh":
			cur = &snippet{line: n}
			if m := marker.FindStringSubmatch(last); m != nil {
				cur.skip, cur.showsErrors = m[2], m[1] == "shows errors"
			}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur, last = nil, ""
		case cur != nil:
			cur.body += line + "\n"
		case strings.TrimSpace(line) != "":
			last = strings.TrimSpace(line)
			if strings.HasPrefix(last, "<!-- readme-test") && !marker.MatchString(last) {
				t.Fatalf("README.md:%d: a readme-test marker is `skip (reason)` or `shows errors`: %s", n, last)
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "README.md: a ```sh block is not closed")
	return out
}

// TestREADMESnippetsRun runs the README's shell snippets as a newcomer
// would: in order, in one shell, in a fresh directory beside a running
// `canopy serve` on its embedded default, so that every snippet keeps
// running as written. A snippet stops the run when a command fails,
// including a request answered with an error (curl runs with
// --fail-with-body) unless its block is marked as showing errors; blocks
// that cannot run here (the test command itself, Twilio) say why they are
// skipped. The server must log no error.
func TestREADMESnippetsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	for _, tool := range []string{"bash", "curl", "jq", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(EnvRequireReadme) != "" {
				t.Fatalf("%s is required by the README's snippets (apt-get install -y %s)", tool, tool)
			}
			t.Skipf("%s is not installed; the README's snippets need it", tool)
		}
	}
	snippets := readmeSnippets(t, filepath.Join("..", "..", "README.md"))
	require.NotEmpty(t, snippets)

	// The reader's checkout: the binary the README builds, and the
	// directory serve runs in (./canopy.db, ./outbox, ./sms-outbox).
	dir := t.TempDir()
	bin := filepath.Join(dir, "canopy")
	src, err := os.ReadFile(canopyBinary(t))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, src, 0o755))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
	serve.Dir = dir
	serve.Env = os.Environ()
	log := &syncBuffer{}
	serve.Stderr = log
	require.NoError(t, serve.Start())
	t.Cleanup(func() { cancel(); _ = serve.Wait() })
	var addr string
	require.Eventually(t, func() bool {
		if m := listenLine.FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	}, 60*time.Second, 20*time.Millisecond, "serve did not start:\n%s", log.String())

	// curl fails on an error answer, and shows it, unless told otherwise.
	curlHome := filepath.Join(dir, "curl-strict")
	require.NoError(t, os.MkdirAll(curlHome, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte("fail-with-body\nshow-error\n"), 0o644))
	lenient := filepath.Join(dir, "curl-lenient")
	require.NoError(t, os.MkdirAll(lenient, 0o755))

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	ran := 0
	for _, s := range snippets {
		if s.skip != "" {
			t.Logf("README.md:%d skipped: %s", s.line, s.skip)
			continue
		}
		ran++
		home := curlHome
		if s.showsErrors {
			home = lenient
		}
		fmt.Fprintf(&script, "echo '### README.md:%d' >&2\nexport CURL_HOME=%q\n", s.line, home)
		script.WriteString(strings.ReplaceAll(s.body, "127.0.0.1:8080", addr))
	}
	require.NotZero(t, ran)
	// A snippet that waits (for an email, say) must not wait forever.
	shCtx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	sh := exec.CommandContext(shCtx, "bash", "-c", script.String())
	sh.WaitDelay = time.Second
	sh.Dir = dir
	sh.Env = append(os.Environ(), "HOME="+dir)
	out, err := sh.CombinedOutput()
	t.Logf("snippets' output:\n%s", out)
	require.NoError(t, err, "a README snippet failed (the last ### line names its block)")
	require.NotContains(t, log.String(), `"level":"ERROR"`, "the server logged an error:\n%s", log.String())
}
