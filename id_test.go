package canopy

import (
	"testing"
	"time"
)

// TestFirstIDAtSortsBetweenTimes: ids made before t sort below
// FirstIDAt(t), ids made at t or later do not — what pruning by id needs.
func TestFirstIDAtSortsBetweenTimes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		made  time.Time
		below bool
	}{
		{at.Add(-time.Millisecond), true},
		{at.Add(-24 * time.Hour), true},
		{at, false},
		{at.Add(time.Millisecond), false},
	} {
		id := NewIDs(func() time.Time { return tt.made }, nil).New(PrefixAuditEvent)
		if got := id < FirstIDAt(PrefixAuditEvent, at); got != tt.below {
			t.Errorf("an id made at %s sorts below FirstIDAt(%s): %v, want %v", tt.made, at, got, tt.below)
		}
	}
	if !ValidID(PrefixAuditEvent, FirstIDAt(PrefixAuditEvent, at)) {
		t.Error("FirstIDAt makes no valid id")
	}
}
