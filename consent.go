package canopy

import "strings"

// Reach is what an account may do with another account (rule 2,
// docs/rules.md): act as it, see it only, or nothing at all.
type Reach int

// The reaches, from least to most.
const (
	// ReachNone: the account is not visible; every answer about it is 404.
	ReachNone Reach = iota
	// ReachSee: an invited sub-account seen from its umbrella or above,
	// without delegated admin: its summary and link, the credits the
	// caller pays for, caps, grants and transfers, the link's terms in its
	// favour, its release, and its forms as rule 5 allows — nothing else.
	ReachSee
	// ReachAct: the caller acts as the account, as its own.
	ReachAct
)

// String names the reach for messages and tests.
func (r Reach) String() string {
	switch r {
	case ReachAct:
		return "act"
	case ReachSee:
		return "see"
	}
	return "none"
}

// Boundary reports whether a link is a consent boundary: an invited link
// whose sub-account has not delegated admin rights to the umbrella. The
// accounts above it see the sub-account but do not act as it (rule 2).
func (l *Link) Boundary() bool {
	return l != nil && l.Origin == OriginInvited && !l.DelegatedAdmin
}

// ReachOf decides what the account from may do with the account at path
// to (rule 2). Walking down from from to the account, every link is
// crossed with consent — created by the parent, or invited with delegated
// admin — or it is a boundary: a boundary on the account's own link leaves
// it seen only, a boundary above it hides it. The platform root (the first
// account of every path) acts anywhere. boundary reports whether an
// account's link to its parent is a boundary.
func ReachOf(from string, to Path, boundary func(id string) bool) Reach {
	ids := to.IDs()
	i := 0
	for i < len(ids) && ids[i] != from {
		i++
	}
	switch {
	case i == len(ids):
		return ReachNone
	case i == 0:
		return ReachAct
	}
	for j := i + 1; j < len(ids); j++ {
		if !boundary(ids[j]) {
			continue
		}
		if j == len(ids)-1 {
			return ReachSee
		}
		return ReachNone
	}
	return ReachAct
}

// Between returns the ids on path strictly below from: the accounts whose
// links ReachOf reads. It is empty when from is not on the path.
func (p Path) Between(from string) []string {
	ids := p.IDs()
	for i, id := range ids {
		if id == from {
			return ids[i+1:]
		}
	}
	return nil
}

// Upto returns the path of the account id on p: p cut after id. It is
// empty when id is not on p.
func (p Path) Upto(id string) Path {
	i := strings.Index(string(p), "/"+id+"/")
	if id == "" || i < 0 {
		return ""
	}
	return p[:i+len(id)+2]
}

var planRank = map[Plan]int{PlanBasic: 0, PlanPro: 1, PlanEnterprise: 2}

// Rank orders plans: basic < pro < enterprise.
func (p Plan) Rank() int { return planRank[p] }

// Error codes of the consent rules.
const (
	// CodeInvitedLink: an invited sub-account is released, never moved.
	CodeInvitedLink = "invited-link"
	// CodeSuspendedAbove: the suspension was made by an account above the
	// caller, which alone (or an account above it) may lift it.
	CodeSuspendedAbove = "suspended-from-above"
)
