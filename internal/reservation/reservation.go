// Package reservation lets a worker hold one free slot of a task while they
// do its work, for the time its buyer allotted, so that nobody works for a
// slot another worker fills first. A held slot's pay stays in the task's
// escrow; the slot is the task's until the worker submits (the held slot
// becomes the submission's), releases it, or the reservation expires.
package reservation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/page"
	"microtask/internal/task"
)

// Status is where a reservation is.
type Status string

// The statuses.
const (
	StatusLive      Status = "live"      // holds a slot
	StatusUsed      Status = "used"      // the worker submitted with it
	StatusReleased  Status = "released"  // the worker gave the slot back
	StatusExpired   Status = "expired"   // its time ran out; the slot went back
	StatusCancelled Status = "cancelled" // its task closed, expired or was deleted, and refunded the slot: ended at once
)

// Reservation is a worker's hold on a slot of a task.
type Reservation struct {
	ID        string // one per worker and task, reused by later reservations (ID)
	Seq       int    // the how-manieth reservation of the task by the worker
	TaskID    string
	TaskTitle string
	WorkerID  string
	Status    Status
	ExpiresAt time.Time
	CreatedAt time.Time
	EndedAt   time.Time // zero while live
}

// HeldID names the slot the reservation holds on its task: each of a
// worker's reservations of a task holds its own.
func (r Reservation) HeldID() string { return fmt.Sprintf("%s:%d", r.ID, r.Seq) }

// ParseHeldID returns the ID and Seq of the reservation that holds the slot
// held (HeldID); false if held names none.
func ParseHeldID(held string) (id string, seq int, ok bool) {
	i := strings.LastIndexByte(held, ':')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(held[i+1:])
	if err != nil || seq < 1 {
		return "", 0, false
	}
	return held[:i], seq, true
}

// ID is the ID of a worker's reservations of a task.
func ID(taskID, workerID string) string {
	sum := sha256.Sum256([]byte("reservation|" + taskID + "|" + workerID))
	return hex.EncodeToString(sum[:12])
}

// DefaultPerWorker is how many live reservations a worker may hold unless
// configured otherwise.
const DefaultPerWorker = 3

// Errors.
var (
	ErrNotFound        = apperr.New(apperr.NotFound, "reservation_not_found", "no such reservation")
	ErrAlreadyReserved = apperr.New(apperr.Conflict, "already_reserved", "you already hold a slot of this task")
	ErrTooMany         = apperr.New(apperr.Conflict, "too_many_reservations",
		"you hold as many reservations as you may; submit or release one first")
	ErrEnded = apperr.New(apperr.Conflict, "reservation_ended", "the reservation has already ended")
	// ErrSubmitted is submission.ErrAlreadySubmitted's code, for a
	// reservation of a task the worker submitted to.
	ErrSubmitted = apperr.New(apperr.Conflict, "already_submitted", "you have already submitted work for this task")
)

// Store persists reservations. storage.ReservationStore implements it.
type Store interface {
	// ByID returns the reservation with the ID. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Reservation, error)
	// Start records r as live, unless a reservation of the pair with r's
	// Seq or a later one is recorded already.
	Start(ctx context.Context, r Reservation) error
	// End moves reservation id's Seq-th reservation from one of from to
	// to. False if it is in none of them.
	End(ctx context.Context, id string, seq int, from []Status, to Status, at time.Time) (bool, error)
	// Live returns a page of the worker's live reservations, soonest to
	// expire first, and their count.
	Live(ctx context.Context, workerID string, p page.Request) ([]Reservation, int64, error)
	// CountLive counts the worker's live reservations.
	CountLive(ctx context.Context, workerID string) (int64, error)
	// TaskIDs returns the tasks of the worker's latest reservations, at
	// most limit, in any status.
	TaskIDs(ctx context.Context, workerID string, limit int) ([]string, error)
	// Due returns up to limit live reservations that expired before now.
	Due(ctx context.Context, now time.Time, limit int) ([]Reservation, error)
}

// Tasks is what reservations need of tasks: task.Service implements it.
type Tasks interface {
	Get(ctx context.Context, id string) (task.Task, error)
	ByID(ctx context.Context, id string) (task.Task, error) // deleted ones too
	HoldSlot(ctx context.Context, taskID, held, workerID string, now time.Time) (bool, error)
	ReleaseHeld(ctx context.Context, taskID, held, op string) (bool, error)
	// NoteSlotTaken tells the buyer's webhooks that the task is full, if
	// it is now.
	NoteSlotTaken(ctx context.Context, buyerID, taskID string) error
}

// Blocks tells whether a buyer blocked a worker from their tasks;
// block.Service implements it.
type Blocks interface {
	Blocked(ctx context.Context, buyerID, workerID string) (bool, error)
}

// Submissions tells whether a worker submitted to a task;
// submission.Service implements it.
type Submissions interface {
	Submitted(ctx context.Context, taskID, workerID string) (bool, error)
}
