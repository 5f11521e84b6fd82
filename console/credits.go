package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// usageChartBars is how many children the usage chart draws; the table
// beside it lists them all.
const usageChartBars = 30

type creditsData struct {
	Account *canopy.Account
	Credits *service.Credits
	// Payer names the account that pays for this one's usage.
	Payer  string
	Rights service.CreditRights
	Types  []option
	// History is the balance over time, Usage the usage per child.
	History *historyView
	Usage   *usageView
}

// historyView is the balance-over-time chart and its table.
type historyView struct {
	Chart  lineChart
	Points []service.BalancePoint
	Type   canopy.CreditType
	Query  url.Values
}

// usageView is the usage-per-child chart, its table and its period.
type usageView struct {
	Report *service.UsageReport
	Chart  barChart
	Rows   []usageRow
	Type   canopy.CreditType
	// From and To are the period's first and last days.
	From, To string
	Query    url.Values
	More     int
}

type usageRow struct {
	AccountID, Name string
	Self            bool
	Amounts         []int64 // by the report's types
	// Link is the account's credits page; Cells are Amounts as the table
	// writes them (written here: see charts.go on template calls).
	Link  string
	Cells []string
}

// credits shows the acting account's credits: its balances, who pays for
// its usage and what it may still draw, the caps on it, its balance over
// time and its subtree's usage per child for a period, as charts.
func (h *Handler) credits(rq *request) error {
	d, err := h.creditsOf(rq, rq.caller.Acting.ID)
	if err != nil {
		return err
	}
	f := newForm(rq.r.URL.Query())
	if d.History, err = h.history(rq, d, f); err != nil {
		return err
	}
	if d.Usage, err = h.usage(rq, d, f); err != nil {
		return err
	}
	status := http.StatusOK
	if f.Failed() {
		status = http.StatusBadRequest
	}
	return h.page(rq, status, "credits", "credits", "Credits", f, d)
}

// creditsOf loads what both credits pages show of an account.
func (h *Handler) creditsOf(rq *request, id string) (*creditsData, error) {
	ctx := rq.r.Context()
	a, err := h.svc.GetAccount(ctx, rq.caller, id)
	if err != nil {
		return nil, err
	}
	cr, err := h.svc.GetCredits(ctx, rq.caller, a.ID)
	if err != nil {
		return nil, err
	}
	d := &creditsData{Account: a, Credits: cr, Rights: rq.caller.CreditRightsOn(a)}
	for _, b := range cr.Balances {
		d.Types = append(d.Types, option{string(b.Type), string(b.Type)})
	}
	if cr.Payer.AccountID == a.ID {
		// It pays for itself: its name is on the page already, no read.
		d.Payer = a.Name
		return d, nil
	}
	names, err := h.svc.AccountNames(ctx, rq.caller, []string{cr.Payer.AccountID})
	if err != nil {
		return nil, err
	}
	d.Payer = cmp.Or(names[cr.Payer.AccountID], cr.Payer.AccountID)
	return d, nil
}

// chartType is the credit type a chart shows: the page's choice, else the
// first type.
func chartType(d *creditsData, choice string) canopy.CreditType {
	for _, t := range d.Types {
		if t.Value == choice {
			return canopy.CreditType(choice)
		}
	}
	if len(d.Types) == 0 {
		return canopy.CreditUpload
	}
	return canopy.CreditType(d.Types[0].Value)
}

// history draws the balance over the last 30 days or 12 months.
func (h *Handler) history(rq *request, d *creditsData, f *form) (*historyView, error) {
	q := rq.r.URL.Query()
	step, periods := service.StepDay, 30
	if q.Get("step") == service.StepMonth {
		step, periods = service.StepMonth, 12
	}
	hist, err := h.svc.GetBalanceHistory(rq.r.Context(), rq.caller, d.Account.ID, step, periods)
	if err != nil {
		return nil, err
	}
	t := chartType(d, q.Get("balanceType"))
	labels, values := make([]string, len(hist.Points)), make([]int64, len(hist.Points))
	for i, p := range hist.Points {
		labels[i] = p.Label
		for _, b := range p.Balances {
			if b.Type == t {
				values[i] = b.Amount
			}
		}
	}
	span := "30 days"
	if step == service.StepMonth {
		span = "12 months"
	}
	f.Values.Set("step", step)
	f.Values.Set("balanceType", string(t))
	desc := "The " + string(t) + " balance at the end of each " + step + " of the last " + span + ", from " +
		formatInt(values[0]) + " to " + formatInt(values[len(values)-1]) + " now. The table below lists every point."
	return &historyView{Chart: newLineChart("balance-chart", "Balance of "+string(t)+" credits over the last "+span, desc, labels, values),
		Points: hist.Points, Type: t}, nil
}

// usagePeriod reads a usage period from the page's address: from and to
// are its first and last days (to inclusive), this month by default.
func usagePeriod(q url.Values, f *form, now time.Time) (from, to time.Time) {
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	from, to = month, month.AddDate(0, 1, 0)
	if s := q.Get("from"); s != "" {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			from = t
		} else {
			f.addError("from", "must be a date such as 2026-11-01")
		}
	}
	if s := q.Get("to"); s != "" {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			to = t.AddDate(0, 0, 1)
		} else {
			f.addError("to", "must be a date such as 2026-11-30")
		}
	}
	if !from.Before(to) {
		f.addError("to", "must not be before the first day")
		from, to = month, month.AddDate(0, 1, 0)
	}
	f.Values.Set("from", from.Format(time.DateOnly))
	f.Values.Set("to", to.AddDate(0, 0, -1).Format(time.DateOnly))
	return from, to
}

// usage rolls the subtree's usage up per child for the period.
func (h *Handler) usage(rq *request, d *creditsData, f *form) (*usageView, error) {
	q := rq.r.URL.Query()
	from, to := usagePeriod(q, f, h.now().UTC())
	v, err := h.usageReport(rq, d.Account.ID, from, to)
	if err != nil {
		return nil, err
	}
	v.Type = chartType(d, q.Get("usageType"))
	f.Values.Set("usageType", string(v.Type))
	col := slices.IndexFunc(v.Report.Total, func(t service.TypeAmount) bool { return t.Type == v.Type })
	byUse := slices.Clone(v.Rows)
	slices.SortStableFunc(byUse, func(a, b usageRow) int { return cmp.Compare(b.Amounts[col], a.Amounts[col]) })
	var bars []bar
	for _, r := range byUse[:min(len(byUse), usageChartBars)] {
		bars = append(bars, bar{Key: r.AccountID, Label: r.Name, Value: r.Amounts[col]})
	}
	v.More = max(0, len(byUse)-usageChartBars)
	desc := "Net " + string(v.Type) + " credits used from " + v.From + " to " + v.To + ", one bar per sub-account (with the accounts below it), largest first"
	if v.More > 0 {
		desc += "; the " + strconv.Itoa(usageChartBars) + " largest are drawn, the table below lists all " + strconv.Itoa(len(byUse))
	}
	v.Chart = newBarChart("usage-chart", "Usage of "+string(v.Type)+" credits per sub-account", desc+".", bars)
	v.Query = url.Values{"from": {v.From}, "to": {v.To}}
	return v, nil
}

// usageReport is the service's report with names, in tree order.
func (h *Handler) usageReport(rq *request, accountID string, from, to time.Time) (*usageView, error) {
	ctx := rq.r.Context()
	rep, err := h.svc.GetUsage(ctx, rq.caller, accountID, from, to, "child")
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rep.Groups))
	for i, g := range rep.Groups {
		ids[i] = g.AccountID
	}
	names, err := h.svc.AccountNames(ctx, rq.caller, ids)
	if err != nil {
		return nil, err
	}
	v := &usageView{Report: rep, From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly)}
	for _, g := range rep.Groups {
		r := usageRow{AccountID: g.AccountID, Name: cmp.Or(names[g.AccountID], g.AccountID), Self: g.Self, Amounts: make([]int64, len(rep.Total))}
		if g.Self {
			r.Name += " (itself)"
		}
		for _, u := range g.Usage {
			if i := slices.IndexFunc(rep.Total, func(t service.TypeAmount) bool { return t.Type == u.Type }); i >= 0 {
				r.Amounts[i] = u.Amount
			}
		}
		r.Link = canopy.ConsolePage(rq.caller.Acting.ID, "credits", g.AccountID)
		r.Cells = make([]string, len(r.Amounts))
		for i, n := range r.Amounts {
			r.Cells[i] = formatInt(n)
		}
		v.Rows = append(v.Rows, r)
	}
	return v, nil
}

// usageCSV is the usage per child as a file for billing: one row per
// sub-account (and the account itself), a column per credit type.
func (h *Handler) usageCSV(rq *request) error {
	f := newForm(rq.r.URL.Query())
	from, to := usagePeriod(rq.r.URL.Query(), f, h.now().UTC())
	if f.Failed() {
		return canopy.BadParam(f.errors[0].Field, "invalid", "%s", f.errors[0].Message)
	}
	v, err := h.usageReport(rq, rq.caller.Acting.ID, from, to)
	if err != nil {
		return err
	}
	out := csvFile(rq.w, "usage-"+v.From+"-to-"+v.To)
	header := []string{"Account", "Name", "From", "To"}
	for _, t := range v.Report.Total {
		header = append(header, string(t.Type))
	}
	_ = out.Write(header)
	for _, r := range v.Rows {
		row := []string{r.AccountID, cell(r.Name), v.From, v.To}
		for _, n := range r.Amounts {
			row = append(row, strconv.FormatInt(n, 10))
		}
		_ = out.Write(row)
	}
	out.Flush()
	return nil
}

// accountCredits shows another account's credits, with the caps, grants
// and transfers the acting account may make on it.
func (h *Handler) accountCredits(rq *request) error {
	return h.showAccountCredits(rq, http.StatusOK, rq.r.PathValue("accountId"), nil)
}

func (h *Handler) showAccountCredits(rq *request, status int, id string, f *form) error {
	if id == rq.caller.Acting.ID {
		http.Redirect(rq.w, rq.r, canopy.ConsolePage(id, "credits"), http.StatusSeeOther)
		return nil
	}
	d, err := h.creditsOf(rq, id)
	if err != nil {
		return err
	}
	if f == nil {
		f = newForm(nil)
	}
	return h.page(rq, status, "credits-account", "credits", "Credits of "+d.Account.Name, f, d)
}

// creditWrite runs one of an account's credit forms: on a mistake the
// page again with the errors beside the fields, else back to it.
func (h *Handler) creditWrite(rq *request, done string, write func(f *form, id string) error) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	id := rq.r.PathValue("accountId")
	f := newForm(rq.r.PostForm)
	if err := write(f, id); err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showAccountCredits(rq, formStatus(err), id, f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "credits", id), done)
}

// amount reads a whole number for the service to check; what is not one
// is sent as 0, which the service refuses by name.
func amount(v url.Values, name string) int64 {
	n, _ := strconv.ParseInt(v.Get(name), 10, 64)
	return n
}

func (h *Handler) setCap(rq *request) error {
	return h.creditWrite(rq, "The monthly cap is set.", func(f *form, id string) error {
		in := service.LimitInput{Type: canopy.CreditType(f.Values.Get("type"))}
		if s := f.Values.Get("monthly"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				n = -1 // not a number: out of range, named by the service
			}
			in.Monthly = &n
		}
		_, err := h.svc.SetLimit(rq.r.Context(), rq.caller, id, in)
		return err
	})
}

func (h *Handler) removeCap(rq *request) error {
	id := rq.r.PathValue("accountId")
	err := h.svc.DeleteLimit(rq.r.Context(), rq.caller, id, canopy.CreditType(rq.r.PathValue("type")))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "credits", id), "The cap is removed.", err)
}

func (h *Handler) grantCredits(rq *request) error {
	return h.creditWrite(rq, "The credits are granted.", func(f *form, id string) error {
		_, err := h.svc.Grant(rq.r.Context(), rq.caller, id, service.GrantInput{
			Type: canopy.CreditType(f.Values.Get("type")), Amount: amount(f.Values, "amount"), Reason: f.Values.Get("reason")})
		return err
	})
}

func (h *Handler) transferCredits(rq *request) error {
	return h.creditWrite(rq, "The credits are transferred.", func(f *form, id string) error {
		_, err := h.svc.Transfer(rq.r.Context(), rq.caller, id, service.GrantInput{
			Type: canopy.CreditType(f.Values.Get("type")), Amount: amount(f.Values, "amount"), Reason: f.Values.Get("reason")})
		return err
	})
}

// grantOwn is the platform root's grant to itself, from its own page.
func (h *Handler) grantOwn(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	_, err := h.svc.Grant(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.GrantInput{
		Type: canopy.CreditType(f.Values.Get("type")), Amount: amount(f.Values, "amount"), Reason: f.Values.Get("reason")})
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "credits"), "The credits are granted.", err)
}

type ledgerData struct {
	Account *canopy.Account
	Page    service.Page[*canopy.LedgerEntry]
	Names   map[string]string
	Types   []option
	Query   url.Values
}

// ledger lists the entries on either side of an account (the acting one
// or ?account=), newest first, with the API's filters.
func (h *Handler) ledger(rq *request) error {
	ctx := rq.r.Context()
	q := rq.r.URL.Query()
	f := newForm(q)
	id := cmp.Or(q.Get("account"), rq.caller.Acting.ID)
	a, err := h.svc.GetAccount(ctx, rq.caller, id)
	if err != nil {
		return err
	}
	cr, err := h.svc.GetCredits(ctx, rq.caller, a.ID)
	if err != nil {
		return err
	}
	d := ledgerData{Account: a, Query: kept(q, "account", "type", "kind", "from", "to")}
	for _, b := range cr.Balances {
		d.Types = append(d.Types, option{string(b.Type), string(b.Type)})
	}
	lq := service.LedgerQuery{Type: canopy.CreditType(q.Get("type")), Kind: canopy.EntryKind(q.Get("kind"))}
	if s := q.Get("from"); s != "" {
		if lq.From, err = time.Parse(time.DateOnly, s); err != nil {
			f.addError("from", "must be a date such as 2026-11-01")
		}
	}
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			f.addError("to", "must be a date such as 2026-11-30")
		}
		lq.To = t.AddDate(0, 0, 1)
	}
	status, err := f.list(func() (err error) {
		d.Page, err = h.svc.ListLedger(ctx, rq.caller, a.ID, lq, service.PageRequest{Cursor: q.Get("cursor")})
		return err
	})
	if err != nil {
		return err
	}
	var ids []string
	for _, e := range d.Page.Data {
		ids = append(ids, e.Debit, e.Credit, e.UsageAccountID)
	}
	if d.Names, err = h.svc.AccountNames(ctx, rq.caller, ids); err != nil {
		return err
	}
	return h.page(rq, status, "ledger", "credits", "Ledger of "+a.Name, f, d)
}
