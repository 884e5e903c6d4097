// Package withdrawal turns a worker's coins into payouts: the coins move to
// a hold at once, so they cannot be spent twice, and an admin then pays them
// out (approval) or gives them back (rejection). 20 coins are one dollar.
package withdrawal

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
)

// Status is where a withdrawal is.
type Status string

// The statuses.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
)

// Worker names the worker of a withdrawal, for the admins' list.
type Worker struct {
	ID    string
	Name  string
	Email string
}

// Withdrawal is a worker's request to be paid out.
type Withdrawal struct {
	ID            string
	Worker        Worker
	Coins         money.Coins
	Amount        money.Cents
	System        string // the payment system, e.g. bkash
	AccountNumber string
	Status        Status
	Reason        string // why it was rejected
	CreatedAt     time.Time
	DecidedAt     time.Time // zero while pending
	DecidedBy     string    // the admin who decided; empty while pending, and for decisions from before it was kept
	Risk          *Risk     // as measured when requested; nil for withdrawals from before risk was measured
}

// Decision is the commit of an approval or rejection.
type Decision struct {
	Op     string
	ID     string
	To     Status
	Reason string
	By     string // the admin
	At     time.Time
}

// Filter selects withdrawals for the admins' history; empty fields select
// all.
type Filter struct {
	Status   Status
	WorkerID string
}

// Errors.
var (
	ErrNotFound       = apperr.New(apperr.NotFound, "withdrawal_not_found", "no such withdrawal")
	ErrAlreadyDecided = apperr.New(apperr.Conflict, "already_decided", "the withdrawal was already approved or rejected")
)

// Store persists withdrawals. storage.WithdrawalStore implements it.
type Store interface {
	// Insert adds w; inserting the same ID again is a no-op.
	Insert(ctx context.Context, w Withdrawal) error
	// ByID returns a withdrawal. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Withdrawal, error)
	// ListByWorker returns a page of the worker's withdrawals, newest first.
	ListByWorker(ctx context.Context, workerID string, p page.Request) ([]Withdrawal, int64, error)
	// List returns a page of the withdrawals matching f, newest first.
	List(ctx context.Context, f Filter, p page.Request) ([]Withdrawal, int64, error)
	// ListPending returns a page of pending withdrawals, oldest first or,
	// by RiskFirst, riskiest first (oldest first among equals).
	ListPending(ctx context.Context, order Order, p page.Request) ([]Withdrawal, int64, error)
	// Decide commits d: a pending withdrawal gets d.To, recording d.Op. True
	// if it did now or had already; false if it is no longer pending.
	Decide(ctx context.Context, d Decision) (bool, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// Order is how the admins' list of pending withdrawals is sorted.
type Order string

// The orders.
const (
	OldestFirst Order = "oldest"
	RiskFirst   Order = "risk"
)

// Users finds a worker's name, email and the account's creation time;
// user.Service implements it.
type Users interface {
	Contact(ctx context.Context, id string) (name, email string, since time.Time, verified bool, err error)
}
