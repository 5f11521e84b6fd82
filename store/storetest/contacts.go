package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// newContact builds (but does not store) a contact in account's address
// book.
func (f *factory) newContact(account *canopy.Account, email string) *canopy.Contact {
	n := f.seq()
	return &canopy.Contact{
		ID: f.id(canopy.PrefixContact), AccountID: account.ID, Email: email, FirstName: "Zoë",
		LastName: fmt.Sprintf("Contact %d", n), Mobile: "+14155550123", Notes: "met at the fair ✓",
		CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// testContacts: an account's address book keeps what it is given, pages by
// id, and holds an address once.
func testContacts(t *testing.T, open Opener) {
	t.Run("ContactsReadBackPageByIDChangeAndGo", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		acc, other := b.f.account(root), b.f.account(root)
		mine := []*canopy.Contact{
			b.f.newContact(acc, "Ada@Example.com"), b.f.newContact(acc, "bob@example.com"), b.f.newContact(acc, "carl@example.com"),
		}
		mine[1].Mobile, mine[1].Notes, mine[1].InvitationID = "", "", b.f.id(canopy.PrefixInvitation)
		theirs := b.f.newContact(other, "ada@example.com")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, c := range append(mine, theirs) {
				require.NoError(t, tx.InsertContact(ctx, c))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, want := range append(mine, theirs) {
				got, err := tx.GetContact(ctx, want.ID)
				require.NoError(t, err)
				require.Equal(t, want, got, "the address keeps its case")
			}
			_, err := tx.GetContact(ctx, b.f.id(canopy.PrefixContact))
			require.ErrorIs(t, err, store.ErrNotFound)
			for _, size := range []int{1, 2, 3, 10} {
				got := all(t, size, func(p store.Page) []*canopy.Contact {
					rows, err := tx.ListContacts(ctx, acc.ID, p)
					require.NoError(t, err)
					return rows
				}, func(c *canopy.Contact) string { return c.ID })
				require.Equal(t, mine, got, "pages of %d: the account's own, by id", size)
			}
		})

		changed := *mine[0]
		changed.Email, changed.FirstName, changed.LastName, changed.Mobile, changed.Notes = "ada@lovelace.org", "Ada", "Lovelace", "", "moved"
		changed.InvitationID, changed.UpdatedAt = b.f.id(canopy.PrefixInvitation), at(500)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UpdateContact(ctx, &changed))
			require.NoError(t, tx.DeleteContact(ctx, mine[2].ID))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetContact(ctx, changed.ID)
			require.NoError(t, err)
			require.Equal(t, &changed, got)
			_, err = tx.GetContact(ctx, mine[2].ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			rows, err := tx.ListContacts(ctx, acc.ID, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*canopy.Contact{&changed, mine[1]}, rows)
		})

		missing := b.f.newContact(acc, "nobody@example.com")
		tests := []struct {
			name string
			call func(ctx context.Context, tx store.Tx) error
		}{
			{"UpdateUnknown", func(ctx context.Context, tx store.Tx) error { return tx.UpdateContact(ctx, missing) }},
			{"DeleteUnknown", func(ctx context.Context, tx store.Tx) error { return tx.DeleteContact(ctx, missing.ID) }},
			{"DeleteTwice", func(ctx context.Context, tx store.Tx) error { return tx.DeleteContact(ctx, mine[2].ID) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.ErrorIs(t, b.writeErr(t, tt.call), store.ErrNotFound)
			})
		}
	})

	t.Run("AnAddressIsInAnAccountsBookOnce", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		acc, other := b.f.account(root), b.f.account(root)
		ada, bob := b.f.newContact(acc, "ada@example.com"), b.f.newContact(acc, "bob@example.com")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertContact(ctx, ada))
			require.NoError(t, tx.InsertContact(ctx, bob))
		})
		renamed := func(c *canopy.Contact, email string) *canopy.Contact {
			r := *c
			r.Email = email
			return &r
		}
		tests := []struct {
			name     string
			call     func(ctx context.Context, tx store.Tx) error
			conflict bool
		}{
			{"InsertTheSameAddressInAnotherCase", func(ctx context.Context, tx store.Tx) error {
				return tx.InsertContact(ctx, b.f.newContact(acc, " ADA@example.com"))
			}, true},
			{"UpdateToAnotherContactsAddress", func(ctx context.Context, tx store.Tx) error {
				return tx.UpdateContact(ctx, renamed(bob, "Ada@Example.COM"))
			}, true},
			{"InsertTheAddressInAnotherAccount", func(ctx context.Context, tx store.Tx) error {
				return tx.InsertContact(ctx, b.f.newContact(other, "ada@example.com"))
			}, false},
			{"UpdateAContactToItsOwnAddressInAnotherCase", func(ctx context.Context, tx store.Tx) error {
				return tx.UpdateContact(ctx, renamed(ada, "ADA@EXAMPLE.COM"))
			}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.writeErr(t, tt.call)
				if !tt.conflict {
					require.NoError(t, err)
					return
				}
				requireConflict(t, err, store.UniqueContactEmail)
			})
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetContact(ctx, bob.ID)
			require.NoError(t, err)
			require.Equal(t, bob, got, "a refused update writes nothing")
		})
	})
}
