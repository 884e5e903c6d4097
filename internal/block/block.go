// Package block lets a buyer keep a worker off their tasks: a blocked
// worker's submissions to the buyer's tasks are refused (and, once the
// lifecycle has them, their reservations), and the buyer's tasks leave
// their list of available tasks. Work submitted before the block is still
// reviewed as usual.
package block

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/user"
)

// MaxPerBuyer is how many workers one buyer may block: a buyer's blocks
// are one document, and every task of theirs lists the blocked workers.
const MaxPerBuyer = 500

// Block is one blocked worker.
type Block struct {
	WorkerID   string
	WorkerName string // when blocked
	At         time.Time
}

// List is a buyer's blocks, newest last, and its version, which every
// change raises: tasks are told the list with its version, so that an
// older list never replaces a newer one whatever the order of the writes.
type List struct {
	BuyerID string
	Blocks  []Block
	Version int64
}

// Has reports whether the worker is on the list.
func (l List) Has(workerID string) bool {
	for _, b := range l.Blocks {
		if b.WorkerID == workerID {
			return true
		}
	}
	return false
}

// WorkerIDs lists the blocked workers.
func (l List) WorkerIDs() []string {
	ids := make([]string, len(l.Blocks))
	for i, b := range l.Blocks {
		ids[i] = b.WorkerID
	}
	return ids
}

// Errors.
var (
	ErrBlocked = apperr.New(apperr.Forbidden, "blocked_by_buyer",
		"the buyer of this task has blocked you from their tasks")
	ErrNotBlocked = apperr.New(apperr.NotFound, "block_not_found", "you have not blocked this worker")
	ErrTooMany    = apperr.New(apperr.Conflict, "too_many_blocks", "you have blocked as many workers as you may; unblock one first")
	ErrNotAWorker = apperr.New(apperr.NotFound, "user_not_found", "no such worker")
	// ErrStale is returned by Store.Save when the list changed since it was read.
	ErrStale = apperr.New(apperr.Conflict, "block_list_changed", "the block list changed meanwhile; retry")
)

// Store keeps each buyer's list. storage.BlockStore implements it.
type Store interface {
	// Get returns the buyer's list: empty, version 0, if they never
	// blocked anyone.
	Get(ctx context.Context, buyerID string) (List, error)
	// Save stores l with version l.Version+1 if the stored list is still at
	// l.Version (0: none stored). ErrStale otherwise.
	Save(ctx context.Context, l List) (List, error)
}

// Tasks keeps the blocked workers on each of a buyer's tasks, for the
// lists of available tasks to leave them out in the same query;
// task.Service implements it.
type Tasks interface {
	// SetBlocked gives the buyer's tasks (or only taskID's, if not empty)
	// the list of blocked workers of this version, unless they have a later
	// one.
	SetBlocked(ctx context.Context, buyerID, taskID string, workerIDs []string, version int64) error
}

// Users tells who a user is; user.Service implements it.
type Users interface {
	Get(ctx context.Context, id string) (user.User, error)
}
