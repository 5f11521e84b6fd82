package main

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/smtptest"
)

// linkFrom returns the https link on its own line of an email's text.
func linkFrom(t *testing.T, text string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "http") && strings.Contains(line, "token=") {
			return line
		}
	}
	t.Fatalf("no link in:\n%s", text)
	return ""
}

// TestServeSignInByEmail: a new account's master user gets an email over
// SMTP, sets a password through its link, signs in, and acts with the
// session like an API key of its account.
func TestServeSignInByEmail(t *testing.T) {
	smtp := smtptest.Start(t)
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"),
		"--smtp-url", smtp.URL(), "--mail-from", "Acme <no-reply@acme.example>", "--public-url", "https://portal.acme.example")
	key := s.rootKey(t)
	status, created := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{
		"account":    map[string]any{"name": "Dental"},
		"masterUser": map[string]any{"email": "ada@dental.example", "username": "ada"},
	})
	require.Equal(t, 201, status, "%v", created)
	accountID := created["account"].(map[string]any)["id"].(string)

	msgs := smtp.WaitFor(t, 1, 10*time.Second)
	require.Equal(t, []string{"ada@dental.example"}, msgs[0].To)
	link := linkFrom(t, msgs[0].Text)
	require.True(t, strings.HasPrefix(link, "https://portal.acme.example/set-password?token="), link)
	u, err := url.Parse(link)
	require.NoError(t, err)

	status, res := s.call(t, "", "", "POST", "/v1/auth/set-password", map[string]any{"token": u.Query().Get("token"), "password": "violet tractor hums quietly 4821"})
	require.Equal(t, 200, status, "%v", res)
	status, again := s.call(t, "", "", "POST", "/v1/auth/set-password", map[string]any{"token": u.Query().Get("token"), "password": "violet tractor hums quietly 4821"})
	require.Equal(t, 400, status, "%v", again)

	status, login := s.call(t, "", "", "POST", "/v1/auth/login", map[string]any{"login": "ADA@dental.example", "password": "violet tractor hums quietly 4821"})
	require.Equal(t, 200, status, "%v", login)
	session := login["token"].(string)
	status, me := s.call(t, session, "", "GET", "/v1/me", nil)
	require.Equal(t, 200, status, "%v", me)
	require.Equal(t, accountID, me["account"].(map[string]any)["id"])
	require.Equal(t, "self-and-descendants", me["mayActAs"])
	status, child := s.call(t, session, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Clinic", "email": "ops@clinic.example"}})
	require.Equal(t, 201, status, "an admin's session creates children: %v", child)
	status, _ = s.call(t, session, "", "POST", "/v1/auth/logout", nil)
	require.Equal(t, 204, status)
	status, _ = s.call(t, session, "", "GET", "/v1/me", nil)
	require.Equal(t, 401, status)
}

// TestStoppingMidDeliveryLosesNothing: the SMTP server refuses mail while
// serve runs; serve is stopped and started again with a working server;
// every email arrives, each exactly once.
func TestStoppingMidDeliveryLosesNothing(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	down := smtptest.Start(t)
	down.Reject(1000)
	// Retry at once and never give up, so the worker keeps trying while the
	// server refuses.
	s := startServe(t, nil, "--database-url", dbURL, "--smtp-url", down.URL(),
		"--outbox-backoff", "1ms", "--outbox-max-backoff", "1ms", "--outbox-max-attempts", "100000")
	key := s.rootKey(t)
	for _, email := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		status, _ := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": email, "email": email}})
		require.Equal(t, 201, status)
	}
	require.Eventually(t, func() bool { return down.Attempts() >= 3 }, 10*time.Second, 10*time.Millisecond)
	s.stop(t)

	up := smtptest.Start(t)
	startServe(t, nil, "--database-url", dbURL, "--smtp-url", up.URL())
	got := up.WaitFor(t, 3, 20*time.Second)
	seen := map[string]int{}
	for _, m := range got {
		seen[m.To[0]]++
	}
	require.Equal(t, map[string]int{"a@x.example": 1, "b@x.example": 1, "c@x.example": 1}, seen)
}

func TestOutboxCommands(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	mailDir := t.TempDir()
	runCmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	s := startServe(t, nil, "--database-url", dbURL, "--mail-dir", mailDir)
	key := s.rootKey(t)
	status, _ := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "A", "email": "a@x.example"}})
	require.Equal(t, 201, status)
	// The embedded default writes .eml files and says where.
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(mailDir, "msg_*.eml"))
		return len(files) == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, s.stderr.String(), "files in "+mailDir)
	s.stop(t)

	out, err := runCmd("outbox", "list", "--database-url", dbURL)
	require.NoError(t, err)
	require.Contains(t, out, "sent")
	require.Contains(t, out, "a@x.example")
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	out, err = runCmd("outbox", "show", "--database-url", dbURL, id)
	require.NoError(t, err)
	require.Contains(t, out, `"status": "sent"`)
	_, err = runCmd("outbox", "retry", "--database-url", dbURL, id)
	require.Error(t, err, "a sent message is not retried")
	_, err = runCmd("outbox", "retry", "--database-url", dbURL)
	require.Equal(t, 2, exitCode(err), "retry needs ids or --failed")
	out, err = runCmd("outbox", "deliver", "--database-url", dbURL, "--mail-dir", mailDir)
	require.NoError(t, err)
	require.Contains(t, out, "sent 0")
	_, err = runCmd("outbox", "frobnicate", "--database-url", dbURL)
	require.Equal(t, 2, exitCode(err))
}
