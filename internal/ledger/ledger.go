// Package ledger moves coins between accounts with double-entry transfers.
//
// Every coin movement on the platform is one transfer: postings that sum to
// zero, identified by a deterministic operation id derived from the business
// event ("signup:<userID>", "approve:<submissionID>"), so that running the
// same operation twice moves the coins once. A transfer with no postings is a
// plain operation: business changes that span documents but move no coins
// (rejecting a submission reopens a task's slot) use the same steps, hooks and
// recovery to be just as crash-safe.
//
// The database gives no multi-document transactions, so a transfer is applied
// in steps that are each one single-document atomic write and each safe to
// repeat:
//
//  1. record the transfer, pending, with a lease (a duplicate id waits for,
//     resumes or returns the earlier one);
//  2. commit the business change through the kind's Hook, when it has one;
//     a business document that can no longer change cancels the transfer,
//     which then leaves no record (nothing happened), so that its id can be
//     used again once the document allows the change;
//  3. apply the postings, debits first, each guarded by the account's pending
//     list and, for accounts that may not go negative, by its balance; a short
//     debit marks the transfer failing, undoes what was applied and reverts
//     the business change;
//  4. run the hook's Settle (its follow-ups, such as a notification), then
//     mark the transfer posted, which ends it;
//  5. clear the operation from the accounts' pending lists, in one command.
//
// A crash anywhere before step 4 ends leaves the transfer pending under a
// lease; Recover resumes it once the lease has expired, from step 2: every
// step is safe to repeat. A crash during step 5 leaves operations in pending
// lists, which are then only markers of a finished transfer; Recover clears
// them too.
//
// So a two-posting transfer with a commit and two follow-ups costs eight
// writes: the record, the commit, two postings, two follow-ups, the end and
// the clearing. The posted transfers are the ledger's entries.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Fixed accounts of the platform.
const (
	// Mint is where purchased and bonus coins come from; it goes negative by
	// exactly the coins in circulation.
	Mint = "world:mint"
	// Payout is where withdrawn coins go.
	Payout = "world:payout"
)

// UserAccount is the account of a user's spendable coins.
func UserAccount(userID string) string { return "user:" + userID }

// EscrowAccount holds the coins a task reserves for its workers.
func EscrowAccount(taskID string) string { return "escrow:" + taskID }

// HoldAccount holds the coins of a pending withdrawal.
func HoldAccount(withdrawalID string) string { return "hold:" + withdrawalID }

// AccountKind is the part of an account name before the colon: user,
// escrow, hold or world.
func AccountKind(account string) string {
	kind, _, _ := strings.Cut(account, ":")
	return kind
}

// AccountOwner is the part of an account name after the colon: the user,
// task or withdrawal the account belongs to.
func AccountOwner(account string) string {
	_, owner, _ := strings.Cut(account, ":")
	return owner
}

// mayGoNegative reports whether an account may be debited below zero. Only
// the mint may: every other account holds real coins.
func mayGoNegative(account string) bool { return account == Mint }

var accountKinds = []string{"user", "escrow", "hold", "world"}

// Posting is one line of a transfer.
type Posting struct {
	Account string
	Amount  money.Coins // positive credits the account, negative debits it
}

// Move returns the two postings that move amount coins from one account to
// another.
func Move(from, to string, amount money.Coins) []Posting {
	return []Posting{{Account: from, Amount: -amount}, {Account: to, Amount: amount}}
}

// State is where a transfer is in its life.
type State string

// The states of a transfer. Pending and Failing are open; Posted, Failed
// and Cancelled are final. Cancelled is only ever returned, never stored: a
// cancelled transfer leaves no record.
const (
	Pending   State = "pending"   // recorded; the business change, postings and follow-ups may be under way
	Failing   State = "failing"   // a debit was short; applied postings are being undone
	Posted    State = "posted"    // final: every posting applied, follow-ups done
	Failed    State = "failed"    // final: nothing moved, for lack of funds
	Cancelled State = "cancelled" // final: nothing moved, the business change no longer applied
)

// open reports whether a stored state is one a runner or Recover must take
// further.
func (s State) open() bool { return s == Pending || s == Failing }

// Transfer is one operation: postings summing to zero, with its progress.
type Transfer struct {
	ID       string            // the operation id, "<kind>:<reference>"
	Postings []Posting         // debits first
	Meta     map[string]string // what the kind's Hook needs to resume, e.g. a rejection reason
	// Private is like Meta but kept only while the transfer is in flight,
	// dropped from the record when it ends: data a hook needs that must not
	// stay in the money records for good, such as a new user's password
	// hash.
	Private map[string]string

	State State
	Open  bool // in flight: steps remain to be done (by the runner holding the lease, or Recover)
	// Replayed is set on what Post returns when this call moved nothing
	// because the operation had already been run, or was being run by a
	// concurrent call: callers that must tell "I did it" from "it was done"
	// (two reviews of one submission) look here.
	Replayed   bool
	Hooked     bool // the kind had a Hook when the transfer was created
	LeaseUntil time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Kind returns the operation kind, the part of the ID before the first colon.
func (t Transfer) Kind() string {
	kind, _, _ := strings.Cut(t.ID, ":")
	return kind
}

// Account is a balance and the operations applied to it whose transfers are
// not yet settled.
type Account struct {
	Name    string
	Balance money.Coins
	Pending []string
}

// PostingResult says what applying one posting did.
type PostingResult int

// The results of Store.ApplyPosting.
const (
	Applied        PostingResult = iota + 1 // the balance changed now
	AlreadyApplied                          // the operation was already applied to this account
	Short                                   // a debit would take the balance below zero; nothing changed
)

// Errors returned to callers. Callers usually translate ErrCancelled into
// their own business error (e.g. "already reviewed").
var (
	ErrInsufficientCoins = apperr.New(apperr.Conflict, "insufficient_coins", "not enough coins for this operation")
	ErrCancelled         = apperr.New(apperr.Conflict, "operation_cancelled", "the operation no longer applies")
	ErrInProgress        = apperr.New(apperr.Conflict, "operation_in_progress",
		"the same operation is still being processed; retry in a moment")
	ErrOperationReused = apperr.New(apperr.Conflict, "idempotency_key_reused",
		"this operation id was already used for a different operation")
)

// Errors a Store returns.
var (
	ErrTransferExists   = errors.New("transfer exists")
	ErrTransferNotFound = errors.New("transfer not found")
)

// errLeaseLost means another runner took over a transfer whose lease this
// runner let expire; this runner must stop touching it.
var errLeaseLost = errors.New("lease on transfer lost")

// Store persists accounts and transfers. storage.LedgerStore implements it.
// Every method is one single-document write or a read, but for ClearPending,
// which is one command that changes several accounts.
type Store interface {
	// Insert records a new transfer in flight. ErrTransferExists if its ID
	// is taken (by a transfer in flight or ended).
	Insert(ctx context.Context, t Transfer) error
	// Get returns a transfer. ErrTransferNotFound if none has the ID.
	Get(ctx context.Context, id string) (Transfer, error)
	// SetState moves a transfer from state from to state to, if it is in
	// state from under the given lease. Moving to a final state ends it: its
	// Private data and lease go. False if it was not in state from under
	// that lease.
	SetState(ctx context.Context, id string, from, to State, lease, now time.Time) (bool, error)
	// RenewLease replaces an open transfer's lease. False if the lease is no
	// longer from.
	RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error)
	// Delete removes a pending transfer under the given lease, one whose
	// business change was cancelled before anything was applied.
	Delete(ctx context.Context, id string, lease time.Time) error
	// Expired returns up to limit open transfers whose lease ends before the
	// given time, oldest lease first.
	Expired(ctx context.Context, leaseBefore time.Time, limit int) ([]Transfer, error)

	// ApplyPosting adds p.Amount to p.Account and records op in its pending
	// list, unless op is already there. A debit of an account that may not go
	// negative applies only if the balance covers it (else Short). A missing
	// account is created by a credit, and is Short for a guarded debit.
	ApplyPosting(ctx context.Context, op string, p Posting, allowNegative bool, now time.Time) (PostingResult, error)
	// UndoPosting reverses p if op is in the account's pending list, and
	// removes op from it.
	UndoPosting(ctx context.Context, op string, p Posting) error
	// ClearPending removes op from the pending lists of the accounts.
	ClearPending(ctx context.Context, op string, accounts []string) error
	// WithPending returns up to limit accounts whose pending list is not
	// empty.
	WithPending(ctx context.Context, limit int) ([]Account, error)

	// Accounts returns the named accounts that exist.
	Accounts(ctx context.Context, names []string) ([]Account, error)
	// Richest returns up to limit accounts of a kind, highest balance first
	// (ties by name).
	Richest(ctx context.Context, kind string, limit int) ([]Account, error)
	// EachAccount and EachTransfer call fn for every record.
	EachAccount(ctx context.Context, fn func(Account) error) error
	EachTransfer(ctx context.Context, fn func(Transfer) error) error
}

// Hook ties the transfers of one operation kind to the business document
// they pay for. Every function must be idempotent: Recover may call them
// again after a crash, with the same Transfer, in the order Commit, Settle,
// even when Settle ran before.
type Hook struct {
	// Commit makes the business change that decides the transfer, with one
	// conditional write that records t.ID on the document. It returns true if
	// the change is made now or was made before (even if Settle has changed
	// the document since), and false if the change no longer applies, which
	// cancels the transfer: it ends with ErrCancelled and leaves no record.
	Commit func(ctx context.Context, t Transfer) (bool, error)
	// Revert undoes Commit after a debit came up short.
	Revert func(ctx context.Context, t Transfer) error
	// Settle runs once every posting is applied, before the transfer is
	// marked posted: follow-ups such as notifications, written with ids
	// derived from t.ID.
	Settle func(ctx context.Context, t Transfer) error
}

// validate checks a transfer request before anything is written.
func (t Transfer) validate() error {
	kind, ref, ok := strings.Cut(t.ID, ":")
	if !ok || kind == "" || ref == "" {
		return fmt.Errorf("transfer id %q: want <kind>:<reference>", t.ID)
	}
	if len(t.Postings) == 1 {
		return fmt.Errorf("transfer %s: want no postings or at least two", t.ID)
	}
	var sum money.Coins
	seen := map[string]bool{}
	for _, p := range t.Postings {
		if p.Amount == 0 {
			return fmt.Errorf("transfer %s: zero posting to %s", t.ID, p.Account)
		}
		if !slices.Contains(accountKinds, AccountKind(p.Account)) || !strings.Contains(p.Account, ":") ||
			strings.HasSuffix(p.Account, ":") {
			return fmt.Errorf("transfer %s: bad account name %q", t.ID, p.Account)
		}
		if seen[p.Account] {
			return fmt.Errorf("transfer %s: account %s posted twice", t.ID, p.Account)
		}
		seen[p.Account] = true
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("transfer %s: postings sum to %d, want 0", t.ID, sum)
	}
	return nil
}

// ordered returns the postings with debits first, each group sorted by
// account, so that the order is deterministic and no credit is applied
// before every debit has succeeded: a short debit then only ever has debits
// to undo.
func ordered(ps []Posting) []Posting {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Posting) int {
		if (a.Amount < 0) != (b.Amount < 0) {
			if a.Amount < 0 {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Account, b.Account)
	})
	return out
}

// outcome turns a transfer's state into its caller's result.
func outcome(t Transfer) (Transfer, error) {
	switch t.State {
	case Posted:
		return t, nil
	case Failed:
		return t, ErrInsufficientCoins
	case Cancelled:
		return t, ErrCancelled
	default:
		return t, ErrInProgress
	}
}
