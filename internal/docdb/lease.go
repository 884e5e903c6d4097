package docdb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// LeasesCollection holds named leases: those of background jobs, the
// writer's (see takeWriterLease), and the document readiness probes write.
const LeasesCollection = "leases"

// AcquireLease takes or renews the lease document {_id: name, owner, until}
// in c for owner: true if owner holds it now, false if another owner holds a
// lease that has not expired by now.
func AcquireLease(ctx context.Context, c Collection, name, owner string, now, until time.Time) (bool, error) {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}}}}
	n, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "owner", Value: owner}},
		bson.D{{Key: "until", Value: bson.D{{Key: "$lt", Value: now.UTC()}}}},
	}}}, set, false)
	if err != nil || n == 1 {
		return n == 1, err
	}
	err = c.InsertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: owner}, {Key: "until", Value: until.UTC()}})
	if IsDuplicate(err) {
		return false, nil // held by someone else
	}
	return err == nil, err
}
