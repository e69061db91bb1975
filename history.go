package main

import (
	"context"
	"log/slog"
	"time"
)

// pruneEvery is how often events older than the retention are forgotten.
const pruneEvery = 10 * time.Minute

// eventPruner is what pruneHistory needs of the store.
type eventPruner interface {
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// pruneHistory forgets, at start and then every pruneEvery until ctx ends,
// the events older than retention by the clock now (SPEC §10's
// --history-retention). Several servers pruning at once only repeat a
// DELETE.
func pruneHistory(ctx context.Context, store eventPruner, retention time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		if _, err := store.PruneEvents(ctx, now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Warn("pruning the history", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
