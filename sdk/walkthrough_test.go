package sdk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/sdk"
)

const rootKey = "cnp_sdk-walkthrough-root-key-0123456789"

// serve builds canopy and runs `canopy serve` on a fresh SQLite file,
// with webhooks to loopback allowed, and returns its base URL.
func serve(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "canopy")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/canopy").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database-url", "sqlite:"+filepath.Join(dir, "canopy.db"),
		"--mail-dir", filepath.Join(dir, "mail"), "--sms-dir", filepath.Join(dir, "sms"), "--webhook-allow-local")
	cmd.Env = append(os.Environ(), "CANOPY_ROOT_API_KEY="+rootKey)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("canopy serve did not start")
		return ""
	}
}

// TestWalkthrough runs README.md's walk-through against canopy serve.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs canopy serve; skipped with -short")
	}
	ctx := context.Background()
	base := serve(t)
	client, err := sdk.New(base, rootKey, sdk.Channel("sdk-test"))
	require.NoError(t, err)

	// 1. A top-level customer.
	customer, err := sdk.Result(client.CreateAccountWithResponse(ctx, nil, sdk.CreateChildRequest{
		Account: sdk.ChildAccountInput{Name: "Acme Reseller", Email: sdk.Ptr("ops@acme.example"), Plan: sdk.Ptr(sdk.Enterprise)},
	}))
	require.NoError(t, err)
	acme := customer.JSON201.Account.ID

	// 2. Its client, with everything at once; the same key again replays.
	body := sdk.CreateChildRequest{
		Account: sdk.ChildAccountInput{Name: "Acme Dental", Email: sdk.Ptr("ops@dental.example"), Plan: sdk.Ptr(sdk.Basic),
			Metadata: &sdk.Metadata{"region": "eu"}},
		MasterUser: &sdk.MasterUserInput{Email: "admin@dental.example", Username: sdk.Ptr("dental-admin"), Name: sdk.Ptr("Ada")},
		Workflows:  &[]sdk.WorkflowName{"kyc-standard"},
		Users: &[]sdk.ChildUserInput{{Email: "bo@dental.example", Name: sdk.Ptr("Bo"),
			Role: sdk.Ptr(sdk.ChildUserInputRoleMember)}},
		Configurations:     &map[string]any{"white_label_portal": map[string]any{"brandName": "Acme", "primaryColor": "#FF6600"}},
		ExternalReferences: &[]sdk.ExternalReferenceInput{{Type: "crm", Value: "C-1001"}},
	}
	child, err := sdk.Result(client.CreateAccountWithResponse(ctx, nil, body, sdk.AsCustomer(acme), sdk.WithIdempotencyKey("create-acme-dental")))
	require.NoError(t, err)
	dental := child.JSON201.Account.ID
	require.Equal(t, acme, *child.JSON201.Account.ParentID)
	require.Len(t, child.JSON201.Users, 2, "the master user and Bo")
	again, err := sdk.Result(client.CreateAccountWithResponse(ctx, nil, body, sdk.AsCustomer(acme), sdk.WithIdempotencyKey("create-acme-dental")))
	require.NoError(t, err)
	require.Equal(t, "true", again.HTTPResponse.Header.Get("Idempotent-Replayed"))
	require.Equal(t, dental, again.JSON201.Account.ID, "the same key, the same child: nothing created twice")

	// 3. The child sees itself and its configuration, byte for byte …
	self, err := sdk.Result(client.GetAccountWithResponse(ctx, dental, nil, sdk.AsCustomer(dental)))
	require.NoError(t, err)
	require.Equal(t, "Acme Dental", self.JSON200.Name)
	wl, err := sdk.Result(client.GetConfigurationWithResponse(ctx, dental, "white_label_portal", nil))
	require.NoError(t, err)
	require.JSONEq(t, `{"brandName":"Acme","primaryColor":"#FF6600"}`, string(wl.Body))
	// … never its parent.
	_, err = sdk.Result(client.GetAccountWithResponse(ctx, acme, nil, sdk.AsCustomer(dental)))
	require.True(t, sdk.HasCode(err, "not-found"), "%v", err)
	var apiErr *sdk.APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, http.StatusNotFound, apiErr.Status)
	require.NotEmpty(t, apiErr.RequestID)
	// A bad request names its field.
	_, err = sdk.Result(client.CreateAccountWithResponse(ctx, nil, sdk.CreateChildRequest{Account: sdk.ChildAccountInput{Name: ""}}))
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "validation-failed", apiErr.Code)
	require.Equal(t, "account.name", apiErr.Fields[0].Field)

	// 4. By its CRM id; the customer's subtree; a key of its own.
	var found []string
	for a, err := range client.Accounts(ctx, &sdk.ListAccountsParams{ExternalReference: sdk.Ptr("crm:C-1001")}) {
		require.NoError(t, err)
		found = append(found, a.ID)
	}
	require.Equal(t, []string{dental}, found)
	for range 3 {
		_, err := sdk.Result(client.CreateAccountWithResponse(ctx, nil, sdk.CreateChildRequest{
			Account: sdk.ChildAccountInput{Name: "Clinic", Email: sdk.Ptr("ops@clinic.example")}}, sdk.AsCustomer(dental)))
		require.NoError(t, err)
	}
	var below []string
	for a, err := range client.Descendants(ctx, acme, &sdk.ListDescendantsParams{Depth: sdk.Ptr(int64(2)), Limit: sdk.Ptr(sdk.Limit(2))}) {
		require.NoError(t, err)
		below = append(below, a.Name)
	}
	require.Equal(t, []string{"Acme Dental", "Clinic", "Clinic", "Clinic"}, below, "every page, two at a time")
	key, err := sdk.Result(client.CreateAPIKeyWithResponse(ctx, dental, nil, sdk.CreateAPIKeyRequest{Name: sdk.Ptr("dental backend")}))
	require.NoError(t, err)
	own, err := sdk.New(base, *key.JSON201.Secret)
	require.NoError(t, err)
	_, err = sdk.Result(own.GetAccountWithResponse(ctx, dental, nil))
	require.NoError(t, err, "the new key acts as the child")

	// 5. Events, and the same events signed at a webhook endpoint.
	var (
		mu       sync.Mutex
		received []*sdk.Event
		secret   string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		e, err := sdk.VerifyWebhook(secret, r.Header, raw, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		received = append(received, e)
	}))
	defer hook.Close()
	mu.Lock()
	ep, err := sdk.Result(client.CreateWebhookEndpointWithResponse(ctx, nil, sdk.CreateWebhookEndpointRequest{
		URL: hook.URL, EventTypes: &[]sdk.EventTypeSelector{"account.*"}}, sdk.AsCustomer(acme)))
	require.NoError(t, err)
	secret = *ep.JSON201.Secret
	mu.Unlock()
	_, err = sdk.Result(client.UpdateAccountWithResponse(ctx, dental, nil, sdk.AccountPatch{Name: sdk.Ptr("Acme Dental Group")}))
	require.NoError(t, err)
	var types []string
	for e, err := range client.Events(ctx, &sdk.ListEventsParams{Type: sdk.Ptr("account.*")}, sdk.AsCustomer(acme)) {
		require.NoError(t, err)
		types = append(types, string(e.Type))
	}
	require.Equal(t, []string{"account.created", "account.created", "account.created", "account.created", "account.created", "account.updated"}, types,
		"acme, its client and three clinics below it, then the rename")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) == 1
	}, 30*time.Second, 20*time.Millisecond, "the rename reaches the endpoint, verified")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, sdk.EventType("account.updated"), received[0].Type)
	data, _ := json.Marshal(received[0].Target)
	require.Contains(t, string(data), dental)
}
