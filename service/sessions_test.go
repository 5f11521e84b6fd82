package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

var noInfo = service.RequestInfo{}

func TestSetPasswordLinks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		master := masterOf(t, b, acc.ID)
		links := b.Links(t)
		tok := links[master.Email]
		require.NotEmpty(t, tok, "the welcome email carries a link")
		require.True(t, strings.HasPrefix(tok, canopy.TokenPrefix))

		set := func(token, pw string) error {
			_, err := b.Svc.SetPassword(ctx, service.SetPasswordInput{Token: token, Password: pw}, noInfo)
			return err
		}
		cases := []struct {
			name  string
			token string
			pw    string
			code  string
		}{
			{"a wrong token", canopy.TokenPrefix + "nope", testfactory.StrongPassword, canopy.CodeInvalidToken},
			{"not a token at all", "hello", testfactory.StrongPassword, canopy.CodeInvalidToken},
			{"a password that is too short", tok, "short pw 1", canopy.CodeValidation},
			{"a common password", tok, "password1234", canopy.CodeValidation},
			{"a password holding the email", tok, master.Email + "xyz", canopy.CodeValidation},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := set(tc.token, tc.pw)
				require.Equal(t, tc.code, canopy.ErrorCode(err), "%v", err)
			})
		}
		t.Run("the link works exactly once and activates the user", func(t *testing.T) {
			require.NoError(t, set(tok, testfactory.StrongPassword))
			u, err := b.Svc.GetUser(ctx, b.As(t, acc.ID), acc.ID, master.ID)
			require.NoError(t, err)
			require.Equal(t, canopy.UserActive, u.Status)
			require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(set(tok, "another strong pass 99")))
		})
		t.Run("a link expires", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserMember)
			old := b.Links(t)[u.Email]
			b.Clock.Advance(72*time.Hour + time.Second)
			require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(set(old, testfactory.StrongPassword)))
		})
		t.Run("a resent invitation gives a new link; using one ends all", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserMember)
			first := b.Links(t)[u.Email]
			_, err := b.Svc.ResendInvitation(ctx, b.As(t, acc.ID), acc.ID, u.ID)
			require.NoError(t, err)
			second := b.Links(t)[u.Email]
			require.NotEqual(t, first, second)
			require.NoError(t, set(first, testfactory.StrongPassword), "an older link still works until one is used")
			require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(set(second, testfactory.StrongPassword)))
			_, err = b.Svc.ResendInvitation(ctx, b.As(t, acc.ID), acc.ID, u.ID)
			require.Equal(t, canopy.CodeInvalidState, canopy.ErrorCode(err), "an active user is not invited any more")
		})
		t.Run("two redemptions at once: exactly one wins", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserMember)
			link := b.Links(t)[u.Email]
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = set(link, testfactory.StrongPassword) }()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					require.Equal(t, canopy.CodeInvalidToken, canopy.ErrorCode(err))
				}
			}
			require.Equal(t, 1, ok)
		})
		t.Run("no token is stored in the clear", func(t *testing.T) {
			require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
				_, err := tx.GetUserTokenByHash(ctx, tok)
				require.ErrorIs(t, err, store.ErrNotFound, "looked up by the raw token, nothing is found")
				_, err = tx.GetUserTokenByHash(ctx, canopy.HashSecret(tok))
				require.NoError(t, err)
				return nil
			}))
		})
	})
}

func masterOf(t *testing.T, b *testfactory.Bundle, accountID string) *canopy.User {
	t.Helper()
	page, err := b.Svc.ListUsers(context.Background(), b.As(t, accountID), accountID, service.PageRequest{})
	require.NoError(t, err)
	for _, u := range page.Data {
		if u.Master {
			return u
		}
	}
	t.Fatalf("account %s has no master user", accountID)
	return nil
}

func TestLogin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db, testfactory.Options{LoginSlowAfter: 3, LoginLockAfter: 5})
		acc := b.Child(t, b.Root.ID)
		master := masterOf(t, b, acc.ID)
		session := b.SignIn(t, master.Email)
		login := func(l, pw string) (*service.LoginResult, error) {
			return b.Svc.Login(ctx, service.LoginInput{Login: l, Password: pw}, noInfo)
		}

		t.Run("by email, any case, or by username", func(t *testing.T) {
			name := "master-" + strings.ToLower(acc.ID[len(acc.ID)-6:])
			_, err := b.Svc.UpdateUser(ctx, b.AsSession(t, session, ""), acc.ID, master.ID, service.UserPatch{Username: &name})
			require.NoError(t, err, "a person chooses their own username")
			for _, l := range []string{master.Email, strings.ToUpper(master.Email), name, strings.ToUpper(name)} {
				res, err := login(l, testfactory.StrongPassword)
				require.NoError(t, err, l)
				require.Equal(t, master.ID, res.User.ID)
				require.True(t, strings.HasPrefix(res.Token, canopy.SessionPrefix))
				require.NotNil(t, res.User.LastLoginAt)
			}
		})
		t.Run("a session authenticates and acts like the account's key", func(t *testing.T) {
			p, err := b.Svc.Authenticate(ctx, session)
			require.NoError(t, err)
			require.Equal(t, canopy.Actor{Type: "user", ID: master.ID}, p.Actor)
			child := b.Child(t, acc.ID)
			_, err = b.Svc.Act(ctx, p, child.ID)
			require.NoError(t, err, "an admin acts in descendants")
			_, err = b.Svc.Act(ctx, p, b.Root.ID)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "never in an ancestor")
		})
		t.Run("wrong password and unknown login answer alike", func(t *testing.T) {
			_, e1 := login(master.Email, "not the password at all")
			_, e2 := login("nobody@nowhere.example", "not the password at all")
			require.Equal(t, canopy.CodeInvalidCredentials, canopy.ErrorCode(e1))
			require.Equal(t, e1.Error(), e2.Error())
		})
		t.Run("an invited user without a password cannot log in", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserMember)
			_, err := login(u.Email, testfactory.StrongPassword)
			require.Equal(t, canopy.CodeInvalidCredentials, canopy.ErrorCode(err))
		})
		t.Run("failures slow down, then lock, whether or not the login exists", func(t *testing.T) {
			fresh := b.User(t, acc.ID, canopy.UserMember)
			b.SignIn(t, fresh.Email)
			var answers [2][]string
			for i, l := range []string{"ghost@nowhere.example", strings.ToUpper(fresh.Email)} {
				for len(answers[i]) == 0 || answers[i][len(answers[i])-1] != canopy.CodeLoginLocked {
					require.Less(t, len(answers[i]), 20, "never locked: %v", answers[i])
					_, err := login(l, "wrong wrong wrong")
					answers[i] = append(answers[i], canopy.ErrorCode(err))
					b.Clock.Advance(10 * time.Second) // past any slow-down, never past the lock
				}
				// Locked: even the right password is refused, with a retry time.
				_, err := login(l, testfactory.StrongPassword)
				require.Equal(t, canopy.CodeLoginLocked, canopy.ErrorCode(err))
				var e *canopy.Error
				require.ErrorAs(t, err, &e)
				require.Positive(t, e.RetryAfter)
			}
			require.Equal(t, answers[0], answers[1], "an unknown login and a real one go through the same answers")
			require.Equal(t, canopy.CodeInvalidCredentials, answers[0][0])
			b.Clock.Advance(16 * time.Minute)
			_, err := login(fresh.Email, testfactory.StrongPassword)
			require.NoError(t, err, "the lock ends")
		})
		t.Run("quick retries after failures are throttled", func(t *testing.T) {
			l := "hammer@nowhere.example"
			var last error
			for range 4 {
				_, last = login(l, "wrong wrong wrong")
			}
			require.Equal(t, canopy.CodeLoginThrottled, canopy.ErrorCode(last))
			b.Clock.Advance(time.Minute)
		})
		t.Run("logout, idle timeout and expiry end sessions", func(t *testing.T) {
			res, err := login(master.Email, testfactory.StrongPassword)
			require.NoError(t, err)
			p, err := b.Svc.Authenticate(ctx, res.Token)
			require.NoError(t, err)
			require.NoError(t, b.Svc.Logout(ctx, service.Caller{Principal: p}))
			_, err = b.Svc.Authenticate(ctx, res.Token)
			require.Equal(t, canopy.KindUnauthorized, canopy.ErrorKind(err))

			res, err = login(master.Email, testfactory.StrongPassword)
			require.NoError(t, err)
			b.Clock.Advance(59 * time.Minute)
			_, err = b.Svc.Authenticate(ctx, res.Token)
			require.NoError(t, err, "used within the idle timeout")
			b.Clock.Advance(61 * time.Minute)
			_, err = b.Svc.Authenticate(ctx, res.Token)
			require.Equal(t, canopy.KindUnauthorized, canopy.ErrorKind(err), "idle for over an hour")

			res, err = login(master.Email, testfactory.StrongPassword)
			require.NoError(t, err)
			for range 14 {
				b.Clock.Advance(55 * time.Minute)
				_, err = b.Svc.Authenticate(ctx, res.Token)
			}
			require.Equal(t, canopy.KindUnauthorized, canopy.ErrorKind(err), "past the 12-hour life")
		})
		t.Run("a disabled user cannot log in and its sessions act there no more", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserAdmin)
			tok := b.SignIn(t, u.Email)
			_, err := b.Svc.SetUserEnabled(ctx, b.As(t, acc.ID), acc.ID, u.ID, false)
			require.NoError(t, err)
			p, err := b.Svc.Authenticate(ctx, tok)
			require.NoError(t, err, "the session is the person's, who may belong elsewhere")
			for _, id := range []string{"", acc.ID} {
				_, err = b.Svc.NewCaller(ctx, p, id, noInfo)
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a disabled membership acts nowhere")
			}
			_, err = login(u.Email, testfactory.StrongPassword)
			require.Equal(t, canopy.CodeUserDisabled, canopy.ErrorCode(err))
		})
	})
}

func TestPasswordResetTellsNobodyWhoExists(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		master := masterOf(t, b, acc.ID)
		b.SignIn(t, master.Email)
		before := b.Links(t)
		require.Empty(t, before)

		require.NoError(t, b.Svc.RequestPasswordReset(ctx, "nobody@nowhere.example", noInfo))
		require.NoError(t, b.Svc.RequestPasswordReset(ctx, strings.ToUpper(master.Email), noInfo))
		links := b.Links(t)
		require.Len(t, links, 1, "only the real user gets an email")
		tok := links[master.Email]
		_, err := b.Svc.SetPassword(ctx, service.SetPasswordInput{Token: tok, Password: "a brand new passphrase 7"}, noInfo)
		require.NoError(t, err)
		_, err = b.Svc.Login(ctx, service.LoginInput{Login: master.Email, Password: "a brand new passphrase 7"}, noInfo)
		require.NoError(t, err)
		require.Equal(t, canopy.CodeValidation, canopy.ErrorCode(b.Svc.RequestPasswordReset(ctx, "not an email", noInfo)))
	})
}

// TestLoginUpgradesOldHashes: a hash made with weaker parameters is
// replaced by one with the current parameters at the next sign-in.
func TestLoginUpgradesOldHashes(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	b := testfactory.New(t, db)
	acc := b.Child(t, b.Root.ID)
	master := masterOf(t, b, acc.ID)
	b.SignIn(t, master.Email)
	hashOf := func() string {
		var h string
		require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
			u, err := tx.GetUser(ctx, master.ID)
			if err == nil {
				h = u.Person.PasswordHash
			}
			return err
		}))
		return h
	}
	old := hashOf()
	require.Contains(t, old, "m=64,t=1,p=1", "made with the suite's cheap parameters")

	stronger := testfactory.CheapPasswords
	stronger.Memory, stronger.Time = 128, 2
	svc := service.New(db, service.Config{PasswordParams: stronger})
	_, err := svc.Login(ctx, service.LoginInput{Login: master.Email, Password: testfactory.StrongPassword}, noInfo)
	require.NoError(t, err)
	require.Contains(t, hashOf(), "m=128,t=2,p=1")
	_, err = svc.Login(ctx, service.LoginInput{Login: master.Email, Password: testfactory.StrongPassword}, noInfo)
	require.NoError(t, err, "the upgraded hash verifies")
}
