package storage

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/task"
)

// TaskStore keeps the tasks collection. It implements task.Store and the
// slot operations submission.Tasks needs.
type TaskStore struct {
	tasks docdb.Collection
}

// NewTaskStore returns the tasks store on d.
func NewTaskStore(d *docdb.DB) *TaskStore {
	return &TaskStore{tasks: d.Collection("tasks")}
}

var _ task.Store = (*TaskStore)(nil)

type taskDoc struct {
	ID               string    `bson:"_id"`
	Title            string    `bson:"task_title"`
	Detail           string    `bson:"task_detail"`
	SubmissionInfo   string    `bson:"submission_info"`
	ImageURL         string    `bson:"task_image_url"`
	RequiredWorkers  int64     `bson:"required_workers"`
	PendingSubs      []string  `bson:"pending_subs"`
	Held             []string  `bson:"held"`                  // reserved slots
	TimeAllotted     int64     `bson:"time_allotted_minutes"` // 0 in tasks from before reservations: the default
	Pay              int64     `bson:"payable_amount"`
	CompletionDate   time.Time `bson:"completion_date"`
	BuyerID          string    `bson:"buyer_id"`
	BuyerName        string    `bson:"buyer_name"`
	Status           string    `bson:"status"`
	AutoApproveAfter int64     `bson:"auto_approve_after_s"`
	Refunds          int64     `bson:"refunds"`
	Hidden           bool      `bson:"hidden,omitempty"` // its buyer is suspended or deleted
	Paused           bool      `bson:"paused,omitempty"`
	FundingOp        string    `bson:"funding_op,omitempty"` // the operation adding slots, while it runs
	Ops              []string  `bson:"ops"`                  // ledger operations committed on this task
	Category         string    `bson:"category"`
	Tags             []string  `bson:"tags"`
	// EffectivePay is pay ÷ time_allotted_minutes, kept for the sort
	// (task.Task.EffectivePay): neither changes once the task exists.
	EffectivePay float64   `bson:"effective_pay"`
	CreatedAt    time.Time `bson:"created_at"`
	// The task's requirements, as flat top-level fields (requirementsDoc):
	// every task has them (migrations 0025 and 0065), for the filter of
	// admits.
	Reqs     requirementsDoc `bson:",inline"` // a named field: the codec skips an unexported embedded one
	BatchID  string          `bson:"batch_id,omitempty"`
	BatchRow int             `bson:"batch_row,omitempty"`
}

func taskFromDoc(d taskDoc) task.Task {
	if d.Category == "" { // written before migration 0019 ran
		d.Category = task.CategoryOther
	}
	t := task.Task{
		ID: d.ID, Title: d.Title, Detail: d.Detail, SubmissionInfo: d.SubmissionInfo, ImageURL: d.ImageURL,
		OpenSlots: int(d.RequiredWorkers), PendingSubs: d.PendingSubs, Held: d.Held, Pay: money.Coins(d.Pay),
		CompletionDate: d.CompletionDate, Buyer: task.Party{ID: d.BuyerID, Name: d.BuyerName}, Status: task.Status(d.Status),
		AutoApproveAfter: time.Duration(d.AutoApproveAfter) * time.Second, Refunds: int(d.Refunds), Hidden: d.Hidden, Paused: d.Paused, CreatedAt: d.CreatedAt,
		TimeAllotted: time.Duration(d.TimeAllotted) * time.Minute, Category: d.Category, Tags: nonNil(d.Tags),
		Requirements: d.Reqs.requirements(),
		BatchID:      d.BatchID, BatchRow: d.BatchRow,
	}
	if t.TimeAllotted == 0 {
		t.TimeAllotted = task.DefaultTimeAllotted
	}
	return t
}

// taskToDoc is t as stored, with no operation committed on it yet.
func taskToDoc(t task.Task) taskDoc {
	d := taskDoc{
		ID: t.ID, Title: t.Title, Detail: t.Detail, SubmissionInfo: t.SubmissionInfo, ImageURL: t.ImageURL,
		RequiredWorkers: int64(t.OpenSlots), PendingSubs: nonNil(t.PendingSubs), Held: nonNil(t.Held), Pay: int64(t.Pay),
		CompletionDate: t.CompletionDate, TimeAllotted: int64(t.TimeAllotted / time.Minute),
		BuyerID: t.Buyer.ID, BuyerName: t.Buyer.Name, Status: string(t.Status),
		AutoApproveAfter: int64(t.AutoApproveAfter / time.Second), Refunds: int64(t.Refunds), Hidden: t.Hidden, Paused: t.Paused,
		Ops: []string{}, CreatedAt: t.CreatedAt, Category: t.Category, Tags: nonNil(t.Tags), EffectivePay: t.EffectivePay(),
		Reqs: requirementsToDoc(t.Requirements), BatchID: t.BatchID, BatchRow: t.BatchRow,
	}
	return d
}

// Insert implements task.Store.
func (s *TaskStore) Insert(ctx context.Context, t task.Task) error {
	err := s.tasks.InsertOne(ctx, taskToDoc(t))
	if docdb.IsDuplicate(err) {
		return nil // inserted by an earlier attempt of the same operation
	}
	return err
}

// insertBatch bounds the tasks of one insert command, under the embedded
// FerretDB's limit on the parts of a command.
const insertBatch = 50

// InsertBatch implements task.Store: unordered inserts of at most
// insertBatch tasks each, a task inserted already left as it is.
func (s *TaskStore) InsertBatch(ctx context.Context, tasks []task.Task) error {
	for chunk := range slices.Chunk(tasks, insertBatch) {
		docs := make([]any, len(chunk))
		for i, t := range chunk {
			docs[i] = taskToDoc(t)
		}
		if err := s.tasks.InsertMany(ctx, docs, false); err != nil && !docdb.IsDuplicate(err) {
			return err
		}
	}
	return nil
}

// EachOfBatch implements task.Store, through the index on batch_id and
// batch_row.
func (s *TaskStore) EachOfBatch(ctx context.Context, batchID string, fn func(task.Task) error) error {
	return docdb.Each(ctx, s.tasks, bson.D{{Key: "batch_id", Value: batchID}},
		docdb.Query{Sort: bson.D{{Key: "batch_row", Value: 1}}}, func(d taskDoc) error { return fn(taskFromDoc(d)) })
}

// InsertMany adds tasks in one command, each as it is given, with no
// operation of the task service behind it: tasks made outside the
// service (the load generator's seed), whose escrow the caller must have
// funded to match (task.Task.EscrowDue) for the audit to balance. A duplicate
// ID stops it; those before it stay.
func (s *TaskStore) InsertMany(ctx context.Context, tasks []task.Task) error {
	docs := make([]any, len(tasks))
	for i, t := range tasks {
		docs[i] = taskToDoc(t)
	}
	return s.tasks.InsertMany(ctx, docs, true)
}

func (s *TaskStore) doc(ctx context.Context, id string) (taskDoc, error) {
	var d taskDoc
	err := s.tasks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return taskDoc{}, task.ErrNotFound
	}
	return d, err
}

// ByID implements task.Store.
func (s *TaskStore) ByID(ctx context.Context, id string) (task.Task, error) {
	d, err := s.doc(ctx, id)
	return taskFromDoc(d), err
}

var notDeleted = bson.D{{Key: "$ne", Value: string(task.StatusDeleted)}}

// listFilter turns a task.Filter into a query. Search words are matched
// literally (regexp.QuoteMeta): user input never becomes a pattern or an
// operator.
func listFilter(f task.Filter) bson.D {
	var q bson.D
	switch {
	case f.All:
		q = bson.D{}
	case f.Available:
		q = takesSubmissions(f.Now)
	case f.BuyerID != "":
		q = bson.D{{Key: "status", Value: notDeleted}}
	default:
		q = listed()
	}
	if f.BuyerID != "" {
		q = append(bson.D{{Key: "buyer_id", Value: f.BuyerID}}, q...)
	}
	if f.MinPay > 0 {
		q = append(q, bson.E{Key: "payable_amount", Value: bson.D{{Key: "$gte", Value: int64(f.MinPay)}}})
	}
	if f.Category != "" {
		q = append(q, bson.E{Key: "category", Value: f.Category})
	}
	if f.Tag != "" {
		q = append(q, bson.E{Key: "tags", Value: f.Tag}) // an element of the array
	}
	if f.NotBy != "" {
		q = append(q, bson.E{Key: "submitters", Value: bson.D{{Key: "$ne", Value: f.NotBy}}},
			bson.E{Key: "blocked", Value: bson.D{{Key: "$ne", Value: f.NotBy}}})
	}
	if f.Available && f.Candidate != nil {
		q = append(q, admits(*f.Candidate)...)
	}
	if f.Query != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}
		q = append(q, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "task_title", Value: re}}, bson.D{{Key: "task_detail", Value: re}},
		}})
	}
	return q
}

func listSort(sort string) bson.D {
	switch sort {
	case task.SortPay:
		return bson.D{{Key: "payable_amount", Value: -1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	case task.SortEffectivePay:
		return bson.D{{Key: "effective_pay", Value: -1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	case task.SortDeadline:
		return bson.D{{Key: "completion_date", Value: 1}, {Key: "_id", Value: 1}}
	default:
		return newestFirst
	}
}

// List implements task.Store: one find and one count.
func (s *TaskStore) List(ctx context.Context, f task.Filter, p page.Request) ([]task.Task, int64, error) {
	return docdb.FindPage(ctx, s.tasks, listFilter(f), listSort(f.Sort), p, taskFromDoc)
}

// EachImageURL implements task.Store: every task's, deleted ones included.
func (s *TaskStore) EachImageURL(ctx context.Context, fn func(string) error) error {
	return docdb.Each(ctx, s.tasks, bson.D{{Key: "task_image_url", Value: bson.D{{Key: "$gt", Value: ""}}}},
		docdb.Query{Fields: []string{"task_image_url"}}, func(d struct {
			ImageURL string `bson:"task_image_url"`
		}) error {
			return fn(d.ImageURL)
		})
}

// SetText implements task.Store.
func (s *TaskStore) SetText(ctx context.Context, id string, e task.TextEdit) (task.Task, error) {
	set := setFields(
		field{"task_title", e.Title}, field{"task_detail", e.Detail},
		field{"submission_info", e.SubmissionInfo}, field{"task_image_url", e.ImageURL}, field{"category", e.Category})
	if e.Tags != nil {
		set = append(set, bson.E{Key: "tags", Value: nonNil(*e.Tags)})
	}
	set = append(set, requirementEdits(e.MinLevel, e.MinRating, e.Countries, e.Qualifications)...)
	if len(set) == 0 {
		t, err := s.ByID(ctx, id)
		if err == nil && t.Status == task.StatusDeleted {
			err = task.ErrNotFound
		}
		return t, err
	}
	n, err := s.tasks.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: notDeleted}},
		bson.D{{Key: "$set", Value: set}}, false)
	if err != nil {
		return task.Task{}, err
	}
	if n == 0 {
		return task.Task{}, task.ErrNotFound
	}
	return s.ByID(ctx, id)
}

// Refund implements task.Store.
func (s *TaskStore) Refund(ctx context.Context, r task.Refund) (bool, error) {
	q := bson.D{
		{Key: "_id", Value: r.TaskID},
		{Key: "ops", Value: bson.D{{Key: "$ne", Value: r.Op}}},
		{Key: "refunds", Value: int64(r.Refunds)},
		{Key: "required_workers", Value: int64(r.OpenSlots)},
		{Key: "held", Value: bson.D{{Key: "$size", Value: int64(len(r.Held))}}},
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(task.StatusOpen), string(task.StatusExpired), string(task.StatusClosed)}}}},
		// Slots being funded are not in escrow yet: the refund waits.
		{Key: "funding_op", Value: bson.D{{Key: "$exists", Value: false}}},
	}
	if len(r.Held) > 0 {
		// The same reserved slots as read, not only as many: the refund
		// ends the reservations holding these.
		each := make(bson.A, len(r.Held))
		for i, h := range r.Held {
			each[i] = bson.D{{Key: "held", Value: h}}
		}
		q = append(q, bson.E{Key: "$and", Value: each})
	}
	status := task.StatusDeleted
	switch r.Reason {
	case task.RefundExpired:
		status = task.StatusExpired
		q = append(q, pastDue(r.Now))
	case task.RefundClosed:
		// Closed early by its buyer, or a closed task's reopened slot.
		status = task.StatusClosed
		q = append(q, bson.E{Key: "buyer_id", Value: r.BuyerID})
	case task.RefundDeleted:
		q = append(q, bson.E{Key: "buyer_id", Value: r.BuyerID}, bson.E{Key: "pending_subs", Value: bson.D{{Key: "$size", Value: 0}}})
	case task.RefundRemoved:
		q = append(q, bson.E{Key: "pending_subs", Value: bson.D{{Key: "$size", Value: 0}}})
	}
	return docdb.CommitOnce(ctx, s.tasks, r.TaskID, q, bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: string(status)}, {Key: "required_workers", Value: int64(0)}, {Key: "held", Value: bson.A{}}}},
		{Key: "$inc", Value: bson.D{{Key: "refunds", Value: int64(1)}}},
		{Key: "$push", Value: bson.D{{Key: "ops", Value: r.Op}}},
	}, func(d taskDoc) bool { return slices.Contains(d.Ops, r.Op) })
}

// ReserveSlot implements submission.Tasks.
//
// The task keeps the workers who submitted to it (submitters: never
// reloaded into a task.Task, only filtered on), so that a worker's list of
// available tasks leaves them out in the same query.
func (s *TaskStore) ReserveSlot(ctx context.Context, taskID, submissionID, workerID string, now time.Time) (bool, error) {
	q := append(bson.D{
		{Key: "_id", Value: taskID},
		{Key: "pending_subs", Value: bson.D{{Key: "$ne", Value: submissionID}}},
	}, takesSubmissions(now)...)
	return docdb.CommitOnce(ctx, s.tasks, taskID, q,
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(-1)}}},
			{Key: "$push", Value: bson.D{{Key: "pending_subs", Value: submissionID}, {Key: "submitters", Value: workerID}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.PendingSubs, submissionID) })
}

// The rule "a task takes work" as filters, for the database to check
// atomically in the slot writes and to answer the list of available tasks
// with. Each is the Go rule it names, clause for clause; TestTakesWorkIsOneRule
// runs every combination of the fields they read through both.

// listed selects the tasks of the public lists: open, and not hidden with
// a suspended or deleted buyer.
func listed() bson.D {
	return bson.D{
		{Key: "status", Value: string(task.StatusOpen)},
		{Key: "hidden", Value: bson.D{{Key: "$ne", Value: true}}},
	}
}

// takesWork is task.Task.TakesWork: listed, not paused, and before its
// completion date.
func takesWork(now time.Time) bson.D {
	return append(listed(),
		bson.E{Key: "paused", Value: bson.D{{Key: "$ne", Value: true}}},
		bson.E{Key: "completion_date", Value: bson.D{{Key: "$gt", Value: now}}})
}

// pastDue is the other side of takesWork's date: a task whose completion
// date is not after now is expired (task.Task.TakesWork), and the expiry
// job refunds it.
func pastDue(now time.Time) bson.E {
	return bson.E{Key: "completion_date", Value: bson.D{{Key: "$lte", Value: now}}}
}

// takesSubmissions is task.Task.TakesSubmissions: takesWork, and a free
// slot.
func takesSubmissions(now time.Time) bson.D {
	return append(takesWork(now), bson.E{Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}})
}

// RequiresOpen implements task.Store: one count of at most one, through
// the index on quals and status.
func (s *TaskStore) RequiresOpen(ctx context.Context, typeID string) (bool, error) {
	n, err := s.tasks.Count(ctx, bson.D{{Key: "quals", Value: typeID}, {Key: "status", Value: string(task.StatusOpen)}})
	return n > 0, err
}

// HoldSlot implements task.Store.
func (s *TaskStore) HoldSlot(ctx context.Context, taskID, held, workerID string, now time.Time) (bool, error) {
	q := append(bson.D{
		{Key: "_id", Value: taskID},
		{Key: "held", Value: bson.D{{Key: "$ne", Value: held}}},
		{Key: "submitters", Value: bson.D{{Key: "$ne", Value: workerID}}},
	}, takesSubmissions(now)...)
	return docdb.CommitOnce(ctx, s.tasks, taskID, q,
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(-1)}}},
			{Key: "$push", Value: bson.D{{Key: "held", Value: held}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.Held, held) })
}

// UseHeld implements task.Store.
func (s *TaskStore) UseHeld(ctx context.Context, taskID, held, submissionID, workerID string, now time.Time) (bool, error) {
	q := append(bson.D{
		{Key: "_id", Value: taskID},
		{Key: "held", Value: held},
		{Key: "pending_subs", Value: bson.D{{Key: "$ne", Value: submissionID}}},
	}, takesWork(now)...)
	return docdb.CommitOnce(ctx, s.tasks, taskID, q,
		bson.D{
			{Key: "$pull", Value: bson.D{{Key: "held", Value: held}}},
			{Key: "$push", Value: bson.D{{Key: "pending_subs", Value: submissionID}, {Key: "submitters", Value: workerID}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.PendingSubs, submissionID) })
}

// ReleaseHeld implements task.Store.
func (s *TaskStore) ReleaseHeld(ctx context.Context, taskID, held, op string) (bool, error) {
	return docdb.CommitOnce(ctx, s.tasks, taskID,
		bson.D{{Key: "_id", Value: taskID}, {Key: "held", Value: held}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}},
		bson.D{
			{Key: "$pull", Value: bson.D{{Key: "held", Value: held}}},
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(1)}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.Ops, op) })
}

// ReleaseSlot implements submission.Tasks.
func (s *TaskStore) ReleaseSlot(ctx context.Context, taskID, submissionID string, reopen bool) error {
	update := bson.D{{Key: "$pull", Value: bson.D{{Key: "pending_subs", Value: submissionID}}}}
	if reopen {
		update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(1)}}})
	}
	_, err := s.tasks.UpdateOne(ctx, bson.D{{Key: "_id", Value: taskID}, {Key: "pending_subs", Value: submissionID}}, update, false)
	return err
}

// ConsumeSlot implements submission.Tasks.
func (s *TaskStore) ConsumeSlot(ctx context.Context, taskID, op string) (bool, error) {
	return docdb.CommitOnce(ctx, s.tasks, taskID,
		bson.D{
			{Key: "_id", Value: taskID},
			{Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "status", Value: notDeleted},
			{Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}},
		},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(-1)}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.Ops, op) })
}

// ReclaimSlot implements task.Store.
func (s *TaskStore) ReclaimSlot(ctx context.Context, taskID, submissionID, op string) (bool, error) {
	return docdb.CommitOnce(ctx, s.tasks, taskID,
		bson.D{
			{Key: "_id", Value: taskID},
			{Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "status", Value: notDeleted},
			{Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}},
			{Key: "pending_subs", Value: bson.D{{Key: "$ne", Value: submissionID}}},
		},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(-1)}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}, {Key: "pending_subs", Value: submissionID}}},
		},
		func(d taskDoc) bool { return slices.Contains(d.Ops, op) })
}

// AddPending implements task.Store.
func (s *TaskStore) AddPending(ctx context.Context, taskID, submissionID, op string) error {
	_, err := s.tasks.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: taskID}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}},
		bson.D{{Key: "$push", Value: bson.D{{Key: "ops", Value: op}, {Key: "pending_subs", Value: submissionID}}}}, false)
	return err
}

// Due implements task.Store.
func (s *TaskStore) Due(ctx context.Context, now time.Time, limit int) ([]task.Task, error) {
	return docdb.FindAll(ctx, s.tasks,
		bson.D{
			// Every open task past its date, full ones too, which expire
			// with nothing to refund; and expired or closed tasks with a
			// slot a rejection reopened, a closed one whatever its date.
			{Key: "$or", Value: bson.A{
				bson.D{{Key: "status", Value: string(task.StatusOpen)}, pastDue(now)},
				bson.D{{Key: "status", Value: string(task.StatusExpired)}, {Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}}},
				bson.D{{Key: "status", Value: string(task.StatusClosed)}, {Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}}},
			}},
		},
		docdb.Query{Sort: bson.D{{Key: "completion_date", Value: 1}}, Limit: int64(limit)},
		taskFromDoc)
}

// BeginFunding implements task.Store.
func (s *TaskStore) BeginFunding(ctx context.Context, taskID, buyerID, op string, count int) (bool, error) {
	return docdb.CommitOnce(ctx, s.tasks, taskID,
		bson.D{
			{Key: "_id", Value: taskID},
			{Key: "buyer_id", Value: buyerID},
			{Key: "status", Value: string(task.StatusOpen)},
			{Key: "funding_op", Value: bson.D{{Key: "$exists", Value: false}}},
			{Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "required_workers", Value: bson.D{{Key: "$lte", Value: int64(task.MaxSlots - count)}}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "funding_op", Value: op}}}},
		func(d taskDoc) bool { return d.FundingOp == op || slices.Contains(d.Ops, op) })
}

// FinishFunding implements task.Store.
func (s *TaskStore) FinishFunding(ctx context.Context, taskID, op string, count int) error {
	_, err := s.tasks.UpdateOne(ctx, bson.D{{Key: "_id", Value: taskID}, {Key: "funding_op", Value: op}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(count)}}},
			{Key: "$unset", Value: bson.D{{Key: "funding_op", Value: ""}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		}, false)
	return err
}

// AbortFunding implements task.Store.
func (s *TaskStore) AbortFunding(ctx context.Context, taskID, op string) error {
	_, err := s.tasks.UpdateOne(ctx, bson.D{{Key: "_id", Value: taskID}, {Key: "funding_op", Value: op}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "funding_op", Value: ""}}}}, false)
	return err
}

// SetCompletionDate implements task.Store.
func (s *TaskStore) SetCompletionDate(ctx context.Context, taskID, buyerID string, date, now time.Time) (bool, error) {
	n, err := s.tasks.UpdateOne(ctx,
		bson.D{
			{Key: "_id", Value: taskID},
			{Key: "buyer_id", Value: buyerID},
			{Key: "status", Value: string(task.StatusOpen)},
			{Key: "completion_date", Value: bson.D{{Key: "$gt", Value: now}, {Key: "$lt", Value: date}}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "completion_date", Value: date}}}}, false)
	return n == 1, err
}

// SetPaused implements task.Store.
func (s *TaskStore) SetPaused(ctx context.Context, taskID, buyerID string, paused bool) (bool, error) {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "paused", Value: true}}}}
	if !paused {
		update = bson.D{{Key: "$unset", Value: bson.D{{Key: "paused", Value: ""}}}}
	}
	n, err := s.tasks.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: taskID}, {Key: "buyer_id", Value: buyerID}, {Key: "status", Value: string(task.StatusOpen)}},
		update, false)
	return n == 1, err
}

// Each implements task.Store.
func (s *TaskStore) Each(ctx context.Context, fn func(task.Task) error) error {
	return docdb.Each(ctx, s.tasks, bson.D{}, docdb.Query{}, func(d taskDoc) error { return fn(taskFromDoc(d)) })
}

// OpenSlots implements submission.Tasks.
func (s *TaskStore) OpenSlots(ctx context.Context, buyerID string) (int64, error) {
	return s.tasks.Sum(ctx, bson.D{{Key: "buyer_id", Value: buyerID}, {Key: "status", Value: string(task.StatusOpen)}}, "required_workers")
}

// SetHidden implements user.TaskHider.
func (s *TaskStore) SetHidden(ctx context.Context, buyerID string, hidden bool) error {
	_, err := s.tasks.UpdateMany(ctx, bson.D{{Key: "buyer_id", Value: buyerID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "hidden", Value: hidden}}}})
	return err
}

// Acquainted implements task.Store: one find of at most one task.
func (s *TaskStore) Acquainted(ctx context.Context, buyerID, workerID string, reserved []string, open bool, now time.Time) (bool, error) {
	or := bson.A{bson.D{{Key: "submitters", Value: workerID}}}
	if len(reserved) > 0 {
		or = append(or, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: reserved}}}})
	}
	if open {
		or = append(or, append(takesWork(now), bson.E{Key: "blocked", Value: bson.D{{Key: "$ne", Value: workerID}}}))
	}
	var d struct {
		ID string `bson:"_id"`
	}
	err := s.tasks.FindOne(ctx, bson.D{{Key: "buyer_id", Value: buyerID}, {Key: "$or", Value: or}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return err == nil, err
}

// CountByBuyer implements submission.Tasks.
func (s *TaskStore) CountByBuyer(ctx context.Context, buyerID string) (int64, error) {
	return s.tasks.Count(ctx, bson.D{{Key: "buyer_id", Value: buyerID}, {Key: "status", Value: notDeleted}})
}

// nonNil stores no tags as an empty array rather than null, so that every
// task has the same shape.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SetBlocked implements task.Store. Each task keeps its buyer's blocked
// workers (blocked: never reloaded into a task.Task, only filtered on) with
// the list's version: a list reaches a task only over an earlier one, so
// writes racing each other leave the latest.
func (s *TaskStore) SetBlocked(ctx context.Context, buyerID, taskID string, workerIDs []string, version int64) error {
	q := bson.D{{Key: "buyer_id", Value: buyerID}}
	if taskID != "" {
		q = append(bson.D{{Key: "_id", Value: taskID}}, q...)
	}
	q = append(q, bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: "blocked_version", Value: bson.D{{Key: "$lt", Value: version}}}},
		bson.D{{Key: "blocked_version", Value: bson.D{{Key: "$exists", Value: false}}}},
	}})
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "blocked", Value: nonNil(workerIDs)}, {Key: "blocked_version", Value: version}}}}
	var err error
	if taskID != "" {
		_, err = s.tasks.UpdateOne(ctx, q, update, false)
	} else {
		_, err = s.tasks.UpdateMany(ctx, q, update)
	}
	return err
}
