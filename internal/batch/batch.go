// Package batch makes many tasks at once from one template and a
// spreadsheet, as Mechanical Turk's requesters did: each row of a CSV file
// fills the template's {{column}} placeholders and becomes a task. Every
// row is checked before anything happens, and the tasks are funded
// together, in one operation, all or none; the batch is then followed as
// one (counts, coins, results as CSV) and closed as one.
package batch

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

// Status is where a batch is.
type Status string

// The statuses of a batch.
const (
	StatusFunding Status = "funding" // its funding operation is running
	StatusOpen    Status = "open"    // funded: its tasks exist
	StatusClosed  Status = "closed"  // closed by its buyer: its tasks' open slots refunded
	StatusFailed  Status = "failed"  // its buyer lacked the coins: no task was made (never shown)
)

// Template is what every task of a batch has, its text with {{column}}
// placeholders that each row fills.
type Template struct {
	Title          string
	Detail         string
	SubmissionInfo string
	ImageURL       string
	Workers        int
	Pay            money.Coins
	CompletionDate time.Time
	Category       string
	Tags           []string
	TimeAllotted   time.Duration
	Requirements   task.Requirements // every task's, as POST /api/tasks takes them
}

// Batch is a buyer's batch of tasks.
type Batch struct {
	ID          string
	BuyerID     string
	Name        string
	Template    Template
	Columns     []string // the CSV file's header
	Rows        int
	Status      Status
	CreatedAt   time.Time
	ClosedAt    time.Time // zero unless closed
	CompletedAt time.Time // when no task of it had work left; zero until then
}

// Funded is what the batch's funding moved into its tasks' escrow.
func (b Batch) Funded() money.Coins {
	return money.Coins(b.Rows) * money.Coins(b.Template.Workers) * b.Template.Pay
}

// Row is one row of a batch's CSV file: its values, in the header's order.
type Row struct {
	BatchID string
	N       int // from 1, the row after the header
	Values  []string
}

// Stats are the counts and coins of a batch's tasks and their work.
type Stats struct {
	Tasks       map[task.Status]int // by the status readers are told
	Submissions map[submission.Status]int
	Funded      money.Coins // moved into the tasks' escrow when the batch was made
	Escrowed    money.Coins // what their escrow holds now
	Paid        money.Coins // the pay of their approved submissions
	Refunded    money.Coins // what came back to the buyer: funded, less escrowed and paid
}

// Result is one line of a batch's results: a submission, with its row.
type Result struct {
	Row        Row
	Submission submission.Submission
}

// Limits of a batch.
const (
	MaxRows     = 1000
	MaxColumns  = 50
	MaxCellLen  = 1000
	MaxNameLen  = 100
	MaxErrors   = 200 // a 422 lists at most this many bad fields
	resultChunk = 50  // tasks whose submissions are read at a time for the results
)

// Errors.
var (
	ErrNotFound = apperr.New(apperr.NotFound, "batch_not_found", "no such batch among yours")
	ErrNotOpen  = apperr.New(apperr.Conflict, "batch_not_open", "the batch is not open: closed already, or still being funded")
)

// Store keeps batches and their rows. storage.BatchStore implements it.
type Store interface {
	// Insert adds a batch; one inserted already (the same request again)
	// is left as it is.
	Insert(ctx context.Context, b Batch) error
	// InsertRows adds rows, leaving those inserted already.
	InsertRows(ctx context.Context, rows []Row) error
	// ByID returns a batch. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Batch, error)
	// List returns a page of the buyer's batches that were funded, newest
	// first, and their count.
	List(ctx context.Context, buyerID string, p page.Request) ([]Batch, int64, error)
	// Rows returns the rows of a batch from row from to row to.
	Rows(ctx context.Context, batchID string, from, to int) ([]Row, error)
	// SetStatus moves a batch from status from to status to. False if it
	// was not in from.
	SetStatus(ctx context.Context, id string, from, to Status) (bool, error)
	// Close closes an open batch at, recording op. True if it did now or
	// had already.
	Close(ctx context.Context, id, op string, at time.Time) (bool, error)
	// Uncompleted returns up to limit open or closed batches not yet
	// completed.
	Uncompleted(ctx context.Context, limit int) ([]Batch, error)
	// SetCompleted records when a batch was completed.
	SetCompleted(ctx context.Context, id string, at time.Time) error
}

// Tasks makes, reads and closes the tasks of batches; task.Service
// implements it: a task's document is the task package's.
type Tasks interface {
	ForBatch(ctx context.Context, buyerID, batchID string, rows []task.Batched, at time.Time) ([]task.Task, error)
	InsertFunded(ctx context.Context, op, buyerID string, tasks []task.Task) error
	EachOfBatch(ctx context.Context, batchID string, fn func(task.Task) error) error
	CloseBatch(ctx context.Context, batchID string) (money.Coins, error)
	StatusNow(t task.Task) task.Status
	// CheckQualifications is an Invalid error naming each qualification
	// requirement of r the buyer may not make (task.Service.CheckNew's
	// check of them).
	CheckQualifications(ctx context.Context, buyerID string, r task.Requirements) error
}

// Submissions reads the work done on tasks; submission.Service implements
// it.
type Submissions interface {
	EachOfTasks(ctx context.Context, taskIDs []string, fn func(submission.Submission) error) error
}

// Events stores webhook events for the buyer's endpoints; webhook.Service
// implements it. Emitting the same event again stores nothing.
type Events interface {
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}
