package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a delivery's webhook-timestamp may be from
// now before VerifyWebhook refuses it as a replay.
const WebhookTolerance = 5 * time.Minute

// ErrWebhookSignature means a delivery's signature does not verify: it
// was not signed with the endpoint's secret, or it was changed on the way.
var ErrWebhookSignature = errors.New("canopy: webhook signature does not verify")

// VerifyWebhook checks a webhook delivery as Standard Webhooks specifies
// (https://www.standardwebhooks.com) — one webhook-signature entry must be
// "v1," and the base64 HMAC-SHA256, keyed by the base64 key after
// "whsec_", of "webhook-id.webhook-timestamp.body"; the timestamp must be
// within WebhookTolerance of now — and returns the event it carries.
// Deduplicate by the event's ID: a delivery may come more than once.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) (*Event, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, errors.New("canopy: a webhook secret is whsec_ followed by a base64 key")
	}
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, ErrWebhookSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return nil, errors.New("canopy: webhook timestamp too far from now")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, sig := range strings.Fields(header.Get("webhook-signature")) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			var e Event
			if err := json.Unmarshal(body, &e); err != nil {
				return nil, err
			}
			return &e, nil
		}
	}
	return nil, ErrWebhookSignature
}
