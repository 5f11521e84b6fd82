package postgres

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuthChannel is the LISTEN/NOTIFY channel on which writers announce
// changes to keys and to the tree.
const AuthChannel = "canopy_auth"

// ListenAuthChanges calls changed whenever a process commits a change to
// keys or the tree, until ctx ends. It holds one dedicated connection; when
// that drops it reconnects with backoff and calls changed once, since
// announcements may have been missed meanwhile. ready, when not nil, is
// closed once the first LISTEN is in place.
func ListenAuthChanges(ctx context.Context, dsn string, log *slog.Logger, changed func(), ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := listenOnce(ctx, dsn, changed, func() {
			if first && ready != nil {
				close(ready)
			}
			if !first {
				changed()
			}
			first = false
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn("auth change listener lost its connection; retrying", "err", err.Error(), "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func listenOnce(ctx context.Context, dsn string, changed, listening func()) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+AuthChannel); err != nil {
		return err
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errors.Join(errors.New("wait for notification"), err)
		}
		changed()
	}
}
