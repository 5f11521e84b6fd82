package console

import (
	"net/http"
	"net/url"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// message is a page that only tells something, with links onward.
type message struct {
	Text  string
	Links []link
}

type link struct {
	Href, Label string
}

func (h *Handler) messagePage(w http.ResponseWriter, r *http.Request, status int, title string, b service.Brand, m message) {
	h.render(w, r, status, "message", &view{Title: title, Brand: brandOf(b), Data: m})
}

// home is the site's front door: the console for a signed-in person, the
// sign-in page for anyone else.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if _, ok, err := h.principal(r); err != nil {
		h.fail(w, r, err)
		return
	} else if ok {
		h.toHome(w, r)
		return
	}
	http.Redirect(w, r, canopy.PageSignIn, http.StatusSeeOther)
}

// toHome sends a signed-in person to their account's dashboard; a person
// who belongs to no account yet sees the invitations they may answer.
func (h *Handler) toHome(w http.ResponseWriter, r *http.Request) {
	p, ok := h.signedInAs(w, r)
	if !ok {
		return
	}
	if p.AccountID != "" {
		http.Redirect(w, r, home(p), http.StatusSeeOther)
		return
	}
	ms, err := h.memberships(r.Context(), p, requestID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m := message{Text: "You do not belong to any account yet."}
	for _, x := range ms {
		if x.User.Status == canopy.UserInvited {
			m.Text = "You are invited to join:"
			m.Links = append(m.Links, link{canopy.MembershipPage(x.User.ID), x.AccountName})
		}
	}
	h.messagePage(w, r, http.StatusOK, "Welcome", service.Brand{}, m)
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	p, ok, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ok {
		if next == "" {
			next = home(p)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Form: newForm(url.Values{"next": {next}})})
}

// signIn opens a session with service.Login: the same checks, throttling
// and answers as POST /v1/auth/login.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	res, err := h.svc.Login(r.Context(), service.LoginInput{Login: f.Values.Get("login"), Password: f.Values.Get("password")}, info(r))
	if err != nil {
		if canopy.ErrorKind(err) == canopy.KindUnauthorized {
			// Here a refusal is the form's answer, not a lost session.
			f.General = peopleText(err)
		} else if !f.fail(err) {
			h.fail(w, r, err)
			return
		}
		f.Values.Del("password")
		setRetryAfter(w, err)
		h.render(w, r, statusOf(canopy.ErrorKind(err)), "signin", &view{Title: "Sign in", Form: f})
		return
	}
	h.setSession(w, res.Token, res.ExpiresAt)
	next := localPath(f.Values.Get("next"))
	if next == "" {
		next = canopy.PageConsole
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the session with service.Logout, whether or not it is
// still valid, and forgets the cookie.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	p, ok, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ok {
		c := service.Caller{Principal: p, Acting: service.Acting{ID: p.AccountID}, RequestID: requestID(r), Channel: channel}
		if err := h.svc.Logout(r.Context(), c); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.clearSession(w)
	h.flash(w, "You are signed out.", false)
	http.Redirect(w, r, canopy.PageSignIn, http.StatusSeeOther)
}

// passwordData is what the set-password page shows: whose password the
// link sets, and the rules it must meet.
type passwordData struct {
	Link   *service.LinkInfo
	Action string
	Token  string
}

// passwordPage opens a one-time link from a welcome, invitation or reset
// email: it says whose account it is for, or why it cannot be used.
func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	h.showPasswordForm(w, r, r.URL.Query().Get(canopy.ParamToken), newForm(nil), http.StatusOK)
}

func (h *Handler) showPasswordForm(w http.ResponseWriter, r *http.Request, token string, f *form, status int) {
	li, err := h.svc.InspectLink(r.Context(), token, canopy.PurposeSetPassword, canopy.PurposeReset)
	if err != nil {
		h.badLink(w, r, err)
		return
	}
	title := "Choose your password"
	if li.Purpose == canopy.PurposeReset {
		title = "Choose a new password"
	}
	h.render(w, r, status, "password", &view{Title: title, Brand: brandOf(li.Brand), Form: f,
		Data: passwordData{Link: li, Action: r.URL.Path, Token: token}})
}

// badLink explains a one-time link that cannot be used and how to get a
// new one.
func (h *Handler) badLink(w http.ResponseWriter, r *http.Request, err error) {
	if canopy.ErrorKind(err) == canopy.KindInternal {
		h.fail(w, r, err)
		return
	}
	text := "This link is not valid any more: it was already used, a newer one was sent, or it has expired. Ask for a new one below."
	if c := canopy.ErrorCode(err); c == canopy.CodeUserDisabled || c == canopy.CodeAccountClosed {
		text = peopleText(err)
	}
	h.messagePage(w, r, statusOf(canopy.ErrorKind(err)), "This link cannot be used", service.Brand{}, message{Text: text,
		Links: []link{{canopy.PageResetPassword, "Ask for a new link"}, {canopy.PageSignIn, "Sign in"}}})
}

// setPassword redeems the link, then signs the person in with the password
// they just chose.
func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	token, pw := f.Values.Get(canopy.ParamToken), f.Values.Get("password")
	li, err := h.svc.InspectLink(r.Context(), token, canopy.PurposeSetPassword, canopy.PurposeReset)
	if err == nil {
		_, err = h.svc.SetPassword(r.Context(), service.SetPasswordInput{Token: token, Password: pw}, info(r))
	}
	if err != nil {
		if canopy.ErrorCode(err) == canopy.CodeInvalidToken || !f.fail(err) {
			h.badLink(w, r, err)
			return
		}
		f.Values.Del("password")
		h.showPasswordForm(w, r, token, f, statusOf(canopy.ErrorKind(err)))
		return
	}
	res, err := h.svc.Login(r.Context(), service.LoginInput{Login: li.Email, Password: pw}, info(r))
	if err != nil {
		h.flash(w, "Your password is set. Sign in with it.", false)
		http.Redirect(w, r, canopy.PageSignIn, http.StatusSeeOther)
		return
	}
	h.setSession(w, res.Token, res.ExpiresAt)
	h.flash(w, "Your password is set. Welcome!", false)
	http.Redirect(w, r, canopy.PageConsole, http.StatusSeeOther)
}

// resetPage asks for a reset link, or with a token opens one.
func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has(canopy.ParamToken) {
		h.passwordPage(w, r)
		return
	}
	h.render(w, r, http.StatusOK, "reset", &view{Title: "Reset your password", Form: newForm(nil)})
}

// reset sends a reset link (the form without a token) or sets the new
// password (with one). The answer to a request is the same whether or
// not anyone has the address.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, err)
		return
	}
	if r.PostForm.Has(canopy.ParamToken) {
		h.setPassword(w, r)
		return
	}
	f := newForm(r.PostForm)
	email := f.Values.Get("email")
	if err := h.svc.RequestPasswordReset(r.Context(), email, info(r)); err != nil {
		if !f.fail(err) {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, statusOf(canopy.ErrorKind(err)), "reset", &view{Title: "Reset your password", Form: f})
		return
	}
	h.messagePage(w, r, http.StatusOK, "Check your email", service.Brand{}, message{
		Text:  "If an account uses " + email + ", we have sent it a link to choose a new password. The link works once.",
		Links: []link{{canopy.PageSignIn, "Back to sign in"}},
	})
}

// signupData is what the sign-up page shows: with an invitation link, who
// invites and on what terms.
type signupData struct {
	Invite *service.SignupLinkInfo
	Token  string
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := newForm(url.Values{})
	if q.Has(canopy.ParamInvitation) {
		f.Values.Set("invitation.id", q.Get(canopy.ParamInvitation))
		f.Values.Set("invitation.token", q.Get(canopy.ParamToken))
	}
	h.showSignup(w, r, f, http.StatusOK)
}

func (h *Handler) showSignup(w http.ResponseWriter, r *http.Request, f *form, status int) {
	if !h.svc.SignupOpen() {
		h.messagePage(w, r, http.StatusForbidden, "Sign-up is closed", service.Brand{}, message{
			Text:  "This installation does not take new sign-ups. Ask whoever runs it for an account.",
			Links: []link{{canopy.PageSignIn, "Sign in"}},
		})
		return
	}
	d := signupData{}
	var b service.Brand
	if id := f.Values.Get("invitation.id"); id != "" {
		li, err := h.svc.InspectSignupLink(r.Context(), id, f.Values.Get("invitation.token"))
		if err != nil {
			h.badInvitationLink(w, r, err)
			return
		}
		d.Invite, b = li, li.Brand
		f.Values.Set("email", li.Invitation.Email)
	}
	h.render(w, r, status, "signup", &view{Title: "Create your account", Brand: brandOf(b), Form: f, Data: d})
}

func (h *Handler) badInvitationLink(w http.ResponseWriter, r *http.Request, err error) {
	if canopy.ErrorKind(err) == canopy.KindInternal {
		h.fail(w, r, err)
		return
	}
	h.messagePage(w, r, statusOf(canopy.ErrorKind(err)), "This invitation link cannot be used", service.Brand{}, message{
		Text: "The invitation was already answered or cancelled, a newer email replaced this link, or it has expired. " +
			"Ask the account that invited you to send it again. If you already have an account, sign in to see your invitations.",
		Links: []link{{canopy.PageSignIn, "Sign in"}, {canopy.PageSignup, "Create an account without the invitation"}},
	})
}

// signup registers an account with service.Signup; the answer is the same
// whether or not the address already has an account.
func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	in := service.SignupInput{AccountName: f.Values.Get("accountName"), Email: f.Values.Get("email"), Name: f.Values.Get("name")}
	if id := f.Values.Get("invitation.id"); id != "" {
		in.Invitation = &service.SignupInvitation{ID: id, Token: f.Values.Get("invitation.token")}
	}
	if err := h.svc.Signup(r.Context(), in, info(r)); err != nil {
		if canopy.ErrorCode(err) == canopy.CodeInvalidToken {
			h.badInvitationLink(w, r, err)
			return
		}
		if !f.fail(err) {
			h.fail(w, r, err)
			return
		}
		h.showSignup(w, r, f, statusOf(canopy.ErrorKind(err)))
		return
	}
	h.messagePage(w, r, http.StatusOK, "Check your email", service.Brand{}, message{
		Text:  "We have sent a link to " + in.Email + ". Open it to choose your password and start using your account.",
		Links: []link{{canopy.PageSignIn, "Back to sign in"}},
	})
}

// invitationLanding is where an invitation email links: a signed-in person
// goes on to the invitation in the console, as the first of their accounts
// that may read it; anyone else is asked to sign in first. The page says
// nothing about the invitation to a visitor who has not signed in, so an
// invitation id alone tells nobody anything.
func (h *Handler) invitationLanding(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("invitationId")
	p, ok, err := h.principal(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		next := r.URL.Path
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		h.messagePage(w, r, http.StatusOK, "You have an invitation", service.Brand{}, message{
			Text: "Sign in to see the invitation and accept or decline it. " +
				"If you were invited by email and have no account yet, use the sign-up link in the email instead.",
			Links: []link{{canopy.PageSignIn + "?" + url.Values{"next": {next}}.Encode(), "Sign in to answer"}},
		})
		return
	}
	accounts, err := h.active(r.Context(), p, requestID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, acc := range accounts {
		c, err := h.svc.NewCaller(r.Context(), p, acc, info(r))
		if err != nil {
			continue
		}
		if _, err := h.svc.GetInvitation(r.Context(), c, id); err == nil {
			to := canopy.ConsolePage(acc, "invitations", url.PathEscape(id))
			if a := r.URL.Query().Get(canopy.ParamAnswer); a != "" {
				to += "?" + url.Values{canopy.ParamAnswer: {a}}.Encode()
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		} else if canopy.ErrorKind(err) != canopy.KindNotFound {
			h.fail(w, r, err)
			return
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "This invitation is not for you, or it does not exist. "+
		"If it was sent to another address, sign in as the person it was sent to.")
}

// membershipData is an invitation into an account that a person who
// already has a login answers while signed in.
type membershipData struct {
	Membership *service.Membership
}

// membershipPage shows one of the signed-in person's invited memberships
// with Accept and Decline; anyone else is asked to sign in, and any other
// id is the 404 page.
func (h *Handler) membershipPage(w http.ResponseWriter, r *http.Request) {
	p, ok := h.signedInAs(w, r)
	if !ok {
		return
	}
	ms, err := h.memberships(r.Context(), p, requestID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, m := range ms {
		if m.User.ID == r.PathValue("userId") && m.User.Status == canopy.UserInvited {
			h.render(w, r, http.StatusOK, "membership", &view{Title: "Join " + m.AccountName, Home: home(p), Data: membershipData{Membership: m}})
			return
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "This invitation is not for you, was answered already, or does not exist.")
}

// answerMembership accepts or declines the invitation with the service,
// which checks that it is the signed-in person's.
func (h *Handler) answerMembership(accept bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.signedInAs(w, r)
		if !ok {
			return
		}
		c := service.Caller{Principal: p, RequestID: requestID(r), Channel: channel}
		id := r.PathValue("userId")
		if !accept {
			if _, err := h.svc.DeclineMembership(r.Context(), c, id); err != nil {
				h.fail(w, r, err)
				return
			}
			h.flash(w, "You declined the invitation.", false)
			http.Redirect(w, r, canopy.PageConsole, http.StatusSeeOther)
			return
		}
		u, err := h.svc.AcceptMembership(r.Context(), c, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.flash(w, "You joined the account. Welcome!", false)
		http.Redirect(w, r, canopy.ConsolePage(u.AccountID), http.StatusSeeOther)
	}
}

// confirmEmailPage opens the link sent to a new address: it says which
// address it confirms, and a button does it (opening a link changes
// nothing by itself).
func (h *Handler) confirmEmailPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get(canopy.ParamToken)
	li, err := h.svc.InspectLink(r.Context(), token, canopy.PurposeEmailChange)
	if err != nil {
		h.badLink(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm-email", &view{Title: "Confirm your new address", Data: passwordData{Link: li, Token: token}})
}

// confirmEmail changes the person's address to the one the link was sent
// to (service.ConfirmEmail).
func (h *Handler) confirmEmail(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, err)
		return
	}
	token := r.PostForm.Get(canopy.ParamToken)
	li, err := h.svc.InspectLink(r.Context(), token, canopy.PurposeEmailChange)
	if err == nil {
		_, err = h.svc.ConfirmEmail(r.Context(), service.ConfirmEmailInput{Token: token}, info(r))
	}
	if err != nil {
		h.badLink(w, r, err)
		return
	}
	h.messagePage(w, r, http.StatusOK, "Your address is changed", service.Brand{}, message{
		Text:  "You sign in with " + li.Email + " from now on. Links sent to your old address no longer work.",
		Links: []link{{canopy.PageConsole, "Go to the console"}},
	})
}
