package mail_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

func TestWebhookDisabledNoticeNamesTheEndpointAndSince(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	e := &canopy.WebhookDisabledEmail{
		EmailCommon: canopy.EmailCommon{Brand: canopy.Brand{Name: "Acme"}, AccountName: "Acme Dental", UserName: "Ada",
			Link: "https://app.example.com/app/acc_1"},
		WebhookURL: "https://hooks.example.com/in", FailingSince: time.Date(2026, 11, 18, 9, 30, 0, 0, time.UTC),
	}
	subject, text, html, err := tmpl.Render(e)
	require.NoError(t, err)
	require.Contains(t, subject, "Acme Dental: a webhook endpoint was disabled on Acme")
	require.Contains(t, text, "Hello Ada")
	require.Contains(t, text, "https://hooks.example.com/in failed every delivery since Wednesday 18 November 2026, 09:30 UTC")
	require.Contains(t, text, "https://app.example.com/app/acc_1")
	require.Contains(t, html, "<strong>https://hooks.example.com/in</strong>")
	require.Contains(t, html, `href="https://app.example.com/app/acc_1"`)
}
