package canopy

import (
	"regexp"
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

// UserStatus is a user's lifecycle state.
type UserStatus string

// The user states. A user is invited until they set a password.
const (
	UserInvited  UserStatus = "invited"
	UserActive   UserStatus = "active"
	UserDisabled UserStatus = "disabled"
)

// User is a person in one account.
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
	// LastLoginAt is when the user last signed in, if ever.
	LastLoginAt *time.Time `json:"lastLoginAt"`

	// PasswordHash is the argon2id hash in PHC form, empty until the user
	// sets a password; it never leaves the service.
	PasswordHash      string     `json:"-"`
	PasswordChangedAt *time.Time `json:"-"`
}

// CountsAsAdmin reports whether u holds the account's admin rights: the last
// such user of an account can be neither removed, disabled nor demoted.
func (u *User) CountsAsAdmin() bool { return u.Role == UserAdmin && u.Status != UserDisabled }

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{2,99}$`)

// ValidateUsername checks a username: 3 to 100 characters of letters,
// digits and . _ @ + -, so that an email address is a valid username.
func ValidateUsername(v *Validator, field, username string) {
	v.Check(usernamePattern.MatchString(username), field, "invalid-username",
		"must be 3-100 characters of letters, digits and . _ @ + - (starting with a letter or digit)")
}
