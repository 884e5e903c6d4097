package storage

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/adminlog"
	"microtask/internal/docdb"
	"microtask/internal/page"
)

// AdminLogStore keeps the admin_actions collection. It implements
// adminlog.Store.
type AdminLogStore struct {
	actions docdb.Collection
}

// NewAdminLogStore returns the admin action store on d.
func NewAdminLogStore(d *docdb.DB) *AdminLogStore {
	return &AdminLogStore{actions: d.Collection("admin_actions")}
}

var _ adminlog.Store = (*AdminLogStore)(nil)

type adminActionDoc struct {
	ID         string    `bson:"_id"`
	AdminID    string    `bson:"admin_id"`
	Kind       string    `bson:"kind"`
	TargetType string    `bson:"target_type"`
	TargetID   string    `bson:"target_id"`
	Summary    string    `bson:"summary"`
	Reason     string    `bson:"reason"`
	At         time.Time `bson:"created_at"`
}

func adminActionFromDoc(d adminActionDoc) adminlog.Entry {
	return adminlog.Entry{ID: d.ID, AdminID: d.AdminID, Kind: adminlog.Kind(d.Kind), TargetType: d.TargetType,
		TargetID: d.TargetID, Summary: d.Summary, Reason: d.Reason, At: d.At}
}

// Insert implements adminlog.Store.
func (s *AdminLogStore) Insert(ctx context.Context, e adminlog.Entry) error {
	err := s.actions.InsertOne(ctx, adminActionDoc{ID: e.ID, AdminID: e.AdminID, Kind: string(e.Kind), TargetType: e.TargetType,
		TargetID: e.TargetID, Summary: e.Summary, Reason: e.Reason, At: e.At})
	if docdb.IsDuplicate(err) {
		return nil // recorded already
	}
	return err
}

// List implements adminlog.Store.
func (s *AdminLogStore) List(ctx context.Context, f adminlog.Filter, p page.Request) ([]adminlog.Entry, int64, error) {
	q := bson.D{}
	if f.AdminID != "" {
		q = append(q, bson.E{Key: "admin_id", Value: f.AdminID})
	}
	if f.TargetID != "" {
		q = append(q, bson.E{Key: "target_id", Value: f.TargetID})
	}
	if f.Kind != "" {
		q = append(q, bson.E{Key: "kind", Value: string(f.Kind)})
	}
	return docdb.FindPage(ctx, s.actions, q, newestFirst, p, adminActionFromDoc)
}
