package service_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/postgres"
)

// TestReplicasHearOfRevocations runs two services ("replicas") on one
// PostgreSQL database: a key revoked through one stops authenticating on
// the other at once, not after the cache TTL.
func TestReplicasHearOfRevocations(t *testing.T) {
	url := testdb.PostgresSchemaURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	require.NoError(t, err)
	defer db.Close()
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)

	b := testfactory.New(t, db, testfactory.Options{AuthCacheTTL: time.Hour})
	ready := make(chan struct{})
	go postgres.ListenAuthChanges(ctx, url, slog.New(slog.DiscardHandler), b.Svc.AuthChanged, ready)
	<-ready

	a := b.Child(t, b.Root.ID)
	key := b.Key(t, a.ID)
	_, err = b.Svc.Authenticate(ctx, key) // cached on replica 1
	require.NoError(t, err)

	replica2 := service.New(db, service.Config{})
	keys, err := replica2.ListAPIKeys(ctx, b.As(t, b.Root.ID), a.ID, service.PageRequest{})
	require.NoError(t, err)
	require.NoError(t, replica2.RevokeAPIKey(ctx, b.As(t, b.Root.ID), a.ID, keys.Data[0].ID))

	require.Eventually(t, func() bool {
		_, err := b.Svc.Authenticate(ctx, key)
		return canopy.ErrorKind(err) == canopy.KindUnauthorized
	}, 10*time.Second, 5*time.Millisecond, "replica 1 heard of the revocation long before its one-hour TTL")
}

// TestReplicasHearOfFormChanges runs two services ("replicas") on one
// PostgreSQL database, the first caching for an hour: a share revoked, a
// link lowered or a definition changed through the second reaches the
// first's warm form reads as soon as the announcement arrives, long
// before the TTL.
func TestReplicasHearOfFormChanges(t *testing.T) {
	url := testdb.PostgresSchemaURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	require.NoError(t, err)
	defer db.Close()
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)

	b := testfactory.New(t, db, testfactory.Options{AuthCacheTTL: time.Hour})
	ready := make(chan struct{})
	go postgres.ListenAuthChanges(ctx, url, slog.New(slog.DiscardHandler), b.Svc.AuthChanged, ready)
	<-ready
	replica2 := service.New(db, service.Config{})

	top := b.Child(t, b.Root.ID)
	mid := b.Child(t, top.ID)
	owner := b.Child(t, mid.ID)
	f, err := b.Svc.CreateForm(ctx, b.As(t, owner.ID), service.FormInput{Name: "Intake"})
	require.NoError(t, err)
	_, err = b.Svc.PutShare(ctx, b.As(t, owner.ID), f.ID, top.ID, canopy.RoleEditor)
	require.NoError(t, err)
	asTop, asMid, asOwner := b.As(t, top.ID), b.As(t, mid.ID), b.As(t, owner.ID)
	readAs := func(c service.Caller) (*service.FormView, error) { return b.Svc.GetForm(ctx, c, f.ID) }
	// eventually polls replica 1's warm read until it shows the change.
	eventually := func(c service.Caller, seen func(*service.FormView, error) bool, what string) {
		t.Helper()
		require.Eventually(t, func() bool { return seen(readAs(c)) }, 10*time.Second, 2*time.Millisecond,
			"replica 1 hears that %s long before its one-hour TTL", what)
	}

	v, err := readAs(asTop) // warm on replica 1
	require.NoError(t, err)
	require.Equal(t, canopy.RoleEditor, v.Role)
	require.NoError(t, replica2.DeleteShare(ctx, asOwner, f.ID, top.ID))
	eventually(asTop, func(v *service.FormView, err error) bool { return err == nil && v.Role == canopy.RoleDataManager },
		"the share was revoked")

	_, err = readAs(asMid)
	require.NoError(t, err)
	none := canopy.RoleNone
	_, err = replica2.UpdateLink(ctx, asMid, owner.ID, service.LinkPatch{AutoShareRole: &none})
	require.NoError(t, err)
	eventually(asMid, func(_ *service.FormView, err error) bool { return canopy.ErrorCode(err) == canopy.CodeNotFound },
		"the owner's link was lowered to none")

	_, err = readAs(asOwner)
	require.NoError(t, err)
	name := "Intake, second edition"
	_, err = replica2.UpdateForm(ctx, asOwner, f.ID, service.FormPatch{Name: &name}, nil)
	require.NoError(t, err)
	eventually(asOwner, func(v *service.FormView, err error) bool { return err == nil && v.Name == name },
		"the definition changed")
}
