// Package job runs periodic background work. Every round first takes a
// named lease, so that with several API instances one of them does the work
// while the others skip the round; the work itself must still be idempotent,
// since a lease can run out while a round is under way.
package job

import (
	"context"
	"log/slog"
	"time"
)

// Leaser hands out named leases. storage.LeaseStore implements it.
type Leaser interface {
	// Acquire takes or renews the lease called name for owner until the
	// given time. False if another owner holds it.
	Acquire(ctx context.Context, name, owner string, until time.Time) (bool, error)
}

// Every calls work now and then every interval until ctx is done, in the
// rounds for which it gets the lease called name.
func Every(ctx context.Context, log *slog.Logger, leases Leaser, owner, name string, interval time.Duration, work func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := leases.Acquire(ctx, name, owner, time.Now().Add(interval+interval/2))
		switch {
		case err != nil && ctx.Err() == nil:
			log.ErrorContext(ctx, "job lease", "job", name, "err", err)
		case ok:
			if err := work(ctx); err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "job failed", "job", name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
