// Package submission is the workers' side of the marketplace: submitting
// proof of work, which takes one of a task's slots, and its review by the
// buyer (approval pays the worker from the task's escrow, rejection reopens
// the slot), or automatically when the buyer does not review in time.
package submission

import (
	"context"
	"strconv"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/block"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

// Status is where a submission is in its review.
type Status string

// The statuses.
const (
	StatusPending   Status = "pending"
	StatusApproved  Status = "approved"
	StatusRejected  Status = "rejected"
	StatusCancelled Status = "cancelled" // its task was removed by an admin
	// StatusRevision waits for the worker's revision, asked for by the
	// buyer: the submission keeps its slot and its pay in escrow until the
	// worker resubmits (pending again) or the deadline passes (rejected).
	StatusRevision Status = "revision_requested"
)

// DefaultRevisionWindow is how long a worker has to revise a submission.
const DefaultRevisionWindow = 48 * time.Hour

// Submission is a worker's proof of work for a task.
type Submission struct {
	ID            string
	TaskID        string
	TaskTitle     string
	Pay           money.Coins
	Worker        task.Party
	Buyer         task.Party
	Details       string
	Status        Status
	Reason        string // why it was rejected
	AutoApproveAt time.Time
	CreatedAt     time.Time
	ReviewedAt    time.Time   // zero while pending
	Bonus         money.Coins // bonuses its buyer paid for it, in all
	// The buyer's one request for a revision, if any: its reason, and the
	// deadline for the worker's revision (zero once revised).
	RevisionReason   string
	RevisionDeadline time.Time
	// Reworks counts the times an admin sent the submission, rejected,
	// back to its worker on a dispute (Service.Rework): each starts a new
	// round of its review, whose operations are named by OpKey.
	Reworks int
	// Held is the reserved slot the submission takes, while it is being
	// submitted; empty when it takes a free slot. Not stored.
	Held string
}

// OpKey names the operations of the submission's current round of review
// (approve, reject, cancel, revise, overturn): its ID, and after a rework
// the round's number, so that a rejection after a rework is a new
// operation, not the first one again.
func (s Submission) OpKey() string {
	if s.Reworks == 0 {
		return s.ID
	}
	return s.ID + ":" + strconv.Itoa(s.Reworks)
}

// Filter selects submissions for a list.
type Filter struct {
	WorkerID    string
	BuyerID     string
	TaskID      string
	Status      Status // empty: any
	OldestFirst bool   // instead of newest first
}

// Statuses are every status, for the lists' filters.
var Statuses = []Status{StatusPending, StatusRevision, StatusApproved, StatusRejected, StatusCancelled}

// Errors.
var (
	ErrNotFound         = apperr.New(apperr.NotFound, "submission_not_found", "no such submission")
	ErrAlreadySubmitted = apperr.New(apperr.Conflict, "already_submitted", "you have already submitted work for this task")
	ErrAlreadyReviewed  = apperr.New(apperr.Conflict, "already_reviewed", "the submission was already reviewed")
	ErrNotApproved      = apperr.New(apperr.Conflict, "not_approved", "a bonus is for approved work; approve the submission first")
	ErrInRevision       = apperr.New(apperr.Conflict, "revision_requested",
		"the submission waits for the worker's revision; review it once they resubmit, or once its deadline passes")
	ErrRevisionUsed  = apperr.New(apperr.Conflict, "revision_used", "a submission gets one revision; approve or reject it")
	ErrNotInRevision = apperr.New(apperr.Conflict, "not_in_revision",
		"only a submission whose buyer asked for a revision can be resubmitted, before its deadline")
	// ErrBlockedByBuyer is the block package's: one code wherever a block
	// refuses work.
	ErrBlockedByBuyer = block.ErrBlocked
	ErrNotRejected    = apperr.New(apperr.Conflict, "not_rejected", "only a rejected submission can be overturned or sent back for rework")
	ErrCannotPay      = apperr.New(apperr.Conflict, "cannot_pay",
		"neither the task's escrow nor the buyer's balance can pay this submission")
	ErrTaskDeleted = apperr.New(apperr.Conflict, "task_deleted",
		"the submission's task was deleted, its escrow refunded: send the worker's pay with overturn_rejection instead")
)

// Review is the commit of a review operation: the submission moves from
// From (pending when empty) to To, recording Op.
type Review struct {
	Op     string
	ID     string
	From   Status
	To     Status
	Reason string
	At     time.Time
	// Auto marks an approval by the auto-approval job: its buyer is yet to
	// be told (Store.UntoldAutoApprovals), in the same write.
	Auto bool
}

// Store persists submissions. storage.SubmissionStore implements it.
type Store interface {
	// Insert adds s. Inserting the same ID again is a no-op; ErrAlreadySubmitted
	// if the worker has another submission for the task.
	Insert(ctx context.Context, s Submission) error
	// ByID returns a submission. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Submission, error)
	// ByIDs returns the submissions of those ids that exist.
	ByIDs(ctx context.Context, ids []string) ([]Submission, error)
	// List returns a page of submissions matching f, newest first, and their
	// count.
	List(ctx context.Context, f Filter, p page.Request) ([]Submission, int64, error)
	// Review commits r. True if it did now or had already; false if the
	// submission is no longer in r.From.
	Review(ctx context.Context, r Review) (bool, error)
	// Rework sends a rejected submission back to its worker, in revision
	// until deadline with reason, one rework more, recording op. True if
	// it did now or had already; false if it is no longer rejected.
	Rework(ctx context.Context, op, id, reason string, deadline time.Time) (bool, error)
	// Unrework undoes the rework recorded by op: the submission is as
	// before again.
	Unrework(ctx context.Context, op string, before Submission) error
	// Unreview undoes the review recorded by op: the submission is as before
	// again, in before's status with its reason and review time, and no
	// buyer is to be told of it.
	Unreview(ctx context.Context, op string, before Submission) error
	// UntoldAutoApprovals returns up to limit submissions approved
	// automatically (Review.Auto) whose buyers are yet to be told, the
	// earliest reviewed first.
	UntoldAutoApprovals(ctx context.Context, limit int) ([]Submission, error)
	// BuyersTold records that the buyers of these submissions were told of
	// their automatic approval.
	BuyersTold(ctx context.Context, ids []string) error
	// DueForApproval returns up to limit pending submissions whose
	// auto-approval time has passed, oldest first.
	DueForApproval(ctx context.Context, now time.Time, limit int) ([]Submission, error)
	// Count counts the submissions matching f.
	Count(ctx context.Context, f Filter) (int64, error)
	// RequestRevision moves a pending submission never revised before to
	// revision_requested with reason and deadline. False if it is not so.
	RequestRevision(ctx context.Context, id, reason string, deadline time.Time) (bool, error)
	// Resubmit makes a submission in revision whose deadline is after now
	// pending again with new details, recording op. True if it did now or
	// had already; false if it is not so.
	Resubmit(ctx context.Context, op, id, details string, autoApproveAt, now time.Time) (bool, error)
	// DueRevisions returns up to limit submissions in revision whose
	// deadline passed before now.
	DueRevisions(ctx context.Context, now time.Time, limit int) ([]Submission, error)
	// AddBonus records bonus op's coins on the submission, once.
	AddBonus(ctx context.Context, id, op string, coins money.Coins) error
	// EachOfTasks calls fn for every submission to these tasks, by task,
	// oldest first.
	EachOfTasks(ctx context.Context, taskIDs []string, fn func(Submission) error) error
	// SumPay adds up the pay of the submissions matching f.
	SumPay(ctx context.Context, f Filter) (money.Coins, error)
	// SumBonus adds up the bonuses paid for the submissions matching f.
	SumBonus(ctx context.Context, f Filter) (money.Coins, error)
}

// Tasks is what this package needs of the tasks: reading them and holding
// their slots. task.Service implements it: a task's document is changed by
// the task package only.
type Tasks interface {
	ByID(ctx context.Context, id string) (task.Task, error)
	// ReserveSlot takes one open slot of a task that takes submissions at
	// now (task.Task.TakesSubmissions) for the submission, listing it as
	// pending and the worker as one who submitted. True if it did now or
	// had already.
	ReserveSlot(ctx context.Context, taskID, submissionID, workerID string, now time.Time) (bool, error)
	// UseHeld turns the worker's reserved slot into the submission's, if the
	// task takes work at now (task.Task.TakesWork). True if it did now or
	// had already.
	UseHeld(ctx context.Context, taskID, held, submissionID, workerID string, now time.Time) (bool, error)
	// ReleaseSlot takes the submission off the task's pending list, if it is
	// there, and with reopen gives its slot back.
	ReleaseSlot(ctx context.Context, taskID, submissionID string, reopen bool) error
	// ConsumeSlot uses up one open slot of a task that is not deleted,
	// recording op. True if it did now or had already.
	ConsumeSlot(ctx context.Context, taskID, op string) (bool, error)
	// ReclaimSlot moves one open slot of a task that is not deleted to the
	// submission's pending one, recording op. True if it did now or had
	// already.
	ReclaimSlot(ctx context.Context, taskID, submissionID, op string) (bool, error)
	// AddPending lists the submission as pending on the task, recording
	// op, once.
	AddPending(ctx context.Context, taskID, submissionID, op string) error
	// NoteSlotTaken tells the buyer's webhooks that the task is full, if
	// it is now.
	NoteSlotTaken(ctx context.Context, buyerID, taskID string) error
	// OpenSlots adds up the open slots of a buyer's live tasks.
	OpenSlots(ctx context.Context, buyerID string) (int64, error)
	// CountByBuyer counts a buyer's tasks that are not deleted.
	CountByBuyer(ctx context.Context, buyerID string) (int64, error)
}

// Reservations finds the slot a worker reserved on a task and ends the
// reservation once a submission took it; reservation.Service implements it.
type Reservations interface {
	Held(t task.Task, workerID string) string
	Used(ctx context.Context, taskID, workerID, held string) error
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// Blocks tells whether a buyer blocked a worker; block.Service implements
// it.
type Blocks interface {
	Blocked(ctx context.Context, buyerID, workerID string) (bool, error)
}

// Records counts reviews in the workers' and buyers' track records;
// reputation.Service implements it. Each call is made once per op however
// often it is repeated.
type Records interface {
	Reviewed(ctx context.Context, op, workerID, buyerID string, approved bool, took time.Duration) error
	Overturned(ctx context.Context, op, workerID, buyerID string) error
	RevisionRequested(ctx context.Context, op, workerID string) error
}

// Events stores webhook events for the endpoints of a submission's buyer;
// webhook.Service implements it. Emit is called from an operation's step,
// and stores each event once however often the step runs.
type Events interface {
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}

// EventData is the submission as webhook events show it.
func (s Submission) EventData() webhook.SubmissionData {
	return webhook.SubmissionData{ID: s.ID, TaskID: s.TaskID, TaskTitle: s.TaskTitle, WorkerID: s.Worker.ID, Status: string(s.Status),
		Details: s.Details, Reason: s.Reason, Pay: s.Pay, CreatedAt: s.CreatedAt, ReviewedAt: s.ReviewedAt}
}

// UserNames tells a user's name; user.Service implements it.
type UserNames interface {
	Name(ctx context.Context, id string) (string, error)
}
