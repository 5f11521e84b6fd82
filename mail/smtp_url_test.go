package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const secret = "pa55:w@rd/é"

func TestNewSMTPSenderParsesURL(t *testing.T) {
	t.Parallel()
	type want struct {
		host     string
		port     int
		mode     tlsMode
		user     string
		password string
		insecure bool
		describe string
	}
	tests := []struct {
		name string
		url  string
		want want
	}{
		{"smtp defaults to port 587 and opportunistic STARTTLS", "smtp://mail.example.com",
			want{host: "mail.example.com", port: 587, mode: tlsOpportunistic, describe: "smtp://mail.example.com:587 (STARTTLS if offered)"}},
		{"smtps defaults to port 465 and implicit TLS", "smtps://mail.example.com",
			want{host: "mail.example.com", port: 465, mode: tlsImplicit, describe: "smtps://mail.example.com:465 (implicit TLS)"}},
		{"explicit port", "smtp://mail.example.com:2525",
			want{host: "mail.example.com", port: 2525, mode: tlsOpportunistic, describe: "smtp://mail.example.com:2525 (STARTTLS if offered)"}},
		{"trailing slash is fine", "smtp://mail.example.com:25/",
			want{host: "mail.example.com", port: 25, mode: tlsOpportunistic, describe: "smtp://mail.example.com:25 (STARTTLS if offered)"}},
		{"tls=required", "smtp://mail.example.com?tls=required",
			want{host: "mail.example.com", port: 587, mode: tlsRequired, describe: "smtp://mail.example.com:587 (STARTTLS required)"}},
		{"tls=opportunistic", "smtp://mail.example.com?tls=opportunistic",
			want{host: "mail.example.com", port: 587, mode: tlsOpportunistic, describe: "smtp://mail.example.com:587 (STARTTLS if offered)"}},
		{"tls=none", "smtp://127.0.0.1:1025?tls=none",
			want{host: "127.0.0.1", port: 1025, mode: tlsNone, describe: "smtp://127.0.0.1:1025 (no TLS)"}},
		{"credentials, percent-encoded", "smtp://apikey:" + escapedSecret() + "@smtp.example.com",
			want{host: "smtp.example.com", port: 587, mode: tlsOpportunistic, user: "apikey", password: secret, describe: "smtp://apikey@smtp.example.com:587 (STARTTLS if offered)"}},
		{"user with an @, percent-encoded", "smtps://postmaster%40example.com:" + escapedSecret() + "@smtp.example.com",
			want{host: "smtp.example.com", port: 465, mode: tlsImplicit, user: "postmaster@example.com", password: secret, describe: "smtps://postmaster@example.com@smtp.example.com:465 (implicit TLS)"}},
		{"user without password", "smtp://relay@smtp.example.com",
			want{host: "smtp.example.com", port: 587, mode: tlsOpportunistic, user: "relay", describe: "smtp://relay@smtp.example.com:587 (STARTTLS if offered)"}},
		{"insecure_skip_verify is loud in Describe", "smtps://mail.example.com?insecure_skip_verify=true",
			want{host: "mail.example.com", port: 465, mode: tlsImplicit, insecure: true, describe: "smtps://mail.example.com:465 (implicit TLS, TLS certificate NOT verified)"}},
		{"insecure_skip_verify=false", "smtp://mail.example.com?insecure_skip_verify=false&tls=required",
			want{host: "mail.example.com", port: 587, mode: tlsRequired, describe: "smtp://mail.example.com:587 (STARTTLS required)"}},
		{"IPv6 host", "smtp://[::1]:2525?tls=none",
			want{host: "::1", port: 2525, mode: tlsNone, describe: "smtp://[::1]:2525 (no TLS)"}},
		{"scheme is case-insensitive", "SMTP://mail.example.com",
			want{host: "mail.example.com", port: 587, mode: tlsOpportunistic, describe: "smtp://mail.example.com:587 (STARTTLS if offered)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sender, err := NewSMTPSender(tt.url, time.Second)
			require.NoError(t, err)
			s := sender.(*smtpSender)
			got := want{host: s.host, port: s.port, mode: s.mode, user: s.user, password: s.password, insecure: s.insecure, describe: s.Describe()}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want.user != "", s.auth)
			require.NotContains(t, s.Describe(), "pa55")
		})
	}
}

func TestNewSMTPSenderRejectsBadURLs(t *testing.T) {
	t.Parallel()
	creds := "user:" + escapedSecret() + "@"
	tests := []struct {
		name, url, wantErr string
	}{
		{"empty", "", "missing scheme"},
		{"no scheme", "mail.example.com:25", "scheme"},
		{"http scheme", "http://" + creds + "mail.example.com", `unsupported scheme "http"`},
		{"no host", "smtp://" + creds + ":25", "missing host"},
		{"no slashes", "smtp:mail.example.com", "want scheme://host"},
		{"port not a number", "smtp://" + creds + "mail.example.com:abc", "port"},
		{"port zero", "smtp://" + creds + "mail.example.com:0", `port "0"`},
		{"port too large", "smtp://" + creds + "mail.example.com:70000", `port "70000"`},
		{"path", "smtp://" + creds + "mail.example.com/inbox", `unexpected path "/inbox"`},
		{"fragment", "smtp://" + creds + "mail.example.com#x", "fragment"},
		{"bad tls mode", "smtp://" + creds + "mail.example.com?tls=always", `tls="always"`},
		{"tls with smtps", "smtps://" + creds + "mail.example.com?tls=none", "smtp:// only"},
		{"tls twice", "smtp://" + creds + "mail.example.com?tls=none&tls=required", "given 2 times"},
		{"bad insecure flag", "smtp://" + creds + "mail.example.com?insecure_skip_verify=sure", "insecure_skip_verify"},
		{"unknown parameter", "smtp://" + creds + "mail.example.com?starttls=1", `unknown parameter "starttls"`},
		{"empty user", "smtp://:" + escapedSecret() + "@mail.example.com", "without a user name"},
		{"bad escape in password", "smtp://user:pa55%zzw0rd@mail.example.com", "%-escape"},
		{"raw space in host", "smtp://user:pa55w0rd@mail example.com", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSMTPSender(tt.url, time.Second)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "pa55", "the password never appears in errors")
			require.NotContains(t, err.Error(), "w0rd")
			require.NotContains(t, err.Error(), "zz")
		})
	}
}

func escapedSecret() string {
	// url.UserPassword escaping, spelled out so the test does not depend
	// on the code under test.
	return strings.NewReplacer(":", "%3A", "@", "%40", "/", "%2F", "é", "%C3%A9").Replace(secret)
}
