package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// AccountInput is the account part of a create-child request.
type AccountInput struct {
	Name     string            `json:"name"`
	Email    string            `json:"email"`
	Plan     canopy.Plan       `json:"plan"`
	Metadata map[string]string `json:"metadata"`
}

// MasterUserInput names the new account's first admin.
type MasterUserInput struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// UserInput is a further user to provision and invite.
type UserInput struct {
	Email    string          `json:"email"`
	Username string          `json:"username"`
	Name     string          `json:"name"`
	Role     canopy.UserRole `json:"role"`
}

// ExternalReferenceInput ties the new account to an id elsewhere.
type ExternalReferenceInput struct {
	Type        string            `json:"type"`
	Value       string            `json:"value"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

// CreateChildInput is the whole create-child request (seed 001). Every part
// but Account.Name is optional. A nil Workflows inherits the parent's.
type CreateChildInput struct {
	Account            AccountInput             `json:"account"`
	MasterUser         *MasterUserInput         `json:"masterUser"`
	Workflows          *[]string                `json:"workflows"`
	Users              []UserInput              `json:"users"`
	Configurations     canopy.Configurations    `json:"configurations"`
	ExternalReferences []ExternalReferenceInput `json:"externalReferences"`
}

// CreateChildResult is what was configured, provisioned and applied.
type CreateChildResult struct {
	Account            *canopy.Account             `json:"account"`
	Workflows          []string                    `json:"workflows"`
	Users              []*canopy.User              `json:"users"`
	Configurations     canopy.Configurations       `json:"configurations"`
	ExternalReferences []*canopy.ExternalReference `json:"externalReferences"`
}

// MaxUsersPerCreate bounds the users one create-child request provisions.
const MaxUsersPerCreate = 100

// validate checks the whole request and returns the memberships to make,
// the master user first, with defaults applied.
func (in *CreateChildInput) validate() ([]memberInput, error) {
	var v canopy.Validator
	canopy.ValidateName(&v, "account.name", in.Account.Name)
	canopy.ValidateEmail(&v, "account.email", in.Account.Email, false)
	if in.Account.Plan != "" && !in.Account.Plan.Valid() {
		v.Add("account.plan", "invalid-enum", "must be one of basic, pro, enterprise")
	}
	canopy.ValidateMetadata(&v, "account.metadata", in.Account.Metadata)

	users := make([]memberInput, 0, 1+len(in.Users))
	master := memberInput{UserInput: UserInput{Role: canopy.UserAdmin}, Master: true, Field: "masterUser."}
	if in.MasterUser != nil {
		master.Email, master.Username, master.Name = in.MasterUser.Email, in.MasterUser.Username, in.MasterUser.Name
		master.validate(&v, master.Field)
	} else {
		master.Field = "account."
		master.Email, master.Name = in.Account.Email, in.Account.Name
		if in.Account.Email == "" {
			v.Add("masterUser", "required", "give masterUser.email, or account.email to make that address the master user")
		}
	}
	users = append(users, master)
	if len(in.Users) > MaxUsersPerCreate {
		v.Add("users", "too-many", "must have at most %d users", MaxUsersPerCreate)
	}
	for i, u := range in.Users {
		m := memberInput{UserInput: u, Field: fmt.Sprintf("users[%d].", i)}
		m.validate(&v, m.Field)
		users = append(users, m)
	}
	emails := map[string]string{}
	usernames := map[string]string{}
	for _, u := range users {
		if e := canopy.NormalizeEmail(u.Email); e != "" {
			if prev, dup := emails[e]; dup {
				v.Add(u.Field+"email", "duplicate", "is the same address as %s", prev)
			}
			emails[e] = u.Field + "email"
		}
		if n := canopy.NormalizeEmail(u.Username); n != "" {
			if prev, dup := usernames[n]; dup {
				v.Add(u.Field+"username", "duplicate", "is the same username as %s", prev)
			}
			usernames[n] = u.Field + "username"
		}
	}
	if in.Workflows != nil {
		canopy.ValidateWorkflows(&v, "workflows", *in.Workflows)
	}
	if len(in.Configurations) > canopy.MaxConfigNamespaces {
		v.Add("configurations", "too-many", "must have at most %d namespaces", canopy.MaxConfigNamespaces)
	}
	for _, c := range in.Configurations {
		canopy.ValidateNamespace(&v, "configurations."+c.Namespace, c.Namespace)
		canopy.ValidateConfigValue(&v, "configurations."+c.Namespace, c.Value)
	}
	if len(in.ExternalReferences) > canopy.MaxExternalRefs {
		v.Add("externalReferences", "too-many", "must have at most %d references", canopy.MaxExternalRefs)
	}
	seenRefs := map[[2]string]bool{}
	for i, r := range in.ExternalReferences {
		f := fmt.Sprintf("externalReferences[%d]", i)
		canopy.ValidateExternalReference(&v, f, &canopy.ExternalReference{Type: r.Type, Value: r.Value, Description: r.Description, Metadata: r.Metadata})
		k := [2]string{r.Type, r.Value}
		if seenRefs[k] {
			v.Add(f, "duplicate", "reference %s:%s is listed twice", r.Type, r.Value)
		}
		seenRefs[k] = true
	}
	return users, v.Err()
}

// Validate checks a create-child request as CreateChild does before it
// touches anything, for callers that check many first (canopy import
// --dry-run): the same rules, written once.
func (in *CreateChildInput) Validate() error {
	_, err := in.validate()
	return err
}

// CreateChild creates a child of the acting account with its master user,
// further users, workflows, configurations and external references, and
// queues an email to each new user — all in one transaction (rule 3, docs/rules.md).
// The child's plan does not exceed the acting account's effective plan
// (rule 9, docs/rules.md), unless the platform root sells it.
//
// Errors: validation-failed; plan-not-allowed (403, naming account.plan);
// depth-limit-exceeded; email-quota (429); external-reference-exists
// (409); account-suspended. An address or username that belongs to someone
// is no error: the person is invited.
func (s *Service) CreateChild(ctx context.Context, c Caller, in CreateChildInput) (*CreateChildResult, error) {
	users, err := in.validate()
	if err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*CreateChildResult, error) {
		// write holds a shared lock on the acting row: a concurrent move of
		// the parent's subtree waits, so the child's path is never stale.
		plan := in.Account.Plan
		if plan == "" {
			plan = canopy.PlanBasic
		}
		if err := planWithin(o.acting, plan, "account.plan"); err != nil {
			return nil, err
		}
		return s.createChild(o, o.acting, in, users)
	})
}

// createChild stores a child of parent with everything in, in o's
// transaction; users come from in.validate.
func (s *Service) createChild(o *op, parent *canopy.Account, in CreateChildInput, users []memberInput) (*CreateChildResult, error) {
	ctx := o.ctx
	if parent.Depth()+1 > s.cfg.MaxDepth {
		return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeDepthLimit,
			"account %s is at depth %d; the limit is %d levels below the platform root", parent.ID, parent.Depth(), s.cfg.MaxDepth)
	}
	id := s.ids.New(canopy.PrefixAccount)
	plan := in.Account.Plan
	if plan == "" {
		plan = canopy.PlanBasic
	}
	md := in.Account.Metadata
	if md == nil {
		md = map[string]string{}
	}
	acc := &canopy.Account{
		ID: id, ParentID: parent.ID, Path: parent.Path.Child(id),
		Name: in.Account.Name, Email: in.Account.Email, Plan: plan, Status: canopy.StatusActive,
		Metadata: md, Link: canopy.DefaultLink(parent, canopy.OriginCreated, o.now),
		CreatedAt: o.now, UpdatedAt: o.now,
	}
	if err := o.tx.InsertAccount(ctx, acc); err != nil {
		return nil, err
	}
	res := &CreateChildResult{Account: acc, Configurations: canopy.Configurations{}}

	if in.Workflows != nil {
		res.Workflows = *in.Workflows
	} else if wf, err := o.tx.ListWorkflows(ctx, parent.ID); err != nil {
		return nil, err
	} else {
		res.Workflows = wf
	}
	if res.Workflows == nil {
		res.Workflows = []string{}
	}
	if err := o.tx.ReplaceWorkflows(ctx, id, res.Workflows); err != nil {
		return nil, err
	}

	if err := o.countEmails(len(users)); err != nil {
		return nil, err
	}
	emails := make([]*canopy.OutboxMessage, 0, len(users))
	for _, spec := range users {
		template := canopy.TemplateUserInvitation
		if spec.Master {
			template = canopy.TemplateWelcome
		}
		u, m, err := o.addMember(acc, spec, template)
		if err != nil {
			return nil, err
		}
		res.Users = append(res.Users, u)
		emails = append(emails, m)
	}
	if err := o.tx.InsertOutboxMessages(ctx, emails...); err != nil {
		return nil, err
	}

	stored := make([]*canopy.Configuration, len(in.Configurations))
	for i, cfg := range in.Configurations {
		stored[i] = &canopy.Configuration{AccountID: id, Namespace: cfg.Namespace, Value: cfg.Value, UpdatedAt: o.now}
		res.Configurations = append(res.Configurations, *stored[i])
	}
	if err := o.tx.PutConfigurations(ctx, stored...); err != nil {
		return nil, err
	}

	res.ExternalReferences = []*canopy.ExternalReference{}
	for i, r := range in.ExternalReferences {
		ref := &canopy.ExternalReference{
			ID: s.ids.New(canopy.PrefixExternalRef), AccountID: id, ParentID: parent.ID,
			Type: r.Type, Value: r.Value, Description: r.Description, Metadata: r.Metadata, CreatedAt: o.now,
		}
		if ref.Metadata == nil {
			ref.Metadata = map[string]string{}
		}
		if err := o.tx.InsertExternalReference(ctx, ref); err != nil {
			if store.Conflict(err) == store.UniqueExternalRef {
				return nil, refExists(fmt.Sprintf("externalReferences[%d]", i), r.Type, r.Value, parent.ID)
			}
			return nil, err
		}
		res.ExternalReferences = append(res.ExternalReferences, ref)
	}

	userIDs := make([]string, len(res.Users))
	for i, u := range res.Users {
		userIDs[i] = u.ID
	}
	o.audit(id, "account.created", "account", id, map[string]any{
		"parentId": parent.ID, "users": userIDs, "workflows": res.Workflows,
		"configurations": namespaces(res.Configurations), "externalReferences": len(res.ExternalReferences),
	})
	return res, nil
}

func namespaces(cs canopy.Configurations) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Namespace
	}
	return out
}

func refExists(field, typ, value, parentID string) error {
	return canopy.ConflictField(field, canopy.CodeExternalRefExists,
		"reference %s:%s already belongs to another child of %s", typ, value, parentID)
}

// emailFor builds an email to user u of account acc, which the caller
// writes to the outbox in the same transaction as the change that causes it
// (rule 4, docs/rules.md). It carries no secret: delivery issues the one-time
// set-password or reset link.
func emailFor(s *Service, acc *canopy.Account, u *canopy.User, template string, now time.Time) (*canopy.OutboxMessage, error) {
	data, err := json.Marshal(map[string]any{
		"accountId": acc.ID, "accountName": acc.Name, "userId": u.ID, "userName": u.Name,
		"email": u.Email, "username": u.Username, "role": u.Role,
	})
	if err != nil {
		return nil, err
	}
	recipient := u.Email
	if u.Person != nil {
		recipient = u.Person.Email // a known person is written to at their own address
	}
	return &canopy.OutboxMessage{
		ID: s.ids.New(canopy.PrefixOutbox), Channel: "email", AccountID: acc.ID, UserID: u.ID,
		Recipient: recipient, Template: template, Data: data, Status: canopy.OutboxPending,
		NextAttemptAt: now, CreatedAt: now,
	}, nil
}

// queueEmail writes one email about user u to the outbox, in tx.
func (s *Service) queueEmail(ctx context.Context, tx store.OutboxTx, acc *canopy.Account, u *canopy.User, template string, now time.Time) (*canopy.OutboxMessage, error) {
	m, err := emailFor(s, acc, u, template, now)
	if err != nil {
		return nil, err
	}
	return m, tx.InsertOutboxMessages(ctx, m)
}

// GetAccount returns an account the caller acts on or sees: an umbrella
// reads an invited sub-account's summary and link (rule 2,
// docs/rules.md).
func (s *Service) GetAccount(ctx context.Context, c Caller, id string) (*canopy.Account, error) {
	var a *canopy.Account
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		a, _, err = seenIn(ctx, tx, c, id)
		return err
	})
	return a, err
}

// AccountPatch changes some of an account's fields. Metadata is merged:
// a key set to null is removed.
type AccountPatch struct {
	Name     *string            `json:"name"`
	Email    *string            `json:"email"`
	Plan     *canopy.Plan       `json:"plan"`
	Metadata map[string]*string `json:"metadata"`
}

// UpdateAccount applies a patch. Only an ancestor may change the plan, and
// not beyond its own effective plan nor, for a created account, beyond its
// creator's (rule 9, docs/rules.md); the platform root sells any plan.
//
// Errors: not-found; validation-failed; forbidden (plan change by the
// account itself); plan-not-allowed (403, naming plan); account-closed.
func (s *Service) UpdateAccount(ctx context.Context, c Caller, id string, p AccountPatch) (*canopy.Account, error) {
	var v canopy.Validator
	if p.Name != nil {
		canopy.ValidateName(&v, "name", *p.Name)
	}
	if p.Email != nil {
		canopy.ValidateEmail(&v, "email", *p.Email, false)
	}
	if p.Plan != nil && !p.Plan.Valid() {
		v.Add("plan", "invalid-enum", "must be one of basic, pro, enterprise")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*canopy.Account, error) {
		a, err := o.open(id)
		if err != nil {
			return nil, err
		}
		changed := map[string]any{}
		if p.Name != nil && *p.Name != a.Name {
			a.Name, changed["name"] = *p.Name, *p.Name
		}
		if p.Email != nil && *p.Email != a.Email {
			a.Email, changed["email"] = *p.Email, *p.Email
		}
		if p.Plan != nil && *p.Plan != a.Plan {
			if a.ID == o.acting.ID {
				return nil, canopy.Errorf(canopy.KindForbidden, canopy.CodeForbidden,
					"an account cannot change its own plan; an ancestor account must")
			}
			if err := planWithin(o.acting, *p.Plan, "plan"); err != nil {
				return nil, err
			}
			if a.Link.Origin == canopy.OriginCreated && a.ParentID != o.acting.ID {
				creator, err := o.tx.GetAccount(ctx, a.ParentID)
				if err != nil {
					return nil, err
				}
				if err := planWithin(creator, *p.Plan, "plan"); err != nil {
					return nil, err
				}
			}
			a.Plan, changed["plan"] = *p.Plan, *p.Plan
		}
		if len(p.Metadata) > 0 {
			md := make(map[string]string, len(a.Metadata))
			for k, val := range a.Metadata {
				md[k] = val
			}
			for k, val := range p.Metadata {
				if val == nil {
					delete(md, k)
				} else {
					md[k] = *val
				}
			}
			var mv canopy.Validator
			canopy.ValidateMetadata(&mv, "metadata", md)
			if err := mv.Err(); err != nil {
				return nil, err
			}
			a.Metadata, changed["metadata"] = md, true
		}
		if len(changed) == 0 {
			return a, nil
		}
		a.UpdatedAt = o.now
		if err := o.tx.UpdateAccount(ctx, a); err != nil {
			return nil, err
		}
		o.audit(a.ID, "account.updated", "account", a.ID, changed)
		return a, nil
	})
}

func closedError(id string) error {
	return canopy.Errorf(canopy.KindConflict, canopy.CodeAccountClosed, "account %s is closed", id)
}

// planWithin refuses a plan above seller's effective plan: an account sells
// its children at most what it has itself; the platform root sells any
// plan (rule 9, docs/rules.md).
func planWithin(seller *canopy.Account, plan canopy.Plan, field string) error {
	if seller.IsRoot() || plan.Rank() <= seller.EffectivePlan().Rank() {
		return nil
	}
	return &canopy.Error{Kind: canopy.KindForbidden, Code: canopy.CodePlanNotAllowed,
		Message: fmt.Sprintf("account %s is on the %s plan; its children's plans go up to %s", seller.ID, seller.EffectivePlan(), seller.EffectivePlan()),
		Fields: []canopy.FieldError{{Field: field, Code: canopy.CodePlanNotAllowed,
			Message: fmt.Sprintf("must not exceed %s", seller.EffectivePlan())}}}
}
