package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeSendsSMSShares runs the SMS share end to end: canopy serve with
// a Twilio-compatible provider (served in-process), the auth token read
// from a *_FILE; a sub-account shares a form with two numbers, its umbrella
// pays; the provider takes one and refuses the other, which is refunded.
func TestServeSendsSMSShares(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []string
		auth []string
	)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		auth = append(auth, user+":"+pass+" "+r.URL.Path)
		to := r.PostForm.Get("To")
		got = append(got, to+" "+r.PostForm.Get("From")+" "+r.PostForm.Get("Body"))
		if to == "+15550000002" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code": 21211, "message": "invalid To"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sid": "SM1"}`)
	}))
	defer provider.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600))
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	s := startServe(t, map[string]string{"CANOPY_SMS_AUTH_TOKEN_FILE": tokenFile},
		"--database-url", dbURL, "--sms-url", provider.URL, "--sms-account-sid", "AC1", "--sms-from", "+15005550006",
		"--public-url", "https://forms.example")
	key := s.rootKey(t)
	status, res := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Umbrella", "email": "u@x.example"}})
	require.Equal(t, 201, status)
	umbrella := res["account"].(map[string]any)["id"].(string)
	status, res = s.call(t, key, umbrella, "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Clinic", "email": "c@x.example"}})
	require.Equal(t, 201, status)
	clinic := res["account"].(map[string]any)["id"].(string)
	status, _ = s.call(t, key, "", "POST", "/v1/accounts/"+umbrella+"/credits/grants", map[string]any{"type": "message", "amount": 10})
	require.Equal(t, 201, status)
	status, res = s.call(t, key, clinic, "POST", "/v1/forms", map[string]any{"name": "Intake"})
	require.Equal(t, 201, status)
	form := res["id"].(string)
	status, res = s.call(t, key, clinic, "POST", "/v1/forms/"+form+"/sms", map[string]any{"to": []string{"+15550000001", "+15550000002"}, "mode": "structured"})
	require.Equal(t, 202, status, "%v", res)
	require.Equal(t, umbrella, res["payerId"])

	balance := func() float64 {
		_, res := s.call(t, key, "", "GET", "/v1/accounts/"+umbrella+"/credits", nil)
		for _, b := range res["balances"].([]any) {
			if b := b.(map[string]any); b["type"] == "message" {
				return b["amount"].(float64)
			}
		}
		return -1
	}
	deadline := time.Now().Add(15 * time.Second)
	for balance() != 9 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.EqualValues(t, 9, balance(), "two charged, the refused one refunded")
	mu.Lock()
	require.ElementsMatch(t, []string{
		"+15550000001 +15005550006 Intake: https://forms.example/f/" + form,
		"+15550000002 +15005550006 Intake: https://forms.example/f/" + form,
	}, got)
	require.Equal(t, "AC1:tok-123 /2010-04-01/Accounts/AC1/Messages.json", auth[0])
	mu.Unlock()
	s.stop(t)

	runCmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := runCmd("sms", "list", "--database-url", dbURL)
	require.NoError(t, err, out)
	require.Equal(t, 1, strings.Count(out, " sent "), out)
	require.Equal(t, 1, strings.Count(out, " failed "), out)
	require.Contains(t, out, "21211")
	out, err = runCmd("sms", "deliver", "--database-url", dbURL, "--sms-dir", t.TempDir())
	require.NoError(t, err, out)
	require.Contains(t, out, "sent 0, to be retried 0, failed (and refunded) 0")
	out, err = runCmd("credits", "verify", "--database-url", dbURL)
	require.NoError(t, err, out)
	_, err = runCmd("sms")
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("sms", "resend", "--database-url", dbURL)
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("serve", "--database-url", dbURL, "--sms-url", "ftp://nope")
	require.Equal(t, 2, exitCode(err))
}
