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

// LevelsSpec describes a random tree and its forms for BulkLevels: the
// shape of the data set issue benchmarks compare with OpenFGA.
type LevelsSpec struct {
	// Levels[d] is how many accounts depth d+1 has; each hangs under a
	// random account of the level above (the first level under the
	// platform root).
	Levels []int
	// Forms are owned by random accounts of the tree.
	Forms int
	// Viewers and Editors are how many explicit shares of each role go
	// to a random ancestor (below the root) or descendant of a random
	// form's owner — whom rule 5 (docs/rules.md) lets an owner share with.
	Viewers, Editors int
	Seed             uint64
}

// OpenFGALevels is the data set the comparison with OpenFGA used:
// 5,000 accounts nine levels deep, 50,000 forms, 10,000 viewer and 5,000
// editor shares. It needs a depth limit of at least 9 (Options.MaxDepth).
func OpenFGALevels() LevelsSpec {
	return LevelsSpec{Levels: []int{1, 3, 9, 27, 80, 220, 560, 1300, 2800}, Forms: 50_000, Viewers: 10_000, Editors: 5_000, Seed: 17}
}

// LevelsData is what BulkLevels made.
type LevelsData struct {
	Levels [][]*canopy.Account // level by level, the root at index 0
	Forms  []*canopy.Form
	Shares int
}

// BulkLevels inserts the tree, forms and shares of spec straight through
// the store, as BulkTree and BulkForms do: for benchmarks only (accounts
// without users; see BulkTree). The choices are seeded, so two runs build
// the same shape.
func (b *Bundle) BulkLevels(tb testing.TB, spec LevelsSpec) LevelsData {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(spec.Seed, 9))
	ids := canopy.NewIDs(b.Clock.Now, nil)
	now := canopy.Now(b.Clock.Now)
	metadata := map[string]string{"source": "bulk-levels"}

	out := LevelsData{Levels: [][]*canopy.Account{{b.Root}}}
	var all []*canopy.Account
	n := 0
	for _, count := range spec.Levels {
		above := out.Levels[len(out.Levels)-1]
		level := make([]*canopy.Account, 0, count)
		for range count {
			parent := above[rng.IntN(len(above))]
			id := ids.New(canopy.PrefixAccount)
			n++
			level = append(level, &canopy.Account{
				ID: id, ParentID: parent.ID, Path: parent.Path.Child(id),
				Name: fmt.Sprintf("Levels account %d", n), Email: fmt.Sprintf("ops%d@levels.example", n),
				Plan: canopy.PlanBasic, Status: canopy.StatusActive, Metadata: metadata,
				Link:      canopy.DefaultLink(parent, canopy.OriginCreated, now),
				CreatedAt: now, UpdatedAt: now,
			})
		}
		out.Levels = append(out.Levels, level)
		all = append(all, level...)
	}
	b.bulkWrite(tb, "accounts", len(all), 5000, func(tx store.Tx, i int) error { return tx.InsertAccount(ctx, all[i]) })

	out.Forms = make([]*canopy.Form, spec.Forms)
	for i := range out.Forms {
		owner := all[rng.IntN(len(all))]
		out.Forms[i] = &canopy.Form{
			ID: ids.New(canopy.PrefixForm), OwnerID: owner.ID, OwnerPath: owner.Path,
			Name: fmt.Sprintf("Inspection %d", i+1), Description: "Weekly site inspection",
			Questions: bulkQuestions, Version: 1, CreatedAt: now, UpdatedAt: now,
		}
	}
	b.bulkWrite(tb, "forms", len(out.Forms), 10_000, func(tx store.Tx, i int) error { return tx.InsertForm(ctx, out.Forms[i]) })

	// Descendants of each account, for shares downward.
	below := map[string][]string{}
	for _, a := range all {
		up := a.Path.IDs()
		for _, id := range up[1 : len(up)-1] {
			below[id] = append(below[id], a.ID)
		}
	}
	taken := map[[2]string]bool{}
	var shares []*canopy.Share
	for i := range spec.Viewers + spec.Editors {
		role := canopy.RoleViewer
		if i >= spec.Viewers {
			role = canopy.RoleEditor
		}
		for range 100 { // another form when this one has nobody left to share with
			f := out.Forms[rng.IntN(len(out.Forms))]
			path := f.OwnerPath.IDs()
			candidates := append(path[1:len(path)-1:len(path)-1], below[f.OwnerID]...)
			if len(candidates) == 0 {
				continue
			}
			key := [2]string{f.ID, candidates[rng.IntN(len(candidates))]}
			if taken[key] {
				continue
			}
			taken[key] = true
			shares = append(shares, &canopy.Share{FormID: key[0], AccountID: key[1], Role: role, CreatedAt: now, UpdatedAt: now})
			break
		}
	}
	b.bulkWrite(tb, "shares", len(shares), 10_000, func(tx store.Tx, i int) error { return tx.PutShare(ctx, shares[i]) })
	out.Shares = len(shares)

	if b.Store.Engine() == "postgres" {
		if p, ok := b.Store.(interface{ WritePool() *sql.DB }); ok {
			if _, err := p.WritePool().ExecContext(ctx, "ANALYZE"); err != nil {
				tb.Fatalf("bulk levels: analyze: %v", err)
			}
		}
	}
	return out
}

// bulkWrite runs put for items 0..n-1, size to a transaction.
func (b *Bundle) bulkWrite(tb testing.TB, what string, n, size int, put func(tx store.Tx, i int) error) {
	tb.Helper()
	for lo := 0; lo < n; lo += size {
		err := b.Store.Write(context.Background(), func(tx store.Tx) error {
			for i := lo; i < min(lo+size, n); i++ {
				if err := put(tx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk %s: %v", what, err)
		}
	}
}
