package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// newSMS builds (but does not store) a pending text to a collector of
// account, due at once.
func (f *factory) newSMS(account *canopy.Account) *canopy.SMSMessage {
	n := f.seq()
	return &canopy.SMSMessage{
		ID: f.id(canopy.PrefixSMS), BatchID: f.id(canopy.PrefixSMSBatch), FormID: f.id(canopy.PrefixForm), AccountID: account.ID,
		To: fmt.Sprintf("+1555000%04d", n), Mode: canopy.SMSInteractive, Body: "Name? ✓", Status: canopy.OutboxPending,
		NextAttemptAt: at(n), ChargeEntryID: f.id(canopy.PrefixLedgerEntry), PayerID: account.ParentID, CreatedAt: at(n),
	}
}

func smsID(m *canopy.SMSMessage) string { return m.ID }

// testSMSOutbox: the SMS outbox lists what its filter names, and a text
// is settled (sent, retried, failed with its refund) only while pending.
// Claiming and releasing are checked with the email outbox's (queues).
func testSMSOutbox(t *testing.T, open Opener) {
	t.Run("ListingSelectsSubtreeStatusAndPagesNewestFirst", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		tr := newTree(b)
		plan := []struct {
			in     *canopy.Account
			status canopy.OutboxStatus
		}{
			{tr.a, canopy.OutboxPending},   // 0
			{tr.a1, canopy.OutboxSent},     // 1
			{tr.b, canopy.OutboxPending},   // 2: a's prefix sibling
			{tr.a11, canopy.OutboxFailed},  // 3
			{tr.c, canopy.OutboxSent},      // 4
			{tr.a2, canopy.OutboxPending},  // 5
			{tr.b1, canopy.OutboxFailed},   // 6
			{tr.a11, canopy.OutboxPending}, // 7
		}
		msgs := make([]*canopy.SMSMessage, len(plan))
		for i, p := range plan {
			msgs[i] = b.f.newSMS(p.in)
			msgs[i].Status = p.status
		}
		sentAt := at(900)
		msgs[1].Attempts, msgs[1].ProviderID, msgs[1].SentAt = 1, "SM0001", &sentAt
		msgs[3].Attempts, msgs[3].LastError, msgs[3].RefundEntryID = 5, "30003 unreachable", b.f.id(canopy.PrefixLedgerEntry)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertSMSMessages(ctx, msgs[:3]...))
			require.NoError(t, tx.InsertSMSMessages(ctx, msgs[3:]...))
		})
		newest := func(idx ...int) []string { return newestOf(msgs, smsID, idx...) }
		tests := []listCase[store.OutboxFilter]{
			{"EveryAccount", store.OutboxFilter{}, newest(0, 1, 2, 3, 4, 5, 6, 7)},
			{"SubtreeLeavesOutThePrefixSibling", store.OutboxFilter{Subtree: tr.a.Path}, newest(0, 1, 3, 5, 7)},
			{"Leaf", store.OutboxFilter{Subtree: tr.a11.Path}, newest(3, 7)},
			{"Status", store.OutboxFilter{Status: canopy.OutboxFailed}, newest(3, 6)},
			{"SubtreeAndStatus", store.OutboxFilter{Subtree: tr.a.Path, Status: canopy.OutboxPending}, newest(0, 5, 7)},
			{"ExceptASubtree", store.OutboxFilter{Subtree: tr.root.Path, Except: []canopy.Path{tr.a1.Path, tr.b.Path}}, newest(0, 4, 5)},
			{"Before", store.OutboxFilter{Subtree: tr.a.Path, Before: msgs[5].ID}, newest(0, 1, 3)},
			{"Limit", store.OutboxFilter{Limit: 3}, newest(5, 6, 7)},
			{"BeforeAndLimit", store.OutboxFilter{Subtree: tr.a.Path, Before: msgs[7].ID, Limit: 2}, newest(3, 5)},
			{"NoMatch", store.OutboxFilter{Subtree: tr.c.Path, Status: canopy.OutboxPending}, nil},
		}
		requireListings(t, b, tests, func(ctx context.Context, tx store.Tx, f store.OutboxFilter) ([]string, error) {
			f.Limit = cmp.Or(f.Limit, 100)
			got, err := tx.ListSMS(ctx, f)
			return idsOf(got, smsID), err
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListSMS(ctx, store.OutboxFilter{Limit: 100})
			require.NoError(t, err)
			require.Equal(t, []*canopy.SMSMessage{msgs[7], msgs[6], msgs[5], msgs[4], msgs[3], msgs[2], msgs[1], msgs[0]}, got,
				"every field reads back")
		})
	})

	t.Run("TextsAreMarkedSentTogetherOnlyWhilePending", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(b.f.account(nil))
		first, second, failed, untouched := b.f.newSMS(acc), b.f.newSMS(acc), b.f.newSMS(acc), b.f.newSMS(acc)
		unknown := b.f.id(canopy.PrefixSMS)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertSMSMessages(ctx, first, second, failed, untouched))
			claimed, err := tx.ClaimSMS(ctx, at(100), at(200), 10)
			require.NoError(t, err)
			require.Len(t, claimed, 4)
			require.NoError(t, tx.MarkSMSFailed(ctx, store.SMSFailure{ID: failed.ID, LastError: "21211 invalid number", RefundEntryID: "led_refund"}))
			marked, err := tx.MarkSMSsSent(ctx, []store.SMSDelivery{
				{ID: second.ID, ProviderID: "SM0002"}, {ID: failed.ID, ProviderID: "SM0003"}, {ID: unknown, ProviderID: "SM0004"},
				{ID: first.ID, ProviderID: "SM0001"}, {ID: second.ID, ProviderID: "SM0005"}}, at(120))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{first.ID, second.ID}, marked, "only the pending ones, each once")
			again, err := tx.MarkSMSsSent(ctx, []store.SMSDelivery{{ID: first.ID, ProviderID: "SM0006"}}, at(130))
			require.NoError(t, err)
			require.Empty(t, again, "a text sent already is not marked again")
		})
		first.Attempts, first.Status, first.ProviderID, first.SentAt = 1, canopy.OutboxSent, "SM0001", ptr(at(120))
		second.Attempts, second.Status, second.ProviderID, second.SentAt = 1, canopy.OutboxSent, "SM0002", ptr(at(120))
		failed.Attempts, failed.Status, failed.LastError, failed.RefundEntryID = 1, canopy.OutboxFailed, "21211 invalid number", "led_refund"
		untouched.Attempts = 1
		requireSMS(t, b, acc, untouched, failed, second, first)
	})

	t.Run("ATextIsSettledOnlyWhilePending", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(b.f.account(nil))
		retried, failed, sent := b.f.newSMS(acc), b.f.newSMS(acc), b.f.newSMS(acc)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertSMSMessages(ctx, retried, failed, sent))
			claimed, err := tx.ClaimSMS(ctx, at(100), at(200), 10)
			require.NoError(t, err)
			require.Len(t, claimed, 3)
			require.NoError(t, tx.MarkSMSRetry(ctx, retried.ID, at(150), "503 busy"))
			require.NoError(t, tx.MarkSMSFailed(ctx, store.SMSFailure{ID: failed.ID, LastError: "21211 invalid number", RefundEntryID: "led_refund"}))
			require.NoError(t, tx.MarkSMSSent(ctx, sent.ID, "SM0001", at(120)))
		})
		retried.Attempts, retried.NextAttemptAt, retried.LastError = 1, at(150), "503 busy"
		failed.Attempts, failed.Status, failed.LastError, failed.RefundEntryID = 1, canopy.OutboxFailed, "21211 invalid number", "led_refund"
		sent.Attempts, sent.Status, sent.ProviderID, sent.SentAt = 1, canopy.OutboxSent, "SM0001", ptr(at(120))
		requireSMS(t, b, acc, sent, failed, retried)

		// A retry gives the lease back: the text is due again at its time,
		// not when the lease would have run out.
		b.write(t, func(ctx context.Context, tx store.Tx) {
			early, err := tx.ClaimSMS(ctx, at(149), at(1000), 10)
			require.NoError(t, err)
			require.Empty(t, early, "not due before its next attempt")
			due, err := tx.ClaimSMS(ctx, at(150), at(1000), 10)
			require.NoError(t, err)
			require.Equal(t, []string{retried.ID}, idsOf(due, smsID), "due at its next attempt, though its lease ran to 200")
		})
		retried.Attempts = 2

		unknown := b.f.id(canopy.PrefixSMS)
		tests := []struct {
			name string
			call func(ctx context.Context, tx store.Tx) error
		}{
			{"FailedIsNotRefundedTwice", func(ctx context.Context, tx store.Tx) error {
				return tx.MarkSMSFailed(ctx, store.SMSFailure{ID: failed.ID, LastError: "again", RefundEntryID: "led_other"})
			}},
			{"SentDoesNotFail", func(ctx context.Context, tx store.Tx) error {
				return tx.MarkSMSFailed(ctx, store.SMSFailure{ID: sent.ID, LastError: "late", RefundEntryID: "led_other"})
			}},
			{"FailedIsNotRetried", func(ctx context.Context, tx store.Tx) error {
				return tx.MarkSMSRetry(ctx, failed.ID, at(300), "again")
			}},
			{"SentIsNotRetried", func(ctx context.Context, tx store.Tx) error { return tx.MarkSMSRetry(ctx, sent.ID, at(300), "again") }},
			{"UnknownDoesNotFail", func(ctx context.Context, tx store.Tx) error {
				return tx.MarkSMSFailed(ctx, store.SMSFailure{ID: unknown, LastError: "x", RefundEntryID: "led_other"})
			}},
			{"UnknownIsNotRetried", func(ctx context.Context, tx store.Tx) error { return tx.MarkSMSRetry(ctx, unknown, at(300), "x") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.ErrorIs(t, b.writeErr(t, tt.call), store.ErrNotFound)
			})
		}
		requireSMS(t, b, acc, sent, failed, retried)
	})

	t.Run("OfConcurrentFailuresOneRefunds", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(b.f.account(nil))
		m := b.f.newSMS(acc)
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertSMSMessages(ctx, m)) })
		// Two workers whose leases overlapped both give up on the text.
		require.Equal(t, 1, concurrentWins(t, b, 8, func(ctx context.Context, tx store.Tx, i int) (bool, error) {
			err := tx.MarkSMSFailed(ctx, store.SMSFailure{ID: m.ID, LastError: "gave up", RefundEntryID: fmt.Sprintf("led_%d", i)})
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		}))
	})
}

// requireSMS asserts that account's texts read back as given, newest
// first.
func requireSMS(t *testing.T, b *testBundle, account *canopy.Account, newestFirst ...*canopy.SMSMessage) {
	t.Helper()
	b.read(t, func(ctx context.Context, tx store.Tx) {
		got, err := tx.ListSMS(ctx, store.OutboxFilter{Subtree: account.Path, Limit: 100})
		require.NoError(t, err)
		require.Equal(t, newestFirst, got)
	})
}
