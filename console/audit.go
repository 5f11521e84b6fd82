package console

import (
	"cmp"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

type auditData struct {
	Page  service.Page[*canopy.AuditEvent]
	Rows  []auditRow
	Names map[string]string
	Query url.Values
}

// auditRow is an event as the audit table writes it, its links and names
// written here (each template call is a reflective one: a page of 50
// events made over a thousand).
type auditRow struct {
	*canopy.AuditEvent
	When                              string
	ActionLink, TargetLink, ActorLink template.URL
	// Account names the account; Acting the one acted as when another
	// (ActingOther); ActorOf the account of the actor's credential.
	Account, Acting, ActorOf string
	ActingOther              bool
}

// audit lists the audit trail of the acting account's subtree, newest
// first (rule 10 (docs/rules.md)): who did what, where and on whose
// behalf, with the channel and username the caller claimed shown apart
// from the actor. Filters: action, actor, target, on-behalf.
func (h *Handler) audit(rq *request) error {
	ctx := rq.r.Context()
	q := rq.r.URL.Query()
	f := newForm(q)
	aq := service.AuditQuery{Action: q.Get("action"), ActorID: q.Get("actor"), TargetID: q.Get("target")}
	switch q.Get("onBehalf") {
	case "yes":
		aq.OnBehalf = ptrTo(true)
	case "no":
		aq.OnBehalf = ptrTo(false)
	}
	d := auditData{Query: kept(q, "action", "actor", "target", "onBehalf")}
	status, err := f.list(func() (err error) {
		d.Page, err = h.svc.ListAuditEvents(ctx, rq.caller, aq, service.PageRequest{Cursor: q.Get("cursor")})
		return err
	})
	if err != nil {
		return err
	}
	var ids []string
	for _, e := range d.Page.Data {
		ids = append(ids, e.AccountID, e.ActingAccountID, e.Actor.AccountID)
	}
	if d.Names, err = h.svc.AccountNames(ctx, rq.caller, ids); err != nil {
		return err
	}
	self := canopy.ConsolePage(rq.caller.Acting.ID, "audit") + "?"
	name := func(id string) string { return cmp.Or(d.Names[id], id) }
	for _, e := range d.Page.Data {
		r := auditRow{AuditEvent: e, When: datetime(e.OccurredAt),
			ActionLink: template.URL(self) + query("action", e.Action), TargetLink: template.URL(self) + query("target", e.TargetID),
			ActorLink: template.URL(self) + query("actor", e.Actor.ID), Account: name(e.AccountID), ActingOther: e.ActingAccountID != e.AccountID}
		if r.ActingOther {
			r.Acting = name(e.ActingAccountID)
		}
		if e.Actor.AccountID != "" {
			r.ActorOf = name(e.Actor.AccountID)
		}
		d.Rows = append(d.Rows, r)
	}
	return h.page(rq, status, "audit", "audit", "Audit log", f, d)
}

type outboxData struct {
	Channel string
	Rows    []outboxRow
	Next    *string
	Names   map[string]string
	Query   url.Values
}

// outboxRow is an email or a text as the outbox lists it.
type outboxRow struct {
	CreatedAt           time.Time
	To, AccountID, What string
	Status              canopy.OutboxStatus
	Attempts            int
	SentAt              *time.Time
	LastError           string
}

// outbox lists the emails or the texts of the acting account's subtree,
// newest first, with their delivery status and last error. The service
// lets admins (and API keys) read it.
func (h *Handler) outbox(rq *request) error {
	ctx := rq.r.Context()
	q := rq.r.URL.Query()
	f := newForm(q)
	d := outboxData{Channel: q.Get("channel"), Query: kept(q, "status")}
	if d.Channel != "texts" {
		d.Channel = "emails"
	}
	f.Values.Set("channel", d.Channel)
	d.Query.Set("channel", d.Channel)
	oq := service.OutboxQuery{Status: canopy.OutboxStatus(q.Get("status"))}
	pr := service.PageRequest{Cursor: q.Get("cursor")}
	var err error
	if d.Channel == "texts" {
		var page service.Page[*canopy.SMSMessage]
		page, err = h.svc.ListTexts(ctx, rq.caller, oq, pr)
		for _, m := range page.Data {
			d.Rows = append(d.Rows, outboxRow{m.CreatedAt, m.To, m.AccountID, m.Body, m.Status, m.Attempts, m.SentAt, m.LastError})
		}
		d.Next = page.NextCursor
	} else {
		var page service.Page[*canopy.OutboxMessage]
		page, err = h.svc.ListOutbox(ctx, rq.caller, oq, pr)
		for _, m := range page.Data {
			d.Rows = append(d.Rows, outboxRow{m.CreatedAt, m.Recipient, m.AccountID, m.Template, m.Status, m.Attempts, m.SentAt, m.LastError})
		}
		d.Next = page.NextCursor
	}
	var ids []string
	for _, r := range d.Rows {
		ids = append(ids, r.AccountID)
	}
	status := http.StatusOK
	if err != nil {
		if canopy.ErrorKind(err) != canopy.KindBadRequest {
			return err
		}
		f.fail(err)
		status = formStatus(err)
	}
	if d.Names, err = h.svc.AccountNames(ctx, rq.caller, ids); err != nil {
		return err
	}
	return h.page(rq, status, "outbox", "outbox", "Outbox", f, d)
}
