package console

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

// TestSessionThatCannotBeReadIsNoSignOut: a page whose session could not
// be read — here because its visitor left first; a store that fails is the
// same — is the error it is, not the sign-in page: a person whose session
// is live is not sent to sign in again, and the error is not swallowed.
func TestSessionThatCannotBeReadIsNoSignOut(t *testing.T) {
	s := newSite(t)
	token := s.SignIn(t, s.admin)
	var logs bytes.Buffer
	h, err := New(s.Svc, Options{PublicURL: "http://127.0.0.1", Clock: s.Clock.Now, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	left, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"/", canopy.PageSignIn, app(s.umbrella.ID, "credits"), app(s.umbrella.ID, "users")} {
		logs.Reset()
		r := httptest.NewRequestWithContext(left, http.MethodGet, path, nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, statusClientClosedRequest, w.Code, "%s: %s", path, w.Header().Get("Location"))
		require.NotContains(t, logs.String(), `"level":"ERROR"`, path)
	}
}

// TestVisitorThatLeftIsNoInternalError: a page that failed only because
// its visitor went away before it was ready (the request's context ended)
// is logged as such, at info, with status 499 — not as an internal error,
// which pages whoever watches the error log. The same error while the
// visitor still waits is an internal error.
func TestVisitorThatLeftIsNoInternalError(t *testing.T) {
	s := newSite(t)
	var logs bytes.Buffer
	h, err := New(s.Svc, Options{PublicURL: "http://127.0.0.1", Clock: s.Clock.Now, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	left, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		status    int
		level     string
		wantInLog string
	}{
		{"the visitor left", left, statusClientClosedRequest, "INFO", "client left before the page"},
		{"the visitor waits", context.Background(), http.StatusInternalServerError, "ERROR", `"msg":"console"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequestWithContext(tc.ctx, http.MethodGet, app(s.umbrella.ID, "credits"), nil)
			w := httptest.NewRecorder()
			h.fail(w, r, fmt.Errorf("load the balances: %w", context.Canceled))
			require.Equal(t, tc.status, w.Code)
			require.Contains(t, logs.String(), tc.wantInLog)
			require.Contains(t, logs.String(), `"level":"`+tc.level+`"`)
		})
	}
}
