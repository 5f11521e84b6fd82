package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/canopyhq/canopy"
)

// driveSMS drives POST /v1/forms/{formId}/sms on a tree of its own: root →
// sp → sc, and root → spoor, which holds no credits. sc owns the form and
// shares it itself; sp (its payer, billing: parent by default) pays. closed
// is a closed account.
func (d *driver) driveSMS(c *contract, closed string) {
	t := d.t
	const post, get = http.MethodPost, http.MethodGet
	root := d.api.Root.ID
	sp := d.child(root)
	sc := d.child(sp)
	ssib := d.child(sp)
	spoor := d.child(root)
	d.call(http.StatusCreated, post, "/v1/accounts/"+sp+"/credits/grants", map[string]any{"type": "message", "amount": 4})
	var f struct{ ID string }
	d.call(http.StatusCreated, post, "/v1/forms", map[string]any{"name": "Intake",
		"questions": []map[string]any{{"id": "name", "label": "Your name?", "type": "text"}}}, as(sc)).Decode(t, &f)
	path := "/v1/forms/" + f.ID + "/sms"
	example := at(c.doc, "paths", "/v1/forms/{formId}/sms", "post", "requestBody", "content", "application/json", "example")
	balance := func() int64 {
		t.Helper()
		var v creditsView
		d.call(http.StatusOK, get, "/v1/accounts/"+sp+"/credits", nil).Decode(t, &v)
		return v.balance("message")
	}

	// The documented example: two messages, paid by sp; replayed, once.
	first := d.call(http.StatusAccepted, post, path, example, as(sc), withHeader("Idempotency-Key", "sms-1"))
	var share struct {
		BatchID, FormID, Mode, ChargeEntryID, PayerID string
		Credits                                       int64
		Messages                                      []struct{ ID, To, Status, Body string }
	}
	first.Decode(t, &share)
	if share.PayerID != sp || share.Credits != 2 || len(share.Messages) != 2 || share.Messages[0].Status != "pending" ||
		share.Messages[0].Body != "Intake: https://app.example/f/"+f.ID {
		t.Errorf("SMS share: %s", first.Body)
	}
	replay := d.call(http.StatusAccepted, post, path, example, as(sc), withHeader("Idempotency-Key", "sms-1"))
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("replay of sms-1 differs")
	}
	if got := balance(); got != 2 {
		t.Errorf("sp's message credits after a 2-message share (replayed): %d, want 2", got)
	}
	d.call(http.StatusAccepted, post, path, map[string]any{"to": []string{"+15550000001"}, "mode": "interactive"}, as(sp)) // a dataManager

	// 402: three more than sp's one credit; nothing is queued.
	var p problemView
	d.call(402, post, path, map[string]any{"to": []string{"+15550000001", "+15550000002", "+15550000003"}, "mode": "structured"}, as(sc)).Decode(t, &p)
	if p.Code != canopy.CodeInsufficientCredits || p.Shortfall == nil || p.Shortfall.PayerID != sp {
		t.Errorf("SMS beyond sp's credits: %+v", p)
	}
	msgs, err := d.api.Svc.Operator().ListSMS(context.Background(), "", "", 1000)
	if err != nil || len(msgs) != 3 {
		t.Errorf("queued SMS: %d (%v), want 3", len(msgs), err)
	}
	var g struct{ ID string }
	d.call(http.StatusCreated, post, "/v1/forms", map[string]any{"name": "Poor"}, as(spoor)).Decode(t, &g)
	d.call(402, post, "/v1/forms/"+g.ID+"/sms", validBodies["POST /v1/forms/{formId}/sms"], as(spoor))

	// Roles: a viewer may not; a sibling cannot see the form.
	d.call(http.StatusOK, http.MethodPut, "/v1/forms/"+f.ID+"/shares/"+sp, map[string]any{"role": "viewer"}, as(sc))
	d.call(403, post, path, validBodies["POST /v1/forms/{formId}/sms"], as(sp))
	d.call(404, post, path, validBodies["POST /v1/forms/{formId}/sms"], as(ssib))
	d.call(404, post, fill("/v1/forms/{formId}/sms", ""), validBodies["POST /v1/forms/{formId}/sms"], as(sc))
	d.call(409, post, fill("/v1/forms/{formId}/sms", ""), validBodies["POST /v1/forms/{formId}/sms"], as(closed))

	// 422 naming each bad number; mode required; 1 to 100 numbers.
	bad := d.call(422, post, path, map[string]any{"to": []string{"+15551234567", "555-1234", "+15551234567"}, "mode": "structured"}, as(sc))
	var problem struct{ Errors []struct{ Field string } }
	bad.Decode(t, &problem)
	var got []string
	for _, e := range problem.Errors {
		got = append(got, e.Field)
	}
	if !slices.Equal(got, []string{"to[1]", "to[2]"}) {
		t.Errorf("bad numbers: fields %v", got)
	}
	d.call(422, post, path, map[string]any{"to": []string{"+15551234567"}}, as(sc))
	d.call(422, post, path, map[string]any{"to": []string{}, "mode": "structured"}, as(sc))
	d.call(422, post, path, map[string]any{"to": strings.Split(strings.Repeat("+15551234567,", 101), ",")[:101], "mode": "structured"}, as(sc))
	d.call(422, post, path, map[string]any{"to": []string{"+15551234567"}, "mode": "structured", "via": "x"}, as(sc))
	d.call(422, post, "/v1/forms/"+g.ID+"/sms", map[string]any{"to": []string{"+15551234567"}, "mode": "interactive"}, as(spoor))
}
