package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/sms"
)

// The harness's SMS provider: every test server checks webhook signatures
// with this token, over this public base URL.
const (
	testSMSToken       = "twilio-auth-token-for-tests"
	testSMSWebhookBase = "https://canopy.example"
)

// inbound posts a text to the webhook as the provider would, signed with
// token (the harness's own unless given).
func (d *driver) inbound(want int, params url.Values, opts ...option) *response {
	d.t.Helper()
	sig := sms.Signature(testSMSToken, testSMSWebhookBase+"/v1/sms/inbound", params)
	o := append([]option{noKey, withHeaders("Content-Type", "application/x-www-form-urlencoded", sms.SignatureHeader, sig)}, opts...)
	return d.call(want, http.MethodPost, "/v1/sms/inbound", params.Encode(), o...)
}

func withHeaders(kv ...string) option {
	return func(r *req) {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Headers[kv[i]] = kv[i+1]
		}
	}
}

func text(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "AccountSid": {"AC1"}}
}

// driveCollect drives the field-collection routes on a tree of its own:
// root → cp (pro) → cc (pro) and its sibling csib; root → cpoor (pro, no
// credits) and cbasic. cc owns the form; cp (its payer) pays. closed is a
// closed account.
func (d *driver) driveCollect(c *contract, closed string) {
	t := d.t
	const post, get, patch, del = http.MethodPost, http.MethodGet, http.MethodPatch, http.MethodDelete
	root := d.api.Root.ID
	pro := func(parent string) string {
		d.n++
		var out struct{ Account struct{ ID string } }
		d.call(http.StatusCreated, post, "/v1/accounts", map[string]any{"account": map[string]any{"name": "Field " + parent[len(parent)-4:] + string(rune('a'+d.n%26)),
			"email": "field" + strings.ToLower(parent[len(parent)-6:]) + string(rune('a'+d.n%26)) + "@example.com", "plan": "pro"}}, as(parent)).Decode(t, &out)
		return out.Account.ID
	}
	cp := pro(root)
	cc := pro(cp)
	csib := pro(cp)
	cpoor := pro(root)
	cbasic := d.child(root)
	for _, ct := range []string{"message", "upload"} {
		d.call(http.StatusCreated, post, "/v1/accounts/"+cp+"/credits/grants", map[string]any{"type": ct, "amount": 100})
		d.call(http.StatusCreated, post, "/v1/accounts/"+cbasic+"/credits/grants", map[string]any{"type": ct, "amount": 100})
	}
	questions := []map[string]any{{"id": "name", "label": "Name", "type": "text", "required": true},
		{"id": "age", "label": "Age", "type": "number"}}
	var f, g, h struct{ ID string }
	d.call(http.StatusCreated, post, "/v1/forms", map[string]any{"name": "Intake", "questions": questions}, as(cc)).Decode(t, &f)
	d.call(http.StatusCreated, post, "/v1/forms", map[string]any{"name": "Poor", "questions": questions}, as(cpoor)).Decode(t, &g)
	d.call(http.StatusCreated, post, "/v1/forms", map[string]any{"name": "Trial", "questions": questions}, as(cbasic)).Decode(t, &h)
	settings := "/v1/forms/" + f.ID + "/sms"
	collectors := settings + "/collectors"
	links := "/v1/forms/" + f.ID + "/links"
	example := func(path, method string) any {
		return at(c.doc, "paths", path, method, "requestBody", "content", "application/json", "example")
	}

	// SMS settings and the form's code.
	d.call(http.StatusOK, get, settings, nil, as(cc))
	d.call(http.StatusOK, patch, settings, example("/v1/forms/{formId}/sms", "patch"), as(cc))
	d.call(http.StatusOK, patch, settings, map[string]any{}, as(cc)) // no change
	d.call(http.StatusOK, patch, "/v1/forms/"+g.ID+"/sms", map[string]any{"code": "POOR1"}, as(cpoor))
	d.call(http.StatusConflict, patch, settings, map[string]any{"code": "poor1"}, as(cc))
	d.call(http.StatusConflict, patch, fill("/v1/forms/{formId}/sms", ""), map[string]any{"code": "X1234"}, as(closed))
	d.call(422, patch, settings, map[string]any{"code": "no way"}, as(cc))
	d.call(422, patch, settings, map[string]any{"code": "HELP"}, as(cc))
	d.call(http.StatusForbidden, patch, settings, map[string]any{"code": "CP1234"}, as(cp)) // a dataManager, not the owner

	// Collectors: the documented example, replayed; roles, plans, credits.
	first := d.call(http.StatusCreated, post, collectors, example("/v1/forms/{formId}/sms/collectors", "post"), as(cc), withHeader("Idempotency-Key", "col-1"))
	var added struct {
		Code, PayerID string
		Credits       int64
		Messages      []struct{ Body string }
	}
	first.Decode(t, &added)
	if added.Code != "HIVINFO" || added.PayerID != cp || added.Credits != 2 || len(added.Messages) != 2 ||
		!strings.HasPrefix(added.Messages[0].Body, "Clinic survey: to send data, text HIVINFO#Name#Age") {
		t.Errorf("collectors: %s", first.Body)
	}
	replay := d.call(http.StatusCreated, post, collectors, example("/v1/forms/{formId}/sms/collectors", "post"), as(cc), withHeader("Idempotency-Key", "col-1"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay of col-1 differs")
	}
	d.call(http.StatusCreated, post, collectors, map[string]any{"numbers": []string{"+15550000001"}, "mode": "interactive"}, as(cp)) // a dataManager
	d.call(402, post, "/v1/forms/"+g.ID+"/sms/collectors", map[string]any{"numbers": []string{"+15550000002"}, "mode": "structured"}, as(cpoor))
	d.call(http.StatusCreated, post, "/v1/forms/"+h.ID+"/sms/collectors", map[string]any{"numbers": []string{"+15550000003"}, "mode": "structured"}, as(cbasic))
	var p problemView
	d.call(http.StatusForbidden, post, "/v1/forms/"+h.ID+"/sms/collectors", map[string]any{"numbers": []string{"+15550000004"}, "mode": "structured"}, as(cbasic)).Decode(t, &p)
	if p.Code != canopy.CodePlanNotAllowed {
		t.Errorf("a basic account's second number: %+v", p)
	}
	d.call(http.StatusConflict, post, fill("/v1/forms/{formId}/sms/collectors", ""), validBodies["POST /v1/forms/{formId}/sms/collectors"], as(closed))
	bad := d.call(422, post, collectors, map[string]any{"numbers": []string{"+15551234567", "555-1234", "+15551234567"}, "mode": "structured"}, as(cc))
	var problem struct{ Errors []struct{ Field string } }
	bad.Decode(t, &problem)
	var fields []string
	for _, e := range problem.Errors {
		fields = append(fields, e.Field)
	}
	if !slices.Equal(fields, []string{"numbers[1]", "numbers[2]"}) {
		t.Errorf("bad numbers: fields %v", fields)
	}
	d.call(422, post, collectors, map[string]any{"numbers": []string{"+15551234567"}}, as(cc))
	d.call(422, post, collectors, map[string]any{"numbers": []string{"+15551234567"}, "mode": "structured", "via": "x"}, as(cc))
	page := d.call(http.StatusOK, get, collectors+"?limit=1", nil, as(cc))
	var list struct {
		Data       []struct{ Number, State string }
		NextCursor *string
	}
	page.Decode(t, &list)
	if len(list.Data) != 1 || list.NextCursor == nil || list.Data[0].State != "pending" {
		t.Fatalf("collectors page: %s", page.Body)
	}
	d.call(http.StatusOK, get, collectors+"?cursor="+url.QueryEscape(*list.NextCursor), nil, as(cc))
	d.call(http.StatusOK, get, collectors+"?mode=interactive", nil, as(cc))
	d.call(http.StatusBadRequest, get, collectors+"?mode=pigeon", nil, as(cc))
	d.call(http.StatusBadRequest, get, collectors+"?cursor=nonsense", nil, as(cc))

	// The webhook: a structured text makes a record; a retry does nothing.
	d.inbound(http.StatusOK, text("SM1", "+15551230000", "hivinfo#Ada#34"))
	d.inbound(http.StatusOK, text("SM1", "+15551230000", "hivinfo#Ada#34"))
	d.inbound(http.StatusOK, text("SM2", "+15559999999", "HIVINFO#Nobody#1")) // not authorised: ignored
	var records struct{ Data []map[string]any }
	d.call(http.StatusOK, get, "/v1/forms/"+f.ID+"/records", nil, as(cc)).Decode(t, &records)
	if len(records.Data) != 1 || records.Data[0]["createdBy"] != "sms:+15551230000" {
		t.Errorf("records after the texts: %v", records.Data)
	}
	d.inbound(422, url.Values{"From": {"+15551230000"}, "Body": {"HIVINFO#Bo"}}) // signed, but no MessageSid
	tampered := text("SM3", "+15551230000", "HIVINFO#Eve#1")
	sig := sms.Signature(testSMSToken, testSMSWebhookBase+"/v1/sms/inbound", tampered)
	tampered.Set("Body", "HIVINFO#Mallory#1")
	d.call(http.StatusForbidden, post, "/v1/sms/inbound", tampered.Encode(), noKey,
		withHeaders("Content-Type", "application/x-www-form-urlencoded", sms.SignatureHeader, sig))
	d.call(http.StatusUnsupportedMediaType, post, "/v1/sms/inbound", `{"From": "+15551230000"}`, noKey) // JSON
	d.call(http.StatusBadRequest, post, "/v1/sms/inbound", "a=%zz", noKey, withHeaders("Content-Type", "application/x-www-form-urlencoded"))
	d.call(http.StatusRequestEntityTooLarge, post, "/v1/sms/inbound", strings.Repeat("a", DefaultMaxBodyBytes+1), noKey,
		withHeaders("Content-Type", "application/x-www-form-urlencoded"))

	// Removing a collector.
	number := url.PathEscape("+447700900123")
	d.call(http.StatusNoContent, del, collectors+"/"+number, nil, as(cc))
	d.call(http.StatusNotFound, del, collectors+"/"+number, nil, as(cc))
	d.call(http.StatusBadRequest, del, collectors+"/555-1234", nil, as(cc))
	d.call(http.StatusConflict, del, fill("/v1/forms/{formId}/sms/collectors/{number}", ""), nil, as(closed))

	// Web links.
	var link struct{ ID, URL, Token string }
	d.call(http.StatusCreated, post, links, example("/v1/forms/{formId}/links", "post"), as(cc)).Decode(t, &link)
	if link.URL != "https://app.example/f/"+link.Token {
		t.Errorf("link url %q", link.URL)
	}
	d.call(http.StatusCreated, post, links, map[string]any{}, as(cp), withHeader("Idempotency-Key", "link-1"))
	d.call(422, post, links, map[string]any{"expiresAt": "2001-01-01T00:00:00Z", "maxSubmissions": 0}, as(cc))
	d.call(http.StatusConflict, post, fill("/v1/forms/{formId}/links", ""), map[string]any{}, as(closed))
	d.call(http.StatusOK, get, links+"?limit=1", nil, as(cc))
	d.call(http.StatusBadRequest, get, links+"?cursor=nonsense", nil, as(cc))
	d.call(http.StatusNoContent, del, links+"/"+link.ID, nil, as(cc))
	d.call(http.StatusNotFound, del, links+"/"+link.ID, nil, as(cc))
	d.call(http.StatusBadRequest, del, links+"/lnk_nope", nil, as(cc))
	d.call(http.StatusConflict, del, fill("/v1/forms/{formId}/links/{linkId}", ""), nil, as(closed))
	if _, err := d.api.Svc.SubmitWebForm(context.Background(), link.Token, map[string][]string{"name": {"Zed"}}, "req"); canopy.ErrorCode(err) != "link-closed" {
		t.Errorf("a revoked link took a submission: %v", err)
	}

	// A viewer sees the form but sets up nothing; a sibling does not see it.
	d.call(http.StatusOK, http.MethodPut, "/v1/forms/"+f.ID+"/shares/"+cp, map[string]any{"role": "viewer"}, as(cc))
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{get, settings, nil}, {patch, settings, map[string]any{"code": "VIEWER1"}},
		{post, collectors, validBodies["POST /v1/forms/{formId}/sms/collectors"]}, {get, collectors, nil},
		{del, collectors + "/" + url.PathEscape("+15550000001"), nil},
		{post, links, map[string]any{}}, {get, links, nil}, {del, links + "/" + link.ID, nil},
	} {
		d.call(http.StatusForbidden, rq.method, rq.path, rq.body, as(cp))
		d.call(http.StatusNotFound, rq.method, rq.path, rq.body, as(csib))
	}
}
