package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// newInvitation builds (but does not store) a pending invitation from
// umbrella to an account, or, with invitee nil, to an address.
func (f *factory) newInvitation(umbrella, invitee *canopy.Account, email string) *canopy.Invitation {
	n := f.seq()
	i := &canopy.Invitation{
		ID: f.id(canopy.PrefixInvitation), UmbrellaID: umbrella.ID, UmbrellaName: umbrella.Name, Email: email,
		FirstName: "Zoë", LastName: fmt.Sprintf("Invitee %d", n), Mobile: "+14155550123", Message: "join us ✓",
		AutoShareRole: canopy.RoleDataManager, Billing: canopy.BillingParent, Status: canopy.InvitationPending,
		ExpiresAt: at(n + 1000), CreatedAt: at(n), UpdatedAt: at(n),
	}
	if invitee != nil {
		i.InviteeAccountID = invitee.ID
	}
	return i
}

func invitationID(i *canopy.Invitation) string { return i.ID }

// testInvitations: invitations keep what they are given, at most one is
// pending per umbrella and invitee, listings select what their filter
// names, and a pending invitation moves on exactly once.
func testInvitations(t *testing.T, open Opener) {
	t.Run("OnePendingInvitationPerUmbrellaAndInvitee", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella, other, invitee := b.f.account(root), b.f.account(root), b.f.account(root)
		toAccount := b.f.newInvitation(umbrella, invitee, "")
		toAccount.DelegatedAdmin, toAccount.ContactID = true, b.f.id(canopy.PrefixContact)
		toAddress := b.f.newInvitation(umbrella, nil, "Ada@Example.com")
		toAddress.TokenHash = "hash-ada"
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertInvitation(ctx, toAccount))
			require.NoError(t, tx.InsertInvitation(ctx, toAddress))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*canopy.Invitation{toAccount, toAddress} {
				got, err := tx.GetInvitation(ctx, want.ID)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
			_, err := tx.GetInvitation(ctx, b.f.id(canopy.PrefixInvitation))
			require.ErrorIs(t, err, store.ErrNotFound)
			got, err := tx.GetInvitations(ctx, []string{toAddress.ID, b.f.id(canopy.PrefixInvitation), toAccount.ID})
			require.NoError(t, err)
			require.ElementsMatch(t, []*canopy.Invitation{toAccount, toAddress}, got, "in no order; missing ids skipped")
			got, err = tx.GetInvitations(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, got)
		})

		tests := []struct {
			name string
			inv  *canopy.Invitation
			want string // the conflict, or "" when the invitation is stored
		}{
			{"TheSameAccountAgain", b.f.newInvitation(umbrella, invitee, ""), store.UniquePendingInvite},
			{"TheSameAddressInAnotherCase", b.f.newInvitation(umbrella, nil, " ada@example.COM"), store.UniquePendingInvite},
			{"TheSameAccountFromAnotherUmbrella", b.f.newInvitation(other, invitee, ""), ""},
			{"TheSameAddressFromAnotherUmbrella", b.f.newInvitation(other, nil, "ada@example.com"), ""},
			{"AnotherAddress", b.f.newInvitation(umbrella, nil, "bob@example.com"), ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertInvitation(ctx, tt.inv) })
				if tt.want == "" {
					require.NoError(t, err)
					return
				}
				requireConflict(t, err, tt.want)
			})
		}

		// Once the pending one has moved on, the umbrella may invite again.
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.TransitionInvitation(ctx, store.InvitationTransition{ID: toAccount.ID, To: canopy.InvitationDeclined, At: at(50)}))
			require.NoError(t, tx.InsertInvitation(ctx, b.f.newInvitation(umbrella, invitee, "")))
		})
	})

	t.Run("ListingsSelectSentOrReceivedNewestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		u1, u2, a, c, d := b.f.account(root), b.f.account(root), b.f.account(root), b.f.account(root), b.f.account(root)
		invs := []*canopy.Invitation{
			b.f.newInvitation(u1, a, ""),                   // 0
			b.f.newInvitation(u1, nil, "Ada@Example.com"),  // 1
			b.f.newInvitation(u1, d, ""),                   // 2: declined
			b.f.newInvitation(u2, a, ""),                   // 3: accepted
			b.f.newInvitation(u2, nil, "ada@example.com"),  // 4: accepted by c: no longer the address's
			b.f.newInvitation(u2, nil, "bob@example.com"),  // 5
			b.f.newInvitation(u2, nil, "carl@example.com"), // 6: cancelled
		}
		moves := []store.InvitationTransition{
			{ID: invs[2].ID, To: canopy.InvitationDeclined, At: at(100)},
			{ID: invs[3].ID, To: canopy.InvitationAccepted, At: at(100)},
			{ID: invs[4].ID, To: canopy.InvitationAccepted, InviteeAccountID: c.ID, At: at(100)},
			{ID: invs[6].ID, To: canopy.InvitationCancelled, At: at(100)},
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, i := range invs {
				require.NoError(t, tx.InsertInvitation(ctx, i))
			}
			for _, m := range moves {
				require.NoError(t, tx.TransitionInvitation(ctx, m))
			}
		})
		newest := func(idx ...int) []string { return newestOf(invs, invitationID, idx...) }
		ada, bob := []string{"ada@example.com"}, []string{"bob@example.com"}
		tests := []listCase[store.InvitationFilter]{
			{"SentByAnUmbrella", store.InvitationFilter{UmbrellaID: u1.ID}, newest(0, 1, 2)},
			{"SentAndPending", store.InvitationFilter{UmbrellaID: u1.ID, Status: canopy.InvitationPending}, newest(0, 1)},
			{"ReceivedByAnAccount", store.InvitationFilter{InviteeAccountID: a.ID}, newest(0, 3)},
			{"AnAcceptedAddressBelongsToItsAccount", store.InvitationFilter{InviteeAccountID: c.ID}, newest(4)},
			{"ToAnAddressNotYetTaken", store.InvitationFilter{Emails: ada}, newest(1)},
			{"ToAnyOfTheAddresses", store.InvitationFilter{Emails: []string{"ada@example.com", "bob@example.com", "carl@example.com"}}, newest(1, 5, 6)},
			{"ReceivedByAccountOrAddress", store.InvitationFilter{InviteeAccountID: a.ID, Emails: bob}, newest(0, 3, 5)},
			{"ReceivedAndAccepted", store.InvitationFilter{InviteeAccountID: a.ID, Emails: ada, Status: canopy.InvitationAccepted}, newest(3)},
			{"StatusAlone", store.InvitationFilter{UmbrellaID: u2.ID, Status: canopy.InvitationCancelled}, newest(6)},
			{"Before", store.InvitationFilter{UmbrellaID: u2.ID, Before: invs[5].ID}, newest(3, 4)},
			{"Limit", store.InvitationFilter{UmbrellaID: u2.ID, Limit: 2}, newest(5, 6)},
			{"BeforeAndLimit", store.InvitationFilter{UmbrellaID: u2.ID, Before: invs[6].ID, Limit: 2}, newest(4, 5)},
			{"NobodyNamed", store.InvitationFilter{Status: canopy.InvitationPending}, nil},
			{"NoMatch", store.InvitationFilter{UmbrellaID: a.ID}, nil},
		}
		requireListings(t, b, tests, func(ctx context.Context, tx store.Tx, f store.InvitationFilter) ([]string, error) {
			f.Limit = cmp.Or(f.Limit, 100)
			got, err := tx.ListInvitations(ctx, f)
			return idsOf(got, invitationID), err
		})
	})

	t.Run("ATransitionMovesOnlyAPendingInvitation", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella, invitee, taker := b.f.account(root), b.f.account(root), b.f.account(root)
		toAccount, toAddress := b.f.newInvitation(umbrella, invitee, ""), b.f.newInvitation(umbrella, nil, "ada@example.com")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertInvitation(ctx, toAccount))
			require.NoError(t, tx.InsertInvitation(ctx, toAddress))
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.TransitionInvitation(ctx, store.InvitationTransition{ID: toAccount.ID, To: canopy.InvitationDeclined, At: at(60)}))
			require.NoError(t, tx.TransitionInvitation(ctx, store.InvitationTransition{
				ID: toAddress.ID, To: canopy.InvitationAccepted, InviteeAccountID: taker.ID, At: at(61)}))
		})
		declined, accepted := *toAccount, *toAddress
		declined.Status, declined.RespondedAt, declined.UpdatedAt = canopy.InvitationDeclined, ptr(at(60)), at(60)
		accepted.Status, accepted.RespondedAt, accepted.UpdatedAt = canopy.InvitationAccepted, ptr(at(61)), at(61)
		accepted.InviteeAccountID = taker.ID
		requireInvitations(t, b, &declined, &accepted)

		tests := []struct {
			name string
			tr   store.InvitationTransition
		}{
			{"DeclinedCannotBeAccepted", store.InvitationTransition{ID: toAccount.ID, To: canopy.InvitationAccepted, InviteeAccountID: taker.ID, At: at(70)}},
			{"AcceptedCannotBeCancelled", store.InvitationTransition{ID: toAddress.ID, To: canopy.InvitationCancelled, At: at(70)}},
			{"AcceptedCannotBeAcceptedAgain", store.InvitationTransition{ID: toAddress.ID, To: canopy.InvitationAccepted, InviteeAccountID: invitee.ID, At: at(70)}},
			{"Unknown", store.InvitationTransition{ID: b.f.id(canopy.PrefixInvitation), To: canopy.InvitationDeclined, At: at(70)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.TransitionInvitation(ctx, tt.tr) })
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}
		requireInvitations(t, b, &declined, &accepted)
	})

	t.Run("OfConcurrentTransitionsExactlyOneHappens", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella, invitee := b.f.account(root), b.f.account(root)
		inv := b.f.newInvitation(umbrella, invitee, "")
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertInvitation(ctx, inv)) })
		// The invitee accepts and declines while the umbrella cancels.
		tos := []canopy.InvitationStatus{canopy.InvitationAccepted, canopy.InvitationDeclined, canopy.InvitationCancelled}
		var (
			mu  sync.Mutex
			won []store.InvitationTransition
		)
		wins := concurrentWins(t, b, 9, func(ctx context.Context, tx store.Tx, i int) (bool, error) {
			tr := store.InvitationTransition{ID: inv.ID, To: tos[i%len(tos)], At: at(100 + i)}
			err := tx.TransitionInvitation(ctx, tr)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			if err == nil {
				mu.Lock()
				won = append(won, tr)
				mu.Unlock()
			}
			return err == nil, err
		})
		require.Equal(t, 1, wins)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetInvitation(ctx, inv.ID)
			require.NoError(t, err)
			require.Equal(t, won[0].To, got.Status, "the winner's move stands")
			require.Equal(t, won[0].At, *got.RespondedAt)
		})
	})

	t.Run("ASignUpTokenIsReplacedAndHeldByOneInvitation", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		umbrella := b.f.account(b.f.account(nil))
		first, second := b.f.newInvitation(umbrella, nil, "ada@example.com"), b.f.newInvitation(umbrella, nil, "bob@example.com")
		first.TokenHash = "h1"
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertInvitation(ctx, first))
			require.NoError(t, tx.InsertInvitation(ctx, second))
			require.NoError(t, tx.SetInvitationToken(ctx, first.ID, "h2", at(80)))
		})
		first.TokenHash, first.UpdatedAt = "h2", at(80)
		requireInvitations(t, b, first, second)

		tests := []struct {
			name string
			id   string
			hash string
			want error // nil: the token is set
		}{
			{"AnotherInvitationsToken", second.ID, "h2", store.ErrConflict},
			{"AReplacedTokenIsFree", second.ID, "h1", nil},
			{"UnknownInvitation", b.f.id(canopy.PrefixInvitation), "h3", store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
					return tx.SetInvitationToken(ctx, tt.id, tt.hash, at(90))
				})
				switch {
				case tt.want == nil:
					require.NoError(t, err)
				case errors.Is(tt.want, store.ErrConflict):
					requireConflict(t, err, store.UniqueInviteToken)
				default:
					require.ErrorIs(t, err, tt.want)
				}
			})
		}
		second.TokenHash, second.UpdatedAt = "h1", at(90)
		requireInvitations(t, b, first, second)
	})

	t.Run("ExpiryTakesPendingInvitationsPastTheirTimeEarliestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella := b.f.account(root)
		expiring := func(seconds int) *canopy.Invitation {
			i := b.f.newInvitation(umbrella, b.f.account(root), "")
			i.ExpiresAt = at(seconds)
			return i
		}
		invs := []*canopy.Invitation{expiring(20), expiring(10), expiring(30), expiring(40), expiring(5)}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, i := range invs {
				require.NoError(t, tx.InsertInvitation(ctx, i))
			}
			require.NoError(t, tx.TransitionInvitation(ctx, store.InvitationTransition{ID: invs[4].ID, To: canopy.InvitationDeclined, At: at(1)}))
		})
		now := at(30)
		expired := func(i *canopy.Invitation) *canopy.Invitation {
			e := *i
			e.Status, e.RespondedAt, e.UpdatedAt = canopy.InvitationExpired, ptr(i.ExpiresAt), now
			return &e
		}
		declined := *invs[4]
		declined.Status, declined.RespondedAt, declined.UpdatedAt = canopy.InvitationDeclined, ptr(at(1)), at(1)

		expire := func(limit int) []*canopy.Invitation {
			var got []*canopy.Invitation
			b.write(t, func(ctx context.Context, tx store.Tx) {
				var err error
				got, err = tx.ExpireInvitations(ctx, now, limit)
				require.NoError(t, err)
			})
			return got
		}
		require.ElementsMatch(t, []*canopy.Invitation{expired(invs[1]), expired(invs[0])}, expire(2), "the two earliest of three due")
		require.Equal(t, []*canopy.Invitation{expired(invs[2])}, expire(2), "expiring at now is past its time")
		require.Empty(t, expire(2), "nothing else is pending and due")
		requireInvitations(t, b, expired(invs[0]), expired(invs[1]), expired(invs[2]), invs[3], &declined)
	})
}

// requireInvitations asserts that each invitation reads back as given.
func requireInvitations(t *testing.T, b *testBundle, want ...*canopy.Invitation) {
	t.Helper()
	b.read(t, func(ctx context.Context, tx store.Tx) {
		for _, w := range want {
			got, err := tx.GetInvitation(ctx, w.ID)
			require.NoError(t, err)
			require.Equal(t, w, got)
		}
	})
}
