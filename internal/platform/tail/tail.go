// Package tail follows the records other API instances store, for the
// services that push them to this process's sockets and streams
// (notifications, messages). Only needed when several instances share a
// MongoDB; the embedded database is single-instance.
package tail

import (
	"context"
	"log/slog"
	"time"
)

// Behind is how far before the newest record seen each round reads again:
// clocks and inserts are not ordered across instances. The hubs the rounds
// publish to drop repeats.
const Behind = 2 * time.Second

// Every runs round every interval until ctx ends, from start: round reads
// the records created since the time it is given, publishes them, and
// returns the newest creation time among them (zero for none). An error is
// logged as the tail of what, and the next round reads from the same time.
func Every(ctx context.Context, interval time.Duration, start time.Time, log *slog.Logger, what string,
	round func(ctx context.Context, since time.Time) (time.Time, error)) {
	since := start
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		newest, err := round(ctx, since.Add(-Behind))
		if err != nil {
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "tail "+what, "err", err)
			}
			continue
		}
		if newest.After(since) {
			since = newest
		}
	}
}
