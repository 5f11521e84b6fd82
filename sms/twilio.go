package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TwilioConfig configures the Twilio-compatible sender.
type TwilioConfig struct {
	// BaseURL is the API's base, https://api.twilio.com for Twilio.
	BaseURL string
	// AccountSID and AuthToken authenticate (HTTP basic auth).
	AccountSID, AuthToken string
	// From is the sending number (E.164) or a messaging service id.
	From string
	// Client sends the requests; nil means one with a 30 s timeout.
	Client *http.Client
}

type twilioSender struct {
	cfg      TwilioConfig
	endpoint string
}

// NewTwilioSender returns a Sender that posts each message to
// {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json, form-encoded
// (To, From, Body), with basic auth AccountSID:AuthToken. A 2xx answer is
// sent (its "sid" is the provider id); a 4xx is a permanent refusal of the
// message, except 401, 403, 404 (the operator's configuration), 408 and
// 429, which are retried like a 5xx or a network error.
func NewTwilioSender(cfg TwilioConfig) (Sender, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sms: %q is not an http(s) base URL", cfg.BaseURL)
	}
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, fmt.Errorf("sms: the account SID, auth token and sender (From) are all required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	endpoint := strings.TrimRight(cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	return &twilioSender{cfg: cfg, endpoint: endpoint}, nil
}

// Describe names the provider's host, never the credentials.
func (s *twilioSender) Describe() string {
	u, _ := url.Parse(s.cfg.BaseURL)
	return "Twilio-compatible API at " + u.Host
}

// retryable4xx are the client errors that are not the message's fault —
// wrong credentials or URL (fixed by the operator), throttling — so they
// are retried rather than failing (and refunding) every message.
var retryable4xx = map[int]bool{
	http.StatusUnauthorized: true, http.StatusForbidden: true, http.StatusNotFound: true,
	http.StatusRequestTimeout: true, http.StatusTooManyRequests: true,
}

// Send posts one message.
func (s *twilioSender) Send(ctx context.Context, m Message) (string, error) {
	form := url.Values{"To": {m.To}, "From": {s.cfg.From}, "Body": {m.Body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("sms: %w", err)
	}
	req.SetBasicAuth(s.cfg.AccountSID, s.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sms: send %s: %w", m.ID, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var out struct {
		SID     string `json:"sid"`
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	_ = json.Unmarshal(body, &out)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return out.SID, nil
	case res.StatusCode >= 400 && res.StatusCode < 500 && !retryable4xx[res.StatusCode]:
		reason := fmt.Sprintf("provider refused the message: HTTP %d", res.StatusCode)
		if out.Message != "" {
			reason += fmt.Sprintf(" (code %d: %s)", out.Code, out.Message)
		}
		return "", &RejectedError{Status: res.StatusCode, Reason: reason}
	default:
		return "", fmt.Errorf("sms: provider answered %s with HTTP %d", m.ID, res.StatusCode)
	}
}
