package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// The Sharing tab's sub-tabs that collect from the field, as Magpi lays
// them out: "Mobile App or Website" (web links), "Structured SMS" and
// "Interactive SMS" (numbers authorised to text answers). Those who edit
// the form's data set them up, without the umbrella's help; every text
// and record is paid by their account's payer (rule 8 (docs/rules.md)).

// collectView names a collection sub-tab and its SMS mode.
type collectView struct {
	Name, Title string
	Mode        canopy.SMSMode
}

var collectViews = map[string]collectView{
	"web":         {"web", "Mobile App or Website", ""},
	"structured":  {"structured", "Structured SMS", canopy.SMSStructured},
	"interactive": {"interactive", "Interactive SMS", canopy.SMSInteractive},
}

type collectData struct {
	Head formHead
	View string
	// Web links.
	Links []*service.LinkView
	// SMS: the form's code and number, and the numbers of this mode.
	Mode       canopy.SMSMode
	Settings   *service.SMSSettings
	Collectors []*canopy.SMSCollector
	More       bool
}

// collect shows a collection sub-tab.
func (h *Handler) collect(rq *request) error {
	head, err := h.head(rq, rq.r.PathValue("formId"), "sharing")
	if err != nil {
		return err
	}
	return h.showCollect(rq, http.StatusOK, head, rq.r.PathValue("view"), nil)
}

func (h *Handler) showCollect(rq *request, status int, head formHead, view string, f *form) error {
	ctx := rq.r.Context()
	v, ok := collectViews[view]
	if !ok {
		return canopy.NotFound("page")
	}
	d := collectData{Head: head, View: v.Name, Mode: v.Mode}
	fid := head.Form.ID
	if v.Mode == "" {
		page, err := h.svc.ListLinks(ctx, rq.caller, fid, service.PageRequest{Limit: service.MaxPageLimit})
		if err != nil {
			return err
		}
		d.Links = page.Data
	} else {
		var err error
		if d.Settings, err = h.svc.GetSMSSettings(ctx, rq.caller, fid); err != nil {
			return err
		}
		page, err := h.svc.ListCollectors(ctx, rq.caller, fid, service.CollectorQuery{Mode: v.Mode}, service.PageRequest{Limit: service.MaxPageLimit})
		if err != nil {
			return err
		}
		d.Collectors, d.More = page.Data, page.NextCursor != nil
	}
	if f == nil {
		f = newForm(nil)
		if d.Settings != nil && d.Settings.Code != nil {
			f.Values.Set("code", *d.Settings.Code)
		}
	}
	return h.page(rq, status, "collect", "forms", head.Form.Name+": "+v.Title, f, d)
}

// collectWrite runs one of a sub-tab's forms: on a mistake the sub-tab
// again with the errors beside the fields, else back to it with msg.
func (h *Handler) collectWrite(rq *request, view string, write func(f *form, formID string) (string, error)) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	formID := rq.r.PathValue("formId")
	f := newForm(rq.r.PostForm)
	msg, err := write(f, formID)
	if err != nil {
		if !f.fail(err) {
			return err
		}
		head, herr := h.head(rq, formID, "sharing")
		if herr != nil {
			return herr
		}
		return h.showCollect(rq, formStatus(err), head, view, f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "sharing", view), msg)
}

// createLink makes a web link, with an optional cap and expiry (the end
// of the day chosen, UTC).
func (h *Handler) createLink(rq *request) error {
	return h.collectWrite(rq, "web", func(f *form, formID string) (string, error) {
		var in service.LinkInput
		if s := strings.TrimSpace(f.Values.Get("expiresAt")); s != "" {
			day, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return "", canopy.InvalidField("expiresAt", "invalid", "must be a date such as 2026-12-31")
			}
			end := day.AddDate(0, 0, 1)
			in.ExpiresAt = &end
		}
		if s := strings.TrimSpace(f.Values.Get("maxSubmissions")); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				n = 0 // not a number: out of range, named by the service
			}
			in.MaxSubmissions = &n
		}
		l, err := h.svc.CreateLink(rq.r.Context(), rq.caller, formID, in)
		if err != nil {
			return "", err
		}
		return "The link is ready: " + l.URL, nil
	})
}

func (h *Handler) revokeLink(rq *request) error {
	formID := rq.r.PathValue("formId")
	err := h.svc.RevokeLink(rq.r.Context(), rq.caller, formID, rq.r.PathValue("linkId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "sharing", "web"),
		"The link is revoked: it takes no more answers.", err)
}

// setFormCode changes the code texts name the form by.
func (h *Handler) setFormCode(rq *request) error {
	view := rq.r.PathValue("view")
	return h.collectWrite(rq, view, func(f *form, formID string) (string, error) {
		code := f.Values.Get("code")
		s, err := h.svc.UpdateSMSSettings(rq.r.Context(), rq.caller, formID, service.SMSSettingsPatch{Code: &code})
		if err != nil {
			return "", err
		}
		return "The form's code is " + *s.Code + " now; texts with the old one are not taken any more.", nil
	})
}

// addCollectors authorises numbers (one a line) in the sub-tab's mode and
// sends each its one-time message.
func (h *Handler) addCollectors(rq *request) error {
	view := rq.r.PathValue("view")
	v, ok := collectViews[view]
	if !ok || v.Mode == "" {
		return canopy.NotFound("page")
	}
	return h.collectWrite(rq, view, func(f *form, formID string) (string, error) {
		in := service.CollectorsInput{Mode: v.Mode, Message: f.Values.Get("message")}
		for _, n := range strings.Split(f.Values.Get("numbers"), "\n") {
			if n = strings.TrimSpace(n); n != "" {
				in.Numbers = append(in.Numbers, n)
			}
		}
		res, err := h.svc.AddCollectors(rq.r.Context(), rq.caller, formID, in)
		if err != nil {
			return "", err
		}
		msg := "Authorised " + strconv.Itoa(len(res.Collectors)) + " number"
		if len(res.Collectors) != 1 {
			msg += "s"
		}
		if len(res.Messages) > 0 {
			msg += ". The one-time message on its way: “" + res.Messages[0].Body + "”"
		} else {
			msg += ". Nothing was sent: the number asked to receive no texts (STOP)."
		}
		return msg, nil
	})
}

func (h *Handler) removeCollector(rq *request) error {
	formID, view := rq.r.PathValue("formId"), rq.r.PathValue("view")
	err := h.svc.DeleteCollector(rq.r.Context(), rq.caller, formID, rq.r.PathValue("number"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "forms", formID, "sharing", view),
		"The number is removed: its texts are ignored from now on.", err)
}
