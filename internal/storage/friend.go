package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/chat"
	"microtask/internal/docdb"
	"microtask/internal/friend"
	"microtask/internal/page"
)

// FriendStore keeps the friendships collection: one document per pair of
// users with a pending request or a friendship (pair unique). It
// implements friend.Store.
type FriendStore struct {
	friends docdb.Collection
}

// NewFriendStore returns the friendships store on d.
func NewFriendStore(d *docdb.DB) *FriendStore {
	return &FriendStore{friends: d.Collection("friendships")}
}

var _ friend.Store = (*FriendStore)(nil)

type friendDoc struct {
	ID         string     `bson:"_id"`
	Pair       string     `bson:"pair"`
	Users      []string   `bson:"users"`
	From       string     `bson:"from"`
	To         string     `bson:"to"`
	Status     string     `bson:"status"`
	CreatedAt  time.Time  `bson:"created_at"`
	AcceptedAt *time.Time `bson:"accepted_at,omitempty"`
}

func friendFromDoc(d friendDoc) friend.Request {
	return friend.Request{ID: d.ID, From: d.From, To: d.To, Status: friend.Status(d.Status), CreatedAt: d.CreatedAt,
		AcceptedAt: timeOf(d.AcceptedAt)}
}

// Insert implements friend.Store.
func (s *FriendStore) Insert(ctx context.Context, r friend.Request) error {
	err := s.friends.InsertOne(ctx, friendDoc{ID: r.ID, Pair: chat.PairID(r.From, r.To), Users: []string{r.From, r.To}, From: r.From,
		To: r.To, Status: string(r.Status), CreatedAt: r.CreatedAt})
	if docdb.IsDuplicate(err) {
		return friend.ErrExists
	}
	return err
}

func (s *FriendStore) one(ctx context.Context, filter bson.D) (friend.Request, error) {
	var d friendDoc
	err := s.friends.FindOne(ctx, filter, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return friend.Request{}, friend.ErrNotFound
	}
	if err != nil {
		return friend.Request{}, err
	}
	return friendFromDoc(d), nil
}

// ByID implements friend.Store.
func (s *FriendStore) ByID(ctx context.Context, id string) (friend.Request, error) {
	return s.one(ctx, bson.D{{Key: "_id", Value: id}})
}

// ByPair implements friend.Store.
func (s *FriendStore) ByPair(ctx context.Context, a, b string) (friend.Request, error) {
	return s.one(ctx, bson.D{{Key: "pair", Value: chat.PairID(a, b)}})
}

// Accept implements friend.Store.
func (s *FriendStore) Accept(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := s.friends.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(friend.StatusPending)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(friend.StatusAccepted)}, {Key: "accepted_at", Value: at}}}}, false)
	return n == 1, err
}

// Delete implements friend.Store.
func (s *FriendStore) Delete(ctx context.Context, id string, st friend.Status) (bool, error) {
	n, err := s.friends.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(st)}})
	return n == 1, err
}

// DeletePair implements friend.Store.
func (s *FriendStore) DeletePair(ctx context.Context, a, b string) (bool, error) {
	n, err := s.friends.DeleteOne(ctx, bson.D{{Key: "pair", Value: chat.PairID(a, b)}, {Key: "status", Value: string(friend.StatusAccepted)}})
	return n == 1, err
}

// Pending implements friend.Store: one find and one count.
func (s *FriendStore) Pending(ctx context.Context, userID string, incoming bool, p page.Request) ([]friend.Request, int64, error) {
	who := "from"
	if incoming {
		who = "to"
	}
	return s.page(ctx, bson.D{{Key: who, Value: userID}, {Key: "status", Value: string(friend.StatusPending)}},
		bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}, p)
}

// Friends implements friend.Store: one find and one count.
func (s *FriendStore) Friends(ctx context.Context, userID string, p page.Request) ([]friend.Request, int64, error) {
	return s.page(ctx, bson.D{{Key: "users", Value: userID}, {Key: "status", Value: string(friend.StatusAccepted)}},
		bson.D{{Key: "accepted_at", Value: -1}, {Key: "_id", Value: -1}}, p)
}

func (s *FriendStore) page(ctx context.Context, filter, sort bson.D, p page.Request) ([]friend.Request, int64, error) {
	return docdb.FindPage(ctx, s.friends, filter, sort, p, friendFromDoc)
}

// CountFriends implements friend.Store.
func (s *FriendStore) CountFriends(ctx context.Context, userID string) (int64, error) {
	return s.friends.Count(ctx, bson.D{{Key: "users", Value: userID}, {Key: "status", Value: string(friend.StatusAccepted)}})
}

// CountOutgoing implements friend.Store.
func (s *FriendStore) CountOutgoing(ctx context.Context, userID string) (int64, error) {
	return s.friends.Count(ctx, bson.D{{Key: "from", Value: userID}, {Key: "status", Value: string(friend.StatusPending)}})
}
