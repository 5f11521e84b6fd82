package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadForms runs `canopy load --scenario forms` against a served
// database with a small data set: it builds the tree, the forms and the
// shares, measures every case, and a second run reuses the data set from
// the --data file.
func TestLoadForms(t *testing.T) {
	s := startServe(t, map[string]string{"CANOPY_ROOT_API_KEY": crashRootKey},
		"--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"))
	data := filepath.Join(t.TempDir(), "forms.json")
	args := []string{"load", "--scenario", "forms", "--url", "http://" + s.addr, "--key", crashRootKey, "--data", data,
		"--levels", "1,2,3,4,5,6,7,8", "--forms", "300", "--viewer-shares", "20", "--editor-shares", "10",
		"--clients", "2", "--duration", "150ms"}
	load := func() (string, string) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut)
		require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
		return out.String(), errOut.String()
	}
	out, errOut := load()
	require.Contains(t, out, "data set (built): 36 accounts in 8 levels, 300 forms, 30 shares")
	require.Contains(t, errOut, "creating forms [##############################] 300/300")
	require.Contains(t, errOut, "sharing forms [##############################] 30/30")
	for _, row := range []string{"owner", "ancestor 1 level up", "ancestor 6 levels up", `sibling \(denied, 404\)`, "one client, owner"} {
		require.Regexp(t, `\| `+row+` \| [1-9]\d* req/s \| [\d.]+ ms \| [\d.]+ ms \| 0/0 \|`, out)
	}
	// The top account sees every form: its own and all below it.
	require.Regexp(t, `\| list visible, top account, first 1000 \(pages of 200\) \| 300 forms, [\d.]+ walks/s \|`, out)
	require.Regexp(t, `\| list visible, top account, all \(pages of 200\) \| 300 forms, `, out)
	require.Regexp(t, `\| list visible, top account, all \(NDJSON\) \| (300 forms|not offered)`, out)

	var d formsData
	raw, err := os.ReadFile(data)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Len(t, d.Levels, 8)
	require.Len(t, d.Forms, 300)
	editors := 0
	for _, sh := range d.Shares {
		if sh.Role == "editor" {
			editors++
		}
	}
	require.Equal(t, 10, editors)

	out, errOut = load()
	require.Contains(t, out, "data set (reused from "+data+"): 36 accounts")
	require.NotContains(t, errOut, "creating accounts")
	require.Len(t, regexp.MustCompile(`req/s`).FindAllString(out, -1), 5)
}
