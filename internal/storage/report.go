package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/report"
	"microtask/internal/task"
)

// ReportStore keeps the reports collection. It implements report.Store.
type ReportStore struct {
	reports docdb.Collection
}

// NewReportStore returns the reports store on d.
func NewReportStore(d *docdb.DB) *ReportStore {
	return &ReportStore{reports: d.Collection("reports")}
}

var _ report.Store = (*ReportStore)(nil)

type reportDoc struct {
	ID           string     `bson:"_id"`
	ReporterID   string     `bson:"reporter_id"`
	ReporterName string     `bson:"reporter_name"`
	TargetType   string     `bson:"target_type"`
	TargetID     string     `bson:"target_id"`
	Reason       string     `bson:"reason"`
	Status       string     `bson:"status"`
	Note         string     `bson:"note"`
	Action       string     `bson:"action"`
	CreatedAt    time.Time  `bson:"created_at"`
	DecidedAt    *time.Time `bson:"decided_at,omitempty"`
	// OpenKey is reporter|type|target while the report is open, and the
	// report's own ID once closed: a unique index on it allows one open
	// report per reporter and target without a partial index, which the
	// embedded database lacks.
	OpenKey string `bson:"open_key"`
}

func reportFromDoc(d reportDoc) report.Report {
	r := report.Report{
		ID: d.ID, Reporter: task.Party{ID: d.ReporterID, Name: d.ReporterName}, TargetType: report.TargetType(d.TargetType),
		TargetID: d.TargetID, Reason: d.Reason, Status: report.Status(d.Status), Note: d.Note, Action: report.Action(d.Action),
		CreatedAt: d.CreatedAt,
	}
	if d.DecidedAt != nil {
		r.DecidedAt = *d.DecidedAt
	}
	return r
}

// Insert implements report.Store. A dispute of a contract's milestone is
// keyed by its own ID: the contract allows one dispute of an item at a
// time, and a later round's must be filed even if an earlier round's
// report was left open (its decision carried out, a crash before the
// report closed).
func (s *ReportStore) Insert(ctx context.Context, r report.Report) error {
	key := r.Reporter.ID + "|" + string(r.TargetType) + "|" + r.TargetID
	if r.TargetType == report.TargetMilestone {
		key = r.ID
	}
	err := s.reports.InsertOne(ctx, reportDoc{
		ID: r.ID, ReporterID: r.Reporter.ID, ReporterName: r.Reporter.Name, TargetType: string(r.TargetType),
		TargetID: r.TargetID, Reason: r.Reason, Status: string(r.Status), CreatedAt: r.CreatedAt,
		OpenKey: key,
	})
	if docdb.IsDuplicate(err) {
		return report.ErrAlreadyReported
	}
	return err
}

// ByID implements report.Store.
func (s *ReportStore) ByID(ctx context.Context, id string) (report.Report, error) {
	var d reportDoc
	err := s.reports.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return report.Report{}, report.ErrNotFound
	}
	return reportFromDoc(d), err
}

// ListByReporter implements report.Store: one find and one count.
func (s *ReportStore) ListByReporter(ctx context.Context, reporterID string, p page.Request) ([]report.Report, int64, error) {
	return docdb.FindPage(ctx, s.reports, bson.D{{Key: "reporter_id", Value: reporterID}}, newestFirst, p, reportFromDoc)
}

// List implements report.Store: one find and one count. Sorting by
// decided_at first puts open reports, which have none (a missing field sorts
// first), before the closed ones; then the oldest first.
func (s *ReportStore) List(ctx context.Context, status report.Status, p page.Request) ([]report.Report, int64, error) {
	q := bson.D{}
	if status != "" {
		q = append(q, bson.E{Key: "status", Value: string(status)})
	}
	return docdb.FindPage(ctx, s.reports, q, bson.D{{Key: "decided_at", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, p, reportFromDoc)
}

// Decide implements report.Store.
func (s *ReportStore) Decide(ctx context.Context, d report.Decision) (bool, error) {
	n, err := s.reports.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "status", Value: string(report.StatusOpen)}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: string(d.Status)}, {Key: "note", Value: d.Note}, {Key: "action", Value: string(d.Action)},
			{Key: "decided_at", Value: d.At}, {Key: "open_key", Value: d.ID},
		}}}, false)
	return n == 1, err
}

// CountOpen counts the open reports.
func (s *ReportStore) CountOpen(ctx context.Context) (int64, error) {
	return s.reports.Count(ctx, bson.D{{Key: "status", Value: string(report.StatusOpen)}})
}
