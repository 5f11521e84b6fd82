package service

import (
	"context"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// CountCap bounds the counts a dashboard shows: counting a large umbrella's
// half a million forms on every visit would cost more than the page.
const CountCap = 10_000

// Section is one part of the dashboard: a page and how many in all.
type Section struct {
	Page[*FormView]
	// Count is how many forms the section holds, up to CountCap;
	// CountCapped says the real number is larger.
	Count       int  `json:"count"`
	CountCapped bool `json:"countCapped"`
}

// Dashboard is an account's own forms, the forms shared with it, and its
// ancestors' example forms (rule 7, docs/rules.md).
type Dashboard struct {
	Own          *Section `json:"own,omitempty"`
	SharedWithMe *Section `json:"sharedWithMe,omitempty"`
	Examples     *Section `json:"examples,omitempty"`
}

// The dashboard sections.
const (
	SectionOwn      = "own"
	SectionShared   = "sharedWithMe"
	SectionExamples = "examples"
)

// GetDashboard returns the first page of every section, or with section a
// later page (cursor) of that one.
func (s *Service) GetDashboard(ctx context.Context, c Caller, section string, pr PageRequest) (*Dashboard, error) {
	switch section {
	case "", SectionOwn, SectionShared, SectionExamples:
	default:
		return nil, canopy.BadParam("section", "invalid-enum", "must be own, sharedWithMe or examples")
	}
	if section == "" && pr.Cursor != "" {
		return nil, canopy.BadParam("cursor", canopy.CodeInvalidCursor, "a cursor continues one section: give section too")
	}
	out := &Dashboard{}
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		for _, name := range []string{SectionOwn, SectionShared, SectionExamples} {
			if section != "" && section != name {
				continue
			}
			sec, err := s.section(ctx, tx, c, acting, name, pr)
			if err != nil {
				return err
			}
			switch name {
			case SectionOwn:
				out.Own = sec
			case SectionShared:
				out.SharedWithMe = sec
			default:
				out.Examples = sec
			}
		}
		return nil
	})
	return out, err
}

func (s *Service) section(ctx context.Context, tx store.Tx, c Caller, acting *canopy.Account, name string, pr PageRequest) (*Section, error) {
	kind := cursorKind(c, "dashboard", name)
	after, err := s.formCursor(ctx, tx, kind, pr.Cursor)
	if err != nil {
		return nil, err
	}
	l := lister{s: s, ctx: ctx, tx: tx, viewer: acting}
	var sec *Section
	switch name {
	case SectionOwn:
		sec, err = l.ownSection(after, pr.limit(), kind)
	case SectionShared:
		sec, err = l.sharedSection(after, pr.limit(), kind)
	default:
		sec, err = l.exampleSection(after, pr.limit(), kind)
	}
	if err != nil {
		return nil, err
	}
	if sec.Count > CountCap {
		sec.Count, sec.CountCapped = CountCap, true
	}
	return sec, nil
}

// ownSection: the forms the account owns.
func (l *lister) ownSection(after store.FormCursor, limit int, kind string) (*Section, error) {
	l.query.Owner = l.viewer.ID
	page, err := l.page(after, limit, kind, true, false)
	if err != nil {
		return nil, err
	}
	n, err := l.tx.CountSubtreeForms(l.ctx, store.SubtreeForms{Path: l.viewer.Path, OwnerID: l.viewer.ID}, CountCap+1)
	return &Section{Page: page, Count: n}, err
}

// sharedSection: the forms of others it may see, through the tree or
// explicit shares.
func (l *lister) sharedSection(after store.FormCursor, limit int, kind string) (*Section, error) {
	l.excludeOwn = true
	page, err := l.page(after, limit, kind, true, true)
	if err != nil {
		return nil, err
	}
	fromTree, err := l.countSharedFromTree()
	if err != nil {
		return nil, err
	}
	explicit, err := l.tx.CountSharedForms(l.ctx, l.viewer.ID, CountCap+1)
	return &Section{Page: page, Count: fromTree + explicit}, err
}

// exampleSection: its ancestors' examples, read-only (or with the role an
// explicit share gives).
func (l *lister) exampleSection(after store.FormCursor, limit int, kind string) (*Section, error) {
	ancestors := l.viewer.Path.IDs()
	ancestors = ancestors[:len(ancestors)-1]
	forms, err := l.tx.ListExampleForms(l.ctx, ancestors, l.viewer.ID, after, limit+1)
	if err != nil {
		return nil, err
	}
	views, err := l.views(forms)
	if err != nil {
		return nil, err
	}
	n, err := l.tx.CountExampleForms(l.ctx, ancestors, l.viewer.ID, CountCap+1)
	return &Section{Page: paginate(l.s, views, limit, kind, func(v *FormView) string { return v.ID }), Count: n}, err
}

func (l *lister) countSharedFromTree() (int, error) {
	l.excludeOwn = true
	q, err := l.subtreeQuery()
	if err != nil || q == nil {
		return 0, err
	}
	return l.tx.CountSubtreeForms(l.ctx, *q, CountCap+1)
}
