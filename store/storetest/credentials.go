package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

func testCredentials(t *testing.T, open Opener) {
	t.Run("PeopleAndMembershipsUpdateLookUpDeleteAndCountAdmins", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		admin, member := b.f.newUser(acc), b.f.newUser(acc)
		admin.Role, admin.Person.Email, admin.Person.Username = canopy.UserAdmin, "Ada@Example.com", "ada"
		b.write(t, func(ctx context.Context, tx store.Tx) {
			insertUser(t, ctx, tx, admin)
			insertUser(t, ctx, tx, member)
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			p, err := tx.GetPersonByEmail(ctx, "ada@example.com")
			require.NoError(t, err)
			require.Equal(t, admin.PersonID, p.ID)
			p, err = tx.GetPersonByUsername(ctx, "ada")
			require.NoError(t, err)
			require.Equal(t, admin.PersonID, p.ID)
			_, err = tx.GetPersonByUsername(ctx, "nobody")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetPersonByEmail(ctx, "ada")
			require.ErrorIs(t, err, store.ErrNotFound, "a username is not an email")
			n, err := tx.CountAdmins(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})

		changed := at(50)
		p := member.Person
		p.Email, p.Username, p.Name, p.PendingEmail = "BO@example.com", "bo", "Bo", "Bo.New@example.com"
		p.PasswordHash, p.PasswordChangedAt, p.LastLoginAt, p.EmailVerifiedAt, p.UpdatedAt = "$argon2id$x", &changed, &changed, &changed, changed
		member.Role, member.Status, member.UpdatedAt = canopy.UserAdmin, canopy.UserActive, changed
		member.Show()
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UpdatePerson(ctx, p))
			require.NoError(t, tx.UpdateUser(ctx, member))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetUser(ctx, member.ID)
			require.NoError(t, err)
			require.Equal(t, member, got, "every field round-trips")
			gotP, err := tx.GetPersonByEmail(ctx, "bo@example.com")
			require.NoError(t, err, "the normalised email follows the update")
			require.Equal(t, p, gotP)
			n, err := tx.CountAdmins(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, 2, n)
		})
		member.Status = canopy.UserDisabled
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.UpdateUser(ctx, member)) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CountAdmins(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n, "a disabled admin does not count")
		})
		clash := *member
		clash.ID = b.f.id(canopy.PrefixUser)
		require.ErrorIs(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &clash) }), store.ErrNotFound)

		// Deleting a membership leaves the person; deleting the person takes
		// its tokens and sessions with it.
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertUserToken(ctx, newToken(b, member, "t-del")))
			require.NoError(t, tx.InsertSession(ctx, newSession(b, member, "s-del")))
			require.NoError(t, tx.DeleteUser(ctx, member.ID))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetUser(ctx, member.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetSessionByHash(ctx, "s-del")
			require.NoError(t, err)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.DeletePerson(ctx, member.PersonID)) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetPerson(ctx, member.PersonID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetUserTokenByHash(ctx, "t-del")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetSessionByHash(ctx, "s-del")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
		require.ErrorIs(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, member.ID) }), store.ErrNotFound)
	})

	t.Run("ResetRequestsAreTakenOnce", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i := range 30 {
				require.NoError(t, tx.InsertResetRequest(ctx, &store.ResetRequest{
					ID: b.f.id("rst"), Email: fmt.Sprintf("r%d@example.com", i), CreatedAt: at(i)}))
			}
		})
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var got []*store.ResetRequest
					require.NoError(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
						var err error
						got, err = tx.TakeResetRequests(ctx, 4)
						return err
					}))
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, r := range got {
						seen[r.Email]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, seen, 30)
		for e, n := range seen {
			require.Equal(t, 1, n, "request for %s taken twice", e)
		}
	})

	t.Run("EmailCountsStopAtTheirMaximum", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		count := func(day string, n, max int) (bool, int) {
			var (
				ok   bool
				sent int
			)
			b.write(t, func(ctx context.Context, tx store.Tx) {
				var err error
				ok, sent, err = tx.CountEmails(ctx, acc.ID, day, n, max)
				require.NoError(t, err)
			})
			return ok, sent
		}
		ok, _ := count("2026-12-01", 3, 5)
		require.True(t, ok)
		ok, sent := count("2026-12-01", 3, 5)
		require.False(t, ok)
		require.Equal(t, 3, sent, "a refused count changes nothing and says what it found")
		ok, _ = count("2026-12-01", 2, 5)
		require.True(t, ok, "exactly up to the maximum")
		ok, _ = count("2026-12-02", 5, 5)
		require.True(t, ok, "a new day starts at zero")
		ok, sent = count("2026-12-03", 6, 5)
		require.False(t, ok)
		require.Zero(t, sent)
	})

	t.Run("SettingsAreMadeOnce", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		name := "cursor-key-" + b.f.id("x")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetSetting(ctx, name)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, tx.InsertSetting(ctx, name, "first"))
			require.NoError(t, tx.InsertSetting(ctx, name, "second"))
			v, err := tx.GetSetting(ctx, name)
			require.NoError(t, err)
			require.Equal(t, "first", v)
		})
	})

	t.Run("TokensAreClaimedOnce", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		u := b.f.newUser(b.f.account(nil))
		t1, t2 := newToken(b, u, "h1"), newToken(b, u, "h2")
		t2.Purpose = canopy.PurposeReset
		b.write(t, func(ctx context.Context, tx store.Tx) {
			insertUser(t, ctx, tx, u)
			require.NoError(t, tx.InsertUserToken(ctx, t1))
			require.NoError(t, tx.InsertUserToken(ctx, t2))
		})
		requireConflict(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.InsertUserToken(ctx, newToken(b, u, "h1"))
		}), store.UniqueOther)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetUserTokenByHash(ctx, "h2")
			require.NoError(t, err)
			require.Equal(t, t2, got)
		})
		// Many claims of one token at once: exactly one succeeds.
		var wg sync.WaitGroup
		wins := make(chan struct{}, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.ClaimUserToken(ctx, t1.ID, at(9)) }) == nil {
					wins <- struct{}{}
				}
			}()
		}
		wg.Wait()
		require.Len(t, wins, 1)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.UsePersonTokens(ctx, u.PersonID, at(10)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			a, err := tx.GetUserTokenByHash(ctx, "h1")
			require.NoError(t, err)
			require.Equal(t, at(9), *a.UsedAt, "a used token keeps its first use")
			c, err := tx.GetUserTokenByHash(ctx, "h2")
			require.NoError(t, err)
			require.Equal(t, at(10), *c.UsedAt, "UsePersonTokens ends every other token of the person")
		})
	})

	t.Run("SessionsTouchAndRevoke", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		u := b.f.newUser(b.f.account(nil))
		s1, s2 := newSession(b, u, "s1"), newSession(b, u, "s2")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			insertUser(t, ctx, tx, u)
			require.NoError(t, tx.InsertSession(ctx, s1))
			require.NoError(t, tx.InsertSession(ctx, s2))
			require.NoError(t, tx.TouchSession(ctx, s1.ID, at(20)))
			require.NoError(t, tx.RevokeSession(ctx, s2.ID, at(21)))
		})
		require.ErrorIs(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.RevokeSession(ctx, s2.ID, at(22)) }),
			store.ErrNotFound, "revoking twice")
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetSessionByHash(ctx, "s1")
			require.NoError(t, err)
			require.Equal(t, at(20), got.LastSeenAt)
			require.Nil(t, got.RevokedAt)
			got, err = tx.GetSessionByHash(ctx, "s2")
			require.NoError(t, err)
			require.Equal(t, at(21), *got.RevokedAt)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.RevokePersonSessions(ctx, u.PersonID, at(30)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetSessionByHash(ctx, "s1")
			require.NoError(t, err)
			require.Equal(t, at(30), *got.RevokedAt)
			got, err = tx.GetSessionByHash(ctx, "s2")
			require.NoError(t, err)
			require.Equal(t, at(21), *got.RevokedAt, "an ended session keeps its end")
		})
	})

	t.Run("LoginFailuresCountAtomically", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.RecordLoginFailure(ctx, "ada", at(1))
					return err
				}))
			}()
		}
		wg.Wait()
		b.read(t, func(ctx context.Context, tx store.Tx) {
			a, err := tx.GetLoginAttempts(ctx, "ada")
			require.NoError(t, err)
			require.Equal(t, 20, a.Failures, "parallel failures are all counted")
			require.Nil(t, a.LockedUntil)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.LockLogin(ctx, "ada", at(99)))
			n, err := tx.RecordLoginFailure(ctx, "ada", at(2))
			require.NoError(t, err)
			require.Equal(t, 1, n, "a lock starts a new count")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			a, err := tx.GetLoginAttempts(ctx, "ada")
			require.NoError(t, err)
			require.Equal(t, at(99), *a.LockedUntil)
			require.Equal(t, at(2), a.LastFailureAt)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.DeleteLoginAttempts(ctx, "ada")) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetLoginAttempts(ctx, "ada")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})

	t.Run("OutboxClaimsLeasesAndOutcomes", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		var msgs []*canopy.OutboxMessage
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i := range 6 {
				m := b.f.newMessage(kid)
				m.NextAttemptAt = at(10 + i)
				msgs = append(msgs, m)
			}
			require.NoError(t, tx.InsertOutboxMessages(ctx, msgs...))
		})
		claim := func(now, lease time.Time, n int) []*canopy.OutboxMessage {
			var got []*canopy.OutboxMessage
			b.write(t, func(ctx context.Context, tx store.Tx) {
				var err error
				got, err = tx.ClaimOutbox(ctx, now, lease, n)
				require.NoError(t, err)
			})
			return got
		}
		first := claim(at(12), at(100), 10)
		require.ElementsMatch(t, []string{msgs[0].ID, msgs[1].ID, msgs[2].ID}, msgIDs(first), "only messages due at now")
		for _, m := range first {
			require.Equal(t, 1, m.Attempts, "a claim counts an attempt")
		}
		require.ElementsMatch(t, []string{msgs[3].ID, msgs[4].ID}, msgIDs(claim(at(14), at(100), 10)), "leased ones are skipped")
		require.Empty(t, claim(at(14), at(100), 10))
		again := claim(at(100), at(200), 3)
		require.Len(t, again, 3, "an expired lease can be claimed again")
		for _, m := range again {
			require.Equal(t, 2, m.Attempts)
		}

		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.MarkOutboxSent(ctx, []string{msgs[0].ID, msgs[1].ID}, at(101)))
			require.NoError(t, tx.MarkOutboxRetry(ctx, msgs[2].ID, at(150), "451 try later"))
			require.NoError(t, tx.MarkOutboxFailed(ctx, msgs[3].ID, "550 no such user"))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			sent, err := tx.GetOutboxMessage(ctx, msgs[0].ID)
			require.NoError(t, err)
			require.Equal(t, canopy.OutboxSent, sent.Status)
			require.Equal(t, at(101), *sent.SentAt)
			retry, err := tx.GetOutboxMessage(ctx, msgs[2].ID)
			require.NoError(t, err)
			require.Equal(t, canopy.OutboxPending, retry.Status)
			require.Equal(t, at(150), retry.NextAttemptAt)
			require.Equal(t, "451 try later", retry.LastError)
			failed, err := tx.GetOutboxMessage(ctx, msgs[3].ID)
			require.NoError(t, err)
			require.Equal(t, canopy.OutboxFailed, failed.Status)

			list, err := tx.ListOutbox(ctx, store.OutboxFilter{Subtree: kid.Path, Status: canopy.OutboxFailed, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []string{msgs[3].ID}, msgIDs(list))
			list, err = tx.ListOutbox(ctx, store.OutboxFilter{Subtree: kid.Path, Limit: 10})
			require.NoError(t, err)
			require.Len(t, list, 6)
			require.Equal(t, msgs[5].ID, list[0].ID, "newest first")
			list, err = tx.ListOutbox(ctx, store.OutboxFilter{Subtree: kid.Path, Before: msgs[2].ID, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []string{msgs[1].ID, msgs[0].ID}, msgIDs(list))
		})
		require.ElementsMatch(t, []string{msgs[4].ID, msgs[5].ID}, msgIDs(claim(at(149), at(10_000), 10)),
			"a retry waits for its time; failed and sent ones are never claimed; lapsed leases are")
		require.Equal(t, []string{msgs[2].ID}, msgIDs(claim(at(150), at(10_000), 10)))

		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.RequeueOutbox(ctx, msgs[3].ID, at(400))) })
		requeued := claim(at(400), at(500), 10)
		require.Equal(t, []string{msgs[3].ID}, msgIDs(requeued))
		require.Equal(t, 1, requeued[0].Attempts, "a requeued message starts its attempts again")
		require.ErrorIs(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.RequeueOutbox(ctx, msgs[0].ID, at(400))
		}), store.ErrNotFound, "a sent message is not requeued")
	})

	t.Run("ReleasedClaimsAreDueAgainUncounted", func(t *testing.T) {
		for _, q := range queues {
			t.Run(q.name, func(t *testing.T) {
				t.Parallel()
				_, b := setup(t, open)
				kid := b.f.account(b.f.account(nil))
				b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, q.insert(ctx, tx, b.f, kid, 2, at(10))) })
				claim := func(now time.Time) []claimed {
					var got []claimed
					b.write(t, func(ctx context.Context, tx store.Tx) {
						var err error
						got, err = q.claim(ctx, tx, now, now.Add(time.Minute))
						require.NoError(t, err)
					})
					return got
				}
				release := func(c claimed) error {
					return b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return q.release(ctx, tx, c.id, c.attempts) })
				}
				first := claim(at(20))
				require.Len(t, first, 2)
				require.NoError(t, release(first[0]))
				again := claim(at(21))
				require.Equal(t, []claimed{{first[0].id, 1}}, again,
					"a released message is due at once, before its lease would end, and the attempt it was not given is not counted")

				// The lease of the other ran out and another worker claimed it:
				// the first worker's late release leaves it to the second.
				later := claim(at(20).Add(2 * time.Minute))
				require.ElementsMatch(t, []claimed{{first[0].id, 2}, {first[1].id, 2}}, later)
				require.ErrorIs(t, release(first[1]), store.ErrNotFound)
				require.Empty(t, claim(at(20).Add(2*time.Minute+time.Second)), "still leased to the second worker")
				b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, q.sent(ctx, tx, later[0].id)) })
				require.ErrorIs(t, release(later[0]), store.ErrNotFound, "a sent message is not released")
			})
		}
	})

	t.Run("ConcurrentClaimsAreDisjoint", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		acc := b.f.account(nil)
		var msgs []*canopy.OutboxMessage
		for range 60 {
			msgs = append(msgs, b.f.newMessage(acc))
		}
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.InsertOutboxMessages(ctx, msgs...)) })
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
		)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var got []*canopy.OutboxMessage
					require.NoError(t, b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
						var err error
						got, err = tx.ClaimOutbox(ctx, at(1000), at(2000), 4)
						return err
					}))
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, seen, 60)
		for id, n := range seen {
			require.Equal(t, 1, n, "message %s claimed twice", id)
		}
	})
}

func newToken(b *testBundle, u *canopy.User, hash string) *canopy.UserToken {
	n := b.f.seq()
	return &canopy.UserToken{ID: b.f.id(canopy.PrefixToken), PersonID: u.PersonID, UserID: u.ID, Purpose: canopy.PurposeSetPassword,
		Email: canopy.NormalizeEmail(u.Person.Email), Hash: hash, CreatedAt: at(n), ExpiresAt: at(n + 100)}
}

func newSession(b *testBundle, u *canopy.User, hash string) *canopy.Session {
	n := b.f.seq()
	return &canopy.Session{ID: b.f.id(canopy.PrefixSession), PersonID: u.PersonID, UserID: u.ID, Hash: hash,
		CreatedAt: at(n), ExpiresAt: at(n + 100), LastSeenAt: at(n)}
}

func msgIDs(ms []*canopy.OutboxMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// claimed is a claimed message of either delivery queue.
type claimed struct {
	id       string
	attempts int
}

// queues are the two delivery queues (email, SMS), which claim, lease
// and release alike.
var queues = []struct {
	name    string
	insert  func(ctx context.Context, tx store.Tx, f *factory, acc *canopy.Account, n int, due time.Time) error
	claim   func(ctx context.Context, tx store.Tx, now, lease time.Time) ([]claimed, error)
	release func(ctx context.Context, tx store.Tx, id string, attempts int) error
	sent    func(ctx context.Context, tx store.Tx, id string) error
}{
	{
		name: "email",
		insert: func(ctx context.Context, tx store.Tx, f *factory, acc *canopy.Account, n int, due time.Time) error {
			var ms []*canopy.OutboxMessage
			for range n {
				m := f.newMessage(acc)
				m.NextAttemptAt = due
				ms = append(ms, m)
			}
			return tx.InsertOutboxMessages(ctx, ms...)
		},
		claim: func(ctx context.Context, tx store.Tx, now, lease time.Time) ([]claimed, error) {
			ms, err := tx.ClaimOutbox(ctx, now, lease, 10)
			var out []claimed
			for _, m := range ms {
				out = append(out, claimed{m.ID, m.Attempts})
			}
			return out, err
		},
		release: func(ctx context.Context, tx store.Tx, id string, attempts int) error {
			return tx.ReleaseOutbox(ctx, id, attempts)
		},
		sent: func(ctx context.Context, tx store.Tx, id string) error {
			return tx.MarkOutboxSent(ctx, []string{id}, at(200))
		},
	},
	{
		name: "sms",
		insert: func(ctx context.Context, tx store.Tx, f *factory, acc *canopy.Account, n int, due time.Time) error {
			var ms []*canopy.SMSMessage
			for range n {
				ms = append(ms, &canopy.SMSMessage{ID: f.id("sms"), BatchID: f.id("smb"), FormID: f.id(canopy.PrefixForm),
					AccountID: acc.ID, To: "+15551234567", Mode: canopy.SMSStructured, Body: "b", Status: canopy.OutboxPending,
					NextAttemptAt: due, ChargeEntryID: f.id(canopy.PrefixLedgerEntry), PayerID: acc.ID, CreatedAt: due})
			}
			return tx.InsertSMSMessages(ctx, ms...)
		},
		claim: func(ctx context.Context, tx store.Tx, now, lease time.Time) ([]claimed, error) {
			ms, err := tx.ClaimSMS(ctx, now, lease, 10)
			var out []claimed
			for _, m := range ms {
				out = append(out, claimed{m.ID, m.Attempts})
			}
			return out, err
		},
		release: func(ctx context.Context, tx store.Tx, id string, attempts int) error {
			return tx.ReleaseSMS(ctx, id, attempts)
		},
		sent: func(ctx context.Context, tx store.Tx, id string) error {
			return tx.MarkSMSSent(ctx, id, "SM1", at(200))
		},
	},
}
