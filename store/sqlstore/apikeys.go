package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const keyCols = `id, account_id, name, prefix, secret_hash, created_by, created_at, revoked_at, created_by_account`

func scanKey(r rowScanner) (*canopy.APIKey, error) {
	var (
		k                canopy.APIKey
		createdBy        sql.NullString
		byAccount        sql.NullString
		created, revoked dbTime
	)
	if err := r.Scan(&k.ID, &k.AccountID, &k.Name, &k.Prefix, &k.SecretHash, &createdBy, &created, &revoked, &byAccount); err != nil {
		return nil, err
	}
	k.CreatedBy, k.CreatedAt, k.RevokedAt, k.CreatedByAccount = createdBy.String, created.T, revoked.ptr(), byAccount.String
	return &k, nil
}

func (t *tx) InsertAPIKey(ctx context.Context, k *canopy.APIKey) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, k.Prefix, k.SecretHash, nullable(k.CreatedBy), k.CreatedAt, timePtrArg(k.RevokedAt),
		nullable(k.CreatedByAccount))
	if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

func (t *tx) GetAPIKey(ctx context.Context, id string) (*canopy.APIKey, error) {
	k, err := scanKey(t.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE id = ?`, id))
	return k, t.db.mapErr(err)
}

func (t *tx) GetAPIKeyByHash(ctx context.Context, hash string) (*canopy.APIKey, error) {
	k, err := scanKey(t.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE secret_hash = ?`, hash))
	return k, t.db.mapErr(err)
}

func (t *tx) ListAPIKeys(ctx context.Context, accountID string, p store.Page) ([]*canopy.APIKey, error) {
	return scanAll(ctx, t, scanKey, `SELECT `+keyCols+` FROM api_keys WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, p.After, p.Limit)
}

func (t *tx) CountActiveAPIKeys(ctx context.Context, accountID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM api_keys WHERE account_id = ? AND revoked_at IS NULL`, accountID).Scan(&n)
	return n, t.db.mapErr(err)
}

func (t *tx) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, at, id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return expectOne(res)
}
