package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// fullInput is the seed-001 create-child body.
func fullInput() service.CreateChildInput {
	wf := []string{"kyc-standard"}
	var cfg canopy.Configurations
	if err := json.Unmarshal([]byte(`{"white_label_portal": {"brandName": "Acme", "primaryColor": "#FF6600"}, "limits": [1.50, 12345678901234567890]}`), &cfg); err != nil {
		panic(err)
	}
	return service.CreateChildInput{
		Account:            service.AccountInput{Name: "Acme Dental", Email: "ops@acme.example", Plan: canopy.PlanBasic, Metadata: map[string]string{"tier": "gold"}},
		MasterUser:         &service.MasterUserInput{Email: "admin@acme.example", Username: "acme-admin", Name: "Ada"},
		Workflows:          &wf,
		Users:              []service.UserInput{{Email: "bo@acme.example", Name: "Bo", Role: canopy.UserMember}},
		Configurations:     cfg,
		ExternalReferences: []service.ExternalReferenceInput{{Type: "crm", Value: "C-1001"}},
	}
}

// counts returns how many rows of each kind a store holds for account.
func counts(t *testing.T, st store.Store, accountID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	ctx := context.Background()
	require.NoError(t, st.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.GetAccount(ctx, accountID); err == nil {
			out["account"] = 1
		}
		users, err := tx.ListUsers(ctx, accountID, store.Page{Limit: 1000})
		require.NoError(t, err)
		out["users"] = len(users)
		cfgs, err := tx.ListConfigurations(ctx, []string{accountID})
		require.NoError(t, err)
		out["configurations"] = len(cfgs)
		refs, err := tx.ListExternalReferences(ctx, accountID)
		require.NoError(t, err)
		out["references"] = len(refs)
		out["outbox"] = len(outboxOf(t, tx, accountID))
		wf, err := tx.ListWorkflows(ctx, accountID)
		require.NoError(t, err)
		out["workflows"] = len(wf)
		return nil
	}))
	return out
}

func TestCreateChild(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)

		t.Run("stores every part in one go and answers with what it applied", func(t *testing.T) {
			res, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), fullInput())
			require.NoError(t, err)
			require.Equal(t, b.Root.ID, res.Account.ParentID)
			require.Equal(t, canopy.StatusActive, res.Account.Status)
			require.Equal(t, []string{"kyc-standard"}, res.Workflows)
			require.Len(t, res.Users, 2)
			require.True(t, res.Users[0].Master, "the master user comes first")
			require.Equal(t, "acme-admin", res.Users[0].Username)
			require.Equal(t, canopy.UserAdmin, res.Users[0].Role)
			require.Equal(t, canopy.UserInvited, res.Users[0].Status)
			require.Empty(t, res.Users[1].Username, "a username is optional: people sign in with their email")
			require.Len(t, res.Configurations, 2)
			require.Equal(t, `[1.50, 12345678901234567890]`, string(res.Configurations[1].Value))
			require.Len(t, res.ExternalReferences, 1)
			require.Equal(t, map[string]int{"account": 1, "users": 2, "configurations": 2, "references": 1, "outbox": 2, "workflows": 1},
				counts(t, db, res.Account.ID))
		})

		t.Run("links under the platform root share nothing upward and bill themselves", func(t *testing.T) {
			res, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), b.ChildInput())
			require.NoError(t, err)
			require.Equal(t, canopy.Link{Origin: canopy.OriginCreated, AutoShareRole: canopy.RoleNone, Billing: canopy.BillingSelf, CreatedAt: res.Account.CreatedAt}, *res.Account.Link)
			grand, err := b.Svc.CreateChild(ctx, b.As(t, res.Account.ID), b.ChildInput())
			require.NoError(t, err)
			require.Equal(t, canopy.RoleDataManager, grand.Account.Link.AutoShareRole)
			require.Equal(t, canopy.BillingParent, grand.Account.Link.Billing)
		})

		t.Run("the master user defaults to the account email", func(t *testing.T) {
			in := service.CreateChildInput{Account: service.AccountInput{Name: "Solo", Email: "Solo@Example.com"}}
			res, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
			require.NoError(t, err)
			require.Len(t, res.Users, 1)
			require.Equal(t, "Solo@Example.com", res.Users[0].Email)
			require.Empty(t, res.Users[0].Username)
			require.Equal(t, canopy.PlanBasic, res.Account.Plan, "plan defaults to basic")
		})

		t.Run("a child without workflows gets its parent's", func(t *testing.T) {
			in := fullInput()
			in.ExternalReferences = nil
			in.MasterUser.Email, in.MasterUser.Username, in.Users = "wf-admin@example.com", "wf-admin", nil
			wf := []string{"kyc-standard", "aml-basic"}
			in.Workflows = &wf
			parent, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
			require.NoError(t, err)
			child, err := b.Svc.CreateChild(ctx, b.As(t, parent.Account.ID), b.ChildInput())
			require.NoError(t, err)
			require.Equal(t, wf, child.Workflows)
			empty := []string{}
			in2 := b.ChildInput()
			in2.Workflows = &empty
			none, err := b.Svc.CreateChild(ctx, b.As(t, parent.Account.ID), in2)
			require.NoError(t, err)
			require.Empty(t, none.Workflows, "an explicit empty list means none")
		})

		t.Run("every new user gets an email in the outbox, written with the account", func(t *testing.T) {
			in := b.ChildInput()
			in.Users = []service.UserInput{{Email: "u1@outbox.example"}, {Email: "u2@outbox.example", Role: canopy.UserAdmin}}
			res, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
			require.NoError(t, err)
			var msgs []*canopy.OutboxMessage
			require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
				msgs = outboxOf(t, tx, res.Account.ID)
				return nil
			}))
			require.Len(t, msgs, 3)
			templates := map[string]string{}
			for _, m := range msgs {
				templates[m.Recipient] = m.Template
				require.Equal(t, canopy.OutboxPending, m.Status)
				require.NotContains(t, string(m.Data), "password")
			}
			require.Equal(t, map[string]string{
				in.Account.Email: canopy.TemplateWelcome, "u1@outbox.example": canopy.TemplateUserInvitation, "u2@outbox.example": canopy.TemplateUserInvitation,
			}, templates)
		})
	})
}

func TestCreateChildIsAllOrNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		first, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), fullInput())
		require.NoError(t, err)
		before := auditCount(t, b)

		cases := []struct {
			name  string
			edit  func(in *service.CreateChildInput)
			code  string
			field string
		}{
			{"duplicate external reference (the last part)", func(in *service.CreateChildInput) {
				in.MasterUser.Email, in.MasterUser.Username, in.Users[0].Email = "x1@example.com", "xuser1", "x2@example.com"
			}, canopy.CodeExternalRefExists, "externalReferences[0]"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := fullInput()
				tc.edit(&in)
				_, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), in)
				require.Equal(t, canopy.KindConflict, canopy.ErrorKind(err), "%v", err)
				require.Equal(t, tc.code, canopy.ErrorCode(err))
				var e *canopy.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tc.field, e.Fields[0].Field)
				page, err := b.Svc.ListChildren(ctx, b.As(t, b.Root.ID), b.Root.ID, service.PageRequest{})
				require.NoError(t, err)
				require.Len(t, page.Data, 1, "no second account was stored")
				require.Equal(t, first.Account.ID, page.Data[0].ID)
				require.NoError(t, db.Read(ctx, func(tx store.Tx) error {
					_, err := tx.GetPersonByEmail(ctx, canopy.NormalizeEmail(in.MasterUser.Email))
					require.ErrorIs(t, err, store.ErrNotFound, "the new person went with the write")
					return nil
				}))
				require.Equal(t, before, auditCount(t, b), "no audit event was stored")
				require.Equal(t, 2, totalOutbox(t, db), "no outbox row was stored")
			})
		}
	})
}

func auditCount(t *testing.T, b *testfactory.Bundle) int {
	t.Helper()
	page, err := b.Svc.ListAuditEvents(context.Background(), b.As(t, b.Root.ID), service.AuditQuery{}, service.PageRequest{Limit: 200})
	require.NoError(t, err)
	return len(page.Data)
}

// outboxOf returns the emails queued for one account.
func outboxOf(t *testing.T, tx store.Tx, accountID string) []*canopy.OutboxMessage {
	t.Helper()
	all, err := tx.ListOutbox(t.Context(), store.OutboxFilter{Limit: 100_000})
	require.NoError(t, err)
	var out []*canopy.OutboxMessage
	for _, m := range all {
		if m.AccountID == accountID {
			out = append(out, m)
		}
	}
	return out
}

func totalOutbox(t *testing.T, st store.Store) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	require.NoError(t, st.Read(ctx, func(tx store.Tx) error {
		msgs, err := tx.ListOutbox(ctx, store.OutboxFilter{Limit: 100_000})
		n = len(msgs)
		return err
	}))
	return n
}

func TestCreateChildValidation(t *testing.T) {
	b := testfactory.New(t, testdb.SQLite(t))
	ctx := context.Background()
	long := string(make([]byte, 300))
	cases := []struct {
		name   string
		in     service.CreateChildInput
		fields []string
	}{
		{"empty name", service.CreateChildInput{Account: service.AccountInput{Name: " ", Email: "a@example.com"}}, []string{"account.name"}},
		{"no master user and no account email", service.CreateChildInput{Account: service.AccountInput{Name: "A"}}, []string{"masterUser"}},
		{"master user without email", service.CreateChildInput{Account: service.AccountInput{Name: "A"}, MasterUser: &service.MasterUserInput{Name: "Ada"}}, []string{"masterUser.email"}},
		{"bad emails and plan", service.CreateChildInput{Account: service.AccountInput{Name: "A", Email: "not-an-email", Plan: "gold"}}, []string{"account.email", "account.plan"}},
		{"bad user role and duplicate user", service.CreateChildInput{Account: service.AccountInput{Name: "A", Email: "a@example.com"},
			Users: []service.UserInput{{Email: "b@example.com", Role: "owner"}, {Email: "A@example.com"}}}, []string{"users[0].role", "users[1].email"}},
		{"bad workflow names", service.CreateChildInput{Account: service.AccountInput{Name: "A", Email: "a@example.com"}, Workflows: &[]string{"KYC", "ok", "ok"}},
			[]string{"workflows[0]", "workflows[2]"}},
		{"bad namespace", service.CreateChildInput{Account: service.AccountInput{Name: "A", Email: "a@example.com"},
			Configurations: canopy.Configurations{{Namespace: "Bad Space", Value: []byte(`{}`)}}}, []string{"configurations.Bad Space"}},
		{"bad external references", service.CreateChildInput{Account: service.AccountInput{Name: "A", Email: "a@example.com"},
			ExternalReferences: []service.ExternalReferenceInput{{Type: "", Value: "1"}, {Type: "crm", Value: ""}, {Type: "crm", Value: "x", Description: long + long}}},
			[]string{"externalReferences[0].type", "externalReferences[1].value", "externalReferences[2].description"}},
		{"name too long", service.CreateChildInput{Account: service.AccountInput{Name: strings.Repeat("x", 201), Email: "a@example.com"}}, []string{"account.name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Svc.CreateChild(ctx, b.As(t, b.Root.ID), tc.in)
			var e *canopy.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, canopy.KindInvalid, e.Kind)
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			require.Equal(t, tc.fields, got)
		})
	}
	page, err := b.Svc.ListChildren(ctx, b.As(t, b.Root.ID), b.Root.ID, service.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, page.Data, "invalid requests write nothing")
}
