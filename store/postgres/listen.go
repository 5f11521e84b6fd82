package postgres

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuthChannel is the LISTEN/NOTIFY channel on which writers announce
// changes to keys, the tree, shares and forms (payloads: store.AuthChange).
const AuthChannel = "canopy_auth"

// ListenAuthChanges calls changed with each announcement's payload
// whenever a process commits a change to what the caches hold, until ctx
// ends. It holds one dedicated connection; when that drops it reconnects
// with backoff and calls changed("") once (everything), since
// announcements may have been missed meanwhile. ready, when not nil, is
// closed once the first LISTEN is in place.
func ListenAuthChanges(ctx context.Context, dsn string, log *slog.Logger, changed func(payload string), ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := listenOnce(ctx, dsn, changed, func() {
			if first && ready != nil {
				close(ready)
			}
			if !first {
				changed("")
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

func listenOnce(ctx context.Context, dsn string, changed func(string), listening func()) error {
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
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errors.Join(errors.New("wait for notification"), err)
		}
		changed(n.Payload)
	}
}
