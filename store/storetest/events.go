package storetest

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// sortedIDs returns a sorted copy of s, nil when empty.
func sortedIDs(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func eventID(e *canopy.AuditEvent) string { return e.ID }

func testAudit(t *testing.T, open Opener) {
	t.Run("InsertedEventsReadBack", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		e := b.f.newEvent(root, "account.create", "acc_target")
		e.Details = []byte(`{"name":"Zürich","nested":{"list":[1,2,3]},"flag":true}`)
		bare := b.f.newEvent(root, "account.update", "acc_target")
		bare.Channel, bare.Username, bare.RequestID, bare.Details = "", "", "", nil
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertAuditEvent(ctx, e))
			require.NoError(t, tx.InsertAuditEvent(ctx, bare))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: root.Path, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, 2)
			// Details are JSON; PostgreSQL keeps them as jsonb, which may
			// respace them, so they are compared as JSON.
			require.JSONEq(t, `{}`, string(got[0].Details), "missing details read back as {}")
			require.JSONEq(t, string(e.Details), string(got[1].Details))
			wantBare, wantE := *bare, *e
			wantBare.Details, wantE.Details = got[0].Details, got[1].Details
			require.Equal(t, []*canopy.AuditEvent{&wantBare, &wantE}, got, "newest first")
		})
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		type ev struct {
			in             *canopy.Account
			action, target string
		}
		plan := []ev{
			{tr.root, "account.create", "t1"},
			{tr.a, "account.create", "t1"},
			{tr.a1, "account.update", "t2"},
			{tr.b, "account.update", "t1"}, // a's prefix sibling
			{tr.a11, "account.create", "t3"},
			{tr.a, "account.update", "t2"},
			{tr.c, "account.create", "t2"},
			{tr.a2, "account.create", "t1"},
		}
		events := make([]*canopy.AuditEvent, len(plan))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i, p := range plan {
				events[i] = b.f.newEvent(p.in, p.action, p.target)
				require.NoError(t, tx.InsertAuditEvent(ctx, events[i]))
			}
		})
		newest := func(idx ...int) []string { return newestOf(events, eventID, idx...) }
		tests := []listCase[store.AuditFilter]{
			{"WholeTree", store.AuditFilter{Subtree: tr.root.Path}, newest(0, 1, 2, 3, 4, 5, 6, 7)},
			{"SubtreeExcludesPrefixSibling", store.AuditFilter{Subtree: tr.a.Path}, newest(1, 2, 4, 5, 7)},
			{"Leaf", store.AuditFilter{Subtree: tr.a11.Path}, newest(4)},
			{"Action", store.AuditFilter{Subtree: tr.a.Path, Action: "account.update"}, newest(2, 5)},
			{"Target", store.AuditFilter{Subtree: tr.root.Path, TargetID: "t1"}, newest(0, 1, 3, 7)},
			{"ActionAndTarget", store.AuditFilter{Subtree: tr.root.Path, Action: "account.create", TargetID: "t2"}, newest(6)},
			{"Before", store.AuditFilter{Subtree: tr.root.Path, Before: events[5].ID}, newest(0, 1, 2, 3, 4)},
			{"BeforeAndLimit", store.AuditFilter{Subtree: tr.a.Path, Before: events[5].ID, Limit: 2}, newest(2, 4)},
			{"Limit", store.AuditFilter{Subtree: tr.root.Path, Limit: 3}, newest(5, 6, 7)},
			{"NoMatch", store.AuditFilter{Subtree: tr.root.Path, Action: "nope"}, nil},
		}
		requireListings(t, b, tests, func(ctx context.Context, tx store.Tx, f store.AuditFilter) ([]string, error) {
			f.Limit = cmp.Or(f.Limit, 100)
			got, err := tx.ListAuditEvents(ctx, f)
			return idsOf(got, eventID), err
		})
		t.Run("PagingWithBeforeWalksEverythingOnce", func(t *testing.T) {
			t.Parallel()
			b.read(t, func(ctx context.Context, tx store.Tx) {
				var got []string
				before := ""
				for range 10 {
					page, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: tr.root.Path, Before: before, Limit: 3})
					require.NoError(t, err)
					for _, e := range page {
						got = append(got, e.ID)
					}
					if len(page) < 3 {
						break
					}
					before = page[len(page)-1].ID
				}
				require.Equal(t, newest(0, 1, 2, 3, 4, 5, 6, 7), got)
			})
		})
	})
}

func testOutbox(t *testing.T, open Opener) {
	t.Run("InsertedMessagesReadBackAndPageNewestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid, sibling := b.f.account(root), b.f.account(root)
		sent := at(900)
		msgs := []*canopy.OutboxMessage{b.f.newMessage(kid), b.f.newMessage(kid), b.f.newMessage(kid)}
		msgs[1].UserID, msgs[1].Attempts, msgs[1].LastError = "usr_someone", 3, "421 try later"
		msgs[1].Status, msgs[1].SentAt = canopy.OutboxSent, &sent
		msgs[2].Data = []byte(`{"name":"Zoë","link":"https://example.com/set?t=abc&u=1","n":[1,2]}`)
		msgs[2].Status = canopy.OutboxFailed
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, m := range msgs {
				require.NoError(t, tx.InsertOutboxMessages(ctx, m))
			}
			require.NoError(t, tx.InsertOutboxMessages(ctx, b.f.newMessage(sibling)))
		})
		newestFirst := slices.Clone(msgs)
		slices.Reverse(newestFirst)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, size := range []int{1, 2, 3, 10} {
				got := all(t, size, func(p store.Page) []*canopy.OutboxMessage {
					rows, err := tx.ListOutbox(ctx, store.OutboxFilter{Subtree: kid.Path, Before: p.After, Limit: p.Limit})
					require.NoError(t, err)
					return rows
				}, func(m *canopy.OutboxMessage) string { return m.ID })
				require.Len(t, got, len(msgs), "pages of %d: the subtree's own", size)
				for i, m := range got {
					// Data is JSON; PostgreSQL keeps it as jsonb.
					require.JSONEq(t, string(newestFirst[i].Data), string(m.Data))
					want := *newestFirst[i]
					want.Data = m.Data
					require.Equal(t, &want, m)
				}
			}
		})
	})
}

func testIdempotency(t *testing.T, open Opener) {
	t.Run("ClaimThenRecordTheResponse", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		claim := &store.Idempotency{Scope: "acc_S", Key: "k", Fingerprint: "f", Body: []byte{}, CreatedAt: at(1)}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertIdempotency(ctx, claim))
			require.NoError(t, tx.SetIdempotencyResponse(ctx, store.IdempotencyResponse{
				Scope: "acc_S", Key: "k", StatusCode: 201, Body: []byte(`{"id":1}`), Location: "/v1/accounts/acc_X"}))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetIdempotency(ctx, "acc_S", "k")
			require.NoError(t, err)
			require.Equal(t, 201, got.StatusCode)
			require.Equal(t, `{"id":1}`, string(got.Body))
			require.Equal(t, "/v1/accounts/acc_X", got.Location)
			require.Equal(t, "f", got.Fingerprint)
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.SetIdempotencyResponse(ctx, store.IdempotencyResponse{Scope: "acc_S", Key: "missing", StatusCode: 200, Body: []byte(`{}`)})
		})
		require.ErrorIs(t, err, store.ErrNotFound, "recording needs a claim")
	})
	t.Run("InsertGetConflictAndExpire", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		rec := func(scope, key string, when int) *store.Idempotency {
			return &store.Idempotency{Scope: scope, Key: key, Fingerprint: "sha256:" + scope + key,
				StatusCode: 201, Body: []byte("{\"id\":\"acc_1\",\n \"ü\": \"\\u0000\"}\x00\xff"), CreatedAt: at(when)}
		}
		old, mid, fresh := rec("key_A", "k1", 10), rec("key_A", "k2", 20), rec("key_B", "k1", 30)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, r := range []*store.Idempotency{old, mid, fresh} {
				require.NoError(t, tx.InsertIdempotency(ctx, r))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*store.Idempotency{old, mid, fresh} {
				got, err := tx.GetIdempotency(ctx, want.Scope, want.Key)
				require.NoError(t, err)
				require.Equal(t, want, got, "the body keeps its bytes")
			}
			_, err := tx.GetIdempotency(ctx, "key_B", "k2")
			require.ErrorIs(t, err, store.ErrNotFound)
		})

		again := rec("key_A", "k1", 40)
		again.StatusCode = 200
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.InsertIdempotency(ctx, again) })
		requireConflict(t, err, store.UniqueIdempotency)

		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.DeleteIdempotencyBefore(ctx, at(20))
			require.NoError(t, err)
			require.Equal(t, int64(1), n, "strictly before: the record at 20 stays")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetIdempotency(ctx, old.Scope, old.Key)
			require.ErrorIs(t, err, store.ErrNotFound)
			got, err := tx.GetIdempotency(ctx, mid.Scope, mid.Key)
			require.NoError(t, err)
			require.Equal(t, mid, got)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.DeleteIdempotencyBefore(ctx, at(1000))
			require.NoError(t, err)
			require.Equal(t, int64(2), n)
		})
		// The key is free again once expired.
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertIdempotency(ctx, again)) })
	})
}
