package console

import (
	"context"
	"strings"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// memberships are the accounts a person belongs to. Today a user belongs
// to exactly one account; when a person holds memberships in several, this
// is the one function to change, and the switcher, the invitation landing
// page and the sign-in redirect follow.
func (h *Handler) memberships(p service.Principal) []string {
	return []string{p.AccountID}
}

// switchScan bounds how many descendants the switcher reads to answer one
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
// contains q: their own accounts and, where they are admins, the accounts
// below that service.Act lets them act as (rule 2 (docs/rules.md) decides,
// not the console). It reports whether there were more than it shows.
func (h *Handler) switchable(ctx context.Context, p service.Principal, requestID, q string) ([]choice, bool, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	matches := func(a *canopy.Account) bool {
		return q == "" || strings.Contains(strings.ToLower(a.Name), q) || strings.Contains(strings.ToLower(a.ID), q)
	}
	var out []choice
	for _, id := range h.memberships(p) {
		acting, err := h.svc.Act(ctx, p, id)
		if err != nil {
			continue
		}
		c := service.Caller{Principal: p, Acting: acting, RequestID: requestID, Channel: channel}
		own, err := h.svc.GetAccount(ctx, c, id)
		if err != nil {
			return nil, false, err
		}
		if matches(own) {
			out = append(out, choice{Account: own})
		}
		if !p.MayManage() {
			continue
		}
		// Without a search the first screenful is all it shows: read no more.
		limit := service.MaxPageLimit
		if q == "" {
			limit = switchShow + 1
		}
		scanned, cursor := 0, ""
		for scanned < switchScan {
			page, err := h.svc.ListDescendants(ctx, c, id, 0, service.PageRequest{Limit: limit, Cursor: cursor})
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
				if len(out) == switchShow {
					return out, true, nil
				}
				out = append(out, choice{Account: a, Depth: a.Depth() - own.Depth()})
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
	choices, more, err := h.switchable(rq.r.Context(), rq.caller.Principal, rq.caller.RequestID, q)
	if err != nil {
		return err
	}
	return h.page(rq, 200, "switch", "", "Switch account", newForm(map[string][]string{"q": {q}}),
		switchData{Query: q, Choices: choices, More: more})
}
