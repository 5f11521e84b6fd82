package service_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// world is root → umbrella (enterprise) and, separately, root → invitee
// (basic), each with its own API key, plus a bystander.
type world struct {
	b                            *testfactory.Bundle
	umbrella, invitee, bystander *canopy.Account
	asUmbrella, asInvitee        service.Caller
}

func newWorld(t *testing.T, db *sqlstore.DB, opts ...testfactory.Options) *world {
	t.Helper()
	b := testfactory.New(t, db, opts...)
	in := b.ChildInput()
	in.Account.Plan = canopy.PlanEnterprise
	res, err := b.Svc.CreateChild(context.Background(), b.As(t, b.Root.ID), in)
	require.NoError(t, err)
	w := &world{b: b, umbrella: res.Account, invitee: b.Child(t, b.Root.ID), bystander: b.Child(t, b.Root.ID)}
	w.asUmbrella = b.AsKey(t, b.Key(t, w.umbrella.ID), "")
	w.asInvitee = b.AsKey(t, b.Key(t, w.invitee.ID), "")
	b.Activate(t, w.umbrella.ID, w.invitee.ID) // their admins may answer and are told
	return w
}

// emailsTo delivers the due emails and returns what each says, by
// template.
func (w *world) emailsTo(t *testing.T) map[string][]canopy.Email {
	out := map[string][]canopy.Email{}
	for _, c := range w.b.Emails(t) {
		out[c.Outbox.Template] = append(out[c.Outbox.Template], c.Content)
	}
	return out
}

// invitationEmail is e as the invitation it must be.
func invitationEmail(t *testing.T, e canopy.Email) *canopy.InvitationEmail {
	t.Helper()
	inv, ok := e.(*canopy.InvitationEmail)
	require.True(t, ok, "%T is not an invitation", e)
	return inv
}

func TestInvitationByAccountIsAcceptedIntoTheUmbrella(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{
			AccountID: w.invitee.ID, Message: "Join us", AutoShareRole: canopy.RoleViewer,
		})
		require.NoError(t, err)
		require.Equal(t, canopy.InvitationPending, inv.Status)
		require.Equal(t, canopy.BillingParent, inv.Billing, "the default offer")
		require.Equal(t, w.b.Clock.Now().Add(14*24*time.Hour).UTC(), inv.ExpiresAt)

		emails := w.emailsTo(t)
		require.Len(t, emails[canopy.TemplateInvitation], 1, "the invitee's admin is told")
		e := invitationEmail(t, emails[canopy.TemplateInvitation][0])
		require.Equal(t, w.umbrella.Name, e.OtherAccountName)
		require.Equal(t, "Join us", e.Message)
		require.Contains(t, e.Link, "/invitations/"+inv.ID)
		require.False(t, e.NewAccount)

		received, err := w.b.Svc.ListInvitations(ctx, w.asInvitee, service.InvitationQuery{Direction: "received"}, service.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{inv.ID}, invIDs(received.Data))
		sent, err := w.b.Svc.ListInvitations(ctx, w.asUmbrella, service.InvitationQuery{Direction: "sent", Status: canopy.InvitationPending}, service.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{inv.ID}, invIDs(sent.Data))

		accepted, err := w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.InvitationAccepted, accepted.Status)
		a, err := w.b.Svc.GetAccount(ctx, w.asUmbrella, w.invitee.ID)
		require.NoError(t, err, "the umbrella now sees its sub-account")
		require.Equal(t, w.umbrella.ID, a.ParentID)
		require.Equal(t, canopy.Link{Origin: canopy.OriginInvited, AutoShareRole: canopy.RoleViewer, Billing: canopy.BillingParent, CreatedAt: a.Link.CreatedAt}, *a.Link)
		require.Equal(t, canopy.PlanBasic, a.Plan)
		require.Equal(t, canopy.PlanPro, a.EffectivePlan(), "a basic sub-account of an enterprise umbrella gets pro")
		require.Len(t, w.emailsTo(t)[canopy.TemplateInvitationAccepted], 1, "the umbrella's admin is told")

		_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
		require.Equal(t, canopy.CodeInvalidState, canopy.ErrorCode(err), "accepted once")
	})
}

func invIDs(invs []*canopy.Invitation) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.ID
	}
	return out
}

func TestWhoMayAnswerAnInvitation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
		require.NoError(t, err)
		member := w.b.User(t, w.invitee.ID, canopy.UserMember)
		memberCaller := w.b.AsKey(t, w.b.SignIn(t, member.Email), "")
		cases := []struct {
			name string
			c    service.Caller
		}{
			{"a member of the invitee", memberCaller},
			{"an ancestor acting as the invitee", w.b.As(t, w.invitee.ID)},
			{"a bystander", w.b.AsKey(t, w.b.Key(t, w.bystander.ID), "")},
			{"the umbrella itself", w.asUmbrella},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := w.b.Svc.AcceptInvitation(ctx, tc.c, inv.ID)
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
				_, err = w.b.Svc.DeclineInvitation(ctx, tc.c, inv.ID)
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
			})
		}
		_, err = w.b.Svc.CancelInvitation(ctx, w.asInvitee, inv.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "only the umbrella cancels")
		_, err = w.b.Svc.GetInvitation(ctx, cases[2].c, inv.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a bystander cannot even see it")
	})
}

func TestInvitationTransitions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		invite := func() *canopy.Invitation {
			inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, ExpiresInDays: 2})
			require.NoError(t, err)
			w.b.Emails(t)
			return inv
		}
		t.Run("decline tells the umbrella", func(t *testing.T) {
			inv := invite()
			d, err := w.b.Svc.DeclineInvitation(ctx, w.asInvitee, inv.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.InvitationDeclined, d.Status)
			require.Len(t, w.emailsTo(t)[canopy.TemplateInvitationDeclined], 1)
			_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
			require.Equal(t, canopy.CodeInvalidState, canopy.ErrorCode(err))
		})
		t.Run("cancel tells the invitee", func(t *testing.T) {
			inv := invite()
			_, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
			require.Equal(t, canopy.CodeInvitationPending, canopy.ErrorCode(err), "one pending invitation per invitee")
			c, err := w.b.Svc.CancelInvitation(ctx, w.asUmbrella, inv.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.InvitationCancelled, c.Status)
			require.Len(t, w.emailsTo(t)[canopy.TemplateInvitationCancelled], 1)
		})
		t.Run("resend sends it again", func(t *testing.T) {
			inv := invite()
			_, err := w.b.Svc.ResendInvitationEmail(ctx, w.asUmbrella, inv.ID)
			require.NoError(t, err)
			require.Len(t, w.emailsTo(t)[canopy.TemplateInvitation], 1)
			_, err = w.b.Svc.CancelInvitation(ctx, w.asUmbrella, inv.ID)
			require.NoError(t, err)
			_, err = w.b.Svc.ResendInvitationEmail(ctx, w.asUmbrella, inv.ID)
			require.Equal(t, canopy.CodeInvalidState, canopy.ErrorCode(err))
		})
		t.Run("expiry, without sleeping", func(t *testing.T) {
			inv := invite()
			w.b.Clock.Advance(2*24*time.Hour + time.Second)
			got, err := w.b.Svc.GetInvitation(ctx, w.asInvitee, inv.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.InvitationExpired, got.Status, "expired as soon as its time passes")
			_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
			require.Equal(t, canopy.CodeInvalidState, canopy.ErrorCode(err))
			n, err := w.b.Svc.ExpireInvitations(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Len(t, w.emailsTo(t)[canopy.TemplateInvitationExpired], 1, "the umbrella is told once")
			n, err = w.b.Svc.ExpireInvitations(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			expired, err := w.b.Svc.ListInvitations(ctx, w.asUmbrella, service.InvitationQuery{Direction: "sent", Status: canopy.InvitationExpired}, service.PageRequest{})
			require.NoError(t, err)
			require.Contains(t, invIDs(expired.Data), inv.ID)
		})
		t.Run("only enterprise accounts invite", func(t *testing.T) {
			_, err := w.b.Svc.CreateInvitation(ctx, w.asInvitee, service.InvitationInput{AccountID: w.bystander.ID})
			require.Equal(t, canopy.CodePlanNotAllowed, canopy.ErrorCode(err))
		})
	})
}

// TestTwoUmbrellasAcceptedAtOnce: an account invited by two umbrellas
// accepts both at the same moment; exactly one wins.
func TestTwoUmbrellasAcceptedAtOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		in := w.b.ChildInput()
		in.Account.Plan = canopy.PlanEnterprise
		second, err := w.b.Svc.CreateChild(ctx, w.b.As(t, w.b.Root.ID), in)
		require.NoError(t, err)
		asSecond := w.b.AsKey(t, w.b.Key(t, second.Account.ID), "")
		inv1, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
		require.NoError(t, err)
		inv2, err := w.b.Svc.CreateInvitation(ctx, asSecond, service.InvitationInput{AccountID: w.invitee.ID})
		require.NoError(t, err)

		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{inv1.ID, inv2.ID} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, id) }()
		}
		wg.Wait()
		codes := []string{canopy.ErrorCode(errs[0]), canopy.ErrorCode(errs[1])}
		require.ElementsMatch(t, []string{"internal", canopy.CodeHasUmbrella}, codes, "one success (nil), one has-umbrella: %v", errs)
		a, err := w.b.Svc.GetAccount(ctx, w.b.As(t, w.b.Root.ID), w.invitee.ID)
		require.NoError(t, err)
		require.Contains(t, []string{w.umbrella.ID, second.Account.ID}, a.ParentID)
	})
}

func TestInvitationsNeverMakeACycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		kid := w.b.Child(t, w.umbrella.ID)
		_, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: kid.ID})
		require.Equal(t, canopy.CodeCycle, canopy.ErrorCode(err), "an umbrella cannot invite its own descendant")
		_, err = w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.umbrella.ID})
		require.Equal(t, canopy.CodeCycle, canopy.ErrorCode(err))

		// Invited, then the umbrella is moved below the invitee before it
		// accepts: accepting would make a cycle.
		inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
		require.NoError(t, err)
		_, err = w.b.Svc.MoveAccount(ctx, w.b.As(t, w.b.Root.ID), w.umbrella.ID, w.invitee.ID)
		require.NoError(t, err)
		_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
		require.Contains(t, []string{canopy.CodeCycle, canopy.CodeHasUmbrella}, canopy.ErrorCode(err), "%v", err)
		assertTree(t, db, canopy.DefaultMaxDepth, 5)
	})
}

func TestInvitationByEmail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)

		t.Run("an address with no account signs up and accepts in one go", func(t *testing.T) {
			inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{Email: "New@Person.example", FirstName: "Nia"})
			require.NoError(t, err)
			emails := w.emailsTo(t)[canopy.TemplateInvitation]
			require.Len(t, emails, 1)
			require.True(t, invitationEmail(t, emails[0]).NewAccount)
			link, err := url.Parse(emails[0].Common().Link)
			require.NoError(t, err)
			require.Equal(t, "/signup", link.Path)
			require.Equal(t, inv.ID, link.Query().Get("invitation"))

			signup := service.SignupInput{AccountName: "Nia's Shop", Email: "new@person.example", Name: "Nia",
				Invitation: &service.SignupInvitation{ID: inv.ID, Token: link.Query().Get("token")}}
			bad := signup
			bad.Invitation = &service.SignupInvitation{ID: inv.ID, Token: canopy.TokenPrefix + "forged"}
			require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(w.b.Svc.Signup(ctx, bad, noInfo)))
			require.NoError(t, w.b.Svc.Signup(ctx, signup, noInfo))

			got, err := w.b.Svc.GetInvitation(ctx, w.asUmbrella, inv.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.InvitationAccepted, got.Status)
			page, err := w.b.Svc.ListChildren(ctx, w.asUmbrella, w.umbrella.ID, service.PageRequest{})
			require.NoError(t, err)
			require.Len(t, page.Data, 1)
			require.Equal(t, "Nia's Shop", page.Data[0].Name)
			require.Equal(t, canopy.OriginInvited, page.Data[0].Link.Origin)
			emails2 := w.emailsTo(t)
			require.Len(t, emails2[canopy.TemplateWelcome], 1, "the new master user sets a password")
			require.Len(t, emails2[canopy.TemplateInvitationAccepted], 1)
		})

		t.Run("an address with an account: its admin signs in and accepts", func(t *testing.T) {
			admin := masterOf(t, w.b, w.invitee.ID)
			inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{Email: admin.Email})
			require.NoError(t, err)
			emails := w.emailsTo(t)[canopy.TemplateInvitation]
			require.Len(t, emails, 1)
			require.False(t, invitationEmail(t, emails[0]).NewAccount)
			session := w.b.AsKey(t, w.b.SignIn(t, admin.Email), "")
			received, err := w.b.Svc.ListInvitations(ctx, session, service.InvitationQuery{Direction: "received", Status: canopy.InvitationPending}, service.PageRequest{})
			require.NoError(t, err)
			require.Equal(t, []string{inv.ID}, invIDs(received.Data))
			_, err = w.b.Svc.AcceptInvitation(ctx, session, inv.ID)
			require.NoError(t, err)
			a, err := w.b.Svc.GetAccount(ctx, w.asUmbrella, w.invitee.ID)
			require.NoError(t, err)
			require.Equal(t, w.umbrella.ID, a.ParentID)
		})

		t.Run("the answer is the same whether or not the address has an account", func(t *testing.T) {
			known := masterOf(t, w.b, w.bystander.ID).Email
			a, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{Email: known})
			require.NoError(t, err)
			b, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{Email: "nobody@nowhere.example"})
			require.NoError(t, err)
			a.ID, b.ID, a.Email, b.Email = "", "", "", ""
			require.Equal(t, a, b)
		})
	})
}

func TestSignup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		in := service.SignupInput{AccountName: "Solo", Email: "solo@example.com", Name: "Sol"}
		require.NoError(t, w.b.Svc.Signup(ctx, in, noInfo))
		emails := w.emailsTo(t)
		require.Len(t, emails[canopy.TemplateWelcome], 1)
		require.NoError(t, w.b.Svc.Signup(ctx, in, noInfo), "the same answer for an address in use")
		emails = w.emailsTo(t)
		require.Empty(t, emails[canopy.TemplateWelcome])
		require.Len(t, emails[canopy.TemplateSignupAttempt], 1, "the existing user is told instead")
		page, err := w.b.Svc.FindAccounts(ctx, w.b.As(t, w.b.Root.ID), service.AccountFilter{}, service.PageRequest{Limit: 100})
		require.NoError(t, err)
		n := 0
		for _, a := range page.Data {
			if a.Name == "Solo" {
				n++
				require.Equal(t, canopy.PlanBasic, a.Plan)
				require.Equal(t, w.b.Root.ID, a.ParentID)
			}
		}
		require.Equal(t, 1, n)

		off := service.New(db, service.Config{SignupDisabled: true})
		require.Equal(t, canopy.CodeSignupDisabled, canopy.ErrorCode(off.Signup(ctx, in, noInfo)))
	})
}

func TestLeavingAndReleasing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		join := func() {
			inv, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, Billing: canopy.BillingParent})
			require.NoError(t, err)
			_, err = w.b.Svc.AcceptInvitation(ctx, w.asInvitee, inv.ID)
			require.NoError(t, err)
		}
		join()
		left, err := w.b.Svc.LeaveUmbrella(ctx, w.asInvitee, w.invitee.ID)
		require.NoError(t, err, "the sub-account leaves")
		require.Equal(t, w.b.Root.ID, left.ParentID)
		require.Equal(t, canopy.BillingSelf, left.Link.Billing, "it pays for itself again")
		require.Equal(t, canopy.RoleNone, left.Link.AutoShareRole)
		require.Equal(t, canopy.PlanBasic, left.EffectivePlan())
		_, err = w.b.Svc.GetAccount(ctx, w.asUmbrella, w.invitee.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "the umbrella's access ends at once")

		join()
		_, err = w.b.Svc.LeaveUmbrella(ctx, w.asUmbrella, w.invitee.ID)
		require.NoError(t, err, "the umbrella releases it")
		_, err = w.b.Svc.GetAccount(ctx, w.asUmbrella, w.invitee.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))

		created := w.b.Child(t, w.umbrella.ID)
		_, err = w.b.Svc.LeaveUmbrella(ctx, w.asUmbrella, created.ID)
		require.Equal(t, canopy.CodeCreatedLink, canopy.ErrorCode(err), "created children are moved or closed, not released")
		_, err = w.b.Svc.LeaveUmbrella(ctx, w.asUmbrella, w.bystander.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
	})
}

func TestContactsInviteSubAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		admin := masterOf(t, w.b, w.invitee.ID)
		ct, err := w.b.Svc.CreateContact(ctx, w.asUmbrella, service.ContactInput{Email: admin.Email, FirstName: "Ada", Mobile: "+14155550123"})
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountNone, ct.SubAccountStatus)
		_, err = w.b.Svc.CreateContact(ctx, w.asUmbrella, service.ContactInput{Email: admin.Email})
		require.Equal(t, canopy.CodeContactExists, canopy.ErrorCode(err))
		_, err = w.b.Svc.CreateContact(ctx, w.asUmbrella, service.ContactInput{Email: "x@example.com", Mobile: "0415 555 0123"})
		require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(err), "mobile numbers are E.164")

		yes := true
		ct, err = w.b.Svc.UpdateContact(ctx, w.asUmbrella, ct.ID, service.ContactPatch{SubAccount: &yes})
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountInvited, ct.SubAccountStatus)
		require.NotEmpty(t, ct.InvitationID)
		require.Len(t, w.emailsTo(t)[canopy.TemplateInvitation], 1)

		session := w.b.AsKey(t, w.b.SignIn(t, admin.Email), "")
		_, err = w.b.Svc.AcceptInvitation(ctx, session, ct.InvitationID)
		require.NoError(t, err)
		ct, err = w.b.Svc.GetContact(ctx, w.asUmbrella, ct.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountActive, ct.SubAccountStatus)
		require.Equal(t, w.invitee.ID, ct.SubAccountID)

		_, err = w.b.Svc.LeaveUmbrella(ctx, w.asInvitee, w.invitee.ID)
		require.NoError(t, err)
		ct, err = w.b.Svc.GetContact(ctx, w.asUmbrella, ct.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountNone, ct.SubAccountStatus, "it left")

		// Invited with the contact; then declined; then a new one expires.
		other, err := w.b.Svc.CreateContact(ctx, w.asUmbrella, service.ContactInput{Email: "z@zed.example", SubAccount: true})
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountInvited, other.SubAccountStatus)
		no := false
		other, err = w.b.Svc.UpdateContact(ctx, w.asUmbrella, other.ID, service.ContactPatch{SubAccount: &no})
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountNone, other.SubAccountStatus, "unticking withdraws the invitation")
		other, err = w.b.Svc.UpdateContact(ctx, w.asUmbrella, other.ID, service.ContactPatch{SubAccount: &yes})
		require.NoError(t, err)
		w.b.Clock.Advance(15 * 24 * time.Hour)
		other, err = w.b.Svc.GetContact(ctx, w.asUmbrella, other.ID)
		require.NoError(t, err)
		require.Equal(t, canopy.SubAccountExpired, other.SubAccountStatus)

		_, err = w.b.Svc.CreateContact(ctx, w.asInvitee, service.ContactInput{Email: "q@example.com", SubAccount: true})
		require.Equal(t, canopy.CodePlanNotAllowed, canopy.ErrorCode(err), "a basic account cannot invite")
		page, err := w.b.Svc.ListContacts(ctx, w.asInvitee, service.PageRequest{})
		require.NoError(t, err)
		require.Empty(t, page.Data, "and nothing was written")
		_, err = w.b.Svc.GetContact(ctx, w.asInvitee, ct.ID)
		require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "contacts are the owner's")
	})
}

// TestInvitationEdgeCases covers what the contract review found.
func TestInvitationEdgeCases(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		t.Run("an expired invitation not yet swept does not block a new one", func(t *testing.T) {
			_, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, ExpiresInDays: 1})
			require.NoError(t, err)
			w.b.Clock.Advance(25 * time.Hour)
			_, err = w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID})
			require.NoError(t, err)
			expired := w.emailsTo(t)[canopy.TemplateInvitationExpired]
			require.Len(t, expired, 1, "the umbrella still hears of the expiry")
			news := expired[0].(*canopy.InvitationNewsEmail)
			require.Equal(t, w.invitee.ID, news.OtherAccountName, "named by the id the umbrella typed, never by its name (rule 11)")
			require.NotContains(t, fmt.Sprintf("%+v", *news), w.invitee.Name)
		})
		t.Run("a declined invitation tells the umbrella no more than it typed", func(t *testing.T) {
			list, err := w.b.Svc.ListInvitations(ctx, w.asInvitee, service.InvitationQuery{Direction: "received", Status: canopy.InvitationPending}, service.PageRequest{})
			require.NoError(t, err)
			require.NotEmpty(t, list.Data)
			w.emailsTo(t)
			_, err = w.b.Svc.DeclineInvitation(ctx, w.asInvitee, list.Data[0].ID)
			require.NoError(t, err)
			declined := w.emailsTo(t)[canopy.TemplateInvitationDeclined]
			require.NotEmpty(t, declined)
			for _, e := range declined {
				require.Equal(t, w.invitee.ID, e.(*canopy.InvitationNewsEmail).OtherAccountName)
				require.NotContains(t, fmt.Sprintf("%+v", e), w.invitee.Name)
			}
		})
		t.Run("an invitation's message is at most 500 characters", func(t *testing.T) {
			_, err := w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, Message: strings.Repeat("é", 501)})
			requireField(t, err, "message", "too-long")
			_, err = w.b.Svc.CreateInvitation(ctx, w.asUmbrella, service.InvitationInput{AccountID: w.invitee.ID, Message: strings.Repeat("é", 500)})
			require.NoError(t, err)
		})
		t.Run("whoever acts as the invitee reads what its received list shows", func(t *testing.T) {
			list, err := w.b.Svc.ListInvitations(ctx, w.b.As(t, w.invitee.ID), service.InvitationQuery{Direction: "received", Status: canopy.InvitationPending}, service.PageRequest{})
			require.NoError(t, err)
			require.NotEmpty(t, list.Data)
			for _, inv := range list.Data {
				_, err := w.b.Svc.GetInvitation(ctx, w.b.As(t, w.invitee.ID), inv.ID)
				require.NoError(t, err, "an ancestor acting as the invitee reads it")
				_, err = w.b.Svc.AcceptInvitation(ctx, w.b.As(t, w.invitee.ID), inv.ID)
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "but only the invitee's admin answers")
			}
		})
		t.Run("a username can never be taken for an email address", func(t *testing.T) {
			_, err := w.b.Svc.CreateUser(ctx, w.asInvitee, w.invitee.ID, service.CreateUserInput{Email: "real@example.com", Username: "taken@name.example"})
			requireField(t, err, "username", "invalid-username")
		})
	})
}

// TestInvitingAnAncestor: the invitation looks like any other (an
// ancestor is not visible, so nothing may tell it apart), and accepting it
// is refused as a cycle.
func TestInvitingAnAncestor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		in := b.ChildInput()
		in.Account.Plan = canopy.PlanEnterprise // a child's plan never exceeds its creator's
		topRes, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
		require.NoError(t, err)
		top := topRes.Account
		in = b.ChildInput()
		in.Account.Plan = canopy.PlanEnterprise
		res, err := b.Svc.CreateChild(ctx, b.As(t, top.ID), in)
		require.NoError(t, err)
		asUmbrella := b.AsKey(t, b.Key(t, res.Account.ID), "")
		inv, err := b.Svc.CreateInvitation(ctx, asUmbrella, service.InvitationInput{AccountID: top.ID})
		require.NoError(t, err, "indistinguishable from inviting any account")
		_, err = b.Svc.AcceptInvitation(ctx, b.AsKey(t, b.Key(t, top.ID), ""), inv.ID)
		require.Equal(t, canopy.CodeCycle, canopy.ErrorCode(err))
		assertTree(t, db, canopy.DefaultMaxDepth, 3)
	})
}
