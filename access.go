package canopy

// Action is something an account does with a form (rule 6, docs/rules.md).
type Action string

// The actions.
const (
	ViewQuestions Action = "viewQuestions"
	EditQuestions Action = "editQuestions"
	ViewData      Action = "viewData"
	EditData      Action = "editData"
	ShareOrDelete Action = "shareOrDelete"
)

// least is the lowest role allowed each action: every role includes the
// rights of the roles below it.
var least = map[Action]Role{
	ViewQuestions: RoleViewer,
	EditQuestions: RoleEditor,
	ViewData:      RoleViewer,
	EditData:      RoleDataManager,
	ShareOrDelete: RoleOwner,
}

// Can reports whether role r allows action a.
func (r Role) Can(a Action) bool {
	min, ok := least[a]
	return ok && r.Valid() && r.Rank() >= min.Rank()
}

// The rules that decide an account's access to a form.
const (
	RuleOwner    = "owner"    // the account owns the form
	RuleExplicit = "explicit" // the owner shared the form with it explicitly
	RuleLink     = "link"     // it is an ancestor of the owner: the links between them decide
	RuleExample  = "example"  // the form is an example of one of its ancestors: questions only
	RuleNone     = "none"     // nothing grants access
)

// DecidingLink is the link that limits an ancestor's role: the one with the
// lowest autoShareRole between the owner and the ancestor (the nearest to
// the owner among equals).
type DecidingLink struct {
	AccountID     string `json:"accountId"` // the child end of the link
	ParentID      string `json:"parentId"`
	AutoShareRole Role   `json:"autoShareRole"`
}

// Access is what an account may do with a form, and why.
type Access struct {
	Role Role `json:"role"`
	// ExampleView is true when the form reaches the account only as an
	// ancestor's example: it may view (and copy) the questions, nothing else.
	ExampleView bool          `json:"exampleView"`
	Rule        string        `json:"rule"`
	Link        *DecidingLink `json:"link,omitempty"`
}

// Can reports whether the access allows action a.
func (x Access) Can(a Action) bool {
	return x.Role.Can(a) || (x.ExampleView && a == ViewQuestions)
}

// Sees reports whether the form is visible at all.
func (x Access) Sees() bool { return x.Can(ViewQuestions) }

// ResolveAccess applies rules 5 and 7 (docs/rules.md) for the account at viewer (its
// path) on a form: the owner owns it; an explicit share decides when there
// is one (none hides the form); an ancestor of the owner gets the lowest
// autoShareRole on the links from the owner up to it; a descendant of the
// owner of an example views its questions. linkRole returns the
// autoShareRole of an account's link to its parent.
func ResolveAccess(viewer Path, f *Form, explicit *Role, linkRole func(accountID string) Role) Access {
	vids := viewer.IDs()
	id := vids[len(vids)-1]
	if id == f.OwnerID {
		return Access{Role: RoleOwner, Rule: RuleOwner}
	}
	if explicit != nil {
		return Access{Role: *explicit, Rule: RuleExplicit}
	}
	ids := f.OwnerPath.IDs()
	for i := len(ids) - 2; i >= 0; i-- {
		if ids[i] != id {
			continue
		}
		// The viewer is an ancestor: the links of the accounts from the
		// owner up to (not including) the viewer decide.
		role, decided := RoleOwner, DecidingLink{}
		for j := len(ids) - 1; j > i; j-- {
			if r := linkRole(ids[j]); r.Rank() < role.Rank() {
				role, decided = r, DecidingLink{AccountID: ids[j], ParentID: ids[j-1], AutoShareRole: r}
			}
		}
		return Access{Role: role, Rule: RuleLink, Link: &decided}
	}
	if f.Example && viewer.Contains(f.OwnerID) {
		return Access{Role: RoleNone, Rule: RuleExample, ExampleView: true}
	}
	return Access{Role: RoleNone, Rule: RuleNone}
}
