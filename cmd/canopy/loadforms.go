package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// formsLoad is the forms scenario of canopy load: a tree of accounts,
// forms owned across it and shares, then form reads and listings.
type formsLoad struct {
	levels        []int // accounts per level, the top first
	forms         int
	viewers       int // viewer shares
	editors       int // editor shares
	builders      int // requests at once while building
	clients       int
	duration      time.Duration
	data          string // where the data set's ids are kept, "" for nowhere
	pagesOfFirst  int    // pages of the "first" listing case
	pageLimit     int
	rng           *rand.Rand
	stdout, stder io.Writer
}

// formsData is the data set a forms load built: its ids, kept in --data so
// that the next run reuses it.
type formsData struct {
	URL    string           `json:"url"`
	Levels [][]loadAccount  `json:"levels"`
	Forms  []loadForm       `json:"forms"`
	Shares []loadShareEntry `json:"shares"`
}

type loadAccount struct {
	ID     string `json:"id"`
	Parent int    `json:"parent"` // index in the level above; -1 at the top
}

type loadForm struct {
	ID    string `json:"id"`
	Level int    `json:"level"`
	Index int    `json:"index"` // the owner: Levels[Level][Index]
}

type loadShareEntry struct {
	Form    int    `json:"form"`
	Account string `json:"account"`
	Role    string `json:"role"`
}

// parseLevels reads "1,3,9" as accounts per level.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--levels: %q is not a positive whole number", part)
		}
		out = append(out, n)
	}
	if out[0] != 1 {
		return nil, errors.New("--levels: the top level must be one account")
	}
	return out, nil
}

// loadForms builds (or reuses) the data set, then runs each read case and
// each listing for l.duration and prints one table.
func loadForms(ctx context.Context, api *loadClient, l formsLoad) error {
	d, reused, err := l.dataSet(ctx, api)
	if err != nil {
		return err
	}
	how := "built"
	if reused {
		how = "reused from " + l.data
	}
	accounts := 0
	for _, lv := range d.Levels {
		accounts += len(lv)
	}
	fmt.Fprintf(l.stdout, "data set (%s): %d accounts in %d levels, %d forms, %d shares\n",
		how, accounts, len(d.Levels), len(d.Forms), len(d.Shares))

	cases, err := l.readCases(ctx, api, d)
	if err != nil {
		return err
	}
	var rows [][]string
	failed := int64(0)
	for _, c := range cases {
		getters := make([]*rawGetter, c.clients)
		res := drive(ctx, pacing{clients: c.clients, duration: l.duration}, l.stder, c.name, func(ctx context.Context, client int, rng *rand.Rand) (int, error) {
			p := c.pairs[rng.IntN(len(c.pairs))]
			get := func() (int, error) { return api.get(ctx, "/v1/forms/"+p.form, p.as, "") }
			if g := getters[client]; g != nil {
				get = func() (int, error) { return g.get("/v1/forms/"+p.form, p.as) }
			} else if g, ok := newRawGetter(api.base, api.key); ok {
				getters[client] = g
				get = func() (int, error) { return g.get("/v1/forms/"+p.form, p.as) }
			}
			status, err := get()
			if err == nil && status == c.want {
				return http.StatusOK, nil
			}
			if err == nil && status < 500 {
				return http.StatusConflict, nil // answered, but not as the data set says
			}
			return status, err
		})
		for _, g := range getters {
			if g != nil {
				g.close()
			}
		}
		failed += res.failed + res.refused
		rows = append(rows, []string{c.name, fmt.Sprintf("%.0f req/s", float64(res.ok)/res.elapsed.Seconds()),
			ms(res.pct(0.50)), ms(res.pct(0.99)), fmt.Sprintf("%d/%d", res.refused, res.failed)})
	}
	top := d.Levels[0][0].ID
	lists := []struct {
		name  string
		pages int // 0: all
		ndj   bool
	}{
		{fmt.Sprintf("list visible, top account, first %d (pages of %d)", l.pagesOfFirst*l.pageLimit, l.pageLimit), l.pagesOfFirst, false},
		{fmt.Sprintf("list visible, top account, all (pages of %d)", l.pageLimit), 0, false},
		{"list visible, top account, all (NDJSON)", 0, true},
	}
	for _, lc := range lists {
		res, n, offered, err := l.listing(ctx, api, top, lc.pages, lc.ndj)
		if err != nil {
			return fmt.Errorf("%s: %w", lc.name, err)
		}
		if !offered {
			rows = append(rows, []string{lc.name, "not offered by this server", "", "", ""})
			continue
		}
		rows = append(rows, []string{lc.name, fmt.Sprintf("%d forms, %.1f walks/s", n, float64(len(res.latencies))/res.elapsed.Seconds()),
			ms(res.pct(0.50)), ms(res.pct(0.99)), "0/0"})
	}
	fmt.Fprintln(l.stdout)
	fmt.Fprintln(l.stdout, "| case | rate | p50 | p99 | wrong/failed |")
	fmt.Fprintln(l.stdout, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(l.stdout, "| %s |\n", strings.Join(r, " | "))
	}
	if failed > 0 {
		return fmt.Errorf("%d reads failed or were answered otherwise than the data set says", failed)
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

// dataSet reads the data set from l.data when it is there, else builds it
// and writes it there.
func (l formsLoad) dataSet(ctx context.Context, api *loadClient) (*formsData, bool, error) {
	if l.data != "" {
		raw, err := os.ReadFile(l.data)
		if err == nil {
			var d formsData
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, false, fmt.Errorf("read %s: %w", l.data, err)
			}
			if d.URL != api.base {
				fmt.Fprintf(l.stder, "note: %s was built through %s, now read through %s\n", l.data, d.URL, api.base)
			}
			if len(d.Levels) == 0 || len(d.Forms) == 0 {
				return nil, false, fmt.Errorf("%s holds no data set: remove it to build one", l.data)
			}
			return &d, true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("read %s: %w", l.data, err)
		}
	}
	d, err := l.build(ctx, api)
	if err != nil {
		return nil, false, err
	}
	if l.data != "" {
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(l.data, raw, 0o644); err != nil {
			return nil, false, fmt.Errorf("write %s: %w", l.data, err)
		}
	}
	return d, false, nil
}

// build makes the data set through the API: the accounts level by level,
// each under a random account of the level above, then the forms, each
// owned by a random account, then the shares, each from a form's owner to
// a random ancestor or descendant of it (the accounts a form may be
// shared with).
func (l formsLoad) build(ctx context.Context, api *loadClient) (*formsData, error) {
	d := &formsData{URL: api.base, Levels: make([][]loadAccount, len(l.levels))}
	children := make([][][]int, len(l.levels)) // per level, per account: its children's indexes
	total := 0
	for _, n := range l.levels {
		total += n
	}
	created := 0
	bar := newProgress(l.stder, "creating accounts", total)
	for lv, n := range l.levels {
		d.Levels[lv] = make([]loadAccount, n)
		children[lv] = make([][]int, n)
		for i := range d.Levels[lv] {
			d.Levels[lv][i].Parent = -1
			if lv > 0 {
				p := l.rng.IntN(l.levels[lv-1])
				d.Levels[lv][i].Parent = p
				children[lv-1][p] = append(children[lv-1][p], i)
			}
		}
		err := l.parallel(ctx, n, func(i int) error {
			parent := ""
			if lv > 0 {
				parent = d.Levels[lv-1][d.Levels[lv][i].Parent].ID
			}
			// Enterprise: room for the emails and forms of any --levels
			// and --forms within its quotas (rule 11, docs/rules.md).
			id, err := api.createAccount(ctx, parent, fmt.Sprintf("Forms load L%d-%d", lv+1, i+1), "enterprise")
			if err != nil && strings.Contains(err.Error(), "depth-limit-exceeded") {
				return fmt.Errorf("%w\n(%d levels below the key's account need canopy serve --max-depth %d or more)", err, len(l.levels), len(l.levels))
			}
			d.Levels[lv][i].ID = id
			return err
		}, func(done int) { bar.set(created + done) })
		if err != nil {
			return nil, err
		}
		created += n
	}
	bar.done()

	d.Forms = make([]loadForm, l.forms)
	for i := range d.Forms {
		a := l.rng.IntN(total)
		lv := 0
		for a >= l.levels[lv] {
			a -= l.levels[lv]
			lv++
		}
		d.Forms[i] = loadForm{Level: lv, Index: a}
	}
	bar = newProgress(l.stder, "creating forms", l.forms)
	err := l.parallel(ctx, l.forms, func(i int) error {
		f := &d.Forms[i]
		status, raw, err := api.do(ctx, "POST", "/v1/forms", d.Levels[f.Level][f.Index].ID, map[string]any{"name": fmt.Sprintf("Load form %d", i+1)})
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("create a form: %d %s %v", status, raw, err)
		}
		var res struct{ ID string }
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		f.ID = res.ID
		return nil
	}, bar.set)
	if err != nil {
		return nil, err
	}
	bar.done()

	seen := map[[2]string]bool{}
	for len(d.Shares) < l.viewers+l.editors {
		fi := l.rng.IntN(len(d.Forms))
		f := d.Forms[fi]
		to := l.relative(d, children, f.Level, f.Index)
		if to == "" || seen[[2]string{f.ID, to}] {
			continue
		}
		seen[[2]string{f.ID, to}] = true
		role := "viewer"
		if len(d.Shares) >= l.viewers {
			role = "editor"
		}
		d.Shares = append(d.Shares, loadShareEntry{Form: fi, Account: to, Role: role})
	}
	bar = newProgress(l.stder, "sharing forms", len(d.Shares))
	err = l.parallel(ctx, len(d.Shares), func(i int) error {
		sh := d.Shares[i]
		f := d.Forms[sh.Form]
		status, raw, err := api.do(ctx, "PUT", "/v1/forms/"+f.ID+"/shares/"+sh.Account, d.Levels[f.Level][f.Index].ID,
			map[string]any{"role": sh.Role})
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("share a form: %d %s %v", status, raw, err)
		}
		return nil
	}, bar.set)
	if err != nil {
		return nil, err
	}
	bar.done()
	return d, nil
}

// relative picks a random ancestor (below the top's parent) or descendant
// of the account at (lv, i), or "" when it has neither.
func (l formsLoad) relative(d *formsData, children [][][]int, lv, i int) string {
	if len(children[lv][i]) > 0 && (lv == 0 || l.rng.IntN(2) == 0) {
		for {
			i = children[lv][i][l.rng.IntN(len(children[lv][i]))]
			lv++
			if len(children[lv][i]) == 0 || l.rng.IntN(2) == 0 {
				return d.Levels[lv][i].ID
			}
		}
	}
	if lv == 0 {
		return ""
	}
	for up := 1 + l.rng.IntN(lv); up > 0; up-- {
		i = d.Levels[lv][i].Parent
		lv--
	}
	return d.Levels[lv][i].ID
}

// parallel runs do(0) … do(n-1), l.builders at a time, and reports how
// many are done; it stops at the first error.
func (l formsLoad) parallel(ctx context.Context, n int, do func(i int) error, progress func(done int)) error {
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		first      error
		wg         sync.WaitGroup
	)
	for range min(l.builders, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				err := do(i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					next.Store(int64(n)) // no more starts
				}
				progress(int(done.Add(1)))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// readCase is one row of reads: GET /v1/forms/{id} acting as an account,
// each pair answered with want.
type readCase struct {
	name    string
	clients int
	want    int
	pairs   []readPair
}

type readPair struct{ form, as string }

// readCases picks the (form, acting account) pairs of each case from the
// data set and checks one of each against the server before the clock
// runs: owner, ancestor 1 and 6 levels up, a sibling (no share can reach
// it: a form is shared only up and down its owner's line), and the owner
// again from one client.
func (l formsLoad) readCases(ctx context.Context, api *loadClient, d *formsData) ([]readCase, error) {
	const perCase = 1000
	up := func(f loadForm, n int) (string, bool) {
		if f.Level < n {
			return "", false
		}
		lv, i := f.Level, f.Index
		for ; n > 0; n-- {
			i = d.Levels[lv][i].Parent
			lv--
		}
		return d.Levels[lv][i].ID, true
	}
	sibling := func(f loadForm) (string, bool) {
		if f.Level == 0 {
			return "", false
		}
		parent := d.Levels[f.Level][f.Index].Parent
		var sibs []int
		for i, a := range d.Levels[f.Level] {
			if a.Parent == parent && i != f.Index {
				sibs = append(sibs, i)
			}
		}
		if len(sibs) == 0 {
			return "", false
		}
		return d.Levels[f.Level][sibs[l.rng.IntN(len(sibs))]].ID, true
	}
	owner := func(f loadForm) (string, bool) { return d.Levels[f.Level][f.Index].ID, true }
	defs := []struct {
		name    string
		clients int
		want    int
		pick    func(loadForm) (string, bool)
	}{
		{"owner", l.clients, http.StatusOK, owner},
		{"ancestor 1 level up", l.clients, http.StatusOK, func(f loadForm) (string, bool) { return up(f, 1) }},
		{"ancestor 6 levels up", l.clients, http.StatusOK, func(f loadForm) (string, bool) { return up(f, 6) }},
		{"sibling (denied, 404)", l.clients, http.StatusNotFound, sibling},
		{"one client, owner", 1, http.StatusOK, owner},
	}
	var out []readCase
	for _, def := range defs {
		c := readCase{name: def.name, clients: def.clients, want: def.want}
		for _, fi := range l.rng.Perm(len(d.Forms)) {
			if len(c.pairs) == perCase {
				break
			}
			if as, ok := def.pick(d.Forms[fi]); ok {
				c.pairs = append(c.pairs, readPair{d.Forms[fi].ID, as})
			}
		}
		if len(c.pairs) == 0 {
			return nil, fmt.Errorf("the data set has no pair for %q: it needs more levels or accounts", def.name)
		}
		p := c.pairs[0]
		if status, err := api.get(ctx, "/v1/forms/"+p.form, p.as, ""); err != nil || status != def.want {
			return nil, fmt.Errorf("%s: GET /v1/forms/%s as %s answered %d, want %d (%v): is the data set from this server?",
				def.name, p.form, p.as, status, def.want, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// listing walks the forms visible to the account as from one client, for
// l.duration and at least once: pages pages of l.pageLimit (0: all of
// them), or the NDJSON stream. It reports each walk's time, the forms of
// the last walk, and whether the server offers the stream.
func (l formsLoad) listing(ctx context.Context, api *loadClient, as string, pages int, ndjson bool) (loadResult, int, bool, error) {
	var res loadResult
	start, shown := time.Now(), time.Time{}
	n := 0
	for len(res.latencies) == 0 || time.Since(start) < l.duration {
		t0 := time.Now()
		var err error
		if ndjson {
			var offered bool
			n, offered, err = api.streamForms(ctx, as)
			if err == nil && !offered {
				return res, 0, false, nil
			}
		} else {
			n, err = api.pageForms(ctx, as, l.pageLimit, pages)
		}
		if err != nil {
			return res, 0, true, err
		}
		res.latencies = append(res.latencies, time.Since(t0))
		if time.Since(shown) >= time.Second {
			shown = time.Now()
			fmt.Fprintf(l.stder, "\r%5.0fs  %d walks of %d forms ", time.Since(start).Seconds(), len(res.latencies), n)
		}
	}
	fmt.Fprintln(l.stder)
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res, n, true, nil
}

// get sends a GET as the account and reads the whole answer.
func (c *loadClient) get(ctx context.Context, path, as, accept string) (int, error) {
	res, err := c.send(ctx, path, as, accept)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, err
}

func (c *loadClient) send(ctx context.Context, path, as, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if as != "" {
		req.Header.Set("X-Customer-Id", as)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return c.http.Do(req)
}

// pageForms follows GET /v1/forms page by page, at most pages of them (0:
// to the end), and counts the forms.
func (c *loadClient) pageForms(ctx context.Context, as string, limit, pages int) (int, error) {
	n, cursor := 0, ""
	for p := 0; pages == 0 || p < pages; p++ {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		status, raw, err := c.do(ctx, "GET", "/v1/forms?"+q.Encode(), as, nil)
		if err != nil || status != http.StatusOK {
			return n, fmt.Errorf("GET /v1/forms: %d %.200s %v", status, raw, err)
		}
		var page struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor *string           `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return n, fmt.Errorf("GET /v1/forms: %w", err)
		}
		n += len(page.Data)
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	return n, nil
}

// streamForms asks GET /v1/forms for the NDJSON stream and counts its
// lines; a server that answers with anything else does not offer it.
func (c *loadClient) streamForms(ctx context.Context, as string) (int, bool, error) {
	res, err := c.send(ctx, "/v1/forms", as, "application/x-ndjson")
	if err != nil {
		return 0, false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/x-ndjson") {
		_, _ = io.Copy(io.Discard, res.Body)
		return 0, false, nil
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) > 0 {
			n++
		}
	}
	return n, true, sc.Err()
}
