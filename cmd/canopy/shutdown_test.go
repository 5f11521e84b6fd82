package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store/sqlite"
)

// serveProcess is `canopy serve` as an OS process whose log the test reads.
type serveProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan error
}

func startServeProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(canopyBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0",
		"--mail-dir", t.TempDir(), "--sms-dir", t.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "CANOPY_ROOT_API_KEY="+crashRootKey)
	p := &serveProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(p.stderr, pipe)
		close(copied)
	}()
	go func() {
		<-copied
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		m := listenLine.FindStringSubmatch(p.stderr.String())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	}, 30*time.Second, 10*time.Millisecond, "serve did not start:\n%s", p.stderr.String())
	return p
}

// stop signals the process and returns its exit status once it exits.
func (p *serveProcess) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case err := <-p.exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not exit after %s:\n%s", sig, p.stderr.String())
		return -1
	}
}

// queueEmails writes n welcome emails into a fresh SQLite database, as
// n account creations would, and returns its URL.
func queueEmails(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "canopy.db")
	db, err := sqlite.Open(path, sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	_, err = sqlite.Migrate(context.Background(), db)
	require.NoError(t, err)
	b := testfactory.New(t, db)
	for range n {
		b.Child(t, b.Root.ID)
	}
	require.NoError(t, db.Close())
	return "sqlite:" + path
}

// messageIDs counts the messages received per Message-ID.
func messageIDs(got []smtptest.Received) map[string]int {
	ids := map[string]int{}
	for _, m := range got {
		ids[m.MessageID]++
	}
	return ids
}

// TestACutRoundSendsAgainOnlyWhatWasInFlight measures the duplicates of a
// round cut by SIGKILL: each email's outcome is recorded as soon as the
// SMTP server answers it, so after a restart only the emails in flight at
// the instant of the cut — at most one per connection — go out again,
// not the rest of the round.
func TestACutRoundSendsAgainOnlyWhatWasInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary; skipped with -short")
	}
	const emails, connections = 120, 4
	dbURL := queueEmails(t, emails)
	smtp := smtptest.Start(t, smtptest.WithDelay(30*time.Millisecond))
	args := []string{"--database-url", dbURL, "--smtp-url", smtp.URL(), "--outbox-lease", "1s",
		"--outbox-concurrency", fmt.Sprint(connections)}
	p := startServeProcess(t, args...)
	smtp.WaitFor(t, 30, 30*time.Second)
	p.stop(t, syscall.SIGKILL) // mid-round: the round holds up to 100 emails
	cutAt := len(smtp.Messages())

	startServeProcess(t, args...)
	require.Eventually(t, func() bool { return len(messageIDs(smtp.Messages())) == emails }, 60*time.Second, 20*time.Millisecond)
	time.Sleep(2 * time.Second) // a lease and a round: any duplicate still to come has come
	got := smtp.Messages()
	dups := len(got) - len(messageIDs(got))
	t.Logf("cut after %d of %d emails; %d sent again after the restart (at most %d in flight)", cutAt, emails, dups, connections)
	require.LessOrEqual(t, dups, connections, "only the emails in flight at the cut are sent again")
}

// TestSIGTERMFinishesWhatItStartedAndGivesBackTheRest: a SIGTERM during a
// round lets the emails in flight finish and be recorded, gives the rest
// of the round back at once, and exits 0 with nothing abandoned; after a
// restart every email has arrived exactly once.
func TestSIGTERMFinishesWhatItStartedAndGivesBackTheRest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary; skipped with -short")
	}
	const emails = 120
	dbURL := queueEmails(t, emails)
	smtp := smtptest.Start(t, smtptest.WithDelay(30*time.Millisecond))
	args := []string{"--database-url", dbURL, "--smtp-url", smtp.URL(), "--shutdown-timeout", "20s"}
	p := startServeProcess(t, args...)
	smtp.WaitFor(t, 20, 30*time.Second)
	require.Equal(t, 0, p.stop(t, syscall.SIGTERM), "a shutdown that abandons nothing exits 0:\n%s", p.stderr.String())
	log := p.stderr.String()
	require.Contains(t, log, "stopping: gave back claimed emails not yet sent")
	require.Contains(t, log, `"msg":"stopped"`)
	require.NotContains(t, log, "abandons", "nothing was abandoned, idle workers included")
	sentBefore := len(smtp.Messages())
	require.Less(t, sentBefore, emails, "the round was cut short")

	startServeProcess(t, args...)
	require.Eventually(t, func() bool { return len(smtp.Messages()) >= emails }, 60*time.Second, 20*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	got := smtp.Messages()
	require.Len(t, messageIDs(got), emails)
	require.Len(t, got, emails, "no email went out twice")
}

// TestShutdownNamesWhatItAbandons: a request still running when the
// shutdown timeout ends is named in the log (method, path, request id)
// and the process exits non-zero; an idle server stops at once with 0.
func TestShutdownNamesWhatItAbandons(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	idle := startServeProcess(t, "--database-url", dbURL)
	require.Equal(t, 0, idle.stop(t, syscall.SIGTERM), "%s", idle.stderr.String())
	require.NotContains(t, idle.stderr.String(), "abandons")
	require.NotContains(t, idle.stderr.String(), `"level":"WARN"`, "an idle shutdown warns of nothing")

	p := startServeProcess(t, "--database-url", dbURL, "--shutdown-timeout", "300ms")
	// A create whose body never comes: the handler waits for it (Expect:
	// 100-continue proves the request reached it).
	conn, err := net.Dial("tcp", p.addr)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n", p.addr, crashRootKey)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "100 Continue")
	require.Equal(t, 1, p.stop(t, syscall.SIGTERM))
	log := p.stderr.String()
	require.Contains(t, log, "shutdown abandons a request in flight")
	require.Contains(t, log, `"method":"POST","path":"/v1/accounts"`)
	require.True(t, strings.Contains(log, "abandoned 1 request(s) in flight"), "%s", log)
}
