package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/auth"
	"microtask/internal/user"
)

// UserStore keeps the users collection. It implements user.Store.
type UserStore struct {
	users collection
}

// NewUserStore returns the users store on d.
func NewUserStore(d *DB) *UserStore {
	return &UserStore{users: d.collection("users")}
}

var _ user.Store = (*UserStore)(nil)

type userDoc struct {
	ID           string     `bson:"_id"`
	Name         string     `bson:"name"`
	Email        string     `bson:"email"`
	PhotoURL     string     `bson:"photo_url,omitempty"`
	Role         string     `bson:"role"`
	Status       string     `bson:"status"`
	TokenVersion int64      `bson:"token_version"`
	PasswordHash []byte     `bson:"password_hash,omitempty"`
	CreatedAt    time.Time  `bson:"created_at"`
	DeletedEmail string     `bson:"deleted_email,omitempty"`
	DeletedAt    *time.Time `bson:"deleted_at,omitempty"`
}

func userFromDoc(d userDoc) user.User {
	return user.User{ID: d.ID, Name: d.Name, Email: d.Email, PhotoURL: d.PhotoURL, Role: auth.Role(d.Role),
		Status: user.Status(d.Status), TokenVersion: d.TokenVersion, CreatedAt: d.CreatedAt}
}

// Insert implements user.Store.
func (s *UserStore) Insert(ctx context.Context, u user.User, passwordHash []byte) error {
	err := s.users.insertOne(ctx, userDoc{ID: u.ID, Name: u.Name, Email: u.Email, PhotoURL: u.PhotoURL,
		Role: string(u.Role), Status: string(u.Status), TokenVersion: u.TokenVersion, PasswordHash: passwordHash,
		CreatedAt: u.CreatedAt})
	if isDuplicate(err) {
		return user.ErrEmailTaken
	}
	return err
}

func (s *UserStore) one(ctx context.Context, filter bson.D) (userDoc, error) {
	var d userDoc
	err := s.users.findOne(ctx, filter, &d)
	if errors.Is(err, errNoDocument) {
		return userDoc{}, user.ErrNotFound
	}
	return d, err
}

// ByID implements user.Store.
func (s *UserStore) ByID(ctx context.Context, id string) (user.User, error) {
	d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
	return userFromDoc(d), err
}

// ByIDs implements user.Store.
func (s *UserStore) ByIDs(ctx context.Context, ids []string) ([]user.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []user.User
	err := each(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, nil,
		func(d userDoc) error {
			out = append(out, userFromDoc(d))
			return nil
		})
	return out, err
}

// Credentials implements user.Store.
func (s *UserStore) Credentials(ctx context.Context, email string) (user.User, []byte, error) {
	d, err := s.one(ctx, bson.D{{Key: "email", Value: email}})
	if err != nil {
		return user.User{}, nil, err
	}
	return userFromDoc(d), d.PasswordHash, nil
}

// UpdateProfile implements user.Store.
func (s *UserStore) UpdateProfile(ctx context.Context, id, name, photoURL string) (user.User, error) {
	set := bson.D{{Key: "name", Value: name}, {Key: "photo_url", Value: photoURL}}
	n, err := s.users.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}}},
		bson.D{{Key: "$set", Value: set}}, false)
	if err != nil {
		return user.User{}, err
	}
	if n == 0 {
		return user.User{}, user.ErrNotFound
	}
	return s.ByID(ctx, id)
}

// MarkDeleted implements user.Store. The email moves to deleted_email and a
// placeholder takes its place in the unique index, so the address can sign
// up again.
func (s *UserStore) MarkDeleted(ctx context.Context, id string, now time.Time) error {
	d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return err
	}
	if d.Status == string(user.StatusDeleted) {
		return user.ErrNotFound
	}
	n, err := s.users.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: d.Status}, {Key: "token_version", Value: d.TokenVersion}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "status", Value: string(user.StatusDeleted)},
				{Key: "email", Value: "deleted-" + id + "@deleted.invalid"},
				{Key: "deleted_email", Value: d.Email},
				{Key: "deleted_at", Value: now},
			}},
			{Key: "$inc", Value: bson.D{{Key: "token_version", Value: int64(1)}}},
		}, false)
	if err != nil {
		return err
	}
	if n == 0 {
		return user.ErrNotFound // deleted or changed meanwhile
	}
	return nil
}

// SetStatus sets a user's status and bumps its token version, revoking its
// tokens. ErrNotFound if missing or deleted.
func (s *UserStore) SetStatus(ctx context.Context, id string, status user.Status) error {
	n, err := s.users.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(status)}}},
			{Key: "$inc", Value: bson.D{{Key: "token_version", Value: int64(1)}}},
		}, false)
	if err != nil {
		return err
	}
	if n == 0 {
		return user.ErrNotFound
	}
	return nil
}
