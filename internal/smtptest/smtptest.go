// Package smtptest runs an in-process SMTP server for tests: it speaks the
// real protocol (github.com/emersion/go-smtp) on 127.0.0.1, keeps what it
// receives, parses each message into its subject and text and HTML bodies,
// and can be told to refuse messages or to require authentication.
package smtptest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is an SMTP server listening on 127.0.0.1. It is safe for concurrent
// use.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	addr string
	user string // required AUTH PLAIN user; "" means no AUTH
	pass string

	mu       sync.Mutex
	msgs     []Received
	arrived  chan struct{} // closed and replaced whenever a message arrives
	reject   int
	attempts int
	badRcpt  map[string]bool
	delay    time.Duration // before each DATA is answered
}

// Received is one message the server accepted.
type Received struct {
	From      string   // the envelope sender (MAIL FROM)
	To        []string // the envelope recipients (RCPT TO)
	Data      []byte   // the raw message
	MessageID string   // the Message-ID header, with its angle brackets
	Subject   string   // decoded
	Text      string   // the decoded text/plain body
	HTML      string   // the decoded text/html body
	// ParseErr is why the message could not be parsed into the fields
	// above; Data is kept either way.
	ParseErr error
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and refuse MAIL FROM until a
// client has authenticated as user with pass. Auth is allowed over plain
// TCP, which is what a test on loopback needs.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithDelay makes the server take d to answer each message's DATA, like a
// slow relay: a worker's round then lasts long enough to be cut.
func WithDelay(d time.Duration) Option {
	return func(s *Server) { s.delay = d }
}

// Start listens on 127.0.0.1:0 and serves until the test ends (or Close).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	s.srv.Domain = "smtptest.local"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln) // returns when closed
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s
}

// Close stops the server: the listener and every open connection. Later
// connections are refused. It is safe to call more than once.
func (s *Server) Close() {
	// Closing the listener ourselves too covers a Close that comes before
	// Serve has registered it with the go-smtp server.
	_ = s.ln.Close()
	_ = s.srv.Close() // ErrServerClosed on the second call
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL returns an smtp:// URL without TLS for mail.NewSMTPSender. Add user
// info to it for a server started WithAuth.
func (s *Server) URL() string { return "smtp://" + s.addr + "?tls=none" }

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor waits until at least n messages have arrived and returns them. It
// fails the test when they have not arrived within timeout. It wakes on each
// arrival, so a generous timeout costs nothing when things work.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]Received(nil), s.msgs...)
			s.mu.Unlock()
			return msgs
		}
		arrived, got := s.arrived, len(s.msgs)
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("smtptest: %d of %d messages arrived within %s", got, n, timeout)
			return nil
		}
	}
}

// Reject makes the next n DATA commands fail with a 451 temporary failure,
// after the message was transferred: the client sees its message refused
// at the very end, like a server whose disk is full.
func (s *Server) Reject(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = n
}

// RejectRecipient makes RCPT TO for addr fail with a 550 permanent failure
// ("no such mailbox") from now on.
func (s *Server) RejectRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.badRcpt == nil {
		s.badRcpt = make(map[string]bool)
	}
	s.badRcpt[strings.ToLower(addr)] = true
}

// Attempts returns the number of DATA transfers seen, accepted or
// rejected.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// errRejected is what a rejected DATA gets.
var errRejected = &smtp.SMTPError{
	Code:         451,
	EnhancedCode: smtp.EnhancedCode{4, 3, 0},
	Message:      "smtptest: temporary failure (injected)",
}

// errNoMailbox is what a rejected recipient gets.
var errNoMailbox = &smtp.SMTPError{
	Code:         550,
	EnhancedCode: smtp.EnhancedCode{5, 1, 1},
	Message:      "smtptest: no such mailbox (injected)",
}

// session is one SMTP connection.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return errors.New("identity differs from user")
		}
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	bad := ss.s.badRcpt[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if bad {
		return errNoMailbox
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	time.Sleep(s.delay)
	s.mu.Lock()
	s.attempts++
	if s.reject > 0 {
		s.reject--
		s.mu.Unlock()
		return errRejected
	}
	s.mu.Unlock()
	m := Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data}
	if err := parse(&m); err != nil {
		m.ParseErr = fmt.Errorf("smtptest: %w", err)
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// String is for test failure messages.
func (r Received) String() string {
	return fmt.Sprintf("from %s to %s, %s %q", r.From, strings.Join(r.To, ","), r.MessageID, r.Subject)
}
