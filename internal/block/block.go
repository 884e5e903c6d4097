// Package block lets a user keep another away. Any user may block any
// other but an admin from messaging them: a block stops messages both ways
// (package chat) and friend requests. A buyer's block of a worker also keeps
// the worker off the buyer's tasks: their submissions and reservations are
// refused, and the buyer's tasks leave their list of available tasks. Work
// submitted before the block is still reviewed as usual.
package block

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/user"
)

// MaxPerBuyer is how many users one user may block: a user's blocks are
// one document, and every task of a buyer's lists the users they blocked.
const MaxPerBuyer = 500

// Block is one blocked user (a worker, when a buyer blocked them from
// their tasks: hence the names).
type Block struct {
	WorkerID   string // the blocked user
	WorkerName string // when blocked
	At         time.Time
}

// List is a user's blocks (BuyerID is the user's, who need not be a
// buyer), newest last, and its version, which every change raises: tasks are told the list with its version, so that an
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
	ErrNotBlocked = apperr.New(apperr.NotFound, "block_not_found", "you have not blocked this user")
	ErrTooMany    = apperr.New(apperr.Conflict, "too_many_blocks", "you have blocked as many users as you may; unblock one first")
	ErrNotAWorker = apperr.New(apperr.NotFound, "user_not_found", "no such user")
	ErrSelf       = apperr.New(apperr.Conflict, "self_block", "you cannot block yourself")
	ErrAdmin      = apperr.New(apperr.Conflict, "cannot_block_admin", "admins cannot be blocked; report a problem instead")
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
	// GetMany returns the lists of the users who have one among ids, in
	// one read.
	GetMany(ctx context.Context, ids []string) ([]List, error)
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
