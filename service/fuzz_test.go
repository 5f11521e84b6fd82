package service

import (
	"testing"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
)

// FuzzDecodeCursor checks the list cursor decoder: whatever a client puts
// in ?cursor=, it never panics, refuses with 400 naming cursor, and a
// position it accepts is an id of the list's kind; every cursor a list
// hands out decodes back to its position, and only for its own list.
func FuzzDecodeCursor(f *testing.F) {
	s := New(testdb.Open(f, "sqlite"), Config{})
	ids := canopy.NewIDs(nil, nil)
	for _, seed := range []string{"", "!!!", "Zm9ybXM6", *s.encodeCursor("forms", ids.New(canopy.PrefixForm)),
		*s.encodeCursor("records", ids.New(canopy.PrefixRecord)), "ZGVzY2VuZGFudHM6Lw", "\x00", "%ff", "YQ.YQ"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, kind := range []struct{ kind, prefix string }{{"forms", canopy.PrefixForm}, {"records", canopy.PrefixRecord}} {
			pos, err := s.decodeIDCursor(kind.kind, kind.prefix, cursor)
			if err != nil {
				if canopy.ErrorKind(err) != canopy.KindBadRequest || canopy.ErrorCode(err) != canopy.CodeInvalidCursor {
					t.Fatalf("%q: %v", cursor, err)
				}
				continue
			}
			if pos != "" && !canopy.ValidID(kind.prefix, pos) {
				t.Fatalf("%q accepted as %s position %q", cursor, kind.kind, pos)
			}
			if pos != "" {
				again, err := s.decodeIDCursor(kind.kind, kind.prefix, *s.encodeCursor(kind.kind, pos))
				if err != nil || again != pos {
					t.Fatalf("the cursor of %q decodes to %q, %v", pos, again, err)
				}
				if _, err := s.decodeIDCursor(kind.kind+"-other", kind.prefix, *s.encodeCursor(kind.kind, pos)); err == nil {
					t.Fatalf("the cursor of %q decodes for another list", pos)
				}
			}
		}
	})
}
