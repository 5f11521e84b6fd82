package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email ready to send.
type Message struct {
	// ID is the outbox row id (e.g. msg_01...). It becomes the Message-ID
	// <ID@domain of From>, stable across retries, so that a receiver that
	// got an earlier attempt after all can drop the duplicate, and it names
	// the file of the file sender. Letters, digits, '.', '_' and '-' only.
	ID      string
	From    string // "Name <addr>" or addr
	To      string // the address alone
	ToName  string // optional display name of the recipient
	Subject string
	Text    string
	HTML    string // optional; without it the message is text/plain only
}

// Sender delivers messages.
type Sender interface {
	// Send delivers a batch (over one connection where the transport has
	// connections) and returns one error per message, in order, nil for
	// each one delivered. A connection failure fails every message not yet
	// sent; it never panics. When report is not nil it is called with each
	// message's index and outcome as soon as that is known — before the
	// next message is sent — so a caller can record it at once; once ctx
	// ends, the messages not yet sent fail with its error.
	Send(ctx context.Context, msgs []*Message, report func(i int, err error)) []error
	// Describe says where mail goes, for the log ("smtp://host:587
	// (STARTTLS if offered)", "files in ./outbox"). It never shows a
	// password.
	Describe() string
}

// IsPermanent reports whether err, one of the errors Send returned, is a
// permanent rejection of this message by the server: an SMTP 5xx reply to
// RCPT (such as "550 no such mailbox") or to DATA (such as "554 content
// rejected"). Retrying the same message will not help. Everything else is
// not permanent: connection failures, timeouts, 4xx replies, and failures
// of AUTH or MAIL FROM, which concern the sender's configuration rather
// than the message and are for the operator to fix.
func IsPermanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}

// validID is what an ID may hold: it goes into a header and a file name.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// build turns m into a go-mail message: multipart/alternative with the text
// and HTML parts, quoted-printable UTF-8 bodies, RFC 2047 encoded subject
// and names, and the stable Message-ID.
func build(m *Message, now time.Time) (*gomail.Msg, error) {
	if m == nil {
		return nil, errors.New("mail: nil message")
	}
	if !validID.MatchString(m.ID) {
		return nil, fmt.Errorf("mail: message id %q: want letters, digits, '.', '_' or '-'", m.ID)
	}
	from, err := netmail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("mail: message %s: From %q: %w", m.ID, m.From, err)
	}
	at := strings.LastIndexByte(from.Address, '@')
	if at < 0 || at == len(from.Address)-1 {
		return nil, fmt.Errorf("mail: message %s: From %q has no domain", m.ID, m.From)
	}
	g := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	g.FromMailAddress(from)
	to := &netmail.Address{Name: singleLine(m.ToName), Address: strings.TrimSpace(m.To)}
	if _, err := netmail.ParseAddress(to.Address); err != nil || strings.ContainsAny(to.Address, "<>") {
		return nil, fmt.Errorf("mail: message %s: invalid To address", m.ID)
	}
	g.ToMailAddress(to)
	g.Subject(singleLine(m.Subject))
	g.SetMessageIDWithValue(m.ID + "@" + from.Address[at+1:])
	g.SetDateWithValue(now)
	// RFC 3834: tells auto-responders (out-of-office) not to answer.
	g.SetGenHeader("Auto-Submitted", "auto-generated")
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return g, nil
}
