package sqlstore

import (
	"context"
	"fmt"

	"github.com/canopyhq/canopy"
)

func scanConfig(r rowScanner) (*canopy.Configuration, error) {
	var (
		c       canopy.Configuration
		updated dbTime
		value   []byte
	)
	if err := r.Scan(&c.AccountID, &c.Namespace, &value, &c.Inheritable, &updated); err != nil {
		return nil, err
	}
	c.Value, c.UpdatedAt = value, updated.T
	return &c, nil
}

func (t *tx) PutConfigurations(ctx context.Context, cs ...*canopy.Configuration) error {
	if len(cs) == 0 {
		return nil
	}
	args := make([]any, 0, 6*len(cs))
	for _, c := range cs {
		args = append(args, c.AccountID, c.Namespace, []byte(c.Value), c.Inheritable, c.UpdatedAt, c.UpdatedAt)
	}
	_, err := t.exec(ctx, `INSERT INTO account_configurations (account_id, namespace, value, inheritable, created_at, updated_at)
		VALUES `+rows(len(cs), 6)+`
		ON CONFLICT (account_id, namespace) DO UPDATE SET value = excluded.value, inheritable = excluded.inheritable,
			updated_at = excluded.updated_at`, args...)
	if err != nil {
		return fmt.Errorf("put configuration: %w", err)
	}
	return nil
}

func (t *tx) GetConfiguration(ctx context.Context, accountID, namespace string) (*canopy.Configuration, error) {
	c, err := scanConfig(t.queryRow(ctx, `SELECT account_id, namespace, value, inheritable, updated_at FROM account_configurations
		WHERE account_id = ? AND namespace = ?`, accountID, namespace))
	return c, t.db.mapErr(err)
}

func (t *tx) DeleteConfiguration(ctx context.Context, accountID, namespace string) error {
	res, err := t.exec(ctx, `DELETE FROM account_configurations WHERE account_id = ? AND namespace = ?`, accountID, namespace)
	if err != nil {
		return fmt.Errorf("delete configuration: %w", err)
	}
	return expectOne(res)
}

func (t *tx) ListConfigurations(ctx context.Context, accountIDs []string) ([]*canopy.Configuration, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(accountIDs))
	for i, id := range accountIDs {
		args[i] = id
	}
	return scanAll(ctx, t, scanConfig, `SELECT account_id, namespace, value, inheritable, updated_at FROM account_configurations
		WHERE account_id IN (`+placeholders(len(args))+`) ORDER BY account_id, namespace`, args...)
}

func (t *tx) CountConfigurations(ctx context.Context, accountID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM account_configurations WHERE account_id = ?`, accountID).Scan(&n)
	return n, t.db.mapErr(err)
}
