package service

import (
	"context"
	"errors"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// ListUsers lists an account's memberships, oldest first.
func (s *Service) ListUsers(ctx context.Context, c Caller, accountID string, pr PageRequest) (Page[*canopy.User], error) {
	kind := cursorKind(c, "users", accountID)
	after, err := s.decodeIDCursor(kind, canopy.PrefixUser, pr.Cursor)
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
	return paginate(s, rows, pr.limit(), kind, func(u *canopy.User) string { return u.ID }), nil
}

// GetUser returns a membership of an account the caller may see.
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

// userIn loads a membership of the account, or answers not-found.
func userIn(ctx context.Context, tx store.UserTx, accountID, userID string) (*canopy.User, error) {
	u, err := tx.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != accountID) {
		return nil, canopy.NotFound("user")
	}
	return u, err
}

// CreateUserInput adds a user to an account.
type CreateUserInput = UserInput

func (in *UserInput) validate(v *canopy.Validator, field string) {
	canopy.ValidateEmail(v, field+"email", in.Email, true)
	if in.Username != "" {
		canopy.ValidateUsername(v, field+"username", in.Username)
	}
	canopy.ValidatePersonName(v, field+"name", in.Name)
	if in.Role == "" {
		in.Role = canopy.UserMember
	} else if !in.Role.Valid() {
		v.Add(field+"role", "invalid-enum", "must be admin or member")
	}
}

// CreateUser invites a person into an account: a new address gets a new
// person and a set-password link, a known one an invitation to join
// (rule 11, docs/rules.md). The answer is the same either way — an invited
// membership showing what was asked for — so it tells nobody whether the
// address or username belongs to someone.
//
// Errors: validation-failed; already-member (409) when the address is
// already a member of this account; email-quota (429); account-closed;
// forbidden for members.
func (s *Service) CreateUser(ctx context.Context, c Caller, accountID string, in CreateUserInput) (*canopy.User, error) {
	var v canopy.Validator
	in.validate(&v, "")
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		if err := o.countEmails(1); err != nil {
			return nil, err
		}
		u, m, err := o.addMember(acc, memberInput{UserInput: in}, canopy.TemplateUserInvitation)
		if err != nil {
			return nil, err
		}
		if err := o.tx.InsertOutboxMessages(ctx, m); err != nil {
			return nil, err
		}
		o.audit(acc.ID, "user.created", "user", u.ID, map[string]any{"role": u.Role})
		return u, nil
	})
}

// memberInput is one membership to add: the fields as asked for, whether
// it is the account's master user, and the request field it came from (for
// errors).
type memberInput struct {
	UserInput
	Master bool
	Field  string
}

// addMember invites the person with the given address into acc and
// returns the invited membership with the email (template) that lets them
// join, for the caller to queue. An address nobody has gets a new person,
// with the username asked for if it is free; an address that belongs to
// someone invites that person. Nothing in the result tells the two apart.
func (o *op) addMember(acc *canopy.Account, in memberInput, template string) (*canopy.User, *canopy.OutboxMessage, error) {
	p, err := o.personFor(in.Email, in.Username, in.Name)
	if err != nil {
		return nil, nil, err
	}
	u := &canopy.User{
		ID: o.s.ids.New(canopy.PrefixUser), AccountID: acc.ID, PersonID: p.ID, Person: p,
		Role: in.Role, Status: canopy.UserInvited, Master: in.Master, CreatedAt: o.now, UpdatedAt: o.now,
		InvitedEmail: in.Email, InvitedUsername: in.Username, InvitedName: in.Name, CreatedByAccount: o.caller.AccountID,
	}
	u.Show()
	if err := o.tx.InsertUser(o.ctx, u); err != nil {
		if store.Conflict(err) == store.UniqueMembership {
			return nil, nil, canopy.ConflictField(in.Field+"email", canopy.CodeAlreadyMember, "is already a member of account %s", acc.ID)
		}
		return nil, nil, err
	}
	m, err := emailFor(o.s, acc, u, template, o.now)
	return u, m, err
}

// personFor returns the person with the address, making one when there is
// none. A new person gets the username asked for only when nobody has it:
// a taken username is dropped silently, so the answer cannot tell who has
// it, and the person can choose another once signed in.
//
// It inserts first and looks up only when the insert stored nothing: an
// address nobody has yet — most of those an account is created with — is
// one statement rather than two, and one somebody has is two, as before.
func (o *op) personFor(email, username, name string) (*canopy.Person, error) {
	norm := canopy.NormalizeEmail(email)
	p := &canopy.Person{ID: o.s.ids.New(canopy.PrefixPerson), Email: email, Username: username, Name: name,
		CreatedAt: o.now, UpdatedAt: o.now}
	ok, err := o.tx.InsertPerson(o.ctx, p)
	if err != nil || ok {
		return p, err
	}
	found, err := o.tx.GetPersonByEmail(o.ctx, norm)
	if err == nil || !errors.Is(err, store.ErrNotFound) || p.Username == "" {
		return found, err
	}
	// Nobody has the address, so somebody has the username.
	p.Username = ""
	if ok, err = o.tx.InsertPerson(o.ctx, p); err != nil || ok {
		return p, err
	}
	// A concurrent request made the person first.
	return o.tx.GetPersonByEmail(o.ctx, norm)
}

// countEmails counts n emails the acting account's action sends against its
// plan's daily quota (rule 11, docs/rules.md), refusing the whole write
// with email-quota when they do not fit. The platform root has no quota.
func (o *op) countEmails(n int) error {
	acc := o.acting
	if acc.IsRoot() || n == 0 {
		return nil
	}
	plan := acc.EffectivePlan()
	max := o.s.planLimits(plan).EmailsPerDay
	if max < 0 {
		return nil
	}
	ok, sent, err := o.tx.CountEmails(o.ctx, acc.ID, canopy.DayOf(o.now), n, max)
	if err != nil || ok {
		return err
	}
	resets := canopy.NextDay(o.now)
	e := canopy.Errorf(canopy.KindTooManyRequests, canopy.CodeEmailQuota,
		"account %s may send %d emails a day on the %s plan and has sent %d today; this would send %d more. The count starts again at %s",
		acc.ID, max, plan, sent, n, resets.Format("2006-01-02T15:04Z"))
	e.RetryAfter = resets.Sub(o.now)
	e.Quota = &canopy.Quota{Name: canopy.QuotaEmailsPerDay, Plan: plan, Limit: max, Used: sent, ResetsAt: &resets}
	return e
}

// planLimits returns the limits of a plan.
func (s *Service) planLimits(p canopy.Plan) canopy.PlanLimits {
	if l, ok := s.cfg.PlanLimits[p]; ok {
		return l
	}
	return canopy.DefaultPlanLimits[p]
}

// UserPatch changes some of a user's fields.
type UserPatch struct {
	Email    *string          `json:"email"`
	Username *string          `json:"username"`
	Name     *string          `json:"name"`
	Role     *canopy.UserRole `json:"role"`
}

func (p *UserPatch) profile() bool { return p.Email != nil || p.Username != nil || p.Name != nil }

// UpdateUser applies a patch. An admin changes roles, and while a
// membership is still invited, the email, username and name it invites
// (a new address re-addresses the invitation). Once the person has joined,
// their email, username and name are theirs: only they change them, and a
// new email takes effect when confirmed from the new address (rule 11,
// docs/rules.md). The last admin of an account cannot be demoted.
//
// Errors: not-found; validation-failed; already-member, username-taken
// (409, only to the person themselves), last-admin (409); person-managed
// (403) when an admin changes a joined person's profile; email-quota (429);
// forbidden.
func (s *Service) UpdateUser(ctx context.Context, c Caller, accountID, userID string, p UserPatch) (*canopy.User, error) {
	var v canopy.Validator
	if p.Email != nil {
		canopy.ValidateEmail(&v, "email", *p.Email, true)
	}
	if p.Username != nil && *p.Username != "" {
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
	return writeWork(ctx, s, c, func(o *op) (*canopy.User, error) {
		acc, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		u, err := userIn(ctx, o.tx, acc.ID, userID)
		if err != nil {
			return nil, err
		}
		self := c.IsUser() && c.PersonID == u.PersonID
		if !c.MayManage() && (!self || p.Role != nil) {
			return nil, errMembersRead
		}
		changed := map[string]any{}
		if p.Role != nil && *p.Role != u.Role {
			if u.CountsAsAdmin() {
				if err := o.keepAnAdmin(acc.ID, "demote"); err != nil {
					return nil, err
				}
			}
			u.Role, changed["role"] = *p.Role, *p.Role
		}
		switch {
		case !p.profile():
		case self && u.Status != canopy.UserInvited:
			if err := o.changeOwnProfile(acc, u, p, changed); err != nil {
				return nil, err
			}
		case u.Status == canopy.UserInvited:
			if err := o.readdress(acc, u, p, changed); err != nil {
				return nil, err
			}
		default:
			return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodePersonManaged,
				"user %s has joined: only they can change their email, username and name", u.ID)
		}
		if len(changed) == 0 {
			return u, nil
		}
		u.UpdatedAt = o.now
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
		u.Show()
		o.audit(acc.ID, "user.updated", "user", u.ID, changed)
		return u, nil
	})
}

// changeOwnProfile applies a joined person's change of their own name,
// username or email. A new email is only asked for: the link that confirms
// it goes to the new address, the old address is told, and every link sent
// to the old address stops working now.
func (o *op) changeOwnProfile(acc *canopy.Account, u *canopy.User, p UserPatch, changed map[string]any) error {
	person := u.Person
	dirty := false
	if p.Name != nil && *p.Name != person.Name {
		person.Name, changed["name"], dirty = *p.Name, *p.Name, true
	}
	if p.Username != nil && *p.Username != person.Username {
		person.Username, changed["username"], dirty = *p.Username, *p.Username, true
	}
	if p.Email != nil && canopy.NormalizeEmail(*p.Email) != canopy.NormalizeEmail(person.Email) &&
		canopy.NormalizeEmail(*p.Email) != canopy.NormalizeEmail(person.PendingEmail) {
		if err := o.countEmails(2); err != nil {
			return err
		}
		person.PendingEmail, changed["pendingEmail"], dirty = *p.Email, *p.Email, true
		if err := o.tx.UsePersonTokens(o.ctx, person.ID, o.now); err != nil {
			return err
		}
		confirm, err := emailFor(o.s, acc, u, canopy.TemplateEmailChange, o.now)
		if err != nil {
			return err
		}
		notice, err := emailFor(o.s, acc, u, canopy.TemplateEmailChangeNotice, o.now)
		if err != nil {
			return err
		}
		confirm.Recipient = *p.Email
		if err := o.tx.InsertOutboxMessages(o.ctx, confirm, notice); err != nil {
			return err
		}
	} else if p.Email != nil && canopy.NormalizeEmail(*p.Email) == canopy.NormalizeEmail(person.Email) && person.PendingEmail != "" {
		person.PendingEmail, changed["pendingEmail"], dirty = "", nil, true // back to the address it has
	}
	if !dirty {
		return nil
	}
	person.UpdatedAt = o.now
	if err := o.tx.UpdatePerson(o.ctx, person); err != nil {
		if store.Conflict(err) == store.UniqueUsername {
			return canopy.ConflictField("username", canopy.CodeUsernameTaken, "is already taken; choose another")
		}
		return err
	}
	return nil
}

// readdress changes what an invited membership invites: the name and
// username it shows and, for a new address, the person it invites, with a
// fresh invitation email. A person made by this invitation alone goes with
// it when it moves to another address.
func (o *op) readdress(acc *canopy.Account, u *canopy.User, p UserPatch, changed map[string]any) error {
	if p.Name != nil && *p.Name != u.InvitedName {
		u.InvitedName, changed["name"] = *p.Name, *p.Name
	}
	if p.Username != nil && *p.Username != u.InvitedUsername {
		u.InvitedUsername, changed["username"] = *p.Username, *p.Username
	}
	if p.Email == nil || canopy.NormalizeEmail(*p.Email) == canopy.NormalizeEmail(u.InvitedEmail) {
		if p.Email != nil && *p.Email != u.InvitedEmail {
			u.InvitedEmail, changed["email"] = *p.Email, *p.Email
		}
		return nil
	}
	if err := o.countEmails(1); err != nil {
		return err
	}
	old := u.PersonID
	person, err := o.personFor(*p.Email, u.InvitedUsername, u.InvitedName)
	if err != nil {
		return err
	}
	u.PersonID, u.Person, u.InvitedEmail, changed["email"] = person.ID, person, *p.Email, *p.Email
	members, err := o.tx.ListPersonUsers(o.ctx, person.ID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.AccountID == acc.ID {
			return canopy.ConflictField("email", canopy.CodeAlreadyMember, "is already a member of account %s", acc.ID)
		}
	}
	// The membership must point at its new person before the old one can go.
	u.UpdatedAt = o.now
	if err := o.tx.UpdateUser(o.ctx, u); err != nil {
		return err
	}
	if err := o.dropOrphan(old); err != nil {
		return err
	}
	template := canopy.TemplateUserInvitation
	if u.Master {
		template = canopy.TemplateWelcome
	}
	m, err := emailFor(o.s, acc, u, template, o.now)
	if err != nil {
		return err
	}
	return o.tx.InsertOutboxMessages(o.ctx, m)
}

// dropOrphan deletes a person who belongs nowhere and never proved their
// address: an invitation to a mistyped address leaves nothing behind.
func (o *op) dropOrphan(personID string) error {
	p, err := o.tx.GetPerson(o.ctx, personID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || p.Verified() || p.PasswordHash != "" {
		return err
	}
	members, err := o.tx.ListPersonUsers(o.ctx, personID)
	if err != nil || len(members) > 0 {
		return err
	}
	return o.tx.DeletePerson(o.ctx, personID)
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

// DeleteUser removes a membership. The person keeps their login and their
// other memberships; a person left with none who never proved their
// address is removed too.
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
		if err := o.dropOrphan(u.PersonID); err != nil {
			return struct{}{}, err
		}
		o.audit(acc.ID, "user.deleted", "user", u.ID, map[string]string{"email": u.Email})
		return struct{}{}, nil
	})
	return err
}

// SetUserEnabled disables a membership or enables it again: active when its
// person had joined, invited otherwise. A disabled membership no longer
// acts; the person's sessions go on in their other accounts. Doing what is
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
			if u.JoinedAt != nil {
				u.Status = canopy.UserActive
			}
		} else {
			u.Status = canopy.UserDisabled
		}
		u.UpdatedAt = o.now
		if err := o.tx.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
		u.Show()
		o.audit(acc.ID, action, "user", u.ID, nil)
		return u, nil
	})
}

// ResendInvitation queues the invitation (or, for a master user, the
// welcome) email again with a fresh link, for a membership still invited.
// Older links keep working until one is used or expires.
//
// Errors: not-found; invalid-state (409) when the user is not invited;
// email-quota (429).
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
		if err := o.countEmails(1); err != nil {
			return nil, err
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
