// Package twiliotest serves a Twilio-compatible SMS provider in-process,
// for tests: the Messages API Canopy's sender posts to — it checks basic
// auth and the form, records every request and answers as it is told —
// and the other direction, texts from phones, posted to Canopy's inbound
// webhook with a valid X-Twilio-Signature, as Twilio posts them.
package twiliotest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopyhq/canopy/sms"
)

// The provider's credentials and sending number.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "twiliotest-auth-token"
	From       = "+15005550006"
)

// Message is one message the provider was asked to send.
type Message struct {
	SID, To, From, Body string
}

// Provider is the fake provider.
type Provider struct {
	// URL is the base of its Messages API (canopy serve --sms-url).
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	failFirst int
	reject    map[string]bool
	calls     int
	requests  []Message // every request, answered how it was
	sent      []Message // the messages it took
	changed   chan struct{}
	// arrived and answer, while held (Hold), make each request announce
	// itself and wait before it is answered: a provider that takes its
	// time.
	arrived, answer chan struct{}
	// webhook is where texts from phones are posted; signedURL is the URL
	// as the provider was told it and signs it (the public URL).
	webhook, signedURL string
	texts              int
}

// New starts a provider, stopped when the test ends.
func New(t testing.TB) *Provider {
	p := &Provider{reject: map[string]bool{}, changed: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Close stops the provider's API: senders then meet network errors.
func (p *Provider) Close() { p.srv.Close() }

// FailFirst makes the next n requests answer 500.
func (p *Provider) FailFirst(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failFirst = p.calls + n
}

// Reject makes messages to the numbers answer 400 (an invalid number).
func (p *Provider) Reject(numbers ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range numbers {
		p.reject[n] = true
	}
}

// Sender returns a Canopy sender for the provider.
func (p *Provider) Sender(t testing.TB) sms.Sender {
	s, err := sms.NewTwilioSender(sms.TwilioConfig{BaseURL: p.URL, AccountSID: AccountSID, AuthToken: AuthToken, From: From})
	if err != nil {
		t.Fatalf("twilio sender: %v", err)
	}
	return s
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+AccountSID+"/Messages.json" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !ok || user != AccountSID || pass != AuthToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	arrived, answer := p.arrived, p.answer
	p.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
		<-answer
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	m := Message{SID: fmt.Sprintf("SM%032d", p.calls), To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body")}
	p.requests = append(p.requests, m)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case p.calls <= p.failFirst:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"code": 20500, "message": "Internal Server Error"}`)
	case p.reject[m.To]:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code": 21211, "message": "The 'To' number is not a valid phone number."}`)
	default:
		p.sent = append(p.sent, m)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"sid": m.SID, "status": "queued"})
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// Hold makes the next requests announce themselves on arrived and wait
// until answer is called; answer lets them through and ends the hold.
func (p *Provider) Hold() (arrived <-chan struct{}, answer func()) {
	a, ans := make(chan struct{}), make(chan struct{})
	p.mu.Lock()
	p.arrived, p.answer = a, ans
	p.mu.Unlock()
	return a, func() {
		p.mu.Lock()
		p.arrived, p.answer = nil, nil
		p.mu.Unlock()
		close(ans)
	}
}

// Calls is how many message requests the provider answered.
func (p *Provider) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Requests returns every message request, in order.
func (p *Provider) Requests() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Message(nil), p.requests...)
}

// Sent returns the messages the provider took, in order.
func (p *Provider) Sent() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Message(nil), p.sent...)
}

// SentTo returns the bodies of the messages taken for one number.
func (p *Provider) SentTo(number string) []string {
	var out []string
	for _, m := range p.Sent() {
		if m.To == number {
			out = append(out, m.Body)
		}
	}
	return out
}

// WaitSent waits until n messages were taken for number and returns
// their bodies, failing the test after timeout.
func (p *Provider) WaitSent(t testing.TB, number string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if got := p.SentTo(number); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("twiliotest: %d messages to %s after %s, want %d: %q", len(p.SentTo(number)), number, timeout, n, p.SentTo(number))
			return nil
		}
	}
}

// SetWebhook says where texts from phones go (url, the address Canopy
// listens on) and the URL the provider signs (signed: the public URL it
// was configured with; url itself when empty).
func (p *Provider) SetWebhook(url, signed string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if signed == "" {
		signed = url
	}
	p.webhook, p.signedURL = url, signed
}

// Text delivers a text from a phone to the webhook with a new message id
// and returns that id and the webhook's status.
func (p *Provider) Text(t testing.TB, from, body string) (sid string, status int) {
	t.Helper()
	p.mu.Lock()
	p.texts++
	sid = fmt.Sprintf("SMin%030d", p.texts)
	p.mu.Unlock()
	return sid, p.TextSID(t, sid, from, body)
}

// TextSID delivers a text with a given message id (a retry repeats one)
// and returns the webhook's status. The webhook must answer with TwiML.
func (p *Provider) TextSID(t testing.TB, sid, from, body string) int {
	t.Helper()
	p.mu.Lock()
	webhook, signed := p.webhook, p.signedURL
	p.mu.Unlock()
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {AccountSID}, "From": {from}, "To": {From},
		"Body": {body}, "NumMedia": {"0"}}
	req, err := http.NewRequest(http.MethodPost, webhook, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("twiliotest: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(sms.SignatureHeader, sms.Signature(AuthToken, signed, form))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("twiliotest: post to the webhook: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && !strings.Contains(string(b), "<Response/>") {
		t.Errorf("twiliotest: the webhook answered 200 without TwiML: %s", b)
	}
	return res.StatusCode
}
