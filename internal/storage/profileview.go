package storage

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/user"
)

// ProfileViewStore keeps the profile_views collection: one document per
// profile and viewer, with the day of the viewer's latest view, so that a
// profile's distinct viewers since a day are one count. It implements
// user.ViewStore.
type ProfileViewStore struct {
	views docdb.Collection
}

// NewProfileViewStore returns the profile views store on d.
func NewProfileViewStore(d *docdb.DB) *ProfileViewStore {
	return &ProfileViewStore{views: d.Collection("profile_views")}
}

var _ user.ViewStore = (*ProfileViewStore)(nil)

// Record implements user.ViewStore: an upsert per view, by the pair's id,
// which never moves a later day back (another instance's flush may come
// late).
func (s *ProfileViewStore) Record(ctx context.Context, views []user.View) error {
	for _, v := range views {
		_, err := s.views.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: v.ProfileID + "|" + v.ViewerID}, {Key: "day", Value: bson.D{{Key: "$lt", Value: v.Day}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "profile_id", Value: v.ProfileID}, {Key: "viewer_id", Value: v.ViewerID},
				{Key: "day", Value: v.Day}}}}, true)
		if err != nil && !docdb.IsDuplicate(err) { // a duplicate: recorded on that day or later already
			return err
		}
	}
	return nil
}

// CountSince implements user.ViewStore, from the index on profile and day.
func (s *ProfileViewStore) CountSince(ctx context.Context, profileID string, day time.Time) (int64, error) {
	return s.views.Count(ctx, bson.D{{Key: "profile_id", Value: profileID}, {Key: "day", Value: bson.D{{Key: "$gte", Value: day}}}})
}
