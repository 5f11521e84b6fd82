package service_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

var lifecycleSteps = flag.Int("lifecycle.steps", 250, "random operations per engine in TestLifecycleNeverImposesOnAnyone")

// lifecycleOp is one random operation: who acts, what it does, and the
// accounts whose owners take part besides the acting account's own domain
// (an invitation's umbrella, whose offer the invitee accepts).
type lifecycleOp struct {
	actor   *string
	name    string
	partner string
	run     func() error
}

// TestLifecycleNeverImposesOnAnyone runs random sequences of creates,
// invitations and answers, moves, closes (both policies), suspensions,
// releases and leaves and link changes, and after each one checks rules 2,
// 8 and 9 (docs/rules.md) against the plain model of the tree: the tree
// stays acyclic and its paths follow the parents; a link changes only with
// the consent of both ends; nobody gets to see an account, or pays for
// one, unless the acting account took part for them.
func TestLifecycleNeverImposesOnAnyone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db, testfactory.Options{MaxDepth: 5})
		rng := rand.New(rand.NewPCG(11, uint64(len(db.Engine()))))
		// Each account's own credential, made when first needed (which
		// fails, like any write, in a suspended subtree).
		keys := map[string]service.Caller{}
		own := func(id string) (service.Caller, error) {
			if c, ok := keys[id]; ok {
				return c, nil
			}
			k, err := b.Svc.CreateAPIKey(ctx, b.As(t, id), id, "own")
			if err != nil {
				return service.Caller{}, err
			}
			keys[id] = b.AsKey(t, k.Secret, "")
			return keys[id], nil
		}
		for range 3 {
			top := b.ChildOn(t, b.Root.ID, canopy.PlanEnterprise)
			b.ChildOn(t, top.ID, canopy.PlanEnterprise)
			b.Child(t, top.ID)
		}
		pick := func(ids []string) string {
			if len(ids) == 0 {
				return ""
			}
			return ids[rng.IntN(len(ids))]
		}
		applied, refused := map[string]int{}, map[string]int{}
		for step := range *lifecycleSteps {
			before := testfactory.Snapshot(t, db)
			open := filter(before.Accounts(), func(a string) bool { return before.Status[a] != canopy.StatusClosed })
			invited := filter(open, func(a string) bool { return before.Link[a] != nil && before.Link[a].Origin == canopy.OriginInvited })
			// Operations mostly pick an actor and a target the rules let it
			// act on, so that most are allowed; sometimes any account, so
			// that refusals are exercised too.
			wild := func() bool { return rng.IntN(6) == 0 }
			actorOf := func(target string, least canopy.Reach) string {
				if wild() {
					return pick(open)
				}
				// The platform root acts on everything: it acts less often,
				// or it would be most of the actors.
				if a := pick(filter(open, func(a string) bool { return a != before.Root && before.Reach(a, target) >= least })); a != "" && rng.IntN(4) > 0 {
					return a
				}
				return pick(filter(open, func(a string) bool { return before.Reach(a, target) >= least }))
			}
			var target string
			mk := func(name, partner string, actor *string, run func(as service.Caller) error) lifecycleOp {
				return lifecycleOp{name: name, partner: partner, actor: actor, run: func() error { return run(b.As(t, *actor)) }}
			}
			x := pick(open)
			move, moveTo := pick(filter(open, func(a string) bool { return a != before.Root })), ""
			if len(invited) > 0 && rng.IntN(3) == 0 {
				move = pick(invited)
			}
			mover := actorOf(move, canopy.ReachAct)
			if !wild() {
				moveTo = pick(filter(open, func(a string) bool {
					return before.Reach(mover, a) == canopy.ReachAct && a != move && a != before.Parent[move] && !before.Below(a, move)
				}))
			} else {
				moveTo = pick(open)
			}
			// Closes mostly of accounts with children, often by themselves.
			closing := pick(filter(open, func(a string) bool { return a != before.Root }))
			if parents := filter(open, func(a string) bool { return a != before.Root && slices.Contains(before.Parents(), a) }); len(parents) > 0 && rng.IntN(4) > 0 {
				closing = pick(parents)
			}
			closer := closing
			if rng.IntN(2) == 0 {
				closer = actorOf(closing, canopy.ReachAct)
			}
			// An umbrella closed from above: its invited sub-accounts must
			// not be handed on.
			if umbrellas := filter(invited, func(a string) bool { return before.Below(a, before.Parent[before.Parent[a]]) }); len(umbrellas) > 0 && rng.IntN(2) == 0 {
				closing = before.Parent[pick(umbrellas)]
				closer = pick(filter(open, func(a string) bool {
					return a != closing && a != before.Root && before.Reach(a, closing) == canopy.ReachAct
				}))
			}
			suspending := pick(open)
			suspender := actorOf(suspending, canopy.ReachAct)
			lifting := pick(filter(open, func(a string) bool { return before.Status[a] == canopy.StatusSuspended }))
			lifter := actorOf(lifting, canopy.ReachAct)
			leaving := pick(invited)
			releaser := leaving
			if rng.IntN(2) == 0 {
				releaser = actorOf(leaving, canopy.ReachSee)
			}
			linked := pick(filter(open, func(a string) bool { return before.Link[a] != nil }))
			terms := actorOf(linked, canopy.ReachSee)
			ops := []lifecycleOp{
				mk("create", "", &x, func(as service.Caller) error {
					in := b.ChildInput()
					in.Account.Plan = []canopy.Plan{canopy.PlanBasic, canopy.PlanPro, canopy.PlanEnterprise}[rng.IntN(3)]
					_, err := b.Svc.CreateChild(ctx, as, in)
					return err
				}),
				mk("move", "", &mover, func(as service.Caller) error {
					target = move
					_, err := b.Svc.MoveAccount(ctx, as, move, moveTo)
					return err
				}),
				mk("close", "", &closer, func(as service.Caller) error {
					target = closing
					_, err := b.Svc.CloseAccount(ctx, as, closing, []string{"", service.ChildrenReparent, service.ChildrenReparent, service.ChildrenClose}[rng.IntN(4)])
					return err
				}),
				mk("suspend", "", &suspender, func(as service.Caller) error {
					target = suspending
					_, err := b.Svc.SetStatus(ctx, as, suspending, canopy.StatusSuspended)
					return err
				}),
				mk("reactivate", "", &lifter, func(as service.Caller) error {
					target = lifting
					_, err := b.Svc.SetStatus(ctx, as, lifting, canopy.StatusActive)
					return err
				}),
				mk("leave or release", "", &releaser, func(as service.Caller) error {
					target = leaving
					_, err := b.Svc.LeaveUmbrella(ctx, as, leaving)
					return err
				}),
				mk("change link terms", "", &terms, func(as service.Caller) error {
					target = linked
					role := []canopy.Role{canopy.RoleNone, canopy.RoleViewer, canopy.RoleDataManager, canopy.RoleEditor}[rng.IntN(4)]
					billing := []canopy.Billing{canopy.BillingParent, canopy.BillingSelf}[rng.IntN(2)]
					_, err := b.Svc.UpdateLink(ctx, as, linked, service.LinkPatch{AutoShareRole: &role, Billing: &billing})
					return err
				}),
			}
			if sub := pick(invited); sub != "" {
				ops = append(ops, lifecycleOp{name: "grant or withdraw delegated admin", actor: &sub, run: func() error {
					target = sub
					on := rng.IntN(2) == 0
					c, err := own(sub)
					if err != nil {
						return err
					}
					_, err = b.Svc.UpdateLink(ctx, c, sub, service.LinkPatch{DelegatedAdmin: &on})
					return err
				}})
			}
			// An invitation: an umbrella offers, a top-level account (not
			// above the umbrella) accepts with its own credential.
			u := pick(filter(open, func(a string) bool { return a != before.Root && before.Plan[a] == canopy.PlanEnterprise }))
			invitee := pick(filter(open, func(a string) bool {
				return before.Parent[a] == before.Root && a != u && (wild() || !before.Below(u, a))
			}))
			if u != "" && invitee != "" {
				ops = append(ops, lifecycleOp{name: "invite and accept", partner: u, actor: &invitee, run: func() error {
					target = invitee
					inv, err := b.Svc.CreateInvitation(ctx, b.As(t, u), service.InvitationInput{AccountID: invitee,
						AutoShareRole:  []canopy.Role{canopy.RoleNone, canopy.RoleViewer, canopy.RoleDataManager}[rng.IntN(3)],
						Billing:        []canopy.Billing{canopy.BillingParent, canopy.BillingSelf}[rng.IntN(2)],
						DelegatedAdmin: rng.IntN(2) == 0})
					if err != nil {
						return err
					}
					c, err := own(invitee)
					if err != nil {
						return err
					}
					_, err = b.Svc.AcceptInvitation(ctx, c, inv.ID)
					return err
				}})
			}
			// Creates and invitations grow the tree, closes shrink it.
			weights := map[string]int{"create": 4, "invite and accept": 4, "move": 2, "close": 2, "leave or release": 2, "change link terms": 2}
			var deck []lifecycleOp
			for _, op := range ops {
				for range max(1, weights[op.name]) {
					deck = append(deck, op)
				}
			}
			op := deck[rng.IntN(len(deck))]
			err := op.run()
			if err != nil {
				require.NotEqual(t, canopy.KindInternal, canopy.ErrorKind(err), "step %d, %s by %s: %v", step, op.name, *op.actor, err)
				refused[op.name+" "+canopy.ErrorCode(err)]++
				continue
			}
			applied[op.name]++
			after := testfactory.Snapshot(t, db)
			checkImposesNothing(t, fmt.Sprintf("step %d: %s by %s on %s", step, op.name, *op.actor, target), before, after, op)
		}
		t.Logf("applied: %v; refused: %v", applied, refused)
		require.GreaterOrEqual(t, len(applied), 7, "most kinds of operation took effect at least once: %v", applied)
	})
}

// checkImposesNothing compares the tree before and after one operation.
func checkImposesNothing(t *testing.T, what string, before, after *testfactory.Model, op lifecycleOp) {
	t.Helper()
	assertTreeModel(t, what, after)
	// The accounts whose owners took part: the acting account and every
	// account it acts on; for an invitation, the umbrella's side too.
	took := map[string]bool{}
	for _, a := range before.Accounts() {
		if before.Reach(*op.actor, a) == canopy.ReachAct || (op.partner != "" && before.Reach(op.partner, a) == canopy.ReachAct) {
			took[a] = true
		}
	}
	for _, a := range after.Accounts() {
		if _, existed := before.Parent[a]; !existed {
			took[a] = true // made by this operation
		}
	}
	for _, a := range before.Accounts() {
		was, is := before.Link[a], after.Link[a]
		if sameLink(was, is) && before.Parent[a] == after.Parent[a] {
			continue
		}
		// A link changes with both ends' consent: the account's side took
		// part, and so did its new parent's — or the account returns under
		// the platform root (released: sharing nothing, paying for itself),
		// or only its terms moved in its favour, from above.
		newParent := after.Parent[a]
		if was != nil && was.Origin == canopy.OriginInvited && newParent != before.Parent[a] && newParent != after.Root && *op.actor != before.Root {
			require.Failf(t, "an invited sub-account moved", "%s: %s moved from %s to %s: it is only ever released", what, a, before.Parent[a], newParent)
		}
		switch {
		case newParent == after.Root:
			require.Equal(t, canopy.RoleNone, is.AutoShareRole, "%s: %s under the platform root shares nothing", what, a)
			require.Equal(t, canopy.BillingSelf, is.Billing, "%s: %s under the platform root pays for itself", what, a)
		case took[a] && took[newParent]:
		case newParent == before.Parent[a] && *op.actor == a && is.Origin == was.Origin && is.AutoShareRole == was.AutoShareRole && is.Billing == was.Billing:
			// The sub-account grants or withdraws delegated admin.
		case newParent == before.Parent[a] && is.Origin == was.Origin && is.DelegatedAdmin == was.DelegatedAdmin && before.Reach(*op.actor, a) == canopy.ReachSee:
			require.LessOrEqual(t, is.AutoShareRole.Rank(), was.AutoShareRole.Rank(), "%s: %s's sharing raised over its head", what, a)
			require.False(t, was.Billing == canopy.BillingParent && is.Billing == canopy.BillingSelf, "%s: %s's costs handed back to it", what, a)
		default:
			require.Failf(t, "a link changed without consent", "%s: %s moved from %s (%+v) to %s (%+v)", what, a, before.Parent[a], was, newParent, is)
		}
	}
	for _, a := range after.Accounts() {
		if after.Status[a] == canopy.StatusClosed {
			continue
		}
		// Nobody new sees an account but through a link made with the
		// consent of the account's own side: an account agrees to be seen
		// by its umbrella and anyone above it, whoever they come to be.
		x, changed := changedLink(before, after, a)
		for _, v := range after.Accounts() {
			if after.Reach(v, a) != canopy.ReachNone && before.Reach(v, a) == canopy.ReachNone && !took[a] && !(changed && took[x]) {
				require.Failf(t, "an account is seen without consent", "%s: %s now sees %s", what, v, a)
			}
		}
		// Nobody pays for an account it did not pay for but through a
		// link made with its own side's consent.
		p := after.Payer(a)
		if p != before.Payer(a) && !took[p] && !paidThroughConsent(before, after, took, a, p) {
			require.Failf(t, "costs imposed", "%s: %s now pays for %s (was %s)", what, p, a, before.Payer(a))
		}
	}
}

// paidThroughConsent reports whether p came to pay for a through a link
// whose new parent took part and which p already paid for (or is itself):
// an umbrella's payer pays for what the umbrella agrees to pay for. An
// account under the platform root pays for itself (rule 9: a released
// sub-account returns paying for itself).
func paidThroughConsent(before, after *testfactory.Model, took map[string]bool, a, p string) bool {
	x, ok := changedLink(before, after, a)
	if !ok {
		return false
	}
	q := after.Parent[x]
	if q == after.Root {
		return p == x // released (or left): it pays for itself and what it paid for
	}
	return took[q] && (q == p || before.Payer(q) == p)
}

// changedLink finds the nearest account, from a up, whose link changed.
func changedLink(before, after *testfactory.Model, a string) (string, bool) {
	for x := a; x != ""; x = after.Parent[x] {
		if before.Parent[x] != after.Parent[x] || !sameLink(before.Link[x], after.Link[x]) {
			return x, true
		}
	}
	return "", false
}

func sameLink(a, b *canopy.Link) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Origin == b.Origin && a.AutoShareRole == b.AutoShareRole && a.Billing == b.Billing && a.DelegatedAdmin == b.DelegatedAdmin
}

// assertTreeModel checks that every account reaches the platform root by
// its parents, no deeper than the limit.
func assertTreeModel(t *testing.T, what string, m *testfactory.Model) {
	t.Helper()
	for _, a := range m.Accounts() {
		seen := map[string]bool{}
		for x := a; x != m.Root; x = m.Parent[x] {
			require.False(t, seen[x] || x == "", "%s: %s does not reach the root", what, a)
			seen[x] = true
		}
		require.LessOrEqual(t, len(seen), 5, "%s: %s is too deep", what, a)
	}
}

func filter(ids []string, keep func(string) bool) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(a string) bool { return !keep(a) })
}
