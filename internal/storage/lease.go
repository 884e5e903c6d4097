package storage

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/job"
)

// LeaseStore keeps named leases for background jobs. It implements
// job.Leaser.
type LeaseStore struct {
	leases collection
	now    func() time.Time
}

// NewLeaseStore returns the lease store on d.
func NewLeaseStore(d *DB) *LeaseStore {
	return &LeaseStore{leases: d.collection("leases"), now: time.Now}
}

var _ job.Leaser = (*LeaseStore)(nil)

// Acquire implements job.Leaser.
func (s *LeaseStore) Acquire(ctx context.Context, name, owner string, until time.Time) (bool, error) {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}}}}
	n, err := s.leases.updateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: owner}},
		bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: s.now().UTC()}}}},
	}}}, set, false)
	if err != nil || n == 1 {
		return n == 1, err
	}
	err = s.leases.insertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}})
	if isDuplicate(err) {
		return false, nil // held by someone else
	}
	return err == nil, err
}
