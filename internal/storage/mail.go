package storage

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/mail"
)

// MailStore keeps the outbox of email, collection mail_outbox. It
// implements mail.Store.
type MailStore struct {
	outbox docdb.Collection
}

// NewMailStore returns the outbox store on d.
func NewMailStore(d *docdb.DB) *MailStore {
	return &MailStore{outbox: d.Collection("mail_outbox")}
}

var _ mail.Store = (*MailStore)(nil)

type mailDoc struct {
	ID        string     `bson:"_id"`
	To        string     `bson:"to"`
	Subject   string     `bson:"subject"`
	Text      string     `bson:"text"`
	Attempts  int        `bson:"attempts"`
	NextAt    *time.Time `bson:"next_at,omitempty"` // none once given up: never due
	LastError string     `bson:"last_error,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
}

func mailFromDoc(d mailDoc) mail.Queued {
	q := mail.Queued{ID: d.ID, Message: mail.Message{To: d.To, Subject: d.Subject, Text: d.Text}, Attempts: d.Attempts,
		LastError: d.LastError, CreatedAt: d.CreatedAt}
	if d.NextAt != nil {
		q.NextAt = *d.NextAt
	}
	return q
}

// Insert implements mail.Store.
func (s *MailStore) Insert(ctx context.Context, q mail.Queued) error {
	next := q.NextAt
	err := s.outbox.InsertOne(ctx, mailDoc{ID: q.ID, To: q.Message.To, Subject: q.Message.Subject, Text: q.Message.Text,
		Attempts: q.Attempts, NextAt: &next, CreatedAt: q.CreatedAt})
	if docdb.IsDuplicate(err) {
		return nil // queued before: once is enough
	}
	return err
}

// InsertAll implements mail.Store: one unordered insert, which stores every
// message whose ID is new.
func (s *MailStore) InsertAll(ctx context.Context, qs []mail.Queued) error {
	docs := make([]any, len(qs))
	for i, q := range qs {
		next := q.NextAt
		docs[i] = mailDoc{ID: q.ID, To: q.Message.To, Subject: q.Message.Subject, Text: q.Message.Text,
			Attempts: q.Attempts, NextAt: &next, CreatedAt: q.CreatedAt}
	}
	err := s.outbox.InsertMany(ctx, docs, false)
	if docdb.IsDuplicate(err) {
		return nil // those queued before stay as they are
	}
	return err
}

// Due implements mail.Store.
func (s *MailStore) Due(ctx context.Context, now time.Time, limit int) ([]mail.Queued, error) {
	return docdb.FindAll(ctx, s.outbox, bson.D{{Key: "next_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "next_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, mailFromDoc)
}

// Claim implements mail.Store: one conditional update on the attempts.
func (s *MailStore) Claim(ctx context.Context, id string, attempts int, until time.Time) (bool, error) {
	n, err := s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "attempts", Value: attempts}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_at", Value: until}}}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}}, false)
	return n == 1, err
}

// Retry implements mail.Store.
func (s *MailStore) Retry(ctx context.Context, id string, next time.Time, lastError string) error {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "next_at", Value: next}, {Key: "last_error", Value: lastError}}}}
	if next.IsZero() {
		update = bson.D{{Key: "$set", Value: bson.D{{Key: "last_error", Value: lastError}}}, {Key: "$unset", Value: bson.D{{Key: "next_at", Value: ""}}}}
	}
	_, err := s.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, update, false)
	return err
}

// Delete implements mail.Store.
func (s *MailStore) Delete(ctx context.Context, id string) error {
	_, err := s.outbox.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// All returns every message in the outbox, for tests and operators.
func (s *MailStore) All(ctx context.Context) ([]mail.Queued, error) {
	return docdb.FindAll(ctx, s.outbox, bson.D{}, docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}}}, mailFromDoc)
}
