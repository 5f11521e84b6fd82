package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// TestUsageChartMatchesTheUsageReport: the credits page draws one bar per
// child with the report's numbers for the period chosen, lists every
// child in the table beside it, and the CSV for billing holds the same.
func TestUsageChartMatchesTheUsageReport(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	s.Fund(t, u)
	var children []*canopy.Account
	for i := range 4 {
		c := s.Child(t, u)
		children = append(children, c)
		for range i + 1 {
			_, err := s.Svc.RecordUsage(ctx, s.As(t, c.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: int64(10 * (i + 1))})
			require.NoError(t, err)
		}
	}
	_, err := s.Svc.RecordUsage(ctx, s.As(t, u), service.UsageInput{Type: canopy.CreditMessage, Quantity: 3})
	require.NoError(t, err)
	admin := s.as(t, s.admin)
	p := admin.get(app(u, "credits"))
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	rep, err := s.Svc.GetUsage(ctx, s.As(t, u), u, time.Time{}, time.Time{}, "child")
	require.NoError(t, err)
	bars := map[string]int64{}
	for _, m := range regexp.MustCompile(`<g class="bar" data-account="(acc_\w+)" data-value="(\d+)">`).FindAllStringSubmatch(p.Body, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		bars[m[1]] = n
	}
	want := map[string]int64{}
	for _, g := range rep.Groups {
		for _, x := range g.Usage {
			if x.Type == canopy.CreditUpload {
				want[g.AccountID] = x.Amount
			}
		}
		if _, ok := want[g.AccountID]; !ok {
			want[g.AccountID] = 0
		}
	}
	require.Equal(t, want, bars, "one bar per group of the report, with its upload usage")
	require.Equal(t, int64(160), bars[children[3].ID])
	require.Contains(t, p.Body, `role="img" aria-labelledby="usage-chart-title usage-chart-desc"`)
	require.Contains(t, p.Body, `<title id="balance-chart-title">`)
	for _, c := range children {
		require.Contains(t, p.Body, `<tr data-account="`+c.ID+`"><th scope="row"><a href="`+app(u, "credits", c.ID)+`">`+c.Name+`</a></th>`)
	}

	csvBody := admin.get(app(u, "credits", "usage.csv") + "?from=2026-11-01&to=2026-11-30").Body
	require.Contains(t, csvBody, "Account,Name,From,To,upload,message\n")
	require.Contains(t, csvBody, children[3].ID+","+children[3].Name+",2026-11-01,2026-11-30,160,0\n")
	require.Contains(t, csvBody, u+",Umbrella Health (itself),2026-11-01,2026-11-30,0,3\n")

	empty := admin.get(app(u, "credits") + "?from=2026-10-01&to=2026-10-31&usageType=message")
	require.Equal(t, http.StatusOK, empty.Status)
	require.Contains(t, empty.Body, "No usage in this period.")
	bad := admin.get(app(u, "credits") + "?from=2026-11-30&to=2026-11-01")
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Regexp(t, `name="to"[^>]*aria-invalid="true"`, bad.Body)
}

// TestCapFromThePageStopsTheNextDebit is rule 8 (docs/rules.md) from the
// credits page: the umbrella caps a child's uploads; the next debit over
// the cap is refused with 402, and removing the cap lets it through. A
// child cannot cap itself: the form is not offered, and forced it is
// refused.
func TestCapFromThePageStopsTheNextDebit(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	s.Fund(t, u)
	child := s.Child(t, u)
	admin := s.as(t, s.admin)
	page := app(u, "credits", child.ID)
	p := admin.get(page)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "Its usage is paid by <strong>Umbrella Health</strong>")
	require.Contains(t, p.Body, `action="`+page+`/limits"`)

	bad := admin.post(page+"/limits", url.Values{"type": {"upload"}, "monthly": {"lots"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	require.Regexp(t, `name="monthly"[^>]*aria-invalid="true"`, bad.Body)

	set := admin.follow(admin.post(page+"/limits", url.Values{"type": {"upload"}, "monthly": {"5"}}))
	require.Contains(t, set.Body, "The monthly cap is set.")
	_, err := s.Svc.RecordUsage(ctx, s.As(t, child.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 5})
	require.NoError(t, err)
	_, err = s.Svc.RecordUsage(ctx, s.As(t, child.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 1})
	require.Equal(t, canopy.KindPaymentRequired, canopy.ErrorKind(err), "over the cap")

	removed := admin.follow(admin.post(page+"/limits/upload/delete", nil))
	require.Contains(t, removed.Body, "The cap is removed.")
	_, err = s.Svc.RecordUsage(ctx, s.As(t, child.ID), service.UsageInput{Type: canopy.CreditUpload, Quantity: 1})
	require.NoError(t, err)

	transferred := admin.follow(admin.post(page+"/transfers", url.Values{"type": {"message"}, "amount": {"25"}, "reason": {"start-up"}}))
	require.Contains(t, transferred.Body, "The credits are transferred.")
	cr, err := s.Svc.GetCredits(ctx, s.As(t, child.ID), child.ID)
	require.NoError(t, err)
	require.Equal(t, int64(25), cr.Balances[1].Amount)
	ledger := admin.get(app(u, "credits", "ledger") + "?account=" + child.ID + "&kind=transfer")
	require.Equal(t, http.StatusOK, ledger.Status)
	require.Contains(t, ledger.Body, "+25 message")
	require.Contains(t, ledger.Body, "start-up")

	own := s.as(t, child.Email)
	require.NotContains(t, own.get(app(child.ID, "credits")).Body, "/limits")
	forced := own.post(app(child.ID, "credits", child.ID, "limits"), url.Values{"type": {"upload"}, "monthly": {"0"}})
	require.Equal(t, http.StatusSeeOther, forced.Status, "its own page is /credits")
	forced = own.post(app(child.ID, "credits", u, "limits"), url.Values{"type": {"upload"}, "monthly": {"0"}})
	require.Equal(t, http.StatusNotFound, forced.Status, "nor an ancestor's")
}

// TestBalanceChartFollowsTheBalance: the line chart's last point is the
// balance now, and its table lists every day.
func TestBalanceChartFollowsTheBalance(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	u := s.umbrella.ID
	s.Fund(t, u)
	for range 3 {
		s.Clock.Advance(24 * time.Hour)
		_, err := s.Svc.RecordUsage(ctx, s.As(t, u), service.UsageInput{Type: canopy.CreditUpload, Quantity: 1000})
		require.NoError(t, err)
	}
	p := s.as(t, s.admin).get(app(u, "credits"))
	dots := regexp.MustCompile(`<circle class="dot"[^>]*data-label="([0-9-]+)" data-value="(\d+)">`).FindAllStringSubmatch(p.Body, -1)
	require.Len(t, dots, 30)
	last := dots[len(dots)-1]
	require.Equal(t, canopy.DayOf(s.Clock.Now()), last[1])
	require.Equal(t, "997000", last[2])
	require.Equal(t, "998000", dots[len(dots)-2][2])
	require.Equal(t, "0", dots[len(dots)-5][2], "before the grant")
	months := s.as(t, s.admin).get(app(u, "credits") + "?step=month")
	require.Equal(t, 12, strings.Count(months.Body, `<circle class="dot"`))
}
