package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/announcement"
	"microtask/internal/docdb"
)

// AnnouncementStore keeps the announcements collection. It implements
// announcement.Store.
type AnnouncementStore struct {
	announcements docdb.Collection
}

// NewAnnouncementStore returns the announcements store on d.
func NewAnnouncementStore(d *docdb.DB) *AnnouncementStore {
	return &AnnouncementStore{announcements: d.Collection("announcements")}
}

var _ announcement.Store = (*AnnouncementStore)(nil)

type announcementDoc struct {
	ID         string     `bson:"_id"`
	By         string     `bson:"by"`
	Audience   string     `bson:"audience"`
	Title      string     `bson:"title"`
	Body       string     `bson:"body"`
	Email      bool       `bson:"email"`
	Recipients int64      `bson:"recipients"`
	Delivered  int64      `bson:"delivered"`
	Emailed    int64      `bson:"emailed"`
	Cursor     string     `bson:"cursor"`
	Done       bool       `bson:"done"`
	CreatedAt  time.Time  `bson:"created_at"`
	DoneAt     *time.Time `bson:"done_at,omitempty"`
}

func announcementFromDoc(d announcementDoc) announcement.Announcement {
	return announcement.Announcement{ID: d.ID, By: d.By, Audience: announcement.Audience(d.Audience), Title: d.Title, Body: d.Body,
		Email: d.Email, Recipients: d.Recipients, Delivered: d.Delivered, Emailed: d.Emailed, Cursor: d.Cursor, Done: d.Done,
		CreatedAt: d.CreatedAt, DoneAt: timeOf(d.DoneAt)}
}

// Insert implements announcement.Store.
func (s *AnnouncementStore) Insert(ctx context.Context, a announcement.Announcement) error {
	return s.announcements.InsertOne(ctx, announcementDoc{ID: a.ID, By: a.By, Audience: string(a.Audience), Title: a.Title,
		Body: a.Body, Email: a.Email, Recipients: a.Recipients, CreatedAt: a.CreatedAt})
}

// ByID implements announcement.Store.
func (s *AnnouncementStore) ByID(ctx context.Context, id string) (announcement.Announcement, error) {
	var d announcementDoc
	err := s.announcements.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return announcement.Announcement{}, announcement.ErrNotFound
	}
	if err != nil {
		return announcement.Announcement{}, err
	}
	return announcementFromDoc(d), nil
}

// Undone implements announcement.Store.
func (s *AnnouncementStore) Undone(ctx context.Context, limit int) ([]announcement.Announcement, error) {
	return docdb.FindAll(ctx, s.announcements, bson.D{{Key: "done", Value: false}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, announcementFromDoc)
}

// Advance implements announcement.Store: one conditional update.
func (s *AnnouncementStore) Advance(ctx context.Context, id, from, to string, delivered, emailed int64, done bool, at time.Time) (bool, error) {
	set := bson.D{{Key: "cursor", Value: to}}
	if done {
		set = append(set, bson.E{Key: "done", Value: true}, bson.E{Key: "done_at", Value: at})
	}
	n, err := s.announcements.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "cursor", Value: from}, {Key: "done", Value: false}},
		bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "delivered", Value: delivered}, {Key: "emailed", Value: emailed}}}}, false)
	return n == 1, err
}
