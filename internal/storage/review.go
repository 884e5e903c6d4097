package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/review"
)

// ReviewStore keeps the reviews collection: one document per review, its
// _id derived from the work and the author (review.ID), flat. What a review
// is about is a type and an id (subject_type, subject_id), so that reviews
// of contracts are the same documents as those of submissions. It
// implements review.Store.
type ReviewStore struct {
	reviews docdb.Collection
}

// NewReviewStore returns the reviews store on d.
func NewReviewStore(d *docdb.DB) *ReviewStore {
	return &ReviewStore{reviews: d.Collection("reviews")}
}

var _ review.Store = (*ReviewStore)(nil)

type reviewDoc struct {
	ID            string     `bson:"_id"`
	SubjectType   string     `bson:"subject_type"`
	SubjectID     string     `bson:"subject_id"`
	SubjectTitle  string     `bson:"subject_title"`
	AuthorID      string     `bson:"author_id"`
	AuthorName    string     `bson:"author_name"`
	AuthorRole    string     `bson:"author_role"`
	RevieweeID    string     `bson:"reviewee_id"`
	Rating        int64      `bson:"rating"`
	Comment       string     `bson:"comment"`
	CreatedAt     time.Time  `bson:"created_at"`
	DecidedAt     time.Time  `bson:"decided_at"`
	VisibleAt     time.Time  `bson:"visible_at"`
	Counted       bool       `bson:"counted"`
	Reply         string     `bson:"reply,omitempty"`
	RepliedAt     *time.Time `bson:"replied_at,omitempty"`
	Removed       bool       `bson:"removed,omitempty"`
	RemovedAt     *time.Time `bson:"removed_at,omitempty"`
	RemovedBy     string     `bson:"removed_by,omitempty"`
	RemovalReason string     `bson:"removal_reason,omitempty"`
}

func reviewFromDoc(d reviewDoc) review.Review {
	r := review.Review{ID: d.ID, Subject: review.Ref{Type: review.SubjectType(d.SubjectType), ID: d.SubjectID}, SubjectTitle: d.SubjectTitle,
		Author: review.Party{ID: d.AuthorID, Name: d.AuthorName}, AuthorRole: auth.Role(d.AuthorRole), RevieweeID: d.RevieweeID,
		Rating: int(d.Rating), Comment: d.Comment, CreatedAt: d.CreatedAt, DecidedAt: d.DecidedAt, VisibleAt: d.VisibleAt,
		Counted: d.Counted, Reply: d.Reply, Removed: d.Removed, RemovedBy: d.RemovedBy, RemovalReason: d.RemovalReason}
	if d.RepliedAt != nil {
		r.RepliedAt = *d.RepliedAt
	}
	if d.RemovedAt != nil {
		r.RemovedAt = *d.RemovedAt
	}
	return r
}

// Insert implements review.Store.
func (s *ReviewStore) Insert(ctx context.Context, r review.Review) error {
	err := s.reviews.InsertOne(ctx, reviewDoc{ID: r.ID, SubjectType: string(r.Subject.Type), SubjectID: r.Subject.ID,
		SubjectTitle: r.SubjectTitle, AuthorID: r.Author.ID, AuthorName: r.Author.Name, AuthorRole: string(r.AuthorRole),
		RevieweeID: r.RevieweeID, Rating: int64(r.Rating), Comment: r.Comment, CreatedAt: r.CreatedAt, DecidedAt: r.DecidedAt,
		VisibleAt: r.VisibleAt, Counted: r.Counted})
	if docdb.IsDuplicate(err) {
		return review.ErrAlreadyReviewed
	}
	return err
}

// ByID implements review.Store.
func (s *ReviewStore) ByID(ctx context.Context, id string) (review.Review, error) {
	var d reviewDoc
	err := s.reviews.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return review.Review{}, review.ErrNotFound
	}
	return reviewFromDoc(d), err
}

var notRemoved = bson.E{Key: "removed", Value: bson.D{{Key: "$ne", Value: true}}}

// Reveal implements review.Store: one update.
func (s *ReviewStore) Reveal(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := s.reviews.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, notRemoved, {Key: "counted", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "visible_at", Value: at}}}}, false)
	return n == 1, err
}

// visible selects the reviews visible at now: shown, not removed.
func visible(now time.Time) bson.D {
	return bson.D{{Key: "visible_at", Value: bson.D{{Key: "$lte", Value: now}}}, notRemoved}
}

// About implements review.Store: one find and one count.
func (s *ReviewStore) About(ctx context.Context, revieweeID string, rating int, now time.Time, p page.Request) ([]review.Review, int64, error) {
	q := append(bson.D{{Key: "reviewee_id", Value: revieweeID}}, visible(now)...)
	if rating != 0 {
		q = append(q, bson.E{Key: "rating", Value: int64(rating)})
	}
	return docdb.FindPage(ctx, s.reviews, q, newestFirst, p, reviewFromDoc)
}

// Due implements review.Store, from the index on counted.
func (s *ReviewStore) Due(ctx context.Context, now time.Time, limit int) ([]review.Review, error) {
	return docdb.FindAll(ctx, s.reviews, bson.D{{Key: "$or", Value: bson.A{
		append(bson.D{{Key: "counted", Value: false}}, visible(now)...),
		bson.D{{Key: "counted", Value: true}, {Key: "removed", Value: true}},
	}}}, docdb.Query{Sort: bson.D{{Key: "visible_at", Value: 1}}, Limit: int64(limit)}, reviewFromDoc)
}

// SetCounted implements review.Store: one update.
func (s *ReviewStore) SetCounted(ctx context.Context, ids []string, from, to bool) error {
	_, err := s.reviews.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "counted", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "counted", Value: to}}}})
	return err
}

// Reply implements review.Store: one conditional update.
func (s *ReviewStore) Reply(ctx context.Context, id, revieweeID, text string, at time.Time) (bool, error) {
	n, err := s.reviews.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "reviewee_id", Value: revieweeID}, notRemoved,
			{Key: "replied_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "reply", Value: text}, {Key: "replied_at", Value: at}}}}, false)
	return n == 1, err
}

// Remove implements review.Store: one conditional update.
func (s *ReviewStore) Remove(ctx context.Context, id, adminID, reason string, at time.Time) (bool, error) {
	n, err := s.reviews.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, notRemoved},
		bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}, {Key: "removed_at", Value: at}, {Key: "removed_by", Value: adminID},
			{Key: "removal_reason", Value: reason}}}}, false)
	return n == 1, err
}
