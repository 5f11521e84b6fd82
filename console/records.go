package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// recordsPage is how many records the table shows at once.
const recordsPage = 50

type recordsData struct {
	Head formHead
	Page service.Page[*canopy.Record]
	// Rows are the page's records as the table writes them (written
	// here: each template call is a reflective one, and a page of 50
	// records of 8 answers made thousands).
	Rows []recordRow
	// Filters are the questions the table filters by: choices and dates.
	Filters []canopy.Question
	// Query is the filters as the page's address has them, for the next
	// page's link and the export's.
	Query url.Values
}

// records shows a form's records as a table, newest first, with a filter
// for each choice and date question and for when records were collected.
func (h *Handler) records(rq *request) error {
	head, err := h.head(rq, rq.r.PathValue("formId"), "data")
	if err != nil {
		return err
	}
	q := rq.r.URL.Query()
	f := newForm(q)
	search, query := readSearch(head.Form, q, f)
	d := recordsData{Head: head, Filters: filterable(head.Form.Questions), Query: query}
	status, err := f.list(func() (err error) {
		d.Page, err = h.svc.SearchRecords(rq.r.Context(), rq.caller, head.Form.ID, search,
			service.PageRequest{Limit: recordsPage, Cursor: q.Get("cursor")})
		return err
	})
	if err != nil {
		return err
	}
	for _, r := range d.Page.Data {
		row := recordRow{When: datetime(r.CreatedAt), Link: canopy.ConsolePage(rq.caller.Acting.ID, "forms", head.Form.ID, "records", r.ID),
			Cells: make([]string, len(head.Form.Questions))}
		for i, q := range head.Form.Questions {
			row.Cells[i] = answerText(q, r.Answers[q.ID])
		}
		d.Rows = append(d.Rows, row)
	}
	return h.page(rq, status, "records", "forms", head.Form.Name+": data", f, d)
}

// recordRow is a record as the records table writes it: when it was
// collected, an answer a question, and its page.
type recordRow struct {
	When, Link string
	Cells      []string
}

// filterable are the questions a table filters by.
func filterable(qs []canopy.Question) []canopy.Question {
	var out []canopy.Question
	for _, q := range qs {
		switch q.Type {
		case canopy.QuestionChoice, canopy.QuestionMultiChoice, canopy.QuestionDate:
			out = append(out, q)
		}
	}
	return out
}

// readSearch reads the table's filters from the page's address: created
// from and to (dates, to inclusive), and filter.<question id> (an option)
// or filter.<question id>.from and .to (dates). It returns the search and
// the filters that were set.
func readSearch(fv *service.FormView, q url.Values, f *form) (service.RecordSearch, url.Values) {
	var s service.RecordSearch
	set := url.Values{}
	day := func(name string) time.Time {
		v := q.Get(name)
		if v == "" {
			return time.Time{}
		}
		set.Set(name, v)
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			f.addError(name, "must be a date such as 2026-11-23")
		}
		return t
	}
	s.From = day("from")
	if to := day("to"); !to.IsZero() {
		s.To = to.AddDate(0, 0, 1) // the whole last day
	}
	for _, qu := range filterable(fv.Questions) {
		p := "filter." + qu.ID
		a := service.AnswerFilter{QuestionID: qu.ID, Option: q.Get(p), From: q.Get(p + ".from"), To: q.Get(p + ".to")}
		for _, k := range []string{p, p + ".from", p + ".to"} {
			if v := q.Get(k); v != "" {
				set.Set(k, v)
			}
		}
		if a != (service.AnswerFilter{QuestionID: qu.ID}) {
			s.Answers = append(s.Answers, a)
		}
	}
	return s, set
}

// answerText is an answer as a table cell shows it.
func answerText(q canopy.Question, raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	switch q.Type {
	case canopy.QuestionMultiChoice:
		var ss []string
		if json.Unmarshal(raw, &ss) == nil {
			return strings.Join(ss, ", ")
		}
	case canopy.QuestionLocation:
		var loc struct {
			Lat, Lng float64
		}
		if json.Unmarshal(raw, &loc) == nil {
			return strconv.FormatFloat(loc.Lat, 'f', -1, 64) + ", " + strconv.FormatFloat(loc.Lng, 'f', -1, 64)
		}
	case canopy.QuestionNumber:
		return string(raw)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

type recordData struct {
	Head   formHead
	Record *canopy.Record
}

// newRecord is the blank form of a new record.
func (h *Handler) newRecord(rq *request) error {
	head, err := h.head(rq, rq.r.PathValue("formId"), "data")
	if err != nil {
		return err
	}
	return h.page(rq, http.StatusOK, "record", "forms", "New record", nil, recordData{Head: head})
}

// createRecord collects a record (it costs its payer an upload credit:
// without one there is no record, and the page says so).
func (h *Handler) createRecord(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	head, err := h.head(rq, rq.r.PathValue("formId"), "data")
	if err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	_, err = h.svc.CreateRecord(rq.r.Context(), rq.caller, head.Form.ID, service.RecordInput{Answers: readAnswers(head.Form.Questions, f.Values, false)})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.page(rq, formStatus(err), "record", "forms", "New record", f, recordData{Head: head})
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", head.Form.ID, "records"), "The record is saved.")
}

// record shows one record in its form: to edit for those who edit data.
func (h *Handler) record(rq *request) error {
	head, err := h.head(rq, rq.r.PathValue("formId"), "data")
	if err != nil {
		return err
	}
	r, err := h.svc.GetRecord(rq.r.Context(), rq.caller, head.Form.ID, rq.r.PathValue("recordId"))
	if err != nil {
		return err
	}
	return h.page(rq, http.StatusOK, "record", "forms", "Record", newForm(answerValues(head.Form.Questions, r)), recordData{Head: head, Record: r})
}

// updateRecord saves the edited answers; an emptied answer is removed. The
// record must not have changed since the page was opened (412).
func (h *Handler) updateRecord(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	head, err := h.head(rq, rq.r.PathValue("formId"), "data")
	if err != nil {
		return err
	}
	ctx := rq.r.Context()
	id := rq.r.PathValue("recordId")
	f := newForm(rq.r.PostForm)
	var ifMatch *int
	if n, err := strconv.Atoi(f.Values.Get("version")); err == nil {
		ifMatch = &n
	}
	_, err = h.svc.UpdateRecord(ctx, rq.caller, head.Form.ID, id, service.RecordInput{Answers: readAnswers(head.Form.Questions, f.Values, true)}, ifMatch)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		r, gerr := h.svc.GetRecord(ctx, rq.caller, head.Form.ID, id)
		if gerr != nil {
			return gerr
		}
		if canopy.ErrorKind(err) == canopy.KindPreconditionFailed {
			f = newForm(answerValues(head.Form.Questions, r))
			f.General = "Someone changed this record while you were editing it. This is the record as it is now: make your changes again."
		}
		return h.page(rq, formStatus(err), "record", "forms", "Record", f, recordData{Head: head, Record: r})
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", head.Form.ID, "records"), "The record is saved.")
}

func (h *Handler) deleteRecord(rq *request) error {
	formID := rq.r.PathValue("formId")
	err := h.svc.DeleteRecord(rq.r.Context(), rq.caller, formID, rq.r.PathValue("recordId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "records"), "The record is deleted.", err)
}

// answerValues fills a record's form with its answers. Inputs are named
// answers.<question id> (a location's answers.<id>.lat and .lng), so the
// service's errors about an answer land beside it.
func answerValues(qs []canopy.Question, r *canopy.Record) url.Values {
	v := url.Values{"version": {strconv.Itoa(r.Version)}}
	for _, q := range qs {
		raw, ok := r.Answers[q.ID]
		if !ok {
			continue
		}
		name := "answers." + q.ID
		switch q.Type {
		case canopy.QuestionMultiChoice:
			var ss []string
			_ = json.Unmarshal(raw, &ss)
			v[name] = ss
		case canopy.QuestionLocation:
			var loc struct{ Lat, Lng json.Number }
			_ = json.Unmarshal(raw, &loc)
			v.Set(name+".lat", loc.Lat.String())
			v.Set(name+".lng", loc.Lng.String())
		default:
			v.Set(name, answerText(q, raw))
		}
	}
	return v
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// number is a typed number as JSON: the number when it is one, else the
// text as a string, for the service to refuse by name.
func number(s string) json.RawMessage {
	if jsonNumber.MatchString(s) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// readAnswers turns a record's form into answers, as typed: the service
// checks them against the questions. An empty answer is left out of a new
// record and, editing (clear), sent as null to remove it.
func readAnswers(qs []canopy.Question, v url.Values, clear bool) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	for _, q := range qs {
		name := "answers." + q.ID
		var a json.RawMessage
		switch q.Type {
		case canopy.QuestionMultiChoice:
			if ss := v[name]; len(ss) > 0 {
				a, _ = json.Marshal(ss)
			}
		case canopy.QuestionLocation:
			lat, lng := strings.TrimSpace(v.Get(name+".lat")), strings.TrimSpace(v.Get(name+".lng"))
			if lat != "" || lng != "" {
				a = json.RawMessage(`{"lat": ` + string(number(lat)) + `, "lng": ` + string(number(lng)) + `}`)
			}
		case canopy.QuestionNumber:
			if s := strings.TrimSpace(v.Get(name)); s != "" {
				a = number(s)
			}
		default:
			if s := v.Get(name); s != "" {
				a = str(s)
			}
		}
		switch {
		case a != nil:
			out[q.ID] = a
		case clear:
			out[q.ID] = json.RawMessage("null")
		}
	}
	return out
}

// answerField is one question's input in a record's form.
type answerField struct {
	Q      canopy.Question
	ID     string
	Name   string
	Value  string
	Values map[string]bool // a multiChoice's checked options
	Lat    string
	Lng    string
	Errors []string
}

// Answer describes the input of question q.
func (f *form) Answer(q canopy.Question) answerField {
	name := "answers." + q.ID
	a := answerField{Q: q, ID: inputID(name), Name: name, Value: f.Values.Get(name), Errors: f.errorsFor(name),
		Lat: f.Values.Get(name + ".lat"), Lng: f.Values.Get(name + ".lng"), Values: map[string]bool{}}
	for _, v := range f.Values[name] {
		a.Values[v] = true
	}
	return a
}
