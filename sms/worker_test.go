package sms_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/internal/twiliotest"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/sms"
	"github.com/canopyhq/canopy/store/sqlstore"
)

type world struct {
	b      *testfactory.Bundle
	payer  *canopy.Account
	sub    *canopy.Account
	formID string
}

// newWorld is root → payer (pro) → sub (pro, paid for by payer), which
// owns a form with one question.
func newWorld(t *testing.T, db *sqlstore.DB, opts ...testfactory.Options) *world {
	b := testfactory.New(t, db, opts...)
	child := func(parent string) *canopy.Account {
		in := b.ChildInput()
		in.Account.Plan = canopy.PlanPro
		res, err := b.Svc.CreateChild(context.Background(), b.As(t, parent), in)
		require.NoError(t, err)
		return res.Account
	}
	payer := child(b.Root.ID)
	sub := child(payer.ID)
	b.Fund(t, payer.ID)
	f, err := b.Svc.CreateForm(context.Background(), b.As(t, sub.ID), service.FormInput{Name: "Intake",
		Questions: []canopy.Question{{ID: "name", Label: "Your name?", Type: canopy.QuestionText}}})
	require.NoError(t, err)
	return &world{b: b, payer: payer, sub: sub, formID: f.ID}
}

// share authorises numbers to collect for the form, which queues each a
// one-time message, charged to the payer.
func (w *world) share(t *testing.T, to ...string) *service.CollectorsAdded {
	s, err := w.b.Svc.AddCollectors(context.Background(), w.b.As(t, w.sub.ID), w.formID, service.CollectorsInput{Numbers: to, Mode: canopy.SMSStructured})
	require.NoError(t, err)
	return s
}

func (w *world) balance(t *testing.T) int64 {
	cr, err := w.b.Svc.GetCredits(context.Background(), w.b.As(t, w.b.Root.ID), w.payer.ID)
	require.NoError(t, err)
	for _, x := range cr.Balances {
		if x.Type == canopy.CreditMessage {
			return x.Amount
		}
	}
	return -1
}

func (w *world) message(t *testing.T, id string) *canopy.SMSMessage { return w.b.SMSMessage(t, id) }

func verified(t *testing.T, b *testfactory.Bundle) {
	mismatches, _, err := b.Svc.VerifyCredits(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches)
}

// TestRetriesThenSuccessSendsOnce: 5xx answers are retried after a backoff
// (the clock moves, nothing sleeps) and the message is sent exactly once.
func TestRetriesThenSuccessSendsOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		tw := twiliotest.New(t)
		tw.FailFirst(2)
		worker := sms.NewWorker(w.b.Svc, tw.Sender(t), sms.WorkerConfig{}, nil)
		before := w.balance(t)
		share := w.share(t, "+15551234567")
		require.Equal(t, before-1, w.balance(t))

		res, err := worker.Round(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Retried: 1}, res)
		res, err = worker.Round(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "not due before its backoff")
		w.b.Clock.Advance(time.Hour)
		res, err = worker.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Retried: 1}, res)
		w.b.Clock.Advance(time.Hour)
		res, err = worker.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Sent: 1}, res)
		w.b.Clock.Advance(24 * time.Hour)
		res, err = worker.Drain(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "a sent message is not sent again")

		require.Equal(t, 3, tw.Calls())
		body := share.Messages[0].Body
		require.Equal(t, []string{body}, tw.SentTo("+15551234567"), "sent once")
		last := tw.Requests()[2]
		require.Equal(t, []string{"+15551234567", twiliotest.From, body}, []string{last.To, last.From, last.Body})
		m := w.message(t, share.Messages[0].ID)
		require.Equal(t, canopy.OutboxSent, m.Status)
		require.Equal(t, 3, m.Attempts)
		require.True(t, strings.HasPrefix(m.ProviderID, "SM"), m.ProviderID)
		require.NotNil(t, m.SentAt)
		require.Equal(t, before-1, w.balance(t), "a sent message stays paid")
		verified(t, w.b)
	})
}

// TestFailedMessagesAreRefunded: a number the provider refuses (4xx) fails
// at once, and a message whose attempts run out fails too; each gives its
// one message credit back to the payer that was charged, with a refund
// entry describing the same usage, and the ledger still balances.
func TestFailedMessagesAreRefunded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db, testfactory.Options{OutboxMaxAttempts: 2})
		tw := twiliotest.New(t)
		tw.Reject("+15550000002")
		worker := sms.NewWorker(w.b.Svc, tw.Sender(t), sms.WorkerConfig{Concurrency: 2}, nil)
		_, err := w.b.Svc.SetLimit(ctx, w.b.As(t, w.payer.ID), w.sub.ID, service.LimitInput{Type: canopy.CreditMessage, Monthly: ptr(int64(10))})
		require.NoError(t, err)
		before := w.balance(t)
		share := w.share(t, "+15550000001", "+15550000002", "+15550000003")
		require.Equal(t, before-3, w.balance(t))

		res, err := worker.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Sent: 2, Failed: 1}, res)
		require.Equal(t, before-2, w.balance(t), "the refused message is refunded")
		cr, err := w.b.Svc.GetCredits(ctx, w.b.As(t, w.payer.ID), w.sub.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), cr.Limits[0].UsedMonth, "a refunded message no longer counts against the cap")
		bad := w.message(t, share.Messages[1].ID)
		require.Equal(t, canopy.OutboxFailed, bad.Status)
		require.Contains(t, bad.LastError, "21211")
		require.NotEmpty(t, bad.RefundEntryID)

		ledger, err := w.b.Svc.ListLedger(ctx, w.b.As(t, w.payer.ID), w.payer.ID, service.LedgerQuery{Kind: canopy.EntryRefund}, service.PageRequest{})
		require.NoError(t, err)
		require.Len(t, ledger.Data, 1)
		r := ledger.Data[0]
		require.Equal(t, bad.RefundEntryID, r.ID)
		require.Equal(t, canopy.BookConsumption, r.Debit)
		require.Equal(t, w.payer.ID, r.Credit)
		require.EqualValues(t, 1, r.Amount)
		require.Equal(t, w.sub.ID, r.UsageAccountID)
		require.Equal(t, "sms:"+bad.BatchID, r.UsageRef)
		verified(t, w.b)

		// The provider is down: two attempts, then failed and refunded.
		tw.FailFirst(1_000)
		share = w.share(t, "+15550000009")
		res, err = worker.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Retried: 1}, res)
		w.b.Clock.Advance(time.Hour)
		res, err = worker.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, sms.Result{Failed: 1}, res)
		require.Equal(t, canopy.OutboxFailed, w.message(t, share.Messages[0].ID).Status)
		require.Equal(t, before-2, w.balance(t), "attempts used up: refunded too")

		usage, err := w.b.Svc.GetUsage(ctx, w.b.As(t, w.payer.ID), w.payer.ID, time.Time{}, time.Time{}, "none")
		require.NoError(t, err)
		for _, x := range usage.Total {
			if x.Type == canopy.CreditMessage {
				require.EqualValues(t, 2, x.Amount, "net usage counts only delivered messages")
			}
		}
		verified(t, w.b)
	})
}

// TestConcurrentWorkersNeverSendOneMessageTwice: four workers drain one
// outbox at once; the leases give each message to exactly one of them.
func TestConcurrentWorkersNeverSendOneMessageTwice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		tw := twiliotest.New(t)
		var want []string
		for batch := range 3 {
			to := make([]string, 100)
			for i := range to {
				to[i] = fmt.Sprintf("+1555%03d%04d", batch, i)
				want = append(want, to[i])
			}
			w.share(t, to...)
		}
		var wg sync.WaitGroup
		results := make([]sms.Result, 4)
		for i := range results {
			worker := sms.NewWorker(w.b.Svc, tw.Sender(t), sms.WorkerConfig{Batch: 7, Concurrency: 3}, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := worker.Drain(ctx)
				require.NoError(t, err)
				results[i] = res
			}()
		}
		wg.Wait()
		total := 0
		for _, r := range results {
			total += r.Sent
			require.Zero(t, r.Retried+r.Failed)
		}
		require.Equal(t, 300, total)
		require.Equal(t, 300, tw.Calls(), "one request per message")
		for _, n := range want {
			require.Len(t, tw.SentTo(n), 1, n)
		}
		verified(t, w.b)
	})
}

// TestFileSender writes one file per message, replaced on a retry.
func TestFileSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sms-outbox")
	s, err := sms.NewFileSender(dir)
	require.NoError(t, err)
	for range 2 {
		path, err := s.Send(context.Background(), sms.Message{ID: "sms_1", To: "+15551234567", Body: "Intake: https://app.example/f/frm_1"})
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, "sms_1.txt"), path)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sms_1.txt"))
	require.NoError(t, err)
	require.Equal(t, "To: +15551234567\n\nIntake: https://app.example/f/frm_1\n", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// TestTwilioSenderClassifiesAnswers: 2xx sent, 4xx permanent, 5xx and
// network errors retried, and so are a wrong token or URL: the operator's
// mistake, not the message's.
func TestTwilioSenderClassifiesAnswers(t *testing.T) {
	tw := twiliotest.New(t)
	tw.FailFirst(1)
	tw.Reject("+15550000002")
	s := tw.Sender(t)
	ctx := context.Background()
	_, err := s.Send(ctx, sms.Message{ID: "a", To: "+15550000001", Body: "x"})
	require.Error(t, err)
	require.False(t, sms.IsRejected(err), "5xx is retried")
	id, err := s.Send(ctx, sms.Message{ID: "a", To: "+15550000001", Body: "x"})
	require.NoError(t, err)
	require.NotEmpty(t, id)
	_, err = s.Send(ctx, sms.Message{ID: "b", To: "+15550000002", Body: "x"})
	require.True(t, sms.IsRejected(err), "4xx is permanent: %v", err)
	wrong, err := sms.NewTwilioSender(sms.TwilioConfig{BaseURL: tw.URL, AccountSID: twiliotest.AccountSID, AuthToken: "wrong", From: twiliotest.From})
	require.NoError(t, err)
	_, err = wrong.Send(ctx, sms.Message{ID: "c", To: "+15550000001", Body: "x"})
	require.Error(t, err)
	require.False(t, sms.IsRejected(err), "401 is retried: %v", err)
	tw.Close()
	_, err = s.Send(ctx, sms.Message{ID: "d", To: "+15550000001", Body: "x"})
	require.Error(t, err)
	require.False(t, sms.IsRejected(err), "a network error is retried")
	_, err = sms.NewTwilioSender(sms.TwilioConfig{BaseURL: "ftp://x", AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken, From: twiliotest.From})
	require.Error(t, err)
}

func ptr[T any](v T) *T { return &v }

// TestAStoppingWorkerFinishesWhatItStartedAndGivesBackTheRest: when the
// worker is told to stop during a round, the message at the provider is
// answered and recorded, no further message is started, and the rest of
// the round is given back at once — due again, its attempts uncounted —
// so the next worker sends each message exactly once.
func TestAStoppingWorkerFinishesWhatItStartedAndGivesBackTheRest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorld(t, db)
		tw := twiliotest.New(t)
		arrived, answer := tw.Hold()
		numbers := []string{"+15551230001", "+15551230002", "+15551230003", "+15551230004"}
		share := w.share(t, numbers...)
		worker := sms.NewWorker(w.b.Svc, tw.Sender(t), sms.WorkerConfig{Concurrency: 1}, nil)

		ctx, stop := context.WithCancel(context.Background())
		type result struct {
			res sms.Result
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := worker.Round(ctx)
			done <- result{res, err}
		}()
		<-arrived // the first message is at the provider
		require.Len(t, worker.Holding(), 4)
		stop()
		answer()
		r := <-done
		require.NoError(t, r.err)
		require.Equal(t, 1, r.res.Sent, "the message in flight finished")
		require.Empty(t, worker.Holding(), "nothing held: one recorded, the rest given back")

		sentFirst := 0
		for _, q := range share.Messages {
			m := w.message(t, q.ID)
			if m.Status == canopy.OutboxSent {
				sentFirst++
				continue
			}
			require.Equal(t, canopy.OutboxPending, m.Status)
			require.Zero(t, m.Attempts, "a message given back was not tried")
		}
		require.Equal(t, 1, sentFirst)

		res, err := sms.NewWorker(w.b.Svc, tw.Sender(t), sms.WorkerConfig{}, nil).Drain(context.Background())
		require.NoError(t, err)
		require.Equal(t, 3, res.Sent, "the rest is due at once, not after a lease")
		for _, n := range numbers {
			require.Len(t, tw.SentTo(n), 1, "%s sent once", n)
		}
		require.Len(t, tw.Sent(), 4)
	})
}
