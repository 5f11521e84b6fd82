package sdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/sdk"
)

// TestVerifyWebhook: what the server signs (canopy.SignWebhook) verifies,
// the Standard Webhooks test vector verifies, and a changed body, another
// secret or a stale timestamp does not.
func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	secret, err := canopy.NewWebhookSecret()
	require.NoError(t, err)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_01KAQ4N4M0V9R1D7X6E3XZ6C9T","type":"account.created","data":{}}`)
	sig, err := canopy.SignWebhook([]string{secret}, "evt_01KAQ4N4M0V9R1D7X6E3XZ6C9T", now, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("webhook-id", "evt_01KAQ4N4M0V9R1D7X6E3XZ6C9T")
	h.Set("webhook-timestamp", "1800000000")
	h.Set("webhook-signature", sig)
	e, err := sdk.VerifyWebhook(secret, h, body, now.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, sdk.EventType("account.created"), e.Type)

	other, _ := canopy.NewWebhookSecret()
	_, err = sdk.VerifyWebhook(other, h, body, now)
	require.ErrorIs(t, err, sdk.ErrWebhookSignature)
	_, err = sdk.VerifyWebhook(secret, h, append(body, ' '), now)
	require.ErrorIs(t, err, sdk.ErrWebhookSignature)
	_, err = sdk.VerifyWebhook(secret, h, body, now.Add(10*time.Minute))
	require.Error(t, err, "stale")

	vector := http.Header{}
	vector.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	vector.Set("webhook-timestamp", "1614265330")
	vector.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	_, err = sdk.VerifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", vector, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0))
	require.NoError(t, err)
}

// TestRetriesWhatIsSafe: a POST (which always has an Idempotency-Key) is
// sent again, with the same key, when the API answers 503 busy; a PATCH
// without a key is not.
func TestRetriesWhatIsSafe(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	keys := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys <- r.Header.Get("Idempotency-Key")
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":503,"code":"busy","detail":"busy"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"requestId":"01KAQ4N4M0V9R1D7X6E3XZ6C9T"}`))
	}))
	defer srv.Close()
	c, err := sdk.New(srv.URL, "cnp_test")
	require.NoError(t, err)
	_, err = c.RecordUsageWithResponse(context.Background(), nil, sdk.UsageInput{Type: "upload", Quantity: 1})
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load(), "busy, then sent again")
	first, second := <-keys, <-keys
	require.NotEmpty(t, first)
	require.Equal(t, first, second, "with the same Idempotency-Key")

	calls.Store(0)
	res, err := sdk.Result(c.UpdateAccountWithResponse(context.Background(), "acc_01KAQ4N4M0V9R1D7X6E3XZ6C9T", nil, sdk.AccountPatch{Name: sdk.Ptr("x")}))
	require.True(t, sdk.HasCode(err, "busy"), "a PATCH without a key is not repeated: %v %v", res, err)
	require.EqualValues(t, 1, calls.Load())
}
