package service

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// ConfigurationsView is an account's configuration namespaces. Sources
// names the account each namespace comes from (in the effective view, an
// ancestor's id for an inherited namespace); Inheritable names the
// namespaces shown that flow down to descendants.
type ConfigurationsView struct {
	AccountID      string                `json:"accountId"`
	Effective      bool                  `json:"effective"`
	Configurations canopy.Configurations `json:"configurations"`
	Sources        map[string]string     `json:"sources"`
	Inheritable    []string              `json:"inheritable"`
}

// ListConfigurations returns an account's namespaces, or with effective
// its own merged over the namespaces its ancestors marked inheritable, the
// nearest account winning per namespace. Nothing else of an ancestor is
// shown.
func (s *Service) ListConfigurations(ctx context.Context, c Caller, id string, effective bool) (*ConfigurationsView, error) {
	view := &ConfigurationsView{AccountID: id, Effective: effective, Configurations: canopy.Configurations{}}
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := visibleIn(ctx, tx, c, id)
		if err != nil {
			return err
		}
		ids := []string{a.ID}
		if effective {
			ids = a.Path.IDs()
		}
		rows, err := tx.ListConfigurations(ctx, ids)
		if err != nil {
			return err
		}
		view.Configurations, view.Sources = merge(ids, inherited(a.ID, rows))
		view.Inheritable = []string{}
		for _, cfg := range view.Configurations {
			if cfg.Inheritable {
				view.Inheritable = append(view.Inheritable, cfg.Namespace)
			}
		}
		return nil
	})
	return view, err
}

// inherited keeps an account's own namespaces and those its ancestors
// marked inheritable.
func inherited(accountID string, rows []*canopy.Configuration) []*canopy.Configuration {
	out := rows[:0:0]
	for _, r := range rows {
		if r.AccountID == accountID || r.Inheritable {
			out = append(out, r)
		}
	}
	return out
}

// merge overlays namespaces in path order (root first), so the nearest
// account wins, and returns them sorted by namespace.
func merge(pathIDs []string, rows []*canopy.Configuration) (canopy.Configurations, map[string]string) {
	rank := make(map[string]int, len(pathIDs))
	for i, id := range pathIDs {
		rank[id] = i
	}
	best := map[string]*canopy.Configuration{}
	for _, r := range rows {
		if cur, ok := best[r.Namespace]; !ok || rank[r.AccountID] > rank[cur.AccountID] {
			best[r.Namespace] = r
		}
	}
	out := make(canopy.Configurations, 0, len(best))
	sources := make(map[string]string, len(best))
	for ns, r := range best {
		out = append(out, *r)
		sources[ns] = r.AccountID
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out, sources
}

// GetConfiguration returns one namespace's payload exactly as stored. With
// effective, the nearest ancestor's payload is returned when the account
// has none and that ancestor marked it inheritable.
func (s *Service) GetConfiguration(ctx context.Context, c Caller, id, namespace string, effective bool) (*canopy.Configuration, error) {
	if err := checkNamespaceParam(namespace); err != nil {
		return nil, err
	}
	var out *canopy.Configuration
	err := s.read(ctx, func(tx store.Tx) error {
		a, err := visibleIn(ctx, tx, c, id)
		if err != nil {
			return err
		}
		ids := []string{a.ID}
		if effective {
			ids = a.Path.IDs()
		}
		for i := len(ids) - 1; i >= 0; i-- {
			cfg, err := tx.GetConfiguration(ctx, ids[i], namespace)
			if errors.Is(err, store.ErrNotFound) || (err == nil && cfg.AccountID != a.ID && !cfg.Inheritable) {
				continue
			}
			if err != nil {
				return err
			}
			out = cfg
			return nil
		}
		return canopy.NotFound("configuration namespace " + namespace)
	})
	return out, err
}

// checkNamespaceParam refuses a namespace in a URL that no PUT could have
// made.
func checkNamespaceParam(ns string) error {
	var v canopy.Validator
	canopy.ValidateNamespace(&v, "namespace", ns)
	if v.Err() != nil {
		return canopy.BadParam("namespace", "invalid-namespace", "is not a namespace name (lowercase letters, digits, '_', '.', '-')")
	}
	return nil
}

// ConfigurationResult is the response to writing one namespace.
type ConfigurationResult struct {
	AccountID   string    `json:"accountId"`
	Namespace   string    `json:"namespace"`
	Value       rawJSON   `json:"value"`
	Inheritable bool      `json:"inheritable"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// rawJSON is a payload written into a response without re-encoding.
type rawJSON []byte

// MarshalJSON returns the payload itself.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// PutConfiguration replaces one namespace with value, stored byte for
// byte, keeping whether it is inheritable (a new namespace is not).
func (s *Service) PutConfiguration(ctx context.Context, c Caller, id, namespace string, value []byte) (*ConfigurationResult, error) {
	return s.SetConfiguration(ctx, c, id, namespace, value, nil)
}

// SetConfiguration is PutConfiguration that also sets whether the
// namespace is inheritable, unless inheritable is nil.
func (s *Service) SetConfiguration(ctx context.Context, c Caller, id, namespace string, value []byte, inheritable *bool) (*ConfigurationResult, error) {
	var v canopy.Validator
	canopy.ValidateNamespace(&v, "namespace", namespace)
	canopy.ValidateConfigValue(&v, "body", value)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*ConfigurationResult, error) {
		a, err := o.open(id)
		if err != nil {
			return nil, err
		}
		cfg := &canopy.Configuration{AccountID: a.ID, Namespace: namespace, Value: value, UpdatedAt: o.now}
		old, err := o.tx.GetConfiguration(ctx, a.ID, namespace)
		if err == nil {
			cfg.Inheritable = old.Inheritable
		}
		if errors.Is(err, store.ErrNotFound) {
			n, err := o.tx.CountConfigurations(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			if n >= canopy.MaxConfigNamespaces {
				return nil, canopy.Errorf(canopy.KindConflict, canopy.CodeConflict,
					"account %s already has %d configuration namespaces, the most allowed", a.ID, n)
			}
		} else if err != nil {
			return nil, err
		}
		if inheritable != nil {
			cfg.Inheritable = *inheritable
		}
		if err := o.tx.PutConfigurations(ctx, cfg); err != nil {
			return nil, err
		}
		o.audit(a.ID, "configuration.updated", "configuration", namespace, map[string]any{"bytes": len(value), "inheritable": cfg.Inheritable})
		return &ConfigurationResult{AccountID: a.ID, Namespace: namespace, Value: rawJSON(value), Inheritable: cfg.Inheritable, UpdatedAt: o.now}, nil
	})
}

// DeleteConfiguration removes one namespace.
func (s *Service) DeleteConfiguration(ctx context.Context, c Caller, id, namespace string) error {
	if err := checkNamespaceParam(namespace); err != nil {
		return err
	}
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		a, err := o.open(id)
		if err != nil {
			return struct{}{}, err
		}
		if err := o.tx.DeleteConfiguration(ctx, a.ID, namespace); errors.Is(err, store.ErrNotFound) {
			return struct{}{}, canopy.NotFound("configuration namespace " + namespace)
		} else if err != nil {
			return struct{}{}, err
		}
		o.audit(a.ID, "configuration.deleted", "configuration", namespace, nil)
		return struct{}{}, nil
	})
	return err
}

// Workflows is an account's workflow list.
type Workflows struct {
	AccountID string   `json:"accountId"`
	Workflows []string `json:"workflows"`
}

// GetWorkflows returns an account's workflows.
func (s *Service) GetWorkflows(ctx context.Context, c Caller, id string) (*Workflows, error) {
	out := &Workflows{AccountID: id}
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, id); err != nil {
			return err
		}
		var err error
		out.Workflows, err = tx.ListWorkflows(ctx, id)
		return err
	})
	return out, err
}

// PutWorkflows replaces an account's workflows.
func (s *Service) PutWorkflows(ctx context.Context, c Caller, id string, names []string) (*Workflows, error) {
	var v canopy.Validator
	if names == nil {
		v.Add("workflows", "required", "must be a list of workflow names (it may be empty)")
	}
	canopy.ValidateWorkflows(&v, "workflows", names)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return write(ctx, s, c, func(o *op) (*Workflows, error) {
		a, err := o.open(id)
		if err != nil {
			return nil, err
		}
		if err := o.tx.ReplaceWorkflows(ctx, a.ID, names); err != nil {
			return nil, err
		}
		o.audit(a.ID, "workflows.updated", "account", a.ID, map[string]any{"workflows": names})
		return &Workflows{AccountID: a.ID, Workflows: names}, nil
	})
}
