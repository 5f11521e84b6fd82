package canopy

import "time"

// Quota names the per-plan limit a refused write reached, so that a client
// can tell its user what to change (rule 11, docs/rules.md).
type Quota struct {
	Name  string `json:"name"` // QuotaEmailsPerDay, QuotaForms
	Plan  Plan   `json:"plan"`
	Limit int    `json:"limit"`
	Used  int    `json:"used"`
	// ResetsAt is when the count starts again, for counts per period.
	ResetsAt *time.Time `json:"resetsAt,omitempty"`
}

// The quotas.
const (
	QuotaEmailsPerDay = "emailsPerDay"
	QuotaForms        = "forms"
)

// PlanLimits are what accounts on one plan may use. A negative limit is
// no limit.
type PlanLimits struct {
	// EmailsPerDay bounds the emails an account's own actions send in a
	// UTC day: welcomes and invitations of users, sub-account invitations
	// (contacts included) and their resends.
	EmailsPerDay int
	// Forms bounds the forms an account owns; FormBytes the size of one
	// form's definition (its questions as JSON).
	Forms     int
	FormBytes int
}

// DefaultPlanLimits are the limits of each plan unless the operator sets
// others. A free account sends a few dozen invitations a day and keeps a
// hundred forms; the paid plans ten and a hundred times that. The platform
// root has no limits.
var DefaultPlanLimits = map[Plan]PlanLimits{
	PlanBasic:      {EmailsPerDay: 50, Forms: 100, FormBytes: 64 << 10},
	PlanPro:        {EmailsPerDay: 500, Forms: 1_000, FormBytes: 256 << 10},
	PlanEnterprise: {EmailsPerDay: 5_000, Forms: 10_000, FormBytes: 512 << 10},
}

// NextDay is the start of the UTC day after t.
func NextDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
