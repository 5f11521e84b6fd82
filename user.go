package canopy

import (
	"regexp"
	"strings"
	"time"
)

// UserRole is a person's role within one account.
type UserRole string

// The user roles.
const (
	UserAdmin  UserRole = "admin"
	UserMember UserRole = "member"
)

// Valid reports whether r is a known user role.
func (r UserRole) Valid() bool { return r == UserAdmin || r == UserMember }

// UserStatus is a membership's lifecycle state.
type UserStatus string

// The membership states. A membership is invited until its person joins:
// by setting a password from the link of a welcome or invitation email, or,
// signed in, by accepting it.
const (
	UserInvited  UserStatus = "invited"
	UserActive   UserStatus = "active"
	UserDisabled UserStatus = "disabled"
)

// PrefixPerson is the prefix of a person's id. Person ids never leave the
// service: accounts see memberships, so two accounts cannot tell that they
// share a person.
const PrefixPerson = "per"

// Person is one login (rule 11, docs/rules.md): an email address, verified
// by redeeming a link sent to it, an optional username, one password and
// its sessions. A person belongs to accounts through memberships.
type Person struct {
	ID              string
	Email           string
	EmailVerifiedAt *time.Time
	// PendingEmail is an address change waiting for the link sent to it.
	PendingEmail      string
	Username          string // "" when the person has none
	Name              string
	PasswordHash      string // argon2id in PHC form; "" until set
	PasswordChangedAt *time.Time
	LastLoginAt       *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Verified reports whether the person has proven they receive mail at
// their address.
func (p *Person) Verified() bool { return p.EmailVerifiedAt != nil }

// User is a membership: a person in one account, with a role. It keeps
// the shape users had before people could belong to several accounts, so
// usr_ ids and the users endpoints stay as they were.
//
// While a membership is invited it shows the email, username and name it
// was invited with — the same whether or not the address already belonged
// to someone, so that nobody learns who exists. Once the person has joined
// it shows the person's own.
type User struct {
	ID        string     `json:"id"`
	AccountID string     `json:"accountId"`
	Email     string     `json:"email"`
	Username  string     `json:"username"`
	Name      string     `json:"name"`
	Role      UserRole   `json:"role"`
	Status    UserStatus `json:"status"`
	Master    bool       `json:"master"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	// LastLoginAt is when the person last signed in, once they have joined.
	LastLoginAt *time.Time `json:"lastLoginAt"`
	// JoinedAt is when the person joined; nil while invited.
	JoinedAt *time.Time `json:"-"`

	// PersonID names the person; Person is loaded with the membership.
	PersonID string  `json:"-"`
	Person   *Person `json:"-"`
	// The values the membership was invited with.
	InvitedEmail, InvitedUsername, InvitedName string `json:"-"`
	// CreatedByAccount is the account whose credential made the membership.
	CreatedByAccount string `json:"-"`
}

// Show fills the membership's public fields from what it was invited with
// or, once joined, from its person.
func (u *User) Show() {
	if u.Status == UserInvited || u.Person == nil {
		u.Email, u.Username, u.Name, u.LastLoginAt = u.InvitedEmail, u.InvitedUsername, u.InvitedName, nil
		return
	}
	u.Email, u.Username, u.Name, u.LastLoginAt = u.Person.Email, u.Person.Username, u.Person.Name, u.Person.LastLoginAt
}

// CountsAsAdmin reports whether u holds the account's admin rights: the last
// such user of an account can be neither removed, disabled nor demoted.
func (u *User) CountsAsAdmin() bool { return u.Role == UserAdmin && u.Status != UserDisabled }

// Consents reports whether u may give the account's consent — answer an
// invitation, receive what only an admin may decide: an active admin whose
// person has a verified address. An invited or unverified admin never does
// (rule 11, docs/rules.md).
func (u *User) Consents() bool {
	return u.Role == UserAdmin && u.Status == UserActive && u.Person != nil && u.Person.Verified()
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{2,99}$`)

// ValidateUsername checks a username: 3 to 100 characters of letters,
// digits and . _ + - starting with a letter or digit. It never holds an
// @, so a username can never be mistaken for someone's email address.
func ValidateUsername(v *Validator, field, username string) {
	if strings.Contains(username, "@") {
		v.Add(field, "invalid-username", "must not contain @: sign in with the email address instead, or choose a name without @")
		return
	}
	v.Check(usernamePattern.MatchString(username), field, "invalid-username",
		"must be 3-100 characters of letters, digits and . _ + - (starting with a letter or digit)")
}

// LoginIsEmail reports whether a sign-in login names an email address
// rather than a username.
func LoginIsEmail(login string) bool { return strings.Contains(login, "@") }
