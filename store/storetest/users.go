package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("InsertedMembershipsReadBackAndPageByID", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		master := b.f.newUser(root)
		master.Role, master.Status, master.Master = canopy.UserAdmin, canopy.UserActive, true
		master.Person.Email, master.Person.Name = "Ada.Lovelace@Example.com", "Ada Lövelace"
		master.Show()
		users := []*canopy.User{master, b.f.newUser(root), b.f.newUser(root)}
		users[2].Status = canopy.UserDisabled
		users[2].Show()
		elsewhere := b.f.newMember(kid, master.Person) // one person, two accounts
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, u := range append(users, elsewhere) {
				insertUser(t, ctx, tx, u)
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, size := range []int{1, 2, 3, 10} {
				got := all(t, size, func(p store.Page) []*canopy.User {
					rows, err := tx.ListUsers(ctx, root.ID, p)
					require.NoError(t, err)
					return rows
				}, func(u *canopy.User) string { return u.ID })
				require.Equal(t, users, got, "pages of %d: the email keeps its case", size)
			}
			mine, err := tx.ListPersonUsers(ctx, master.PersonID)
			require.NoError(t, err)
			require.Equal(t, []*canopy.User{master, elsewhere}, mine, "a person's memberships, oldest first")
		})
	})

	t.Run("AMembershipShowsWhatItWasInvitedWithUntilThePersonJoins", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		u := b.f.newUser(acc)
		u.InvitedEmail, u.InvitedUsername, u.InvitedName = "typed@example.com", "typed", "Typed Name"
		b.write(t, func(ctx context.Context, tx store.Tx) { insertUser(t, ctx, tx, u) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetUser(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"typed@example.com", "typed", "Typed Name"}, []string{got.Email, got.Username, got.Name})
		})
		u.Status, u.UpdatedAt = canopy.UserActive, at(90)
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateUser(ctx, u)) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetUser(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, []string{u.Person.Email, u.Person.Username, u.Person.Name}, []string{got.Email, got.Username, got.Name})
		})
	})

	t.Run("MembershipsMadeByAnAccountGoWithinASubtree", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		umbrella := b.f.account(root)
		sub := b.f.account(root)
		subKid := b.f.account(sub)
		other := b.f.account(root)
		planted, plantedBelow, own, elsewhere := b.f.newUser(sub), b.f.newUser(subKid), b.f.newUser(sub), b.f.newUser(other)
		planted.CreatedByAccount, plantedBelow.CreatedByAccount = umbrella.ID, umbrella.ID
		own.CreatedByAccount, elsewhere.CreatedByAccount = sub.ID, umbrella.ID
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, u := range []*canopy.User{planted, plantedBelow, own, elsewhere} {
				insertUser(t, ctx, tx, u)
			}
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			people, err := tx.DeleteMembershipsMadeBy(ctx, sub.Path, []string{umbrella.ID, "acc_nobody"})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{planted.PersonID, plantedBelow.PersonID}, people)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, u := range []*canopy.User{own, elsewhere} {
				got, err := tx.GetUser(ctx, u.ID)
				require.NoError(t, err, "made by the account itself, or outside the subtree: kept")
				require.Equal(t, u.CreatedByAccount, got.CreatedByAccount)
			}
			_, err := tx.GetUser(ctx, planted.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})

	t.Run("UniqueConstraints", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		first := b.f.newPerson()
		first.Email, first.Username = "Ada@Example.com", "Ada-Admin"
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.InsertPerson(ctx, first)
			require.NoError(t, err)
			require.True(t, ok)
		})

		tests := []struct {
			name     string
			email    string
			username string
			stored   bool
		}{
			{"EmailIgnoresCase", "ada@EXAMPLE.COM", "someone-else", false},
			{"EmailIgnoresSurroundingSpace", "  ada@example.com ", "someone-else", false},
			{"UsernameIgnoresCase", "other@example.com", "ADA-admin", false},
			{"DifferentEmailAndUsernameIsFine", "bo@example.com", "bo-member", true},
			{"NoUsernameIsFineTwice", "cy@example.com", "", true},
			{"NoUsernameIsFineTwiceAgain", "di@example.com", "", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := b.f.newPerson()
				p.Email, p.Username = tt.email, tt.username
				b.write(t, func(ctx context.Context, tx store.Tx) {
					ok, err := tx.InsertPerson(ctx, p)
					require.NoError(t, err, "a taken address or username never aborts the transaction")
					require.Equal(t, tt.stored, ok)
					// The transaction goes on after a refused insert.
					_, err = tx.GetPerson(ctx, first.ID)
					require.NoError(t, err)
				})
			})
		}

		second := b.f.newPerson()
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.InsertPerson(ctx, second)
			require.NoError(t, err)
			require.True(t, ok)
		})
		clash := *second
		clash.Email = "ADA@example.com"
		requireConflict(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.UpdatePerson(ctx, &clash) }), store.UniqueUserEmail)
		clash = *second
		clash.Username = "ada-ADMIN"
		requireConflict(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.UpdatePerson(ctx, &clash) }), store.UniqueUsername)

		m := b.f.newMember(root, second)
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertUser(ctx, m)) })
		again := b.f.newMember(root, second)
		requireConflict(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertUser(ctx, again) }),
			store.UniqueMembership)
	})
}

func testAPIKeys(t *testing.T, open Opener) {
	t.Run("InsertedKeysReadBackByIDHashAndList", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		plain := b.f.newKey(root)
		revokedAt := at(77)
		full := b.f.newKey(root)
		full.CreatedBy, full.RevokedAt = "usr_creator", &revokedAt
		other := b.f.newKey(kid)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, k := range []*canopy.APIKey{plain, full, other} {
				require.NoError(t, tx.InsertAPIKey(ctx, k))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*canopy.APIKey{plain, full, other} {
				got, err := tx.GetAPIKey(ctx, want.ID)
				require.NoError(t, err)
				require.Equal(t, want, got)
				got, err = tx.GetAPIKeyByHash(ctx, want.SecretHash)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
			require.Nil(t, plain.RevokedAt)
			for _, size := range []int{1, 2, 5} {
				got := all(t, size, func(p store.Page) []*canopy.APIKey {
					rows, err := tx.ListAPIKeys(ctx, root.ID, p)
					require.NoError(t, err)
					return rows
				}, func(k *canopy.APIKey) string { return k.ID })
				require.Equal(t, []*canopy.APIKey{plain, full}, got)
			}
			n, err := tx.CountActiveAPIKeys(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n, "a revoked key is not active")
		})
	})

	t.Run("MissingKeysAreErrNotFound", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		ghost := b.f.newKey(root)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetAPIKey(ctx, ghost.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetAPIKeyByHash(ctx, ghost.SecretHash)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.RevokeAPIKey(ctx, ghost.ID, at(1)) })
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("RevokeOnceThenErrNotFound", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		k := b.f.newKey(root)
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertAPIKey(ctx, k)) })
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.RevokeAPIKey(ctx, k.ID, at(10))) })
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.RevokeAPIKey(ctx, k.ID, at(20)) })
		require.ErrorIs(t, err, store.ErrNotFound, "revoking twice")
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetAPIKey(ctx, k.ID)
			require.NoError(t, err)
			require.NotNil(t, got.RevokedAt)
			require.Equal(t, at(10), *got.RevokedAt, "the second revoke did not move the time")
			n, err := tx.CountActiveAPIKeys(ctx, root.ID)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	})

	t.Run("DuplicateHashIsUniqueAPIKeyHashConflict", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		k := b.f.newKey(root)
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertAPIKey(ctx, k)) })
		dup := b.f.newKey(kid)
		dup.SecretHash = k.SecretHash
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertAPIKey(ctx, dup) })
		requireConflict(t, err, store.UniqueAPIKeyHash)
	})
}
