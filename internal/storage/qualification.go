package storage

import (
	"context"
	"errors"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/qualification"
)

// QualificationStore keeps the qualification types (collection
// qualifications), the workers' scores (qualification_grants, one
// document per type and worker) and their last attempts
// (qualification_attempts, likewise). It implements qualification.Store.
type QualificationStore struct {
	types    docdb.Collection
	grants   docdb.Collection
	attempts docdb.Collection
}

// NewQualificationStore returns the qualification store on d.
func NewQualificationStore(d *docdb.DB) *QualificationStore {
	return &QualificationStore{types: d.Collection("qualifications"), grants: d.Collection("qualification_grants"),
		attempts: d.Collection("qualification_attempts")}
}

var _ qualification.Store = (*QualificationStore)(nil)

type qualificationDoc struct {
	ID          string             `bson:"_id"`
	OwnerID     string             `bson:"owner_id"`
	Name        string             `bson:"name"`
	Description string             `bson:"description"`
	Test        *qualificationTest `bson:"test"`
	AutoGrant   *int               `bson:"auto_grant_value"`
	CreatedAt   time.Time          `bson:"created_at"`
	UpdatedAt   time.Time          `bson:"updated_at"`
}

// qualificationTest is stored whole and never queried into: the copy in
// memory evaluates top-level fields only, and no filter needs its parts.
type qualificationTest struct {
	Questions  []qualificationQuestion `bson:"questions"`
	PassScore  int                     `bson:"pass_score"`
	RetryHours int                     `bson:"retry_after_hours"`
}

type qualificationQuestion struct {
	Prompt  string   `bson:"prompt"`
	Choices []string `bson:"choices"`
	Answer  int      `bson:"answer"`
}

func qualificationToDoc(t qualification.Type) qualificationDoc {
	d := qualificationDoc{ID: t.ID, OwnerID: t.OwnerID, Name: t.Name, Description: t.Description, AutoGrant: t.AutoGrant,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if t.Test != nil {
		d.Test = &qualificationTest{PassScore: t.Test.PassScore, RetryHours: int(t.Test.RetryAfter / time.Hour)}
		for _, q := range t.Test.Questions {
			d.Test.Questions = append(d.Test.Questions, qualificationQuestion{Prompt: q.Prompt, Choices: q.Choices, Answer: q.Answer})
		}
	}
	return d
}

func qualificationFromDoc(d qualificationDoc) qualification.Type {
	t := qualification.Type{ID: d.ID, OwnerID: d.OwnerID, Name: d.Name, Description: d.Description, AutoGrant: d.AutoGrant,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Test != nil {
		t.Test = &qualification.Test{PassScore: d.Test.PassScore, RetryAfter: time.Duration(d.Test.RetryHours) * time.Hour}
		for _, q := range d.Test.Questions {
			t.Test.Questions = append(t.Test.Questions, qualification.Question{Prompt: q.Prompt, Choices: q.Choices, Answer: q.Answer})
		}
	}
	return t
}

type grantDoc struct {
	ID         string    `bson:"_id"` // type:worker
	TypeID     string    `bson:"type_id"`
	TypeName   string    `bson:"type_name"`
	OwnerID    string    `bson:"owner_id"`
	WorkerID   string    `bson:"worker_id"`
	WorkerName string    `bson:"worker_name"`
	Value      int       `bson:"value"`
	Source     string    `bson:"source"`
	GrantedAt  time.Time `bson:"granted_at"`
}

func grantFromDoc(d grantDoc) qualification.Grant {
	return qualification.Grant{TypeID: d.TypeID, TypeName: d.TypeName, OwnerID: d.OwnerID, WorkerID: d.WorkerID, WorkerName: d.WorkerName,
		Value: d.Value, Source: qualification.Source(d.Source), GrantedAt: d.GrantedAt}
}

func grantID(typeID, workerID string) string { return typeID + ":" + workerID }

var newestGranted = bson.D{{Key: "granted_at", Value: -1}, {Key: "_id", Value: -1}}

// Insert implements qualification.Store.
func (s *QualificationStore) Insert(ctx context.Context, t qualification.Type) error {
	return s.types.InsertOne(ctx, qualificationToDoc(t))
}

// ByID implements qualification.Store.
func (s *QualificationStore) ByID(ctx context.Context, id string) (qualification.Type, error) {
	var d qualificationDoc
	err := s.types.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return qualification.Type{}, qualification.ErrNotFound
	}
	return qualificationFromDoc(d), err
}

// List implements qualification.Store: one find and one count. The query
// is matched literally (regexp.QuoteMeta).
func (s *QualificationStore) List(ctx context.Context, f qualification.Filter, p page.Request) ([]qualification.Type, int64, error) {
	q := bson.D{}
	if f.OwnerID != "" {
		q = append(q, bson.E{Key: "owner_id", Value: f.OwnerID})
	}
	if f.Query != "" {
		q = append(q, bson.E{Key: "name", Value: bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}})
	}
	return docdb.FindPage(ctx, s.types, q, newestFirst, p, qualificationFromDoc)
}

// Replace implements qualification.Store.
func (s *QualificationStore) Replace(ctx context.Context, t qualification.Type) error {
	d := qualificationToDoc(t)
	n, err := s.types.UpdateOne(ctx, bson.D{{Key: "_id", Value: t.ID}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: d.Name}, {Key: "description", Value: d.Description}, {Key: "test", Value: d.Test},
		{Key: "auto_grant_value", Value: d.AutoGrant}, {Key: "updated_at", Value: d.UpdatedAt},
	}}}, false)
	if err != nil {
		return err
	}
	if n == 0 {
		return qualification.ErrNotFound
	}
	_, err = s.grants.UpdateMany(ctx, bson.D{{Key: "type_id", Value: t.ID}, {Key: "type_name", Value: bson.D{{Key: "$ne", Value: t.Name}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "type_name", Value: t.Name}}}})
	return err
}

// Delete implements qualification.Store: the grants and attempts first, so
// that a crash midway leaves a type its owner deletes again, never grants
// of a type that is gone.
func (s *QualificationStore) Delete(ctx context.Context, id string) error {
	if _, err := s.grants.DeleteMany(ctx, bson.D{{Key: "type_id", Value: id}}); err != nil {
		return err
	}
	if _, err := s.attempts.DeleteMany(ctx, bson.D{{Key: "type_id", Value: id}}); err != nil {
		return err
	}
	_, err := s.types.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// Grant implements qualification.Store: one upsert.
func (s *QualificationStore) Grant(ctx context.Context, g qualification.Grant) error {
	_, err := s.grants.UpdateOne(ctx, bson.D{{Key: "_id", Value: grantID(g.TypeID, g.WorkerID)}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "type_id", Value: g.TypeID}, {Key: "type_name", Value: g.TypeName}, {Key: "owner_id", Value: g.OwnerID},
		{Key: "worker_id", Value: g.WorkerID}, {Key: "worker_name", Value: g.WorkerName}, {Key: "value", Value: g.Value},
		{Key: "source", Value: string(g.Source)}, {Key: "granted_at", Value: g.GrantedAt},
	}}}, true)
	return err
}

// Revoke implements qualification.Store.
func (s *QualificationStore) Revoke(ctx context.Context, typeID, workerID string) (bool, error) {
	n, err := s.grants.DeleteOne(ctx, bson.D{{Key: "_id", Value: grantID(typeID, workerID)}})
	return n == 1, err
}

// Grants implements qualification.Store: one find and one count.
func (s *QualificationStore) Grants(ctx context.Context, typeID string, p page.Request) ([]qualification.Grant, int64, error) {
	return docdb.FindPage(ctx, s.grants, bson.D{{Key: "type_id", Value: typeID}}, newestGranted, p, grantFromDoc)
}

// WorkerGrants implements qualification.Store: one find and one count.
func (s *QualificationStore) WorkerGrants(ctx context.Context, workerID string, p page.Request) ([]qualification.Grant, int64, error) {
	return docdb.FindPage(ctx, s.grants, bson.D{{Key: "worker_id", Value: workerID}}, newestGranted, p, grantFromDoc)
}

// Scores implements qualification.Store: the worker's grants, through
// the index on worker_id.
func (s *QualificationStore) Scores(ctx context.Context, workerID string) (map[string]int, error) {
	out := map[string]int{}
	err := docdb.Each(ctx, s.grants, bson.D{{Key: "worker_id", Value: workerID}}, docdb.Query{Fields: []string{"type_id", "value"}},
		func(d grantDoc) error {
			out[d.TypeID] = d.Value
			return nil
		})
	return out, err
}

// Holders implements qualification.Store: the type's grants, through the
// index on type_id.
func (s *QualificationStore) Holders(ctx context.Context, typeID string) ([]string, error) {
	var out []string
	err := docdb.Each(ctx, s.grants, bson.D{{Key: "type_id", Value: typeID}}, docdb.Query{Fields: []string{"worker_id"}},
		func(d grantDoc) error {
			out = append(out, d.WorkerID)
			return nil
		})
	return out, err
}

type attemptDoc struct {
	ID       string    `bson:"_id"` // type:worker
	TypeID   string    `bson:"type_id"`
	WorkerID string    `bson:"worker_id"`
	Score    int       `bson:"score"`
	LastAt   time.Time `bson:"last_at"`
}

// Attempt implements qualification.Store: one conditional upsert, so that
// two attempts at once are one attempt. An upsert whose filter misses
// because the last attempt is too recent tries to insert a second
// document with the same _id, which the unique _id refuses.
func (s *QualificationStore) Attempt(ctx context.Context, typeID, workerID string, score int, now, notBefore time.Time) (bool, time.Time, error) {
	id := grantID(typeID, workerID)
	_, err := s.attempts.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "last_at", Value: bson.D{{Key: "$lte", Value: notBefore}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "type_id", Value: typeID}, {Key: "worker_id", Value: workerID},
			{Key: "score", Value: score}, {Key: "last_at", Value: now}}}}, true)
	if err == nil {
		return true, time.Time{}, nil
	}
	if !docdb.IsDuplicate(err) {
		return false, time.Time{}, err
	}
	var d attemptDoc
	if err := s.attempts.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return false, time.Time{}, err
	}
	return false, d.LastAt, nil
}
