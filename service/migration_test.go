package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
)

// TestOldUsersKeepWorkingAfterThePeopleMigration: a database written before
// people and memberships existed (migration 6) is upgraded, and every old
// key, session, password and outstanding link still works; each user became
// one person and one membership with the same id (rule 11, docs/rules.md).
func TestOldUsersKeepWorkingAfterThePeopleMigration(t *testing.T) {
	for _, engine := range testdb.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.OpenAt(t, engine, 6)
			now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
			exec := func(q string, args ...any) {
				t.Helper()
				for i, a := range args {
					if tm, ok := a.(time.Time); ok && engine == "sqlite" {
						args[i] = tm.UnixMicro()
					}
				}
				if engine == "postgres" {
					for n := 1; strings.Contains(q, "?"); n++ {
						q = strings.Replace(q, "?", fmt.Sprintf("$%d", n), 1)
					}
				}
				_, err := db.WritePool().ExecContext(ctx, q, args...)
				require.NoError(t, err, q)
			}
			ids := canopy.NewIDs(func() time.Time { return now }, nil)
			root, acc := ids.New(canopy.PrefixAccount), ids.New(canopy.PrefixAccount)
			account := `INSERT INTO accounts (id, parent_id, path, depth, name, plan, status, metadata, link_origin,
				link_auto_share_role, link_billing, linked_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'active', '{}', ?, ?, ?, ?, ?, ?)`
			exec(account, root, nil, "/"+root+"/", 0, "Platform", "enterprise", nil, nil, nil, nil, now, now)
			exec(account, acc, root, "/"+root+"/"+acc+"/", 1, "Old Customer", "basic", "created", "none", "self", now, now, now)

			const keySecret = "cnp_oldrootkeyoldrootkeyoldrootkeyoldrootkey"
			exec(`INSERT INTO api_keys (id, account_id, name, prefix, secret_hash, created_at) VALUES (?, ?, 'root', ?, ?, ?)`,
				ids.New(canopy.PrefixAPIKey), root, canopy.DisplayPrefix(keySecret), canopy.HashSecret(keySecret), now)

			const oldPassword = "an old passphrase 4821 still"
			hash, err := password.Hash(oldPassword, testfactory.CheapPasswords)
			require.NoError(t, err)
			user := `INSERT INTO users (id, account_id, email, email_norm, username, username_norm, name, role, status,
				is_master, password_hash, password_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
			ada, bo, cy := ids.New(canopy.PrefixUser), ids.New(canopy.PrefixUser), ids.New(canopy.PrefixUser)
			exec(user, ada, acc, "Ada@Example.com", "ada@example.com", "ada-admin", "ada-admin", "Ada", "admin", "active", true, hash, now, now, now)
			exec(user, bo, acc, "bo@example.com", "bo@example.com", "bo@example.com", "bo@example.com", "Bo", "member", "invited", false, nil, nil, now, now)
			exec(user, cy, acc, "cy@example.com", "cy@example.com", "cy-name", "cy-name", "Cy", "admin", "active", false, hash, now, now, now)
			// Cy's address was changed by an admin after she set her password,
			// which nobody confirmed: it does not count as verified.
			exec(`INSERT INTO audit_events (id, occurred_at, account_id, acting_account_id, actor_type, actor_id, action,
				target_type, target_id, details) VALUES (?, ?, ?, ?, 'apiKey', 'key_x', 'user.updated', 'user', ?, ?)`,
				ids.New(canopy.PrefixAuditEvent), now.Add(time.Minute), acc, acc, cy, `{"email": "cy@example.com"}`)

			const sessionSecret = "cns_oldsessionoldsessionoldsessionoldsessionold"
			exec(`INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)`,
				ids.New(canopy.PrefixSession), ada, canopy.HashSecret(sessionSecret), now, now.Add(12*time.Hour), now)
			const linkSecret = "cnt_oldlinkoldlinkoldlinkoldlinkoldlinkoldlinkold"
			exec(`INSERT INTO user_tokens (id, user_id, purpose, token_hash, created_at, expires_at) VALUES (?, ?, 'set-password', ?, ?, ?)`,
				ids.New(canopy.PrefixToken), bo, canopy.HashSecret(linkSecret), now, now.Add(72*time.Hour))

			testdb.Upgrade(t, engine, db)

			clock := testfactory.NewClock(now.Add(10 * time.Minute))
			svc := service.New(db, service.Config{Clock: clock.Now, PasswordParams: testfactory.CheapPasswords, PlanLimits: testfactory.NoLimits})
			_, created, err := svc.Bootstrap(ctx, "Platform", "")
			require.NoError(t, err)
			require.False(t, created, "the old root stays the root")

			p, err := svc.Authenticate(ctx, keySecret)
			require.NoError(t, err, "the old key works")
			c, err := svc.NewCaller(ctx, p, acc, service.RequestInfo{})
			require.NoError(t, err)
			got, err := svc.GetUser(ctx, c, acc, ada)
			require.NoError(t, err, "usr_ ids stay valid")
			require.Equal(t, []string{"Ada@Example.com", "ada-admin", "Ada", "active"}, []string{got.Email, got.Username, got.Name, string(got.Status)})

			p, err = svc.Authenticate(ctx, sessionSecret)
			require.NoError(t, err, "the old session works")
			c, err = svc.NewCaller(ctx, p, "", service.RequestInfo{})
			require.NoError(t, err)
			require.Equal(t, acc, c.Acting.ID, "and acts where it did")
			require.Equal(t, canopy.Actor{Type: "user", ID: ada}, c.Actor)
			me, err := svc.WhoAmI(ctx, c)
			require.NoError(t, err)
			require.True(t, me.Person.EmailVerified, "an address whose password was set from its link counts as verified")

			for _, login := range []string{"ada@example.com", "ADA@EXAMPLE.COM", "ada-admin"} {
				_, err := svc.Login(ctx, service.LoginInput{Login: login, Password: oldPassword}, service.RequestInfo{})
				require.NoError(t, err, "the old password works, with %s", login)
			}

			set, err := svc.SetPassword(ctx, service.SetPasswordInput{Token: linkSecret, Password: "a brand new passphrase 99"}, service.RequestInfo{})
			require.NoError(t, err, "an outstanding link works")
			require.Equal(t, bo, set.ID)
			require.Equal(t, canopy.UserActive, set.Status, "and joins")
			require.Empty(t, set.Username, "a username that was an address is gone: people sign in with the address")

			_, err = svc.Login(ctx, service.LoginInput{Login: "cy@example.com", Password: oldPassword}, service.RequestInfo{})
			require.NoError(t, err)
			require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
				u, err := tx.GetUser(ctx, cy)
				require.NoError(t, err)
				require.False(t, u.Person.Verified(), "an address changed after its link was used is not verified")
				require.False(t, u.Consents(), "so Cy does not give the account's consent until she proves it")
				return nil
			}))
		})
	}
}
