package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

func TestUsers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		asAcc := b.As(t, acc.ID)
		master := masterOf(t, b, acc.ID)

		t.Run("an address that belongs to someone invites that person, and the answer looks the same", func(t *testing.T) {
			b.SignIn(t, master.Email)
			other := b.Child(t, b.Root.ID)
			_, err := b.Svc.CreateUser(ctx, b.As(t, other.ID), other.ID, service.CreateUserInput{Email: "  " + master.Email})
			require.Equal(t, canopy.KindInvalid, canopy.ErrorKind(err), "not a plain address")
			known, err := b.Svc.CreateUser(ctx, b.As(t, other.ID), other.ID, service.CreateUserInput{Email: upper(master.Email), Name: "Typed"})
			require.NoError(t, err, "no email-taken: that would tell who exists")
			fresh, err := b.Svc.CreateUser(ctx, b.As(t, other.ID), other.ID, service.CreateUserInput{Email: "Fresh-" + master.Email, Name: "Typed"})
			require.NoError(t, err)
			require.Equal(t, upper(master.Email), known.Email, "an invited membership shows what it was invited with")
			require.Equal(t, canopy.UserInvited, known.Status)
			known.ID, fresh.ID, known.Email, fresh.Email = "", "", "", ""
			kj, err := json.Marshal(known)
			require.NoError(t, err)
			fj, err := json.Marshal(fresh)
			require.NoError(t, err)
			require.JSONEq(t, string(fj), string(kj), "what a caller sees is the same")
			_, err = b.Svc.CreateUser(ctx, b.As(t, other.ID), other.ID, service.CreateUserInput{Email: master.Email})
			require.Equal(t, canopy.CodeAlreadyMember, canopy.ErrorCode(err), "the account already has them")

			u, err := b.Svc.CreateUser(ctx, asAcc, acc.ID, service.CreateUserInput{Email: "Zoe@Example.com", Username: "zoe-1"})
			require.NoError(t, err)
			b.SignIn(t, u.Email)
			_, err = b.Svc.UpdateUser(ctx, asAcc, acc.ID, u.ID, service.UserPatch{Email: ptr("zoe2@example.com")})
			require.Equal(t, canopy.CodePersonManaged, canopy.ErrorCode(err), "a joined person's address is theirs")
			_, err = b.Svc.UpdateUser(ctx, asAcc, acc.ID, u.ID, service.UserPatch{Name: ptr("Z")})
			require.Equal(t, canopy.CodePersonManaged, canopy.ErrorCode(err))
		})

		t.Run("a new address gets the username asked for while nobody has it; a known one invites its person as they are", func(t *testing.T) {
			one, two := b.Child(t, b.Root.ID), b.Child(t, b.Root.ID)
			create := func(acc *canopy.Account, email, username string) {
				t.Helper()
				_, err := b.Svc.CreateUser(ctx, b.As(t, acc.ID), acc.ID, service.CreateUserInput{Email: email, Username: username, Name: "N"})
				require.NoError(t, err, email)
			}
			person := func(email string) *canopy.Person {
				t.Helper()
				var p *canopy.Person
				require.NoError(t, b.Store.Read(ctx, func(tx store.Tx) error {
					var err error
					if p, err = tx.GetPersonByEmail(ctx, canopy.NormalizeEmail(email)); errors.Is(err, store.ErrNotFound) {
						return nil
					}
					return err
				}))
				return p
			}
			create(one, "una@example.com", "una")
			create(one, "dos@example.com", "UNA")
			create(two, "Una@Example.com", "another-una")
			create(two, "tres@example.com", "")
			require.Equal(t, "una", person("una@example.com").Username, "free: the person has it")
			require.Empty(t, person("dos@example.com").Username, "taken, in any case: the person is made without it")
			require.Equal(t, "una@example.com", person("UNA@example.com").Email, "a known address is its person, as they were")
			require.Equal(t, "una", person("una@example.com").Username)
			require.Nil(t, person("another-una@example.com"), "no second person for the known address")
			require.Empty(t, person("tres@example.com").Username)
		})

		t.Run("the last admin cannot be removed, disabled or demoted", func(t *testing.T) {
			solo := b.Child(t, b.Root.ID)
			only := masterOf(t, b, solo.ID)
			as := b.As(t, solo.ID)
			member := b.User(t, solo.ID, canopy.UserMember)
			cases := []struct {
				name string
				do   func() error
			}{
				{"remove", func() error { return b.Svc.DeleteUser(ctx, as, solo.ID, only.ID) }},
				{"disable", func() error { _, err := b.Svc.SetUserEnabled(ctx, as, solo.ID, only.ID, false); return err }},
				{"demote", func() error {
					_, err := b.Svc.UpdateUser(ctx, as, solo.ID, only.ID, service.UserPatch{Role: ptr(canopy.UserMember)})
					return err
				}},
			}
			for _, tc := range cases {
				require.Equal(t, canopy.CodeLastAdmin, canopy.ErrorCode(tc.do()), tc.name)
			}
			// With a second admin each becomes possible.
			_, err := b.Svc.UpdateUser(ctx, as, solo.ID, member.ID, service.UserPatch{Role: ptr(canopy.UserAdmin)})
			require.NoError(t, err)
			_, err = b.Svc.UpdateUser(ctx, as, solo.ID, only.ID, service.UserPatch{Role: ptr(canopy.UserMember)})
			require.NoError(t, err)
			require.Equal(t, canopy.CodeLastAdmin, canopy.ErrorCode(b.Svc.DeleteUser(ctx, as, solo.ID, member.ID)),
				"now the promoted member is the last admin")
			require.NoError(t, b.Svc.DeleteUser(ctx, as, solo.ID, only.ID))
			_, err = b.Svc.GetUser(ctx, as, solo.ID, only.ID)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err))
		})

		t.Run("members read, edit themselves, and nothing else", func(t *testing.T) {
			m := b.User(t, acc.ID, canopy.UserMember)
			session := b.SignIn(t, m.Email)
			p, err := b.Svc.Authenticate(ctx, session)
			require.NoError(t, err)
			c, err := b.Svc.NewCaller(ctx, p, "", service.RequestInfo{})
			require.NoError(t, err)

			_, err = b.Svc.ListUsers(ctx, c, acc.ID, service.PageRequest{})
			require.NoError(t, err, "members read")
			renamed, err := b.Svc.UpdateUser(ctx, c, acc.ID, m.ID, service.UserPatch{Name: ptr("New Name")})
			require.NoError(t, err, "members edit their own profile")
			require.Equal(t, "New Name", renamed.Name)
			_, err = b.Svc.UpdateUser(ctx, c, acc.ID, m.ID, service.UserPatch{Role: ptr(canopy.UserAdmin)})
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err), "but not their role")
			_, err = b.Svc.UpdateUser(ctx, c, acc.ID, master.ID, service.UserPatch{Name: ptr("x")})
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err), "nor anyone else")
			_, err = b.Svc.CreateUser(ctx, c, acc.ID, service.CreateUserInput{Email: "m2@example.com"})
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err))
			_, err = b.Svc.CreateChild(ctx, c, b.ChildInput())
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err))
			child := b.Child(t, acc.ID)
			_, err = b.Svc.Act(ctx, p, child.ID)
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "members act only in their own account")
			_, err = b.Svc.ListOutbox(ctx, c, service.OutboxQuery{}, service.PageRequest{})
			require.Equal(t, canopy.KindForbidden, canopy.ErrorKind(err))
			me, err := b.Svc.WhoAmI(ctx, c)
			require.NoError(t, err)
			require.Equal(t, "self", me.MayActAs)
			require.False(t, me.MayWrite)
		})

		t.Run("a role change applies to the person's sessions at once", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserAdmin)
			session := b.SignIn(t, u.Email)
			child := b.Child(t, acc.ID)
			b.AsSession(t, session, child.ID) // an admin acts below
			_, err := b.Svc.UpdateUser(ctx, asAcc, acc.ID, u.ID, service.UserPatch{Role: ptr(canopy.UserMember)})
			require.NoError(t, err)
			p, err := b.Svc.Authenticate(ctx, session)
			require.NoError(t, err)
			_, err = b.Svc.NewCaller(ctx, p, child.ID, service.RequestInfo{})
			require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "a member does not")
			c, err := b.Svc.NewCaller(ctx, p, "", service.RequestInfo{})
			require.NoError(t, err)
			require.False(t, c.MayManage())
		})

		t.Run("disable and enable keep what the user had", func(t *testing.T) {
			u := b.User(t, acc.ID, canopy.UserMember)
			d, err := b.Svc.SetUserEnabled(ctx, asAcc, acc.ID, u.ID, false)
			require.NoError(t, err)
			require.Equal(t, canopy.UserDisabled, d.Status)
			e, err := b.Svc.SetUserEnabled(ctx, asAcc, acc.ID, u.ID, true)
			require.NoError(t, err)
			require.Equal(t, canopy.UserInvited, e.Status, "no password yet: back to invited")
		})

		t.Run("every change is audited", func(t *testing.T) {
			page, err := b.Svc.ListAuditEvents(ctx, asAcc, service.AuditQuery{}, service.PageRequest{Limit: 200})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, e := range page.Data {
				seen[e.Action] = true
			}
			for _, a := range []string{"user.created", "user.updated", "user.disabled", "user.enabled", "user.passwordSet", "session.created"} {
				require.True(t, seen[a], a)
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// TestClosedAccountsUsers: a closed account's users change no more, its
// links stop working and its queued emails are not sent.
func TestClosedAccountsUsers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		acc := b.Child(t, b.Root.ID)
		u := b.User(t, acc.ID, canopy.UserAdmin)
		link := b.Links(t)[u.Email]
		b.User(t, acc.ID, canopy.UserMember) // its invitation is still queued
		_, err := b.Svc.CloseAccount(ctx, b.As(t, b.Root.ID), acc.ID, service.ChildrenRefuse)
		require.NoError(t, err)

		asRoot := b.As(t, b.Root.ID)
		require.Equal(t, canopy.CodeAccountClosed, canopy.ErrorCode(b.Svc.DeleteUser(ctx, asRoot, acc.ID, u.ID)))
		_, err = b.Svc.CreateUser(ctx, asRoot, acc.ID, service.CreateUserInput{Email: "late@example.com"})
		require.Equal(t, canopy.CodeAccountClosed, canopy.ErrorCode(err))
		_, err = b.Svc.SetPassword(ctx, service.SetPasswordInput{Token: link, Password: testfactory.StrongPassword}, noInfo)
		require.Equal(t, canopy.CodeAccountClosed, canopy.ErrorCode(err))

		msgs, err := b.Svc.ClaimOutbox(ctx, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		_, errs := b.Svc.PrepareEmails(ctx, msgs)
		var permanent *service.PermanentError
		require.ErrorAs(t, errs[0], &permanent)
	})
}

// requireField asserts that err is a validation error naming field with code.
func requireField(t *testing.T, err error, field, code string) {
	t.Helper()
	var e *canopy.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, canopy.CodeValidation, e.Code, "%v", err)
	for _, f := range e.Fields {
		if f.Field == field {
			require.Equal(t, code, f.Code, "%v", err)
			return
		}
	}
	t.Fatalf("no error names %s: %v", field, err)
}
