package storage

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/job"
)

// leasesCollection holds the leases of jobs, of the writer (see
// writerLease) and the document readiness probes write.
const leasesCollection = "leases"

// LeaseStore keeps named leases for background jobs. It implements
// job.Leaser.
type LeaseStore struct {
	leases collection
	now    func() time.Time
}

// NewLeaseStore returns the lease store on d.
func NewLeaseStore(d *DB) *LeaseStore {
	return &LeaseStore{leases: d.collection(leasesCollection), now: time.Now}
}

var _ job.Leaser = (*LeaseStore)(nil)

// Acquire implements job.Leaser.
func (s *LeaseStore) Acquire(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	return acquireLease(ctx, s.leases, name, owner, s.now(), until)
}

// acquireLease takes or renews the lease document {_id: name, owner, until}
// in c for owner: true if owner holds it now, false if another owner holds a
// lease that has not expired by now.
func acquireLease(ctx context.Context, c collection, name, owner string, now, until time.Time) (bool, error) {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}}}}
	n, err := c.updateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: owner}},
		bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.UTC()}}}},
	}}}, set, false)
	if err != nil || n == 1 {
		return n == 1, err
	}
	err = c.insertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}})
	if isDuplicate(err) {
		return false, nil // held by someone else
	}
	return err == nil, err
}
