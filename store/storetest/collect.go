package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// testCollect: form codes, SMS collectors, conversations, the opt-out list,
// inbound message ids and web links keep what the CollectTx contract
// promises, and the counters that guard caps and retries hold under
// concurrency.
func testCollect(t *testing.T, open Opener) {
	t.Run("TryUndoesOnlyWhatFailed", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		refused := errors.New("refused")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000001", at(1)))
			err := tx.Try(ctx, func() error {
				require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000002", at(1)))
				// A statement the database refuses, as a unique violation
				// does: PostgreSQL would abort the whole transaction.
				ok, err := tx.ClaimInboundSMS(ctx, "SM1", "+15550000002", at(1))
				require.True(t, ok)
				require.NoError(t, err)
				require.Error(t, tx.PutSMSConversation(ctx, &canopy.SMSConversation{Number: "+1", FormID: "frm_x", StartedAt: at(1), UpdatedAt: at(1)}))
				return refused
			})
			require.ErrorIs(t, err, refused)
			require.NoError(t, tx.Try(ctx, func() error {
				return tx.PutSMSOptOut(ctx, "+15550000003", at(1))
			}))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.OptedOut(ctx, []string{"+15550000001", "+15550000002", "+15550000003"})
			require.NoError(t, err)
			require.Equal(t, []string{"+15550000001", "+15550000003"}, got, "the failed try left nothing; the rest stayed")
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.ClaimInboundSMS(ctx, "SM1", "+1", at(2))
			require.NoError(t, err)
			require.True(t, ok, "the failed try's claim was undone")
		})
	})

	t.Run("NestedTriesUndoTheirOwn", func(t *testing.T) {
		// Savepoints open only when a statement runs inside them: a try
		// that ran none, around or within one that did, still undoes
		// exactly its own statements.
		t.Parallel()
		_, b := setup(t, open)
		refused := errors.New("refused")
		put := func(ctx context.Context, tx store.Tx, n string) {
			require.NoError(t, tx.PutSMSOptOut(ctx, "+1555000010"+n, at(1)))
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.ErrorIs(t, tx.Try(ctx, func() error { return refused }), refused, "a try that ran nothing")
			require.ErrorIs(t, tx.Try(ctx, func() error {
				require.ErrorIs(t, tx.Try(ctx, func() error { put(ctx, tx, "1"); return refused }), refused)
				put(ctx, tx, "2")
				return refused
			}), refused, "an empty outer try, a failed inner one")
			require.ErrorIs(t, tx.Try(ctx, func() error {
				put(ctx, tx, "3")
				require.NoError(t, tx.Try(ctx, func() error { put(ctx, tx, "4"); return nil }))
				return refused
			}), refused, "an outer try that fails takes its inner one's rows too")
			require.NoError(t, tx.Try(ctx, func() error {
				require.NoError(t, tx.Try(ctx, func() error { return nil }))
				require.NoError(t, tx.Try(ctx, func() error { put(ctx, tx, "5"); return nil }))
				return nil
			}))
			require.ErrorIs(t, tx.Try(ctx, func() error {
				require.NoError(t, tx.Try(ctx, func() error { put(ctx, tx, "6"); return nil }))
				return refused
			}), refused, "an outer try that ran nothing itself still undoes its inner one")
			put(ctx, tx, "7")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			var all []string
			for n := range 8 {
				all = append(all, fmt.Sprintf("+1555000010%d", n))
			}
			got, err := tx.OptedOut(ctx, all)
			require.NoError(t, err)
			require.Equal(t, []string{"+15550000105", "+15550000107"}, got)
		})
	})

	t.Run("FormCodesAreUniqueAndOnePerForm", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f, g, h := b.form(t, owner), b.form(t, owner), b.form(t, owner)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.InsertFormCode(ctx, f.ID, "HIVINFO", at(1))
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = tx.InsertFormCode(ctx, g.ID, "HIVINFO", at(2))
			require.NoError(t, err)
			require.False(t, ok, "another form holds the code")
			ok, err = tx.InsertFormCode(ctx, f.ID, "OTHER", at(2))
			require.NoError(t, err)
			require.False(t, ok, "the form has a code")
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.SetFormCode(ctx, g.ID, "HIVINFO", at(3)) })
		requireConflict(t, err, store.UniqueFormCode)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.SetFormCode(ctx, f.ID, "SURVEY2", at(4)))
			require.NoError(t, tx.SetFormCode(ctx, g.ID, "HIVINFO", at(4)), "the old code is free again")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			code, err := tx.GetFormCode(ctx, f.ID)
			require.NoError(t, err)
			require.Equal(t, "SURVEY2", code)
			code, err = tx.GetFormCode(ctx, g.ID)
			require.NoError(t, err)
			require.Equal(t, "HIVINFO", code)
			_, err = tx.GetFormCode(ctx, h.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "no code yet")
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.DeleteForm(ctx, g.ID))
			ok, err := tx.InsertFormCode(ctx, h.ID, "HIVINFO", at(5))
			require.NoError(t, err)
			require.True(t, ok, "a deleted form's code goes with it")
		})
	})

	t.Run("CollectorsCarryTheirState", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f, g := b.form(t, owner), b.form(t, owner)
		msg := func(id string, status canopy.OutboxStatus) *canopy.SMSMessage {
			return &canopy.SMSMessage{ID: id, BatchID: "smb_1", FormID: f.ID, AccountID: owner.ID, To: "+15550000001",
				Mode: canopy.SMSStructured, Body: "hi", Status: status, NextAttemptAt: at(1), ChargeEntryID: "led_1", PayerID: owner.ID, CreatedAt: at(1)}
		}
		col := func(form *canopy.Form, number string, mode canopy.SMSMode, messageID string, n int) *canopy.SMSCollector {
			return &canopy.SMSCollector{FormID: form.ID, Number: number, Mode: mode, AccountID: owner.ID, Message: "Welcome ✓",
				MessageID: messageID, CreatedAt: at(n), UpdatedAt: at(n)}
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertSMSMessages(ctx, msg("sms_p", canopy.OutboxPending), msg("sms_f", canopy.OutboxFailed), msg("sms_s", canopy.OutboxSent)))
			for _, c := range []*canopy.SMSCollector{
				col(f, "+15550000001", canopy.SMSStructured, "sms_p", 1),
				col(f, "+15550000002", canopy.SMSInteractive, "sms_f", 2),
				col(f, "+15550000003", canopy.SMSStructured, "sms_s", 3),
				col(f, "+15550000004", canopy.SMSStructured, "", 4),
				col(g, "+15550000001", canopy.SMSInteractive, "", 5),
			} {
				require.NoError(t, tx.PutSMSCollector(ctx, c))
			}
			require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000004", at(6)))
			require.NoError(t, tx.SetFormCode(ctx, g.ID, "GCODE", at(6)))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetSMSCollector(ctx, f.ID, "+15550000001")
			require.NoError(t, err)
			want := col(f, "+15550000001", canopy.SMSStructured, "sms_p", 1)
			want.State = canopy.CollectorPending
			require.Equal(t, want, got)
			_, err = tx.CollectorByCode(ctx, "FCODE", "+15550000001")
			require.ErrorIs(t, err, store.ErrNotFound, "no form has the code yet")
			states := map[string]canopy.CollectorState{}
			all := all(t, 2, func(p store.Page) []*canopy.SMSCollector {
				cs, err := tx.ListSMSCollectors(ctx, f.ID, "", p)
				require.NoError(t, err)
				return cs
			}, func(c *canopy.SMSCollector) string { return c.Number })
			for _, c := range all {
				states[c.Number] = c.State
			}
			require.Equal(t, map[string]canopy.CollectorState{
				"+15550000001": canopy.CollectorPending, "+15550000002": canopy.CollectorFailed,
				"+15550000003": canopy.CollectorActive, "+15550000004": canopy.CollectorOptedOut,
			}, states, "by number, across pages")
			inter, err := tx.ListSMSCollectors(ctx, f.ID, canopy.SMSInteractive, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, inter, 1)
			require.Equal(t, "+15550000002", inter[0].Number)
			counts, err := tx.CountSMSCollectors(ctx, f.ID)
			require.NoError(t, err)
			require.Equal(t, map[canopy.SMSMode]int{canopy.SMSStructured: 3, canopy.SMSInteractive: 1}, counts)
			of, err := tx.CollectorsOf(ctx, "+15550000001")
			require.NoError(t, err)
			require.Len(t, of, 2)
			require.Equal(t, []string{g.ID, f.ID}, []string{of[0].FormID, of[1].FormID}, "the most recently changed first")
			many, err := tx.CollectorsByCode(ctx, []store.CodeNumber{{Code: "GCODE", Number: "+15550000002"}, {Code: "GCODE", Number: "+15550000001"},
				{Code: "NOPE", Number: "+15550000001"}})
			require.NoError(t, err)
			require.Len(t, many, 1, "pairs without a collector are left out")
			require.Equal(t, "GCODE", many[0].Code)
			require.Equal(t, g.ID, many[0].Collector.FormID)
			require.Equal(t, "+15550000001", many[0].Collector.Number)
			// More pairs than one statement takes: the one collector is in
			// the last statement's pairs.
			pairs := make([]store.CodeNumber, 0, 70)
			for i := range 69 {
				pairs = append(pairs, store.CodeNumber{Code: "GCODE", Number: fmt.Sprintf("+1555100%04d", i)})
			}
			many, err = tx.CollectorsByCode(ctx, append(pairs, store.CodeNumber{Code: "GCODE", Number: "+15550000001"}))
			require.NoError(t, err)
			require.Len(t, many, 1)
			require.Equal(t, g.ID, many[0].Collector.FormID)
			byCode, err := tx.CollectorByCode(ctx, "GCODE", "+15550000001")
			require.NoError(t, err)
			require.Equal(t, g.ID, byCode.FormID)
			require.Equal(t, canopy.SMSInteractive, byCode.Mode)
			_, err = tx.CollectorByCode(ctx, "GCODE", "+15550000002")
			require.ErrorIs(t, err, store.ErrNotFound, "a number that collects for another form")
			numbers, err := tx.AccountCollectorNumbers(ctx, owner.ID, 10)
			require.NoError(t, err)
			require.Equal(t, []string{"+15550000001", "+15550000002", "+15550000003", "+15550000004"}, numbers, "each number once")
			numbers, err = tx.AccountCollectorNumbers(ctx, owner.ID, 1)
			require.NoError(t, err)
			require.Len(t, numbers, 1)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			noticed := at(7)
			require.NoError(t, tx.SetCollectorNoticed(ctx, f.ID, "+15550000003", &noticed))
			got, err := tx.GetSMSCollector(ctx, f.ID, "+15550000003")
			require.NoError(t, err)
			require.Equal(t, &noticed, got.NoticedAt)
			require.ErrorIs(t, tx.SetCollectorNoticed(ctx, g.ID, "+15550000003", &noticed), store.ErrNotFound)
			// Authorising it again changes its mode and message and forgets the notice.
			again := col(f, "+15550000003", canopy.SMSInteractive, "", 8)
			again.Message = "Again"
			require.NoError(t, tx.PutSMSCollector(ctx, again))
			got, err = tx.GetSMSCollector(ctx, f.ID, "+15550000003")
			require.NoError(t, err)
			require.Equal(t, canopy.SMSInteractive, got.Mode)
			require.Equal(t, "Again", got.Message)
			require.Nil(t, got.NoticedAt)
			require.Equal(t, at(3), got.CreatedAt, "created once")
			require.Equal(t, at(8), got.UpdatedAt)
			require.NoError(t, tx.DeleteSMSCollector(ctx, f.ID, "+15550000003"))
			require.ErrorIs(t, tx.DeleteSMSCollector(ctx, f.ID, "+15550000003"), store.ErrNotFound)
			_, err = tx.GetSMSCollector(ctx, f.ID, "+15550000003")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.DeleteForm(ctx, f.ID)) })
		b.read(t, func(ctx context.Context, tx store.Tx) {
			of, err := tx.CollectorsOf(ctx, "+15550000001")
			require.NoError(t, err)
			require.Len(t, of, 1, "a deleted form's collectors go with it")
		})
	})

	t.Run("ConversationsContinueAndExpire", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f, g := b.form(t, owner), b.form(t, owner)
		const number = "+15550000001"
		conv := func(form *canopy.Form, q, n int) *canopy.SMSConversation {
			return &canopy.SMSConversation{Number: number, FormID: form.ID, Question: q,
				Answers: map[string]json.RawMessage{"name": json.RawMessage(`"Ada ✓"`)}, StartedAt: at(1), UpdatedAt: at(n)}
		}
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error { return tx.PutSMSConversation(ctx, conv(f, 0, 1)) })
		require.Error(t, err, "a conversation needs its collector")
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, form := range []*canopy.Form{f, g} {
				require.NoError(t, tx.PutSMSCollector(ctx, &canopy.SMSCollector{FormID: form.ID, Number: number, Mode: canopy.SMSInteractive,
					AccountID: owner.ID, CreatedAt: at(1), UpdatedAt: at(1)}))
			}
			require.NoError(t, tx.PutSMSConversation(ctx, conv(f, 0, 10)))
			require.NoError(t, tx.PutSMSConversation(ctx, conv(g, 0, 20)))
			require.NoError(t, tx.PutSMSConversation(ctx, conv(f, 1, 30)), "continued")
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetSMSConversation(ctx, f.ID, number)
			require.NoError(t, err)
			require.Equal(t, conv(f, 1, 30), got)
			latest, err := tx.LatestSMSConversation(ctx, number, at(25))
			require.NoError(t, err)
			require.Equal(t, f.ID, latest.FormID)
			_, err = tx.LatestSMSConversation(ctx, number, at(31))
			require.ErrorIs(t, err, store.ErrNotFound, "idle since before since")
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.DeleteIdleSMSConversations(ctx, at(25))
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			_, err = tx.GetSMSConversation(ctx, g.ID, number)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, tx.PutSMSConversation(ctx, conv(g, 0, 40)))
			require.NoError(t, tx.DeleteSMSConversations(ctx, number, g.ID))
			_, err = tx.GetSMSConversation(ctx, f.ID, number)
			require.NoError(t, err, "only the named form's")
			require.NoError(t, tx.PutSMSConversation(ctx, conv(g, 0, 40)))
			require.NoError(t, tx.DeleteSMSConversations(ctx, number, ""))
			_, err = tx.LatestSMSConversation(ctx, number, at(0))
			require.ErrorIs(t, err, store.ErrNotFound, "all of the number's")
			require.NoError(t, tx.PutSMSConversation(ctx, conv(f, 0, 50)))
			require.NoError(t, tx.DeleteSMSCollector(ctx, f.ID, number))
			_, err = tx.GetSMSConversation(ctx, f.ID, number)
			require.ErrorIs(t, err, store.ErrNotFound, "a conversation goes with its collector")
		})
	})

	t.Run("OptOutsAndInboundIDs", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000001", at(1)))
			require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000001", at(2)), "again: no change")
			require.NoError(t, tx.PutSMSOptOut(ctx, "+15550000002", at(2)))
			got, err := tx.OptedOut(ctx, []string{"+15550000003", "+15550000002", "+15550000001"})
			require.NoError(t, err)
			require.Equal(t, []string{"+15550000001", "+15550000002"}, got)
			require.NoError(t, tx.DeleteSMSOptOut(ctx, "+15550000001"))
			require.NoError(t, tx.DeleteSMSOptOut(ctx, "+15550000001"), "absent: no change")
			got, err = tx.OptedOut(ctx, []string{"+15550000001", "+15550000002"})
			require.NoError(t, err)
			require.Equal(t, []string{"+15550000002"}, got)
			got, err = tx.OptedOut(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, got)

			ok, err := tx.ClaimInboundSMS(ctx, "SM1", "+15550000001", at(1))
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = tx.ClaimInboundSMS(ctx, "SM1", "+15550000001", at(2))
			require.NoError(t, err)
			require.False(t, ok, "a retry of the same message")
			_, err = tx.ClaimInboundSMS(ctx, "SM2", "+15550000001", at(5))
			require.NoError(t, err)
			claims := make([]store.InboundClaim, 70)
			for i := range claims {
				claims[i] = store.InboundClaim{SID: fmt.Sprintf("SMbulk%02d", i), From: "+15550000001"}
			}
			claims[69].SID = "SM1" // taken in before
			got, err = tx.ClaimInboundSMSs(ctx, claims, at(5))
			require.NoError(t, err)
			require.Len(t, got, 69, "all but the one taken before")
			require.NotContains(t, got, "SM1")
			got, err = tx.ClaimInboundSMSs(ctx, claims[:3], at(5))
			require.NoError(t, err)
			require.Empty(t, got, "a retry of them")
			n, err := tx.DeleteInboundSMSBefore(ctx, at(3))
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			ok, err = tx.ClaimInboundSMS(ctx, "SM1", "+15550000001", at(6))
			require.NoError(t, err)
			require.True(t, ok, "forgotten")
		})
		// Concurrent claims of one id: exactly one wins, the others wait and
		// see it taken.
		require.Equal(t, 1, concurrentWins(t, b, 8, func(ctx context.Context, tx store.Tx, i int) (bool, error) {
			return tx.ClaimInboundSMS(ctx, "SM-race", "+15550000001", at(i))
		}))
	})

	t.Run("RecordsAndAuditEventsInBulk", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f := b.form(t, owner)
		recs := make([]*canopy.Record, 75) // 64 + 8 + 2 + 1: every group size
		events := make([]*canopy.AuditEvent, 75)
		for i := range recs {
			recs[i] = &canopy.Record{ID: b.f.id(canopy.PrefixRecord), FormID: f.ID, AccountID: owner.ID,
				Answers: map[string]json.RawMessage{"name": json.RawMessage(`"Ada ✓"`)}, Version: 1, CreatedBy: "sms:+15550000001",
				CreatedAt: at(i), UpdatedAt: at(i)}
			events[i] = b.f.newEvent(owner, "record.created", recs[i].ID)
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.InsertRecords(ctx, recs))
			require.NoError(t, tx.InsertAuditEvents(ctx, events))
			require.NoError(t, tx.InsertRecords(ctx, nil))
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got := all(t, 50, func(p store.Page) []*canopy.Record {
				rs, err := tx.ListRecords(ctx, f.ID, time.Time{}, time.Time{}, p)
				require.NoError(t, err)
				return rs
			}, func(r *canopy.Record) string { return r.ID })
			require.Equal(t, recs, got)
			evs, err := tx.ListAuditEvents(ctx, store.AuditFilter{Subtree: owner.Path, Limit: 100})
			require.NoError(t, err)
			require.Len(t, evs, 75)
			for i, e := range evs {
				require.Equal(t, events[74-i].ID, e.ID, "newest first")
				require.Equal(t, events[74-i].TargetID, e.TargetID)
			}
		})
	})

	t.Run("FormLinksRevokeAndCapSubmissions", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		owner := b.f.account(b.f.account(nil))
		f := b.form(t, owner)
		three, expires := 3, at(100)
		links := make([]*canopy.FormLink, 3)
		for i := range links {
			links[i] = &canopy.FormLink{ID: b.f.id(canopy.PrefixFormLink), FormID: f.ID, AccountID: owner.ID,
				Token: canopy.LinkTokenPrefix + b.f.id("t"), CreatedAt: at(i)}
		}
		links[0].MaxSubmissions, links[0].ExpiresAt = &three, &expires
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for _, l := range links {
				require.NoError(t, tx.InsertFormLink(ctx, l))
			}
		})
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetFormLink(ctx, links[0].ID)
			require.NoError(t, err)
			require.Equal(t, links[0], got)
			got, err = tx.GetFormLinkByToken(ctx, links[1].Token)
			require.NoError(t, err)
			require.Equal(t, links[1], got)
			_, err = tx.GetFormLinkByToken(ctx, "cnf_unknown")
			require.ErrorIs(t, err, store.ErrNotFound)
			listed := all(t, 2, func(p store.Page) []*canopy.FormLink {
				ls, err := tx.ListFormLinks(ctx, f.ID, p)
				require.NoError(t, err)
				return ls
			}, func(l *canopy.FormLink) string { return l.ID })
			require.Equal(t, links, listed)
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.RevokeFormLink(ctx, links[1].ID, at(5)))
			require.ErrorIs(t, tx.RevokeFormLink(ctx, links[1].ID, at(6)), store.ErrNotFound, "once")
			got, err := tx.GetFormLink(ctx, links[1].ID)
			require.NoError(t, err)
			require.Equal(t, at(5), *got.RevokedAt)
		})
		// Twenty concurrent submissions through a link capped at three:
		// three are counted.
		require.Equal(t, 3, concurrentWins(t, b, 20, func(ctx context.Context, tx store.Tx, _ int) (bool, error) {
			return tx.CountFormLinkSubmission(ctx, links[0].ID)
		}))
		b.write(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetFormLink(ctx, links[0].ID)
			require.NoError(t, err)
			require.Equal(t, 3, got.Submissions)
			ok, err := tx.CountFormLinkSubmission(ctx, links[2].ID)
			require.NoError(t, err)
			require.True(t, ok, "no cap")
		})
	})
}

// concurrentWins runs try n times at once, each in a write transaction of
// its own, and counts the tries that reported a win.
func concurrentWins(t *testing.T, b *testBundle, n int, try func(ctx context.Context, tx store.Tx, i int) (bool, error)) int {
	t.Helper()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			require.NoError(t, b.st.Write(t.Context(), func(tx store.Tx) error {
				ok, err := try(t.Context(), tx, i)
				if ok {
					wins.Add(1)
				}
				return err
			}))
		})
	}
	wg.Wait()
	return int(wins.Load())
}
