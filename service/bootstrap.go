package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// Bootstrap creates the platform root account and its first API key when
// the database has no root yet, and loads the installation's secrets. It returns the key's secret and true only
// when it created the root; secret, when not empty, becomes the key (for
// automation), else a random one is made. Two processes bootstrapping one
// database at once create one root.
func (s *Service) Bootstrap(ctx context.Context, rootName, secret string) (string, bool, error) {
	if secret != "" && (len(secret) < canopy.MinSecretLen || len(secret) > canopy.MaxSecretLen) {
		return "", false, fmt.Errorf("the root API key must be %d to %d characters", canopy.MinSecretLen, canopy.MaxSecretLen)
	}
	if secret == "" {
		var err error
		if secret, err = canopy.NewAPIKeySecret(); err != nil {
			return "", false, err
		}
	}
	if rootName == "" {
		rootName = "Platform"
	}
	created := false
	err := s.store.Write(ctx, func(tx store.Tx) error {
		created = false
		if _, err := tx.GetRootAccount(ctx); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := s.now()
		id := s.ids.New(canopy.PrefixAccount)
		root := &canopy.Account{
			ID: id, Path: canopy.RootPath(id), Name: rootName, Plan: canopy.PlanEnterprise,
			Status: canopy.StatusActive, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.InsertAccount(ctx, root); err != nil {
			return err
		}
		key := &canopy.APIKey{
			ID: s.ids.New(canopy.PrefixAPIKey), AccountID: id, Name: "root",
			Prefix: canopy.DisplayPrefix(secret), SecretHash: canopy.HashSecret(secret), CreatedAt: now,
		}
		if err := tx.InsertAPIKey(ctx, key); err != nil {
			return err
		}
		created = true
		return tx.InsertAuditEvent(ctx, &canopy.AuditEvent{
			ID: s.ids.New(canopy.PrefixAuditEvent), OccurredAt: now, AccountID: id, ActingAccountID: id,
			Actor: canopy.Actor{Type: "system", ID: "bootstrap"}, Action: "platform.bootstrapped",
			TargetType: "account", TargetID: id,
		})
	})
	if store.Conflict(err) == store.UniqueRootAccount {
		created, err = false, nil // another process bootstrapped first
	}
	if err != nil {
		return "", false, fmt.Errorf("bootstrap platform root: %w", err)
	}
	if err := s.LoadSecrets(ctx); err != nil {
		return "", false, err
	}
	if !created {
		return "", false, nil
	}
	return secret, true, nil
}

// Root returns the platform root account.
func (s *Service) Root(ctx context.Context) (*canopy.Account, error) {
	var root *canopy.Account
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		root, err = tx.GetRootAccount(ctx)
		return err
	})
	return root, err
}
