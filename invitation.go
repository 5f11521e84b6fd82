package canopy

import (
	"regexp"
	"time"
)

// InvitationStatus is where an invitation stands.
type InvitationStatus string

// The invitation states: pending → accepted, declined, cancelled or expired.
const (
	InvitationPending   InvitationStatus = "pending"
	InvitationAccepted  InvitationStatus = "accepted"
	InvitationDeclined  InvitationStatus = "declined"
	InvitationCancelled InvitationStatus = "cancelled"
	InvitationExpired   InvitationStatus = "expired"
)

// Valid reports whether s is a known status.
func (s InvitationStatus) Valid() bool {
	switch s {
	case InvitationPending, InvitationAccepted, InvitationDeclined, InvitationCancelled, InvitationExpired:
		return true
	}
	return false
}

// Invitation is an umbrella's offer to an existing account (or to a person,
// by email) to become its sub-account, with the link policy it offers. The
// relationship exists only once the invitee accepts (seed 002).
type Invitation struct {
	ID               string  `json:"id"`
	UmbrellaID       string  `json:"umbrellaId"`
	UmbrellaName     string  `json:"umbrellaName"`
	InviteeAccountID string  `json:"inviteeAccountId,omitempty"`
	Email            string  `json:"email,omitempty"`
	FirstName        string  `json:"firstName,omitempty"`
	LastName         string  `json:"lastName,omitempty"`
	Mobile           string  `json:"mobile,omitempty"`
	Message          string  `json:"message,omitempty"`
	AutoShareRole    Role    `json:"autoShareRole"`
	Billing          Billing `json:"billing"`
	// DelegatedAdmin asks the invitee to let the umbrella act as it
	// (rule 2); accepting grants it on the link.
	DelegatedAdmin bool             `json:"delegatedAdmin"`
	Status         InvitationStatus `json:"status"`
	ContactID      string           `json:"contactId,omitempty"`
	ExpiresAt      time.Time        `json:"expiresAt"`
	CreatedAt      time.Time        `json:"createdAt"`
	UpdatedAt      time.Time        `json:"updatedAt"`
	RespondedAt    *time.Time       `json:"respondedAt,omitempty"`

	// TokenHash is the hash of the sign-up link's token, for an address
	// that belongs to no account yet.
	TokenHash string `json:"-"`
}

// StatusAt is the invitation's status at time now: a pending invitation
// past its expiry is expired, whether or not the sweeper has recorded it.
func (i *Invitation) StatusAt(now time.Time) InvitationStatus {
	if i.Status == InvitationPending && !now.Before(i.ExpiresAt) {
		return InvitationExpired
	}
	return i.Status
}

// InviteeKey is what "one pending invitation per umbrella and invitee"
// compares: the invitee account, or the normalised address.
func (i *Invitation) InviteeKey() string {
	if i.InviteeAccountID != "" {
		return i.InviteeAccountID
	}
	return "email:" + NormalizeEmail(i.Email)
}

// Invitation lifetimes, in days.
const (
	DefaultInvitationDays = 14
	MinInvitationDays     = 1
	MaxInvitationDays     = 30
)

// PrefixInvitation and PrefixContact start invitation and contact ids.
const (
	PrefixInvitation = "inv"
	PrefixContact    = "con"
)

// Contact is an entry in an account's address book. Saving one with
// subAccount: true invites its address to become a sub-account.
type Contact struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Mobile    string `json:"mobile"`
	Notes     string `json:"notes"`
	// SubAccountStatus is none, invited, active, declined or expired,
	// from the contact's latest sub-account invitation.
	SubAccountStatus string    `json:"subAccountStatus"`
	InvitationID     string    `json:"invitationId,omitempty"`
	SubAccountID     string    `json:"subAccountId,omitempty"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// The contact sub-account states.
const (
	SubAccountNone     = "none"
	SubAccountInvited  = "invited"
	SubAccountActive   = "active"
	SubAccountDeclined = "declined"
	SubAccountExpired  = "expired"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidateMobile checks a phone number in E.164 form (+14155550123); empty
// is allowed.
func ValidateMobile(v *Validator, field, mobile string) {
	v.Check(mobile == "" || e164.MatchString(mobile), field, "invalid-phone",
		"must be an international number in E.164 form, such as +14155550123")
}
