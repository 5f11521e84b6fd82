package canopy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Id prefixes of webhook endpoints and their deliveries.
const (
	PrefixWebhookEndpoint = "whe"
	PrefixWebhookDelivery = "whd"
)

// WebhookEndpoint is a URL an account has events of its subtree sent to,
// signed as Standard Webhooks (https://www.standardwebhooks.com). Its
// secret is shown once, when made or rotated; after a rotation the
// previous secret signs too until PreviousSecretExpiresAt, so a receiver
// can switch without missing a delivery.
type WebhookEndpoint struct {
	ID          string `json:"id"`
	AccountID   string `json:"accountId"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes are the types (and "resource.*" families) sent; empty:
	// every type.
	EventTypes []string `json:"eventTypes"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says why an endpoint is off: "manual" (PATCH) or
	// "failing" (it failed every delivery for too long); empty when on.
	DisabledReason string `json:"disabledReason,omitempty"`
	// FailingSince is when the endpoint last began to fail every
	// delivery; nil while its deliveries succeed.
	FailingSince            *time.Time `json:"failingSince"`
	Secret                  string     `json:"-"`
	PreviousSecret          string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

// The reasons an endpoint is disabled.
const (
	DisabledManual  = "manual"
	DisabledFailing = "failing"
)

// SigningSecrets are the secrets a delivery made at now is signed with:
// the current one, and the previous one while its overlap lasts.
func (e *WebhookEndpoint) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// DeliveryStatus is the state of one event's delivery to one endpoint.
type DeliveryStatus string

// The delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event on its way to one endpoint: durable, and
// retried with backoff until the endpoint acknowledges it (any 2xx) or
// the retry period ends.
type WebhookDelivery struct {
	ID            string         `json:"id"`
	EndpointID    string         `json:"endpointId"`
	EventID       string         `json:"eventId"`
	EventType     string         `json:"eventType"`
	Status        DeliveryStatus `json:"status"`
	Attempts      int            `json:"attempts"`
	NextAttemptAt time.Time      `json:"nextAttemptAt"`
	LastAttemptAt *time.Time     `json:"lastAttemptAt"`
	// LastResponse is the endpoint's answer to the last attempt, when it
	// answered; LastError says what went wrong otherwise.
	LastResponse *WebhookResponse `json:"lastResponse"`
	LastError    string           `json:"lastError"`
	CreatedAt    time.Time        `json:"createdAt"`
	DeliveredAt  *time.Time       `json:"deliveredAt"`
}

// WebhookResponse is what an endpoint answered: its status and the start
// of its body.
type WebhookResponse struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// MaxWebhookResponseBody is how much of an endpoint's answer is kept.
const MaxWebhookResponseBody = 1024

// WebhookSecretPrefix starts every signing secret, as Standard Webhooks
// writes them.
const WebhookSecretPrefix = "whsec_"

// NewWebhookSecret returns a signing secret: the prefix and 32 random
// bytes in base64.
func NewWebhookSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

var errWebhookSecret = errors.New("a webhook secret is whsec_ followed by a base64 key")

// webhookKey decodes a secret into its HMAC key.
func webhookKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, errWebhookSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, errWebhookSecret
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header of a message: for each
// secret "v1," and the base64 HMAC-SHA256 of "id.timestamp.body", space
// separated (the Standard Webhooks scheme).
func SignWebhook(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := webhookKey(s)
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// MaxWebhookURLLen bounds an endpoint's URL.
const MaxWebhookURLLen = 2048

// ValidateWebhookURL checks an endpoint URL: absolute https (http too
// when allowLocal), a host, no credentials and no fragment; an address
// literal must be public unless allowLocal (requests to the service's
// own network are the danger, see PublicAddress).
func ValidateWebhookURL(v *Validator, field, raw string, allowLocal bool) {
	if !ValidText(v, field, raw) {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.Add(field, "required", "is required")
	case len(raw) > MaxWebhookURLLen:
		v.Add(field, "too-long", "must be at most %d bytes", MaxWebhookURLLen)
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		v.Add(field, "invalid-url", "must be an absolute URL such as https://example.com/webhooks")
	case u.Scheme != "https" && !(allowLocal && u.Scheme == "http"):
		v.Add(field, "insecure-url", "must be an https URL")
	case u.User != nil:
		v.Add(field, "invalid-url", "must not carry a user name or password; put credentials in the path or rely on the signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		v.Add(field, "invalid-url", "must not have a fragment")
	case !allowLocal && localHost(u.Hostname()):
		v.Add(field, "private-address", "must name a public host, not a private, loopback or link-local address")
	}
}

// localHost reports whether a URL's host is an address literal that is
// not public, or a name that always means this machine.
func localHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return !PublicAddress(a)
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// nonPublic are the ranges, besides those netip classifies, that no
// webhook may reach: shared address space (carrier NAT), IETF protocol
// assignments, benchmarking, documentation and reserved ranges.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// nat64 is the well-known NAT64 prefix, which embeds an IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// PublicAddress reports whether a webhook may be delivered to a: not
// loopback, private, link-local (cloud metadata services live there),
// multicast, unspecified or reserved — also when an IPv6 address embeds
// such an IPv4 address.
func PublicAddress(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
