package canopy_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

// TestReachOfFollowsRule2 reads rule 2 (docs/rules.md) off a path root →
// a → b → c → d: created links carry "act" down, an invited link without
// delegated admin leaves its sub-account seen only and hides what lies
// below, delegated admin crosses like a created link, and the platform
// root acts anywhere.
func TestReachOfFollowsRule2(t *testing.T) {
	const root, a, b, c, d = "acc_R", "acc_A", "acc_B", "acc_C", "acc_D"
	path := canopy.RootPath(root).Child(a).Child(b).Child(c).Child(d)
	tests := []struct {
		name       string
		boundaries []string // accounts whose link is invited without delegated admin
		from       string
		to         canopy.Path
		want       canopy.Reach
	}{
		{"an account acts as itself", nil, d, path, canopy.ReachAct},
		{"created links all the way: act", nil, a, path, canopy.ReachAct},
		{"an invited link on the target itself: see", []string{d}, a, path, canopy.ReachSee},
		{"the umbrella itself sees its invited sub-account", []string{d}, c, path, canopy.ReachSee},
		{"an invited link above the target: nothing", []string{c}, a, path, canopy.ReachNone},
		{"the invited sub-account acts below itself", []string{c}, c, path, canopy.ReachAct},
		{"a boundary above the caller does not matter", []string{b}, c, path, canopy.ReachAct},
		{"two boundaries: the first one decides", []string{c, d}, b, path, canopy.ReachNone},
		{"the platform root acts through every boundary", []string{a, c, d}, root, path, canopy.ReachAct},
		{"an ancestor is never reached", nil, d, canopy.RootPath(root).Child(a), canopy.ReachNone},
		{"a sibling is never reached", nil, "acc_X", path, canopy.ReachNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boundary := func(id string) bool { return slices.Contains(tt.boundaries, id) }
			require.Equal(t, tt.want, canopy.ReachOf(tt.from, tt.to, boundary))
		})
	}
}

func TestBoundaryIsAnInvitedLinkWithoutDelegatedAdmin(t *testing.T) {
	var none *canopy.Link
	require.False(t, none.Boundary(), "the platform root has no link")
	require.False(t, (&canopy.Link{Origin: canopy.OriginCreated}).Boundary())
	require.True(t, (&canopy.Link{Origin: canopy.OriginInvited}).Boundary())
	require.False(t, (&canopy.Link{Origin: canopy.OriginInvited, DelegatedAdmin: true}).Boundary())
}

func TestPathPieces(t *testing.T) {
	p := canopy.RootPath("acc_R").Child("acc_A").Child("acc_B")
	require.Equal(t, canopy.Path("/acc_R/acc_A/"), p.Upto("acc_A"))
	require.Equal(t, p, p.Upto("acc_B"))
	require.Empty(t, p.Upto("acc_X"))
	require.Equal(t, []string{"acc_A", "acc_B"}, p.Between("acc_R"))
	require.Empty(t, p.Between("acc_B"))
	require.Empty(t, p.Between("acc_X"))
}

func TestPlansRankBasicProEnterprise(t *testing.T) {
	require.Less(t, canopy.PlanBasic.Rank(), canopy.PlanPro.Rank())
	require.Less(t, canopy.PlanPro.Rank(), canopy.PlanEnterprise.Rank())
}
