package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/batch"
	"microtask/internal/docdb"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/task"
)

// BatchStore keeps batches (collection batches) and the rows of their CSV
// files (batch_rows, one small document per row, which the funding
// operation's step and the results read back). It implements batch.Store.
type BatchStore struct {
	batches docdb.Collection
	rows    docdb.Collection
}

// NewBatchStore returns the batch store on d.
func NewBatchStore(d *docdb.DB) *BatchStore {
	return &BatchStore{batches: d.Collection("batches"), rows: d.Collection("batch_rows")}
}

var _ batch.Store = (*BatchStore)(nil)

type batchDoc struct {
	ID             string    `bson:"_id"`
	BuyerID        string    `bson:"buyer_id"`
	Name           string    `bson:"name"`
	Status         string    `bson:"status"`
	Columns        []string  `bson:"columns"`
	Rows           int       `bson:"rows"`
	Title          string    `bson:"task_title"` // the template, placeholders and all
	Detail         string    `bson:"task_detail"`
	SubmissionInfo string    `bson:"submission_info"`
	ImageURL       string    `bson:"task_image_url"`
	Workers        int       `bson:"required_workers"`
	Pay            int64     `bson:"payable_amount"`
	CompletionDate time.Time `bson:"completion_date"`
	Category       string    `bson:"category"`
	Tags           []string  `bson:"tags"`
	TimeAllotted   int64     `bson:"time_allotted_minutes"`
	// The template's requirements (task.Requirements); the requirements
	// are stored whole and never queried into.
	MinLevel     int64                 `bson:"min_level,omitempty"`
	MinRating    float64               `bson:"min_rating,omitempty"`
	Countries    []string              `bson:"countries,omitempty"`
	Requirements []batchRequirementDoc `bson:"requirements,omitempty"`
	Ops          []string              `bson:"ops"`
	CreatedAt    time.Time             `bson:"created_at"`
	ClosedAt     *time.Time            `bson:"closed_at,omitempty"`
	CompletedAt  *time.Time            `bson:"completed_at,omitempty"`
}

type batchRequirementDoc struct {
	QualificationID string `bson:"qualification_id"`
	Comparator      string `bson:"comparator"`
	Value           *int   `bson:"value,omitempty"`
}

func batchRequirementsToDoc(r task.Requirements) (int64, float64, []string, []batchRequirementDoc) {
	var qs []batchRequirementDoc
	for _, q := range r.Qualifications {
		qs = append(qs, batchRequirementDoc{QualificationID: q.QualificationID, Comparator: string(q.Comparator), Value: q.Value})
	}
	return int64(r.MinLevel), r.MinRating, noneIfEmpty(r.Countries), qs
}

func batchRequirementsFromDoc(d batchDoc) task.Requirements {
	r := task.Requirements{MinLevel: int(d.MinLevel), MinRating: d.MinRating, Countries: d.Countries}
	for _, q := range d.Requirements {
		r.Qualifications = append(r.Qualifications, task.QualificationRequirement{QualificationID: q.QualificationID,
			Comparator: task.Comparator(q.Comparator), Value: q.Value})
	}
	return r
}

func batchFromDoc(d batchDoc) batch.Batch {
	b := batch.Batch{ID: d.ID, BuyerID: d.BuyerID, Name: d.Name, Status: batch.Status(d.Status), Columns: d.Columns, Rows: d.Rows,
		CreatedAt: d.CreatedAt, Template: batch.Template{Title: d.Title, Detail: d.Detail, SubmissionInfo: d.SubmissionInfo,
			ImageURL: d.ImageURL, Workers: d.Workers, Pay: money.Coins(d.Pay), CompletionDate: d.CompletionDate, Category: d.Category,
			Tags: nonNil(d.Tags), TimeAllotted: time.Duration(d.TimeAllotted) * time.Minute, Requirements: batchRequirementsFromDoc(d)}}
	if d.ClosedAt != nil {
		b.ClosedAt = *d.ClosedAt
	}
	if d.CompletedAt != nil {
		b.CompletedAt = *d.CompletedAt
	}
	return b
}

type batchRowDoc struct {
	ID      string   `bson:"_id"` // batch:row
	BatchID string   `bson:"batch_id"`
	Row     int      `bson:"row"`
	Values  []string `bson:"values"`
}

// Insert implements batch.Store.
func (s *BatchStore) Insert(ctx context.Context, b batch.Batch) error {
	t := b.Template
	d := batchDoc{ID: b.ID, BuyerID: b.BuyerID, Name: b.Name, Status: string(b.Status), Columns: b.Columns,
		Rows: b.Rows, Title: t.Title, Detail: t.Detail, SubmissionInfo: t.SubmissionInfo, ImageURL: t.ImageURL, Workers: t.Workers,
		Pay: int64(t.Pay), CompletionDate: t.CompletionDate, Category: t.Category, Tags: nonNil(t.Tags),
		TimeAllotted: int64(t.TimeAllotted / time.Minute), Ops: []string{}, CreatedAt: b.CreatedAt}
	d.MinLevel, d.MinRating, d.Countries, d.Requirements = batchRequirementsToDoc(t.Requirements)
	err := s.batches.InsertOne(ctx, d)
	if docdb.IsDuplicate(err) {
		return nil // the same request again
	}
	return err
}

// rowsBatch bounds the rows of one insert command, under the embedded
// FerretDB's limit on the parts of a command.
const rowsBatch = 50

// InsertRows implements batch.Store: unordered inserts, those inserted
// already left as they are.
func (s *BatchStore) InsertRows(ctx context.Context, rows []batch.Row) error {
	for chunk := range slices.Chunk(rows, rowsBatch) {
		docs := make([]any, len(chunk))
		for i, r := range chunk {
			docs[i] = batchRowDoc{ID: fmt.Sprintf("%s:%d", r.BatchID, r.N), BatchID: r.BatchID, Row: r.N, Values: r.Values}
		}
		if err := s.rows.InsertMany(ctx, docs, false); err != nil && !docdb.IsDuplicate(err) {
			return err
		}
	}
	return nil
}

// ByID implements batch.Store.
func (s *BatchStore) ByID(ctx context.Context, id string) (batch.Batch, error) {
	var d batchDoc
	err := s.batches.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return batch.Batch{}, batch.ErrNotFound
	}
	return batchFromDoc(d), err
}

// List implements batch.Store: one find and one count.
func (s *BatchStore) List(ctx context.Context, buyerID string, p page.Request) ([]batch.Batch, int64, error) {
	return docdb.FindPage(ctx, s.batches, bson.D{{Key: "buyer_id", Value: buyerID},
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(batch.StatusOpen), string(batch.StatusClosed)}}}}},
		newestFirst, p, batchFromDoc)
}

// Rows implements batch.Store, through the index on batch_id and row.
func (s *BatchStore) Rows(ctx context.Context, batchID string, from, to int) ([]batch.Row, error) {
	return docdb.FindAll(ctx, s.rows, bson.D{{Key: "batch_id", Value: batchID},
		{Key: "row", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}}},
		docdb.Query{Sort: bson.D{{Key: "row", Value: 1}}}, func(d batchRowDoc) batch.Row {
			return batch.Row{BatchID: d.BatchID, N: d.Row, Values: d.Values}
		})
}

// SetStatus implements batch.Store.
func (s *BatchStore) SetStatus(ctx context.Context, id string, from, to batch.Status) (bool, error) {
	n, err := s.batches.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(from)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(to)}}}}, false)
	return n == 1, err
}

// Close implements batch.Store: the commit of a closing operation.
func (s *BatchStore) Close(ctx context.Context, id, op string, at time.Time) (bool, error) {
	return docdb.CommitOnce(ctx, s.batches, id,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(batch.StatusOpen)}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(batch.StatusClosed)}, {Key: "closed_at", Value: at}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d batchDoc) bool { return slices.Contains(d.Ops, op) })
}

// Uncompleted implements batch.Store.
func (s *BatchStore) Uncompleted(ctx context.Context, limit int) ([]batch.Batch, error) {
	return docdb.FindAll(ctx, s.batches, bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(batch.StatusOpen), string(batch.StatusClosed)}}}},
		{Key: "completed_at", Value: bson.D{{Key: "$exists", Value: false}}},
	}, docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}}, Limit: int64(limit)}, batchFromDoc)
}

// SetCompleted implements batch.Store.
func (s *BatchStore) SetCompleted(ctx context.Context, id string, at time.Time) error {
	_, err := s.batches.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "completed_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "completed_at", Value: at}}}}, false)
	return err
}
