package service

import (
	"context"
	"errors"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// SignupInput registers a new top-level account (seed 002: "Not a user?
// Register for free"). Invitation, from the link of an invitation email to
// an address that had no account, makes the new account the umbrella's
// sub-account at once.
type SignupInput struct {
	AccountName string            `json:"accountName"`
	Email       string            `json:"email"`
	Name        string            `json:"name"`
	Invitation  *SignupInvitation `json:"invitation"`
}

// SignupInvitation is the invitation id and token from a sign-up link.
type SignupInvitation struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

var errInvitationLink = canopy.Errorf(canopy.KindBadRequest, canopy.CodeInvalidToken,
	"this invitation link is invalid, was already used or has expired; ask for a new invitation")

// Signup creates a basic account under the platform root with its master
// user, who gets the set-password email. It answers the same when the
// address already has a user — who then gets an email saying someone tried
// to sign up with it — so it cannot be used to find out who has an account.
//
// Errors: signup-disabled (403); validation-failed; invalid-token (400)
// for a bad invitation link.
func (s *Service) Signup(ctx context.Context, in SignupInput, info RequestInfo) error {
	if s.cfg.SignupDisabled {
		return canopy.Errorf(canopy.KindForbidden, canopy.CodeSignupDisabled, "sign-up is turned off on this installation")
	}
	var v canopy.Validator
	canopy.ValidateName(&v, "accountName", in.AccountName)
	canopy.ValidateEmail(&v, "email", in.Email, true)
	canopy.ValidatePersonName(&v, "name", in.Name)
	if in.Invitation != nil {
		v.Check(canopy.ValidID(canopy.PrefixInvitation, in.Invitation.ID), "invitation.id", canopy.CodeInvalidID, "must be an invitation id")
		v.Check(validSecret(in.Invitation.Token, canopy.TokenPrefix), "invitation.token", "invalid", "must be the token from the invitation link")
	}
	if err := v.Err(); err != nil {
		return err
	}
	child := CreateChildInput{
		Account:    AccountInput{Name: in.AccountName, Email: in.Email},
		MasterUser: &MasterUserInput{Email: in.Email, Name: in.Name},
	}
	users, err := child.validate()
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.LockTree(ctx); err != nil {
			return err
		}
		now := s.now()
		root, err := tx.GetRootAccount(ctx)
		if err != nil {
			return err
		}
		o := &op{ctx: ctx, tx: tx, now: now, s: s, acting: root, caller: Caller{
			Principal: Principal{Actor: canopy.Actor{Type: "system", ID: "signup"}, AccountID: root.ID},
			Acting:    Acting{ID: root.ID, Path: root.Path}, RequestID: info.RequestID,
		}}
		var inv *canopy.Invitation
		if in.Invitation != nil {
			if inv, err = s.signupInvitation(ctx, tx, in, now); err != nil {
				return err
			}
		}
		// An address that belongs to someone is told someone tried, and
		// nothing is made — unless the sign-up comes with an invitation
		// link, whose token proves the address: then the person gets the
		// new account too (invited into it if they already have a login).
		// The answer is the same either way.
		existing, err := tx.GetPersonByEmail(ctx, canopy.NormalizeEmail(in.Email))
		if err == nil && inv == nil {
			return s.signupAttempted(ctx, tx, info, existing, now)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res, err := s.createChild(o, root, child, users)
		if err != nil {
			return err
		}
		o.caller.Acting = Acting{ID: res.Account.ID, Path: res.Account.Path}
		o.audit(res.Account.ID, "signup.completed", "account", res.Account.ID, nil)
		if inv != nil {
			if err := s.join(o, inv, res.Account); err != nil {
				return err
			}
			o.audit(res.Account.ID, "invitation.accepted", "invitation", inv.ID, map[string]string{"umbrellaId": inv.UmbrellaID})
			o.audit(inv.UmbrellaID, "subAccount.joined", "account", res.Account.ID, map[string]string{"invitationId": inv.ID})
		}
		return o.flush()
	})
}

// signupInvitation checks the invitation of a sign-up link: pending,
// addressed by email to the address signing up, and the link's token.
func (s *Service) signupInvitation(ctx context.Context, tx store.InvitationTx, in SignupInput, now time.Time) (*canopy.Invitation, error) {
	inv, err := tx.GetInvitation(ctx, in.Invitation.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvitationLink
	}
	if err != nil {
		return nil, err
	}
	if inv.StatusAt(now) != canopy.InvitationPending || inv.InviteeAccountID != "" || inv.TokenHash == "" ||
		inv.TokenHash != canopy.HashSecret(in.Invitation.Token) ||
		canopy.NormalizeEmail(inv.Email) != canopy.NormalizeEmail(in.Email) {
		return nil, errInvitationLink
	}
	return inv, nil
}

// signupAttempted tells a person that someone tried to sign up with their
// address, in the brand of their oldest membership's account.
func (s *Service) signupAttempted(ctx context.Context, tx store.Tx, info RequestInfo, p *canopy.Person, now time.Time) error {
	u, err := firstMembership(ctx, tx, p.ID)
	if err != nil || u == nil {
		return err
	}
	acc, err := tx.GetAccount(ctx, u.AccountID)
	if err != nil {
		return err
	}
	if _, err := s.queueEmail(ctx, tx, acc, u, canopy.TemplateSignupAttempt, now); err != nil {
		return err
	}
	return s.systemAudit(ctx, tx, info, canopy.Actor{Type: "system", ID: "signup"}, acc.ID, "signup.attempted", "user", u.ID, nil)
}
