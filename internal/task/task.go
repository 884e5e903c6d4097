// Package task is the buyers' side of the marketplace: posting tasks with
// their pay held in escrow, listing and searching them, editing their text,
// and giving back what escrow still holds when a task is deleted or expires.
package task

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/webhook"
)

// Status is where a task is in its life.
type Status string

// The statuses.
const (
	StatusOpen    Status = "open"    // live: listed, and open to submissions while it has slots and time
	StatusExpired Status = "expired" // past its completion date; open slots refunded, pending work still reviewed
	StatusDeleted Status = "deleted" // removed; escrow refunded
	// StatusClosed is stored for a task its buyer closed early (open slots
	// refunded, pending work still reviewed), and is what readers are told
	// of an open task whose buyer can no longer run it (suspended, deleted,
	// or no longer a buyer). See StatusAt.
	StatusClosed Status = "closed"
	// StatusPaused is never stored: it is what readers are told of an open
	// task its buyer paused.
	StatusPaused Status = "paused"
	// StatusFull is never stored: it is what readers are told of an open
	// task with no free slot (a reserved slot is not free), which takes no
	// submission but from a worker holding a reservation.
	StatusFull Status = "full"
)

// MaxSlots is the most open slots a task may have.
const MaxSlots = 10000

// Party names a user on a task or submission.
type Party struct {
	ID   string
	Name string
}

// Task is a piece of paid work with open slots for workers.
type Task struct {
	ID               string
	Title            string
	Detail           string
	SubmissionInfo   string // what proof the worker must submit
	ImageURL         string
	OpenSlots        int           // required_workers: free slots, workers still wanted
	PendingSubs      []string      // submissions awaiting review, each holding a slot's pay in escrow
	Held             []string      // live reservations (reservation.HeldID), each holding a slot's pay in escrow
	TimeAllotted     time.Duration // how long a reservation holds a slot for the work
	Pay              money.Coins
	CompletionDate   time.Time
	Buyer            Party
	Status           Status
	AutoApproveAfter time.Duration // pending work older than this is approved automatically
	Refunds          int           // refund operations so far; part of their operation ids
	Hidden           bool          // its buyer is suspended or deleted: out of the public lists
	Paused           bool          // by its buyer: takes no submissions until resumed
	Category         string        // one of Categories
	Tags             []string      // up to MaxTags, lower case, no repeats
	Requirements     Requirements  // what it asks of the workers who take it
	CreatedAt        time.Time
	// BatchID is the batch the task was made in, and BatchRow its row
	// there (from 1); empty and 0 for a task posted on its own.
	BatchID  string
	BatchRow int
}

// EffectivePay is what the task pays per minute of its allotted time, the
// key of the effective-pay sort: the store keeps it precomputed, as the
// in-memory copy of the embedded database sorts on stored fields only.
func (t Task) EffectivePay() float64 {
	if t.TimeAllotted <= 0 {
		return 0
	}
	return float64(t.Pay) / t.TimeAllotted.Minutes()
}

// EscrowDue is what the task's escrow account must hold: the pay of every
// free slot, every reserved one and every submission awaiting review:
// invariant 4 of the ledger audit (ledger.Service.Audit).
func (t Task) EscrowDue() money.Coins {
	return money.Coins(t.OpenSlots+len(t.Held)+len(t.PendingSubs)) * t.Pay
}

// Refundable is the pay of the slots a refund gives back: the free ones and
// the reserved ones, whose reservations end with the task.
func (t Task) Refundable() money.Coins {
	return money.Coins(t.OpenSlots+len(t.Held)) * t.Pay
}

// Time allotted for the work of a reservation: the default, and the bounds a
// buyer may set.
const (
	DefaultTimeAllotted = 60 * time.Minute
	MinTimeAllotted     = 5 * time.Minute
	MaxTimeAllotted     = 24 * time.Hour
)

// Text is the part of a task its buyer may edit.
type Text struct {
	Title          string
	Detail         string
	SubmissionInfo string
	ImageURL       string
}

// TextEdit changes some of a task's text, labels and requirements: a nil
// field stays as it is, an empty ImageURL removes the image, an empty Tags
// removes the tags and a zero requirement (an empty list of countries or
// qualifications) asks nothing.
type TextEdit struct {
	Title          *string
	Detail         *string
	SubmissionInfo *string
	ImageURL       *string
	Category       *string
	Tags           *[]string
	RequirementsEdit
}

// RequirementsEdit changes some of the requirements of a task (or a job):
// a nil field stays as it is, 0 or an empty list asks nothing.
type RequirementsEdit struct {
	MinLevel       *int
	MinRating      *float64
	Countries      *[]string
	Qualifications *[]QualificationRequirement
}

// The categories a task may be in: a fixed list, so that clients can offer
// it as a menu and filters match exactly.
const (
	CategorySurvey      = "survey"
	CategorySocialMedia = "social_media"
	CategoryDataEntry   = "data_entry"
	CategoryTesting     = "testing"
	CategoryWriting     = "writing"
	CategoryResearch    = "research"
	CategoryOther       = "other" // the default, and that of tasks from before categories
)

// Categories lists every category.
var Categories = []string{CategorySurvey, CategorySocialMedia, CategoryDataEntry, CategoryTesting,
	CategoryWriting, CategoryResearch, CategoryOther}

// Tag limits.
const (
	MaxTags   = 5
	MaxTagLen = 24
)

// tagPattern is a tag: a short lower-case word, digits and inner hyphens
// allowed.
var tagPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// CheckCategory returns an Invalid error unless c is one of Categories.
func CheckCategory(c string) error {
	if !slices.Contains(Categories, c) {
		return apperr.InvalidFields(apperr.FieldError{Field: "category", Message: "must be one of: " + strings.Join(Categories, ", ")})
	}
	return nil
}

// NormalizeTags lower-cases and trims tags and drops repeats, keeping the
// first order; more than MaxTags, or a tag that is not a short word, is an
// Invalid error. Never nil: no tags is an empty list.
func NormalizeTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if len(t) > MaxTagLen || !tagPattern.MatchString(t) {
			return nil, apperr.InvalidFields(apperr.FieldError{Field: "tags",
				Message: fmt.Sprintf("each tag must be a word of 1 to %d lower-case letters, digits or inner hyphens", MaxTagLen)})
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "tags", Message: fmt.Sprintf("at most %d tags", MaxTags)})
	}
	return out, nil
}

// Sort orders for lists.
const (
	SortNewest   = "newest"
	SortPay      = "pay"
	SortDeadline = "deadline"
	// SortEffectivePay is the best pay per allotted minute first.
	SortEffectivePay = "effective_pay"
)

// Filter selects tasks for a list.
type Filter struct {
	Query     string      // words in title or detail, case-insensitive
	MinPay    money.Coins // at least this pay
	Sort      string      // SortNewest (default), SortPay or SortDeadline
	Available bool        // only tasks that take submissions at Now (Task.TakesSubmissions)
	BuyerID   string      // only this buyer's tasks (then expired tasks are included too)
	All       bool        // every task whatever its state (admins)
	NotBy     string      // leaves out the tasks this worker submitted to, those of buyers who blocked them, and (Available) those whose requirements they do not meet
	Category  string      // only this category
	Tag       string      // only tasks with this tag
	Now       time.Time   // for Available
	// Candidate is what the worker NotBy brings to requirements; the
	// service fills it in for an available list.
	Candidate *Candidate
}

// Errors.
var (
	ErrNotFound           = apperr.New(apperr.NotFound, "task_not_found", "no such task")
	ErrPendingSubmissions = apperr.New(apperr.Conflict, "pending_submissions",
		"the task has submissions awaiting review; approve or reject them first")
	ErrFull    = apperr.New(apperr.Conflict, "task_full", "the task has no open slots")
	ErrExpired = apperr.New(apperr.Conflict, "task_expired", "the task is past its completion date")
	ErrClosed  = apperr.New(apperr.Conflict, "task_closed", "the task no longer takes submissions")
	ErrPaused  = apperr.New(apperr.Conflict, "task_paused", "the task is paused by its buyer; try again later")
	ErrNotOpen = apperr.New(apperr.Conflict, "task_not_open",
		"the task is no longer open (expired, closed or deleted); this change needs an open task")
	ErrTooManySlots = apperr.New(apperr.Conflict, "too_many_slots", "a task has at most 10000 open slots")
	ErrNotLater     = apperr.New(apperr.Conflict, "not_later",
		"the completion date can only move later, and the task must still be open")
)

// TakesWork says why the task cannot take work at now, if so, whatever its
// free slots: it must be open (not deleted, expired, closed or hidden with
// its suspended buyer), not paused, and before its completion date. A
// worker's reserved slot takes their submission when it allows it
// (Store.UseHeld).
//
// The rule is also a query filter, the condition of the store's slot writes
// and of the list of available tasks, which the database checks atomically:
// a storage test runs every combination of the fields it reads through
// both, and requires the same answer.
func (t Task) TakesWork(now time.Time) error {
	switch {
	case t.Status == StatusDeleted:
		return ErrNotFound
	case t.Status == StatusExpired || !now.Before(t.CompletionDate):
		return ErrExpired
	case t.Status != StatusOpen || t.Hidden:
		return ErrClosed
	case t.Paused:
		return ErrPaused
	}
	return nil
}

// TakesSubmissions says why the task cannot take a submission or a
// reservation at now, if so: it takes work (TakesWork) and has a free slot.
// Store.ReserveSlot, Store.HoldSlot and the list of available tasks
// (Filter.Available) apply the same rule in the database.
func (t Task) TakesSubmissions(now time.Time) error {
	if err := t.TakesWork(now); err != nil {
		return err
	}
	if t.OpenSlots <= 0 {
		return ErrFull
	}
	return nil
}

// StatusAt is the status readers are told at now: an open task past its
// completion date is expired before the expiry job has run, one whose buyer
// can no longer run it is closed, and one with no free slot is full. It is
// TakesSubmissions' answer in a word, so that "open" means exactly "takes
// submissions".
func (t Task) StatusAt(now time.Time) Status {
	if t.Status != StatusOpen {
		return t.Status
	}
	switch err := t.TakesSubmissions(now); {
	case err == nil:
		return StatusOpen
	case errors.Is(err, ErrExpired):
		return StatusExpired
	case errors.Is(err, ErrPaused):
		return StatusPaused
	case errors.Is(err, ErrFull):
		return StatusFull
	}
	return StatusClosed // hidden with its buyer
}

// RefundReason says why a task's open slots are refunded.
type RefundReason string

// The reasons.
const (
	RefundExpired RefundReason = "expired"
	RefundDeleted RefundReason = "deleted" // by its buyer
	RefundRemoved RefundReason = "removed" // by an admin
	RefundClosed  RefundReason = "closed"  // closed early by its buyer, or a slot reopened after that
)

// Refund is the commit of a refund operation: the task must be as it was
// read (Refunds and OpenSlots unchanged), and then gets its new status and no
// open slots.
type Refund struct {
	Op        string
	TaskID    string
	Reason    RefundReason
	Refunds   int      // the task's refund count when read
	OpenSlots int      // the task's open slots when read
	Held      []string // the task's reserved slots when read, which the refund takes
	BuyerID   string
	Now       time.Time
}

// Store persists tasks. storage.TaskStore implements it.
type Store interface {
	// Insert adds t; inserting the same ID again is a no-op.
	Insert(ctx context.Context, t Task) error
	// ByID returns a task, deleted ones included. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Task, error)
	// List returns a page of tasks that are not deleted, and their count.
	List(ctx context.Context, f Filter, p page.Request) ([]Task, int64, error)
	// SetText changes the fields e sets of the text of a task that is not
	// deleted. ErrNotFound if missing or deleted.
	SetText(ctx context.Context, id string, e TextEdit) (Task, error)
	// Refund commits r: the task gets r's status, zero open slots and no
	// reserved ones, and records r.Op. True if it did now or had already;
	// false if the task is no longer as read (its refund count, open slots
	// and reserved slots), or (deletion) has pending submissions.
	Refund(ctx context.Context, r Refund) (bool, error)
	// Due returns up to limit tasks at or past their completion date that
	// are still open, or expired with an open slot, and closed tasks with an
	// open slot (a rejection reopened it).
	Due(ctx context.Context, now time.Time, limit int) ([]Task, error)
	// Each calls fn for every task, for the audit.
	Each(ctx context.Context, fn func(Task) error) error
	// InsertBatch adds tasks, leaving those inserted already (by an
	// earlier run of the same step) as they are.
	InsertBatch(ctx context.Context, tasks []Task) error
	// EachOfBatch calls fn for every task of a batch, in row order.
	EachOfBatch(ctx context.Context, batchID string, fn func(Task) error) error
	// EachImageURL calls fn with every task's image URL that is not empty.
	EachImageURL(ctx context.Context, fn func(string) error) error

	// ReserveSlot takes one open slot for the submission, listing it as
	// pending, if the task takes submissions at now (Task.TakesSubmissions).
	// True if it did now or had already.
	ReserveSlot(ctx context.Context, taskID, submissionID, workerID string, now time.Time) (bool, error)
	// ReleaseSlot takes the submission off the task's pending list, if it is
	// there, and with reopen gives its slot back.
	ReleaseSlot(ctx context.Context, taskID, submissionID string, reopen bool) error
	// ConsumeSlot uses up one open slot of a task that is not deleted,
	// recording op. True if it did now or had already.
	ConsumeSlot(ctx context.Context, taskID, op string) (bool, error)
	// ReclaimSlot moves one open slot of a task that is not deleted to the
	// submission's pending one (a rejection an admin sent back for rework,
	// paid by the escrow of the slot the rejection reopened), recording
	// op. True if it did now or had already.
	ReclaimSlot(ctx context.Context, taskID, submissionID, op string) (bool, error)
	// AddPending lists the submission as pending on the task, whatever the
	// task's state, recording op, once (a rework its buyer paid into the
	// task's escrow).
	AddPending(ctx context.Context, taskID, submissionID, op string) error
	// BeginFunding marks the buyer's open task as being funded by op, for at
	// most MaxSlots open slots after count more: no refund can close it
	// meanwhile. True if it did now or had already.
	BeginFunding(ctx context.Context, taskID, buyerID, op string, count int) (bool, error)
	// FinishFunding adds count open slots to the task op is funding, and
	// ends the funding. Nothing if op is no longer funding it.
	FinishFunding(ctx context.Context, taskID, op string, count int) error
	// AbortFunding ends op's funding of the task without adding slots.
	AbortFunding(ctx context.Context, taskID, op string) error
	// SetCompletionDate moves the completion date of the buyer's open task,
	// whose date is after now, to a later date. False if the task is not so.
	SetCompletionDate(ctx context.Context, taskID, buyerID string, date, now time.Time) (bool, error)
	// SetPaused pauses or resumes the buyer's open task. False if there is
	// no such task.
	SetPaused(ctx context.Context, taskID, buyerID string, paused bool) (bool, error)
	// HoldSlot moves one free slot of a task that takes submissions at now
	// (Task.TakesSubmissions), and that the worker has not submitted to, to
	// the reserved ones as held. True if it did now or had already.
	HoldSlot(ctx context.Context, taskID, held, workerID string, now time.Time) (bool, error)
	// UseHeld turns the reserved slot held into the submission's pending
	// one, if the task takes work at now (Task.TakesWork: the slot is
	// already the worker's). True if it did now or had already.
	UseHeld(ctx context.Context, taskID, held, submissionID, workerID string, now time.Time) (bool, error)
	// ReleaseHeld frees the reserved slot held for operation op. True if it
	// did now or had already; false if the slot is no longer held (used, or
	// refunded with its task).
	ReleaseHeld(ctx context.Context, taskID, held, op string) (bool, error)
	// SetHidden hides or shows every task of a buyer.
	SetHidden(ctx context.Context, buyerID string, hidden bool) error
	// OpenSlots adds up the open slots of a buyer's live tasks.
	OpenSlots(ctx context.Context, buyerID string) (int64, error)
	// RequiresOpen reports whether an open task (paused, full or hidden
	// included) requires the qualification type. One read.
	RequiresOpen(ctx context.Context, typeID string) (bool, error)
	// CountByBuyer counts a buyer's tasks that are not deleted.
	CountByBuyer(ctx context.Context, buyerID string) (int64, error)
	// Acquainted reports whether a task of the buyer's has the worker
	// among its submitters, is among reserved, or (if open) takes work
	// and does not block the worker. One read.
	Acquainted(ctx context.Context, buyerID, workerID string, reserved []string, open bool, now time.Time) (bool, error)
	// SetBlocked gives the buyer's tasks (only taskID's, if not empty) the
	// list of workers the buyer blocked, of this version, unless they have
	// a later one.
	SetBlocked(ctx context.Context, buyerID, taskID string, workerIDs []string, version int64) error
}

// Records counts posted tasks in the buyers' track records;
// reputation.Service implements it. Counted once per op however often it
// is repeated.
type Records interface {
	TaskPosted(ctx context.Context, op, buyerID string) error
	TasksPosted(ctx context.Context, op, buyerID string, n int) error
}

// BlockLists gives a new task its buyer's list of blocked workers;
// block.Service implements it.
type BlockLists interface {
	SyncTask(ctx context.Context, buyerID, taskID string) error
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// PendingCanceller cancels a task's pending submissions;
// submission.Service implements it.
type PendingCanceller interface {
	CancelPending(ctx context.Context, taskID string, submissionIDs []string) error
}

// Reservations ends the reservations of the reserved slots a refund takes;
// reservation.Service implements it.
type Reservations interface {
	// CancelHeld ends as cancelled, at, the live reservations holding these
	// slots. Safe to repeat.
	CancelHeld(ctx context.Context, held []string, at time.Time) error
}

// Events stores webhook events for the endpoints of a task's buyer;
// webhook.Service implements it. Emit is called from an operation's
// step, and stores each event once however often the step runs.
type Events interface {
	Wants(ctx context.Context, userID string, t webhook.EventType) (bool, error)
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}

// EventData is the task as webhook events show it, in the status readers
// are told at now.
func (t Task) EventData(now time.Time) webhook.TaskData {
	return webhook.TaskData{ID: t.ID, Title: t.Title, Status: string(t.StatusAt(now)), OpenSlots: t.OpenSlots,
		Pending: len(t.PendingSubs), Pay: t.Pay, CompletionDate: t.CompletionDate, BatchID: t.BatchID}
}

// UserNames tells a user's name; user.Service implements it.
type UserNames interface {
	Name(ctx context.Context, id string) (string, error)
}
