// Package job runs periodic background work. Every round first takes a
// named lease, so that with several API instances one of them does the work
// while the others skip the round; the work itself must still be idempotent,
// since a lease can run out while a round is under way.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// Each does do to every item a round found due, in turn, and returns how
// many it did. An error that is one of meanwhile says the item changed since
// the round found it: the next round sees it as it is now. Other errors are
// joined, each named by what, and the round goes on to the next item.
func Each[T any](items []T, what func(T) string, do func(T) error, meanwhile ...error) (int, error) {
	n := 0
	var errs []error
	for _, it := range items {
		err := do(it)
		switch {
		case err == nil:
			n++
		case slices.ContainsFunc(meanwhile, func(m error) bool { return errors.Is(err, m) }):
		default:
			errs = append(errs, fmt.Errorf("%s: %w", what(it), err))
		}
	}
	return n, errors.Join(errs...)
}
