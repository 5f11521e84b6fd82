package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

const refCols = `id, account_id, parent_id, type, value, description, metadata, created_at`

func scanRef(r rowScanner) (*canopy.ExternalReference, error) {
	var (
		ref      canopy.ExternalReference
		metadata string
		created  dbTime
	)
	if err := r.Scan(&ref.ID, &ref.AccountID, &ref.ParentID, &ref.Type, &ref.Value, &ref.Description, &metadata, &created); err != nil {
		return nil, err
	}
	ref.CreatedAt = created.T
	if err := json.Unmarshal([]byte(metadata), &ref.Metadata); err != nil {
		return nil, fmt.Errorf("reference %s metadata: %w", ref.ID, err)
	}
	if ref.Metadata == nil {
		ref.Metadata = map[string]string{}
	}
	return &ref, nil
}

func (t *tx) InsertExternalReference(ctx context.Context, r *canopy.ExternalReference) error {
	md, err := metadataJSON(r.Metadata)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO external_references (`+refCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.AccountID, r.ParentID, r.Type, r.Value, r.Description, md, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert external reference: %w", err)
	}
	return nil
}

func (t *tx) ListExternalReferences(ctx context.Context, accountID string) ([]*canopy.ExternalReference, error) {
	refs, err := scanAll(ctx, t, scanRef, `SELECT `+refCols+` FROM external_references WHERE account_id = ? ORDER BY id`, accountID)
	if refs == nil && err == nil {
		refs = []*canopy.ExternalReference{}
	}
	return refs, err
}

func (t *tx) RescopeExternalReferences(ctx context.Context, accountID, parentID string) error {
	if _, err := t.exec(ctx, `UPDATE external_references SET parent_id = ? WHERE account_id = ?`, parentID, accountID); err != nil {
		return fmt.Errorf("rescope external references: %w", err)
	}
	return nil
}

func (t *tx) FindByExternalReference(ctx context.Context, q store.ReferenceQuery) ([]*canopy.Account, error) {
	cond, exceptArgs := outside("a.path", q.Except)
	args := append([]any{q.Type, q.Value, string(q.Path), string(q.Path.SubtreeEnd())}, exceptArgs...)
	return scanAll(ctx, t, scanAccount, `SELECT `+accountSelect("a")+` FROM external_references r
		JOIN accounts a ON a.id = r.account_id
		WHERE r.type = ? AND r.value = ? AND a.path > ? AND a.path < ?`+cond+` AND a.id > ?
		ORDER BY a.id LIMIT ?`, append(args, q.Page.After, q.Page.Limit)...)
}
