package canopy

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ExternalReference ties an account to an id in another system (a CRM, a
// billing system). A (type, value) pair is unique among the children of one
// parent, so a reseller can find its client by its own CRM id.
type ExternalReference struct {
	ID          string            `json:"id"`
	AccountID   string            `json:"accountId"`
	Type        string            `json:"type"`
	Value       string            `json:"value"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
	CreatedAt   time.Time         `json:"createdAt"`

	// ParentID scopes uniqueness; it follows the account when it moves.
	ParentID string `json:"-"`
}

var refTypePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// MaxExternalRefs bounds how many references one request may attach.
const MaxExternalRefs = 50

// ValidateExternalReference checks one reference's fields.
func ValidateExternalReference(v *Validator, field string, r *ExternalReference) {
	v.Check(refTypePattern.MatchString(r.Type), field+".type", "invalid-type",
		"must be 1-64 characters of lowercase letters, digits, '_', '.' and '-'")
	switch {
	case !ValidText(v, field+".value", r.Value):
	case r.Value == "":
		v.Add(field+".value", "required", "must not be empty")
	case utf8.RuneCountInString(r.Value) > 200:
		v.Add(field+".value", "too-long", "must be at most 200 characters")
	case strings.ContainsFunc(r.Value, isControl):
		v.Add(field+".value", "invalid", "must not contain control characters")
	}
	ValidateText(v, field+".description", r.Description, 500)
	ValidateMetadata(v, field+".metadata", r.Metadata)
}

func itoa(i int) string { return strconv.Itoa(i) }
