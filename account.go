package canopy

import (
	"encoding/json"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Plan is an account's commercial plan.
type Plan string

// The plans.
const (
	PlanBasic      Plan = "basic"
	PlanPro        Plan = "pro"
	PlanEnterprise Plan = "enterprise"
)

// Valid reports whether p is a known plan.
func (p Plan) Valid() bool {
	return p == PlanBasic || p == PlanPro || p == PlanEnterprise
}

// Status is an account's lifecycle state.
type Status string

// The account states. A suspended account's whole subtree is refused for
// writes; a closed account is final.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusClosed    Status = "closed"
)

// Origin says how a link came to be.
type Origin string

// The link origins.
const (
	OriginCreated Origin = "created" // the parent created the child
	OriginInvited Origin = "invited" // an existing account accepted an umbrella's invitation
)

// Billing says who pays for a child's usage.
type Billing string

// The billing modes.
const (
	BillingParent Billing = "parent"
	BillingSelf   Billing = "self"
)

// Valid reports whether b is a known billing mode.
func (b Billing) Valid() bool { return b == BillingParent || b == BillingSelf }

// Link is the edge from a child to its parent, with the policy it carries.
type Link struct {
	Origin        Origin  `json:"origin"`
	AutoShareRole Role    `json:"autoShareRole"`
	Billing       Billing `json:"billing"`
	// DelegatedAdmin, on an invited link, lets the umbrella act as the
	// sub-account; only the sub-account grants or withdraws it (rule 2).
	DelegatedAdmin bool      `json:"delegatedAdmin"`
	CreatedAt      time.Time `json:"createdAt"`
}

// DefaultLink returns the policy of a link created under parent: links to
// the platform root share nothing upward and bill the child itself (rules 5 and 8,
// docs/rules.md); deeper links share as dataManager and bill the parent.
func DefaultLink(parent *Account, origin Origin, at time.Time) *Link {
	if parent.IsRoot() {
		return &Link{Origin: origin, AutoShareRole: RoleNone, Billing: BillingSelf, CreatedAt: at}
	}
	return &Link{Origin: origin, AutoShareRole: RoleDataManager, Billing: BillingParent, CreatedAt: at}
}

// Account is a customer account (tenant): one node of the tree.
type Account struct {
	ID        string            `json:"id"`
	ParentID  string            `json:"parentId"`
	Name      string            `json:"name"`
	Email     string            `json:"email"`
	Plan      Plan              `json:"plan"`
	Status    Status            `json:"status"`
	Metadata  map[string]string `json:"metadata"`
	Link      *Link             `json:"link"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	ClosedAt  *time.Time        `json:"closedAt,omitempty"`

	// Path locates the account in the tree; it is internal because it names
	// ancestors the caller may not be allowed to see.
	Path Path `json:"-"`
	// ParentPlan is the parent's plan, read with the account, from which
	// the effective plan follows.
	ParentPlan Plan `json:"-"`
	// SuspendedBy is the account that suspended this one: only it or an
	// account above it may lift the suspension (rule 9). It is internal
	// because it may name an ancestor the caller cannot see.
	SuspendedBy string `json:"-"`
}

// EffectivePlan is the plan whose features the account gets: a sub-account
// under an enterprise umbrella gets at least pro (seed 002: "sub-accounts
// have most of the features of Pro accounts, even if they are basic").
func (a *Account) EffectivePlan() Plan {
	if a.Link != nil && a.Link.Origin == OriginInvited && a.ParentPlan == PlanEnterprise && a.Plan == PlanBasic {
		return PlanPro
	}
	return a.Plan
}

// MarshalJSON writes the platform root's parentId as null.
func (a *Account) MarshalJSON() ([]byte, error) {
	type plain Account
	var parent *string
	if a.ParentID != "" {
		parent = &a.ParentID
	}
	return json.Marshal(struct {
		*plain
		ParentID      *string `json:"parentId"`
		EffectivePlan Plan    `json:"effectivePlan"`
	}{(*plain)(a), parent, a.EffectivePlan()})
}

// IsRoot reports whether a is the platform root.
func (a *Account) IsRoot() bool { return a.ParentID == "" }

// Depth is the number of levels between a and the platform root.
func (a *Account) Depth() int { return a.Path.Depth() }

// VisibleTo reports whether a lies in actingID's subtree: a is that
// account itself or one of its descendants. Whether actingID may see or act
// on a also depends on the links between them (ReachOf).
func (a *Account) VisibleTo(actingID string) bool { return a.Path.Contains(actingID) }

// Limits on account fields, in the spirit of Stripe's metadata limits.
const (
	MaxNameLen          = 200
	MaxEmailLen         = 254
	MaxMetadataKeys     = 50
	MaxMetadataKeyLen   = 40
	MaxMetadataValueLen = 500
)

// ValidateName checks a display name.
func ValidateName(v *Validator, field, name string) {
	trimmed := strings.TrimSpace(name)
	switch {
	case !ValidText(v, field, name):
	case trimmed == "":
		v.Add(field, "required", "must not be empty")
	case utf8.RuneCountInString(name) > MaxNameLen:
		v.Add(field, "too-long", "must be at most %d characters", MaxNameLen)
	case strings.ContainsFunc(name, isControl):
		v.Add(field, "invalid", "must not contain control characters")
	}
}

// ValidateEmail checks an email address; empty is allowed unless required.
func ValidateEmail(v *Validator, field, email string, required bool) {
	if email == "" {
		if required {
			v.Add(field, "required", "must not be empty")
		}
		return
	}
	if len(email) > MaxEmailLen {
		v.Add(field, "too-long", "must be at most %d characters", MaxEmailLen)
		return
	}
	if !ValidText(v, field, email) {
		return
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		v.Add(field, "invalid-email", "must be a plain email address such as ops@example.com")
	}
}

// ValidateMetadata checks a metadata map.
func ValidateMetadata(v *Validator, field string, md map[string]string) {
	if len(md) > MaxMetadataKeys {
		v.Add(field, "too-many", "must have at most %d keys", MaxMetadataKeys)
	}
	for k, val := range md {
		switch {
		case !ValidText(v, field, k):
		case !ValidText(v, field+"."+k, val):
		case k == "":
			v.Add(field, "invalid-key", "keys must not be empty")
		case strings.ContainsFunc(k, isControl):
			v.Add(field, "invalid-key", "keys must not contain control characters")
		case utf8.RuneCountInString(k) > MaxMetadataKeyLen:
			v.Add(field+"."+k, "too-long", "keys must be at most %d characters", MaxMetadataKeyLen)
		case utf8.RuneCountInString(val) > MaxMetadataValueLen:
			v.Add(field+"."+k, "too-long", "values must be at most %d characters", MaxMetadataValueLen)
		case strings.ContainsRune(val, 0):
			v.Add(field+"."+k, "invalid", "values must not contain NUL characters")
		}
	}
}

// ValidateText checks free text such as a description: text Canopy stores
// (valid UTF-8, no NUL, which PostgreSQL cannot store in text) of at most
// max characters.
func ValidateText(v *Validator, field, s string, max int) {
	switch {
	case !ValidText(v, field, s):
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "too-long", "must be at most %d characters", max)
	}
}

// ValidatePersonName checks a person's name, which may be empty.
func ValidatePersonName(v *Validator, field, name string) {
	switch {
	case !ValidText(v, field, name):
	case utf8.RuneCountInString(name) > MaxNameLen:
		v.Add(field, "too-long", "must be at most %d characters", MaxNameLen)
	case strings.ContainsFunc(name, isControl):
		v.Add(field, "invalid", "must not contain control characters")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// NormalizeEmail returns the form of an address used for uniqueness.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
