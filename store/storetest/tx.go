package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testTransactions(t *testing.T, open Opener) {
	t.Run("UniqueViolationRollsBackTheWholeWrite", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		taken := b.f.newUser(root)
		b.write(t, func(ctx context.Context, tx store.Tx) { insertUser(t, ctx, tx, taken) })

		kid := b.f.newAccount(root)
		master := b.f.newMember(kid, taken.Person)
		dup := b.f.newMember(kid, taken.Person)
		calls := 0
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			calls++
			require.NoError(t, tx.InsertAccount(ctx, kid))
			require.NoError(t, tx.InsertUser(ctx, master))
			require.NoError(t, tx.ReplaceWorkflows(ctx, kid.ID, []string{"kyc"}))
			require.NoError(t, tx.PutConfigurations(ctx, &canopy.Configuration{
				AccountID: kid.ID, Namespace: "portal", Value: []byte(`{}`), UpdatedAt: at(1)}))
			require.NoError(t, tx.InsertAuditEvent(ctx, b.f.newEvent(kid, "account.create", kid.ID)))
			require.NoError(t, tx.InsertOutboxMessages(ctx, b.f.newMessage(kid)))
			require.NoError(t, tx.InsertIdempotency(ctx, &store.Idempotency{
				Scope: "s", Key: "k", Fingerprint: "f", StatusCode: 201, Body: []byte("{}"), CreatedAt: at(1)}))
			return tx.InsertUser(ctx, dup)
		})
		requireConflict(t, err, store.UniqueMembership)
		require.Equal(t, 1, calls, "a conflict is not retried")
		requireNothingOf(t, b, root, kid)
	})

	t.Run("ErrorFromFnRollsBackAndIsReturned", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.newAccount(root)
		boom := errors.New("boom")
		calls := 0
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			calls++
			require.NoError(t, tx.InsertAccount(ctx, kid))
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, 1, calls, "an error of fn's own is not retried")
		requireNothingOf(t, b, root, kid)
	})

	t.Run("PanicRollsBackAndPropagates", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.newAccount(root)
		require.PanicsWithValue(t, "boom", func() {
			_ = b.st.Write(ctx, func(tx store.Tx) error {
				require.NoError(t, tx.InsertAccount(ctx, kid))
				panic("boom")
			})
		})
		requireNothingOf(t, b, root, kid)
		// The connection went back clean: the store still writes.
		b.f.account(root)
	})

	t.Run("GoexitInsideWriteRollsBack", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.newAccount(root)
		// fn may end its goroutine with runtime.Goexit — as t.FailNow does
		// when an assertion inside a transaction fails. The transaction
		// must still end, or it keeps its locks (and, on SQLite, the only
		// write connection) forever.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = b.st.Write(ctx, func(tx store.Tx) error {
				if err := tx.LockTree(ctx); err != nil {
					return err
				}
				if err := tx.InsertAccount(ctx, kid); err != nil {
					return err
				}
				runtime.Goexit()
				return nil
			})
		}()
		<-done
		// A generous bound, only so that a leaked transaction fails the
		// test instead of hanging it; a working store answers at once.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, b.st.Write(wctx, func(tx store.Tx) error { return tx.LockTree(wctx) }))
		requireNothingOf(t, b, root, kid)
	})

	t.Run("WriteInsideReadFails", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.newAccount(root)
		tests := []struct {
			name string
			call func(tx store.Tx) error
		}{
			{"InsertAccount", func(tx store.Tx) error { return tx.InsertAccount(ctx, kid) }},
			{"UpdateAccount", func(tx store.Tx) error {
				upd := *root
				upd.Name = "changed"
				return tx.UpdateAccount(ctx, &upd)
			}},
			{"PutConfiguration", func(tx store.Tx) error {
				return tx.PutConfigurations(ctx, &canopy.Configuration{AccountID: root.ID, Namespace: "x",
					Value: []byte(`1`), UpdatedAt: at(1)})
			}},
			{"DeleteIdempotencyBefore", func(tx store.Tx) error {
				_, err := tx.DeleteIdempotencyBefore(ctx, at(1))
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var inner error
				err := b.st.Read(ctx, func(tx store.Tx) error {
					inner = tt.call(tx)
					return inner
				})
				require.Error(t, inner, "a read transaction must refuse writes")
				require.Error(t, err)
			})
		}
		requireNothingOf(t, b, root, kid)
		require.Equal(t, root, b.mustGet(t, root.ID))
	})

	t.Run("ReadSeesOneSnapshot", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		late := b.f.newAccount(root)

		err := b.st.Read(ctx, func(tx store.Tx) error {
			before, err := tx.GetAccount(ctx, kid.ID)
			require.NoError(t, err)
			n, err := tx.CountOpenChildren(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)

			// A write commits while this read is open; the read must go
			// on seeing the world as it was when it began.
			done := make(chan error, 1)
			go func() {
				done <- b.st.Write(ctx, func(tx store.Tx) error {
					upd := *kid
					upd.Name = "renamed while a read was open"
					if err := tx.UpdateAccount(ctx, &upd); err != nil {
						return err
					}
					return tx.InsertAccount(ctx, late)
				})
			}()
			require.NoError(t, <-done)

			after, err := tx.GetAccount(ctx, kid.ID)
			require.NoError(t, err)
			require.Equal(t, before, after)
			_, err = tx.GetAccount(ctx, late.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			n, err = tx.CountOpenChildren(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "renamed while a read was open", b.mustGet(t, kid.ID).Name)
		require.Equal(t, late, b.mustGet(t, late.ID))
	})

	t.Run("WriteSeesItsOwnWrites", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.newAccount(root)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertAccount(ctx, kid))
			got, err := tx.GetAccount(ctx, kid.ID)
			require.NoError(t, err)
			require.Equal(t, kid, got)
			below, err := tx.ListSubtree(ctx, root.Path, 0, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []string{kid.ID}, ids(below))
		})
	})

	// Whether other processes hear of the change is the engine's to prove
	// (PostgreSQL's LISTEN/NOTIFY, in the service's replica test); every
	// engine must let a write announce one without changing what commits.
	t.Run("NotifyAuthChangeLeavesTheTransactionAsItIs", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		boom := errors.New("boom")
		tests := []struct {
			name   string
			fn     func(ctx context.Context, tx store.Tx, kid *canopy.Account) error
			err    error
			stored bool
		}{
			{"Commits", func(ctx context.Context, tx store.Tx, kid *canopy.Account) error {
				if err := tx.NotifyAuthChange(ctx); err != nil {
					return err
				}
				return tx.InsertAccount(ctx, kid)
			}, nil, true},
			{"TwiceInOneWrite", func(ctx context.Context, tx store.Tx, kid *canopy.Account) error {
				if err := tx.InsertAccount(ctx, kid); err != nil {
					return err
				}
				if err := tx.NotifyAuthChange(ctx); err != nil {
					return err
				}
				return tx.NotifyAuthChange(ctx)
			}, nil, true},
			{"InsideAFailedTry", func(ctx context.Context, tx store.Tx, kid *canopy.Account) error {
				err := tx.Try(ctx, func() error {
					if err := tx.NotifyAuthChange(ctx); err != nil {
						return err
					}
					return boom
				})
				if !errors.Is(err, boom) {
					return fmt.Errorf("try: %w", err)
				}
				return tx.InsertAccount(ctx, kid)
			}, nil, true},
			{"RolledBack", func(ctx context.Context, tx store.Tx, kid *canopy.Account) error {
				if err := tx.InsertAccount(ctx, kid); err != nil {
					return err
				}
				if err := tx.NotifyAuthChange(ctx); err != nil {
					return err
				}
				return boom
			}, boom, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				kid := b.f.newAccount(root)
				err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tt.fn(ctx, tx, kid) })
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
				} else {
					require.NoError(t, err)
				}
				b.read(t, func(ctx context.Context, tx store.Tx) {
					_, err := tx.GetAccount(ctx, kid.ID)
					if tt.stored {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, store.ErrNotFound)
					}
				})
			})
		}
	})

	t.Run("EngineAndPing", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		require.NoError(t, b.st.Ping(ctx))
		require.Contains(t, []string{"sqlite", "postgres"}, b.st.Engine())
	})
}

// requireNothingOf checks that nothing a rolled-back transaction wrote for
// kid (under root) is visible.
func requireNothingOf(t *testing.T, b *testBundle, root, kid *canopy.Account) {
	t.Helper()
	b.read(t, func(ctx context.Context, tx store.Tx) {
		_, err := tx.GetAccount(ctx, kid.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		below, err := tx.ListSubtree(ctx, root.Path, 0, store.Page{Limit: 100})
		require.NoError(t, err)
		require.NotContains(t, ids(below), kid.ID)
		users, err := tx.ListUsers(ctx, kid.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, users)
		wf, err := tx.ListWorkflows(ctx, kid.ID)
		require.NoError(t, err)
		require.Empty(t, wf)
		n, err := tx.CountConfigurations(ctx, kid.ID)
		require.NoError(t, err)
		require.Zero(t, n)
		events, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: root.Path, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, events)
		msgs, err := tx.ListOutbox(ctx, store.OutboxFilter{Limit: 100})
		require.NoError(t, err)
		for _, m := range msgs {
			require.NotEqual(t, kid.ID, m.AccountID, "a message of the rolled-back account")
		}
		_, err = tx.GetIdempotency(ctx, "s", "k")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
