package console

import (
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// dashboardPage is how many forms each dashboard section lists at once.
const dashboardPage = 20

type dashboardData struct {
	*service.Dashboard
	// Section, when set, is the one section being paged through.
	Section string
}

// dashboard shows the acting account's own forms, the forms shared with
// it and its ancestors' examples (rule 7 (docs/rules.md)), with counts;
// ?section=&cursor= pages through one of them.
func (h *Handler) dashboard(rq *request) error {
	q := rq.r.URL.Query()
	section := q.Get("section")
	d, err := h.svc.GetDashboard(rq.r.Context(), rq.caller, section, service.PageRequest{Limit: dashboardPage, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(rq, http.StatusOK, "dashboard", "dashboard", "Dashboard", nil, dashboardData{Dashboard: d, Section: section})
}

// copyForm copies a form the account may view (an ancestor's example) into
// its own forms.
func (h *Handler) copyForm(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f, err := h.svc.CopyForm(rq.r.Context(), rq.caller, rq.r.PathValue("formId"), rq.r.PostForm.Get("name"))
	msg, to := "", canopy.ConsolePage(rq.caller.Acting.ID)
	if err == nil {
		msg = "“" + f.Name + "” is now one of your forms."
		if checked(rq.r.PostForm, "open") {
			// Copied from the form's own page: open the copy.
			to = canopy.ConsolePage(rq.caller.Acting.ID, "forms", f.ID)
		}
	}
	return h.outcome(rq, to, msg, err)
}
