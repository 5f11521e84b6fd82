package canopy

import (
	"net/url"
	"strings"
)

// The pages people reach from outside the console: from an email, a text
// message or a bookmark. They are named once, here, so that the service
// builds every link it sends from the same names the console serves, and
// a test can check that each link lands on a page.
const (
	// PageSignIn signs a person in; PageSignOut ends the session.
	PageSignIn  = "/signin"
	PageSignOut = "/signout"
	// PageSetPassword redeems the one-time link of a welcome or user
	// invitation email (?token=).
	PageSetPassword = "/set-password"
	// PageResetPassword asks for a reset link, and with ?token= redeems it.
	PageResetPassword = "/reset-password"
	// PageSignup registers a new top-level account; with ?invitation=&token=
	// the account joins the inviting umbrella at once.
	PageSignup = "/signup"
	// PageConfirmEmail confirms a changed email address from the link sent
	// to the new address (?token=).
	PageConfirmEmail = "/confirm-email"
	// PageConsole is the signed-in console; each account's pages live
	// below ConsolePage(accountID).
	PageConsole = "/app"

	// pageInvitations, pageMemberships and pageWebForm are prefixes of
	// pages named by an id or a token: InvitationPage, MembershipPage and
	// WebFormPage build them.
	pageInvitations = "/invitations/"
	pageMemberships = "/memberships/"
	pageWebForm     = "/f/"
)

// Parameters of the public pages' links.
const (
	// ParamToken carries a one-time link's secret.
	ParamToken = "token"
	// ParamInvitation names the invitation a sign-up link answers.
	ParamInvitation = "invitation"
	// ParamAnswer on an invitation page preselects an answer ("decline").
	ParamAnswer = "answer"
)

// TokenPage is the page that redeems a one-time link of purpose p.
func TokenPage(p TokenPurpose) string {
	switch p {
	case PurposeReset:
		return PageResetPassword
	case PurposeEmailChange:
		return PageConfirmEmail
	}
	return PageSetPassword
}

// TokenLink is the path and query of a one-time link.
func TokenLink(p TokenPurpose, secret string) string {
	return TokenPage(p) + "?" + url.Values{ParamToken: {secret}}.Encode()
}

// SignupLink is the sign-up link of an invitation by email to an address
// that has no account yet.
func SignupLink(invitationID, secret string) string {
	return PageSignup + "?" + url.Values{ParamInvitation: {invitationID}, ParamToken: {secret}}.Encode()
}

// InvitationPage is where an invitation is answered.
func InvitationPage(id string) string { return pageInvitations + url.PathEscape(id) }

// InvitationPagePattern is InvitationPage as a route pattern.
const InvitationPagePattern = pageInvitations + "{invitationId}"

// MembershipPage is where a person who already has a login answers an
// invitation into an account (a membership of theirs, still invited).
func MembershipPage(userID string) string { return pageMemberships + url.PathEscape(userID) }

// MembershipPagePattern is MembershipPage as a route pattern.
const MembershipPagePattern = pageMemberships + "{userId}"

// WebFormPage is the public page that fills a form through a web link.
func WebFormPage(token string) string { return pageWebForm + url.PathEscape(token) }

// WebFormPagePattern is WebFormPage as a route pattern.
const WebFormPagePattern = pageWebForm + "{token}"

// ConsolePage is an account's page in the console: its dashboard, or with
// section (such as "credits" or "invitations") that part of it.
func ConsolePage(accountID string, section ...string) string {
	p := PageConsole + "/" + url.PathEscape(accountID)
	if len(section) > 0 {
		p += "/" + strings.Join(section, "/")
	}
	return p
}
