package console

import (
	"net/http"
	"strings"

	"github.com/canopyhq/canopy"
)

// registerRoutes is the web side's whole surface. Public pages need no
// session (the costly ones share the API's per-address limit); console
// pages need one and act as the account in their URL.
func (h *Handler) registerRoutes() {
	h.handle("GET /{$}", h.public(h.home))
	h.handle("GET /static/", staticHandler())

	h.handle("GET "+canopy.PageSignIn, h.public(h.signInPage))
	h.handle("POST "+canopy.PageSignIn, h.limited(h.signIn))
	h.handle("POST "+canopy.PageSignOut, h.public(h.signOut))
	h.handle("GET "+canopy.PageSetPassword, h.public(h.passwordPage))
	h.handle("POST "+canopy.PageSetPassword, h.limited(h.setPassword))
	h.handle("GET "+canopy.PageResetPassword, h.public(h.resetPage))
	h.handle("POST "+canopy.PageResetPassword, h.limited(h.reset))
	h.handle("GET "+canopy.PageSignup, h.public(h.signupPage))
	h.handle("POST "+canopy.PageSignup, h.limited(h.signup))
	h.handle("GET "+canopy.InvitationPagePattern, h.public(h.invitationLanding))
	h.handle("GET "+canopy.MembershipPagePattern, h.public(h.membershipPage))
	h.handle("POST "+canopy.MembershipPagePattern+"/accept", h.public(h.answerMembership(true)))
	h.handle("POST "+canopy.MembershipPagePattern+"/decline", h.public(h.answerMembership(false)))
	h.handle("GET "+canopy.PageConfirmEmail, h.public(h.confirmEmailPage))
	h.handle("POST "+canopy.PageConfirmEmail, h.limited(h.confirmEmail))

	// The public web-link form (canopy.WebFormPagePattern, /f/{token})
	// mounts here; its handlers and templates live in webform*.go and
	// templates/webform/.

	h.handle("GET "+canopy.PageConsole, h.public(h.toHome))
	app := canopy.PageConsole + "/{account}"
	h.handle("GET "+app, h.view(h.dashboard))
	h.handle("POST "+app+"/forms/{formId}/copy", h.signedIn(h.copyForm))
	h.handle("GET "+app+"/switch", h.view(h.switchPage))

	h.handle("GET "+app+"/contacts", h.view(h.contacts))
	h.handle("GET "+app+"/contacts/new", h.view(h.newContact))
	h.handle("POST "+app+"/contacts", h.signedIn(h.createContact))
	h.handle("GET "+app+"/contacts/{contactId}", h.view(h.contact))
	h.handle("POST "+app+"/contacts/{contactId}", h.signedIn(h.updateContact))
	h.handle("POST "+app+"/contacts/{contactId}/delete", h.signedIn(h.deleteContact))

	h.handle("GET "+app+"/invitations", h.view(h.invitations))
	h.handle("POST "+app+"/invitations", h.signedIn(h.invite))
	h.handle("GET "+app+"/invitations/{invitationId}", h.view(h.invitation))
	h.handle("POST "+app+"/invitations/{invitationId}/accept", h.signedIn(h.acceptInvitation))
	h.handle("POST "+app+"/invitations/{invitationId}/decline", h.signedIn(h.declineInvitation))
	h.handle("POST "+app+"/invitations/{invitationId}/cancel", h.signedIn(h.cancelInvitation))
	h.handle("POST "+app+"/invitations/{invitationId}/resend", h.signedIn(h.resendInvitation))

	h.handle("GET "+app+"/accounts", h.view(h.subAccounts))
	h.handle("GET "+app+"/accounts/new", h.view(h.newChild))
	h.handle("POST "+app+"/accounts", h.signedIn(h.createChild))
	h.handle("GET "+app+"/accounts/{id}", h.view(h.subAccount))
	h.handle("GET "+app+"/accounts/{id}/children", h.view(h.subAccountChildren))
	h.handle("POST "+app+"/accounts/{id}", h.signedIn(h.updateSubAccount))
	h.handle("POST "+app+"/accounts/{id}/suspend", h.signedIn(h.suspend))
	h.handle("POST "+app+"/accounts/{id}/reactivate", h.signedIn(h.reactivate))
	h.handle("POST "+app+"/accounts/{id}/close", h.signedIn(h.closeAccount))
	h.handle("POST "+app+"/accounts/{id}/release", h.signedIn(h.release))
	h.handle("POST "+app+"/accounts/{id}/link", h.signedIn(h.updateLink))

	h.handle("GET "+app+"/users", h.view(h.users))
	h.handle("POST "+app+"/users", h.signedIn(h.addUser))
	h.handle("POST "+app+"/users/{userId}/role", h.signedIn(h.changeRole))
	h.handle("POST "+app+"/users/{userId}/disable", h.signedIn(h.disableUser))
	h.handle("POST "+app+"/users/{userId}/enable", h.signedIn(h.enableUser))
	h.handle("POST "+app+"/users/{userId}/delete", h.signedIn(h.removeUser))
	h.handle("POST "+app+"/users/{userId}/resend", h.signedIn(h.resendUserInvitation))

	h.handle("GET "+app+"/keys", h.view(h.keys))
	h.handle("POST "+app+"/keys", h.signedIn(h.createKey))
	h.handle("POST "+app+"/keys/{keyId}/revoke", h.signedIn(h.revokeKey))

	h.handle("GET "+app+"/settings", h.view(h.settings))
	h.handle("POST "+app+"/settings", h.signedIn(h.updateSettings))
	h.handle("POST "+app+"/settings/configurations", h.signedIn(h.putConfiguration))
	h.handle("POST "+app+"/settings/configurations/{namespace}/delete", h.signedIn(h.deleteConfiguration))
	h.handle("POST "+app+"/settings/leave", h.signedIn(h.leaveUmbrella))
	h.handle("POST "+app+"/settings/delegation", h.signedIn(h.setDelegation))

	h.handle("GET "+app+"/forms", h.view(h.forms))
	h.handle("GET "+app+"/forms/new", h.view(h.newFormPage))
	h.handle("POST "+app+"/forms", h.signedIn(h.createForm))
	h.handle("GET "+app+"/forms/{formId}", h.view(h.formPage))
	h.handle("POST "+app+"/forms/{formId}", h.signedIn(h.saveForm))
	h.handle("POST "+app+"/forms/{formId}/example", h.signedIn(h.setExample))
	h.handle("POST "+app+"/forms/{formId}/delete", h.signedIn(h.deleteForm))
	h.handle("GET "+app+"/forms/{formId}/records", h.view(h.records))
	h.handle("GET "+app+"/forms/{formId}/records.csv", h.signedIn(h.exportRecords))
	h.handle("GET "+app+"/forms/{formId}/records/new", h.view(h.newRecord))
	h.handle("POST "+app+"/forms/{formId}/records", h.signedIn(h.createRecord))
	h.handle("GET "+app+"/forms/{formId}/records/{recordId}", h.view(h.record))
	h.handle("POST "+app+"/forms/{formId}/records/{recordId}", h.signedIn(h.updateRecord))
	h.handle("POST "+app+"/forms/{formId}/records/{recordId}/delete", h.signedIn(h.deleteRecord))
	h.handle("GET "+app+"/forms/{formId}/sharing", h.view(h.sharing))
	h.handle("POST "+app+"/forms/{formId}/sharing", h.signedIn(h.putShare))
	h.handle("POST "+app+"/forms/{formId}/sharing/{accountId}/delete", h.signedIn(h.deleteShare))
	h.handle("GET "+app+"/forms/{formId}/sharing/{view}", h.view(h.collect))
	h.handle("POST "+app+"/forms/{formId}/sharing/web/links", h.signedIn(h.createLink))
	h.handle("POST "+app+"/forms/{formId}/sharing/web/links/{linkId}/revoke", h.signedIn(h.revokeLink))
	h.handle("POST "+app+"/forms/{formId}/sharing/{view}/code", h.signedIn(h.setFormCode))
	h.handle("POST "+app+"/forms/{formId}/sharing/{view}/numbers", h.signedIn(h.addCollectors))
	h.handle("POST "+app+"/forms/{formId}/sharing/{view}/numbers/{number}/delete", h.signedIn(h.removeCollector))

	h.handle("GET "+app+"/credits", h.view(h.credits))
	h.handle("POST "+app+"/credits/grants", h.signedIn(h.grantOwn))
	h.handle("GET "+app+"/credits/usage.csv", h.signedIn(h.usageCSV))
	h.handle("GET "+app+"/credits/ledger", h.view(h.ledger))
	h.handle("GET "+app+"/credits/{accountId}", h.view(h.accountCredits))
	h.handle("POST "+app+"/credits/{accountId}/limits", h.signedIn(h.setCap))
	h.handle("POST "+app+"/credits/{accountId}/limits/{type}/delete", h.signedIn(h.removeCap))
	h.handle("POST "+app+"/credits/{accountId}/grants", h.signedIn(h.grantCredits))
	h.handle("POST "+app+"/credits/{accountId}/transfers", h.signedIn(h.transferCredits))

	h.handle("GET "+app+"/audit", h.view(h.audit))
	h.handle("GET "+app+"/outbox", h.view(h.outbox))
}

func (h *Handler) handle(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, handler)
}

// limited is a public page that anyone can make costly — it hashes a
// password or sends an email — behind the per-client limit it shares with
// the API's public endpoints.
func (h *Handler) limited(fn http.HandlerFunc) http.HandlerFunc {
	return h.public(func(w http.ResponseWriter, r *http.Request) {
		if h.limiter != nil {
			if wait := h.limiter.Allow(r); wait > 0 {
				h.fail(w, r, &canopy.Error{Kind: canopy.KindTooManyRequests, Code: canopy.CodeRateLimited, RetryAfter: wait})
				return
			}
		}
		fn(w, r)
	})
}

// isRoute reports whether a path (without its query) is served by a page
// of the console, for the test that every emailed link lands on one.
func (h *Handler) isRoute(method, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	r, err := http.NewRequest(method, path, nil)
	if err != nil {
		return false
	}
	_, pattern := h.mux.Handler(r)
	return pattern != "" && pattern != "GET /{$}"
}
