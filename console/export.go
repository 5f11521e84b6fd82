package console

import (
	"encoding/csv"
	"net/http"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// exportRecords streams a form's records as CSV — UTF-8, a header row,
// the answers in question order — page by page as the service reads them,
// so that a large export never sits in memory whole. The table's filters
// apply.
func (h *Handler) exportRecords(rq *request) error {
	ctx := rq.r.Context()
	v, err := h.svc.GetForm(ctx, rq.caller, rq.r.PathValue("formId"))
	if err != nil {
		return err
	}
	f := newForm(rq.r.URL.Query())
	search, _ := readSearch(v, rq.r.URL.Query(), f)
	if f.Failed() {
		return canopy.BadParam(f.errors[0].Field, "invalid", "%s", f.errors[0].Message)
	}
	pr := service.PageRequest{Limit: service.MaxPageLimit}
	// The first page answers any error (not found, refused) as a page,
	// before the file starts.
	page, err := h.svc.SearchRecords(ctx, rq.caller, v.ID, search, pr)
	if err != nil {
		return err
	}
	w := rq.w
	out := csvFile(w, fileName(v.Name))
	header := []string{"Record", "Collected (UTC)", "Collected by account"}
	for _, q := range v.Questions {
		header = append(header, q.Label)
	}
	if err := out.Write(header); err != nil {
		return nil // the client went away
	}
	rc := http.NewResponseController(w)
	row := make([]string, len(header))
	for {
		for _, r := range page.Data {
			row[0], row[1], row[2] = r.ID, r.CreatedAt.UTC().Format("2006-01-02 15:04:05"), r.AccountID
			for i, q := range v.Questions {
				row[3+i] = answerText(q, r.Answers[q.ID])
				if q.Type != canopy.QuestionNumber && q.Type != canopy.QuestionLocation {
					row[3+i] = cell(row[3+i])
				}
			}
			if err := out.Write(row); err != nil {
				return nil
			}
		}
		out.Flush()
		_ = rc.Flush()
		if page.NextCursor == nil {
			return nil
		}
		pr.Cursor = *page.NextCursor
		if page, err = h.svc.SearchRecords(ctx, rq.caller, v.ID, search, pr); err != nil {
			// Half a file is sent: all that is left is to end it short,
			// which the client sees as a failed download.
			h.log.ErrorContext(ctx, "export", "err", err.Error(), "requestId", requestID(rq.r))
			panic(http.ErrAbortHandler)
		}
	}
}

// csvFile starts a CSV download named name.csv.
func csvFile(w http.ResponseWriter, name string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	return csv.NewWriter(w)
}

// cell keeps a spreadsheet from running an answer as a formula: text that
// would start one gets a leading apostrophe, as OWASP advises for CSV
// files people open in spreadsheets.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// fileName is a name made safe for a download's file name.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, name)
	if s = strings.Trim(s, "-"); s == "" {
		s = "records"
	}
	return s
}
