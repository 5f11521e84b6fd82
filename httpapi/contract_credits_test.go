package httpapi

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
)

// creditsView is GET …/credits, as far as the drive checks it.
type creditsView struct {
	AccountID string
	Balances  []struct {
		Type   string
		Amount int64
	}
	Payer struct {
		AccountID      string
		PaidByAncestor bool
		Available      []struct {
			Type   string
			Amount int64
		}
	}
	Limits []struct {
		Type          string
		Monthly       int64
		UsedThisMonth int64
	}
}

func (v creditsView) balance(t string) int64 {
	for _, b := range v.Balances {
		if b.Type == t {
			return b.Amount
		}
	}
	return -1
}

func (v creditsView) available(t string) int64 {
	for _, b := range v.Payer.Available {
		if b.Type == t {
			return b.Amount
		}
	}
	return -1
}

// problemView is a problem document with its shortfall.
type problemView struct {
	Code      string
	Shortfall *struct {
		Type             string
		Needed           int64
		PayerID          string
		Balance          *int64
		LimitedAccountID string
		Monthly, Used    *int64
	}
}

// driveCredits drives the credit routes (rule 8, docs/rules.md) on a tree of its
// own: root → cp → cc → cgc, cp → csib, and root → poor, which holds
// nothing. cp is a top-level customer and pays for itself; cc and cgc
// keep the default billing: parent, so cp pays for them too. closed is a
// closed account.
func (d *driver) driveCredits(c *contract, closed string) {
	t := d.t
	const (
		get, post, put, del    = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
		ok, created, noContent = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	root := d.api.Root.ID
	cp := d.child(root)
	cc := d.child(cp)
	cgc := d.child(cc)
	csib := d.child(cp)
	poor := d.child(root)
	acc := func(id string, rest ...string) string {
		return strings.Join(append([]string{"/v1/accounts", id, "credits"}, rest...), "/")
	}
	example := func(path, method string) any {
		return at(c.doc, "paths", path, method, "requestBody", "content", "application/json", "example")
	}
	credits := func(id string, opts ...option) (v creditsView) {
		t.Helper()
		d.call(ok, get, acc(id), nil, opts...).Decode(t, &v)
		return v
	}
	shortfall := func(res *response) problemView {
		t.Helper()
		var p problemView
		res.Decode(t, &p)
		if p.Shortfall == nil {
			t.Errorf("402 without a shortfall: %s", res.Body)
		}
		return p
	}
	upload := func(n int64) map[string]any { return map[string]any{"type": "upload", "amount": n} }
	var entry struct {
		ID, Kind, Type, DebitAccount, CreditAccount, UsageAccountID, RequestID string
		Amount                                                                 int64
	}

	// Grants: the platform root to a customer (the documented example),
	// replayed; a customer to the accounts below it; the root to itself.
	first := d.call(created, post, acc(cp, "grants"), example("/v1/accounts/{id}/credits/grants", "post"), withHeader("Idempotency-Key", "grant-cp"))
	first.Decode(t, &entry)
	if entry.Kind != "grant" || entry.DebitAccount != canopy.BookIssuance || entry.CreditAccount != cp || entry.Amount != 1000 {
		t.Errorf("grant to cp: %s", first.Body)
	}
	if n := bytes.Count(first.Body, []byte(`"requestId"`)); n != 1 {
		t.Errorf("grant: the body has %d requestId members, want 1\n%s", n, first.Body)
	}
	replay := d.call(created, post, acc(cp, "grants"), example("/v1/accounts/{id}/credits/grants", "post"), withHeader("Idempotency-Key", "grant-cp"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay of grant-cp: Idempotent-Replayed=%q, same body=%v", replay.Header.Get("Idempotent-Replayed"), bytes.Equal(replay.Body, first.Body))
	}
	d.call(422, post, acc(cp, "grants"), upload(5), withHeader("Idempotency-Key", "grant-cp"))
	d.call(created, post, acc(cp, "grants"), map[string]any{"type": "message", "amount": 50}, withHeader("X-Channel", "billing"))
	d.call(created, post, acc(cc, "grants"), upload(7), as(cp))  // an ancestor gives from its own balance
	d.call(402, post, acc(cgc, "grants"), upload(8), as(cc))     // and only what it holds: only the root mints
	d.call(created, post, acc(cgc, "grants"), upload(1), as(cc)) // any ancestor
	d.call(created, post, acc(root, "grants"), upload(1))        // the platform root, to itself
	if v := credits(cp); v.balance("upload") != 993 || v.balance("message") != 50 || v.Payer.AccountID != cp || v.Payer.PaidByAncestor {
		t.Errorf("cp's credits after grants: %+v", v)
	}
	d.call(403, post, acc(cp, "grants"), upload(1), as(cp)) // itself
	d.call(403, post, acc(cc, "grants"), upload(1), as(cc))
	d.call(404, post, acc(cp, "grants"), upload(1), as(cc)) // an ancestor is invisible
	d.call(404, post, acc(poor, "grants"), upload(1), as(cp))
	d.call(404, post, acc(canopy.NewIDs(nil, nil).New(canopy.PrefixAccount), "grants"), upload(1))
	d.call(400, post, acc("acc_nope", "grants"), upload(1))
	d.call(409, post, acc(closed, "grants"), upload(1))
	d.call(409, post, acc(cp, "grants"), upload(1), as(closed))
	d.call(422, post, acc(cc, "grants"), map[string]any{"type": "gold", "amount": 0}, as(cp))
	d.call(422, post, acc(cc, "grants"), map[string]any{"type": "upload"}, as(cp))
	d.call(422, post, acc(cc, "grants"), map[string]any{"type": "upload", "amount": 1, "memo": "x"}, as(cp))
	d.call(422, post, acc(cc, "grants"), map[string]any{"type": "upload", "amount": "1"}, as(cp))

	// A member's session may not grant, but may record usage.
	d.call(created, post, "/v1/accounts/"+cp+"/users", map[string]any{"email": "member@credits.example", "role": "member"})
	tokens := d.deliver()
	const strong = "plum orchard lantern 8 river"
	d.call(ok, post, "/v1/auth/set-password", map[string]any{"token": tokens["member@credits.example"], "password": strong}, noKey)
	member := withKey(d.login("member@credits.example", strong))
	d.call(403, post, acc(cc, "grants"), upload(1), member)
	d.call(403, put, acc(cc, "limits"), map[string]any{"type": "upload", "monthly": 1}, member)

	// Reading credits: cc's usage is paid by cp.
	v := credits(cc, as(cp))
	if v.AccountID != cc || v.balance("upload") != 6 || v.Payer.AccountID != cp || !v.Payer.PaidByAncestor || v.available("upload") != 993 || len(v.Limits) != 0 {
		t.Errorf("cc's credits: %+v", v)
	}
	credits(closed) // a closed account still shows its balances
	d.call(404, get, acc(cp), nil, as(cc))
	d.call(404, get, acc(poor), nil, as(cp))
	d.call(400, get, acc("acc_nope"), nil)

	// Transfers: from the acting account's own balance, downward.
	first = d.call(created, post, acc(cc, "transfers"), example("/v1/accounts/{id}/credits/transfers", "post"), as(cp), withHeader("Idempotency-Key", "transfer-cc"))
	first.Decode(t, &entry)
	if entry.Kind != "transfer" || entry.DebitAccount != cp || entry.CreditAccount != cc || entry.Amount != 200 {
		t.Errorf("transfer to cc: %s", first.Body)
	}
	if n := bytes.Count(first.Body, []byte(`"requestId"`)); n != 1 {
		t.Errorf("transfer: the body has %d requestId members, want 1\n%s", n, first.Body)
	}
	if res := d.call(created, post, acc(cc, "transfers"), example("/v1/accounts/{id}/credits/transfers", "post"), as(cp), withHeader("Idempotency-Key", "transfer-cc")); !bytes.Equal(res.Body, first.Body) {
		t.Errorf("replay of transfer-cc differs")
	}
	d.call(created, post, acc(cgc, "transfers"), upload(5), as(cc))
	if cpv, ccv := credits(cp), credits(cc); cpv.balance("upload") != 793 || ccv.balance("upload") != 201 {
		t.Errorf("after transfers: cp %d, cc %d upload credits; want 793, 201", cpv.balance("upload"), ccv.balance("upload"))
	}
	p := shortfall(d.call(402, post, acc(cc, "transfers"), upload(801), as(cp)))
	if p.Code != canopy.CodeInsufficientCredits || p.Shortfall == nil || p.Shortfall.PayerID != cp || p.Shortfall.Balance == nil || *p.Shortfall.Balance != 793 || p.Shortfall.Needed != 801 {
		t.Errorf("transfer beyond cp's balance: %+v", p)
	}
	if got := credits(cp).balance("upload"); got != 793 {
		t.Errorf("a refused transfer changed cp's balance: %d", got)
	}
	d.call(403, post, acc(cp, "transfers"), upload(1), as(cp)) // itself
	d.call(404, post, acc(cp, "transfers"), upload(1), as(cc)) // upward: invisible
	d.call(404, post, acc(csib, "transfers"), upload(1), as(cc))
	d.call(400, post, acc("acc_nope", "transfers"), upload(1))
	d.call(409, post, acc(closed, "transfers"), upload(1))
	d.call(422, post, acc(cc, "transfers"), map[string]any{"type": "upload", "amount": canopy.MaxCreditAmount + 1}, as(cp))

	// Records cost an upload credit, paid by the payer; without one there
	// is no record.
	var f struct{ ID string }
	d.call(created, post, "/v1/forms", map[string]any{"name": "Visits"}, as(poor)).Decode(t, &f)
	records := "/v1/forms/" + f.ID + "/records"
	p = shortfall(d.call(402, post, records, validBodies["POST /v1/forms/{formId}/records"], as(poor)))
	if p.Code != canopy.CodeInsufficientCredits || p.Shortfall == nil || p.Shortfall.PayerID != poor || p.Shortfall.Balance == nil || *p.Shortfall.Balance != 0 {
		t.Errorf("a record its payer cannot pay for: %+v", p)
	}
	var page struct {
		Data       []map[string]any
		NextCursor *string
	}
	d.call(ok, get, records, nil, as(poor)).Decode(t, &page)
	if len(page.Data) != 0 {
		t.Errorf("a record refused with 402 was stored: %+v", page.Data)
	}
	d.call(ok, get, acc(poor, "ledger"), nil, as(poor)).Decode(t, &page)
	if len(page.Data) != 0 {
		t.Errorf("a debit refused with 402 left ledger entries: %+v", page.Data)
	}
	d.call(created, post, "/v1/forms", map[string]any{"name": "Site log"}, as(cgc)).Decode(t, &f)
	records = "/v1/forms/" + f.ID + "/records"
	d.call(created, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc), withHeader("Idempotency-Key", "cgc-record"))
	d.call(created, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc), withHeader("Idempotency-Key", "cgc-record"))
	if got := credits(cp).balance("upload"); got != 792 {
		t.Errorf("cp pays for cgc's record, once: %d upload credits, want 792", got)
	}

	// Caps: cp caps cc's subtree; the month's usage so far counts at once.
	limits := acc(cc, "limits")
	var lim struct {
		Type                   string
		Monthly, UsedThisMonth int64
		Month, SetBy           string
	}
	d.call(ok, put, limits, example("/v1/accounts/{id}/credits/limits", "put"), as(cp)).Decode(t, &lim)
	if lim.Monthly != 500 || lim.UsedThisMonth != 1 || lim.SetBy != cp || lim.Month != canopy.MonthOf(d.api.Clock.Now()) {
		t.Errorf("cap on cc: %+v", lim)
	}
	d.call(ok, put, limits, map[string]any{"type": "upload", "monthly": 3}, as(cp))
	d.call(403, put, limits, map[string]any{"type": "upload", "monthly": 9}, as(cc)) // itself
	d.call(404, put, acc(cp, "limits"), map[string]any{"type": "upload", "monthly": 9}, as(cc))
	d.call(400, put, acc("acc_nope", "limits"), map[string]any{"type": "upload", "monthly": 9})
	d.call(409, put, acc(closed, "limits"), map[string]any{"type": "upload", "monthly": 9})
	d.call(422, put, limits, map[string]any{"type": "upload"}, as(cp))
	d.call(422, put, limits, map[string]any{"type": "gold", "monthly": -1}, as(cp))
	d.call(created, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc))
	d.call(created, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc))
	p = shortfall(d.call(402, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc)))
	if p.Code != canopy.CodeChildLimitExceeded || p.Shortfall == nil || p.Shortfall.LimitedAccountID != cc ||
		p.Shortfall.Monthly == nil || *p.Shortfall.Monthly != 3 || p.Shortfall.Used == nil || *p.Shortfall.Used != 3 {
		t.Errorf("a record past cc's cap: %+v", p)
	}
	v = credits(cc, as(cp))
	if len(v.Limits) != 1 || v.Limits[0].Monthly != 3 || v.Limits[0].UsedThisMonth != 3 || v.available("upload") != 0 {
		t.Errorf("cc's credits at its cap: %+v", v)
	}
	p = shortfall(d.call(402, post, "/v1/usage", map[string]any{"type": "upload", "quantity": 1}, as(cc)))
	if p.Code != canopy.CodeChildLimitExceeded {
		t.Errorf("usage past cc's cap: %+v", p)
	}
	d.call(created, post, "/v1/usage", map[string]any{"type": "message", "quantity": 1}, as(cgc)) // other types are not capped
	d.call(noContent, del, limits+"/upload", nil, as(cp))
	d.call(404, del, limits+"/upload", nil, as(cp)) // no cap any more
	d.call(404, del, limits+"/gold", nil, as(cp))
	d.call(403, del, limits+"/upload", nil, as(cc))
	d.call(403, del, limits+"/upload", nil, member)
	d.call(404, del, acc(cp, "limits", "upload"), nil, as(cc))
	d.call(400, del, acc("acc_nope", "limits", "upload"), nil)
	d.call(409, del, acc(closed, "limits", "upload"), nil)
	d.call(created, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc)) // the cap is lifted
	d.call(ok, put, limits, map[string]any{"type": "upload", "monthly": 0}, as(cp))         // 0 stops usage
	shortfall(d.call(402, post, records, validBodies["POST /v1/forms/{formId}/records"], as(cgc)))
	d.call(noContent, del, limits+"/upload", nil, as(cp))

	// Usage: charged once per reference.
	before := credits(cp).balance("upload")
	once := map[string]any{"type": "upload", "quantity": 3, "reason": "scan", "reference": "scan-77"}
	first = d.call(created, post, "/v1/usage", once, as(cc))
	var used struct {
		RequestID string
		Entry     struct{ ID, DebitAccount, UsageAccountID, RequestID string }
		Replayed  bool
	}
	first.Decode(t, &used)
	if used.Replayed || used.Entry.DebitAccount != cp || used.Entry.UsageAccountID != cc || used.Entry.RequestID != used.RequestID {
		t.Errorf("usage by cc: %s", first.Body)
	}
	firstID := used.Entry.ID
	d.call(created, post, "/v1/usage", once, as(cc)).Decode(t, &used)
	if !used.Replayed || used.Entry.ID != firstID {
		t.Errorf("usage with the same reference: replayed %v, entry %s (first %s)", used.Replayed, used.Entry.ID, firstID)
	}
	d.call(422, post, "/v1/usage", map[string]any{"type": "upload", "quantity": 9, "reference": "scan-77"}, as(cc)) // a reference names one usage
	if got := credits(cp).balance("upload"); got != before-3 {
		t.Errorf("usage with one reference sent three times: cp has %d upload credits, want %d", got, before-3)
	}
	d.call(created, post, "/v1/usage", once, as(cgc)).Decode(t, &used) // another account: its own usage
	if used.Replayed {
		t.Errorf("the same reference from another account was taken for a replay")
	}
	// Without a reference, the Idempotency-Key.
	d.call(created, post, "/v1/usage", example("/v1/usage", "post"), as(cp))
	sms := map[string]any{"type": "message", "quantity": 1}
	first = d.call(created, post, "/v1/usage", sms, withHeader("Idempotency-Key", "usage-1"), as(cp))
	if res := d.call(created, post, "/v1/usage", sms, withHeader("Idempotency-Key", "usage-1"), as(cp)); res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(res.Body, first.Body) {
		t.Errorf("replay of usage-1 differs")
	}
	d.call(created, post, "/v1/usage", sms, member)
	if got := credits(cp).balance("message"); got != 50-1-3-1-1 {
		t.Errorf("cp's message credits: %d, want %d", got, 50-1-3-1-1)
	}
	p = shortfall(d.call(402, post, "/v1/usage", map[string]any{"type": "message", "quantity": 45}, as(cgc)))
	if p.Code != canopy.CodeInsufficientCredits || p.Shortfall == nil || p.Shortfall.PayerID != cp || p.Shortfall.Balance == nil || *p.Shortfall.Balance != 44 {
		t.Errorf("usage beyond cp's balance: %+v", p)
	}
	d.call(409, post, "/v1/usage", map[string]any{"type": "upload", "quantity": 1}, as(closed))
	d.call(422, post, "/v1/usage", map[string]any{"type": "gold", "quantity": 0}, as(cc))
	d.call(422, post, "/v1/usage", map[string]any{"type": "upload", "quantity": 1, "reference": strings.Repeat("r", 201)}, as(cc))
	d.call(422, post, "/v1/usage", map[string]any{"type": "upload", "amount": 1}, as(cc))

	// The ledger: cp's entries, newest first, a page at a time.
	ledger := acc(cp, "ledger")
	d.call(ok, get, ledger+"?limit=2", nil).Decode(t, &page)
	if len(page.Data) != 2 || page.NextCursor == nil {
		t.Fatalf("cp's ledger, two a page: %+v", page)
	}
	seen := map[any]bool{}
	for cursor := page.NextCursor; ; {
		for _, e := range page.Data {
			seen[e["id"]] = true
		}
		if cursor == nil {
			break
		}
		d.call(ok, get, ledger+"?limit=2&cursor="+url.QueryEscape(*cursor), nil).Decode(t, &page)
		cursor = page.NextCursor
	}
	if !seen[firstID] || !seen[entry.ID] {
		t.Errorf("cp's ledger lacks the usage it paid for or its transfer")
	}
	d.call(ok, get, ledger+"?type=upload&kind=usage", nil, as(cp)).Decode(t, &page)
	for _, e := range page.Data {
		if e["kind"] != "usage" || e["type"] != "upload" || e["debitAccount"] != cp {
			t.Errorf("filtered ledger: %+v", e)
		}
	}
	now := d.api.Clock.Now().UTC()
	d.call(ok, get, ledger+"?from="+now.Add(-time.Hour).Format(time.RFC3339)+"&to="+now.Add(time.Hour).Format(time.RFC3339), nil)
	d.call(ok, get, acc(cc, "ledger"), nil, as(cc))
	d.call(400, get, ledger+"?kind=gift", nil)
	d.call(400, get, ledger+"?type=gold", nil)
	d.call(400, get, ledger+"?from=yesterday", nil)
	d.call(400, get, ledger+"?cursor=nonsense", nil)
	d.call(400, get, ledger+"?limit=0", nil)
	d.call(400, get, acc("acc_nope", "ledger"), nil)
	d.call(404, get, ledger, nil, as(cc))

	// The usage report: cp's subtree per child, this month.
	var report struct {
		GroupBy string
		Groups  []struct {
			AccountID string
			Self      bool
			Usage     []struct {
				Type   string
				Amount int64
			}
		}
		Total []struct {
			Type   string
			Amount int64
		}
	}
	d.call(ok, get, acc(cp, "usage")+"?groupBy=child", nil).Decode(t, &report)
	groups := map[string]bool{}
	for _, g := range report.Groups {
		groups[g.AccountID] = g.Self
	}
	if self, has := groups[cp]; !has || !self || len(report.Groups) != 2 || report.GroupBy != "child" {
		t.Errorf("cp's usage by child: %+v", report)
	} else if _, has := groups[cc]; !has {
		t.Errorf("cp's usage by child has no group for cc: %+v", report)
	}
	d.call(ok, get, acc(cp, "usage")+"?groupBy=none", nil).Decode(t, &report)
	if len(report.Groups) != 1 || report.Groups[0].AccountID != cp {
		t.Errorf("cp's usage as one group: %+v", report)
	}
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	d.call(ok, get, acc(cc, "usage")+"?from="+month.Format(time.DateOnly)+"&to="+month.AddDate(0, 1, 0).Format(time.RFC3339), nil, as(cc))
	d.call(ok, get, acc(cp, "usage")+"?from=2020-01-01&to=2020-02-01", nil).Decode(t, &report)
	if len(report.Groups) != 0 || len(report.Total) != 2 {
		t.Errorf("a month without usage: %+v", report)
	}
	d.call(400, get, acc(cp, "usage")+"?groupBy=grandchild", nil)
	d.call(400, get, acc(cp, "usage")+"?from=2026-11-01", nil)
	d.call(400, get, acc(cp, "usage")+"?from=2026-12-01&to=2026-11-01", nil)
	d.call(400, get, acc(cp, "usage")+"?from=yesterday&to=today", nil)
	d.call(400, get, acc("acc_nope", "usage"), nil)
	d.call(404, get, acc(cp, "usage"), nil, as(cc))
}
