package service_test

import (
	"context"
	"testing"

	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store/sqlstore"
)

func TestSmoke(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		b := testfactory.New(t, db)
		levels := b.Tree(t, 2, 3)
		leaf := levels[3][0]
		mid := levels[1][1]
		if _, err := b.Svc.MoveAccount(context.Background(), b.As(t, b.Root.ID), leaf.ID, mid.ID); err != nil {
			t.Fatal(err)
		}
		page, err := b.Svc.ListDescendants(context.Background(), b.As(t, b.Root.ID), b.Root.ID, 0, PageRequest(3))
		if err != nil {
			t.Fatal(err)
		}
		t.Log(len(page.Data), page.NextCursor != nil)
	})
}
