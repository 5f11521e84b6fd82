package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
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
