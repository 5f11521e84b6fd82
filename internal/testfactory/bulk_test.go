package testfactory_test

import (
	"context"
	"testing"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// TestBulkTreeIsATreeTheServiceReads checks the fixture on a small shape:
// the service must see the bulk accounts exactly as if CreateChild had
// made them (paths, depths, the acting-account check).
func TestBulkTreeIsATreeTheServiceReads(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		b := testfactory.New(t, db)
		levels := b.BulkTree(t, testfactory.BulkSpec{Fanout: []int{3, 2, 2}, Total: 10, BatchSize: 4})

		wantLevels := []int{1, 3, 6, 1} // the cap leaves one account on the last level
		if len(levels) != len(wantLevels) {
			t.Fatalf("levels = %d, want %d", len(levels), len(wantLevels))
		}
		for d, want := range wantLevels {
			if len(levels[d]) != want {
				t.Errorf("level %d has %d accounts, want %d", d, len(levels[d]), want)
			}
			for _, a := range levels[d] {
				if a.Depth() != d {
					t.Errorf("account %s at level %d has depth %d", a.ID, d, a.Depth())
				}
			}
		}

		all, err := b.Svc.ListDescendants(ctx, b.As(t, b.Root.ID), b.Root.ID, 0, service.PageRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Data) != 10 {
			t.Errorf("descendants of the root = %d, want 10", len(all.Data))
		}
		for i := 1; i < len(all.Data); i++ {
			if all.Data[i-1].Path >= all.Data[i].Path {
				t.Errorf("descendants not in path order at %d", i)
			}
		}
		children, err := b.Svc.ListDescendants(ctx, b.As(t, b.Root.ID), b.Root.ID, 1, service.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(children.Data) != 3 {
			t.Errorf("depth=1 descendants of the root = %d, want 3", len(children.Data))
		}

		// A key of a top-level account may act as its deepest descendant.
		deepest := levels[3][0]
		key := b.Key(t, levels[1][0].ID)
		if c := b.AsKey(t, key, deepest.ID); c.Acting.Path != deepest.Path {
			t.Errorf("acting path = %s, want %s", c.Acting.Path, deepest.Path)
		}
	})
}
