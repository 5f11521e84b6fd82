package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
)

// TestFormVersionsOverHTTP: the version travels as an ETag and comes back
// as If-Match, in every form the header may take.
func TestFormVersionsOverHTTP(t *testing.T) {
	api := newTestAPI(t, testdb.SQLite(t))
	acc := api.Bundle.Child(t, api.Bundle.Root.ID)
	as := func(rq req) req { rq.Key, rq.As = api.RootKey, acc.ID; return rq }
	form := map[string]any{"name": "Survey", "questions": []map[string]any{{"id": "site", "label": "Site", "type": "text", "required": true}}}
	created := api.do(t, as(req{Method: "POST", Path: "/v1/forms", Body: form}))
	require.Equal(t, http.StatusCreated, created.Status, "%s", created.Body)
	require.Equal(t, `"1"`, created.Header.Get("ETag"))
	path := "/v1/forms/" + created.JSON(t)["id"].(string)

	patch := func(ifMatch string, name string) *response {
		rq := as(req{Method: "PATCH", Path: path, Body: map[string]any{"name": name}})
		if ifMatch != "" {
			rq.Headers = map[string]string{"If-Match": ifMatch}
		}
		return api.do(t, rq)
	}
	tests := []struct {
		ifMatch, name string
		status        int
		etag          string
	}{
		{`"1"`, "v2", http.StatusOK, `"2"`},
		{`"1"`, "lost", http.StatusPreconditionFailed, ""},
		{`W/"2"`, "v3", http.StatusOK, `"3"`},
		{`3`, "v4", http.StatusOK, `"4"`},
		{`*`, "v5", http.StatusOK, `"5"`},
		{``, "v6", http.StatusOK, `"6"`},
		{``, "v6", http.StatusOK, `"6"`}, // no change, no new version
		{`"6", "7"`, "v7", http.StatusBadRequest, ""},
		{`latest`, "v7", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		res := patch(tt.ifMatch, tt.name)
		require.Equal(t, tt.status, res.Status, "If-Match %s: %s", tt.ifMatch, res.Body)
		require.Equal(t, tt.etag, res.Header.Get("ETag"), "If-Match %s", tt.ifMatch)
		switch tt.status {
		case http.StatusPreconditionFailed:
			require.Equal(t, "version-mismatch", res.JSON(t)["code"])
		case http.StatusBadRequest:
			require.Contains(t, string(res.Body), "If-Match")
		}
	}
	got := api.do(t, as(req{Method: "GET", Path: path}))
	require.Equal(t, `"6"`, got.Header.Get("ETag"))
	require.Equal(t, "v6", got.JSON(t)["name"])
}
