package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// invited turns a built account's link into an invited one.
func invited(a *canopy.Account, delegated bool) *canopy.Account {
	a.Link.Origin, a.Link.DelegatedAdmin = canopy.OriginInvited, delegated
	return a
}

// consentTree is root → u (created) → {s (invited), d (invited,
// delegated), c (created)}, s → s1 (created) → s2 (invited), d → d1
// (invited): the boundaries below u are s, s2 and d1.
type consentTree struct {
	root, u, s, s1, s2, d, d1, c *canopy.Account
}

func newConsentTree(b *testBundle) *consentTree {
	f := b.f
	tr := &consentTree{root: f.account(nil)}
	tr.u = f.account(tr.root)
	tr.s = invited(f.newAccount(tr.u), false)
	f.insert(tr.s)
	tr.s1 = f.account(tr.s)
	tr.s2 = invited(f.newAccount(tr.s1), false)
	f.insert(tr.s2)
	tr.d = invited(f.newAccount(tr.u), true)
	f.insert(tr.d)
	tr.d1 = invited(f.newAccount(tr.d), false)
	f.insert(tr.d1)
	tr.c = f.account(tr.u)
	return tr
}

func testConsent(t *testing.T, open Opener) {
	t.Run("LinksKeepDelegatedAdminAndAccountsWhoSuspendedThem", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		require.True(t, b.mustGet(t, tr.d.ID).Link.DelegatedAdmin, "insert")
		require.False(t, b.mustGet(t, tr.s.ID).Link.DelegatedAdmin)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			tr.s.Link.DelegatedAdmin, tr.s.Status, tr.s.SuspendedBy = true, canopy.StatusSuspended, tr.u.ID
			require.NoError(t, tx.UpdateAccount(ctx, tr.s))
		})
		got := b.mustGet(t, tr.s.ID)
		require.True(t, got.Link.DelegatedAdmin, "update")
		require.Equal(t, tr.u.ID, got.SuspendedBy)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			link := *tr.d.Link
			link.DelegatedAdmin = false
			require.NoError(t, tx.SetParent(ctx, tr.d.ID, tr.u.ID, &link, at(100)))
			tr.s.Status, tr.s.SuspendedBy = canopy.StatusActive, ""
			require.NoError(t, tx.UpdateAccount(ctx, tr.s))
		})
		require.False(t, b.mustGet(t, tr.d.ID).Link.DelegatedAdmin, "set parent")
		require.Empty(t, b.mustGet(t, tr.s.ID).SuspendedBy)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			rows, err := tx.ListSubtree(ctx, tr.u.Path, 1, store.Page{Limit: 10})
			require.NoError(t, err)
			for _, r := range rows {
				if r.ID == tr.s.ID {
					require.True(t, r.Link.DelegatedAdmin, "depth-limited listings read the flag too")
				}
			}
		})
	})

	t.Run("BoundariesAreTheInvitedLinksWithoutDelegatedAdmin", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		list := func(p canopy.Path) []string {
			var got []*canopy.Account
			b.read(t, func(ctx context.Context, tx store.Tx) {
				var err error
				got, err = tx.ListBoundaries(ctx, p)
				require.NoError(t, err)
			})
			return ids(got)
		}
		require.Equal(t, sortedByPath(tr.s, tr.s2, tr.d1), list(tr.root.Path))
		require.Equal(t, []string{tr.s2.ID}, list(tr.s.Path), "strictly below the path")
		require.Empty(t, list(tr.c.Path))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			tr.s.Link.DelegatedAdmin = true
			require.NoError(t, tx.UpdateAccount(ctx, tr.s))
		})
		require.Equal(t, sortedByPath(tr.s2, tr.d1), list(tr.root.Path), "delegating admin removes the boundary")
	})

	t.Run("RevokeKeysMadeByTouchesOnlyTheSubtreeAndTheMakers", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		key := func(a *canopy.Account, maker string) *canopy.APIKey {
			k := b.f.newKey(a)
			k.CreatedBy, k.CreatedByAccount = "key_maker", maker
			return k
		}
		planted := []*canopy.APIKey{key(tr.s, tr.u.ID), key(tr.s2, tr.u.ID), key(tr.s1, tr.root.ID)}
		own := key(tr.s, tr.s.ID)
		legacy := key(tr.s, "")
		outside := key(tr.c, tr.u.ID)
		earlier := key(tr.s1, tr.u.ID)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, k := range append(planted, own, legacy, outside, earlier) {
				require.NoError(t, tx.InsertAPIKey(ctx, k))
			}
			require.NoError(t, tx.RevokeAPIKey(ctx, earlier.ID, at(50)))
			n, err := tx.RevokeKeysMadeBy(ctx, tr.s.Path, []string{tr.u.ID, tr.root.ID, "acc_unknown"}, at(99))
			require.NoError(t, err)
			require.EqualValues(t, len(planted), n)
			n, err = tx.RevokeKeysMadeBy(ctx, tr.s.Path, nil, at(99))
			require.NoError(t, err)
			require.Zero(t, n, "no makers, nothing revoked")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, k := range planted {
				got, err := tx.GetAPIKey(ctx, k.ID)
				require.NoError(t, err)
				require.NotNil(t, got.RevokedAt, k.AccountID)
				require.True(t, got.RevokedAt.Equal(at(99)))
				require.Equal(t, k.CreatedByAccount, got.CreatedByAccount)
			}
			for _, k := range []*canopy.APIKey{own, legacy, outside} {
				got, err := tx.GetAPIKey(ctx, k.ID)
				require.NoError(t, err)
				require.Nil(t, got.RevokedAt, k.AccountID)
			}
			got, err := tx.GetAPIKey(ctx, earlier.ID)
			require.NoError(t, err)
			require.True(t, got.RevokedAt.Equal(at(50)), "an earlier revocation keeps its time")
		})
	})

	t.Run("ReactivateSuspendedByLiftsOnlyThatAccountsSuspensions", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		suspend := func(a *canopy.Account, by string) {
			b.write(t, func(ctx context.Context, tx store.Tx) {
				a.Status, a.SuspendedBy = canopy.StatusSuspended, by
				require.NoError(t, tx.UpdateAccount(ctx, a))
			})
		}
		suspend(tr.s, tr.u.ID)
		suspend(tr.s1, tr.root.ID)
		suspend(tr.s2, tr.u.ID)
		suspend(tr.c, tr.u.ID) // outside s's subtree
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.ReactivateSuspendedBy(ctx, tr.s.Path, tr.u.ID, at(200))
			require.NoError(t, err)
			require.EqualValues(t, 2, n)
		})
		for _, a := range []*canopy.Account{tr.s, tr.s2} {
			got := b.mustGet(t, a.ID)
			require.Equal(t, canopy.StatusActive, got.Status)
			require.Empty(t, got.SuspendedBy)
			require.True(t, got.UpdatedAt.Equal(at(200)))
		}
		require.Equal(t, tr.root.ID, b.mustGet(t, tr.s1.ID).SuspendedBy, "a suspension from above stays")
		require.Equal(t, canopy.StatusSuspended, b.mustGet(t, tr.c.ID).Status)
	})

	t.Run("ListingsLeaveOutExceptedSubtrees", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		all := []*canopy.Account{tr.u, tr.s, tr.s1, tr.s2, tr.d, tr.d1, tr.c}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, a := range all {
				require.NoError(t, tx.InsertAuditEvent(ctx, b.f.newEvent(a, "probe", a.ID)))
				require.NoError(t, tx.InsertOutboxMessages(ctx, b.f.newMessage(a)))
			}
			// One reference on accounts of distinct parents (it is unique per
			// parent).
			for _, a := range []*canopy.Account{tr.u, tr.s, tr.s1, tr.s2, tr.d1} {
				require.NoError(t, tx.InsertExternalReference(ctx, b.f.newRef(a, "crm", "SAME")))
			}
		})
		// Three subtrees: padded to four in the statement, which must not
		// change the answer.
		except := []canopy.Path{tr.s.Path, tr.d1.Path, tr.c.Path}
		want := []string{tr.u.ID, tr.d.ID}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			events, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: tr.u.Path, Except: except, Limit: 50})
			require.NoError(t, err)
			var got []string
			for _, e := range events {
				got = append(got, e.AccountID)
			}
			require.ElementsMatch(t, want, got, "audit")
			msgs, err := tx.ListOutbox(ctx, store.OutboxFilter{Subtree: tr.u.Path, Except: except, Limit: 50})
			require.NoError(t, err)
			got = nil
			for _, m := range msgs {
				got = append(got, m.AccountID)
			}
			require.ElementsMatch(t, want, got, "outbox")
			found, err := tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: tr.root.Path, Except: except, Type: "crm", Value: "SAME", Page: store.Page{Limit: 50}})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{tr.u.ID}, ids(found), "external references")
			found, err = tx.FindByExternalReference(ctx, store.ReferenceQuery{Path: tr.root.Path, Except: except[:1], Type: "crm", Value: "SAME", Page: store.Page{Limit: 50}})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{tr.u.ID, tr.d1.ID}, ids(found), "one subtree left out")
		})
	})

	t.Run("LedgerCounterpartsKeepEntriesWithThoseAccounts", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		entry := func(n int, kind canopy.EntryKind, debit, credit string) *canopy.LedgerEntry {
			return &canopy.LedgerEntry{ID: b.f.id(canopy.PrefixLedgerEntry), At: at(n), Kind: kind, Type: canopy.CreditUpload,
				Amount: int64(n), Debit: debit, Credit: credit, Reason: "consent", RequestID: "req"}
		}
		grant := entry(1, canopy.EntryGrant, canopy.BookIssuance, tr.s.ID)
		fromU := entry(2, canopy.EntryTransfer, tr.u.ID, tr.s.ID)
		toChild := entry(3, canopy.EntryTransfer, tr.s.ID, tr.s1.ID)
		usage := entry(4, canopy.EntryUsage, tr.s.ID, canopy.BookConsumption)
		usage.UsageAccountID, usage.UsagePath = tr.s.ID, tr.s.Path
		back := entry(5, canopy.EntryTransfer, tr.s.ID, tr.u.ID)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, e := range []*canopy.LedgerEntry{grant, fromU, toChild, usage, back} {
				require.NoError(t, tx.InsertLedgerEntry(ctx, e))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			list := func(counterparts ...string) []string {
				rows, err := tx.ListLedger(ctx, store.LedgerFilter{AccountID: tr.s.ID, Counterparts: counterparts, Limit: 50})
				require.NoError(t, err)
				var out []string
				for _, e := range rows {
					out = append(out, e.ID)
				}
				return out
			}
			require.Equal(t, []string{back.ID, fromU.ID}, list(tr.u.ID, tr.root.ID, "acc_unknown"))
			require.Len(t, list(), 5, "no counterparts: every entry of the account")
		})
	})

	t.Run("ConfigurationsInvitationsAndKeysKeepTheirNewFields", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newConsentTree(b)
		cfg := func(ns string, inheritable bool) *canopy.Configuration {
			return &canopy.Configuration{AccountID: tr.u.ID, Namespace: ns, Value: []byte(`{"a": 1}`), Inheritable: inheritable, UpdatedAt: at(1)}
		}
		inv := &canopy.Invitation{
			ID: b.f.id(canopy.PrefixInvitation), UmbrellaID: tr.u.ID, UmbrellaName: tr.u.Name, InviteeAccountID: tr.c.ID,
			AutoShareRole: canopy.RoleViewer, Billing: canopy.BillingSelf, DelegatedAdmin: true, Status: canopy.InvitationPending,
			ExpiresAt: at(1000), CreatedAt: at(1), UpdatedAt: at(1),
		}
		key := b.f.newKey(tr.s)
		key.CreatedByAccount = tr.u.ID
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutConfigurations(ctx, cfg("flows", true), cfg("stays", false)))
			require.NoError(t, tx.InsertInvitation(ctx, inv))
			require.NoError(t, tx.InsertAPIKey(ctx, key))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			rows, err := tx.ListConfigurations(ctx, []string{tr.u.ID})
			require.NoError(t, err)
			require.Len(t, rows, 2)
			require.True(t, rows[0].Inheritable, rows[0].Namespace)
			require.False(t, rows[1].Inheritable, rows[1].Namespace)
			got, err := tx.GetInvitation(ctx, inv.ID)
			require.NoError(t, err)
			require.True(t, got.DelegatedAdmin)
			k, err := tx.GetAPIKeyByHash(ctx, key.SecretHash)
			require.NoError(t, err)
			require.Equal(t, tr.u.ID, k.CreatedByAccount)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutConfigurations(ctx, cfg("flows", false)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			c, err := tx.GetConfiguration(ctx, tr.u.ID, "flows")
			require.NoError(t, err)
			require.False(t, c.Inheritable, "a replaced namespace takes the new flag")
		})
	})
}

// sortedByPath returns the accounts' ids in path order.
func sortedByPath(as ...*canopy.Account) []string {
	out := slices.Clone(as)
	slices.SortFunc(out, func(x, y *canopy.Account) int { return strings.Compare(string(x.Path), string(y.Path)) })
	return ids(out)
}
