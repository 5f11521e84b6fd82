package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
	"github.com/canopyhq/canopy/webhook"
)

// verifyStandardWebhook checks a delivery the way a receiver following
// the Standard Webhooks specification does — written here from the
// specification, not with canopy.SignWebhook, so that a mistake there
// cannot hide itself: the key is the base64 after "whsec_"; the signed
// content is "webhook-id.webhook-timestamp.body"; webhook-signature lists
// "v1,<base64 HMAC-SHA256>" entries separated by spaces, one of which must
// match; the timestamp must be within five minutes of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, tsText := h.Get("webhook-id"), h.Get("webhook-timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", tsText, err)
	}
	if d := now.Unix() - ts; d > 300 || d < -300 {
		return fmt.Errorf("timestamp %d is too far from now (%d)", ts, now.Unix())
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsText + "." + string(body)))
	want := mac.Sum(nil)
	for _, part := range strings.Fields(h.Get("webhook-signature")) {
		version, sig, _ := strings.Cut(part, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// TestSignaturesMatchTheStandardWebhooksTestVector checks both the signer
// and the test's verifier against the vector the Standard Webhooks
// reference libraries publish.
func TestSignaturesMatchTheStandardWebhooksTestVector(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got, err := canopy.SignWebhook([]string{secret}, id, ts, body)
	require.NoError(t, err)
	require.Equal(t, want, got)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9wZQ== "+want)
	require.NoError(t, verifyStandardWebhook(secret, h, body, ts), "any one of the signatures may match")
	require.Error(t, verifyStandardWebhook(secret, h, []byte(`{"test": 2432232315}`), ts))
	require.Error(t, verifyStandardWebhook(secret, h, body, ts.Add(6*time.Minute)), "stale")
}

// received is one post the test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an endpoint that records every post and answers with
// status(n) for the n-th post of a webhook-id (1-based).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []received
	byID   map[string]int
	status func(n int) int
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{byID: map[string]int{}, status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, received{header: req.Header.Clone(), body: body})
		r.byID[req.Header.Get("webhook-id")]++
		n := r.byID[req.Header.Get("webhook-id")]
		r.mu.Unlock()
		w.WriteHeader(r.status(n))
		fmt.Fprintf(w, "post %d", n)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.posts...)
}

func always(code int) func(int) int { return func(int) int { return code } }

// env is a service with a delivery worker posting to loopback receivers
// (allowed, as in development), on a clock the test moves.
type env struct {
	*testfactory.Bundle
	worker *webhook.Worker
}

func newEnv(t *testing.T, db *sqlstore.DB) *env {
	b := testfactory.New(t, db, testfactory.Options{Configure: func(c *service.Config) {
		c.WebhookAllowLocal = true
		c.WebhookBackoff, c.WebhookMaxBackoff = 10*time.Second, 10*time.Minute
		c.WebhookRetryFor, c.WebhookDisableAfter = 2*time.Hour, 6*time.Hour
	}})
	client := webhook.NewClient(webhook.ClientConfig{AllowLocal: true, Timeout: 5 * time.Second})
	return &env{Bundle: b, worker: webhook.NewWorker(b.Svc, client, webhook.WorkerConfig{Clock: b.Clock.Now}, nil)}
}

// drain runs delivery rounds until nothing is due now.
func (e *env) drain(t *testing.T) webhook.Result {
	t.Helper()
	res, err := e.worker.Drain(context.Background())
	require.NoError(t, err)
	return res
}

// endpoint registers url for the account, for types (all when none).
func (e *env) endpoint(t *testing.T, accountID, url string, types ...string) *service.CreatedWebhookEndpoint {
	t.Helper()
	in := service.WebhookEndpointInput{URL: &url}
	if types != nil {
		in.EventTypes = &types
	}
	ep, err := e.Svc.CreateWebhookEndpoint(context.Background(), e.As(t, accountID), in)
	require.NoError(t, err)
	return ep
}

func (e *env) rename(t *testing.T, accountID, name string) {
	t.Helper()
	_, err := e.Svc.UpdateAccount(context.Background(), e.As(t, accountID), accountID, service.AccountPatch{Name: &name})
	require.NoError(t, err)
}

func (e *env) deliveries(t *testing.T, accountID, endpointID string) []*canopy.WebhookDelivery {
	t.Helper()
	page, err := e.Svc.ListWebhookDeliveries(context.Background(), e.As(t, accountID), endpointID, service.DeliveryQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	return page.Data
}

// TestDeliveriesAreSignedEventsAsListed: a receiver verifying with the
// Standard Webhooks algorithm accepts every delivery; each carries the
// event's id as webhook-id and the event, byte for byte as GET
// /v1/events shows it, as its body.
func TestDeliveriesAreSignedEventsAsListed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, always(http.StatusAccepted))
		top := e.Child(t, e.Root.ID)
		ep := e.endpoint(t, top.ID, rcv.URL+"/hooks")
		require.True(t, strings.HasPrefix(ep.Secret, "whsec_"))
		kid := e.Child(t, top.ID)
		e.rename(t, kid.ID, "Renamed <&>")
		e.rename(t, top.ID, "Top")

		res := e.drain(t)
		require.Equal(t, 4, res.Sent, "the endpoint's creation, the child, two renames: not what came before")
		events, err := e.Svc.ListEvents(ctx, e.As(t, top.ID), service.EventQuery{}, service.PageRequest{})
		require.NoError(t, err)
		byID := map[string]*canopy.Event{}
		for _, ev := range events.Data {
			byID[ev.ID] = ev
		}
		posts := rcv.got()
		require.Len(t, posts, 4)
		for _, p := range posts {
			require.NoError(t, verifyStandardWebhook(ep.Secret, p.header, p.body, e.Clock.Now()))
			require.Equal(t, "application/json", p.header.Get("Content-Type"))
			ev := byID[p.header.Get("webhook-id")]
			require.NotNil(t, ev, "webhook-id is the event's id")
			want, err := json.Marshal(ev)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(p.body))
		}
		for _, d := range e.deliveries(t, top.ID, ep.ID) {
			require.Equal(t, canopy.DeliverySucceeded, d.Status)
			require.Equal(t, 1, d.Attempts)
			require.Equal(t, &canopy.WebhookResponse{Status: http.StatusAccepted, Body: "post 1"}, d.LastResponse)
		}
		require.Zero(t, e.drain(t).Total(), "nothing is sent twice")
	})
}

// TestRetriesAfterFailuresDeliverOnceAcknowledged: 500s are retried after
// a backoff, with the same webhook-id and a fresh signature, until the
// endpoint acknowledges; then never again — unless replayed.
func TestRetriesAfterFailuresDeliverOnceAcknowledged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		top := e.Child(t, e.Root.ID)
		ep := e.endpoint(t, top.ID, rcv.URL, canopy.EventAccountUpdated)
		e.rename(t, top.ID, "Once")

		require.Equal(t, webhook.Result{Retried: 1}, e.drain(t))
		d := e.deliveries(t, top.ID, ep.ID)[0]
		require.Equal(t, canopy.DeliveryPending, d.Status)
		require.Equal(t, &canopy.WebhookResponse{Status: 500, Body: "post 1"}, d.LastResponse)
		require.Equal(t, "the endpoint answered 500", d.LastError)
		require.True(t, d.NextAttemptAt.After(e.Clock.Now()), "retried later, not at once")
		require.Zero(t, e.drain(t).Total(), "not before its time")

		e.Clock.Advance(10 * time.Minute)
		require.Equal(t, webhook.Result{Retried: 1}, e.drain(t))
		e.Clock.Advance(10 * time.Minute)
		require.Equal(t, webhook.Result{Sent: 1}, e.drain(t))
		e.Clock.Advance(time.Hour)
		require.Zero(t, e.drain(t).Total(), "acknowledged: done")

		posts := rcv.got()
		require.Len(t, posts, 3)
		for i, p := range posts {
			require.Equal(t, posts[0].header.Get("webhook-id"), p.header.Get("webhook-id"), "one webhook-id for every attempt")
			require.Equal(t, posts[0].body, p.body)
			if i > 0 {
				require.NotEqual(t, posts[i-1].header.Get("webhook-timestamp"), p.header.Get("webhook-timestamp"), "signed afresh")
			}
		}
		require.NoError(t, verifyStandardWebhook(ep.Secret, posts[2].header, posts[2].body, e.Clock.Now().Add(-time.Hour)))
		d = e.deliveries(t, top.ID, ep.ID)[0]
		require.Equal(t, canopy.DeliverySucceeded, d.Status)
		require.Equal(t, 3, d.Attempts)
		require.Equal(t, 200, d.LastResponse.Status)

		replayed, err := e.Svc.RetryWebhookDelivery(ctx, e.As(t, top.ID), ep.ID, d.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.DeliveryPending, replayed.Status)
		require.Equal(t, webhook.Result{Sent: 1}, e.drain(t), "a replay sends it again")
		require.Len(t, rcv.got(), 4)
	})
}

// TestAFailingDeliveryGivesUpAfterTheRetryPeriod: after WebhookRetryFor
// a delivery that never got through is failed and kept.
func TestAFailingDeliveryGivesUpAfterTheRetryPeriod(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t))
	rcv := newReceiver(t, always(http.StatusBadGateway))
	top := e.Child(t, e.Root.ID)
	ep := e.endpoint(t, top.ID, rcv.URL, canopy.EventAccountUpdated)
	e.rename(t, top.ID, "Doomed")
	for range 30 {
		e.drain(t)
		e.Clock.Advance(10 * time.Minute)
	}
	d := e.deliveries(t, top.ID, ep.ID)[0]
	require.Equal(t, canopy.DeliveryFailed, d.Status)
	require.Equal(t, 502, d.LastResponse.Status)
	require.GreaterOrEqual(t, d.Attempts, 12, "two hours of attempts, each at most ten minutes apart")
	require.Len(t, rcv.got(), d.Attempts)
}

// TestRotationOverlap: after a rotation, deliveries carry a signature by
// the new secret and one by the old until the overlap ends, so a receiver
// holding either accepts them.
func TestRotationOverlap(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testdb.SQLite(t))
	rcv := newReceiver(t, always(http.StatusOK))
	top := e.Child(t, e.Root.ID)
	ep := e.endpoint(t, top.ID, rcv.URL, canopy.EventAccountUpdated)
	old := ep.Secret

	hour := int64(3600)
	rotated, err := e.Svc.RotateWebhookSecret(ctx, e.As(t, top.ID), ep.ID, &hour)
	require.NoError(t, err)
	require.NotEqual(t, old, rotated.Secret)
	require.Equal(t, e.Clock.Now().Add(time.Hour), *rotated.PreviousSecretExpiresAt)
	got, err := e.Svc.GetWebhookEndpoint(ctx, e.As(t, top.ID), ep.ID)
	require.NoError(t, err)
	body, err := json.Marshal(got)
	require.NoError(t, err)
	require.NotContains(t, string(body), "whsec_", "a secret is shown once")

	e.rename(t, top.ID, "During the overlap")
	e.drain(t)
	post := rcv.got()[0]
	require.Len(t, strings.Fields(post.header.Get("webhook-signature")), 2)
	require.NoError(t, verifyStandardWebhook(old, post.header, post.body, e.Clock.Now()), "the old secret still verifies")
	require.NoError(t, verifyStandardWebhook(rotated.Secret, post.header, post.body, e.Clock.Now()), "and the new one")

	e.Clock.Advance(time.Hour + time.Second)
	e.rename(t, top.ID, "After the overlap")
	e.drain(t)
	post = rcv.got()[1]
	require.Len(t, strings.Fields(post.header.Get("webhook-signature")), 1)
	require.Error(t, verifyStandardWebhook(old, post.header, post.body, e.Clock.Now()), "the old secret no longer verifies")
	require.NoError(t, verifyStandardWebhook(rotated.Secret, post.header, post.body, e.Clock.Now()))

	none := int64(0)
	again, err := e.Svc.RotateWebhookSecret(ctx, e.As(t, top.ID), ep.ID, &none)
	require.NoError(t, err)
	require.Nil(t, again.PreviousSecretExpiresAt)
	e.rename(t, top.ID, "No overlap")
	e.drain(t)
	post = rcv.got()[2]
	require.Error(t, verifyStandardWebhook(rotated.Secret, post.header, post.body, e.Clock.Now()), "a rotation without overlap ends the old at once")
	require.NoError(t, verifyStandardWebhook(again.Secret, post.header, post.body, e.Clock.Now()))

	long := int64(8 * 24 * 3600)
	_, err = e.Svc.RotateWebhookSecret(ctx, e.As(t, top.ID), ep.ID, &long)
	require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(err), "at most a week")
}

// TestSSRFRefusals: endpoints are https URLs of public hosts, and no
// delivery connects to a private, loopback or link-local address — also
// when a public-looking name resolves to one — unless development allows.
func TestSSRFRefusals(t *testing.T) {
	ctx := context.Background()
	b := testfactory.New(t, testdb.SQLite(t))
	top := b.Child(t, b.Root.ID)
	for _, tt := range []struct {
		url, code string
	}{
		{"http://hooks.example.com/in", "insecure-url"},
		{"ftp://hooks.example.com/in", "insecure-url"},
		{"https://127.0.0.1/in", "private-address"},
		{"https://127.1.2.3:8443/in", "private-address"},
		{"https://10.0.0.7/in", "private-address"},
		{"https://172.16.5.4/in", "private-address"},
		{"https://192.168.1.1/in", "private-address"},
		{"https://169.254.169.254/latest/meta-data", "private-address"},
		{"https://100.64.0.1/in", "private-address"},
		{"https://0.0.0.0/in", "private-address"},
		{"https://[::1]/in", "private-address"},
		{"https://[fd00::1]/in", "private-address"},
		{"https://[fe80::1]/in", "private-address"},
		{"https://[::ffff:127.0.0.1]/in", "private-address"},
		{"https://[64:ff9b::a00:1]/in", "private-address"},
		{"https://localhost/in", "private-address"},
		{"https://api.localhost/in", "private-address"},
		{"https://user:pass@hooks.example.com/in", "invalid-url"},
		{"https://hooks.example.com/in#frag", "invalid-url"},
		{"/relative", "invalid-url"},
		{"", "required"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			u := tt.url
			_, err := b.Svc.CreateWebhookEndpoint(ctx, b.As(t, top.ID), service.WebhookEndpointInput{URL: &u})
			var ce *canopy.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, canopy.KindInvalid, ce.Kind)
			require.Equal(t, []canopy.FieldError{{Field: "url", Code: tt.code, Message: ce.Fields[0].Message}}, ce.Fields)
		})
	}
	ok := "https://hooks.example.com/in"
	_, err := b.Svc.CreateWebhookEndpoint(ctx, b.As(t, top.ID), service.WebhookEndpointInput{URL: &ok})
	require.NoError(t, err, "a public https URL")

	t.Run("a name that resolves to a private address is refused at connect time", func(t *testing.T) {
		host, err := os.Hostname()
		require.NoError(t, err)
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil || len(addrs) == 0 {
			t.Skipf("this machine's name %q does not resolve", host)
		}
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err != nil || canopy.PublicAddress(ip) {
				t.Skipf("this machine's name %q resolves to a public address", host)
			}
		}
		rcv := newReceiver(t, always(http.StatusOK))
		_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
		client := webhook.NewClient(webhook.ClientConfig{Timeout: 5 * time.Second})
		_, err = client.Post(ctx, webhook.Delivery{URL: "https://" + net.JoinHostPort(host, port) + "/in", ID: "evt_1",
			Secrets: []string{"whsec_c2VjcmV0"}, Body: []byte(`{}`)}, time.Now())
		require.ErrorIs(t, err, webhook.ErrPrivateAddress)
		require.Empty(t, rcv.got(), "nothing reached the receiver")
	})

	t.Run("an endpoint made in development is not posted to without the flag", func(t *testing.T) {
		e := newEnv(t, testdb.SQLite(t))
		rcv := newReceiver(t, always(http.StatusOK))
		top := e.Child(t, e.Root.ID)
		ep := e.endpoint(t, top.ID, rcv.URL, canopy.EventAccountUpdated)
		strict := webhook.NewWorker(e.Svc, webhook.NewClient(webhook.ClientConfig{}), webhook.WorkerConfig{Clock: e.Clock.Now}, nil)
		e.rename(t, top.ID, "Strict")
		res, err := strict.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, webhook.Result{Retried: 1}, res)
		require.Empty(t, rcv.got())
		d := e.deliveries(t, top.ID, ep.ID)[0]
		require.Contains(t, d.LastError, "https")
		require.Nil(t, d.LastResponse)
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		e := newEnv(t, testdb.SQLite(t))
		target := newReceiver(t, always(http.StatusOK))
		redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
		t.Cleanup(redirect.Close)
		top := e.Child(t, e.Root.ID)
		ep := e.endpoint(t, top.ID, redirect.URL, canopy.EventAccountUpdated)
		e.rename(t, top.ID, "Redirected")
		require.Equal(t, webhook.Result{Retried: 1}, e.drain(t))
		require.Empty(t, target.got())
		require.Equal(t, http.StatusTemporaryRedirect, e.deliveries(t, top.ID, ep.ID)[0].LastResponse.Status)
	})
}
