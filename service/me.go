package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Me is who the caller is and where it acts.
type Me struct {
	// User is the membership a session acts through; APIKey the key.
	User    *canopy.User    `json:"user,omitempty"`
	APIKey  *canopy.APIKey  `json:"apiKey,omitempty"`
	Person  *PersonView     `json:"person,omitempty"`
	Account *canopy.Account `json:"account"`
	// ActingAccount is the account the request acts as; nil for a session
	// whose person has only invitations to answer.
	ActingAccount *canopy.Account `json:"actingAccount"`
	// Memberships are the person's memberships, invitations included: a
	// session acts in each active one with X-Customer-Id (as an admin, also
	// in its descendants).
	Memberships []*Membership `json:"memberships,omitempty"`
	// MayActAs says which accounts X-Customer-Id may name, from the
	// account the request acts through: "self" (a member) or
	// "self-and-descendants" (API keys and admins).
	MayActAs string `json:"mayActAs"`
	// MayWrite is false for members, who may only read (and edit their own
	// profile).
	MayWrite bool `json:"mayWrite"`
}

// PersonView is a signed-in person's own login, as only they see it.
type PersonView struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
	// PendingEmail is an address change waiting for its confirmation.
	PendingEmail string `json:"pendingEmail,omitempty"`
	Username     string `json:"username"`
	Name         string `json:"name"`
}

// Membership is one of a person's memberships, with its account's name.
type Membership struct {
	User        *canopy.User `json:"user"`
	AccountName string       `json:"accountName"`
}

// WhoAmI describes the caller.
func (s *Service) WhoAmI(ctx context.Context, c Caller) (*Me, error) {
	var me *Me
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		me, err = whoAmI(ctx, tx, c)
		return err
	})
	return me, err
}

// WhoAmIWithBrand is WhoAmI and the brand the acting account's pages wear
// (its effective white_label_portal configuration), in one read: what
// every console page shows around its own content.
func (s *Service) WhoAmIWithBrand(ctx context.Context, c Caller) (*Me, Brand, error) {
	var me *Me
	var b Brand
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		if me, err = whoAmI(ctx, tx, c); err != nil {
			return err
		}
		acting := me.ActingAccount
		if acting == nil {
			if acting, err = actingIn(ctx, tx, c); err != nil {
				return err
			}
		}
		if b, err = effectiveBrand(ctx, tx, acting); err != nil {
			return fmt.Errorf("read brand: %w", err)
		}
		return nil
	})
	return me, b, err
}

func whoAmI(ctx context.Context, tx store.Tx, c Caller) (*Me, error) {
	me := &Me{MayActAs: "self-and-descendants", MayWrite: c.MayManage()}
	if !c.MayManage() {
		me.MayActAs = "self"
	}
	var err error
	if c.AccountID != "" {
		if me.Account, err = tx.GetAccount(ctx, c.AccountID); err != nil {
			return nil, err
		}
	}
	if c.Acting.ID != "" {
		if me.ActingAccount, err = actingIn(ctx, tx, c); err != nil {
			return nil, err
		}
	}
	if !c.IsUser() {
		me.APIKey, err = tx.GetAPIKey(ctx, c.Actor.ID)
		return me, err
	}
	p, err := tx.GetPerson(ctx, c.PersonID)
	if err != nil {
		return nil, err
	}
	me.Person = &PersonView{Email: p.Email, EmailVerified: p.Verified(), PendingEmail: p.PendingEmail, Username: p.Username, Name: p.Name}
	members, err := tx.ListPersonUsers(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(members))
	for i, u := range members {
		ids[i] = u.AccountID
	}
	accounts, err := tx.GetAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*canopy.Account, len(accounts))
	for _, a := range accounts {
		byID[a.ID] = a
	}
	me.Memberships = []*Membership{}
	for _, u := range members {
		acc, ok := byID[u.AccountID]
		if !ok {
			return nil, fmt.Errorf("membership %s: account %s: %w", u.ID, u.AccountID, store.ErrNotFound)
		}
		if acc.Status == canopy.StatusClosed {
			continue
		}
		me.Memberships = append(me.Memberships, &Membership{User: u, AccountName: acc.Name})
		if u.ID == c.Actor.ID {
			me.User = u
		}
	}
	return me, nil
}

// AcceptMembership joins the account that invited the signed-in person:
// the invited membership becomes active.
//
// Errors: not-found (not one of the person's invited memberships);
// account-closed.
func (s *Service) AcceptMembership(ctx context.Context, c Caller, userID string) (*canopy.User, error) {
	return s.answerMembership(ctx, c, userID, true)
}

// DeclineMembership refuses an invitation into an account: the invited
// membership is removed.
//
// Errors: not-found (not one of the person's invited memberships).
func (s *Service) DeclineMembership(ctx context.Context, c Caller, userID string) (*canopy.User, error) {
	return s.answerMembership(ctx, c, userID, false)
}

func (s *Service) answerMembership(ctx context.Context, c Caller, userID string, accept bool) (*canopy.User, error) {
	if !c.IsUser() {
		return nil, canopy.NotFound("membership")
	}
	var u *canopy.User
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.GetUser(ctx, userID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (u.PersonID != c.PersonID || u.Status != canopy.UserInvited)) {
			return canopy.NotFound("membership")
		}
		if err != nil {
			return err
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err != nil {
			return err
		}
		if acc.Status == canopy.StatusClosed {
			return closedError(acc.ID)
		}
		now := s.now()
		action := "user.joined"
		if accept {
			if u, err = join(ctx, tx, u.ID, now); err != nil {
				return err
			}
		} else {
			action = "user.declined"
			if err := tx.DeleteUser(ctx, u.ID); err != nil {
				return err
			}
		}
		o := &op{ctx: ctx, tx: tx, now: now, s: s, caller: c}
		o.caller.Acting = Acting{ID: u.AccountID}
		o.caller.Actor.ID = u.ID
		o.audit(u.AccountID, action, "user", u.ID, nil)
		return o.flush()
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
