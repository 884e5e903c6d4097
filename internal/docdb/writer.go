package docdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The writer lease: on FerretDB, writes are made atomic by serializing them
// in the process (the gate, or per-document locks), which holds only while
// one process writes. Two processes writing one FerretDB database lose each
// other's updates (measured: 30 task creations alternating between two
// instances left a buyer at 983 coins where the ledger said 950). So a
// process that serializes writes holds a lease on its database, renewed in
// the background, and a second one refuses to start.
const (
	writerLeaseName = "writer"
	// DefaultWriterLeaseTTL is how long a writer lease lasts unless renewed;
	// it is renewed every third of that.
	DefaultWriterLeaseTTL = 30 * time.Second
)

// writerLease is the lease this process holds on one database.
type writerLease struct {
	owner string
	ttl   time.Duration
	stop  context.CancelFunc
	done  chan struct{}
}

// WithWriterLease sets how long the writer lease lasts unless renewed
// (DefaultWriterLeaseTTL otherwise); tests shorten it.
func WithWriterLease(ttl time.Duration) Option {
	return func(s *settings) { s.leaseTTL = ttl }
}

// newOwner names a process (or an embedded server) in the writer lease.
func newOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// takeWriterLease takes the writer lease of d's database for owner and
// keeps renewing it until Close. takeOver says that any lease held is stale:
// the embedded server this process has just started has no other client
// yet. Otherwise a lease held by another owner is waited for until it
// expires; if its holder renews it meanwhile, that process is alive and
// writing, and this one refuses to start.
func (d *DB) takeWriterLease(ctx context.Context, owner string, ttl time.Duration, takeOver bool, log *slog.Logger) error {
	if ttl <= 0 {
		ttl = DefaultWriterLeaseTTL
	}
	c := d.Collection(LeasesCollection)
	if takeOver {
		if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: writerLeaseName}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "until", Value: time.Now().Add(ttl).UTC()}}}},
			true); err != nil {
			return fmt.Errorf("take the writer lease: %w", err)
		}
	} else if err := waitForWriterLease(ctx, c, owner, ttl, log); err != nil {
		return err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &writerLease{owner: owner, ttl: ttl, stop: stop, done: make(chan struct{})}
	d.lease = l
	go d.renewWriterLease(rctx, l, log)
	return nil
}

type leaseDoc struct {
	Owner string    `bson:"owner"`
	Until time.Time `bson:"until"`
}

func waitForWriterLease(ctx context.Context, c Collection, owner string, ttl time.Duration, log *slog.Logger) error {
	var seen time.Time
	for {
		ok, err := AcquireLease(ctx, c, writerLeaseName, owner, time.Now(), time.Now().Add(ttl))
		if err != nil {
			return fmt.Errorf("take the writer lease: %w", err)
		}
		if ok {
			return nil
		}
		var held leaseDoc
		if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: writerLeaseName}}, &held); err != nil {
			continue // released meanwhile: try again
		}
		switch {
		case seen.IsZero():
			log.WarnContext(ctx, "another process holds the writer lease of this database; waiting for it to expire",
				"holder", held.Owner, "until", held.Until)
		case held.Until.After(seen):
			return fmt.Errorf("another Microtask process (%s) writes to this FerretDB database, and two writers lose each "+
				"other's updates: stop it first (run several instances on MongoDB only)", held.Owner)
		}
		seen = held.Until
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(ttl/10, time.Second)):
		}
	}
}

// renewWriterLease renews the lease every third of its lifetime until it is
// stopped. A lease found taken by another owner fences this process off:
// every later write is refused, as writing on would lose updates.
func (d *DB) renewWriterLease(ctx context.Context, l *writerLease, log *slog.Logger) {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := AcquireLease(ctx, d.Collection(LeasesCollection), writerLeaseName, l.owner, time.Now(), time.Now().Add(l.ttl))
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "renew the writer lease", "err", err)
		case err == nil && !ok:
			log.ErrorContext(ctx, "another process took over the writer lease of this database; refusing every write from now on")
			d.health.fence("another process took over the writer lease")
			return
		}
	}
}

// releaseWriterLease stops renewing the lease and gives it up, so that the
// next process starts at once.
func (d *DB) releaseWriterLease(ctx context.Context) {
	l := d.lease
	if l == nil {
		return
	}
	l.stop()
	<-l.done
	_, _ = d.Collection(LeasesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: writerLeaseName}, {Key: "owner", Value: l.owner}})
}
