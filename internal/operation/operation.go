// Package operation runs the changes that span several documents (a
// submission and its task's slots, a payment and a buyer's coins) so that a
// crash anywhere is finished or cancelled by recovery, without multi-document
// transactions, which the embedded database does not have.
//
// An operation has a deterministic id derived from the business event
// ("approve:<submission>", "purchase:<checkout session>"), so that running
// the same operation twice does it once; a kind (Kind), which says what its
// steps do with its data; and optionally postings, the coins it moves in the
// ledger. It is run in steps that are each one single-document write and
// each safe to repeat:
//
//  1. record the operation, pending, with its data and a lease (a duplicate
//     id waits for, resumes or returns the earlier one);
//  2. commit the business change through the kind's Commit, when it has
//     one; a business document that can no longer change cancels the
//     operation, which then leaves no record (nothing happened), so that its
//     id can be used again once the document allows the change;
//  3. apply the postings in the ledger, debits first; a short debit marks the
//     operation failing, undoes what was applied and runs the kind's Revert;
//  4. run the kind's Settle (its follow-ups, such as a notification), then
//     mark the operation posted, which ends it and drops its data;
//  5. take it off the accounts' pending lists, in one command.
//
// A crash anywhere before step 4 ends leaves the operation pending under a
// lease; Recover resumes it once the lease has expired, from step 2. A crash
// during step 5 leaves it on pending lists, which Recover clears too.
//
// So approving a submission (two postings, a commit, two follow-ups) costs
// eight writes: the record, the commit, two postings, two follow-ups, the
// end and the clearing.
package operation

import (
	"context"
	"errors"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/ledger"
)

// State is where an operation is in its life.
type State string

// The states of an operation. Pending and Failing are open; Posted, Failed
// and Cancelled are final. Cancelled is only ever returned, never stored: a
// cancelled operation leaves no record.
const (
	Pending   State = "pending"   // recorded; the business change, postings and follow-ups may be under way
	Failing   State = "failing"   // a debit was short; applied postings are being undone
	Posted    State = "posted"    // final: done, every posting applied
	Failed    State = "failed"    // final: nothing moved, for lack of funds
	Cancelled State = "cancelled" // final: nothing moved, the business change no longer applied
)

// Open reports whether an operation in this state has steps left to run.
func (s State) Open() bool { return s == Pending || s == Failing }

// Record is an operation as stored.
type Record struct {
	ID       string           // "<kind>:<reference>"
	Postings []ledger.Posting // debits first
	// Data is the kind's data, which its steps need while the operation
	// runs; nil once it has ended.
	Data       Payload
	State      State
	LeaseUntil time.Time // while open
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Kind returns the operation kind, the part of the ID before the first colon.
func (r Record) Kind() string {
	kind, _, _ := strings.Cut(r.ID, ":")
	return kind
}

// Payload is a kind's data as the store keeps it.
type Payload interface {
	// Decode decodes the data into v, a pointer to the kind's data type.
	Decode(v any) error
}

// Result is how an operation ended.
type Result struct {
	ID    string
	State State
	// Replayed is set when this call did nothing because the operation had
	// already been run, or was run by a concurrent call: callers that must
	// tell "I did it" from "it was done" (two reviews of one submission)
	// look here.
	Replayed bool
	// At is when the operation started.
	At time.Time
}

// Errors returned to callers. Callers usually translate ErrCancelled into
// their own business error (e.g. "already reviewed").
var (
	ErrCancelled  = apperr.New(apperr.Conflict, "operation_cancelled", "the operation no longer applies")
	ErrInProgress = apperr.New(apperr.Conflict, "operation_in_progress",
		"the same operation is still being processed; retry in a moment")
	ErrReused = apperr.New(apperr.Conflict, "idempotency_key_reused",
		"this operation id was already used for a different operation")
)

// Errors a Store returns.
var (
	ErrExists   = errors.New("operation exists")
	ErrNotFound = errors.New("operation not found")
)

// Store persists operation records. storage.OperationStore implements it.
// Every method is one single-document write or a read.
type Store interface {
	// Insert records a new operation in flight with the kind's data.
	// ErrExists if its ID is taken (by an operation in flight or ended).
	Insert(ctx context.Context, r Record, data any) error
	// Get returns an operation. ErrNotFound if none has the ID.
	Get(ctx context.Context, id string) (Record, error)
	// SetState moves an operation from state from to state to, if it is in
	// state from under the given lease. Moving to a final state ends it: its
	// data and lease go. False if it was not in state from under that
	// lease.
	SetState(ctx context.Context, id string, from, to State, lease, now time.Time) (bool, error)
	// RenewLease replaces an open operation's lease. False if the lease is
	// no longer from.
	RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error)
	// Delete removes a pending operation under the given lease, one whose
	// business change was cancelled before anything was applied.
	Delete(ctx context.Context, id string, lease time.Time) error
	// Reopen makes a failed operation pending again, with r's postings,
	// data, lease and times. False if it is not failed (any more).
	Reopen(ctx context.Context, r Record, data any) (bool, error)
	// Expired returns up to limit open operations whose lease ends before
	// the given time, oldest lease first.
	Expired(ctx context.Context, leaseBefore time.Time, limit int) ([]Record, error)
	// Deferred returns a context whose writes (to every store of the
	// database) may answer before they are durable, provided they become
	// durable in their order, and a flush that returns once they all are,
	// or with the error that lost one, after which no write of the context
	// succeeds. A run of an operation's steps then waits for the disk once.
	// A database that answers each write once durable returns ctx as it is.
	Deferred(ctx context.Context) (context.Context, func() error)
}

// Ledger applies an operation's postings; ledger.Ledger implements it.
type Ledger interface {
	Apply(ctx context.Context, op string, p ledger.Posting, now time.Time) (ledger.PostingResult, error)
	Undo(ctx context.Context, op string, p ledger.Posting) error
	Clear(ctx context.Context, op string, accounts []string) error
	WithPending(ctx context.Context, limit int) ([]ledger.Account, error)
}
