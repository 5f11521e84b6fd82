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
