package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/sdk"
	"github.com/canopyhq/canopy/service"
)

const importSummary = `Creates child accounts from a CSV file, through the HTTP API:
  canopy import accounts --file clients.csv --parent acc_… [--url …] [--key …]

The first line names the columns, as the create-child request's fields:
  account.name (required), account.email, account.plan, account.metadata.KEY,
  masterUser.email, masterUser.username, masterUser.name,
  workflows (names separated by ";"; an empty cell inherits the parent's),
  configurations.NAMESPACE (a JSON value), externalReferences.TYPE (the value).
Every row is checked first; rows that fail are written to the report file
(--report) with why, the others are created under --parent. Importing is
idempotent per row: a row already imported (the --state file remembers it,
and an account carrying the row's external reference counts too) is not
created again, so an interrupted import is resumed by running it again.
--dry-run checks the whole file and creates nothing.`

func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand("import", importSummary, "accounts", args, stdout, stderr)
	if done || err != nil {
		return err
	}
	if sub != "accounts" {
		return usageError{fmt.Sprintf("unknown import subcommand %q (accounts)", sub)}
	}
	f := newFlags("import accounts", importSummary, getenv, stderr)
	file := f.string("file", "CANOPY_IMPORT_FILE", "", "the CSV file to import")
	parent := f.string("parent", "CANOPY_IMPORT_PARENT", "", "the account the new accounts are created under (acting as it)")
	base := f.string("url", "CANOPY_URL", "http://"+service.DefaultAddr, "the service's base URL")
	key := f.string("key", "CANOPY_API_KEY", "", "an API key that may act as --parent (or $CANOPY_API_KEY_FILE)")
	report := f.string("report", "CANOPY_IMPORT_REPORT", "", "where the rows that failed are written, with why (default FILE.report.csv)")
	state := f.string("state", "CANOPY_IMPORT_STATE", "", "where the rows done are remembered, to resume (default FILE.state)")
	dryRun := f.bool("dry-run", "CANOPY_IMPORT_DRY_RUN", false, "check every row and create nothing")
	concurrency := f.int("concurrency", "CANOPY_IMPORT_CONCURRENCY", 4, "rows created at once")
	quiet := f.bool("quiet", "CANOPY_IMPORT_QUIET", false, "no progress bar")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case *file == "":
		return usageError{"--file is required"}
	case !canopy.ValidID(canopy.PrefixAccount, *parent):
		return usageError{"--parent must be an account id (acc_…)"}
	case *key == "" && !*dryRun:
		return usageError{"--key (or $CANOPY_API_KEY) is required"}
	case *concurrency < 1:
		return usageError{"--concurrency must be at least 1"}
	}
	if *report == "" {
		*report = *file + ".report.csv"
	}
	if *state == "" {
		*state = *file + ".state"
	}
	rows, err := readImportFile(*file)
	if err != nil {
		return err
	}
	imp := &importer{parent: *parent, rows: rows}
	imp.check()
	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	if !*dryRun {
		client, err := sdk.New(*base, *key, sdk.UserAgent("canopy-import/"+version()))
		if err != nil {
			return err
		}
		if err := imp.run(ctx, client, *state, *concurrency, bar); err != nil {
			return err
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if err := imp.writeReport(*report); err != nil {
		return err
	}
	return imp.summarize(stdout, *dryRun, *report)
}

// importRow is one data row of the file.
type importRow struct {
	line  int // in the file, the header being line 1
	name  string
	in    service.CreateChildInput
	body  []byte // the request, as sent
	key   string // its Idempotency-Key: the same row under the same parent, the same key
	ref   string // its first external reference, "type:value", to find it by
	state string // created, exists, done-before, failed, invalid
	id    string // the account made (or found)
	why   string
}

// readImportFile parses the CSV file into create-child requests. A column
// it does not know is an error before anything is sent.
func readImportFile(path string) ([]*importRow, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := csv.NewReader(bufio.NewReader(fh))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header line: %w", path, err)
	}
	for i, col := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(col, "\ufeff"))
		if !knownColumn(header[i]) {
			return nil, usageError{fmt.Sprintf("%s: column %q is not a create-child field (see canopy import --help)", path, header[i])}
		}
	}
	var rows []*importRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		row := &importRow{line: line}
		rows = append(rows, row)
		var perr *csv.ParseError
		switch {
		case errors.As(err, &perr):
			row.state, row.why = "invalid", perr.Err.Error()
			continue
		case err != nil:
			return nil, err
		case len(rec) != len(header):
			row.state, row.why = "invalid", fmt.Sprintf("has %d cells; the header names %d columns", len(rec), len(header))
			continue
		}
		row.parse(header, rec)
	}
}

var columnPrefixes = []string{"account.metadata.", "configurations.", "externalReferences."}

func knownColumn(col string) bool {
	switch col {
	case "account.name", "account.email", "account.plan", "masterUser.email", "masterUser.username", "masterUser.name", "workflows":
		return true
	}
	for _, p := range columnPrefixes {
		if rest, ok := strings.CutPrefix(col, p); ok && rest != "" {
			return true
		}
	}
	return false
}

// parse fills the request from one record; what it cannot read is
// recorded as the row's problem.
func (row *importRow) parse(header, rec []string) {
	in := &row.in
	var master service.MasterUserInput
	var problems []string
	for i, col := range header {
		v := strings.TrimSpace(rec[i])
		switch {
		case col == "account.name":
			in.Account.Name, row.name = v, v
		case col == "account.email":
			in.Account.Email = v
		case col == "account.plan":
			in.Account.Plan = canopy.Plan(v)
		case col == "masterUser.email":
			master.Email = v
		case col == "masterUser.username":
			master.Username = v
		case col == "masterUser.name":
			master.Name = v
		case col == "workflows":
			if v != "" {
				ws := []string{}
				for _, w := range strings.Split(v, ";") {
					if w = strings.TrimSpace(w); w != "" {
						ws = append(ws, w)
					}
				}
				in.Workflows = &ws
			}
		case v == "":
		case strings.HasPrefix(col, "account.metadata."):
			if in.Account.Metadata == nil {
				in.Account.Metadata = map[string]string{}
			}
			in.Account.Metadata[strings.TrimPrefix(col, "account.metadata.")] = v
		case strings.HasPrefix(col, "configurations."):
			if !json.Valid([]byte(v)) {
				problems = append(problems, col+": is not a JSON value")
				continue
			}
			in.Configurations = append(in.Configurations, canopy.Configuration{Namespace: strings.TrimPrefix(col, "configurations."), Value: json.RawMessage(v)})
		case strings.HasPrefix(col, "externalReferences."):
			typ := strings.TrimPrefix(col, "externalReferences.")
			in.ExternalReferences = append(in.ExternalReferences, service.ExternalReferenceInput{Type: typ, Value: v})
			if row.ref == "" {
				row.ref = typ + ":" + v
			}
		}
	}
	if master != (service.MasterUserInput{}) {
		// As the API does without a masterUser, the account's address is
		// the master user's unless the row gives another.
		if master.Email == "" {
			master.Email = in.Account.Email
		}
		in.MasterUser = &master
	}
	if len(problems) > 0 {
		row.state, row.why = "invalid", strings.Join(problems, "; ")
	}
}

// importer creates the rows of one file under one parent.
type importer struct {
	parent string
	rows   []*importRow

	mu    sync.Mutex
	state *os.File
}

// check validates every row as the service will, before anything is sent,
// and makes each valid row's request and idempotency key.
func (imp *importer) check() {
	for _, row := range imp.rows {
		if row.state != "" {
			continue
		}
		if err := row.in.Validate(); err != nil {
			row.state, row.why = "invalid", problemText(err)
			continue
		}
		body, err := json.Marshal(row.in)
		if err != nil {
			row.state, row.why = "invalid", err.Error()
			continue
		}
		sum := sha256.Sum256(append([]byte(imp.parent+"\x00"), body...))
		row.body, row.key = body, "import-"+hex.EncodeToString(sum[:20])
	}
}

// problemText writes a validation error as its fields and messages.
func problemText(err error) string {
	var e *canopy.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err.Error()
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// stateLine is one row done, as the state file remembers it.
type stateLine struct {
	Key       string `json:"key"`
	Line      int    `json:"line"`
	AccountID string `json:"accountId"`
}

// run creates the valid rows not done before, concurrency at a time.
func (imp *importer) run(ctx context.Context, client *sdk.Canopy, statePath string, concurrency int, bar *progressbar.ProgressBar) error {
	done := map[string]string{}
	if b, err := os.ReadFile(statePath); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			var s stateLine
			if json.Unmarshal([]byte(l), &s) == nil && s.Key != "" {
				done[s.Key] = s.AccountID
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, err := os.OpenFile(statePath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer st.Close()
	imp.state = st

	work := make(chan *importRow)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for row := range work {
				imp.create(ctx, client, row)
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		})
	}
	for _, row := range imp.rows {
		if id, ok := done[row.key]; ok && row.state == "" {
			row.state, row.id = "done-before", id
		}
		if row.state != "" {
			if bar != nil {
				_ = bar.Add(1)
			}
			continue
		}
		select {
		case work <- row:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	return ctx.Err()
}

// create makes one row's account, unless an account already carries its
// external reference, and remembers it.
func (imp *importer) create(ctx context.Context, client *sdk.Canopy, row *importRow) {
	if id, err := imp.find(ctx, client, row); err != nil {
		row.state, row.why = "failed", err.Error()
		return
	} else if id != "" {
		row.state, row.id = "exists", id
		imp.remember(row)
		return
	}
	params := &sdk.CreateAccountParams{XCustomerID: &imp.parent}
	res, err := sdk.Result(client.CreateAccountWithBodyWithResponse(ctx, params, "application/json",
		strings.NewReader(string(row.body)), sdk.WithIdempotencyKey(row.key)))
	if sdk.HasCode(err, canopy.CodeExternalRefExists) {
		// Made meanwhile (by another run, say): the reference finds it.
		if id, ferr := imp.find(ctx, client, row); ferr == nil && id != "" {
			row.state, row.id = "exists", id
			imp.remember(row)
			return
		}
	}
	if err != nil {
		row.state, row.why = "failed", apiProblem(err)
		return
	}
	row.state, row.id = "created", res.JSON201.Account.ID
	if res.HTTPResponse.Header.Get("Idempotent-Replayed") == "true" {
		row.state = "exists" // made by an earlier run whose state was lost
	}
	imp.remember(row)
}

// find looks the row's external reference up under the parent.
func (imp *importer) find(ctx context.Context, client *sdk.Canopy, row *importRow) (string, error) {
	if row.ref == "" {
		return "", nil
	}
	one := sdk.Limit(1)
	res, err := sdk.Result(client.ListAccountsWithResponse(ctx, &sdk.ListAccountsParams{
		ExternalReference: &row.ref, Limit: &one, XCustomerID: &imp.parent}))
	if err != nil {
		return "", err
	}
	for _, a := range res.JSON200.Data {
		if a.ParentID != nil && *a.ParentID == imp.parent {
			return a.ID, nil
		}
	}
	return "", nil
}

// apiProblem writes an API error as its fields and messages.
func apiProblem(err error) string {
	var e *sdk.APIError
	if !errors.As(err, &e) {
		return err.Error()
	}
	if len(e.Fields) == 0 {
		return e.Code + ": " + e.Detail
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

func (imp *importer) remember(row *importRow) {
	b, _ := json.Marshal(stateLine{Key: row.key, Line: row.line, AccountID: row.id})
	imp.mu.Lock()
	defer imp.mu.Unlock()
	_, _ = imp.state.Write(append(b, '\n'))
}

// writeReport writes the rows that failed, with why; an empty report (its
// header only) when none did.
func (imp *importer) writeReport(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(fh)
	_ = w.Write([]string{"line", "account.name", "status", "error"})
	for _, row := range imp.rows {
		if row.state == "invalid" || row.state == "failed" {
			_ = w.Write([]string{fmt.Sprint(row.line), row.name, row.state, row.why})
		}
	}
	w.Flush()
	return errors.Join(w.Error(), fh.Close())
}

// errImportIncomplete is the exit status of an import with rows left.
var errImportIncomplete = errors.New("some rows were not imported; see the report")

func (imp *importer) summarize(stdout io.Writer, dryRun bool, report string) error {
	count := map[string]int{}
	for _, row := range imp.rows {
		count[row.state]++
	}
	bad := count["invalid"] + count["failed"]
	if dryRun {
		fmt.Fprintf(stdout, "%d rows: %d valid, %d invalid (dry run: nothing was created)\n", len(imp.rows), count[""], bad)
	} else {
		fmt.Fprintf(stdout, "%d rows: %d created, %d there already, %d failed\n", len(imp.rows), count["created"],
			count["exists"]+count["done-before"], bad)
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "report of the rows that failed: %s\n", report)
		return errImportIncomplete
	}
	return nil
}
