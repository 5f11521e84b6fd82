package canopy

import "time"

// Each kind of email is one content type below, named by its template
// files (mail/templates/<Template>.{subject,txt,html}.tmpl) and listed in
// EmailKinds. Adding an email is its template files, one type here, and the
// code that queues and prepares it (service/delivery.go): every value an
// email shows is declared once, as a field of its type, and the mail
// package checks at start that each kind's templates render its type.

// Brand is the white-label look an email (or a public page) carries: the
// account's effective white_label_portal configuration, so a reseller's
// clients see the reseller's brand (rule 11, docs/rules.md).
type Brand struct {
	Name         string
	PrimaryColor string
	LogoURL      string
}

// Email is what one email says.
type Email interface {
	// Template names the email's template files.
	Template() string
	// Common returns what every email shows.
	Common() *EmailCommon
}

// EmailCommon is what every email shows: the brand it is sent in, whom it
// greets, the address it goes to, the account it is about, and its button.
type EmailCommon struct {
	Brand       Brand
	UserName    string // the recipient's name, for the greeting; may be empty
	Email       string // the address the email goes to
	AccountName string // the account the email is about; may be empty
	// Link is the email's button: a one-time link made at delivery, or a
	// page; empty for an email with nothing to click.
	Link string
	// ExpiresAt is when a one-time Link stops working; zero otherwise.
	ExpiresAt time.Time
}

// Common returns c.
func (c *EmailCommon) Common() *EmailCommon { return c }

// WelcomeEmail goes to a new account's master user: your account is ready,
// set your password — or, for a person who has a login, sign in and
// accept it.
type WelcomeEmail struct {
	EmailCommon
	ParentAccountName string // who set the account up; empty under the platform root
	Username          string // the person's username, if they have one
	SignIn            bool   // Link signs in and accepts; it is not one-time
}

// UserInvitationEmail goes to a person added to an account, like a welcome.
type UserInvitationEmail struct {
	EmailCommon
	Role     string
	Username string
	SignIn   bool
}

// PasswordResetEmail goes to a person who asked to reset their password.
type PasswordResetEmail struct{ EmailCommon }

// EmailChangeEmail goes to a new address a person asked for: confirm it.
type EmailChangeEmail struct{ EmailCommon }

// EmailChangeNoticeEmail goes to the old address when a change is asked
// for: if it was not you, change your password.
type EmailChangeNoticeEmail struct {
	EmailCommon
	NewEmail string
}

// SignupAttemptEmail goes to a person whose address someone tried to sign
// up with: no account was made; sign in or reset your password.
type SignupAttemptEmail struct{ EmailCommon }

// InvitationEmail goes to an invited account's admins, or to an address:
// OtherAccountName invites you to become its sub-account, on these terms.
type InvitationEmail struct {
	EmailCommon
	OtherAccountName string // the umbrella
	Message          string `email:"lines"` // the umbrella's note, line breaks kept
	DeclineLink      string
	NewAccount       bool   // the address has no account yet: Link signs up and accepts
	ShareRole        string // the role the umbrella gets on the invitee's forms
	UmbrellaPays     bool
	DelegatedAdmin   bool // the umbrella asks to act as the invitee (rule 2)
}

// InvitationNewsEmail tells one side what became of an invitation:
// accepted, declined or expired (to the umbrella's admins), or cancelled
// (to the invitee). Which is its template.
type InvitationNewsEmail struct {
	EmailCommon
	Which            string `email:"-"`
	OtherAccountName string
}

// LowBalanceEmail goes to a payer's admins when a balance falls to a
// threshold.
type LowBalanceEmail struct {
	EmailCommon
	CreditType string
	Threshold  int64
	Balance    int64
}

// WebhookDisabledEmail goes to an account's admins when one of its webhook
// endpoints failed every delivery for days and was disabled.
type WebhookDisabledEmail struct {
	EmailCommon
	WebhookURL   string
	FailingSince time.Time
}

// Template implementations: the files each kind renders.
func (*WelcomeEmail) Template() string           { return TemplateWelcome }
func (*UserInvitationEmail) Template() string    { return TemplateUserInvitation }
func (*PasswordResetEmail) Template() string     { return TemplatePasswordReset }
func (*EmailChangeEmail) Template() string       { return TemplateEmailChange }
func (*EmailChangeNoticeEmail) Template() string { return TemplateEmailChangeNotice }
func (*SignupAttemptEmail) Template() string     { return TemplateSignupAttempt }
func (*InvitationEmail) Template() string        { return TemplateInvitation }
func (e *InvitationNewsEmail) Template() string  { return e.Which }
func (*LowBalanceEmail) Template() string        { return TemplateLowBalance }
func (*WebhookDisabledEmail) Template() string   { return TemplateWebhookDisabled }

// EmailKinds lists one value of every kind of email, by which the mail
// package loads and checks their templates.
var EmailKinds = []Email{
	&WelcomeEmail{}, &UserInvitationEmail{}, &PasswordResetEmail{}, &EmailChangeEmail{}, &EmailChangeNoticeEmail{},
	&SignupAttemptEmail{}, &InvitationEmail{},
	&InvitationNewsEmail{Which: TemplateInvitationAccepted}, &InvitationNewsEmail{Which: TemplateInvitationDeclined},
	&InvitationNewsEmail{Which: TemplateInvitationCancelled}, &InvitationNewsEmail{Which: TemplateInvitationExpired},
	&LowBalanceEmail{}, &WebhookDisabledEmail{},
}
