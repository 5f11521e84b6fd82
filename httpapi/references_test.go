package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestReferencesAreExact: usage references, Idempotency-Keys and external
// references are compared as the exact bytes the client sent. Two that
// differ in one byte are two different things — charged twice, created
// twice — on both engines; bytes that are not text are refused rather
// than rewritten into something that could collide ("\xff" and "\xfe"
// both became U+FFFD, and the second was taken for a replay of the first).
func TestReferencesAreExact(t *testing.T) {
	pairs := [][2]string{
		{"ref-A", "ref-a"},         // case
		{"ref", "ref "},            // a trailing space
		{"caf\u00e9", "caf\u00ea"}, // é and ê: one byte apart in UTF-8
		{"a\tb", "a b"},            // a tab and a space
		{"\u00e9", "e\u0301"},      // NFC and NFD: the same on screen, not the same bytes
	}
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a, d, child, _ := formWorld(t, db)
		usage := func(body string, header map[string]string) *response {
			return a.do(t, req{Method: "POST", Path: "/v1/usage", Key: a.RootKey, As: child, Body: body, Headers: header})
		}
		charged := func() int {
			var page struct{ Data []struct{ ID string } }
			d.call(http.StatusOK, http.MethodGet, "/v1/accounts/"+child+"/credits/ledger?kind=usage&limit=200", nil).Decode(t, &page)
			return len(page.Data)
		}
		for i, p := range pairs {
			for _, ref := range p {
				body := fmt.Sprintf(`{"type":"message","quantity":1,"reference":%q}`, ref)
				res := usage(body, nil)
				require.Equal(t, http.StatusCreated, res.Status, "reference %q: %s", ref, res.Body)
				require.Equal(t, false, res.JSON(t)["replayed"], "reference %q is not %q", ref, p[0])
			}
			require.Equal(t, 2*(i+1), charged(), "both references of %q are charged", p)
			res := usage(fmt.Sprintf(`{"type":"message","quantity":1,"reference":%q}`, p[1]), nil)
			require.Equal(t, true, res.JSON(t)["replayed"], "the same bytes again are a replay")
		}

		before := charged()
		for _, raw := range []string{"\xff", "\xfe"} {
			res := usage(`{"type":"message","quantity":1,"reference":"`+raw+`"}`, nil)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
		}
		require.Equal(t, before, charged(), "bytes that are not text charge nothing")

		for _, key := range []string{"key-A", "key-a", "key-a "} {
			res := usage(`{"type":"message","quantity":1}`, map[string]string{"Idempotency-Key": key})
			require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
			require.Empty(t, res.Header.Get("Idempotent-Replayed"), "Idempotency-Key %q is a key of its own", key)
		}
		require.Equal(t, before+3, charged())

		for i, value := range []string{"C-1", "c-1"} {
			d.call(http.StatusCreated, http.MethodPost, "/v1/accounts", map[string]any{
				"account":            map[string]any{"name": "Ref " + value, "email": fmt.Sprintf("r%d@example.com", i)},
				"externalReferences": []map[string]any{{"type": "crm", "value": value}},
			}, as(child))
		}
		for _, value := range []string{"C-1", "c-1"} {
			var page struct{ Data []struct{ Name string } }
			d.call(http.StatusOK, http.MethodGet, "/v1/accounts?externalReference=crm:"+url.QueryEscape(value), nil, as(child)).Decode(t, &page)
			require.Len(t, page.Data, 1, "external reference %q finds its own account", value)
			require.Equal(t, "Ref "+value, page.Data[0].Name)
		}
	})
}
