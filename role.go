package canopy

// Role is what an account may do with a form (rule 6, docs/rules.md). Each role
// includes the rights of the roles ranked below it.
type Role string

// The roles, from most to least.
const (
	RoleOwner       Role = "owner"
	RoleEditor      Role = "editor"
	RoleDataManager Role = "dataManager"
	RoleViewer      Role = "viewer"
	RoleNone        Role = "none"
)

var roleRank = map[Role]int{RoleNone: 0, RoleViewer: 1, RoleDataManager: 2, RoleEditor: 3, RoleOwner: 4}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := roleRank[r]; return ok }

// ShareableRole reports whether r may be granted by a share or a link
// (every role except owner).
func (r Role) ShareableRole() bool { return r.Valid() && r != RoleOwner }

// Rank orders roles: none < viewer < dataManager < editor < owner.
func (r Role) Rank() int { return roleRank[r] }

// MinRole returns the lower of two roles.
func MinRole(a, b Role) Role {
	if a.Rank() <= b.Rank() {
		return a
	}
	return b
}
