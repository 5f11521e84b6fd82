package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder stands in for the test a Tab reports to, so that this test can
// see a check fail without failing itself.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

type stop struct{}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	panic(stop{})
}

func (r *recorder) Helper() {}

// audit opens path in tab, reporting to a fresh recorder, and returns
// what the page check found ("" when nothing).
func audit(t *testing.T, tab *Tab, path string) string {
	rec := &recorder{TB: t}
	tab.t = rec
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(stop); !ok {
					panic(p)
				}
			}
		}()
		tab.Go(path)
	}()
	return strings.Join(rec.failed, "\n")
}

// TestAuditFindsWhatIsWrong: the page check passes a plain accessible page
// and fails each kind of fault it looks for — so a browser test that
// passes means something.
func TestAuditFindsWhatIsWrong(t *testing.T) {
	b := Start(t)
	pages := map[string]string{
		"/good":         `<main><h1>Fine</h1><form><label for="a">Name</label><input id="a"><button>Save</button></form></main>`,
		"/unlabelled":   `<main><h1>Form</h1><form><input id="a"><button>Save</button></form></main>`,
		"/low-contrast": `<main><h1>Pale</h1><p style="color:#ccc;background:#fff">Hard to read</p></main>`,
		"/skips":        `<main><h1>Top</h1><h3>Too deep</h3></main>`,
		"/two-h1":       `<main><h1>One</h1><h1>Two</h1></main>`,
		"/wide":         `<main><h1>Wide</h1><div style="width:600px">wide</div></main>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Probe</title><meta name="viewport" content="width=device-width"></head><body>%s</body></html>`, pages[r.URL.Path])
	}))
	defer srv.Close()

	tab := b.Tab("probe", srv.URL, 375)
	require.Empty(t, audit(t, tab, "/good"))
	for path, rule := range map[string]string{
		"/unlabelled": "label", "/low-contrast": "color-contrast", "/skips": "heading-skip", "/two-h1": "one-h1", "/wide": "too-wide",
	} {
		require.Contains(t, audit(t, tab, path), rule, path)
	}
}
