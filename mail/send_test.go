package mail_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/smtptest"
	"github.com/canopyhq/canopy/mail"
)

const from = "Acme Ops <noreply@acme.example>"

// rendered returns a message rendered from the real templates.
func rendered(t testing.TB, id, to, toName, template string) *mail.Message {
	t.Helper()
	tmpl, err := mail.LoadTemplates("")
	require.NoError(t, err)
	d := sample(canopy.Brand{Name: "Acme", PrimaryColor: "#FF6600"})
	d.UserName = toName
	d.Email = to
	d.Link = link + "&id=" + id
	subject, text, html, err := tmpl.Render(as(template, d))
	require.NoError(t, err)
	return &mail.Message{ID: id, From: from, To: to, ToName: toName, Subject: subject, Text: text, HTML: html}
}

func smtpSender(t testing.TB, s *smtptest.Server, user *url.Userinfo) mail.Sender {
	t.Helper()
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	u.User = user
	sender, err := mail.NewSMTPSender(u.String(), 5*time.Second)
	require.NoError(t, err)
	return sender
}

func TestSMTPSendDeliversABatch(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	sender := smtpSender(t, s, nil)
	msgs := []*mail.Message{
		rendered(t, "msg_01A", "ada@dental.example", "Ada Lovelace", canopy.TemplateWelcome),
		rendered(t, "msg_01B", "bo@dental.example", "Bö Jürgensen", canopy.TemplateUserInvitation),
		rendered(t, "msg_01C", "zoë@dental.example", "", canopy.TemplatePasswordReset),
	}
	msgs[2].Subject = "Réinitialisez votre mot de passe — 密码 ✓"

	errs := sender.Send(context.Background(), msgs, nil)
	require.Equal(t, []error{nil, nil, nil}, errs)

	got := s.WaitFor(t, 3, 5*time.Second)
	require.Len(t, got, 3)
	for i, m := range msgs {
		r := got[i]
		require.NoError(t, r.ParseErr)
		require.Equal(t, "noreply@acme.example", r.From, "envelope sender")
		require.Equal(t, []string{m.To}, r.To, "envelope recipient")
		require.Equal(t, "<"+m.ID+"@acme.example>", r.MessageID)
		require.Equal(t, m.Subject, r.Subject)
		require.Equal(t, m.Text, normalizeCRLF(r.Text))
		require.Equal(t, m.HTML, normalizeCRLF(r.HTML))
		require.Contains(t, r.Text, link+"&id="+m.ID)
		require.Contains(t, r.HTML, strings.ReplaceAll(link+"&id="+m.ID, "&", "&amp;"))
		raw := string(r.Data)
		require.Contains(t, raw, "Content-Type: multipart/alternative")
		require.Contains(t, raw, "Auto-Submitted: auto-generated")
		require.Contains(t, raw, "\r\nDate: ")
		require.NotContains(t, raw, "User-Agent")
	}
	require.Regexp(t, `(?i)\r\nTo: =\?utf-8\?q\?B=C3=B6_J=C3=BCrgensen\?= <bo@dental\.example>\r\n`, string(got[1].Data), "non-ASCII names are encoded")
	require.Regexp(t, `\r\nSubject:\s+=\?UTF-8\?q\?R=C3=A9init`, string(got[2].Data), "non-ASCII subjects are encoded (RFC 2047)")
	require.Equal(t, 3, s.Attempts())
}

func TestSMTPSendWithAuth(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t, smtptest.WithAuth("relay", "s3cret"))

	batch := func() []*mail.Message {
		return []*mail.Message{
			rendered(t, "msg_a1", "ada@dental.example", "Ada", canopy.TemplateWelcome),
			rendered(t, "msg_a2", "bo@dental.example", "Bo", canopy.TemplateUserInvitation),
		}
	}
	errs := smtpSender(t, s, url.UserPassword("relay", "wrong")).Send(context.Background(), batch(), nil)
	require.Len(t, errs, 2)
	for _, err := range errs {
		require.ErrorContains(t, err, "535")
		require.False(t, mail.IsPermanent(err), "bad credentials are the operator's to fix, not the message's fault")
		require.NotContains(t, err.Error(), "wrong", "no password in errors")
	}
	errs = smtpSender(t, s, nil).Send(context.Background(), batch(), nil)
	for _, err := range errs {
		require.Error(t, err, "no credentials: MAIL FROM refused")
		require.False(t, mail.IsPermanent(err), "a refused MAIL FROM is a configuration problem")
	}
	require.Zero(t, s.Attempts())

	errs = smtpSender(t, s, url.UserPassword("relay", "s3cret")).Send(context.Background(), batch(), nil)
	require.Equal(t, []error{nil, nil}, errs)
	require.Len(t, s.WaitFor(t, 2, 5*time.Second), 2)
}

func TestSMTPTLSModesAgainstAServerWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t, smtptest.WithAuth("relay", "s3cret"))
	msg := func(id string) []*mail.Message {
		return []*mail.Message{rendered(t, id, "ada@dental.example", "Ada", canopy.TemplateWelcome)}
	}
	send := func(rawURL, id string) error {
		sender, err := mail.NewSMTPSender(rawURL, 5*time.Second)
		require.NoError(t, err)
		return sender.Send(context.Background(), msg(id), nil)[0]
	}

	err := send("smtp://relay:s3cret@"+s.Addr()+"?tls=required", "msg_tls1")
	require.ErrorContains(t, err, "STARTTLS", "tls=required does not fall back to clear text")

	err = send("smtp://relay:s3cret@"+s.Addr(), "msg_tls2")
	require.ErrorContains(t, err, "not able to detect a supported authentication mechanism",
		"opportunistic TLS without STARTTLS: auto-discovery will not send PLAIN credentials in clear text")
	require.Zero(t, s.Attempts())

	require.NoError(t, send("smtp://relay:s3cret@"+s.Addr()+"?tls=none", "msg_tls3"), "tls=none to localhost may")
	require.Equal(t, "<msg_tls3@acme.example>", s.WaitFor(t, 1, 5*time.Second)[0].MessageID)
}

func TestSMTPRetryAfterTemporaryFailureKeepsTheMessageID(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	sender := smtpSender(t, s, nil)
	m := rendered(t, "msg_01RETRY", "ada@dental.example", "Ada", canopy.TemplateWelcome)
	s.Reject(2)

	for attempt := 1; attempt <= 2; attempt++ {
		errs := sender.Send(context.Background(), []*mail.Message{m}, nil)
		require.Len(t, errs, 1)
		require.ErrorContains(t, errs[0], "451", "attempt %d", attempt)
		require.ErrorContains(t, errs[0], "<msg_01RETRY@acme.example>", "the refused attempt carried the same Message-ID")
		require.False(t, mail.IsPermanent(errs[0]))
	}
	errs := sender.Send(context.Background(), []*mail.Message{m}, nil)
	require.Equal(t, []error{nil}, errs)

	require.Equal(t, 3, s.Attempts())
	got := s.WaitFor(t, 1, 5*time.Second)
	require.Len(t, got, 1)
	require.Equal(t, "<msg_01RETRY@acme.example>", got[0].MessageID)
}

func TestSMTPOneRefusedMessageDoesNotFailTheBatch(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	s.RejectRecipient("gone@dental.example")
	sender := smtpSender(t, s, nil)
	s.Reject(1)
	msgs := []*mail.Message{
		rendered(t, "msg_b1", "ada@dental.example", "Ada", canopy.TemplateWelcome),   // DATA refused with 451
		rendered(t, "msg_b2", "gone@dental.example", "Gone", canopy.TemplateWelcome), // RCPT refused with 550
		{ID: "msg_b3", From: from, To: "not an address", Subject: "x", Text: "x"},    // cannot be built
		{ID: "../../etc/passwd", From: from, To: "ada@dental.example", Text: "x"},    // bad id
		rendered(t, "msg_b5", "bo@dental.example", "Bo", canopy.TemplateWelcome),     // delivered
	}
	errs := sender.Send(context.Background(), msgs, nil)
	require.Len(t, errs, 5)
	require.ErrorContains(t, errs[0], "451")
	require.False(t, mail.IsPermanent(errs[0]))
	require.ErrorContains(t, errs[1], "550")
	require.True(t, mail.IsPermanent(errs[1]), "no such mailbox: retrying will not help")
	require.ErrorContains(t, errs[2], "To")
	require.ErrorContains(t, errs[3], "message id")
	require.NoError(t, errs[4])

	got := s.WaitFor(t, 1, 5*time.Second)
	require.Len(t, got, 1)
	require.Equal(t, "<msg_b5@acme.example>", got[0].MessageID)
}

func TestSMTPSendToAStoppedServerFailsEveryMessage(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	sender := smtpSender(t, s, nil)
	s.Close()

	msgs := []*mail.Message{
		rendered(t, "msg_c1", "ada@dental.example", "Ada", canopy.TemplateWelcome),
		rendered(t, "msg_c2", "bo@dental.example", "Bo", canopy.TemplateWelcome),
		rendered(t, "msg_c3", "cy@dental.example", "Cy", canopy.TemplateWelcome),
	}
	errs := sender.Send(context.Background(), msgs, nil)
	require.Len(t, errs, 3)
	for i, err := range errs {
		require.ErrorContains(t, err, "connect to "+s.Addr(), "message %d", i)
		require.ErrorContains(t, err, msgs[i].ID)
		require.False(t, mail.IsPermanent(err))
	}
}

func TestSMTPSendToAServerThatNeverAnswersTimesOut(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept() // accept, then say nothing
			if err != nil {
				// The listener closed at cleanup.
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	sender, err := mail.NewSMTPSender("smtp://"+ln.Addr().String()+"?tls=none", 200*time.Millisecond)
	require.NoError(t, err)

	start := time.Now()
	errs := sender.Send(context.Background(), []*mail.Message{
		rendered(t, "msg_t1", "ada@dental.example", "Ada", canopy.TemplateWelcome),
		rendered(t, "msg_t2", "bo@dental.example", "Bo", canopy.TemplateWelcome),
	}, nil)
	require.Less(t, time.Since(start), 5*time.Second)
	for _, err := range errs {
		require.ErrorContains(t, err, "timeout")
	}
}

func TestSMTPSendWithCanceledContextSendsNothing(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := smtpSender(t, s, nil).Send(ctx, []*mail.Message{rendered(t, "msg_d1", "ada@dental.example", "Ada", canopy.TemplateWelcome)}, nil)
	require.ErrorIs(t, errs[0], context.Canceled)
	require.Zero(t, s.Attempts())
}

func TestSMTPSendEmptyBatch(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	require.Empty(t, smtpSender(t, s, nil).Send(context.Background(), nil, nil))
}

func TestSMTPSenderIsSafeForConcurrentSends(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	sender := smtpSender(t, s, nil)
	const workers, batch = 4, 10
	done := make(chan []error, workers)
	for w := range workers {
		msgs := make([]*mail.Message, batch)
		for i := range msgs {
			msgs[i] = rendered(t, fmt.Sprintf("msg_w%d_%d", w, i), fmt.Sprintf("u%d_%d@dental.example", w, i), "", canopy.TemplateWelcome)
		}
		go func() { done <- sender.Send(context.Background(), msgs, nil) }()
	}
	for range workers {
		for _, err := range <-done {
			require.NoError(t, err)
		}
	}
	require.Len(t, s.WaitFor(t, workers*batch, 10*time.Second), workers*batch)
}

// BenchmarkSMTPSend sends batches of 50 rendered emails to the in-process
// server, one connection per batch, and reports messages per second.
func BenchmarkSMTPSend(b *testing.B) {
	s := smtptest.Start(b)
	sender := smtpSender(b, s, nil)
	const batch = 50
	msgs := make([]*mail.Message, batch)
	for i := range msgs {
		msgs[i] = rendered(b, fmt.Sprintf("msg_bench%03d", i), fmt.Sprintf("user%d@dental.example", i), "Ada", canopy.TemplateWelcome)
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, err := range sender.Send(context.Background(), msgs, nil) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkRender measures rendering one email (subject, text, HTML), the
// other half of the worker's cost per message.
func BenchmarkRender(b *testing.B) {
	tmpl, err := mail.LoadTemplates("")
	require.NoError(b, err)
	d := sample(canopy.Brand{Name: "Acme", PrimaryColor: "#FF6600"})
	for b.Loop() {
		if _, _, _, err := tmpl.Render(as(canopy.TemplateWelcome, d)); err != nil {
			b.Fatal(err)
		}
	}
}

// normalizeCRLF undoes the CRLF line endings of the wire.
func normalizeCRLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
