package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/browsertest"
	"github.com/canopyhq/canopy/internal/smtptest"
)

// TestBrowserFormsDataCredits drives the people's side, part 2, in a real
// headless Chromium against `canopy serve` (seed 002): a sub-account's
// admin builds a form and collects with it, then decides on the Sharing
// tab what the umbrella sees of it; the data comes out as CSV; the
// umbrella reads its sub-accounts' usage as a chart and caps one of them.
// Every page either person visits is checked with axe-core, for heading
// order and for its width, and every new page again at 375 px.
//
// CANOPY_SCREENSHOTS=$PWD/docs/screenshots makes the README's pictures.
func TestBrowserFormsDataCredits(t *testing.T) {
	browser := browsertest.Start(t)
	smtp := smtptest.Start(t)
	smsDir := t.TempDir()
	s := startServe(t, nil, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "canopy.db"),
		"--smtp-url", smtp.URL(), "--public-url", "http://console.example", "--sms-dir", smsDir)
	base := "http://" + s.addr
	key := s.rootKey(t)
	mail := &mailbox{t: t, smtp: smtp}

	// The operator creates the umbrella and, below it, the clinic (billed
	// to the umbrella, sharing as data manager by default) and two more
	// sub-accounts; the umbrella holds the credits.
	umbrella := s.create(t, key, "", map[string]any{
		"account":    map[string]any{"name": "Umbrella Health", "email": "ops@umbrella.example", "plan": "enterprise"},
		"masterUser": map[string]any{"email": "ada@umbrella.example", "name": "Ada Lovelace"},
	})
	clinic := s.create(t, key, umbrella, map[string]any{
		"account":    map[string]any{"name": "Northside Clinic", "email": "ops@clinic.example"},
		"masterUser": map[string]any{"email": "cleo@clinic.example", "name": "Cleo Clinic"},
	})
	dental := s.create(t, key, umbrella, map[string]any{"account": map[string]any{"name": "Acme Dental", "email": "ops@dental.example"}})
	bakery := s.create(t, key, umbrella, map[string]any{"account": map[string]any{"name": "Corner Bakery", "email": "ops@bakery.example"}})
	for _, ct := range []string{"upload", "message"} {
		status, res := s.call(t, key, "", "POST", "/v1/accounts/"+umbrella+"/credits/grants", map[string]any{"type": ct, "amount": 10_000})
		require.Equal(t, 201, status, "%v", res)
	}

	ada := browser.Tab("ada", base, 1280)
	cleo := browser.Tab("cleo", base, 1280)
	for _, who := range []struct {
		tab   *browsertest.Tab
		email string
	}{{ada, "ada@umbrella.example"}, {cleo, "cleo@clinic.example"}} {
		who.tab.Go(local(mail.link(who.email, "/set-password?token=")))
		who.tab.Fill("#f-password", browserPassword)
		who.tab.Submit("#f-password")
	}

	// (1) Cleo builds a form with three question types: text, one choice,
	// a date.
	cleo.Click(`.sections a[href$="/forms"]`)
	cleo.Click(`main a[role=button][href$="/forms/new"]`)
	cleo.Fill("#f-name", "Patient visits")
	cleo.Fill("#f-questions-0-label", "Name")
	cleo.Fill("#f-questions-0-id", "name")
	cleo.Press("#f-questions-0-required")
	cleo.Click(`button[name=add][value=question]`)
	cleo.Fill("#f-questions-1-label", "Sex")
	cleo.Fill("#f-questions-1-id", "sex")
	cleo.Choose("#f-questions-1-type", "choice")
	cleo.Fill("#f-questions-1-options", "F\nM")
	cleo.Click(`button[name=add][value=question]`)
	cleo.Fill("#f-questions-2-label", "Seen on")
	cleo.Fill("#f-questions-2-id", "seen")
	cleo.Choose("#f-questions-2-type", "date")
	cleo.Click(`main form.editor > button[type=submit]:last-of-type`)
	require.Contains(t, cleo.Text(".flash"), "“Patient visits” is created.")
	form := path(cleo.Location())[len("/app/"+clinic+"/forms/"):]
	require.Regexp(t, `^frm_`, form)

	// She collects two records on the Data tab; a wrong answer is named
	// beside its field first.
	cleo.Click(`.tabs a[href$="/records"]`)
	for i, r := range []struct{ name, sex, seen string }{{"", "F", "2026-11-20"}, {"Ada Byron", "F", "2026-11-20"}, {"Bo Baker", "M", "2026-11-21"}} {
		if i != 1 { // the second try is on the page that answered the first
			cleo.Click(`main a[role=button][href$="/records/new"]`)
		}
		cleo.Fill("#f-answers-name", r.name)
		cleo.Choose("#f-answers-sex", r.sex)
		cleo.Choose("#f-answers-seen", r.seen)
		cleo.Click(`main form button[type=submit]`)
		if i == 0 {
			require.Equal(t, 422, cleo.Status())
			require.Contains(t, cleo.Text("#f-answers-name-note"), "must be answered")
			continue
		}
		require.Contains(t, cleo.Text(".flash"), "The record is saved.")
	}
	require.Contains(t, cleo.Text("main table.records"), "Bo Baker")

	// The Sharing tab lists the umbrella as data manager, through the link.
	cleo.Click(`.tabs a[href$="/sharing"]`)
	row := `tr[data-account="` + umbrella + `"]`
	require.Equal(t, "data manager", cleo.Text(row+" td.role"))
	require.Equal(t, "through the link chain, lowest link: Northside Clinic → Umbrella Health shares as data manager", cleo.Text(row+" td.reason"))
	cleo.Snapshot("sharing-tab")
	ada.Go("/app/" + umbrella + "/forms")
	require.Contains(t, ada.Text("main table"), "Patient visits")

	// She hides it from the umbrella: its admin no longer finds it, and
	// its address is the 404 page.
	cleo.Choose("#role-"+umbrella, "none")
	cleo.Click(row + ` button[aria-label^="Set the role"]`)
	require.Contains(t, cleo.Text(".flash"), "hidden from that account")
	require.Equal(t, "nothing (hidden)", cleo.Text(row+" td.role"))
	ada.Go("/app/" + umbrella + "/forms")
	require.NotContains(t, ada.Text("main"), "Patient visits")
	ada.Go("/app/" + umbrella + "/forms/" + form)
	require.Equal(t, 404, ada.Status())
	require.Equal(t, "Page not found", ada.Text("main h1"))

	// She makes the umbrella an editor: its admin edits a question.
	cleo.Choose("#role-"+umbrella, "editor")
	cleo.Click(row + ` button[aria-label^="Set the role"]`)
	require.Equal(t, "editor", cleo.Text(row+" td.role"))
	ada.Go("/app/" + umbrella + "/forms/" + form)
	require.Equal(t, 200, ada.Status())
	ada.Fill("#f-questions-1-label", "Sex at birth")
	ada.Click(`main form.editor > button[type=submit]:last-of-type`)
	require.Contains(t, ada.Text(".flash"), "The questions are saved.")
	status, f := s.call(t, key, clinic, "GET", "/v1/forms/"+form, nil)
	require.Equal(t, 200, status)
	require.Equal(t, "Sex at birth", f["questions"].([]any)[1].(map[string]any)["label"])

	// (4) On the Structured SMS sub-tab Cleo authorises a number; its
	// one-time message is in the file provider's output.
	cleo.Click(`.tabs a[href$="/sharing"]`)
	cleo.Click(`.subtabs a[href$="/sharing/structured"]`)
	cleo.Fill("#f-numbers", "+15551230000")
	cleo.Fill("#f-message", "Northside visits")
	cleo.Click(`form[action$="/structured/numbers"] button[type=submit]`)
	require.Contains(t, cleo.Text(".flash"), "Authorised 1 number. The one-time message on its way: “Northside visits: to send data, text U")
	require.Contains(t, cleo.Text("main table.collectors"), "+15551230000")
	code := regexp.MustCompile(`text (U\d+)#`).FindStringSubmatch(cleo.Text(".flash"))
	require.NotNil(t, code)
	var sent string
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(smsDir, "*.txt"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && strings.HasPrefix(string(b), "To: +15551230000\n\n") {
				sent = string(b)
			}
		}
		return sent != ""
	}, 15*time.Second, 50*time.Millisecond, "the one-time message was written by the file provider")
	require.Contains(t, sent, "Northside visits: to send data, text "+code[1]+"#Name#Sex at birth#Seen on")
	cleo.Click(`.subtabs a[href$="/sharing/web"]`)
	cleo.Fill("#f-maxSubmissions", "100")
	cleo.Click(`form[action$="/web/links"] button[type=submit]`)
	require.Contains(t, cleo.Text(".flash"), "The link is ready: http://console.example/f/")

	// (2) 998 more records over the API, one with commas, quotes and a
	// newline; Export CSV on the Data tab holds all 1,000.
	tricky := "Zoë \"Zed\" Ørsted, MD\nsecond line"
	for i := range 998 {
		name := fmt.Sprintf("Patient %04d", i)
		if i == 500 {
			name = tricky
		}
		status, res := s.call(t, key, clinic, "POST", "/v1/forms/"+form+"/records", map[string]any{"answers": map[string]any{"name": name, "sex": "F"}})
		require.Equal(t, 201, status, "%v", res)
	}
	cleo.Click(`.tabs a[href$="/records"]`)
	href := cleo.Eval(`document.querySelector('main a[download][href*="records.csv"]').getAttribute("href")`)
	status, body := cleo.Fetch(href)
	require.Equal(t, 200, status)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+1000, "a header and every record")
	require.Equal(t, []string{"Record", "Collected (UTC)", "Collected by account", "Name", "Sex at birth", "Seen on"}, rows[0])
	found := 0
	for _, r := range rows[1:] {
		if r[3] == tricky {
			found++
		}
	}
	require.Equal(t, 1, found, "commas, quotes and newlines come back as they were")

	// (3) Usage this month by the sub-accounts, then the umbrella's
	// credits page: one bar per sub-account with the usage API's numbers.
	for _, u := range []struct {
		account string
		n       int
	}{{dental, 30}, {bakery, 12}} {
		status, res := s.call(t, key, u.account, "POST", "/v1/usage", map[string]any{"type": "upload", "quantity": u.n})
		require.Equal(t, 201, status, "%v", res)
	}
	status, usage := s.call(t, key, umbrella, "GET", "/v1/accounts/"+umbrella+"/credits/usage", nil)
	require.Equal(t, 200, status)
	want := map[string]string{}
	for _, g := range usage["groups"].([]any) {
		g := g.(map[string]any)
		for _, x := range g["usage"].([]any) {
			x := x.(map[string]any)
			if x["type"] == "upload" {
				want[g["accountId"].(string)] = fmt.Sprint(x["amount"])
			}
		}
	}
	require.Len(t, want, 3, "three sub-accounts used upload credits: %v", want)
	ada.Click(`.sections a[href$="/credits"]`)
	bars := ada.Eval(`[...document.querySelectorAll("#usage-chart g.bar")].map(g => g.dataset.account + "=" + g.dataset.value).join(",")`)
	got := map[string]string{}
	for _, b := range strings.Split(bars, ",") {
		k, v, _ := strings.Cut(b, "=")
		got[k] = v
	}
	for id, n := range want {
		require.Equal(t, n, got[id], "the bar of %s", id)
	}
	require.Equal(t, "1000", got[clinic], "a credit a record; the refused one cost nothing")
	ada.Eval(`document.getElementById("usage-heading").scrollIntoView(), ""`)
	ada.Snapshot("credits-chart")

	// A cap on Acme Dental, set from its credits page, refuses the next
	// debit over it with 402.
	ada.Click(`table.usage a[href$="/credits/` + dental + `"]`)
	ada.Choose("#f-type", "upload")
	ada.Fill("#f-monthly", "35")
	ada.Click(`form[action$="/limits"] button[type=submit]`)
	require.Contains(t, ada.Text(".flash"), "The monthly cap is set.")
	status, res := s.call(t, key, dental, "POST", "/v1/usage", map[string]any{"type": "upload", "quantity": 10})
	require.Equal(t, 402, status, "%v", res)
	status, _ = s.call(t, key, dental, "POST", "/v1/usage", map[string]any{"type": "upload", "quantity": 5})
	require.Equal(t, 201, status, "up to the cap")

	// (5) Every new page at 375 px, each checked on arrival.
	phone := browser.Tab("ada-phone", base, 375)
	phone.Go("/signin")
	phone.Fill("#f-login", "ada@umbrella.example")
	phone.Fill("#f-password", browserPassword)
	phone.Submit("#f-password")
	for _, p := range []string{"/forms", "/forms?scope=shared", "/forms/new", "/forms/" + form, "/forms/" + form + "/records",
		"/forms/" + form + "/records/new", "/forms/" + form + "/sharing/web", "/forms/" + form + "/sharing/structured",
		"/forms/" + form + "/sharing/interactive", "/credits", "/credits?step=month", "/credits/" + dental, "/credits/ledger",
		"/audit", "/outbox", "/outbox?channel=texts"} {
		phone.Go("/app/" + umbrella + p)
		require.Equal(t, 200, phone.Status(), p)
	}
	phone.Go("/app/" + umbrella + "/forms/" + form + "/records")
	phone.Click(`main table.records a[href*="/records/rec_"]`)
	cleoPhone := browser.Tab("cleo-phone", base, 375)
	cleoPhone.Go("/signin")
	cleoPhone.Fill("#f-login", "cleo@clinic.example")
	cleoPhone.Fill("#f-password", browserPassword)
	cleoPhone.Submit("#f-password")
	for _, p := range []string{"", "/web", "/structured", "/interactive"} {
		cleoPhone.Go("/app/" + clinic + "/forms/" + form + "/sharing" + p)
		require.Equal(t, 200, cleoPhone.Status(), p)
	}

	t.Logf("pages checked with axe-core: %d (Ada) + %d (Cleo) + %d (Ada, 375 px) + %d (Cleo, 375 px)",
		ada.Visits(), cleo.Visits(), phone.Visits(), cleoPhone.Visits())
}
