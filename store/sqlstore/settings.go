package sqlstore

import (
	"context"
	"fmt"
)

func (t *tx) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := t.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, t.db.mapErr(err)
}

func (t *tx) InsertSetting(ctx context.Context, name, value string) error {
	if _, err := t.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return fmt.Errorf("insert setting %s: %w", name, err)
	}
	return nil
}
