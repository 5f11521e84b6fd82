package console

import (
	"context"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// memberships are the person's memberships, with their accounts' names,
// invitations included (service.WhoAmI lists them). This is the one place
// the console learns where a person belongs: the switcher, the invitation
// landing page and the front page all start here.
func (h *Handler) memberships(ctx context.Context, p service.Principal, requestID string) ([]*service.Membership, error) {
	me, err := h.svc.WhoAmI(ctx, service.Caller{Principal: p, RequestID: requestID, Channel: channel})
	if err != nil {
		return nil, err
	}
	return me.Memberships, nil
}

// active are the accounts of the person's active memberships.
func (h *Handler) active(ctx context.Context, p service.Principal, requestID string) ([]string, error) {
	ms, err := h.memberships(ctx, p, requestID)
	if err != nil {
		return nil, err
	}
	return activeOf(ms), nil
}

func activeOf(ms []*service.Membership) []string {
	var out []string
	for _, m := range ms {
		if m.User.Status == canopy.UserActive {
			out = append(out, m.User.AccountID)
		}
	}
	return out
}

// switchScan bounds how many matching descendants the switcher reads to answer one
// search; switchShow, how many choices it lists.
const (
	switchScan = 5000
	switchShow = 50
)

// choice is an account the person may act as.
type choice struct {
	Account *canopy.Account
	// Depth is how far below the person's own account it lies (0: theirs).
	Depth int
}

// switchable lists the accounts the person may act as whose name (or id)
// contains q: the accounts of their active memberships and, where they are
// admins, the accounts below that service.Act lets them act as (rule 2
// (docs/rules.md) decides, not the console). It reports whether there were
// more than it shows.
func (h *Handler) switchable(ctx context.Context, p service.Principal, ms []*service.Membership, requestID, q string) ([]choice, bool, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if len(q) > service.MaxSearchLength {
		// Longer than a search may be: search for its start instead.
		q = strings.ToValidUTF8(q[:service.MaxSearchLength], "")
	}
	matches := func(a *canopy.Account) bool {
		return q == "" || strings.Contains(strings.ToLower(a.Name), q) || strings.Contains(strings.ToLower(a.ID), q)
	}
	ids := activeOf(ms)
	var out []choice
	seen := map[string]bool{}
	add := func(a *canopy.Account, depth int) bool {
		if seen[a.ID] {
			return true
		}
		seen[a.ID] = true
		if len(out) == switchShow {
			return false
		}
		out = append(out, choice{Account: a, Depth: depth})
		return true
	}
	for _, id := range ids {
		c, err := h.svc.NewCaller(ctx, p, id, service.RequestInfo{RequestID: requestID, Channel: channel})
		if err != nil {
			continue
		}
		own, err := h.svc.GetAccount(ctx, c, id)
		if err != nil {
			return nil, false, err
		}
		if matches(own) && !add(own, 0) {
			return out, true, nil
		}
		if !c.MayManage() {
			continue
		}
		// Without a search the first screenful is all it shows: read no more.
		limit := service.MaxPageLimit
		if q == "" {
			limit = switchShow + 1
		}
		scanned, cursor := 0, ""
		for scanned < switchScan {
			// The search runs in the database: only matches come back.
			page, err := h.svc.FindAccounts(ctx, c, service.AccountFilter{Search: q}, service.PageRequest{Limit: limit, Cursor: cursor})
			if err != nil {
				return nil, false, err
			}
			for _, a := range page.Data {
				scanned++
				if a.Status == canopy.StatusClosed || !matches(a) {
					continue
				}
				if _, err := h.svc.Act(ctx, p, a.ID); err != nil {
					continue
				}
				if !add(a, a.Depth()-own.Depth()) {
					return out, true, nil
				}
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
	}
	return out, false, nil
}

type switchData struct {
	Query   string
	Choices []choice
	More    bool
}

// switchPage lists the accounts to switch to, searchable by name.
func (h *Handler) switchPage(rq *request) error {
	q := rq.r.URL.Query().Get("q")
	choices, more, err := h.switchable(rq.r.Context(), rq.caller.Principal, rq.me.Memberships, rq.caller.RequestID, q)
	if err != nil {
		return err
	}
	return h.page(rq, 200, "switch", "", "Switch account", newForm(map[string][]string{"q": {q}}),
		switchData{Query: q, Choices: choices, More: more})
}
