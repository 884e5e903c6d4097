package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/user"
)

// AccountTokenStore keeps the single-use tokens mailed to users (email
// verification, password reset), collection account_tokens, by the hash of
// the token: the database never holds one that works. It implements
// user.AccountTokens.
type AccountTokenStore struct {
	tokens docdb.Collection
}

// NewAccountTokenStore returns the store on d.
func NewAccountTokenStore(d *docdb.DB) *AccountTokenStore {
	return &AccountTokenStore{tokens: d.Collection("account_tokens")}
}

var _ user.AccountTokens = (*AccountTokenStore)(nil)

type accountTokenDoc struct {
	Hash      string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	Purpose   string    `bson:"purpose"`
	ExpiresAt time.Time `bson:"expires_at"`
	CreatedAt time.Time `bson:"created_at"`
}

// Replace implements user.AccountTokens.
func (s *AccountTokenStore) Replace(ctx context.Context, t user.AccountToken) error {
	if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "user_id", Value: t.UserID}, {Key: "purpose", Value: t.Purpose}}); err != nil {
		return err
	}
	return s.tokens.InsertOne(ctx, accountTokenDoc{Hash: t.Hash, UserID: t.UserID, Purpose: t.Purpose, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt})
}

// UseOnce implements user.AccountTokens: the insert of a used id fails on
// the unique _id, on every instance alike.
func (s *AccountTokenStore) UseOnce(ctx context.Context, t user.AccountToken, now time.Time) (bool, error) {
	if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "user_id", Value: t.UserID}, {Key: "purpose", Value: t.Purpose},
		{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}}); err != nil {
		return false, err
	}
	err := s.tokens.InsertOne(ctx, accountTokenDoc{Hash: t.Hash, UserID: t.UserID, Purpose: t.Purpose, ExpiresAt: t.ExpiresAt, CreatedAt: now})
	if docdb.IsDuplicate(err) {
		return false, nil
	}
	return err == nil, err
}

// Consume implements user.AccountTokens: a read, then a delete that only
// one caller can win, so that a token works once.
func (s *AccountTokenStore) Consume(ctx context.Context, hash, purpose string) (user.AccountToken, error) {
	var d accountTokenDoc
	err := s.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "purpose", Value: purpose}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return user.AccountToken{}, user.ErrBadToken
	}
	if err != nil {
		return user.AccountToken{}, err
	}
	n, err := s.tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}})
	if err != nil {
		return user.AccountToken{}, err
	}
	if n == 0 {
		return user.AccountToken{}, user.ErrBadToken
	}
	return user.AccountToken{Hash: d.Hash, UserID: d.UserID, Purpose: d.Purpose, ExpiresAt: d.ExpiresAt, CreatedAt: d.CreatedAt}, nil
}
