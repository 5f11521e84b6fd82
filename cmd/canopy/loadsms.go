package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/canopyhq/canopy/sms"
)

// smsLoad is the incoming-texts scenario of canopy load.
type smsLoad struct {
	collectors int
	pace       pacing
	token      string
	// webhook is the webhook's URL as the server sees it signed (its
	// public URL); requests go to the loadClient's base.
	webhook string
}

// loadSMS sets up a clinic with a three-question form and many authorised
// numbers, then posts signed structured texts from them as the provider
// would: each makes one record (and queues one confirmation). It checks
// at the end that every text the webhook took made a record, by the
// upload credits charged.
func loadSMS(ctx context.Context, api *loadClient, l smsLoad, stdout, stderr io.Writer) error {
	clinic, err := api.createAccount(ctx, "", "Load clinic", "pro")
	if err != nil {
		return err
	}
	const granted = 1_000_000_000
	for _, ct := range []string{"upload", "message"} {
		if status, body, err := api.do(ctx, "POST", "/v1/accounts/"+clinic+"/credits/grants", "",
			map[string]any{"type": ct, "amount": granted, "reason": "canopy load"}); err != nil || status != http.StatusCreated {
			return fmt.Errorf("grant the clinic credits: %d %s %v", status, body, err)
		}
	}
	status, body, err := api.do(ctx, "POST", "/v1/forms", clinic, map[string]any{"name": "Load survey", "questions": []map[string]any{
		{"id": "name", "label": "Name", "type": "text", "required": true},
		{"id": "sex", "label": "Sex", "type": "choice", "options": []string{"Female", "Male"}, "required": true},
		{"id": "age", "label": "Age", "type": "number", "required": true}}})
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("create the form: %d %s %v", status, body, err)
	}
	var form struct{ ID string }
	if err := json.Unmarshal(body, &form); err != nil {
		return err
	}
	code := fmt.Sprintf("LOAD%06d", rand.IntN(1_000_000))
	if status, body, err := api.do(ctx, "PATCH", "/v1/forms/"+form.ID+"/sms", clinic, map[string]any{"code": code}); err != nil || status != http.StatusOK {
		return fmt.Errorf("set the form's code: %d %s %v", status, body, err)
	}
	numbers := make([]string, l.collectors)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1555%07d", i)
	}
	bar := newProgress(stderr, "authorising numbers", len(numbers))
	for i := 0; i < len(numbers); i += 100 {
		batch := numbers[i:min(i+100, len(numbers))]
		status, body, err := api.do(ctx, "POST", "/v1/forms/"+form.ID+"/sms/collectors", clinic, map[string]any{"numbers": batch, "mode": "structured"})
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("authorise numbers: %d %s %v", status, body, err)
		}
		bar.set(i + len(batch))
	}
	bar.done()

	var seq atomic.Int64
	run := time.Now().UnixNano()
	names := []string{"Ada", "Bo", "Cy", "Di", "Eve", "Fay"}
	res := drive(ctx, l.pace, stderr, "texts", func(ctx context.Context, c int, rng *rand.Rand) (int, error) {
		text := url.Values{
			"MessageSid": {fmt.Sprintf("SMload%x%012d", run, seq.Add(1))}, "AccountSid": {"ACload"},
			"From": {numbers[rng.IntN(len(numbers))]}, "To": {"+15005550006"},
			"Body": {fmt.Sprintf("%s#%s#%d#%d", code, names[rng.IntN(len(names))], 1+rng.IntN(2), rng.IntN(100))},
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.base+"/v1/sms/inbound", strings.NewReader(text.Encode()))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(sms.SignatureHeader, sms.Signature(l.token, l.webhook, text))
		r, err := api.http.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode, nil
	})
	fmt.Fprintf(stdout, "texts: %d in %s with %d clients from %d numbers\n", res.ok, res.elapsed.Round(time.Millisecond), l.pace.clients, l.collectors)

	// Every text the webhook took is one record, paid with one upload; the
	// texts in flight when the clients stopped may have made theirs too.
	status, body, err = api.do(ctx, "GET", "/v1/accounts/"+clinic+"/credits", clinic, nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("read the clinic's credits: %d %s %v", status, body, err)
	}
	var credits struct {
		Balances []struct {
			Type   string
			Amount int64
		}
	}
	if err := json.Unmarshal(body, &credits); err != nil {
		return err
	}
	for _, b := range credits.Balances {
		if b.Type == "upload" {
			records := granted - b.Amount
			fmt.Fprintf(stdout, "records: %d (upload credits charged)\n", records)
			if records < res.ok || records > res.ok+int64(l.pace.clients) {
				return fmt.Errorf("%d texts taken, but %d records charged", res.ok, records)
			}
		}
	}
	return res.report(stdout, "texts")
}
