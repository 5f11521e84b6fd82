package testfactory

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// StrongPassword passes the password policy.
const StrongPassword = "violet tractor hums quietly 4821"

// Emails delivers every due email the way the worker does up to rendering
// (claim, prepare, mark sent) and returns what each would say. Messages
// that can never be sent are failed, as the worker fails them.
func (b *Bundle) Emails(t testing.TB) []*service.PreparedEmail {
	t.Helper()
	ctx := context.Background()
	var out []*service.PreparedEmail
	for {
		msgs, err := b.Svc.ClaimOutbox(ctx, 100)
		if err != nil {
			t.Fatalf("claim outbox: %v", err)
		}
		if len(msgs) == 0 {
			return out
		}
		contents, errs := b.Svc.PrepareEmails(ctx, msgs)
		var sent []string
		for i, c := range contents {
			var permanent *service.PermanentError
			if errors.As(errs[i], &permanent) {
				if err := b.Svc.OutboxFailed(ctx, msgs[i], errs[i]); err != nil {
					t.Fatalf("fail %s: %v", msgs[i].ID, err)
				}
				continue
			}
			if errs[i] != nil {
				t.Fatalf("prepare %s: %v", msgs[i].ID, errs[i])
			}
			out = append(out, c)
			sent = append(sent, msgs[i].ID)
			if u, err := url.Parse(c.Content.Common().Link); err == nil && u.Query().Get("token") != "" {
				b.mu.Lock()
				b.unused[c.Content.Common().Email] = u.Query().Get("token") // for SignIn
				b.mu.Unlock()
			}
		}
		if err := b.Svc.OutboxSent(ctx, sent); err != nil {
			t.Fatalf("mark sent: %v", err)
		}
	}
}

// Links delivers every due email and returns each recipient's newest
// one-time link token (set-password, reset, or an invitation's sign-up).
func (b *Bundle) Links(t testing.TB) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	for _, e := range b.Emails(t) {
		c := e.Content.Common()
		u, err := url.Parse(c.Link)
		if err != nil {
			t.Fatalf("link %q: %v", c.Link, err)
		}
		if tok := u.Query().Get("token"); tok != "" {
			tokens[c.Email] = tok
		}
	}
	return tokens
}

// SignIn sets the password of the user with the given email from its
// emailed link (when it has none yet) and logs in, returning the session
// token.
func (b *Bundle) SignIn(t testing.TB, email string) string {
	t.Helper()
	ctx := context.Background()
	b.Emails(t) // remembers the links it delivers
	b.mu.Lock()
	tok, ok := b.unused[email]
	delete(b.unused, email)
	b.mu.Unlock()
	if ok {
		if _, err := b.Svc.SetPassword(ctx, service.SetPasswordInput{Token: tok, Password: StrongPassword}, service.RequestInfo{}); err != nil {
			t.Fatalf("set password of %s: %v", email, err)
		}
	}
	res, err := b.Svc.Login(ctx, service.LoginInput{Login: email, Password: StrongPassword}, service.RequestInfo{})
	if err != nil {
		t.Fatalf("log in %s: %v", email, err)
	}
	return res.Token
}

// User adds a user to an account and returns it.
func (b *Bundle) User(t testing.TB, accountID string, role canopy.UserRole) *canopy.User {
	t.Helper()
	b.mu.Lock()
	b.n++
	n := b.n
	b.mu.Unlock()
	u, err := b.Svc.CreateUser(context.Background(), b.As(t, accountID), accountID, service.CreateUserInput{
		Email: "user" + itoa(n) + "@example.com", Name: "User " + itoa(n), Role: role,
	})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// Master returns the master user of an account.
func (b *Bundle) Master(t testing.TB, accountID string) *canopy.User {
	t.Helper()
	page, err := b.Svc.ListUsers(context.Background(), b.As(t, accountID), accountID, service.PageRequest{Limit: service.MaxPageLimit})
	if err != nil {
		t.Fatalf("list users of %s: %v", accountID, err)
	}
	for _, u := range page.Data {
		if u.Master {
			return u
		}
	}
	t.Fatalf("account %s has no master user", accountID)
	return nil
}

// Activate has the master user of each account set its password from its
// welcome link, so that it is a verified, active admin — one who may give
// the account's consent and is told what admins are told.
func (b *Bundle) Activate(t testing.TB, accountIDs ...string) {
	t.Helper()
	for _, id := range accountIDs {
		b.SignIn(t, b.Master(t, id).Email)
	}
}

// AsSession returns a caller signed in with a session token, acting as id
// ("" for the session's own account).
func (b *Bundle) AsSession(t testing.TB, token, id string) service.Caller {
	t.Helper()
	return b.AsKey(t, token, id)
}
