package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/apikey"
	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/page"
)

// APIKeyStore keeps the api_keys collection: one document per key, with
// the key's hash, never the key. It implements apikey.Store.
type APIKeyStore struct {
	keys docdb.Collection
}

// NewAPIKeyStore returns the API key store on d.
func NewAPIKeyStore(d *docdb.DB) *APIKeyStore {
	return &APIKeyStore{keys: d.Collection("api_keys")}
}

var _ apikey.Store = (*APIKeyStore)(nil)

type apiKeyDoc struct {
	ID         string     `bson:"_id"`
	UserID     string     `bson:"user_id"`
	Name       string     `bson:"name"`
	Prefix     string     `bson:"prefix"`
	Hash       string     `bson:"hash"` // unique
	Scopes     []string   `bson:"scopes"`
	CreatedAt  time.Time  `bson:"created_at"`
	LastUsedAt *time.Time `bson:"last_used_at,omitempty"`
}

func apiKeyFromDoc(d apiKeyDoc) apikey.Key {
	scopes := make([]auth.Scope, len(d.Scopes))
	for i, s := range d.Scopes {
		scopes[i] = auth.Scope(s)
	}
	k := apikey.Key{ID: d.ID, UserID: d.UserID, Name: d.Name, Prefix: d.Prefix, Hash: d.Hash, Scopes: auth.NewScopeSet(scopes...),
		CreatedAt: d.CreatedAt}
	if d.LastUsedAt != nil {
		k.LastUsedAt = *d.LastUsedAt
	}
	return k
}

// Insert implements apikey.Store.
func (s *APIKeyStore) Insert(ctx context.Context, k apikey.Key) error {
	var scopes []string
	for _, sc := range k.Scopes.List() {
		scopes = append(scopes, string(sc))
	}
	return s.keys.InsertOne(ctx, apiKeyDoc{ID: k.ID, UserID: k.UserID, Name: k.Name, Prefix: k.Prefix, Hash: k.Hash, Scopes: scopes,
		CreatedAt: k.CreatedAt})
}

// ByHash implements apikey.Store, through the unique index on hash.
func (s *APIKeyStore) ByHash(ctx context.Context, hash string) (apikey.Key, error) {
	var d apiKeyDoc
	err := s.keys.FindOne(ctx, bson.D{{Key: "hash", Value: hash}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return apikey.Key{}, apikey.ErrNotFound
	}
	return apiKeyFromDoc(d), err
}

// ByID implements apikey.Store.
func (s *APIKeyStore) ByID(ctx context.Context, id string) (apikey.Key, error) {
	var d apiKeyDoc
	err := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return apikey.Key{}, apikey.ErrNotFound
	}
	return apiKeyFromDoc(d), err
}

// List implements apikey.Store: one find and one count.
func (s *APIKeyStore) List(ctx context.Context, userID string, p page.Request) ([]apikey.Key, int64, error) {
	return docdb.FindPage(ctx, s.keys, bson.D{{Key: "user_id", Value: userID}}, newestFirst, p, apiKeyFromDoc)
}

// Count implements apikey.Store.
func (s *APIKeyStore) Count(ctx context.Context, userID string) (int64, error) {
	return s.keys.Count(ctx, bson.D{{Key: "user_id", Value: userID}})
}

// Delete implements apikey.Store.
func (s *APIKeyStore) Delete(ctx context.Context, userID, id string) (bool, error) {
	n, err := s.keys.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	return n == 1, err
}

// Touch implements apikey.Store.
func (s *APIKeyStore) Touch(ctx context.Context, id string, at time.Time) error {
	_, err := s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_used_at", Value: at}}}}, false)
	return err
}
