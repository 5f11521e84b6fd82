package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// TestFormStreamIsEveryPage: GET /v1/forms with Accept: application/x-ndjson
// answers exactly the forms the pages list, in their order, each line the
// JSON GET /v1/forms/{formId} gives (byte for byte where the store keeps
// definitions as written), across the stream's chunks.
func TestFormStreamIsEveryPage(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			api := newTestAPI(t, testdb.Open(t, engine), testfactory.Options{MaxDepth: 4})
			data := api.BulkLevels(t, testfactory.LevelsSpec{Levels: []int{1, 3, 9, 20}, Forms: 2500, Viewers: 300, Editors: 100, Seed: 3})
			top, mid := data.Levels[1][0].ID, data.Levels[2][0].ID
			odd := api.do(t, req{Method: http.MethodPost, Path: "/v1/forms", Key: api.RootKey, As: top, Body: map[string]any{
				"name": `<b>"Tom" & Jerry</b>`, "description": "line\u2028separator",
				"questions": []map[string]any{{"id": "q1", "label": "Où? <€>", "type": "choice", "options": []string{"a&b", "\u2029"}}},
			}})
			require.Equal(t, http.StatusCreated, odd.Status, "%s", odd.Body)

			get := func(query string, headers map[string]string) *response {
				return api.do(t, req{Method: http.MethodGet, Path: "/v1/forms?" + query, Key: api.RootKey, As: top, Headers: headers})
			}
			stream := map[string]string{"Accept": "application/json;q=0.5, application/x-ndjson"}
			for _, query := range []string{"", "role=editor", "ownerSubtree=" + mid, "example=false", "owner=" + top} {
				var paged []json.RawMessage
				for q, pages := "limit=1000&"+query, 0; ; pages++ {
					res := get(q, nil)
					require.Equal(t, http.StatusOK, res.Status, "%s %s", q, res.Body)
					var page struct {
						Data       []json.RawMessage
						NextCursor *string
					}
					require.NoError(t, json.Unmarshal(res.Body, &page))
					if page.NextCursor != nil {
						require.Len(t, page.Data, 1000, "a page holds up to 1,000")
					}
					paged = append(paged, page.Data...)
					if page.NextCursor == nil {
						break
					}
					q = "limit=1000&cursor=" + url.QueryEscape(*page.NextCursor) + "&" + query
				}

				res := get(query, stream)
				require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
				require.Equal(t, "application/x-ndjson", res.Header.Get("Content-Type"))
				lines := bytes.SplitAfter(res.Body, []byte("\n"))
				lines = lines[:len(lines)-1] // after the last newline
				require.Len(t, lines, len(paged), "%q: the stream holds every page's forms", query)
				for i, line := range lines {
					require.JSONEq(t, string(paged[i]), string(line), "%q: line %d", query, i+1)
				}
				if query == "" {
					require.Greater(t, len(lines), 2000, "the stream crosses chunks")
				}
			}

			// Each line is the form as GET /v1/forms/{formId} gives it.
			lines := bytes.SplitAfter(get("owner="+top, stream).Body, []byte("\n"))
			require.NotEmpty(t, lines[0])
			for _, line := range lines[:len(lines)-1] {
				var f struct{ ID string }
				require.NoError(t, json.Unmarshal(line, &f))
				one := api.do(t, req{Method: http.MethodGet, Path: "/v1/forms/" + f.ID, Key: api.RootKey, As: top})
				require.Equal(t, http.StatusOK, one.Status)
				if engine == "sqlite" {
					require.Equal(t, string(one.Body), string(line))
				} else {
					require.JSONEq(t, string(one.Body), string(line)) // JSONB orders a question's members its own way
				}
			}

			for _, tc := range []struct {
				query   string
				headers map[string]string
				status  int
			}{
				{"limit=1001", nil, http.StatusBadRequest},
				{"limit=10", stream, http.StatusBadRequest},
				{"cursor=x", stream, http.StatusBadRequest},
				{"ownerSubtree=" + api.Root.ID, stream, http.StatusNotFound},
				{"role=none", stream, http.StatusBadRequest},
			} {
				res := get(tc.query, tc.headers)
				require.Equal(t, tc.status, res.Status, "%s: %s", tc.query, res.Body)
				require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), tc.query)
			}
		})
	}
}

// TestFormPagesEncodeAsEncodeWould: the listing's own page writer gives
// the bytes encode gives for the same page.
func TestFormPagesEncodeAsEncodeWould(t *testing.T) {
	api := newTestAPI(t, testdb.SQLite(t))
	data := api.BulkLevels(t, testfactory.LevelsSpec{Levels: []int{1, 3}, Forms: 30, Viewers: 5, Editors: 5, Seed: 4})
	c := api.As(t, data.Levels[1][0].ID)
	for _, limit := range []int{7, 100} {
		page, err := api.Svc.ListFormsWire(t.Context(), c, service.FormQuery{}, service.PageRequest{Limit: limit})
		require.NoError(t, err)
		want, err := encode(page)
		require.NoError(t, err)
		w := httptest.NewRecorder()
		api.srv.writeFormPage(w, httptest.NewRequest(http.MethodGet, "/v1/forms", nil), page)
		require.Equal(t, string(want), w.Body.String())
	}
}
