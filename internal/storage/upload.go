package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/upload"
)

// UploadStore keeps the uploads collection: one document per image stored,
// named by the image's name. It implements upload.Store.
type UploadStore struct {
	uploads docdb.Collection
}

// NewUploadStore returns the upload store on d.
func NewUploadStore(d *docdb.DB) *UploadStore {
	return &UploadStore{uploads: d.Collection("uploads")}
}

var _ upload.Store = (*UploadStore)(nil)

type uploadDoc struct {
	ID        string     `bson:"_id"`
	Owner     string     `bson:"owner"`
	Host      string     `bson:"host"`
	URL       string     `bson:"url"`
	CreatedAt time.Time  `bson:"created_at"`
	CheckAt   *time.Time `bson:"check_at,omitempty"` // none for a host that cannot delete: never due
}

func uploadFromDoc(d uploadDoc) upload.Record {
	r := upload.Record{Name: d.ID, Owner: d.Owner, Host: d.Host, URL: d.URL, CreatedAt: d.CreatedAt}
	if d.CheckAt != nil {
		r.CheckAt = *d.CheckAt
	}
	return r
}

// Insert implements upload.Store.
func (s *UploadStore) Insert(ctx context.Context, r upload.Record) error {
	d := uploadDoc{ID: r.Name, Owner: r.Owner, Host: r.Host, URL: r.URL, CreatedAt: r.CreatedAt}
	if !r.CheckAt.IsZero() {
		d.CheckAt = &r.CheckAt
	}
	err := s.uploads.InsertOne(ctx, d)
	if docdb.IsDuplicate(err) {
		return nil
	}
	return err
}

// CountSince implements upload.Store: a count, and the oldest time only
// when there is something to count.
func (s *UploadStore) CountSince(ctx context.Context, owner string, since time.Time) (int64, time.Time, error) {
	filter := bson.D{{Key: "owner", Value: owner}, {Key: "created_at", Value: bson.D{{Key: "$gt", Value: since}}}}
	n, err := s.uploads.Count(ctx, filter)
	if err != nil || n == 0 {
		return n, time.Time{}, err
	}
	oldest, err := docdb.FindAll(ctx, s.uploads, filter, docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}}, Limit: 1},
		func(d uploadDoc) time.Time { return d.CreatedAt })
	if err != nil || len(oldest) == 0 { // none: deleted since the count
		return n, since, err
	}
	return n, oldest[0], nil
}

// Due implements upload.Store.
func (s *UploadStore) Due(ctx context.Context, now time.Time, limit int) ([]upload.Record, error) {
	return docdb.FindAll(ctx, s.uploads, bson.D{{Key: "check_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "check_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, uploadFromDoc)
}

// Postpone implements upload.Store.
func (s *UploadStore) Postpone(ctx context.Context, name string, at time.Time) error {
	_, err := s.uploads.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "check_at", Value: at}}}}, false)
	return err
}

// Delete implements upload.Store.
func (s *UploadStore) Delete(ctx context.Context, name string) error {
	_, err := s.uploads.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}})
	return err
}

// Names implements upload.Store.
func (s *UploadStore) Names(ctx context.Context, host string) ([]string, error) {
	return docdb.FindAll(ctx, s.uploads, bson.D{{Key: "host", Value: host}}, docdb.Query{}, func(d uploadDoc) string { return d.ID })
}

// Known implements upload.Store: one find, by name or by the URL's index.
func (s *UploadStore) Known(ctx context.Context, name, url string) (bool, error) {
	q := bson.D{{Key: "url", Value: url}}
	if name != "" {
		q = bson.D{{Key: "_id", Value: name}}
	}
	err := s.uploads.FindOne(ctx, q, &uploadDoc{})
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return err == nil, err
}
