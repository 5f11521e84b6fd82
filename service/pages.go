package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// What the pages people open need to show before anything is changed: whose
// link they followed, in whose brand. Each answers only to the holder of a
// secret (a one-time link) or to a caller who may read the thing, so none
// of them tells an anonymous visitor whether an id or an address exists.

// LinkInfo is what a one-time link is for, as the page it opens shows it.
// AccountName and Brand are those of the account a welcome or invitation
// link joins; empty for other links.
type LinkInfo struct {
	Purpose     canopy.TokenPurpose
	Name        string
	Email       string
	Username    string
	AccountName string
	Brand       Brand
	ExpiresAt   time.Time
}

// InspectLink tells what a one-time link does, without using it: whose
// password it sets (or, for an address change, which address it
// confirms), and for a welcome or invitation link which account it joins.
// It refuses what SetPassword and ConfirmEmail refuse before looking at a
// password: unknown, used, expired and superseded links alike, links of
// another purpose than purposes (invalid-token), a disabled membership
// (user-disabled) and a closed account (account-closed).
func (s *Service) InspectLink(ctx context.Context, token string, purposes ...canopy.TokenPurpose) (*LinkInfo, error) {
	tok, person, err := s.redeemable(ctx, token, purposes...)
	if err != nil {
		return nil, err
	}
	info := &LinkInfo{Purpose: tok.Purpose, Name: person.Name, Email: person.Email, Username: person.Username, ExpiresAt: tok.ExpiresAt}
	if tok.Purpose == canopy.PurposeEmailChange {
		info.Email = person.PendingEmail
	}
	if tok.UserID == "" {
		return info, nil
	}
	err = s.read(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, tok.UserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.PersonID != person.ID) {
			return errInvalidToken // the membership was removed since
		}
		if err != nil {
			return err
		}
		if u.Status == canopy.UserDisabled {
			return errUserDisabled
		}
		acc, err := tx.GetAccount(ctx, u.AccountID)
		if err != nil {
			return err
		}
		if acc.Status == canopy.StatusClosed {
			return closedError(acc.ID)
		}
		info.AccountName = acc.Name
		info.Brand, err = effectiveBrand(ctx, tx, acc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// SignupLinkInfo is what an invitation's sign-up link offers.
type SignupLinkInfo struct {
	Invitation *canopy.Invitation
	// Brand is the umbrella's.
	Brand Brand
}

// InspectSignupLink tells what the sign-up link of an invitation by email
// offers, without using it. A link Signup would refuse — unknown, answered,
// expired, superseded by a newer email, or for an address that has an
// account by now — answers invalid-token.
func (s *Service) InspectSignupLink(ctx context.Context, invitationID, token string) (*SignupLinkInfo, error) {
	if !canopy.ValidID(canopy.PrefixInvitation, invitationID) || !strings.HasPrefix(token, canopy.TokenPrefix) {
		return nil, errInvitationLink
	}
	var info *SignupLinkInfo
	err := s.read(ctx, func(tx store.Tx) error {
		inv, err := tx.GetInvitation(ctx, invitationID)
		if err != nil {
			return err
		}
		if inv.StatusAt(s.now()) != canopy.InvitationPending || inv.InviteeAccountID != "" || inv.TokenHash == "" ||
			inv.TokenHash != canopy.HashSecret(token) {
			return errInvitationLink
		}
		umbrella, err := tx.GetAccount(ctx, inv.UmbrellaID)
		if err != nil {
			return err
		}
		brand, err := effectiveBrand(ctx, tx, umbrella)
		if err != nil {
			return err
		}
		info = &SignupLinkInfo{Invitation: inv, Brand: brand}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInvitationLink
	}
	if err != nil {
		return nil, err
	}
	return info, nil
}

// SignupOpen reports whether anyone may register an account, so that the
// sign-up page can say so before a form is filled in.
func (s *Service) SignupOpen() bool { return !s.cfg.SignupDisabled }

// InvitationBrand is the brand of the umbrella that sent an invitation the
// acting account may read: the invitee answers in the inviter's colours, as
// the email showed them.
func (s *Service) InvitationBrand(ctx context.Context, c Caller, id string) (Brand, error) {
	var b Brand
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := actingIn(ctx, tx, c); err != nil {
			return err
		}
		inv, err := s.readable(ctx, tx, c, id)
		if err != nil {
			return err
		}
		umbrella, err := tx.GetAccount(ctx, inv.UmbrellaID)
		if err != nil {
			return err
		}
		b, err = effectiveBrand(ctx, tx, umbrella)
		return err
	})
	return b, err
}
