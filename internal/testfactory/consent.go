package testfactory

import (
	"context"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// ChildOn creates a child of parentID on the given plan, as the platform
// root acting for the parent (which may sell at most its own plan).
func (b *Bundle) ChildOn(t testing.TB, parentID string, plan canopy.Plan) *canopy.Account {
	t.Helper()
	in := b.ChildInput()
	in.Account.Plan = plan
	res, err := b.Svc.CreateChild(context.Background(), b.As(t, parentID), in)
	if err != nil {
		t.Fatalf("create %s child of %s: %v", plan, parentID, err)
	}
	return res.Account
}

// Invite has umbrellaID invite subID (a top-level account) on the given
// terms (AccountID is filled in) and subID accept with its own credential.
// It returns the sub-account as it is now.
func (b *Bundle) Invite(t testing.TB, umbrellaID, subID string, terms service.InvitationInput) *canopy.Account {
	t.Helper()
	ctx := context.Background()
	terms.AccountID = subID
	inv, err := b.Svc.CreateInvitation(ctx, b.As(t, umbrellaID), terms)
	if err != nil {
		t.Fatalf("invite %s to %s: %v", subID, umbrellaID, err)
	}
	if _, err := b.Svc.AcceptInvitation(ctx, b.AsKey(t, b.Key(t, subID), ""), inv.ID); err != nil {
		t.Fatalf("%s accepts %s: %v", subID, umbrellaID, err)
	}
	a, err := b.Svc.GetAccount(ctx, b.As(t, subID), subID)
	if err != nil {
		t.Fatalf("read %s: %v", subID, err)
	}
	return a
}
