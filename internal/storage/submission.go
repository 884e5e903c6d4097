package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// SubmissionStore keeps the submissions collection. It implements
// submission.Store.
type SubmissionStore struct {
	subs docdb.Collection
}

// NewSubmissionStore returns the submissions store on d.
func NewSubmissionStore(d *docdb.DB) *SubmissionStore {
	return &SubmissionStore{subs: d.Collection("submissions")}
}

var _ submission.Store = (*SubmissionStore)(nil)

type submissionDoc struct {
	ID            string     `bson:"_id"`
	TaskID        string     `bson:"task_id"`
	TaskTitle     string     `bson:"task_title"`
	Pay           int64      `bson:"payable_amount"`
	WorkerID      string     `bson:"worker_id"`
	WorkerName    string     `bson:"worker_name"`
	BuyerID       string     `bson:"buyer_id"`
	BuyerName     string     `bson:"buyer_name"`
	Details       string     `bson:"submission_details"`
	Status        string     `bson:"status"`
	Reason        string     `bson:"reason"`
	AutoApproveAt time.Time  `bson:"auto_approve_at"`
	CreatedAt     time.Time  `bson:"created_at"`
	ReviewedAt    *time.Time `bson:"reviewed_at,omitempty"`
	Bonus         int64      `bson:"bonus,omitempty"`
	// The buyer's one revision request: its reason, and the deadline while
	// it waits for the worker.
	RevisionReason   string     `bson:"revision_reason,omitempty"`
	RevisionDeadline *time.Time `bson:"revision_deadline,omitempty"`
	// BuyerUntold marks an automatic approval its buyer has not been told
	// of yet (submission.Store.UntoldAutoApprovals).
	BuyerUntold bool     `bson:"buyer_untold,omitempty"`
	Ops         []string `bson:"ops"` // ledger operations committed on this submission
	// Reworks counts the rejections an admin sent back to the worker
	// (submission.Submission.Reworks).
	Reworks int `bson:"reworks,omitempty"`
}

func submissionFromDoc(d submissionDoc) submission.Submission {
	s := submission.Submission{
		ID: d.ID, TaskID: d.TaskID, TaskTitle: d.TaskTitle, Pay: money.Coins(d.Pay),
		Worker: task.Party{ID: d.WorkerID, Name: d.WorkerName}, Buyer: task.Party{ID: d.BuyerID, Name: d.BuyerName},
		Details: d.Details, Status: submission.Status(d.Status), Reason: d.Reason, AutoApproveAt: d.AutoApproveAt,
		CreatedAt: d.CreatedAt, Bonus: money.Coins(d.Bonus), RevisionReason: d.RevisionReason, Reworks: d.Reworks,
	}
	if d.RevisionDeadline != nil {
		s.RevisionDeadline = *d.RevisionDeadline
	}
	if d.ReviewedAt != nil {
		s.ReviewedAt = *d.ReviewedAt
	}
	return s
}

// submissionToDoc is sub as stored, with no operation committed on it yet.
func submissionToDoc(sub submission.Submission) submissionDoc {
	d := submissionDoc{
		ID: sub.ID, TaskID: sub.TaskID, TaskTitle: sub.TaskTitle, Pay: int64(sub.Pay),
		WorkerID: sub.Worker.ID, WorkerName: sub.Worker.Name, BuyerID: sub.Buyer.ID, BuyerName: sub.Buyer.Name,
		Details: sub.Details, Status: string(sub.Status), Reason: sub.Reason, AutoApproveAt: sub.AutoApproveAt,
		CreatedAt: sub.CreatedAt, Bonus: int64(sub.Bonus), RevisionReason: sub.RevisionReason, Ops: []string{},
	}
	if !sub.ReviewedAt.IsZero() {
		d.ReviewedAt = &sub.ReviewedAt
	}
	if !sub.RevisionDeadline.IsZero() {
		d.RevisionDeadline = &sub.RevisionDeadline
	}
	return d
}

// InsertMany adds submissions in one command, each as it is given, with
// no operation of the submission service behind it: submissions made
// outside the service (the load generator's seed), whose coins and slots
// the caller must have accounted for. A duplicate stops it; those before
// it stay.
func (s *SubmissionStore) InsertMany(ctx context.Context, subs []submission.Submission) error {
	docs := make([]any, len(subs))
	for i, sub := range subs {
		docs[i] = submissionToDoc(sub)
	}
	return s.subs.InsertMany(ctx, docs, true)
}

// Insert implements submission.Store.
func (s *SubmissionStore) Insert(ctx context.Context, sub submission.Submission) error {
	err := s.subs.InsertOne(ctx, submissionToDoc(sub))
	if !docdb.IsDuplicate(err) {
		return err
	}
	if _, err := s.ByID(ctx, sub.ID); err == nil {
		return nil // inserted by an earlier attempt of the same operation
	}
	return submission.ErrAlreadySubmitted
}

func (s *SubmissionStore) one(ctx context.Context, q bson.D) (submissionDoc, error) {
	var d submissionDoc
	err := s.subs.FindOne(ctx, q, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return d, submission.ErrNotFound
	}
	return d, err
}

// ByID implements submission.Store.
func (s *SubmissionStore) ByID(ctx context.Context, id string) (submission.Submission, error) {
	d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
	return submissionFromDoc(d), err
}

// RequestRevision implements submission.Store.
func (s *SubmissionStore) RequestRevision(ctx context.Context, id, reason string, deadline time.Time) (bool, error) {
	n, err := s.subs.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(submission.StatusPending)},
			{Key: "revision_reason", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: string(submission.StatusRevision)}, {Key: "revision_reason", Value: reason},
			{Key: "revision_deadline", Value: deadline},
		}}}, false)
	return n == 1, err
}

// Resubmit implements submission.Store.
func (s *SubmissionStore) Resubmit(ctx context.Context, op, id, details string, autoApproveAt, now time.Time) (bool, error) {
	return docdb.CommitOnce(ctx, s.subs, id,
		bson.D{{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "status", Value: string(submission.StatusRevision)}, {Key: "revision_deadline", Value: bson.D{{Key: "$gt", Value: now}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(submission.StatusPending)},
				{Key: "submission_details", Value: details}, {Key: "auto_approve_at", Value: autoApproveAt}}},
			{Key: "$unset", Value: bson.D{{Key: "revision_deadline", Value: ""}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d submissionDoc) bool { return slices.Contains(d.Ops, op) })
}

// Rework implements submission.Store.
func (s *SubmissionStore) Rework(ctx context.Context, op, id, reason string, deadline time.Time) (bool, error) {
	return docdb.CommitOnce(ctx, s.subs, id,
		bson.D{{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "status", Value: string(submission.StatusRejected)}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(submission.StatusRevision)}, {Key: "revision_reason", Value: reason},
				{Key: "revision_deadline", Value: deadline}}},
			{Key: "$inc", Value: bson.D{{Key: "reworks", Value: 1}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d submissionDoc) bool { return slices.Contains(d.Ops, op) })
}

// Unrework implements submission.Store.
func (s *SubmissionStore) Unrework(ctx context.Context, op string, before submission.Submission) error {
	set := bson.D{{Key: "status", Value: string(before.Status)}, {Key: "reworks", Value: before.Reworks}}
	unset := bson.D{{Key: "revision_deadline", Value: ""}}
	if before.RevisionReason != "" {
		set = append(set, bson.E{Key: "revision_reason", Value: before.RevisionReason})
	} else {
		unset = append(unset, bson.E{Key: "revision_reason", Value: ""})
	}
	_, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: before.ID}, {Key: "ops", Value: op}},
		bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: unset}, {Key: "$pull", Value: bson.D{{Key: "ops", Value: op}}}}, false)
	return err
}

// DueRevisions implements submission.Store.
func (s *SubmissionStore) DueRevisions(ctx context.Context, now time.Time, limit int) ([]submission.Submission, error) {
	return docdb.FindAll(ctx, s.subs,
		bson.D{{Key: "status", Value: string(submission.StatusRevision)}, {Key: "revision_deadline", Value: bson.D{{Key: "$lt", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "revision_deadline", Value: 1}}, Limit: int64(limit)}, submissionFromDoc)
}

// AddBonus implements submission.Store.
func (s *SubmissionStore) AddBonus(ctx context.Context, id, op string, coins money.Coins) error {
	_, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "bonus", Value: int64(coins)}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		}, false)
	return err
}

// ByIDs implements submission.Store: one find.
func (s *SubmissionStore) ByIDs(ctx context.Context, ids []string) ([]submission.Submission, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return docdb.FindAll(ctx, s.subs, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, docdb.Query{}, submissionFromDoc)
}

func submissionFilter(f submission.Filter) bson.D {
	q := bson.D{} // the driver refuses a nil filter
	if f.WorkerID != "" {
		q = append(q, bson.E{Key: "worker_id", Value: f.WorkerID})
	}
	if f.BuyerID != "" {
		q = append(q, bson.E{Key: "buyer_id", Value: f.BuyerID})
	}
	if f.TaskID != "" {
		q = append(q, bson.E{Key: "task_id", Value: f.TaskID})
	}
	if f.Status != "" {
		q = append(q, bson.E{Key: "status", Value: string(f.Status)})
	}
	return q
}

// oldestFirst is newestFirst the other way round.
var oldestFirst = bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}

// List implements submission.Store: one find and one count.
func (s *SubmissionStore) List(ctx context.Context, f submission.Filter, p page.Request) ([]submission.Submission, int64, error) {
	order := newestFirst
	if f.OldestFirst {
		order = oldestFirst
	}
	return docdb.FindPage(ctx, s.subs, submissionFilter(f), order, p, submissionFromDoc)
}

// Review implements submission.Store.
func (s *SubmissionStore) Review(ctx context.Context, r submission.Review) (bool, error) {
	from := r.From
	if from == "" {
		from = submission.StatusPending
	}
	set := bson.D{{Key: "status", Value: string(r.To)}, {Key: "reason", Value: r.Reason}, {Key: "reviewed_at", Value: r.At}}
	if r.Auto {
		set = append(set, bson.E{Key: "buyer_untold", Value: true})
	}
	return docdb.CommitOnce(ctx, s.subs, r.ID,
		bson.D{{Key: "_id", Value: r.ID}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: r.Op}}}, {Key: "status", Value: string(from)}},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: r.Op}}},
		},
		func(d submissionDoc) bool { return slices.Contains(d.Ops, r.Op) })
}

// Unreview implements submission.Store.
func (s *SubmissionStore) Unreview(ctx context.Context, op string, before submission.Submission) error {
	set := bson.D{{Key: "status", Value: string(before.Status)}, {Key: "reason", Value: before.Reason}}
	unset := bson.D{{Key: "buyer_untold", Value: ""}}
	if before.ReviewedAt.IsZero() {
		unset = append(unset, bson.E{Key: "reviewed_at", Value: ""})
	} else {
		set = append(set, bson.E{Key: "reviewed_at", Value: before.ReviewedAt})
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$unset", Value: unset},
		{Key: "$pull", Value: bson.D{{Key: "ops", Value: op}}},
	}
	_, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: before.ID}, {Key: "ops", Value: op}}, update, false)
	return err
}

// DueForApproval implements submission.Store.
func (s *SubmissionStore) DueForApproval(ctx context.Context, now time.Time, limit int) ([]submission.Submission, error) {
	return docdb.FindAll(ctx, s.subs,
		bson.D{{Key: "status", Value: string(submission.StatusPending)}, {Key: "auto_approve_at", Value: bson.D{{Key: "$lt", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "auto_approve_at", Value: 1}}, Limit: int64(limit)},
		submissionFromDoc)
}

// UntoldAutoApprovals implements submission.Store (through the
// buyer_untold index).
func (s *SubmissionStore) UntoldAutoApprovals(ctx context.Context, limit int) ([]submission.Submission, error) {
	return docdb.FindAll(ctx, s.subs, bson.D{{Key: "buyer_untold", Value: true}},
		docdb.Query{Sort: bson.D{{Key: "reviewed_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, submissionFromDoc)
}

// toldBatch is how many submissions one command of BuyersTold changes:
// well under the embedded database's limit on the parts of one command.
const toldBatch = 50

// BuyersTold implements submission.Store, in commands of at most toldBatch
// submissions.
func (s *SubmissionStore) BuyersTold(ctx context.Context, ids []string) error {
	for batch := range slices.Chunk(ids, toldBatch) {
		_, err := s.subs.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "buyer_untold", Value: ""}}}})
		if err != nil {
			return err
		}
	}
	return nil
}

// Count implements submission.Store.
func (s *SubmissionStore) Count(ctx context.Context, f submission.Filter) (int64, error) {
	return s.subs.Count(ctx, submissionFilter(f))
}

// EachOfTasks implements submission.Store, through the index on task_id.
func (s *SubmissionStore) EachOfTasks(ctx context.Context, taskIDs []string, fn func(submission.Submission) error) error {
	if len(taskIDs) == 0 {
		return nil
	}
	return docdb.Each(ctx, s.subs, bson.D{{Key: "task_id", Value: bson.D{{Key: "$in", Value: taskIDs}}}},
		docdb.Query{Sort: bson.D{{Key: "task_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}},
		func(d submissionDoc) error { return fn(submissionFromDoc(d)) })
}

// SumPay implements submission.Store.
func (s *SubmissionStore) SumPay(ctx context.Context, f submission.Filter) (money.Coins, error) {
	n, err := s.subs.Sum(ctx, submissionFilter(f), "payable_amount")
	return money.Coins(n), err
}

// SumBonus implements submission.Store.
func (s *SubmissionStore) SumBonus(ctx context.Context, f submission.Filter) (money.Coins, error) {
	n, err := s.subs.Sum(ctx, submissionFilter(f), "bonus")
	return money.Coins(n), err
}

// PaidBy implements withdrawal.Earnings: the pay of the worker's approved
// submissions, summed by buyer (through the worker_id, status index).
func (s *SubmissionStore) PaidBy(ctx context.Context, workerID string) (map[string]money.Coins, error) {
	paid := map[string]money.Coins{}
	err := docdb.Each(ctx, s.subs, bson.D{
		{Key: "worker_id", Value: workerID}, {Key: "status", Value: string(submission.StatusApproved)},
	}, docdb.Query{}, func(d submissionDoc) error {
		paid[d.BuyerID] += money.Coins(d.Pay)
		return nil
	})
	return paid, err
}
