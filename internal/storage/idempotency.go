package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/idempotency"
)

// IdempotencyStore keeps the idempotency_keys collection: one document per
// user and key. It implements idempotency.Store.
type IdempotencyStore struct {
	keys docdb.Collection
}

// NewIdempotencyStore returns the idempotency key store on d.
func NewIdempotencyStore(d *docdb.DB) *IdempotencyStore {
	return &IdempotencyStore{keys: d.Collection("idempotency_keys")}
}

var _ idempotency.Store = (*IdempotencyStore)(nil)

type idempotencyDoc struct {
	ID          string            `bson:"_id"` // user_id + " " + key: keys are visible ASCII, user IDs hex
	UserID      string            `bson:"user_id"`
	Key         string            `bson:"key"`
	Fingerprint string            `bson:"fingerprint"`
	Done        bool              `bson:"done"`
	Status      int               `bson:"status"`
	Header      map[string]string `bson:"header"`
	Body        []byte            `bson:"body"`
	CreatedAt   time.Time         `bson:"created_at"`
	LeaseUntil  time.Time         `bson:"lease_until"`
}

func keyID(userID, key string) string { return userID + " " + key }

// Claim implements idempotency.Store.
func (s *IdempotencyStore) Claim(ctx context.Context, rec idempotency.Record) (idempotency.Record, bool, error) {
	doc := idempotencyDoc{
		ID: keyID(rec.UserID, rec.Key), UserID: rec.UserID, Key: rec.Key, Fingerprint: rec.Fingerprint,
		Header: map[string]string{}, Body: []byte{}, CreatedAt: rec.CreatedAt, LeaseUntil: rec.LeaseUntil,
	}
	// A key released between the refused insert and the read is free
	// again: claim it on the next round.
	for {
		err := s.keys.InsertOne(ctx, doc)
		if err == nil {
			return rec, true, nil
		}
		if !docdb.IsDuplicate(err) {
			return idempotency.Record{}, false, err
		}
		var d idempotencyDoc
		err = s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}, &d)
		if errors.Is(err, docdb.ErrNoDocument) {
			continue
		}
		if err != nil {
			return idempotency.Record{}, false, err
		}
		return idempotency.Record{
			UserID: d.UserID, Key: d.Key, Fingerprint: d.Fingerprint, Done: d.Done,
			Response:  idempotency.Response{Status: d.Status, Header: d.Header, Body: d.Body},
			CreatedAt: d.CreatedAt, LeaseUntil: d.LeaseUntil,
		}, false, nil
	}
}

// TakeOver implements idempotency.Store.
func (s *IdempotencyStore) TakeOver(ctx context.Context, userID, key string, now, until time.Time) (bool, error) {
	n, err := s.keys.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: keyID(userID, key)}, {Key: "done", Value: false}, {Key: "lease_until", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: until}}}}, false)
	return n == 1, err
}

// Finish implements idempotency.Store.
func (s *IdempotencyStore) Finish(ctx context.Context, userID, key string, res idempotency.Response) error {
	header, body := res.Header, res.Body
	if header == nil {
		header = map[string]string{}
	}
	if body == nil {
		body = []byte{}
	}
	_, err := s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: keyID(userID, key)}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "done", Value: true}, {Key: "status", Value: res.Status}, {Key: "header", Value: header}, {Key: "body", Value: body},
		}}}, false)
	return err
}

// Release implements idempotency.Store.
func (s *IdempotencyStore) Release(ctx context.Context, userID, key string) error {
	_, err := s.keys.DeleteOne(ctx, bson.D{{Key: "_id", Value: keyID(userID, key)}})
	return err
}

// DeleteBefore implements idempotency.Store.
func (s *IdempotencyStore) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.keys.DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}})
}
