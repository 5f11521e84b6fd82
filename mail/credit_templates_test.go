package mail_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

func TestLowBalanceNoticeSaysHowMuchIsLeft(t *testing.T) {
	t.Parallel()
	tmpl := load(t, "")
	for _, tt := range []struct {
		name      string
		balance   int64
		threshold int64
		want      string
	}{
		{"below a threshold", 489, 500, "at or below 500"},
		{"empty", 0, 0, "refused until credits are added"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := data{Brand: canopy.Brand{Name: "Acme"}, AccountName: "Acme Umbrella", UserName: "Ada",
				Link: "https://app.example.com/credits", CreditType: "upload", Threshold: tt.threshold, Balance: tt.balance}
			subject, text, html, err := tmpl.Render(as(canopy.TemplateLowBalance, d))
			require.NoError(t, err)
			require.Contains(t, subject, "upload credits left on Acme")
			require.Contains(t, text, "Hello Ada")
			require.Contains(t, text, tt.want)
			require.Contains(t, text, "https://app.example.com/credits")
			require.Contains(t, html, "Acme Umbrella")
			require.Contains(t, html, `href="https://app.example.com/credits"`)
		})
	}
}
