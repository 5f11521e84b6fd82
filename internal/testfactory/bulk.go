package testfactory

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// BulkSpec describes a large tree for BulkTree.
type BulkSpec struct {
	// Fanout[d] is how many children each account at depth d gets:
	// Fanout[0] children of the platform root, Fanout[1] children of each
	// of those, and so on; len(Fanout) is the depth of the tree.
	Fanout []int
	// Total caps the number of accounts created below the root (0: no
	// cap). Levels fill breadth first, so with a cap the deepest level is
	// partly filled: its first parents get their children, the rest none.
	Total int
	// BatchSize is how many accounts one transaction inserts (default
	// 5,000).
	BatchSize int
}

// LargeTree is the tree the descendants benchmarks measure: 100,000
// accounts below the platform root, 8 levels deep (the default depth
// limit). 20 top-level customers, each with 5 clients, who have 4 each,
// and so on down to 2; the cap leaves the eighth level partly filled
// (20, 100, 400, 1,600, 4,800, 14,400, 28,800 and 49,880 accounts).
func LargeTree() BulkSpec {
	return BulkSpec{Fanout: []int{20, 5, 4, 4, 3, 3, 2, 2}, Total: 100_000}
}

// BulkTree inserts a large tree below the root straight through the store,
// bypassing CreateChild, and returns the accounts level by level (the root
// at index 0), like Tree.
//
// It exists for benchmarks, which need trees of 100,000 accounts that
// CreateChild (one transaction with users, outbox messages and an audit
// event per account) would take minutes to build. The accounts are what
// CreateChild would store for the account row itself — a path below the
// parent's, the default link for the parent, status active, plan basic,
// a small metadata map — but they have no users, workflows, configurations,
// references, outbox messages or audit events. Do not use it to test
// behaviour that depends on those.
//
// Accounts of one level share one Metadata map: callers must not change
// it. On PostgreSQL the accounts table is analysed afterwards, as
// autovacuum would do within a minute of such a load in production;
// SQLite, which has no automatic statistics, is left as Canopy runs it.
func (b *Bundle) BulkTree(tb testing.TB, spec BulkSpec) [][]*canopy.Account {
	tb.Helper()
	ctx := context.Background()
	if spec.BatchSize <= 0 {
		spec.BatchSize = 5000
	}
	ids := canopy.NewIDs(b.Clock.Now, nil)
	now := canopy.Now(b.Clock.Now)
	metadata := map[string]string{"region": "eu-west-1", "segment": "smb", "source": "bulk-fixture"}

	levels := [][]*canopy.Account{{b.Root}}
	created := 0
	var batch []*canopy.Account
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := b.Store.Write(ctx, func(tx store.Tx) error {
			for _, a := range batch {
				if err := tx.InsertAccount(ctx, a); err != nil {
					return fmt.Errorf("insert %s at depth %d: %w", a.ID, a.Depth(), err)
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk tree: %v", err)
		}
		batch = batch[:0]
	}
	full := func() bool { return spec.Total > 0 && created >= spec.Total }
	for d, fanout := range spec.Fanout {
		var level []*canopy.Account
		for _, parent := range levels[d] {
			for range fanout {
				if full() {
					break
				}
				id := ids.New(canopy.PrefixAccount)
				n := created + 1
				a := &canopy.Account{
					ID: id, ParentID: parent.ID, Path: parent.Path.Child(id),
					Name: fmt.Sprintf("Bulk account %d", n), Email: fmt.Sprintf("ops%d@bulk.example", n),
					Plan: canopy.PlanBasic, Status: canopy.StatusActive, Metadata: metadata,
					Link:      canopy.DefaultLink(parent, canopy.OriginCreated, now),
					CreatedAt: now, UpdatedAt: now,
				}
				level = append(level, a)
				batch = append(batch, a)
				created++
				if len(batch) >= spec.BatchSize {
					flush()
				}
			}
		}
		if len(level) == 0 {
			break
		}
		levels = append(levels, level)
	}
	flush()

	if b.Store.Engine() == "postgres" {
		if p, ok := b.Store.(interface{ WritePool() *sql.DB }); ok {
			if _, err := p.WritePool().ExecContext(ctx, "ANALYZE accounts"); err != nil {
				tb.Fatalf("bulk tree: analyze: %v", err)
			}
		}
	}
	return levels
}

// BulkFormSpec describes the forms BulkForms creates.
type BulkFormSpec struct {
	// PerAccount is how many forms each account owns.
	PerAccount int
	// SharedFraction of the forms get one explicit share, with a random
	// role (none included), to a random ancestor of the owner up to Top,
	// or to a random descendant.
	SharedFraction float64
	// ExampleFraction of the forms are examples.
	ExampleFraction float64
	// Top is the highest account shares go to (the umbrella of the data
	// set); nil for no limit below the root.
	Top *canopy.Account
	// BatchSize is how many forms one transaction inserts (default 10,000).
	BatchSize int
	// Progress, when set, is called after each batch with the forms so
	// far and the total.
	Progress func(done, total int)
}

// BulkFormsResult is what BulkForms made.
type BulkFormsResult struct {
	Forms  []*canopy.Form // in insertion order, PerAccount per account in turn
	Shares int
}

// bulkQuestions are the five questions of every bulk form.
var bulkQuestions = []canopy.Question{
	{ID: "site", Label: "Site", Type: canopy.QuestionText, Required: true},
	{ID: "visitors", Label: "Visitors", Type: canopy.QuestionNumber},
	{ID: "weather", Label: "Weather", Type: canopy.QuestionChoice, Options: []string{"sun", "cloud", "rain"}},
	{ID: "date", Label: "Date", Type: canopy.QuestionDate, Required: true},
	{ID: "where", Label: "Where", Type: canopy.QuestionLocation},
}

// BulkForms inserts forms (and explicit shares) for the accounts straight
// through the store, as BulkTree does accounts: for benchmarks only. Every
// form has the same five questions. The choices are random but seeded, so
// two runs build the same shape.
func (b *Bundle) BulkForms(tb testing.TB, accounts []*canopy.Account, spec BulkFormSpec) BulkFormsResult {
	tb.Helper()
	ctx := context.Background()
	if spec.BatchSize <= 0 {
		spec.BatchSize = 10_000
	}
	ids := canopy.NewIDs(b.Clock.Now, nil)
	now := canopy.Now(b.Clock.Now)
	rng := rand.New(rand.NewPCG(1, 2))
	questions := bulkQuestions
	// Descendants of each account, for shares downward.
	below := map[string][]*canopy.Account{}
	for _, a := range accounts {
		ids := a.Path.IDs()
		for _, up := range ids[:len(ids)-1] {
			below[up] = append(below[up], a)
		}
	}
	roles := []canopy.Role{canopy.RoleEditor, canopy.RoleDataManager, canopy.RoleViewer, canopy.RoleNone}
	shareTarget := func(owner *canopy.Account) string {
		path := owner.Path.IDs()
		ancestors := path[:len(path)-1]
		if spec.Top != nil {
			for i, id := range ancestors {
				if id == spec.Top.ID {
					ancestors = ancestors[i:]
					break
				}
			}
		}
		down := below[owner.ID]
		n := len(ancestors) + len(down)
		if n == 0 {
			return ""
		}
		i := rng.IntN(n)
		if i < len(ancestors) {
			return ancestors[i]
		}
		return down[i-len(ancestors)].ID
	}

	total := len(accounts) * spec.PerAccount
	out := BulkFormsResult{Forms: make([]*canopy.Form, 0, total)}
	var forms []*canopy.Form
	var shares []*canopy.Share
	flush := func() {
		err := b.Store.Write(ctx, func(tx store.Tx) error {
			for _, f := range forms {
				if err := tx.InsertForm(ctx, f); err != nil {
					return fmt.Errorf("insert form: %w", err)
				}
			}
			for _, s := range shares {
				if err := tx.PutShare(ctx, s); err != nil {
					return fmt.Errorf("insert share: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk forms: %v", err)
		}
		out.Shares += len(shares)
		forms, shares = forms[:0], shares[:0]
		if spec.Progress != nil {
			spec.Progress(len(out.Forms), total)
		}
	}
	for _, a := range accounts {
		for i := range spec.PerAccount {
			f := &canopy.Form{
				ID: ids.New(canopy.PrefixForm), OwnerID: a.ID, OwnerPath: a.Path,
				Name: fmt.Sprintf("Inspection %d", i+1), Description: "Weekly site inspection",
				Questions: questions, Example: rng.Float64() < spec.ExampleFraction,
				Version: 1, CreatedAt: now, UpdatedAt: now,
			}
			forms = append(forms, f)
			out.Forms = append(out.Forms, f)
			if rng.Float64() < spec.SharedFraction {
				if to := shareTarget(a); to != "" {
					shares = append(shares, &canopy.Share{FormID: f.ID, AccountID: to, Role: roles[rng.IntN(len(roles))], CreatedAt: now, UpdatedAt: now})
				}
			}
			if len(forms) >= spec.BatchSize {
				flush()
			}
		}
	}
	flush()
	if b.Store.Engine() == "postgres" {
		if p, ok := b.Store.(interface{ WritePool() *sql.DB }); ok {
			for _, table := range []string{"forms", "form_shares"} {
				if _, err := p.WritePool().ExecContext(ctx, "ANALYZE "+table); err != nil {
					tb.Fatalf("bulk forms: analyze %s: %v", table, err)
				}
			}
		}
	}
	return out
}
