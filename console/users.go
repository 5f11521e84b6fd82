package console

import (
	"net/http"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

type usersData struct {
	Page service.Page[*canopy.User]
}

// users lists the acting account's users (its memberships) with what an
// admin may do to each, and the form that adds one.
func (h *Handler) users(rq *request) error {
	return h.showUsers(rq, http.StatusOK, newForm(map[string][]string{"role": {"member"}}))
}

func (h *Handler) showUsers(rq *request, status int, f *form) error {
	page, err := h.svc.ListUsers(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.PageRequest{Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(rq, status, "users", "users", "Users", f, usersData{Page: page})
}

// addUser adds a user, who gets an email with a link to set a password.
func (h *Handler) addUser(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	v := f.Values
	u, err := h.svc.CreateUser(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.CreateUserInput{
		Email: v.Get("email"), Username: v.Get("username"), Name: v.Get("name"), Role: canopy.UserRole(v.Get("role")),
	})
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showUsers(rq, formStatus(err), f)
	}
	return h.redirect(rq, canopy.ConsolePage(rq.caller.Acting.ID, "users"), "Invited "+u.Email+": an email with a link to set a password is on its way.")
}

// userAction runs one of a user's buttons and returns to the list.
func (h *Handler) userAction(rq *request, done string, act func(userID string) error) error {
	err := act(rq.r.PathValue("userId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "users"), done, err)
}

func (h *Handler) changeRole(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	role := canopy.UserRole(rq.r.PostForm.Get("role"))
	return h.userAction(rq, "The role is changed; the user signs in again to use it.", func(id string) error {
		_, err := h.svc.UpdateUser(rq.r.Context(), rq.caller, rq.caller.Acting.ID, id, service.UserPatch{Role: &role})
		return err
	})
}

func (h *Handler) disableUser(rq *request) error {
	return h.userAction(rq, "The user is disabled and signed out.", func(id string) error {
		_, err := h.svc.SetUserEnabled(rq.r.Context(), rq.caller, rq.caller.Acting.ID, id, false)
		return err
	})
}

func (h *Handler) enableUser(rq *request) error {
	return h.userAction(rq, "The user is enabled.", func(id string) error {
		_, err := h.svc.SetUserEnabled(rq.r.Context(), rq.caller, rq.caller.Acting.ID, id, true)
		return err
	})
}

func (h *Handler) removeUser(rq *request) error {
	return h.userAction(rq, "The user is removed.", func(id string) error {
		return h.svc.DeleteUser(rq.r.Context(), rq.caller, rq.caller.Acting.ID, id)
	})
}

func (h *Handler) resendUserInvitation(rq *request) error {
	return h.userAction(rq, "The invitation email was sent again, with a new link.", func(id string) error {
		_, err := h.svc.ResendInvitation(rq.r.Context(), rq.caller, rq.caller.Acting.ID, id)
		return err
	})
}

type keysData struct {
	Page service.Page[*canopy.APIKey]
	// Created is the key just made, with its secret: shown on this one
	// response and never again.
	Created *service.CreatedAPIKey
}

// keys lists the acting account's API keys, without secrets.
func (h *Handler) keys(rq *request) error {
	return h.showKeys(rq, http.StatusOK, nil, nil)
}

func (h *Handler) showKeys(rq *request, status int, f *form, created *service.CreatedAPIKey) error {
	page, err := h.svc.ListAPIKeys(rq.r.Context(), rq.caller, rq.caller.Acting.ID, service.PageRequest{Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(rq, status, "keys", "keys", "API keys", f, keysData{Page: page, Created: created})
}

// createKey makes a key and shows its secret in this response only: there
// is no redirect to a page that could show it again.
func (h *Handler) createKey(rq *request) error {
	if err := rq.r.ParseForm(); err != nil {
		return err
	}
	f := newForm(rq.r.PostForm)
	k, err := h.svc.CreateAPIKey(rq.r.Context(), rq.caller, rq.caller.Acting.ID, f.Values.Get("name"))
	if err != nil {
		if !f.fail(err) {
			return err
		}
		return h.showKeys(rq, formStatus(err), f, nil)
	}
	return h.showKeys(rq, http.StatusCreated, nil, k)
}

func (h *Handler) revokeKey(rq *request) error {
	err := h.svc.RevokeAPIKey(rq.r.Context(), rq.caller, rq.caller.Acting.ID, rq.r.PathValue("keyId"))
	return h.outcome(rq, canopy.ConsolePage(rq.caller.Acting.ID, "keys"), "The key is revoked: it stops working at once.", err)
}
