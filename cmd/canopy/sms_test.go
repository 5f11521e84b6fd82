package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/twiliotest"
)

// The public URL the provider was told to call; Canopy itself listens on a
// free port.
const smsPublicURL = "https://forms.example"

// collectionServe starts `canopy serve` with the fake provider's Messages
// API, its auth token read from a *_FILE, a fast SMS worker, and points the
// provider's texts at it.
func collectionServe(t *testing.T, tw *twiliotest.Provider, dbURL, rootKey string) *server {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(twiliotest.AuthToken+"\n"), 0o600))
	s := startServe(t, map[string]string{"CANOPY_SMS_AUTH_TOKEN_FILE": tokenFile, "CANOPY_ROOT_API_KEY": rootKey},
		"--database-url", dbURL, "--sms-url", tw.URL, "--sms-account-sid", twiliotest.AccountSID, "--sms-from", twiliotest.From,
		"--public-url", smsPublicURL, "--sms-poll", "20ms")
	tw.SetWebhook("http://"+s.addr+"/v1/sms/inbound", smsPublicURL+"/v1/sms/inbound")
	return s
}

// fieldSetup is an umbrella (pro) holding credits and its clinic (pro),
// which owns the HIV info form, code HIVINFO, in its brand.
type fieldSetup struct {
	umbrella, clinic, form string
}

func setUpCollection(t *testing.T, s *server, key string) fieldSetup {
	t.Helper()
	var f fieldSetup
	status, res := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Umbrella", "email": "u@x.example", "plan": "pro"}})
	require.Equal(t, http.StatusCreated, status, "%v", res)
	f.umbrella = res["account"].(map[string]any)["id"].(string)
	status, res = s.call(t, key, f.umbrella, "POST", "/v1/accounts", map[string]any{
		"account":        map[string]any{"name": "Clinic", "email": "c@x.example", "plan": "pro"},
		"configurations": map[string]any{"white_label_portal": map[string]any{"brandName": "Acme Health"}}})
	require.Equal(t, http.StatusCreated, status, "%v", res)
	f.clinic = res["account"].(map[string]any)["id"].(string)
	for _, ct := range []string{"message", "upload"} {
		status, _ = s.call(t, key, "", "POST", "/v1/accounts/"+f.umbrella+"/credits/grants", map[string]any{"type": ct, "amount": 100})
		require.Equal(t, http.StatusCreated, status)
	}
	status, res = s.call(t, key, f.clinic, "POST", "/v1/forms", map[string]any{"name": "HIV info", "questions": []map[string]any{
		{"id": "name", "label": "Name", "type": "text", "required": true},
		{"id": "sex", "label": "Sex", "type": "choice", "options": []string{"Female", "Male"}, "required": true},
		{"id": "age", "label": "Age", "type": "number", "required": true}}})
	require.Equal(t, http.StatusCreated, status, "%v", res)
	f.form = res["id"].(string)
	status, res = s.call(t, key, f.clinic, "PATCH", "/v1/forms/"+f.form+"/sms", map[string]any{"code": "HIVINFO"})
	require.Equal(t, http.StatusOK, status, "%v", res)
	return f
}

func (f fieldSetup) authorise(t *testing.T, s *server, key, mode string, numbers ...string) {
	t.Helper()
	status, res := s.call(t, key, f.clinic, "POST", "/v1/forms/"+f.form+"/sms/collectors", map[string]any{"numbers": numbers, "mode": mode})
	require.Equal(t, http.StatusCreated, status, "%v", res)
}

func (f fieldSetup) records(t *testing.T, s *server, key string) []map[string]any {
	t.Helper()
	status, res := s.call(t, key, f.clinic, "GET", "/v1/forms/"+f.form+"/records", nil)
	require.Equal(t, http.StatusOK, status)
	var out []map[string]any
	for _, r := range res["data"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// converse texts from a number and waits for the reply to it.
func converse(t *testing.T, tw *twiliotest.Provider, from, body string) string {
	t.Helper()
	before := len(tw.SentTo(from))
	_, status := tw.Text(t, from, body)
	require.Equal(t, http.StatusOK, status)
	got := tw.WaitSent(t, from, before+1, 15*time.Second)
	return got[len(got)-1]
}

func runCmd(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestServeCollectsBySMS runs SMS collection end to end through canopy
// serve and a Twilio-compatible provider that also texts back through the
// signed webhook: structured texts (valid, each kind of invalid, an
// unauthorised number, a replayed MessageSid), HELP, STOP and START, no
// credit (one notice), and an interactive conversation with a wrong
// answer in the middle that a restarted process finishes.
func TestServeCollectsBySMS(t *testing.T) {
	tw := twiliotest.New(t)
	tw.Reject("+15550000002")
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "canopy.db")
	const key = "cnp_sms-collection-test-root-key-0123456789"
	s := collectionServe(t, tw, dbURL, key)
	f := setUpCollection(t, s, key)
	const ada, bo = "+15551230000", "+15551230001"

	f.authorise(t, s, key, "structured", ada, "+15550000002")
	require.Equal(t, []string{"HIV info: to send data, text HIVINFO#Name#Sex#Age to " + twiliotest.From +
		", the answers in this order. Sex: one of 1 Female, 2 Male. Reply HELP for help, STOP to stop."}, tw.WaitSent(t, ada, 1, 15*time.Second))

	for _, tc := range []struct{ text, reply string }{
		{"HIVINFO#Ada#F#34", "HIVINFO: thank you, your answers were saved."},
		{"hivinfo*Bo*2*40", "HIVINFO: thank you, your answers were saved."},
		{"HIVINFO#Cy#F#old", "HIVINFO: answer 3 (Age) must be a number. Nothing was saved; text HIVINFO#Name#Sex#Age"},
		{"HIVINFO#Cy#X#30", "HIVINFO: answer 2 (Sex) must be one of 1 Female, 2 Male. Nothing was saved; text HIVINFO#Name#Sex#Age"},
		{"HIVINFO#Cy", "HIVINFO: answer 2 (Sex) is missing. Nothing was saved; text HIVINFO#Name#Sex#Age"},
		{"HIVINFO#Cy#F#30#extra", "HIVINFO: 4 answers, but the form has 3 questions. Nothing was saved; text HIVINFO#Name#Sex#Age"},
	} {
		require.Equal(t, tc.reply, converse(t, tw, ada, tc.text), tc.text)
	}
	require.Len(t, f.records(t, s, key), 2)

	// An unauthorised number is ignored; a provider's retry is taken in once.
	_, status := tw.Text(t, "+15559990000", "HIVINFO#Eve#F#20")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusOK, tw.TextSID(t, "SMretry0001", ada, "HIVINFO#Fay#F#22"))
	tw.WaitSent(t, ada, 8, 15*time.Second)
	require.Equal(t, http.StatusOK, tw.TextSID(t, "SMretry0001", ada, "HIVINFO#Fay#F#22"))
	require.Equal(t, "Acme Health: this number collects form data by text. Reply STOP to stop all messages, START to resume.",
		converse(t, tw, ada, "HELP"))
	require.Empty(t, tw.SentTo("+15559990000"))
	require.Len(t, tw.SentTo(ada), 9, "the retry got no second reply")
	require.Len(t, f.records(t, s, key), 3, "nor a second record")

	// STOP: nothing more to the number, data still taken in; START.
	_, status = tw.Text(t, ada, "stop")
	require.Equal(t, http.StatusOK, status)
	tw.Text(t, ada, "HIVINFO#Gus#M#50")
	tw.Text(t, ada, "HELP")
	require.Equal(t, "Acme Health: you will get messages again. Reply HELP for help, STOP to stop.", converse(t, tw, ada, "START"))
	require.Len(t, tw.SentTo(ada), 10, "nothing was sent between STOP and START")
	require.Len(t, f.records(t, s, key), 4)

	// No credit: nothing written, the collector told once.
	status, res := s.call(t, key, f.umbrella, "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Sink", "email": "sink@x.example"}})
	require.Equal(t, http.StatusCreated, status)
	sink := res["account"].(map[string]any)["id"].(string)
	_, res = s.call(t, key, "", "GET", "/v1/accounts/"+f.umbrella+"/credits", nil)
	var uploads float64
	for _, b := range res["balances"].([]any) {
		if b := b.(map[string]any); b["type"] == "upload" {
			uploads = b["amount"].(float64)
		}
	}
	status, _ = s.call(t, key, f.umbrella, "POST", "/v1/accounts/"+sink+"/credits/transfers", map[string]any{"type": "upload", "amount": uploads})
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, "HIV info: data cannot be accepted now; please try again later.", converse(t, tw, ada, "HIVINFO#Hal#M#60"))
	tw.Text(t, ada, "HIVINFO#Ida#F#61")
	converse(t, tw, ada, "HELP")
	sent := tw.SentTo(ada)
	require.Len(t, sent, 12, "told once, then only the help")
	require.Contains(t, sent[10], "cannot be accepted")
	require.Len(t, f.records(t, s, key), 4)
	status, _ = s.call(t, key, "", "POST", "/v1/accounts/"+f.umbrella+"/credits/grants", map[string]any{"type": "upload", "amount": 10})
	require.Equal(t, http.StatusCreated, status)

	// Interactive, with a wrong answer in the middle; the process restarts
	// mid-conversation and the next one carries on.
	f.authorise(t, s, key, "interactive", bo)
	require.Equal(t, []string{"HIV info. Reply to each question; reply STOP to stop. Q1/3 Name"}, tw.WaitSent(t, bo, 1, 15*time.Second))
	require.Equal(t, "Q2/3 Sex Reply one of 1 Female, 2 Male.", converse(t, tw, bo, "Bo"))
	require.Equal(t, "Please answer with one of 1 Female, 2 Male. Q2/3 Sex Reply one of 1 Female, 2 Male.", converse(t, tw, bo, "maybe"))
	require.Equal(t, "Q3/3 Age (a number)", converse(t, tw, bo, "male"))
	s.stop(t)
	s = collectionServe(t, tw, dbURL, key)
	require.Equal(t, "Thank you: your answers to HIV info were saved.", converse(t, tw, bo, "41"))
	recs := f.records(t, s, key)
	require.Len(t, recs, 5)
	require.Equal(t, map[string]any{"name": "Bo", "sex": "Male", "age": float64(41)}, recs[4]["answers"])
	require.Equal(t, "sms:"+bo, recs[4]["createdBy"])
	s.stop(t)

	// The refused number failed and was refunded; the ledger still adds up.
	out, err := runCmd("sms", "list", "--database-url", dbURL, "--status", "failed")
	require.NoError(t, err, out)
	require.Contains(t, out, "+15550000002")
	require.Contains(t, out, "21211")
	out, err = runCmd("credits", "verify", "--database-url", dbURL)
	require.NoError(t, err, out)
	_, err = runCmd("sms")
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("sms", "resend", "--database-url", dbURL)
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("sms", "inbound", "--database-url", dbURL, "--from", "nobody", "--body", "HELP")
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("serve", "--database-url", dbURL, "--sms-url", "ftp://nope")
	require.Equal(t, 2, exitCode(err))
	_, err = runCmd("serve", "--database-url", dbURL, "--sms-conversation-idle", "1s")
	require.Equal(t, 2, exitCode(err))
}

// TestServeSMSConversationAcrossReplicas: two canopy serve replicas on one
// PostgreSQL database take turns with one interactive conversation — the
// provider's texts land on either — and it completes as if one process
// had it; each reply is sent once, though both run an SMS worker.
func TestServeSMSConversationAcrossReplicas(t *testing.T) {
	dbURL := testdb.PostgresSchemaURL(t)
	tw := twiliotest.New(t)
	const key = "cnp_sms-replicas-test-root-key-0123456789"
	r1 := collectionServe(t, tw, dbURL, key)
	f := setUpCollection(t, r1, key)
	r2 := collectionServe(t, tw, dbURL, key)
	at := func(s *server) { tw.SetWebhook("http://"+s.addr+"/v1/sms/inbound", smsPublicURL+"/v1/sms/inbound") }
	const bo = "+15551230001"
	f.authorise(t, r2, key, "interactive", bo)
	tw.WaitSent(t, bo, 1, 15*time.Second)
	at(r1)
	require.Equal(t, "Q2/3 Sex Reply one of 1 Female, 2 Male.", converse(t, tw, bo, "Bo"))
	at(r2)
	require.Equal(t, "Please answer with a number. Q3/3 Age (a number)", func() string {
		converse(t, tw, bo, "2")
		return converse(t, tw, bo, "forty")
	}())
	at(r1)
	require.Equal(t, "Thank you: your answers to HIV info were saved.", converse(t, tw, bo, "40"))
	recs := f.records(t, r2, key)
	require.Len(t, recs, 1)
	require.Equal(t, map[string]any{"name": "Bo", "sex": "Male", "age": float64(40)}, recs[0]["answers"])
	time.Sleep(200 * time.Millisecond) // both workers poll every 20 ms: a second send would show by now
	require.Len(t, tw.SentTo(bo), 5, "each reply sent once: %q", tw.SentTo(bo))
	require.Equal(t, len(tw.Sent()), tw.Calls())
}

// TestSMSInboundSimulator follows the README: with the file provider (no
// SMS account), canopy sms inbound feeds texts in as the provider would,
// and their replies are written as files.
func TestSMSInboundSimulator(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "canopy.db")
	const key = "cnp_sms-simulator-test-root-key-0123456789"
	smsDir := filepath.Join(dir, "sms-outbox")
	s := startServe(t, map[string]string{"CANOPY_ROOT_API_KEY": key}, "--database-url", dbURL, "--sms-dir", smsDir)
	f := setUpCollection(t, s, key)
	f.authorise(t, s, key, "structured", "+15551230000")
	s.stop(t)

	out, err := runCmd("sms", "inbound", "--database-url", dbURL, "--from", "+15551230000", "--body", "HIVINFO#Ada#F#34")
	require.NoError(t, err, out)
	require.Contains(t, out, ": record rec_")
	require.Contains(t, out, "reply to +15551230000 (sms_")
	require.Contains(t, out, "HIVINFO: thank you, your answers were saved.")
	out, err = runCmd("sms", "inbound", "--database-url", dbURL, "--from", "+15551230000", "--body", "HIVINFO#Bo", "--sid", "SMsame")
	require.NoError(t, err, out)
	require.Contains(t, out, "SMsame: invalid")
	out, err = runCmd("sms", "inbound", "--database-url", dbURL, "--from", "+15551230000", "--body", "HIVINFO#Bo", "--sid", "SMsame")
	require.NoError(t, err, out)
	require.Contains(t, out, "SMsame: duplicate")
	out, err = runCmd("sms", "deliver", "--database-url", dbURL, "--sms-dir", smsDir)
	require.NoError(t, err, out)
	files, err := filepath.Glob(filepath.Join(smsDir, "*.txt"))
	require.NoError(t, err)
	require.Len(t, files, 3, "the one-time message and two replies")
	var all strings.Builder
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		all.Write(b)
	}
	require.Contains(t, all.String(), "To: +15551230000\n\nHIVINFO: thank you, your answers were saved.")
	require.Contains(t, all.String(), "HIVINFO: answer 2 (Sex) is missing.")
}
