package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/smtptest"
)

// TestServeInviteByEmailThenSignUp: an enterprise umbrella invites an
// address with no account; the email's link signs the person up and the
// new account is the umbrella's sub-account at once; its master user sets a
// password from the welcome email and signs in.
func TestServeInviteByEmailThenSignUp(t *testing.T) {
	smtp := smtptest.Start(t)
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"),
		"--smtp-url", smtp.URL(), "--public-url", "https://portal.example")
	key := s.rootKey(t)
	status, created := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{
		"account": map[string]any{"name": "Umbrella Co", "email": "boss@umbrella.example", "plan": "enterprise"},
	})
	require.Equal(t, 201, status, "%v", created)
	umbrella := created["account"].(map[string]any)["id"].(string)
	smtp.WaitFor(t, 1, 10*time.Second) // the umbrella's own welcome

	status, inv := s.call(t, key, umbrella, "POST", "/v1/invitations", map[string]any{
		"email": "nia@newcomer.example", "message": "Join our network",
	})
	require.Equal(t, 201, status, "%v", inv)
	msgs := smtp.WaitFor(t, 2, 10*time.Second)
	invitation := msgs[1]
	require.Equal(t, []string{"nia@newcomer.example"}, invitation.To)
	require.Contains(t, invitation.Text, "Umbrella Co")
	link := linkFrom(t, invitation.Text)
	require.True(t, strings.HasPrefix(link, "https://portal.example/signup?"), link)
	u, err := url.Parse(link)
	require.NoError(t, err)

	status, res := s.call(t, "", "", "POST", "/v1/signup", map[string]any{
		"accountName": "Nia's Shop", "email": "nia@newcomer.example", "name": "Nia",
		"invitation": map[string]any{"id": u.Query().Get("invitation"), "token": u.Query().Get("token")},
	})
	require.Equal(t, 202, status, "%v", res)

	status, page := s.call(t, key, umbrella, "GET", "/v1/accounts/"+umbrella+"/children", nil)
	require.Equal(t, 200, status)
	children := page["data"].([]any)
	require.Len(t, children, 1)
	child := children[0].(map[string]any)
	require.Equal(t, "Nia's Shop", child["name"])
	require.Equal(t, "invited", child["link"].(map[string]any)["origin"])
	require.Equal(t, "pro", child["effectivePlan"], "a basic sub-account of an enterprise umbrella")

	// The new master user sets a password from the welcome email and signs in.
	var welcome string
	require.Eventually(t, func() bool {
		for _, m := range smtp.Messages() {
			if m.To[0] == "nia@newcomer.example" && strings.Contains(m.Text, "/set-password?token=") {
				welcome = linkFrom(t, m.Text)
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	wu, err := url.Parse(welcome)
	require.NoError(t, err)
	status, _ = s.call(t, "", "", "POST", "/v1/auth/set-password", map[string]any{"token": wu.Query().Get("token"), "password": "violet tractor hums quietly 4821"})
	require.Equal(t, 200, status)
	status, login := s.call(t, "", "", "POST", "/v1/auth/login", map[string]any{"login": "nia@newcomer.example", "password": "violet tractor hums quietly 4821"})
	require.Equal(t, 200, status, "%v", login)
	status, me := s.call(t, login["token"].(string), "", "GET", "/v1/me", nil)
	require.Equal(t, 200, status)
	require.Equal(t, child["id"], me["account"].(map[string]any)["id"])
}
