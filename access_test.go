package canopy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

// TestRoleTable is rule 6 (docs/rules.md), row by row.
func TestRoleTable(t *testing.T) {
	const Y, N = true, false
	table := []struct {
		role                                                       canopy.Role
		viewQuestions, editQuestions, viewData, editData, shareDel bool
	}{
		//                    view q  edit q  view d  edit d  share/delete
		{canopy.RoleOwner /*      */, Y, Y, Y, Y, Y},
		{canopy.RoleEditor /*     */, Y, Y, Y, Y, N},
		{canopy.RoleDataManager /**/, Y, N, Y, Y, N},
		{canopy.RoleViewer /*     */, Y, N, Y, N, N},
		{canopy.RoleNone /*       */, N, N, N, N, N},
		{canopy.Role("admin") /*  */, N, N, N, N, N}, // not a role: nothing
		{canopy.Role("") /*       */, N, N, N, N, N},
	}
	for _, row := range table {
		want := map[canopy.Action]bool{
			canopy.ViewQuestions: row.viewQuestions,
			canopy.EditQuestions: row.editQuestions,
			canopy.ViewData:      row.viewData,
			canopy.EditData:      row.editData,
			canopy.ShareOrDelete: row.shareDel,
		}
		for action, allowed := range want {
			require.Equal(t, allowed, row.role.Can(action), "%s may %s", row.role, action)
			require.Equal(t, allowed, canopy.Access{Role: row.role}.Can(action), "access as %s may %s", row.role, action)
		}
		require.False(t, row.role.Can(canopy.Action("fly")), "unknown actions are refused")
	}
}

// TestExampleViewShowsQuestionsOnly: an ancestor's example reaches a
// descendant read-only, questions only (rule 7).
func TestExampleViewShowsQuestionsOnly(t *testing.T) {
	x := canopy.Access{Role: canopy.RoleNone, ExampleView: true}
	require.True(t, x.Sees())
	require.True(t, x.Can(canopy.ViewQuestions))
	for _, a := range []canopy.Action{canopy.EditQuestions, canopy.ViewData, canopy.EditData, canopy.ShareOrDelete} {
		require.False(t, x.Can(a), "example view may not %s", a)
	}
}

// TestResolveAccess walks rule 5 on one chain: root → top → mid → owner →
// kid, with a sibling of mid and an account in another tree.
func TestResolveAccess(t *testing.T) {
	root := canopy.RootPath("acc_root")
	top := root.Child("acc_top")
	mid := top.Child("acc_mid")
	owner := mid.Child("acc_own")
	kid := owner.Child("acc_kid")
	sibling := top.Child("acc_sib")
	stranger := canopy.RootPath("acc_other").Child("acc_str")
	links := map[string]canopy.Role{
		"acc_top": canopy.RoleNone, "acc_mid": canopy.RoleEditor, "acc_own": canopy.RoleViewer,
		"acc_kid": canopy.RoleEditor, "acc_sib": canopy.RoleEditor,
	}
	link := func(id string) canopy.Role { return links[id] }
	role := func(r canopy.Role) *canopy.Role { return &r }
	f := &canopy.Form{ID: "frm_1", OwnerID: "acc_own", OwnerPath: owner}
	example := &canopy.Form{ID: "frm_2", OwnerID: "acc_own", OwnerPath: owner, Example: true}

	tests := []struct {
		name     string
		viewer   canopy.Path
		form     *canopy.Form
		explicit *canopy.Role
		want     canopy.Access
	}{
		{"OwnerOwns", owner, f, nil, canopy.Access{Role: canopy.RoleOwner, Rule: canopy.RuleOwner}},
		{"OwnerOwnsDespiteAShare", owner, f, role(canopy.RoleNone), canopy.Access{Role: canopy.RoleOwner, Rule: canopy.RuleOwner}},
		{"ParentGetsItsLink", mid, f, nil, canopy.Access{Role: canopy.RoleViewer, Rule: canopy.RuleLink,
			Link: &canopy.DecidingLink{AccountID: "acc_own", ParentID: "acc_mid", AutoShareRole: canopy.RoleViewer}}},
		{"GrandparentGetsTheLowestLink", top, f, nil, canopy.Access{Role: canopy.RoleViewer, Rule: canopy.RuleLink,
			Link: &canopy.DecidingLink{AccountID: "acc_own", ParentID: "acc_mid", AutoShareRole: canopy.RoleViewer}}},
		{"TheRootLinkSharesNothing", root, f, nil, canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleLink,
			Link: &canopy.DecidingLink{AccountID: "acc_top", ParentID: "acc_root", AutoShareRole: canopy.RoleNone}}},
		{"ExplicitRaises", top, f, role(canopy.RoleEditor), canopy.Access{Role: canopy.RoleEditor, Rule: canopy.RuleExplicit}},
		{"ExplicitNoneHides", mid, f, role(canopy.RoleNone), canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleExplicit}},
		{"ExplicitReachesTheRoot", root, f, role(canopy.RoleViewer), canopy.Access{Role: canopy.RoleViewer, Rule: canopy.RuleExplicit}},
		{"ExplicitReachesADescendant", kid, f, role(canopy.RoleDataManager), canopy.Access{Role: canopy.RoleDataManager, Rule: canopy.RuleExplicit}},
		{"DescendantsSeeNothing", kid, f, nil, canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleNone}},
		{"DescendantsSeeExamples", kid, example, nil, canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleExample, ExampleView: true}},
		{"AncestorsAreNotDescendants", mid, example, nil, canopy.Access{Role: canopy.RoleViewer, Rule: canopy.RuleLink,
			Link: &canopy.DecidingLink{AccountID: "acc_own", ParentID: "acc_mid", AutoShareRole: canopy.RoleViewer}}},
		{"SiblingsSeeNothing", sibling, example, nil, canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleNone}},
		{"OtherTreesSeeNothing", stranger, example, nil, canopy.Access{Role: canopy.RoleNone, Rule: canopy.RuleNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, canopy.ResolveAccess(tt.viewer, tt.form, tt.explicit, link))
		})
	}
}
