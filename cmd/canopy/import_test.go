package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// importCSV writes n valid rows (each with a CRM reference, a
// configuration, workflows and metadata) and the extra lines given.
func importCSV(t *testing.T, n int, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("account.name,account.email,account.plan,masterUser.name,externalReferences.crm,configurations.white_label_portal,workflows,account.metadata.region\n")
	for i := range n {
		fmt.Fprintf(&b, "Clinic %d,ops%d@clinics.example,basic,Ada %d,C-%d,\"{\"\"brandName\"\": \"\"Clinic %d\"\"}\",kyc-standard;invoicing,eu\n", i, i, i, i, i)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	path := filepath.Join(t.TempDir(), "clients.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// importRun runs canopy import accounts and returns its output and error.
func importRun(t *testing.T, s *server, key, parent, file string, extra ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"import", "accounts", "--file", file, "--parent", parent, "--url", "http://" + s.addr, "--key", key}, extra...)
	err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
	return out.String(), err
}

func readReport(t *testing.T, path string) [][]string {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	require.NoError(t, err)
	return recs[1:]
}

// TestImportAccounts: 1,000 rows are created once, under the parent, with
// everything their columns say; running the import again creates none;
// a file with 5 bad rows reports exactly those and creates the rest; a
// dry run creates nothing.
func TestImportAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 1,000 accounts over HTTP; skipped with -short")
	}
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"))
	key := s.rootKey(t)
	status, acc := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{
		"name": "Clinics Reseller", "email": "ops@reseller.example", "plan": "enterprise"}})
	require.Equal(t, 201, status, "%v", acc)
	parent := acc["account"].(map[string]any)["id"].(string)
	children := func() int {
		n := 0
		cursor := ""
		for {
			status, page := s.call(t, key, parent, "GET", "/v1/accounts/"+parent+"/children?limit=200"+cursor, nil)
			require.Equal(t, 200, status)
			n += len(page["data"].([]any))
			next, _ := page["nextCursor"].(string)
			if next == "" {
				return n
			}
			cursor = "&cursor=" + next
		}
	}

	file := importCSV(t, 1000)
	out, err := importRun(t, s, key, parent, file)
	require.NoError(t, err, "%s\n%v", out, readReport(t, file+".report.csv"))
	require.Contains(t, out, "1000 rows: 1000 created, 0 there already, 0 failed")
	require.Equal(t, 1000, children())
	require.Empty(t, readReport(t, file+".report.csv"))
	status, found := s.call(t, key, parent, "GET", "/v1/accounts?externalReference=crm:C-417", nil)
	require.Equal(t, 200, status)
	clinic := found["data"].([]any)[0].(map[string]any)
	require.Equal(t, "Clinic 417", clinic["name"])
	require.Equal(t, map[string]any{"region": "eu"}, clinic["metadata"])
	status, wl := s.call(t, key, clinic["id"].(string), "GET", "/v1/accounts/"+clinic["id"].(string)+"/configurations/white_label_portal", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "Clinic 417", wl["brandName"])

	t.Run("a second run creates none", func(t *testing.T) {
		out, err := importRun(t, s, key, parent, file, "--quiet")
		require.NoError(t, err, out)
		require.Contains(t, out, "1000 rows: 0 created, 1000 there already, 0 failed")
		require.Equal(t, 1000, children())
	})
	t.Run("without its state, the references find what was made", func(t *testing.T) {
		require.NoError(t, os.Remove(file+".state"))
		out, err := importRun(t, s, key, parent, file, "--quiet", "--concurrency", "8")
		require.NoError(t, err, out)
		require.Contains(t, out, "0 created, 1000 there already")
		require.Equal(t, 1000, children())
	})
	t.Run("5 bad rows are reported, exactly those", func(t *testing.T) {
		bad := importCSV(t, 1000,
			",nobody@clinics.example,basic,Nameless,C-9001,,,",                      // line 1002: no name
			"Clinic X1,not an address,basic,X,C-9002,,,",                            // 1003
			"Clinic X2,x2@clinics.example,gold,X,C-9003,,,",                         // 1004
			"Clinic X3,x3@clinics.example,basic,X,C-9004,{broken,,",                 // 1005
			"Clinic X4,x4@clinics.example,basic,X,C-9005",                           // 1006: cells missing
			"Clinic X5,x5@clinics.example,basic,X,C-9006,\"{\"\"a\"\": 1}\",kyc,eu", // 1007: fine
		)
		out, err := importRun(t, s, key, parent, bad, "--quiet")
		require.ErrorIs(t, err, errImportIncomplete)
		require.Contains(t, out, "1006 rows: 1 created, 1000 there already, 5 failed")
		report := readReport(t, bad+".report.csv")
		var lines []string
		for _, r := range report {
			lines = append(lines, r[0])
		}
		require.Equal(t, []string{"1002", "1003", "1004", "1005", "1006"}, lines)
		require.Contains(t, report[0][3], "account.name")
		require.Contains(t, report[1][3], "account.email")
		require.Contains(t, report[2][3], "account.plan")
		require.Contains(t, report[3][3], "configurations.white_label_portal")
		require.Equal(t, 1001, children())
	})
	t.Run("a dry run checks every row and creates nothing", func(t *testing.T) {
		status, acc := s.call(t, key, "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{
			"name": "Empty Reseller", "email": "ops@empty.example", "plan": "enterprise"}})
		require.Equal(t, 201, status)
		empty := acc["account"].(map[string]any)["id"].(string)
		bad := importCSV(t, 20, "Clinic Y,y@clinics.example,platinum,Y,C-1,,,")
		out, err := importRun(t, s, key, empty, bad, "--dry-run")
		require.ErrorIs(t, err, errImportIncomplete)
		require.Contains(t, out, "21 rows: 20 valid, 1 invalid (dry run: nothing was created)")
		require.Len(t, readReport(t, bad+".report.csv"), 1)
		status, page := s.call(t, key, empty, "GET", "/v1/accounts/"+empty+"/children", nil)
		require.Equal(t, 200, status)
		require.Empty(t, page["data"])
	})
	t.Run("an unknown column is refused before anything is sent", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "odd.csv")
		require.NoError(t, os.WriteFile(path, []byte("account.name,colour\nA,red\n"), 0o644))
		_, err := importRun(t, s, key, parent, path)
		var u usageError
		require.ErrorAs(t, err, &u)
		require.Contains(t, u.msg, `column "colour"`)
	})
}
