package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServePublicRateLimit: the flags reach the API — a client that spends
// its burst on the public endpoints gets 429 with Retry-After, a trusted
// proxy's X-Forwarded-For names another client, and the refusals are
// counted in /metrics.
func TestServePublicRateLimit(t *testing.T) {
	s := startServe(t, map[string]string{"CANOPY_PUBLIC_RATE": "1"}, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"),
		"--public-burst", "2", "--trusted-proxies", "127.0.0.0/8, ::1")
	reset := func(forwardedFor string) *http.Response {
		req, err := http.NewRequest("POST", "http://"+s.addr+"/v1/auth/password-reset", bytes.NewBufferString(`{"email":"nobody@example.com"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	require.Equal(t, http.StatusAccepted, reset("").StatusCode)
	require.Equal(t, http.StatusAccepted, reset("").StatusCode)
	refused := reset("")
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode)
	require.Equal(t, "60", refused.Header.Get("Retry-After"))
	require.Equal(t, http.StatusAccepted, reset("203.0.113.5").StatusCode, "behind the trusted proxy, another client")

	res, err := http.Get("http://" + s.addr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	metrics, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), `canopy_http_rate_limited_total{route="/v1/auth/password-reset"} 1`)

	// The console's reset page draws on the same allowance: one limiter
	// serves both, so this client is refused there too, and another is not.
	page := func(forwardedFor string) int {
		req, err := http.NewRequest("POST", "http://"+s.addr+"/reset-password", strings.NewReader(url.Values{"email": {"nobody@example.com"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusTooManyRequests, page("127.0.0.1"))
	require.Equal(t, http.StatusOK, page("203.0.113.6"))
	require.Equal(t, http.StatusOK, page("203.0.113.6"))
	require.Equal(t, http.StatusTooManyRequests, reset("203.0.113.6").StatusCode, "a burst spent on the page is spent for the API")
}

func TestServeRateLimitFlagsAreValidated(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--public-rate", "-1"}, "--public-rate -1: give requests a minute per client address, or 0 for no limit"},
		{nil, []string{"--public-burst", "0"}, "--public-burst 0: must be at least 1"},
		{nil, []string{"--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"}, `--trusted-proxies: "10.0.0.0/33" is not an address range`},
		{map[string]string{"CANOPY_TRUSTED_PROXIES": "proxy.internal"}, nil, `--trusted-proxies: "proxy.internal" is not an address range`},
	} {
		var stderr bytes.Buffer
		args := append([]string{"serve", "--database-url", db}, c.args...)
		err := run(context.Background(), args, func(k string) string { return c.env[k] }, nil, io.Discard, &stderr)
		require.ErrorContains(t, err, c.want, "%v %v", c.env, c.args)
		require.Equal(t, 2, exitCode(err), "%v %v: a usage error", c.env, c.args)
	}
	err := run(context.Background(), []string{"serve", "--database-url", db}, func(k string) string {
		return map[string]string{"CANOPY_PUBLIC_RATE": "ten"}[k]
	}, nil, io.Discard, io.Discard)
	require.ErrorContains(t, err, `$CANOPY_PUBLIC_RATE: "ten" is not a whole number`)
}

// TestServeOnePort: the API's paths reach the API, everything else the
// web side; a first visit lands on the sign-in page.
func TestServeOnePort(t *testing.T) {
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path, wantType string
		want           int
	}{
		{"/", "text/html", http.StatusSeeOther},
		{"/signin", "text/html", http.StatusOK},
		{"/app", "text/html", http.StatusSeeOther},
		{"/nowhere", "text/html", http.StatusNotFound},
		{"/v1/nowhere", "application/problem+json", http.StatusNotFound},
		{"/v1/me", "application/problem+json", http.StatusUnauthorized},
		{"/healthz", "", http.StatusOK},
		{"/openapi.json", "application/json", http.StatusOK},
	} {
		res, err := client.Get("http://" + s.addr + c.path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, c.want, res.StatusCode, c.path)
		require.Contains(t, res.Header.Get("Content-Type"), c.wantType, c.path)
	}
}
