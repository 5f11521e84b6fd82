package service

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// FormView is a form as one account sees it: with its role on it.
type FormView struct {
	*canopy.Form
	Role canopy.Role `json:"role"`
	// ExampleOnly is true when the form reaches the account only as an
	// ancestor's example: its questions, read-only.
	ExampleOnly bool `json:"exampleOnly"`
}

// EncodedForm is a FormView already encoded, as GetFormJSON answers it.
type EncodedForm struct {
	// Version is the form's version, for its ETag.
	Version     int
	formJSON    []byte // the form's encoding, without the view's members
	role        canopy.Role
	exampleOnly bool
}

// AppendJSON appends the view's JSON encoding — byte for byte what
// encoding/json writes for the FormView with HTML escaping off, newline
// included — to b (nil: a slice of the right size). The form's cached
// encoding is spliced with the view's members, not encoded again.
func (e *EncodedForm) AppendJSON(b []byte) []byte {
	if b == nil {
		b = make([]byte, 0, len(e.formJSON)+64)
	}
	// The embedded form's members come first, then the view's own (roles
	// are plain words: nothing to escape).
	b = append(b, e.formJSON[:len(e.formJSON)-1]...)
	b = append(b, `,"role":"`...)
	b = append(b, e.role...)
	b = append(b, `","exampleOnly":`...)
	b = strconv.AppendBool(b, e.exampleOnly)
	return append(b, "}\n"...)
}

func view(f *canopy.Form, a canopy.Access) *FormView {
	return &FormView{Form: f, Role: a.Role, ExampleOnly: a.ExampleView && !a.Role.Can(canopy.ViewQuestions)}
}

var errStale = canopy.Errorf(canopy.KindPreconditionFailed, canopy.CodeVersionMismatch,
	"the resource changed since you read it (If-Match does not match its version); read it again and retry")

// formFor loads a form the account at viewer may act on with action.
// Forms it cannot see answer not-found; forms it sees but may not act on
// answer forbidden.
func (s *Service) formFor(ctx context.Context, tx store.Tx, viewer canopy.Path, id string, action canopy.Action) (*canopy.Form, canopy.Access, error) {
	f, a, err := s.formAccess(ctx, tx, viewer, id)
	if err != nil {
		return nil, canopy.Access{}, err
	}
	if !a.Sees() {
		return nil, canopy.Access{}, canopy.NotFound("form")
	}
	if !a.Can(action) {
		return nil, canopy.Access{}, roleTooLow(a, action)
	}
	return f, a, nil
}

// roleTooLow is the 403 of an action a's role does not allow (rule 6,
// docs/rules.md).
func roleTooLow(a canopy.Access, action canopy.Action) error {
	return canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
		"your role on this form (%s) does not allow %s", a.Role, action)
}

// FormInput is a new form.
type FormInput struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Questions   []canopy.Question `json:"questions"`
}

// CreateForm makes a form owned by the acting account.
func (s *Service) CreateForm(ctx context.Context, c Caller, in FormInput) (*FormView, error) {
	var v canopy.Validator
	canopy.ValidateForm(&v, in.Name, in.Description, in.Questions)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return writeWork(ctx, s, c, func(o *op) (*FormView, error) {
		f := &canopy.Form{
			ID: s.ids.New(canopy.PrefixForm), OwnerID: o.acting.ID, OwnerPath: o.acting.Path, Name: in.Name,
			Description: in.Description, Questions: in.Questions, Version: 1, CreatedAt: o.now, UpdatedAt: o.now,
		}
		if f.Questions == nil {
			f.Questions = []canopy.Question{}
		}
		if err := o.formQuota(f); err != nil {
			return nil, err
		}
		if err := o.tx.InsertForm(ctx, f); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "form.created", "form", f.ID, nil)
		return view(f, canopy.Access{Role: canopy.RoleOwner, Rule: canopy.RuleOwner}), nil
	})
}

// formQuota refuses a new form f of the acting account beyond its plan's
// number of forms (429 form-quota) or definition size (formSize).
func (o *op) formQuota(f *canopy.Form) error {
	if err := o.formSize(f, o.acting); err != nil {
		return err
	}
	acc := o.acting
	if acc.IsRoot() {
		return nil
	}
	plan := acc.EffectivePlan()
	max := o.s.planLimits(plan).Forms
	if max < 0 {
		return nil
	}
	n, err := o.tx.CountOwnedForms(o.ctx, f.OwnerID, max)
	if err != nil || n < max {
		return err
	}
	e := canopy.Errorf(canopy.KindTooManyRequests, canopy.CodeFormQuota,
		"account %s owns %d forms, as many as the %s plan allows; delete one or move to a larger plan", acc.ID, n, plan)
	e.Quota = &canopy.Quota{Name: canopy.QuotaForms, Plan: plan, Limit: max, Used: n}
	return e
}

// formSize refuses a definition larger than the plan of owner (the form's
// owner, whoever edits it) allows, naming questions (422).
func (o *op) formSize(f *canopy.Form, owner *canopy.Account) error {
	if owner.IsRoot() {
		return nil
	}
	plan := owner.EffectivePlan()
	max := o.s.planLimits(plan).FormBytes
	if max < 0 {
		return nil
	}
	b, err := json.Marshal(f.Questions)
	if err != nil {
		return err
	}
	if len(b) > max {
		return canopy.InvalidField("questions", "too-large",
			"the questions take %d bytes as JSON; the %s plan of the form's owner allows %d per form", len(b), plan, max)
	}
	return nil
}

// GetForm returns a form the acting account can see. Warm, it reads only
// memory; cold, one statement or two (see formFromCache).
func (s *Service) GetForm(ctx context.Context, c Caller, id string) (*FormView, error) {
	cf, a, err := s.readableForm(ctx, c, id)
	if err != nil {
		return nil, err
	}
	f, err := cf.decode()
	if err != nil {
		return nil, err
	}
	return view(f, a), nil
}

// GetFormJSON is GetForm already encoded, for the API: a warm read neither
// decodes nor encodes the form.
func (s *Service) GetFormJSON(ctx context.Context, c Caller, id string) (*EncodedForm, error) {
	cf, a, err := s.readableForm(ctx, c, id)
	if err != nil {
		return nil, err
	}
	v := view(cf.head, a)
	return &EncodedForm{Version: cf.head.Version, formJSON: cf.json, role: v.Role, exampleOnly: v.ExampleOnly}, nil
}

// readableForm is formFromCache for a read of the form's questions.
func (s *Service) readableForm(ctx context.Context, c Caller, id string) (*cachedForm, canopy.Access, error) {
	cf, a, err := s.formFromCache(ctx, c, id)
	if err == nil && !a.Can(canopy.ViewQuestions) {
		err = roleTooLow(a, canopy.ViewQuestions)
	}
	return cf, a, err
}

// FormPatch changes a form's definition.
type FormPatch struct {
	Name        *string            `json:"name"`
	Description *string            `json:"description"`
	Questions   *[]canopy.Question `json:"questions"`
}

// UpdateForm changes a form's definition; editors and the owner may. When
// ifMatch is set it must equal the form's version (else 412).
func (s *Service) UpdateForm(ctx context.Context, c Caller, id string, p FormPatch, ifMatch *int) (*FormView, error) {
	return writeWork(ctx, s, c, func(o *op) (*FormView, error) {
		f, a, err := s.formFor(ctx, o.tx, o.acting.Path, id, canopy.EditQuestions)
		if err != nil {
			return nil, err
		}
		if ifMatch != nil && *ifMatch != f.Version {
			return nil, errStale
		}
		before := *f
		if p.Name != nil {
			f.Name = *p.Name
		}
		if p.Description != nil {
			f.Description = *p.Description
		}
		if p.Questions != nil {
			f.Questions = *p.Questions
		}
		var v canopy.Validator
		canopy.ValidateForm(&v, f.Name, f.Description, f.Questions)
		if err := v.Err(); err != nil {
			return nil, err
		}
		if reflect.DeepEqual(before, *f) {
			return view(f, a), nil // nothing changed: no new version to invalidate others' If-Match
		}
		owner := o.acting
		if f.OwnerID != owner.ID {
			if owner, err = o.tx.GetAccount(ctx, f.OwnerID); err != nil {
				return nil, fmt.Errorf("load the form's owner: %w", err)
			}
		}
		if err := o.formSize(f, owner); err != nil {
			return nil, err
		}
		if err := s.saveForm(o, f); err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "form.updated", "form", f.ID, nil)
		return view(f, a), nil
	})
}

// saveForm writes f as its next version; a concurrent change wins (412).
func (s *Service) saveForm(o *op, f *canopy.Form) error {
	from := f.Version
	f.Version, f.UpdatedAt = from+1, o.now
	if err := o.tx.UpdateForm(o.ctx, f, from); isNotFound(err) {
		return errStale
	} else if err != nil {
		return err
	}
	o.changedForms = append(o.changedForms, f.ID) // the cached form
	return nil
}

// SetExample tags a form as an example (its owner's descendants see it on
// their dashboards, read-only) or untags it. Only the owner may.
func (s *Service) SetExample(ctx context.Context, c Caller, id string, example bool) (*FormView, error) {
	return write(ctx, s, c, func(o *op) (*FormView, error) {
		f, a, err := s.formFor(ctx, o.tx, o.acting.Path, id, canopy.ShareOrDelete)
		if err != nil {
			return nil, err
		}
		if f.Example == example {
			return view(f, a), nil
		}
		f.Example = example
		if err := s.saveForm(o, f); err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "form.exampleSet", "form", f.ID, map[string]bool{"example": example})
		return view(f, a), nil
	})
}

// DeleteForm removes a form with its records and shares; only the owner may.
func (s *Service) DeleteForm(ctx context.Context, c Caller, id string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, id, canopy.ShareOrDelete)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteForm(ctx, f.ID); err != nil {
			return struct{}{}, err
		}
		o.audit(f.OwnerID, "form.deleted", "form", f.ID, map[string]string{"name": f.Name})
		o.changedForms = append(o.changedForms, f.ID) // its cached shares and place
		return struct{}{}, nil
	})
	return err
}

// CopyForm makes an editable copy, owned by the acting account, of a form
// whose questions it may view (an ancestor's example, say).
func (s *Service) CopyForm(ctx context.Context, c Caller, id, name string) (*FormView, error) {
	if name != "" {
		var v canopy.Validator
		canopy.ValidateName(&v, "name", name)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	return writeWork(ctx, s, c, func(o *op) (*FormView, error) {
		src, _, err := s.formFor(ctx, o.tx, o.acting.Path, id, canopy.ViewQuestions)
		if err != nil {
			return nil, err
		}
		if name == "" {
			name = src.Name
		}
		f := &canopy.Form{
			ID: s.ids.New(canopy.PrefixForm), OwnerID: o.acting.ID, OwnerPath: o.acting.Path, Name: name,
			Description: src.Description, Questions: src.Questions, CopiedFrom: src.ID, Version: 1, CreatedAt: o.now, UpdatedAt: o.now,
		}
		if err := o.formQuota(f); err != nil {
			return nil, err
		}
		if err := o.tx.InsertForm(ctx, f); err != nil {
			return nil, err
		}
		o.audit(o.acting.ID, "form.copied", "form", f.ID, map[string]string{"from": src.ID})
		return view(f, canopy.Access{Role: canopy.RoleOwner, Rule: canopy.RuleOwner}), nil
	})
}

// Explanation says why an account has the access it has to a form, so
// support can answer "why can the umbrella see this?".
type Explanation struct {
	FormID    string `json:"formId"`
	AccountID string `json:"accountId"`
	canopy.Access
}

// ExplainAccess explains accountID's access to a form. The caller must be
// the form's owner or one of its ancestors, and see accountID (rule 2,
// docs/rules.md) — or, when it may share the form, accountID may be any
// account of the form's audience (AudienceOf): an ancestor of the owner,
// or an account with an explicit share.
func (s *Service) ExplainAccess(ctx context.Context, c Caller, formID, accountID string) (*Explanation, error) {
	if !canopy.ValidID(canopy.PrefixAccount, accountID) {
		return nil, canopy.BadParam("accountId", canopy.CodeInvalidID, "must be an account id")
	}
	var out *Explanation
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		f, err := tx.GetForm(ctx, formID)
		if isNotFound(err) || (err == nil && !f.OwnerPath.Contains(acting.ID)) {
			return canopy.NotFound("form")
		}
		if err != nil {
			return err
		}
		// An asker the form is hidden from learns nothing of it, not even
		// that it exists (rule 5, docs/rules.md).
		if _, mine, err := s.formAccess(ctx, tx, acting.Path, f.ID); err != nil {
			return err
		} else if !mine.Sees() {
			return canopy.NotFound("form")
		}
		target, err := s.explainable(ctx, tx, c, acting, f, accountID)
		if err != nil {
			return err
		}
		_, a, err := s.formAccess(ctx, tx, target.Path, f.ID)
		if err != nil {
			return err
		}
		out = &Explanation{FormID: f.ID, AccountID: target.ID, Access: a}
		return nil
	})
	return out, err
}

// ListShares lists a form's explicit shares; only the owner may.
func (s *Service) ListShares(ctx context.Context, c Caller, formID string) (Page[*canopy.Share], error) {
	var out []*canopy.Share
	err := s.read(ctx, func(tx store.Tx) error {
		acting, err := actingIn(ctx, tx, c)
		if err != nil {
			return err
		}
		if _, _, err := s.formFor(ctx, tx, acting.Path, formID, canopy.ShareOrDelete); err != nil {
			return err
		}
		out, err = tx.ListShares(ctx, formID)
		return err
	})
	if out == nil {
		out = []*canopy.Share{}
	}
	return Page[*canopy.Share]{Data: out}, err
}

// PutShare grants (or with none, withholds) a role on a form to one of its
// owner's ancestors or descendants; only the owner may, and the grant
// overrides what the tree would give.
func (s *Service) PutShare(ctx context.Context, c Caller, formID, accountID string, role canopy.Role) (*canopy.Share, error) {
	if !role.ShareableRole() {
		return nil, canopy.InvalidField("role", "invalid-enum", "must be editor, dataManager, viewer or none")
	}
	return write(ctx, s, c, func(o *op) (*canopy.Share, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.ShareOrDelete)
		if err != nil {
			return nil, err
		}
		if err := s.shareable(o, f, accountID); err != nil {
			return nil, err
		}
		sh := &canopy.Share{FormID: f.ID, AccountID: accountID, Role: role, CreatedAt: o.now, UpdatedAt: o.now}
		if old, err := o.tx.GetShare(ctx, f.ID, accountID); err == nil {
			sh.CreatedAt = old.CreatedAt
		}
		if err := o.tx.PutShare(ctx, sh); err != nil {
			return nil, err
		}
		o.audit(f.OwnerID, "form.shared", "form", f.ID, map[string]string{"accountId": accountID, "role": string(role)})
		o.changedForms = append(o.changedForms, f.ID) // its cached shares and place
		return sh, nil
	})
}

// shareable checks that accountID is an ancestor or a descendant of the
// form's owner; anything else is not found. Forms reach across invited
// links as rules 5 and 7 (docs/rules.md) say — an example reaches every
// descendant — so an owner may share with, or keep an example from, any
// descendant, also one below an invited sub-account.
func (s *Service) shareable(o *op, f *canopy.Form, accountID string) error {
	if accountID == f.OwnerID {
		return canopy.Errorf(canopy.KindConflict, canopy.CodeConflict, "the owner's role on its own form is always owner")
	}
	ancestors := f.OwnerPath.IDs()
	if slices.Contains(ancestors[:len(ancestors)-1], accountID) {
		return nil
	}
	a, err := o.tx.GetAccount(o.ctx, accountID)
	if isNotFound(err) || (err == nil && !a.Path.Contains(f.OwnerID)) {
		return canopy.NotFound("account")
	}
	return err
}

// DeleteShare removes an explicit share: the account's access goes back to
// what the tree gives.
func (s *Service) DeleteShare(ctx context.Context, c Caller, formID, accountID string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		f, _, err := s.formFor(ctx, o.tx, o.acting.Path, formID, canopy.ShareOrDelete)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteShare(ctx, f.ID, accountID); isNotFound(err) {
			return struct{}{}, canopy.NotFound("share")
		} else if err != nil {
			return struct{}{}, err
		}
		o.audit(f.OwnerID, "form.unshared", "form", f.ID, map[string]string{"accountId": accountID})
		o.changedForms = append(o.changedForms, f.ID) // its cached shares and place
		return struct{}{}, nil
	})
	return err
}
