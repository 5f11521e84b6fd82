package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCreditsVerify runs the README's flow against a served database, then
// proves that the verifier notices a balance changed behind the ledger's
// back.
func TestCreditsVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canopy.db")
	dbURL := "sqlite:" + path
	runCmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	s := startServe(t, nil, "--database-url", dbURL, "--credit-types", "storage-gb")
	key := s.rootKey(t)
	status, res := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Umbrella", "email": "u@x.example"}})
	require.Equal(t, 201, status)
	umbrella := res["account"].(map[string]any)["id"].(string)
	status, res = s.call(t, key, umbrella, "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Clinic", "email": "c@x.example"}})
	require.Equal(t, 201, status)
	clinic := res["account"].(map[string]any)["id"].(string)
	status, res = s.call(t, key, "", "POST", "/v1/accounts/"+umbrella+"/credits/grants", map[string]any{"type": "storage-gb", "amount": 10, "reason": "November"})
	require.Equal(t, 201, status, "%v", res)
	status, res = s.call(t, key, clinic, "POST", "/v1/usage", map[string]any{"type": "storage-gb", "quantity": 4, "reference": "nov-storage"})
	require.Equal(t, 201, status, "the clinic's usage is paid by its umbrella: %v", res)
	status, res = s.call(t, key, clinic, "POST", "/v1/usage", map[string]any{"type": "storage-gb", "quantity": 7})
	require.Equal(t, 402, status, "%v", res)
	require.Equal(t, "insufficient-credits", res["code"])
	s.stop(t)

	out, err := runCmd("credits", "verify", "--database-url", dbURL)
	require.NoError(t, err, out)
	require.Contains(t, out, "ok: 1 balance(s)")

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE credit_balances SET balance = balance + 1`)
	require.NoError(t, err)
	// And the payers' usage rollups that balance histories read.
	_, err = db.Exec(`UPDATE credit_payer_days SET amount = amount + 2`)
	require.NoError(t, err)
	// And the monthly rollups that usage reports read for whole months.
	_, err = db.Exec(`UPDATE credit_usage_months SET amount = amount + 3`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	out, err = runCmd("credits", "verify", "--database-url", dbURL)
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Regexp(t, `\n`+umbrella+`\s+storage-gb\s+7\s+6\n`, out)
	require.Regexp(t, `\(usage paid by `+umbrella+`\)\s+storage-gb\s+6\s+4\n`, out)
	require.Regexp(t, `\(monthly usage of /[^)]*`+clinic+`/\)\s+storage-gb\s+7\s+4\n`, out)

	_, err = runCmd("credits", "audit")
	require.Equal(t, 2, exitCode(err))
	never := filepath.Join(t.TempDir(), "never.db")
	_, err = runCmd("serve", "--database-url", "sqlite:"+never, "--credit-types", "Bad Type")
	require.Equal(t, 2, exitCode(err))
	require.NoFileExists(t, never, "a command refused for its flags touches no database")
}

// TestLoadCommand runs `canopy load` against a served database, small.
func TestLoadCommand(t *testing.T) {
	s := startServe(t, map[string]string{"CANOPY_ROOT_API_KEY": crashRootKey}, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"))
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "--url", "http://" + s.addr, "--key", crashRootKey,
		"--children", "5", "--clients", "4", "--duration", "500ms"}, func(string) string { return "" }, nil, &out, &errOut)
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	require.Regexp(t, `debits/s: [1-9]\d*`, out.String())
	require.Contains(t, out.String(), "refused: 0, failed: 0")
	require.Contains(t, errOut.String(), "creating sub-accounts [##############################] 5/5")

	err = run(context.Background(), []string{"load"}, func(string) string { return "" }, nil, &out, &errOut)
	require.Equal(t, 2, exitCode(err), "no key")
}

// TestLoadSMS runs `canopy load --scenario sms` against a served database,
// small: signed texts, each a record.
func TestLoadSMS(t *testing.T) {
	s := startServe(t, map[string]string{"CANOPY_ROOT_API_KEY": crashRootKey, "CANOPY_SMS_AUTH_TOKEN": "load-token"},
		"--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"), "--public-url", "https://canopy.example")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "--scenario", "sms", "--url", "http://" + s.addr, "--key", crashRootKey,
		"--sms-auth-token", "load-token", "--public-url", "https://canopy.example", "--collectors", "150", "--clients", "4", "--duration", "500ms"},
		func(string) string { return "" }, nil, &out, &errOut)
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	require.Regexp(t, `texts/s: [1-9]\d*`, out.String())
	require.Regexp(t, `records: [1-9]\d* \(upload credits charged\)`, out.String())
	require.Contains(t, out.String(), "refused: 0, failed: 0")
	require.Contains(t, errOut.String(), "authorising numbers [##############################] 150/150")

	// Paced at 40 texts a second for a second, the clients send about 40,
	// not as many as they can.
	out.Reset()
	err = run(context.Background(), []string{"load", "--scenario", "sms", "--url", "http://" + s.addr, "--key", crashRootKey,
		"--sms-auth-token", "load-token", "--public-url", "https://canopy.example", "--collectors", "10", "--clients", "4",
		"--duration", "1s", "--rate", "40"},
		func(string) string { return "" }, nil, &out, &errOut)
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	m := regexp.MustCompile(`texts: (\d+) `).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	n, _ := strconv.Atoi(m[1])
	require.InDelta(t, 40, n, 8, "texts sent at 40 a second for a second")

	// Signed with another token, every text is refused (403).
	out.Reset()
	err = run(context.Background(), []string{"load", "--scenario", "sms", "--url", "http://" + s.addr, "--key", crashRootKey,
		"--sms-auth-token", "wrong", "--public-url", "https://canopy.example", "--collectors", "1", "--clients", "1", "--duration", "200ms"},
		func(string) string { return "" }, nil, &out, &errOut)
	require.NoError(t, err, "refused, not failed")
	require.Contains(t, out.String(), "texts: 0 ")
	err = run(context.Background(), []string{"load", "--scenario", "sms", "--key", crashRootKey}, func(string) string { return "" }, nil, &out, &errOut)
	require.Equal(t, 2, exitCode(err), "no token")
}
