package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/browsertest"
)

// TestBrowserWebLink fills a form through its public web link in a real
// headless Chromium against `canopy serve`, on a 375 px phone: the page in
// the owner's brand passes axe-core, a wrong answer comes back beside its
// field with the answers kept, a submission is a record, and the link
// stops when it reaches its cap, when it expires and when it is revoked.
//
// To run it locally: apt-get install -y chromium; go test ./cmd/canopy -run Browser.
func TestBrowserWebLink(t *testing.T) {
	browser := browsertest.Start(t)
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"), "--public-url", "http://forms.example")
	base := "http://" + s.addr
	key := s.rootKey(t)
	clinic := s.create(t, key, "", map[string]any{
		"account":        map[string]any{"name": "Northside Clinic", "email": "ops@clinic.example", "plan": "pro"},
		"configurations": map[string]any{"white_label_portal": map[string]any{"brandName": "Northside Health", "primaryColor": "#0B5394"}},
	})
	status, _ := s.call(t, key, "", "POST", "/v1/accounts/"+clinic+"/credits/grants", map[string]any{"type": "upload", "amount": 10})
	require.Equal(t, http.StatusCreated, status)
	status, form := s.call(t, key, clinic, "POST", "/v1/forms", map[string]any{"name": "Intake", "description": "Tell us how you are.",
		"questions": []map[string]any{
			{"id": "name", "label": "Your name", "type": "text", "required": true},
			{"id": "age", "label": "Age", "type": "number"},
			{"id": "sex", "label": "Sex", "type": "choice", "options": []string{"Female", "Male"}},
			{"id": "symptoms", "label": "Symptoms", "type": "multiChoice", "options": []string{"Fever", "Cough"}},
			{"id": "visit", "label": "Visit date", "type": "date"},
		}})
	require.Equal(t, http.StatusCreated, status, "%v", form)
	formID := form["id"].(string)
	newLink := func(body map[string]any) (token, linkID string) {
		t.Helper()
		status, l := s.call(t, key, clinic, "POST", "/v1/forms/"+formID+"/links", body)
		require.Equal(t, http.StatusCreated, status, "%v", l)
		require.True(t, strings.HasPrefix(l["url"].(string), "http://forms.example/f/"), "%v", l["url"])
		return l["token"].(string), l["id"].(string)
	}
	records := func() int {
		t.Helper()
		_, res := s.call(t, key, clinic, "GET", "/v1/forms/"+formID+"/records", nil)
		return len(res["data"].([]any))
	}

	capped, _ := newLink(map[string]any{"maxSubmissions": 2})
	phone := browser.Tab("respondent", base, 375)
	phone.Go("/f/" + capped)
	require.Equal(t, "Intake", phone.Text("main h1"))
	require.Equal(t, "Northside Health", phone.Text("header"))
	require.Equal(t, "rgb(11, 83, 148)", phone.Eval(`getComputedStyle(document.querySelector("header")).backgroundColor`),
		"the brand colour, from the nonce'd style under the CSP")

	// A wrong answer comes back beside its field; the others are kept.
	phone.Fill("#q-age", "old")
	phone.Press("#q-sex-0")
	phone.Press("#q-symptoms-1")
	phone.Click("main form button[type=submit]")
	require.Equal(t, http.StatusUnprocessableEntity, phone.Status())
	require.Equal(t, "This question needs an answer.", phone.Text("#q-name-error"))
	require.Equal(t, "This answer must be a number.", phone.Text("#q-age-error"))
	require.Equal(t, "true", phone.Eval(`String(document.querySelector("#q-sex-0").checked && document.querySelector("#q-symptoms-1").checked)`))
	require.Equal(t, "old", phone.Value("#q-age"))

	// By keyboard: the name, then Enter sends the form.
	phone.Fill("#q-name", "Ada")
	phone.Fill("#q-age", "34")
	phone.Submit("#q-name")
	require.Equal(t, http.StatusOK, phone.Status())
	require.Contains(t, phone.Text("main"), "Your answers to Intake were saved.")
	require.Equal(t, 1, records())
	_, res := s.call(t, key, clinic, "GET", "/v1/forms/"+formID+"/records", nil)
	answers := res["data"].([]any)[0].(map[string]any)["answers"]
	require.Equal(t, map[string]any{"name": "Ada", "age": float64(34), "sex": "Female", "symptoms": []any{"Cough"}}, answers)

	// The second of two allowed; then the link is closed.
	phone.Click("main a")
	phone.Fill("#q-name", "Bo")
	phone.Click("main form button[type=submit]")
	require.Equal(t, 2, records())
	phone.Go("/f/" + capped)
	require.Equal(t, http.StatusGone, phone.Status())
	require.Contains(t, phone.Text("main"), "no longer takes answers")

	// A link that expires while its page is open; one that is revoked.
	expiring, _ := newLink(map[string]any{"expiresAt": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	phone.Go("/f/" + expiring)
	phone.Fill("#q-name", "Cy")
	time.Sleep(1600 * time.Millisecond) // past its expiry
	phone.Click("main form button[type=submit]")
	require.Equal(t, http.StatusGone, phone.Status())
	revoked, revokedID := newLink(map[string]any{})
	phone.Go("/f/" + revoked)
	status, _ = s.call(t, key, clinic, "DELETE", "/v1/forms/"+formID+"/links/"+revokedID, nil)
	require.Equal(t, http.StatusNoContent, status)
	phone.Fill("#q-name", "Di")
	phone.Click("main form button[type=submit]")
	require.Equal(t, http.StatusGone, phone.Status())
	phone.Go("/f/cnf_nothing")
	require.Equal(t, http.StatusNotFound, phone.Status())
	require.Equal(t, 2, records())
	t.Logf("pages checked with axe-core: %d", phone.Visits())
}
