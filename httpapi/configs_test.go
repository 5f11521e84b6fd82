package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// Payloads whose bytes a JSON round trip would change: key order, number
// literals, escapes, unicode, HTML characters, whitespace.
var fidelityPayloads = map[string]string{
	"white_label_portal": `{"brandName": "Acme", "primaryColor": "#FF6600"}`,
	"numbers":            `{"price":1.50,"big":12345678901234567890,"exp":1e3,"neg":-0.0}`,
	"order":              `{"z":1,"a":2,"m":{"y":true,"b":null}}`,
	"unicode":            `{"name":"Zoë \u00e9 \ud83d\ude00 😀","html":"<b>&amp;</b>","tab":"\u0009"}`,
	"spacing":            "{\n  \"a\" : [ 1 , 2 ],\n\t\"b\":\"x\"\n}",
	"scalar":             `"just a string"`,
	"array":              `[1, "two", {"three": 3}]`,
}

func TestConfigurationsAreStoredByteForByte(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		var body strings.Builder
		body.WriteString(`{"account":{"name":"Fidelity","email":"fid@example.com"},"configurations":{`)
		n := 0
		for ns, raw := range fidelityPayloads {
			if n > 0 {
				body.WriteString(",")
			}
			body.WriteString(`"` + ns + `":` + raw)
			n++
		}
		body.WriteString(`}}`)
		r := a.root(t, "POST", "/v1/accounts", body.String())
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		var created struct {
			Account        struct{ ID string }
			Configurations map[string]any
		}
		r.Decode(t, &created)
		require.Len(t, created.Configurations, len(fidelityPayloads), "the response has exactly the namespaces supplied")
		id := created.Account.ID

		for ns, raw := range fidelityPayloads {
			got := a.root(t, "GET", "/v1/accounts/"+id+"/configurations/"+ns, nil)
			require.Equal(t, http.StatusOK, got.Status)
			require.Equal(t, raw, string(got.Body), "namespace %s from create", ns)
			require.Equal(t, id, got.Header.Get("Canopy-Configuration-Source"))
		}

		t.Run("PUT stores the raw body and GET returns it exactly", func(t *testing.T) {
			for ns, raw := range fidelityPayloads {
				put := a.root(t, "PUT", "/v1/accounts/"+id+"/configurations/"+ns+"-put", raw)
				require.Equal(t, http.StatusOK, put.Status, "%s", put.Body)
				got := a.root(t, "GET", "/v1/accounts/"+id+"/configurations/"+ns+"-put", nil)
				require.Equal(t, raw, string(got.Body), ns)
			}
		})
		t.Run("DELETE removes one namespace", func(t *testing.T) {
			require.Equal(t, http.StatusNoContent, a.root(t, "DELETE", "/v1/accounts/"+id+"/configurations/array-put", nil).Status)
			require.Equal(t, http.StatusNotFound, a.root(t, "GET", "/v1/accounts/"+id+"/configurations/array-put", nil).Status)
			require.Equal(t, http.StatusNotFound, a.root(t, "DELETE", "/v1/accounts/"+id+"/configurations/array-put", nil).Status)
		})
		t.Run("the effective view merges what ancestors marked inheritable, the nearest winning", func(t *testing.T) {
			// The flag travels beside the payload, which stays byte for byte.
			mark := a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + id + "/configurations/numbers?inheritable=true", Key: a.RootKey,
				Body: fidelityPayloads["numbers"]})
			require.Equal(t, http.StatusOK, mark.Status, "%s", mark.Body)
			require.Equal(t, true, mark.JSON(t)["inheritable"])
			mark = a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + id + "/configurations/order", Key: a.RootKey,
				Body: fidelityPayloads["order"], Headers: map[string]string{"Canopy-Configuration-Inheritable": "true"}})
			require.Equal(t, http.StatusOK, mark.Status, "%s", mark.Body)
			got := a.root(t, "GET", "/v1/accounts/"+id+"/configurations/numbers", nil)
			require.Equal(t, fidelityPayloads["numbers"], string(got.Body))
			require.Equal(t, "true", got.Header.Get("Canopy-Configuration-Inheritable"))
			again := a.root(t, "PUT", "/v1/accounts/"+id+"/configurations/numbers", fidelityPayloads["numbers"])
			require.Equal(t, true, again.JSON(t)["inheritable"], "a PUT without the flag keeps it")
			bad := a.do(t, req{Method: "PUT", Path: "/v1/accounts/" + id + "/configurations/numbers?inheritable=maybe", Key: a.RootKey, Body: "1"})
			require.Equal(t, http.StatusBadRequest, bad.Status)

			child := a.root(t, "POST", "/v1/accounts", map[string]any{
				"account":        map[string]string{"name": "Child", "email": "fid-child@example.com"},
				"configurations": map[string]any{"order": map[string]int{"own": 1}},
			})
			require.Equal(t, http.StatusCreated, child.Status)
			var c struct{ Account struct{ ID string } }
			child.Decode(t, &c)
			// Move it under the account that holds the payloads.
			require.Equal(t, http.StatusOK, a.root(t, "POST", "/v1/accounts/"+c.Account.ID+"/move", map[string]string{"parentId": id}).Status)

			own := a.root(t, "GET", "/v1/accounts/"+c.Account.ID+"/configurations", nil)
			var ownView struct{ Configurations map[string]any }
			own.Decode(t, &ownView)
			require.Len(t, ownView.Configurations, 1)

			eff := a.root(t, "GET", "/v1/accounts/"+c.Account.ID+"/configurations?effective=true", nil)
			var view struct {
				Configurations map[string]any
				Sources        map[string]string
			}
			eff.Decode(t, &view)
			require.Equal(t, map[string]any{"own": float64(1)}, view.Configurations["order"], "own wins")
			require.Equal(t, c.Account.ID, view.Sources["order"])
			require.Equal(t, id, view.Sources["numbers"])
			require.Len(t, view.Configurations, 2, "an ancestor's namespaces that are not inheritable stay its own")
			require.NotContains(t, view.Sources, "white_label_portal")
			require.Equal(t, http.StatusNotFound, a.root(t, "GET", "/v1/accounts/"+c.Account.ID+"/configurations/unicode?effective=true", nil).Status)

			inherited := a.root(t, "GET", "/v1/accounts/"+c.Account.ID+"/configurations/numbers?effective=true", nil)
			require.Equal(t, fidelityPayloads["numbers"], string(inherited.Body))
			require.Equal(t, id, inherited.Header.Get("Canopy-Configuration-Source"))
			require.Equal(t, "true", inherited.Header.Get("Canopy-Configuration-Inheritable"))
			require.Equal(t, http.StatusNotFound, a.root(t, "GET", "/v1/accounts/"+c.Account.ID+"/configurations/numbers", nil).Status)
		})
	})
}
