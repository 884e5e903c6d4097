package storage

import (
	"context"
	"time"

	"microtask/internal/docdb"
	"microtask/internal/platform/job"
)

// LeaseStore keeps named leases for background jobs. It implements
// job.Leaser.
type LeaseStore struct {
	leases docdb.Collection
	now    func() time.Time
}

// NewLeaseStore returns the lease store on d.
func NewLeaseStore(d *docdb.DB) *LeaseStore {
	return &LeaseStore{leases: d.Collection(docdb.LeasesCollection), now: time.Now}
}

var _ job.Leaser = (*LeaseStore)(nil)

// Acquire implements job.Leaser.
func (s *LeaseStore) Acquire(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	return docdb.AcquireLease(ctx, s.leases, name, owner, s.now(), until)
}
