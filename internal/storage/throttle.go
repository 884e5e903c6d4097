package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/user"
)

// LoginThrottleStore counts failed sign-ins per account, collection
// login_throttle, one document per key. It implements user.Throttle.
type LoginThrottleStore struct {
	throttle docdb.Collection
}

// NewLoginThrottleStore returns the store on d.
func NewLoginThrottleStore(d *docdb.DB) *LoginThrottleStore {
	return &LoginThrottleStore{throttle: d.Collection("login_throttle")}
}

var _ user.Throttle = (*LoginThrottleStore)(nil)

type throttleDoc struct {
	Key          string    `bson:"_id"`
	Failures     int       `bson:"failures"`
	LastFailure  time.Time `bson:"last_failure"`
	BlockedUntil time.Time `bson:"blocked_until"`
}

func (s *LoginThrottleStore) get(ctx context.Context, key string) (throttleDoc, error) {
	var d throttleDoc
	err := s.throttle.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return throttleDoc{Key: key}, nil
	}
	return d, err
}

// Get implements user.Throttle.
func (s *LoginThrottleStore) Get(ctx context.Context, key string) (int, time.Time, error) {
	d, err := s.get(ctx, key)
	return d.Failures, d.BlockedUntil, err
}

// Fail implements user.Throttle. Two failures at once may count as one:
// the count only paces guesses, it does not need to be exact.
func (s *LoginThrottleStore) Fail(ctx context.Context, key string, now, since time.Time, block func(int) time.Time) error {
	d, err := s.get(ctx, key)
	if err != nil {
		return err
	}
	n := d.Failures + 1
	if d.LastFailure.Before(since) {
		n = 1
	}
	_, err = s.throttle.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "failures", Value: n}, {Key: "last_failure", Value: now}, {Key: "blocked_until", Value: block(n)}}}}, true)
	return err
}

// Clear implements user.Throttle.
func (s *LoginThrottleStore) Clear(ctx context.Context, key string) error {
	_, err := s.throttle.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	return err
}

// Forget implements user.Throttle (index last_failure).
func (s *LoginThrottleStore) Forget(ctx context.Context, t time.Time) (int64, error) {
	return s.throttle.DeleteMany(ctx, bson.D{{Key: "last_failure", Value: bson.D{{Key: "$lt", Value: t}}}})
}
