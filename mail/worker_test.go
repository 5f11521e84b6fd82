package mail_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/mail"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// setup returns a service, a worker that sends to a real SMTP server in
// this process, and that server.
func setup(t *testing.T, db *sqlstore.DB, opts ...testfactory.Options) (*testfactory.Bundle, *mail.Worker, *smtptest.Server) {
	t.Helper()
	b := testfactory.New(t, db, opts...)
	srv := smtptest.Start(t)
	sender, err := mail.NewSMTPSender(srv.URL(), 5*time.Second)
	require.NoError(t, err)
	tpl, err := mail.LoadTemplates("")
	require.NoError(t, err)
	w := mail.NewWorker(b.Svc, sender, tpl, mail.WorkerConfig{From: "Canopy <no-reply@canopy.example>"}, nil)
	return b, w, srv
}

// reseller makes root → reseller (white-labelled as "Acme", a brand its
// clients inherit) and returns it.
func reseller(t *testing.T, b *testfactory.Bundle) *canopy.Account {
	t.Helper()
	in := b.ChildInput()
	require.NoError(t, json.Unmarshal([]byte(`{"white_label_portal": {"brandName": "Acme", "primaryColor": "#FF6600"}}`), &in.Configurations))
	res, err := b.Svc.CreateChild(context.Background(), b.As(t, b.Root.ID), in)
	require.NoError(t, err)
	// The brand flows down to the reseller's clients (an inheritable namespace).
	_, err = b.Svc.SetConfiguration(context.Background(), b.As(t, res.Account.ID), res.Account.ID, "white_label_portal",
		in.Configurations[0].Value, new(true))
	require.NoError(t, err)
	return res.Account
}

func TestDeliveryOverSMTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, w, srv := setup(t, db)
		acme := reseller(t, b)
		_, err := w.Round(ctx) // the reseller's own welcome email
		require.NoError(t, err)
		srv.WaitFor(t, 1, 5*time.Second)

		in := service.CreateChildInput{
			Account:    service.AccountInput{Name: "Dental Clinic"},
			MasterUser: &service.MasterUserInput{Email: "ada@dental.example", Name: "Ada"},
			Users:      []service.UserInput{{Email: "bo@dental.example", Name: "Bo"}},
		}
		_, err = b.Svc.CreateChild(ctx, b.As(t, acme.ID), in)
		require.NoError(t, err)
		res, err := w.Round(ctx)
		require.NoError(t, err)
		require.Equal(t, mail.Result{Sent: 2}, res)

		got := srv.WaitFor(t, 3, 5*time.Second)[1:]
		byTo := map[string]smtptest.Received{}
		for _, m := range got {
			require.Len(t, m.To, 1)
			byTo[m.To[0]] = m
		}
		ada, bo := byTo["ada@dental.example"], byTo["bo@dental.example"]
		require.NotEmpty(t, ada.Subject)
		for _, m := range []smtptest.Received{ada, bo} {
			require.Contains(t, m.Subject, "Acme", "the reseller's brand, from its white_label_portal configuration")
			require.Contains(t, m.HTML, "#FF6600")
			require.Regexp(t, `^<msg_[0-9A-Z]{26}@canopy\.example>$`, m.MessageID)
			require.NotContains(t, strings.ToLower(m.Text), "password:", "no password travels by email")
		}

		// The link in the email sets the password, exactly once.
		link := linkIn(t, ada.Text)
		require.True(t, strings.HasPrefix(link, "https://app.example/set-password?token="+canopy.TokenPrefix), link)
		set := func() error {
			_, err := b.Svc.SetPassword(ctx, service.SetPasswordInput{Token: tokenOf(t, link), Password: testfactory.StrongPassword}, service.RequestInfo{})
			return err
		}
		require.NoError(t, set())
		require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(set()))
		_, err = b.Svc.Login(ctx, service.LoginInput{Login: "ada@dental.example", Password: testfactory.StrongPassword}, service.RequestInfo{})
		require.NoError(t, err)

		// Everything is recorded as sent; nothing more is due.
		res, err = w.Round(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Total())
		sent, err := b.Svc.Operator().ListOutbox(ctx, canopy.OutboxSent, "", 10)
		require.NoError(t, err)
		require.Len(t, sent, 3)
		for _, m := range sent {
			require.NotNil(t, m.SentAt)
			require.Equal(t, 1, m.Attempts)
		}
	})
}

func linkIn(t *testing.T, text string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "https://") {
			return line
		}
	}
	t.Fatalf("no link in:\n%s", text)
	return ""
}

func tokenOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Query().Get("token")
}

// TestRetriesDeliverOnceWithOneMessageID: the server refuses the first
// attempts; retries come after a backoff, and the email arrives exactly
// once with the Message-ID it had from the start.
func TestRetriesDeliverOnceWithOneMessageID(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, w, srv := setup(t, db)
		srv.Reject(3)
		acc := b.Child(t, b.Root.ID)
		var rounds []mail.Result
		for range 10 {
			res, err := w.Round(ctx)
			require.NoError(t, err)
			rounds = append(rounds, res)
			b.Clock.Advance(2 * time.Hour) // past the longest backoff
		}
		require.Equal(t, mail.Result{Retried: 1}, rounds[0])
		require.Equal(t, mail.Result{Sent: 1}, rounds[3])
		require.Equal(t, 4, srv.Attempts())
		got := srv.Messages()
		require.Len(t, got, 1, "delivered exactly once")

		msgs, err := b.Svc.Operator().ListOutbox(ctx, "", "", 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "<"+msgs[0].ID+"@canopy.example>", got[0].MessageID)
		require.Equal(t, canopy.OutboxSent, msgs[0].Status)
		require.Equal(t, 4, msgs[0].Attempts)
		_ = acc
	})
}

func TestBackoffWaitsBeforeRetrying(t *testing.T) {
	b, w, srv := setup(t, testdb.SQLite(t))
	ctx := context.Background()
	srv.Reject(1)
	b.Child(t, b.Root.ID)
	res, err := w.Round(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Retried)
	res, err = w.Round(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Total(), "not due again before its backoff")
	b.Clock.Advance(14 * time.Second)
	res, _ = w.Round(ctx)
	require.Zero(t, res.Total(), "the first retry waits at least half of 30 s")
	b.Clock.Advance(17 * time.Second)
	res, _ = w.Round(ctx)
	require.Equal(t, 1, res.Sent)
}

func TestGivingUpKeepsTheMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, w, srv := setup(t, db, testfactory.Options{OutboxMaxAttempts: 3})
		srv.Reject(100)
		b.Child(t, b.Root.ID)
		var last mail.Result
		for range 5 {
			res, err := w.Round(ctx)
			require.NoError(t, err)
			if res.Total() > 0 {
				last = res
			}
			b.Clock.Advance(2 * time.Hour)
		}
		require.Equal(t, mail.Result{Failed: 1}, last)
		failed, err := b.Svc.Operator().ListOutbox(ctx, canopy.OutboxFailed, "", 10)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		require.Equal(t, 3, failed[0].Attempts)
		require.Contains(t, failed[0].LastError, "451")

		// An operator requeues it; once the server accepts, it goes out.
		srv.Reject(0)
		n, err := b.Svc.Operator().Retry(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		res, err := w.Round(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Sent)
	})
}

// TestACrashedWorkersMessagesAreNotLost: a worker claims messages and dies
// before sending them; once the claim's lease runs out another worker
// sends them.
func TestACrashedWorkersMessagesAreNotLost(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b, w, srv := setup(t, db)
		b.Child(t, b.Root.ID)
		b.Child(t, b.Root.ID)
		claimed, err := b.Svc.ClaimOutbox(ctx, 10) // the worker that crashes
		require.NoError(t, err)
		require.Len(t, claimed, 2)

		res, err := w.Round(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Total(), "leased to the other worker")
		b.Clock.Advance(2*time.Minute + time.Second)
		res, err = w.Round(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, res.Sent)
		require.Len(t, srv.WaitFor(t, 2, 5*time.Second), 2)
	})
}

func TestPermanentFailures(t *testing.T) {
	ctx := context.Background()
	b, w, srv := setup(t, testdb.SQLite(t))
	acc := b.Child(t, b.Root.ID)
	gone := b.User(t, acc.ID, canopy.UserMember)
	require.NoError(t, b.Svc.DeleteUser(ctx, b.As(t, acc.ID), acc.ID, gone.ID))
	bounced := b.User(t, acc.ID, canopy.UserMember)
	srv.RejectRecipient(bounced.Email)

	res, err := w.Round(ctx)
	require.NoError(t, err)
	require.Equal(t, mail.Result{Sent: 1, Failed: 2}, res, "removed user and refused mailbox fail at once; the master's email goes")
	failed, err := b.Svc.Operator().ListOutbox(ctx, canopy.OutboxFailed, "", 10)
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, m := range failed {
		reasons[m.Recipient] = m.LastError
	}
	require.Contains(t, reasons[gone.Email], "removed")
	require.Contains(t, reasons[bounced.Email], "550")
}

// TestFileSenderForFirstRuns: with no SMTP server, emails become .eml
// files a first-time user can open.
func TestFileSenderForFirstRuns(t *testing.T) {
	b := testfactory.New(t, testdb.SQLite(t))
	dir := t.TempDir()
	sender, err := mail.NewFileSender(dir)
	require.NoError(t, err)
	tpl, err := mail.LoadTemplates("")
	require.NoError(t, err)
	w := mail.NewWorker(b.Svc, sender, tpl, mail.WorkerConfig{From: "no-reply@canopy.example"}, nil)
	b.Child(t, b.Root.ID)
	res, err := w.Drain(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, res.Sent)
	files, err := filepath.Glob(filepath.Join(dir, "msg_*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	parsed, err := smtptest.Parse(raw)
	require.NoError(t, err)
	require.Contains(t, parsed.Text, "https://app.example/set-password?token=")
}
