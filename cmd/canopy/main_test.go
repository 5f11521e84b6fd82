package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
)

// syncBuffer is an io.Writer that tests may read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is one `canopy serve` started through run.
type server struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

var listenLine = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// startServe runs `canopy serve` on a free port and waits until /healthz
// answers.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	// Emails and SMS go to temporary folders unless the test says otherwise, never
	// into the source tree.
	base := []string{"serve", "--addr", "127.0.0.1:0", "--mail-dir", t.TempDir(), "--sms-dir", t.TempDir()}
	go func() {
		s.done <- run(ctx, append(base, args...), getenv, nil, io.Discard, s.stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited early: %v\n%s", err, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NotEmpty(t, s.addr, "serve did not log its address:\n%s", s.stderr.String())
	res, err := http.Get("http://" + s.addr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t *testing.T) {
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			require.NoError(t, err)
			close(s.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func (s *server) rootKey(t *testing.T) string {
	m := regexp.MustCompile(`(?m)^root API key: (\S+)$`).FindStringSubmatch(s.stderr.String())
	require.NotNil(t, m, "no root key line in:\n%s", s.stderr.String())
	return m[1]
}

// call sends one request and decodes the JSON answer.
func (s *server) call(t *testing.T, key, as, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != "" {
		req.Header.Set("X-Customer-Id", as)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// TestServeWalkthrough follows the README: root key → customer → its
// child with configurations → act as the child.
func TestServeWalkthrough(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
			if engine == "postgres" {
				dbURL = testdb.PostgresSchemaURL(t)
			}
			s := startServe(t, nil, "--database-url", dbURL)
			key := s.rootKey(t)

			status, customer := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{
				"account": map[string]any{"name": "Acme Reseller", "email": "ops@acme.example", "plan": "enterprise"},
			})
			require.Equal(t, http.StatusCreated, status, "%v", customer)
			customerID := customer["account"].(map[string]any)["id"].(string)

			status, child := s.call(t, key, customerID, "POST", "/v1/accounts", map[string]any{
				"account":        map[string]any{"name": "Acme Dental"},
				"masterUser":     map[string]any{"email": "admin@dental.example", "username": "dental-admin", "name": "Ada"},
				"configurations": map[string]any{"white_label_portal": map[string]any{"brandName": "Acme", "primaryColor": "#FF6600"}},
			})
			require.Equal(t, http.StatusCreated, status, "%v", child)
			childID := child["account"].(map[string]any)["id"].(string)
			require.Equal(t, customerID, child["account"].(map[string]any)["parentId"])

			status, got := s.call(t, key, childID, "GET", "/v1/accounts/"+childID, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "Acme Dental", got["name"])
			status, _ = s.call(t, key, childID, "GET", "/v1/accounts/"+customerID, nil)
			require.Equal(t, http.StatusNotFound, status, "acting as the child, its parent is invisible")
		})
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"))
	key := s.rootKey(t)

	// Send the headers of a create with Expect: 100-continue; the server
	// answers "100 Continue" only once the handler reads the body, so the
	// request is provably in flight when shutdown begins.
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer conn.Close()
	body := `{"account":{"name":"In Flight","email":"flight@example.com"}}`
	fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", s.addr, key, len(body))
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "100 Continue")
	_, err = rd.ReadString('\n') // blank line after the interim response
	require.NoError(t, err)

	s.cancel() // SIGINT/SIGTERM
	require.Eventually(t, func() bool { return strings.Contains(s.stderr.String(), `"msg":"shutting down"`) },
		10*time.Second, 5*time.Millisecond)
	_, err = io.WriteString(conn, body)
	require.NoError(t, err)
	res, err := http.ReadResponse(rd, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode, "the in-flight request finishes")
	res.Body.Close()
	s.stop(t)
	require.Contains(t, s.stderr.String(), `"msg":"stopped"`)
}

func TestRootKeyFromEnvironmentAndRestart(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	const chosen = "cnp_chosen-by-automation-0123456789"
	s := startServe(t, map[string]string{"CANOPY_ROOT_API_KEY": chosen}, "--database-url", dbURL)
	require.Equal(t, chosen, s.rootKey(t))
	status, _ := s.call(t, chosen, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Kept", "email": "kept@example.com"}})
	require.Equal(t, http.StatusCreated, status)
	s.stop(t)

	// A restart on the same database prints no key and keeps the data.
	s2 := startServe(t, nil, "--database-url", dbURL)
	require.NotContains(t, s2.stderr.String(), "root API key:")
	status, page := s2.call(t, chosen, "", "GET", "/v1/accounts?limit=10", nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, page["data"], 1)
}

func TestCommands(t *testing.T) {
	runCmd := func(env map[string]string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	t.Run("version", func(t *testing.T) {
		out, _, err := runCmd(nil, "version")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(out, "canopy "))
	})
	t.Run("help lists the commands", func(t *testing.T) {
		out, _, err := runCmd(nil, "help")
		require.NoError(t, err)
		for _, c := range []string{"serve", "migrate", "version"} {
			require.Contains(t, out, c)
		}
	})
	t.Run("serve --help names flags and environment variables", func(t *testing.T) {
		_, errOut, err := runCmd(nil, "serve", "--help")
		require.ErrorIs(t, err, errHelp())
		for _, s := range []string{"-addr", "CANOPY_ADDR", "-database-url", "CANOPY_DATABASE_URL", "-max-depth", "CANOPY_MAX_DEPTH"} {
			require.Contains(t, errOut, s)
		}
	})
	t.Run("unknown command and bad flags are usage errors", func(t *testing.T) {
		_, _, err := runCmd(nil, "frobnicate")
		require.Equal(t, 2, exitCode(err))
		_, _, err = runCmd(nil, "serve", "--no-such-flag")
		require.Equal(t, 2, exitCode(err))
		_, _, err = runCmd(map[string]string{"CANOPY_MAX_DEPTH": "deep"}, "serve")
		require.ErrorContains(t, err, "CANOPY_MAX_DEPTH")
		for _, bad := range []string{"basic=lots", "gold=5", "basic=-2", "basic"} {
			_, _, err = runCmd(nil, "serve", "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "q.db"), "--email-quota", bad)
			require.Equal(t, 2, exitCode(err), bad)
			require.ErrorContains(t, err, "--email-quota", bad)
		}
	})
	t.Run("a subcommand's --help shows only its own flags", func(t *testing.T) {
		for _, args := range [][]string{{"credits", "verify"}, {"outbox", "list"}, {"outbox", "show"}, {"outbox", "retry"}, {"sms", "list"}, {"keys", "create-root"}} {
			_, errOut, err := runCmd(nil, append(args, "--help")...)
			require.ErrorIs(t, err, errHelp())
			require.Contains(t, errOut, "-database-url")
			for _, other := range []string{"-smtp-url", "-login-lock-after", "-session-ttl", "-email-quota", "-addr"} {
				require.NotContains(t, errOut, other, "%v --help", args)
			}
		}
		_, errOut, _ := runCmd(nil, "outbox", "deliver", "--help")
		require.Contains(t, errOut, "-smtp-url", "deliver sends email: it takes the mail flags")
	})
	t.Run("keys create-root prints a new root key that works", func(t *testing.T) {
		db := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
		_, _, err := runCmd(nil, "migrate", "--database-url", db)
		require.NoError(t, err)
		_, _, err = runCmd(nil, "keys", "create-root", "--database-url", db)
		require.ErrorContains(t, err, "no platform root yet")
		s := startServe(t, nil, "--database-url", db)
		out, _, err := runCmd(nil, "keys", "create-root", "--database-url", db, "--name", "script")
		require.NoError(t, err)
		key := strings.TrimSpace(out)
		require.True(t, strings.HasPrefix(key, "cnp_"), out)
		status, _ := s.call(t, key, "", "GET", "/v1/me", nil)
		require.Equal(t, http.StatusOK, status, "the running service takes the new key")
	})
	t.Run("operator commands refuse a database that does not exist", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nowhere.db")
		for _, args := range [][]string{{"credits", "verify"}, {"outbox", "list"}, {"keys", "create-root"}} {
			_, _, err := runCmd(nil, append(args, "--database-url", "sqlite:"+path)...)
			require.ErrorContains(t, err, "no Canopy database at "+path)
			require.NoFileExists(t, path, "and create no empty one")
		}
	})
	t.Run("migrate applies, then reports up to date and status", func(t *testing.T) {
		db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
		out, _, err := runCmd(nil, "migrate", "--database-url", db)
		require.NoError(t, err)
		require.Contains(t, out, "applied 1")
		out, _, err = runCmd(map[string]string{"CANOPY_DATABASE_URL": db}, "migrate")
		require.NoError(t, err)
		require.Contains(t, out, "up to date")
		out, _, err = runCmd(nil, "migrate", "--status", "--database-url", db)
		require.NoError(t, err)
		require.Regexp(t, `1\s+00001_accounts.sql\s+applied`, out)
	})
}
