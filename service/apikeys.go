package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// CreatedAPIKey is a new key with its secret, which is shown only here.
type CreatedAPIKey struct {
	*canopy.APIKey
	Secret string `json:"secret"`
}

// MarshalJSON writes a redacted key's secret as null.
func (k *CreatedAPIKey) MarshalJSON() ([]byte, error) {
	type plain canopy.APIKey
	var secret *string
	if k.Secret != "" {
		secret = &k.Secret
	}
	return json.Marshal(struct {
		*plain
		Secret *string `json:"secret"`
	}{(*plain)(k.APIKey), secret})
}

// Redacted is the key as a replayed response shows it: the secret is
// shown once, so it is never stored, not even for idempotent replays.
func (k *CreatedAPIKey) Redacted() any {
	return &CreatedAPIKey{APIKey: k.APIKey}
}

// CreateAPIKey makes a key for an account the caller may see.
func (s *Service) CreateAPIKey(ctx context.Context, c Caller, accountID, name string) (*CreatedAPIKey, error) {
	var v canopy.Validator
	canopy.ValidateText(&v, "name", name, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	secret, err := canopy.NewAPIKeySecret()
	if err != nil {
		return nil, fmt.Errorf("make secret: %w", err)
	}
	return write(ctx, s, c, func(o *op) (*CreatedAPIKey, error) {
		a, err := o.open(accountID)
		if err != nil {
			return nil, err
		}
		k := &canopy.APIKey{
			ID: s.ids.New(canopy.PrefixAPIKey), AccountID: a.ID, Name: name,
			Prefix: canopy.DisplayPrefix(secret), SecretHash: canopy.HashSecret(secret),
			CreatedBy: c.Actor.ID, CreatedByAccount: c.AccountID, CreatedAt: o.now,
		}
		if err := o.tx.InsertAPIKey(ctx, k); err != nil {
			return nil, err
		}
		o.audit(a.ID, "apiKey.created", "apiKey", k.ID, map[string]string{"name": name})
		return &CreatedAPIKey{APIKey: k, Secret: secret}, nil
	})
}

// ListAPIKeys lists an account's keys, without secrets.
func (s *Service) ListAPIKeys(ctx context.Context, c Caller, accountID string, pr PageRequest) (Page[*canopy.APIKey], error) {
	kind := cursorKind(c, "keys", accountID)
	after, err := s.decodeIDCursor(kind, canopy.PrefixAPIKey, pr.Cursor)
	if err != nil {
		return Page[*canopy.APIKey]{}, err
	}
	var rows []*canopy.APIKey
	err = s.read(ctx, func(tx store.Tx) error {
		if _, err := visibleIn(ctx, tx, c, accountID); err != nil {
			return err
		}
		rows, err = tx.ListAPIKeys(ctx, accountID, store.Page{After: after, Limit: pr.limit() + 1})
		return err
	})
	if err != nil {
		return Page[*canopy.APIKey]{}, err
	}
	return paginate(s, rows, pr.limit(), kind, func(k *canopy.APIKey) string { return k.ID }), nil
}

// RevokeAPIKey revokes a key at once. The platform root's last key cannot
// be revoked, so the operator is never locked out.
func (s *Service) RevokeAPIKey(ctx context.Context, c Caller, accountID, keyID string) error {
	_, err := write(ctx, s, c, func(o *op) (struct{}, error) {
		a, err := o.visible(accountID, false)
		if err != nil {
			return struct{}{}, err
		}
		k, err := o.tx.GetAPIKey(ctx, keyID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (k.AccountID != a.ID || k.RevokedAt != nil)) {
			return struct{}{}, canopy.NotFound("api key")
		}
		if err != nil {
			return struct{}{}, err
		}
		if a.IsRoot() {
			n, err := o.tx.CountActiveAPIKeys(ctx, a.ID)
			if err != nil {
				return struct{}{}, err
			}
			if n <= 1 {
				return struct{}{}, canopy.Errorf(canopy.KindConflict, canopy.CodeLastKey,
					"this is the platform root's last API key; create another before revoking it")
			}
		}
		if err := o.tx.RevokeAPIKey(ctx, k.ID, o.now); err != nil {
			return struct{}{}, err
		}
		o.audit(a.ID, "apiKey.revoked", "apiKey", k.ID, nil)
		o.invalidateAuth = true
		return struct{}{}, nil
	})
	return err
}

// CreateRootKey makes a new API key of the platform root, for an operator
// at the installation's command line: the first key is printed once by
// serve, and this is how a lost one is replaced (or a script gets one).
func (op Operator) CreateRootKey(ctx context.Context, name string) (*CreatedAPIKey, error) {
	var v canopy.Validator
	canopy.ValidateText(&v, "name", name, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	secret, err := canopy.NewAPIKeySecret()
	if err != nil {
		return nil, fmt.Errorf("make secret: %w", err)
	}
	var out *CreatedAPIKey
	err = op.s.store.Write(ctx, func(tx store.Tx) error {
		root, err := tx.GetRootAccount(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return canopy.Errorf(canopy.KindConflict, canopy.CodeInvalidState, "this database has no platform root yet: run canopy serve once first")
		}
		if err != nil {
			return err
		}
		now := op.s.now()
		k := &canopy.APIKey{
			ID: op.s.ids.New(canopy.PrefixAPIKey), AccountID: root.ID, Name: name,
			Prefix: canopy.DisplayPrefix(secret), SecretHash: canopy.HashSecret(secret),
			CreatedBy: "operator", CreatedByAccount: root.ID, CreatedAt: now,
		}
		if err := tx.InsertAPIKey(ctx, k); err != nil {
			return err
		}
		out = &CreatedAPIKey{APIKey: k, Secret: secret}
		return op.s.systemAudit(ctx, tx, RequestInfo{}, canopy.Actor{Type: "system", ID: "operator"}, root.ID,
			"apiKey.created", "apiKey", k.ID, map[string]string{"name": name})
	})
	return out, err
}
