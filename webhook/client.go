// Package webhook delivers events to the webhook endpoints accounts
// register: signed as Standard Webhooks, from the durable queue the
// service keeps, by a worker like the email and SMS outboxes'.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/canopyhq/canopy"
)

// ErrPrivateAddress refuses a connection to an address that is not public
// (see canopy.PublicAddress): a webhook URL must never make Canopy reach
// into the network it runs in (SSRF). It is checked on the address the
// connection is actually made to, after DNS, so a name that resolves (or
// rebinds) to a private address is refused too.
var ErrPrivateAddress = errors.New("refused: the endpoint's address is private, loopback or otherwise not public")

// DefaultTimeout bounds one delivery unless configured otherwise.
const DefaultTimeout = 15 * time.Second

// ClientConfig tunes the HTTP client deliveries go out with.
type ClientConfig struct {
	// AllowLocal lets deliveries go to http URLs and to private and
	// loopback addresses: for development only.
	AllowLocal bool
	// Timeout bounds one delivery, from connecting to reading the answer
	// (default DefaultTimeout).
	Timeout time.Duration
	// MaxConnsPerHost bounds the connections kept to one endpoint host.
	MaxConnsPerHost int
	// UserAgent names the sender.
	UserAgent string
}

// Client posts signed deliveries.
type Client struct {
	http *http.Client
	cfg  ClientConfig
}

// NewClient returns a client that refuses what cfg does not allow.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = 64
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Canopy-Webhooks"
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if cfg.AllowLocal {
				return nil
			}
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return ErrPrivateAddress
			}
			a, err := netip.ParseAddr(host)
			if err != nil || !canopy.PublicAddress(a) {
				return ErrPrivateAddress
			}
			return nil
		}}
	tr := &http.Transport{
		// Never through a proxy from the environment: the address check
		// would then see the proxy's address, not the endpoint's.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		DisableCompression:    true,
	}
	return &Client{cfg: cfg, http: &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is an answer like any other that is not 2xx: following
		// it could lead anywhere, past the checks on the endpoint's URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Delivery is one signed post.
type Delivery struct {
	URL     string
	ID      string // webhook-id: the event's id, the same for every attempt
	Secrets []string
	Body    []byte
}

// Post sends d, signed at now, and returns the endpoint's answer (its
// status and the start of its body), or the error that kept it from
// answering.
func (c *Client) Post(ctx context.Context, d Delivery, now time.Time) (*canopy.WebhookResponse, error) {
	var v canopy.Validator
	canopy.ValidateWebhookURL(&v, "url", d.URL, c.cfg.AllowLocal)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("refused: %w", err)
	}
	sig, err := canopy.SignWebhook(d.Secrets, d.ID, now, d.Body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is the endpoint's, shown beside the delivery anyway
		}
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, canopy.MaxWebhookResponseBody))
	// Read a little more so the connection can be reused; a long answer is
	// cut off rather than waited for.
	_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
	return &canopy.WebhookResponse{Status: res.StatusCode, Body: string(body)}, nil
}
