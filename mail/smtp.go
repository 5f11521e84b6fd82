package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultSMTPTimeout bounds dialing and each SMTP command when
// NewSMTPSender is given no timeout.
const DefaultSMTPTimeout = 15 * time.Second

// tlsMode is how an SMTP connection is secured.
type tlsMode int

const (
	tlsOpportunistic tlsMode = iota // STARTTLS when the server offers it
	tlsRequired                     // STARTTLS or fail
	tlsNone                         // never TLS
	tlsImplicit                     // smtps: TLS from the first byte
)

func (m tlsMode) String() string {
	switch m {
	case tlsRequired:
		return "STARTTLS required"
	case tlsNone:
		return "no TLS"
	case tlsImplicit:
		return "implicit TLS"
	default:
		return "STARTTLS if offered"
	}
}

// smtpSender delivers over SMTP, one connection per Send.
type smtpSender struct {
	host     string
	port     int
	mode     tlsMode
	user     string
	password string
	auth     bool
	insecure bool
	timeout  time.Duration
	now      func() time.Time // the Date header; replaced in tests
}

// NewSMTPSender parses an SMTP URL and returns a Sender:
//
//	smtp://[user:pass@]host[:port]   STARTTLS (default port 587)
//	smtps://[user:pass@]host[:port]  implicit TLS (default port 465)
//
// Query parameters:
//
//	tls=opportunistic|required|none  smtp:// only. opportunistic (the default)
//	                                 upgrades with STARTTLS when the server
//	                                 offers it; required fails when it does
//	                                 not; none never upgrades.
//	insecure_skip_verify=true        DANGER: accepts any TLS certificate, so
//	                                 anyone on the path can read the mail and
//	                                 the password. For tests and local
//	                                 development only; never in production.
//
// With user info in the URL the sender authenticates (AUTH), choosing the
// strongest mechanism the server offers (go-mail's auto-discovery: SCRAM,
// then PLAIN or LOGIN, which it only uses over TLS). With tls=none the
// preferred mechanisms are SCRAM, then PLAIN and LOGIN, and go-mail still
// refuses to send PLAIN or LOGIN credentials in clear text to anything but
// localhost. Special characters in the user or password must be
// percent-encoded (user%40example.com).
//
// timeout bounds the dial and each SMTP command (DefaultSMTPTimeout when
// zero or negative). Errors name what is wrong with the URL and never echo
// the password.
func NewSMTPSender(rawURL string, timeout time.Duration) (Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP URL: %s", urlParseProblem(err))
	}
	s := &smtpSender{timeout: timeout, now: time.Now}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	switch u.Scheme {
	case "smtp":
		s.port = gomail.DefaultPortTLS
	case "smtps":
		s.port = gomail.DefaultPortSSL
		s.mode = tlsImplicit
	case "":
		return nil, errors.New("mail: SMTP URL: missing scheme, want smtp:// or smtps://")
	default:
		return nil, fmt.Errorf("mail: SMTP URL: unsupported scheme %q, want smtp or smtps", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, errors.New("mail: SMTP URL: want scheme://host, got no // after the scheme")
	}
	if s.host = u.Hostname(); s.host == "" {
		return nil, errors.New("mail: SMTP URL: missing host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mail: SMTP URL: port %q is not a number from 1 to 65535", p)
		}
		s.port = n
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("mail: SMTP URL: unexpected path %q", u.Path)
	}
	if u.Fragment != "" {
		return nil, errors.New("mail: SMTP URL: unexpected #fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP URL: query: %s", urlParseProblem(err))
	}
	for key, values := range q {
		if len(values) != 1 {
			return nil, fmt.Errorf("mail: SMTP URL: parameter %s given %d times", key, len(values))
		}
		v := values[0]
		switch key {
		case "tls":
			if s.mode == tlsImplicit {
				return nil, errors.New("mail: SMTP URL: tls= applies to smtp:// only; smtps:// is always TLS")
			}
			switch v {
			case "opportunistic":
				s.mode = tlsOpportunistic
			case "required":
				s.mode = tlsRequired
			case "none":
				s.mode = tlsNone
			default:
				return nil, fmt.Errorf("mail: SMTP URL: tls=%q, want required, opportunistic or none", v)
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("mail: SMTP URL: insecure_skip_verify=%q, want true or false", v)
			}
			s.insecure = b
		default:
			return nil, fmt.Errorf("mail: SMTP URL: unknown parameter %q (known: tls, insecure_skip_verify)", key)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
		if s.user == "" {
			return nil, errors.New("mail: SMTP URL: user info without a user name")
		}
		s.auth = true
	}
	// Build one client now so that an option go-mail rejects fails at
	// start, not at the first email.
	if _, err := s.client(); err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return s, nil
}

// urlParseProblem describes a parse error without the URL itself, which
// url.Error would quote, password included.
func urlParseProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var esc url.EscapeError
	if errors.As(err, &esc) {
		// The bad escape may be part of the password: do not quote it.
		return "invalid %-escape (percent-encode special characters in user and password)"
	}
	return err.Error()
}

// Describe says where mail goes, e.g. "smtp://user@host:587 (STARTTLS if
// offered)". It never shows the password.
func (s *smtpSender) Describe() string {
	scheme := "smtp"
	if s.mode == tlsImplicit {
		scheme = "smtps"
	}
	user := ""
	if s.auth {
		user = s.user + "@"
	}
	d := fmt.Sprintf("%s://%s%s (%s", scheme, user, net.JoinHostPort(s.host, strconv.Itoa(s.port)), s.mode)
	if s.insecure && s.mode != tlsNone {
		d += ", TLS certificate NOT verified"
	}
	return d + ")"
}

// client returns a go-mail client for one Send. A fresh client per Send keeps
// concurrent Sends apart: go-mail's Client changes its own fields while
// choosing an AUTH mechanism.
func (s *smtpSender) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(&tls.Config{
			ServerName:         s.host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: s.insecure, // opt-in, documented as tests/dev only
		}),
		// A NOOP before and a RSET after every message would cost two round
		// trips each; Send does its own RSET after a failed message instead.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch s.mode {
	case tlsImplicit:
		opts = append(opts, gomail.WithSSL())
	case tlsRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case tlsNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.auth {
		opts = append(opts, gomail.WithUsername(s.user), gomail.WithPassword(s.password))
		if s.mode == tlsNone {
			// Auto-discovery on a clear-text connection never picks PLAIN or
			// LOGIN, not even for a relay on localhost. This list lets it;
			// go-mail's PLAIN and LOGIN still refuse unless the peer is
			// localhost.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		} else {
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover))
		}
	}
	opts = append(opts, gomail.WithPort(s.port)) // last: WithSSL and friends may set a port too
	return gomail.NewClient(s.host, opts...)
}

// Send delivers msgs over one connection, in order. A message that cannot be
// built (bad address, bad ID) fails alone; a dial or authentication failure
// fails every message; after a message is refused the transaction is reset
// with RSET, and if even that fails the connection is taken as lost and
// every message after it fails without being tried. ctx is checked before
// dialing and between messages; a command in flight is bounded by the
// timeout, not by ctx. Each outcome is reported as soon as the server
// has answered, before the next message is sent.
func (s *smtpSender) Send(ctx context.Context, msgs []*Message, report func(i int, err error)) []error {
	errs := make([]error, len(msgs))
	done := func(i int, err error) {
		errs[i] = err
		if report != nil {
			report(i, err)
		}
	}
	built := make([]*gomail.Msg, len(msgs))
	now := s.now()
	pending := 0
	for i, m := range msgs {
		g, err := build(m, now)
		if err != nil {
			done(i, err)
			continue
		}
		built[i] = g
		pending++
	}
	if pending == 0 {
		return errs
	}
	failRest := func(from int, err error) {
		for i := from; i < len(msgs); i++ {
			if built[i] != nil {
				done(i, fmt.Errorf("mail: message %s not sent: %w", msgs[i].ID, err))
			}
		}
	}
	if err := ctx.Err(); err != nil {
		failRest(0, err)
		return errs
	}
	c, err := s.client()
	if err != nil {
		failRest(0, err)
		return errs
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		failRest(0, fmt.Errorf("connect to %s: %w", net.JoinHostPort(s.host, strconv.Itoa(s.port)), err))
		return errs
	}
	defer func() {
		if err := conn.Quit(); err != nil {
			_ = conn.Close() // Quit leaves the socket open when QUIT fails
		}
	}()
	for i, g := range built {
		if g == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			failRest(i, err)
			return errs
		}
		if err := c.SendWithSMTPClient(conn, g); err != nil {
			done(i, fmt.Errorf("mail: send %s: %w", msgs[i].ID, err))
			if rerr := conn.Reset(); rerr != nil {
				failRest(i+1, fmt.Errorf("connection lost: %w", err))
				return errs
			}
			continue
		}
		done(i, nil)
	}
	return errs
}
