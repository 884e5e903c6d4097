package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/notification"
	"microtask/internal/page"
)

// NotificationStore keeps the notifications collection. It implements
// notification.Store.
type NotificationStore struct {
	notes docdb.Collection
}

// NewNotificationStore returns the notifications store on d.
func NewNotificationStore(d *docdb.DB) *NotificationStore {
	return &NotificationStore{notes: d.Collection("notifications")}
}

var _ notification.Store = (*NotificationStore)(nil)

type notificationDoc struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Message     string    `bson:"message"`
	Type        string    `bson:"type,omitempty"` // absent on notifications from before types
	ActionRoute string    `bson:"action_route"`
	Read        bool      `bson:"read"`
	CreatedAt   time.Time `bson:"created_at"`
	MailPending bool      `bson:"mail_pending,omitempty"`
}

func notificationFromDoc(d notificationDoc) notification.Notification {
	n := notification.Notification{ID: d.ID, UserID: d.UserID, Message: d.Message, Type: notification.Type(d.Type),
		ActionRoute: d.ActionRoute, Read: d.Read, CreatedAt: d.CreatedAt}
	if n.Type == "" {
		n.Type = notification.Other
	}
	return n
}

func notificationToDoc(n notification.Notification) notificationDoc {
	return notificationDoc{ID: n.ID, UserID: n.UserID, Message: n.Message, Type: string(n.Type),
		ActionRoute: n.ActionRoute, Read: n.Read, CreatedAt: n.CreatedAt, MailPending: n.MailPending}
}

// Insert implements notification.Store.
func (s *NotificationStore) Insert(ctx context.Context, n notification.Notification) error {
	err := s.notes.InsertOne(ctx, notificationToDoc(n))
	if docdb.IsDuplicate(err) {
		return notification.ErrExists
	}
	return err
}

// InsertMany adds notifications in one command, each as it is given (read
// or not): notifications made outside the service (the load generator's
// seed), which pushes nothing to streams. The first duplicate stops it with
// notification.ErrExists; those before it stay.
func (s *NotificationStore) InsertMany(ctx context.Context, ns []notification.Notification) error {
	docs := make([]any, len(ns))
	for i, n := range ns {
		docs[i] = notificationToDoc(n)
	}
	err := s.notes.InsertMany(ctx, docs, true)
	if docdb.IsDuplicate(err) {
		return notification.ErrExists
	}
	return err
}

// InsertAll implements notification.Store: one unordered insert, which
// stores every notification whose ID is new.
func (s *NotificationStore) InsertAll(ctx context.Context, ns []notification.Notification) error {
	docs := make([]any, len(ns))
	for i, n := range ns {
		docs[i] = notificationToDoc(n)
	}
	if err := s.notes.InsertMany(ctx, docs, false); err != nil && !docdb.IsDuplicate(err) {
		return err
	}
	return nil
}

// ByID implements notification.Store.
func (s *NotificationStore) ByID(ctx context.Context, id string) (notification.Notification, error) {
	var d notificationDoc
	err := s.notes.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return notification.Notification{}, notification.ErrNotFound
	}
	return notificationFromDoc(d), err
}

// List implements notification.Store: one find and one count.
func (s *NotificationStore) List(ctx context.Context, userID string, p page.Request) ([]notification.Notification, int64, error) {
	return docdb.FindPage(ctx, s.notes, bson.D{{Key: "user_id", Value: userID}}, newestFirst, p, notificationFromDoc)
}

// UnreadCount implements notification.Store.
func (s *NotificationStore) UnreadCount(ctx context.Context, userID string) (int64, error) {
	return s.notes.Count(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "read", Value: false}})
}

// MarkRead implements notification.Store.
func (s *NotificationStore) MarkRead(ctx context.Context, userID, id string) error {
	n, err := s.notes.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "read", Value: true}}}}, false)
	if err == nil && n == 0 {
		return notification.ErrNotFound
	}
	return err
}

// MarkAllRead implements notification.Store.
func (s *NotificationStore) MarkAllRead(ctx context.Context, userID string) error {
	_, err := s.notes.UpdateMany(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "read", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "read", Value: true}}}})
	return err
}

// Delete implements notification.Store.
func (s *NotificationStore) Delete(ctx context.Context, userID, id string) error {
	n, err := s.notes.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	if err == nil && n == 0 {
		return notification.ErrNotFound
	}
	return err
}

// Since implements notification.Store.
func (s *NotificationStore) Since(ctx context.Context, t time.Time, limit int) ([]notification.Notification, error) {
	return docdb.FindAll(ctx, s.notes, bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: t}}}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}}, Limit: int64(limit)},
		notificationFromDoc)
}

// After implements notification.Store: the notification's time, then the
// user's notifications from that time on (index user_id, created_at).
func (s *NotificationStore) After(ctx context.Context, userID, id string, limit int) ([]notification.Notification, error) {
	var last notificationDoc
	err := s.notes.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}, &last)
	if errors.Is(err, docdb.ErrNoDocument) {
		return nil, notification.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	ns, err := docdb.FindAll(ctx, s.notes,
		bson.D{{Key: "user_id", Value: userID}, {Key: "created_at", Value: bson.D{{Key: "$gte", Value: last.CreatedAt}}}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, notificationFromDoc)
	return ns, err
}

// MailPending implements notification.Store (index mail_pending).
func (s *NotificationStore) MailPending(ctx context.Context, limit int) ([]notification.Notification, error) {
	return docdb.FindAll(ctx, s.notes, bson.D{{Key: "mail_pending", Value: true}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}}, Limit: int64(limit)}, notificationFromDoc)
}

// MailDone implements notification.Store.
func (s *NotificationStore) MailDone(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.notes.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "mail_pending", Value: ""}}}})
	return err
}
