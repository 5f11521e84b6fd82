package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDoctor: a database Canopy wrote passes; one holding text PostgreSQL
// would refuse (written by an older version, or by hand) is listed by
// table, column and row, with exit status 1; a missing file is an error,
// not a new empty database.
func TestDoctor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canopy.db")
	dbURL := "sqlite:" + path
	runCmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &out)
		return out.String(), err
	}
	s := startServe(t, nil, "--database-url", dbURL)
	status, res := s.call(t, s.rootKey(t), "", "POST", "/v1/accounts", map[string]any{"account": map[string]any{"name": "Acme", "email": "a@x.example"}})
	require.Equal(t, 201, status)
	acme := res["account"].(map[string]any)["id"].(string)
	s.stop(t)

	out, err := runCmd("doctor", "--database-url", dbURL)
	require.NoError(t, err, out)
	require.Contains(t, out, "ok: ")

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE accounts SET name = ? WHERE id = ?`, "Acme \xff", acme)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	out, err = runCmd("doctor", "--database-url", dbURL)
	require.Equal(t, 1, exitCode(err), out)
	require.Contains(t, out, "accounts  name    "+acme+"  must be valid UTF-8 text")

	missing := filepath.Join(t.TempDir(), "missing.db")
	_, err = runCmd("doctor", "--database-url", "sqlite:"+missing)
	require.Error(t, err)
	require.NoFileExists(t, missing)
	_, err = runCmd("doctor", "--database-url", "postgres://x@127.0.0.1/y")
	require.Equal(t, 2, exitCode(err))
}
