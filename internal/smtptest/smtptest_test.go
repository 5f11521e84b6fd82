package smtptest_test

import (
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/internal/smtptest"
)

// raw is a multipart/alternative message with a quoted-printable text part,
// a base64 HTML part and an RFC 2047 subject, written by hand so that the
// parser is tested independently of go-mail.
const raw = "From: Canopy <noreply@canopy.example>\r\n" +
	"To: ada@example.com\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n" +
	"Message-ID: <msg_1@canopy.example>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hallo K=C3=B6ln, a long line that is soft=\r\n" +
	" broken.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+SGFsbG8gS8O2bG48L3A+\r\n" +
	"--b1--\r\n"

func send(t *testing.T, s *smtptest.Server, auth smtp.Auth) error {
	t.Helper()
	return smtp.SendMail(s.Addr(), auth, "noreply@canopy.example", []string{"ada@example.com", "bo@example.com"}, []byte(raw))
}

func TestServerParsesMultipartAlternative(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	require.NoError(t, send(t, s, nil))

	got := s.WaitFor(t, 1, 5*time.Second)
	require.Len(t, got, 1)
	m := got[0]
	require.NoError(t, m.ParseErr)
	require.Equal(t, "noreply@canopy.example", m.From)
	require.Equal(t, []string{"ada@example.com", "bo@example.com"}, m.To)
	require.Equal(t, "<msg_1@canopy.example>", m.MessageID)
	require.Equal(t, "Grüße aus Köln", m.Subject)
	require.Equal(t, "Hallo Köln, a long line that is soft broken.", strings.TrimSpace(m.Text))
	require.Equal(t, "<p>Hallo Köln</p>", m.HTML)
	require.Contains(t, string(m.Data), "Content-Type: multipart/alternative")
	require.Equal(t, 1, s.Attempts())
	require.Equal(t, "smtp://"+s.Addr()+"?tls=none", s.URL())
}

func TestRejectFailsTheNextDataCommandsWith451(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	s.Reject(2)

	for range 2 {
		err := send(t, s, nil)
		var perr *textproto.Error
		require.ErrorAs(t, err, &perr)
		require.Equal(t, 451, perr.Code)
	}
	require.NoError(t, send(t, s, nil))
	require.Equal(t, 3, s.Attempts())
	require.Len(t, s.WaitFor(t, 1, 5*time.Second), 1)
	require.Len(t, s.Messages(), 1, "rejected messages are not kept")
}

func TestRejectRecipientFailsRcptWith550(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	s.RejectRecipient("BO@example.com")

	err := send(t, s, nil)
	var perr *textproto.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, 550, perr.Code)
	require.Zero(t, s.Attempts(), "no DATA after a refused recipient")
}

func TestWithAuthRequiresTheRightCredentials(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t, smtptest.WithAuth("relay", "s3cret"))

	err := send(t, s, nil)
	require.ErrorContains(t, err, "authenticate", "MAIL without AUTH is refused")

	err = send(t, s, smtp.PlainAuth("", "relay", "wrong", "127.0.0.1"))
	require.ErrorContains(t, err, "535")

	require.NoError(t, send(t, s, smtp.PlainAuth("", "relay", "s3cret", "127.0.0.1")))
	require.Len(t, s.WaitFor(t, 1, 5*time.Second), 1)
	require.Equal(t, 1, s.Attempts())
}

func TestWaitForWakesOnArrival(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	go func() {
		for range 3 {
			_ = send(t, s, nil)
		}
	}()
	require.Len(t, s.WaitFor(t, 3, 10*time.Second), 3)
}

func TestClosedServerRefusesConnections(t *testing.T) {
	t.Parallel()
	s := smtptest.Start(t)
	s.Close()
	s.Close() // idempotent
	require.Error(t, send(t, s, nil))
	require.Zero(t, s.Attempts())
}

func TestParseTextOnlyMessage(t *testing.T) {
	t.Parallel()
	r, err := smtptest.Parse([]byte("Subject: plain\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n"))
	require.NoError(t, err)
	require.Equal(t, "plain", r.Subject)
	require.Equal(t, "<a@b>", r.MessageID)
	require.Equal(t, "body\r\n", r.Text)
	require.Empty(t, r.HTML)
}
