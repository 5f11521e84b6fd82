// Package browsertest drives a real headless Chromium through the Chrome
// DevTools Protocol (github.com/chromedp/chromedp) for end-to-end tests of
// the web console. Every page a test visits is checked on arrival: axe-core
// (vendored, see console/static/vendor.sh) finds no serious or critical
// violation, headings do not skip a level, and nothing is wider than the
// window. A failed test leaves a screenshot of each open tab in a folder
// that outlives the test.
//
// Chromium is Debian's chromium package (apt-get install -y chromium).
// Without it the tests skip with a message saying so — unless
// CANOPY_TEST_REQUIRE_BROWSER is set, as CI sets it, when they fail.
package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables the helper reads.
const (
	// EnvRequire makes a missing or broken browser a failure, not a skip.
	EnvRequire = "CANOPY_TEST_REQUIRE_BROWSER"
	// EnvChromium names the browser binary when it is not on PATH.
	EnvChromium = "CANOPY_CHROMIUM"
	// EnvArtifacts is where failure screenshots go; a new temporary
	// folder when unset.
	EnvArtifacts = "CANOPY_TEST_ARTIFACTS"
	// EnvScreenshots, when set, is where Tab.Snapshot writes the PNGs the
	// README shows.
	EnvScreenshots = "CANOPY_SCREENSHOTS"
)

//go:embed axe.min.js
var axeSource string

// Browser is one Chromium process; each Tab is a separate browser context
// (its own cookies), like a separate person.
type Browser struct {
	t     testing.TB
	alloc context.Context
	root  context.Context
}

// Start launches Chromium for the test, or skips the test when there is
// none (fails when EnvRequire is set).
func Start(t testing.TB) *Browser {
	t.Helper()
	path := findChromium()
	if path == "" {
		unavailable(t, "no Chromium found: install it (apt-get install -y chromium) or set "+EnvChromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Required to run as root in a container; harmless elsewhere.
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		unavailable(t, fmt.Sprintf("Chromium at %s did not start: %v", path, err))
	}
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc()
	})
	return &Browser{t: t, alloc: alloc, root: root}
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s, and %s is set: the browser tests must run", why, EnvRequire)
	}
	t.Skipf("browser tests skipped: %s. To run them: apt-get install -y chromium (or set %s), then go test ./cmd/canopy -run Browser", why, EnvChromium)
}

func findChromium() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

var (
	artifactsOnce sync.Once
	artifactsDir  string
)

// artifacts is the folder for failure screenshots, kept after the test.
func artifacts(t testing.TB) string {
	artifactsOnce.Do(func() {
		artifactsDir = os.Getenv(EnvArtifacts)
		if artifactsDir == "" {
			artifactsDir, _ = os.MkdirTemp("", "canopy-browser-")
		}
		_ = os.MkdirAll(artifactsDir, 0o755)
	})
	return artifactsDir
}

// Tab is one person's browser window.
type Tab struct {
	t      testing.TB
	name   string
	ctx    context.Context
	Width  int
	base   string
	visits int
}

// Tab opens a window with its own cookies, width pixels wide (1280 when
// 0), whose relative URLs are resolved against base.
func (b *Browser) Tab(name, base string, width int) *Tab {
	b.t.Helper()
	if width == 0 {
		width = 1280
	}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	tab := &Tab{t: b.t, name: name, ctx: ctx, Width: width, base: strings.TrimRight(base, "/")}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900)); err != nil {
		b.t.Fatalf("%s: open tab: %v", name, err)
	}
	b.t.Cleanup(func() {
		if b.t.Failed() {
			tab.failureShot()
		}
		cancel()
	})
	return tab
}

func (tab *Tab) failureShot() {
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.t.Logf("%s: no failure screenshot: %v", tab.name, err)
		return
	}
	path := filepath.Join(artifacts(tab.t), fmt.Sprintf("%s-%s-%d.png", sanitize(tab.t.Name()), tab.name, time.Now().UnixNano()))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tab.t.Logf("%s: write screenshot: %v", tab.name, err)
		return
	}
	tab.t.Logf("%s was at %s when the test failed: screenshot %s", tab.name, url, path)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// run performs steps with a deadline, failing the test on error.
func (tab *Tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tab.t.Fatalf("%s: %s: %v", tab.name, what, err)
	}
}

// get runs one action that answers a value, failing the test on error.
func get[T any](tab *Tab, what string, a chromedp.Action[T]) T {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.t.Fatalf("%s: %s: %v", tab.name, what, err)
	}
	return v
}

// URL resolves a path against the tab's base.
func (tab *Tab) URL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return tab.base + path
}

// Go opens a page and checks it.
func (tab *Tab) Go(path string) {
	tab.t.Helper()
	tab.run("open "+path, chromedp.Navigate(tab.URL(path)))
	tab.Audit()
}

// Click clicks the element sel selects (by CSS) and, when the click loads
// a new page, checks it.
func (tab *Tab) Click(sel string) {
	tab.t.Helper()
	tab.navigating("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Submit presses Enter in the field sel selects, as a keyboard user sends
// a form, and checks the page that answers.
func (tab *Tab) Submit(sel string) {
	tab.t.Helper()
	tab.navigating("submit from "+sel, chromedp.SendKeys(chromedp.CSS(sel), "\n"))
}

// navigating runs an action that loads a new page and checks that page.
func (tab *Tab) navigating(what string, action chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	tab.run("mark the page", chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.visit = "before"`))
	tab.run(what, action)
	// Wait for the old document to go and the new one to be complete. While
	// the page changes, evaluating fails (its context is gone): try again.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tab.ctx, 2*time.Second)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.dataset.visit !== "before" && document.readyState === "complete"`))
		cancel()
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			tab.t.Fatalf("%s: %s: no new page came (last error: %v)", tab.name, what, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	tab.Audit()
}

// Key sends keys to whatever has the focus ("\t" is Tab).
func (tab *Tab) Key(keys string) {
	tab.t.Helper()
	tab.run("press keys", chromedp.KeyEvent(keys))
}

// Fill types text into the field sel selects, replacing what it held.
func (tab *Tab) Fill(sel, text string) {
	tab.t.Helper()
	// Emptied by value, not chromedp.Clear, which fails on an empty
	// textarea (it has no text node to clear).
	tab.run("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Choose picks the option whose value is value in the select sel selects,
// as a person choosing from the list does (the change event fires).
func (tab *Tab) Choose(sel, value string) {
	tab.t.Helper()
	tab.run("choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("change", {bubbles: true}))`, sel)))
}

// Fetch reads path from the page's own origin with its cookies, as a link
// the person follows would (a download, say), and returns the answer's
// status and text.
func (tab *Tab) Fetch(path string) (int, string) {
	tab.t.Helper()
	js := fmt.Sprintf(`fetch(%q, {credentials: "same-origin"}).then(async r => JSON.stringify({status: r.status, body: await r.text()}))`, path)
	raw := get(tab, "fetch "+path, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	var res struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		tab.t.Fatalf("%s: fetch %s: %v", tab.name, path, err)
	}
	return res.Status, res.Body
}

// Press clicks the element sel selects where the click stays on the page
// (a checkbox, a Copy button, a summary that opens).
func (tab *Tab) Press(sel string) {
	tab.t.Helper()
	tab.run("press "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Text returns the visible text of the element sel selects.
func (tab *Tab) Text(sel string) string {
	tab.t.Helper()
	return get(tab, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
}

// Value returns the value of the input sel selects.
func (tab *Tab) Value(sel string) string {
	tab.t.Helper()
	return get(tab, "read "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// Location is the tab's URL.
func (tab *Tab) Location() string {
	tab.t.Helper()
	return get(tab, "read the location", chromedp.Location())
}

// Eval evaluates JavaScript in the page and returns its result as text.
func (tab *Tab) Eval(js string) string {
	tab.t.Helper()
	return get(tab, "evaluate "+js, chromedp.Evaluate[string](js))
}

// WaitText waits until the element sel selects contains text.
func (tab *Tab) WaitText(sel, text string) {
	tab.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, text)
	get(tab, fmt.Sprintf("wait for %q in %s", text, sel), chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second)))
}

// Status is the HTTP status of the page on display.
func (tab *Tab) Status() int {
	tab.t.Helper()
	return get(tab, "read the status", chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
}

// Snapshot writes a PNG of the page to EnvScreenshots/name.png when that
// variable is set (make the README's pictures with it); else nothing.
func (tab *Tab) Snapshot(name string) {
	tab.t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return
	}
	png := get(tab, "screenshot", chromedp.CaptureScreenshot())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tab.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

// Visits is how many pages the tab has checked.
func (tab *Tab) Visits() int { return tab.visits }

// finding is one problem the page check found.
type finding struct {
	Rule   string   `json:"rule"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkScript runs axe-core and the console's own checks, and returns
// what is wrong: axe violations of serious or critical impact, headings
// that skip a level or a page without exactly one h1, and content wider
// than the window.
const checkScript = `(async () => {
  const out = [];
  const r = await axe.run(document, {resultTypes: ["violations"]});
  for (const v of r.violations) {
    if (v.impact === "serious" || v.impact === "critical") {
      out.push({rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.html)});
    }
  }
  const hs = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6")].map(h => +h.tagName[1]);
  if (hs.filter(l => l === 1).length !== 1) out.push({rule: "one-h1", impact: "serious", help: "a page has exactly one h1", nodes: []});
  for (let i = 1; i < hs.length; i++) {
    if (hs[i] > hs[i-1] + 1) out.push({rule: "heading-skip", impact: "serious", help: "headings go down one level at a time: h" + hs[i-1] + " then h" + hs[i], nodes: []});
  }
  const wide = document.documentElement.scrollWidth - window.innerWidth;
  if (wide > 1) {
    const over = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 &&
      !(e.parentElement && e.parentElement.getBoundingClientRect().right > window.innerWidth + 1));
    out.push({rule: "too-wide", impact: "serious", help: "the page is " + wide + "px wider than the window", nodes: over.slice(0, 5).map(e => e.outerHTML.slice(0, 200))});
  }
  return JSON.stringify(out);
})()`

// Audit runs the page checks on the page on display.
func (tab *Tab) Audit() {
	tab.t.Helper()
	if !get(tab, "check for axe", chromedp.Evaluate[bool](`typeof axe !== "undefined"`)) {
		tab.run("load axe", chromedp.Evaluate[chromedp.Void](axeSource))
	}
	raw := get(tab, "check the page", chromedp.Evaluate[string](checkScript, chromedp.EvalAwaitPromise))
	var found []finding
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		tab.t.Fatalf("%s: page check answered %q: %v", tab.name, raw, err)
	}
	tab.visits++
	if len(found) > 0 {
		var b strings.Builder
		for _, f := range found {
			fmt.Fprintf(&b, "\n  %s (%s): %s", f.Rule, f.Impact, f.Help)
			for _, n := range f.Nodes {
				fmt.Fprintf(&b, "\n      %s", n)
			}
		}
		tab.t.Fatalf("%s: %s at %dpx fails its checks:%s", tab.name, tab.Location(), tab.Width, b.String())
	}
}
