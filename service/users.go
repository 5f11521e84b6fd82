package service

import (
	"context"
	"errors"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// ListUsers lists an account's users, oldest first.
func (s *Service) ListUsers(ctx context.Context, c Caller, accountID string, pr PageRequest) (Page[*canopy.User], error) {
	const kind = "users"
	after, err := decodeIDCursor(kind, canopy.PrefixUser, pr.Cursor)
	if err != nil {
		return Page[*canopy.User]{}, err
	}
	var rows []*canopy.User
	err = s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, accountID); err != nil {
			return err
		}
		rows, err = tx.ListUsers(ctx, accountID, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.User]{}, err
	}
	return paginate(rows, pr.limit(), kind, func(u *canopy.User) string { return u.ID }), nil
}

// GetUser returns a user of an account the caller may see.
func (s *Service) GetUser(ctx context.Context, c Caller, accountID, userID string) (*canopy.User, error) {
	var u *canopy.User
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, accountID); err != nil {
			return err
		}
		var err error
		u, err = userIn(ctx, tx, accountID, userID)
		return err
	})
	return u, err
}

// userIn loads a user that belongs to the account, or answers not-found.
func userIn(ctx context.Context, tx store.Tx, accountID, userID string) (*canopy.User, error) {
	u, err := tx.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != accountID) {
		return nil, canopy.NotFound("user")
	}
	return u, err
}

// CreateUserInput adds a user to an account.
type CreateUserInput = UserInput

// CreateUser adds a user to an account and queues the invitation email
// with its one-time set-password link.
//
// Errors: validation-failed; email-taken and username-taken (409);
// account-closed; forbidden for members.
func (s *Service) CreateUser(ctx context.Context, c Caller, accountID string, in CreateUserInput) (*canopy.User, error) {
	var v canopy.Validator
	canopy.ValidateEmail(&v, "email", in.Email, true)
	if in.Username != "" {
		canopy.ValidateUsername(&v, "username", in.Username)
	}
	canopy.ValidatePersonName(&v, "name", in.Name)
	role := in.Role
	if role == "" {
		role = canopy.UserMember
	} else if !role.Valid() {
		v.Add("role", "invalid-enum", "must be admin or member")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		u := &canopy.User{
			ID: s.ids.New(canopy.PrefixUser), AccountID: acc.ID, Email: in.Email, Username: in.Username, Name: in.Name,
			Role: role, Status: canopy.UserInvited, CreatedAt: o.now, UpdatedAt: o.now,
		}
		if u.Username == "" {
			u.Username = u.Email
		}
		if err := o.tx.InsertUser(ctx, u); err != nil {
			return nil, userConflict(err, "", u)
		}
		if _, err := s.queueEmail(ctx, o.tx, acc, u, canopy.TemplateUserInvitation, o.now); err != nil {
			return nil, err
		}
		o.audit(acc.ID, "user.created", "user", u.ID, map[string]any{"role": u.Role})
		return u, nil
	})
}

// UserPatch changes some of a user's fields.
type UserPatch struct {
	Email    *string          `json:"email"`
	Username *string          `json:"username"`
	Name     *string          `json:"name"`
	Role     *canopy.UserRole `json:"role"`
}

// UpdateUser applies a patch. Admins change anything; a member may change
// its own name, email and username, not its role. The last admin of an
// account cannot be demoted.
//
// Errors: not-found; validation-failed; email-taken, username-taken and
// last-admin (409); forbidden.
func (s *Service) UpdateUser(ctx context.Context, c Caller, accountID, userID string, p UserPatch) (*canopy.User, error) {
	var v canopy.Validator
	if p.Email != nil {
		canopy.ValidateEmail(&v, "email", *p.Email, true)
	}
	if p.Username != nil {
		canopy.ValidateUsername(&v, "username", *p.Username)
	}
	if p.Name != nil {
		canopy.ValidatePersonName(&v, "name", *p.Name)
	}
	if p.Role != nil && !p.Role.Valid() {
		v.Add("role", "invalid-enum", "must be admin or member")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return writeSelf(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		u, err := userIn(ctx, o.tx, acc.ID, userID)
		if err != nil {
			return nil, err
		}
		if !c.MayManage() && (u.ID != c.Actor.ID || p.Role != nil) {
			return nil, errMembersRead
		}
		changed := map[string]any{}
		if p.Email != nil && *p.Email != u.Email {
			u.Email, changed["email"] = *p.Email, *p.Email
		}
		if p.Username != nil && *p.Username != u.Username {
			u.Username, changed["username"] = *p.Username, *p.Username
		}
		if p.Name != nil && *p.Name != u.Name {
			u.Name, changed["name"] = *p.Name, *p.Name
		}
		if p.Role != nil && *p.Role != u.Role {
			if u.CountsAsAdmin() {
				if err := o.keepAnAdmin(acc.ID, "demote"); err != nil {
					return nil, err
				}
			}
			u.Role, changed["role"] = *p.Role, *p.Role
		}
		if len(changed) == 0 {
			return u, nil
		}
		u.UpdatedAt = o.now
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return nil, userConflict(err, "", u)
		}
		if _, roleChanged := changed["role"]; roleChanged {
			// A session carries its role: make the user sign in again.
			if err := o.tx.RevokeUserSessions(ctx, u.ID, o.now); err != nil {
				return nil, err
			}
		}
		o.audit(acc.ID, "user.updated", "user", u.ID, changed)
		return u, nil
	})
}

// keepAnAdmin refuses a change that would leave the account without an
// admin.
func (o *op) keepAnAdmin(accountID, verb string) error {
	n, err := o.tx.CountAdmins(o.ctx, accountID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeLastAdmin,
			"cannot %s the last admin of account %s; make another user an admin first", verb, accountID)
	}
	return nil
}

// DeleteUser removes a user, its one-time links and its sessions.
//
// Errors: not-found; last-admin (409); forbidden for members.
func (s *Service) DeleteUser(ctx context.Context, c Caller, accountID, userID string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return struct{}{}, err
		}
		u, err := userIn(ctx, o.tx, acc.ID, userID)
		if err != nil {
			return struct{}{}, err
		}
		if u.CountsAsAdmin() {
			if err := o.keepAnAdmin(acc.ID, "remove"); err != nil {
				return struct{}{}, err
			}
		}
		if err := o.tx.DeleteUser(ctx, u.ID); err != nil {
			return struct{}{}, err
		}
		o.audit(acc.ID, "user.deleted", "user", u.ID, map[string]string{"email": u.Email})
		return struct{}{}, nil
	})
	return err
}

// SetUserEnabled disables a user (ending its sessions) or enables it
// again: active when it has a password, invited otherwise. Doing what is
// already done changes nothing.
//
// Errors: not-found; last-admin (409); forbidden (members; disabling
// oneself would lock oneself out, so it is refused too).
func (s *Service) SetUserEnabled(ctx context.Context, c Caller, accountID, userID string, enabled bool) (*canopy.User, error) {
	return write(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		u, err := userIn(ctx, o.tx, acc.ID, userID)
		if err != nil {
			return nil, err
		}
		switch {
		case enabled && u.Status != canopy.UserDisabled, !enabled && u.Status == canopy.UserDisabled:
			return u, nil
		case !enabled && u.ID == c.Actor.ID:
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden, "a user cannot disable itself")
		case !enabled && u.CountsAsAdmin():
			if err := o.keepAnAdmin(acc.ID, "disable"); err != nil {
				return nil, err
			}
		}
		action := "user.disabled"
		if enabled {
			action, u.Status = "user.enabled", canopy.UserInvited
			if u.PasswordHash != "" {
				u.Status = canopy.UserActive
			}
		} else {
			u.Status = canopy.UserDisabled
			if err := o.tx.RevokeUserSessions(ctx, u.ID, o.now); err != nil {
				return nil, err
			}
		}
		u.UpdatedAt = o.now
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
		o.audit(acc.ID, action, "user", u.ID, nil)
		return u, nil
	})
}

// ResendInvitation queues the invitation (or, for a master user, the
// welcome) email again with a fresh link, for a user who has not set a
// password yet. Older links keep working until one is used or expires.
//
// Errors: not-found; invalid-state (409) when the user is not invited.
func (s *Service) ResendInvitation(ctx context.Context, c Caller, accountID, userID string) (*canopy.User, error) {
	return write(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		u, err := userIn(ctx, o.tx, acc.ID, userID)
		if err != nil {
			return nil, err
		}
		if u.Status != canopy.UserInvited {
			return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState,
				"user %s is %s, not invited; a user who has a password can reset it instead", u.ID, u.Status)
		}
		template := canopy.TemplateUserInvitation
		if u.Master {
			template = canopy.TemplateWelcome
		}
		m, err := s.queueEmail(ctx, o.tx, acc, u, template, o.now)
		if err != nil {
			return nil, err
		}
		o.audit(acc.ID, "user.invitationResent", "user", u.ID, map[string]string{"message": m.ID})
		return u, nil
	})
}

// Me is who the caller is and where it acts.
type Me struct {
	User          *canopy.User    `json:"user,omitempty"`
	APIKey        *canopy.APIKey  `json:"apiKey,omitempty"`
	Account       *canopy.Account `json:"account"`
	ActingAccount *canopy.Account `json:"actingAccount"`
	// MayActAs says which accounts X-Customer-Id may name: "self" (a
	// member) or "self-and-descendants" (API keys and admins).
	MayActAs string `json:"mayActAs"`
	// MayWrite is false for members, who may only read (and edit their own
	// profile).
	MayWrite bool `json:"mayWrite"`
}

// WhoAmI describes the caller.
func (s *Service) WhoAmI(ctx context.Context, c Caller) (*Me, error) {
	me := &Me{MayActAs: "self-and-descendants", MayWrite: c.MayManage()}
	if !c.MayManage() {
		me.MayActAs = "self"
	}
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if me.Account, err = tx.GetAccount(ctx, c.AccountID); err != nil {
			return err
		}
		if me.ActingAccount, err = actingIn(ctx, tx, c); err != nil {
			return err
		}
		if c.IsUser() {
			me.User, err = tx.GetUser(ctx, c.Actor.ID)
		} else {
			me.APIKey, err = tx.GetAPIKey(ctx, c.Actor.ID)
		}
		return err
	})
	return me, err
}
