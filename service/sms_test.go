package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

func smsCount(t *testing.T, b *testfactory.Bundle) int {
	t.Helper()
	msgs, err := b.Svc.Operator().ListSMS(context.Background(), "", "", 10_000)
	require.NoError(t, err)
	return len(msgs)
}

// TestSMSShareIsPaidByThePayerPerMessage: rule 8 (docs/rules.md) for SMS — one
// message credit per message, drawn from the sharing account's payer in
// the transaction that queues the messages; without the credits nothing is
// queued.
func TestSMSShareIsPaidByThePayerPerMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		umbrella := b.Child(t, b.Root.ID)
		sub := b.Child(t, umbrella.ID) // billing: parent, by default
		grant(t, b, umbrella.ID, canopy.CreditMessage, 5)
		f, err := b.Svc.CreateForm(ctx, b.As(t, sub.ID), survey)
		require.NoError(t, err)

		share, err := b.Svc.ShareFormBySMS(ctx, b.As(t, sub.ID), f.ID, service.SMSInput{
			To: []string{"+15551234567", "+447700900123", "+15557654321"}, Mode: canopy.SMSStructured})
		require.NoError(t, err)
		require.Equal(t, umbrella.ID, share.PayerID, "the sub-account's payer pays")
		require.EqualValues(t, 3, share.Credits)
		require.Len(t, share.Messages, 3)
		for _, m := range share.Messages {
			require.Equal(t, canopy.OutboxPending, m.Status)
			require.Equal(t, "Site survey: https://app.example/f/"+f.ID, m.Body)
		}
		require.EqualValues(t, 2, balanceOf(t, b, umbrella.ID, canopy.CreditMessage))

		ledger, err := b.Svc.ListLedger(ctx, b.As(t, umbrella.ID), umbrella.ID, service.LedgerQuery{Kind: canopy.EntryUsage}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, ledger.Data, 1)
		e := ledger.Data[0]
		require.Equal(t, share.ChargeEntryID, e.ID)
		require.EqualValues(t, 3, e.Amount)
		require.Equal(t, sub.ID, e.UsageAccountID)
		require.Equal(t, "sms:"+share.BatchID, e.UsageRef)

		// Three more than the payer holds: 402, and nothing is queued.
		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, sub.ID), f.ID, service.SMSInput{
			To: []string{"+15550000001", "+15550000002", "+15550000003"}, Mode: canopy.SMSInteractive})
		require.Equal(t, canopy.KindPaymentRequired, canopy.ErrorKind(err), "%v", err)
		require.Equal(t, 3, smsCount(t, b), "a refused share queues nothing")
		require.EqualValues(t, 2, balanceOf(t, b, umbrella.ID, canopy.CreditMessage))

		// Interactive: the first question, answered by reply.
		share, err = b.Svc.ShareFormBySMS(ctx, b.As(t, sub.ID), f.ID, service.SMSInput{To: []string{"+15550000001"}, Mode: canopy.SMSInteractive})
		require.NoError(t, err)
		require.Equal(t, "Site survey. Reply to answer: Site", share.Messages[0].Body)
		require.Equal(t, 4, smsCount(t, b))
		requireVerified(t, b)
	})
}

// TestSMSShareNeedsARoleThatEditsData: a sub-account shares on its own
// (no umbrella involved), but only with dataManager or above on the form;
// a viewer gets 403 and an account that cannot see the form 404. Bad
// numbers answer 422 naming each one.
func TestSMSShareNeedsARoleThatEditsData(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		parent := b.Child(t, b.Root.ID)
		owner := b.Child(t, parent.ID)
		sibling := b.Child(t, parent.ID)
		b.Fund(t, parent.ID)
		f, err := b.Svc.CreateForm(ctx, b.As(t, owner.ID), survey)
		require.NoError(t, err)
		one := service.SMSInput{To: []string{"+15551234567"}, Mode: canopy.SMSStructured}

		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, parent.ID), f.ID, one)
		require.NoError(t, err, "the parent is a dataManager through its link")
		_, err = b.Svc.PutShare(ctx, b.As(t, owner.ID), f.ID, parent.ID, canopy.RoleViewer)
		require.NoError(t, err)
		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, parent.ID), f.ID, one)
		require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err), "a viewer may not: %v", err)
		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, sibling.ID), f.ID, one)
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err), "a sibling cannot see the form: %v", err)
		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, owner.ID), "frm_01KA0000000000000000000000", one)
		require.Equal(t, canopy.KindNotFound, canopy.ErrorKind(err))

		for _, tc := range []struct {
			name   string
			in     service.SMSInput
			fields []string
		}{
			{"bad numbers", service.SMSInput{To: []string{"+15551234567", "555-1234", "+0123456789", "+15551234567"}, Mode: canopy.SMSStructured},
				[]string{"to[1]", "to[2]", "to[3]"}},
			{"no mode", service.SMSInput{To: []string{"+15551234567"}}, []string{"mode"}},
			{"unknown mode", service.SMSInput{To: []string{"+15551234567"}, Mode: "carrier-pigeon"}, []string{"mode"}},
			{"no numbers", service.SMSInput{Mode: canopy.SMSStructured}, []string{"to"}},
			{"too many", service.SMSInput{To: numbers(101), Mode: canopy.SMSStructured}, []string{"to"}},
		} {
			_, err := b.Svc.ShareFormBySMS(ctx, b.As(t, owner.ID), f.ID, tc.in)
			require.Equal(t, tc.fields, fieldsOf(t, err), tc.name)
		}
		empty, err := b.Svc.CreateForm(ctx, b.As(t, owner.ID), service.FormInput{Name: "Blank"})
		require.NoError(t, err)
		_, err = b.Svc.ShareFormBySMS(ctx, b.As(t, owner.ID), empty.ID, service.SMSInput{To: []string{"+15551234567"}, Mode: canopy.SMSInteractive})
		require.Equal(t, []string{"mode"}, fieldsOf(t, err), "no question to ask by reply")
		require.Equal(t, 1, smsCount(t, b), "only the one allowed share was queued")
		requireVerified(t, b)
	})
}

func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1555%07d", i)
	}
	return out
}
