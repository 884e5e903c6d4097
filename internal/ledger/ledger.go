// Package ledger keeps the platform's coins: accounts, the postings that move
// coins between them, and the audit of their invariants.
//
// Coins move only inside operations (package operation), which apply their
// postings here, one account at a time, debits first. Each posting is one
// single-document write that is safe to repeat: it records the operation in
// the account's pending list together with the change of balance, and does
// nothing if the operation is already there; a debit of an account that may
// not go negative applies only if the balance covers it. Once the operation
// has ended, it is taken off the pending lists. An operation's postings sum
// to zero, so the balances always do; the posted operations are the
// ledger's entries.
package ledger

import (
	"context"
	"fmt"
	"log/slog"
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
	// Clawback is where coins go that are taken back from buyers whose
	// payment Stripe refunded or whose bank disputed it: out of circulation,
	// and kept apart from the mint so that the ledger shows how many.
	Clawback = "world:clawback"
)

// UserAccount is the account of a user's spendable coins.
func UserAccount(userID string) string { return "user:" + userID }

// EscrowAccount holds the coins a task reserves for its workers.
func EscrowAccount(taskID string) string { return "escrow:" + taskID }

// ContractAccount holds the coins a contract's escrow items hold (package
// contract): funded milestones and weeks not yet released or refunded.
func ContractAccount(contractID string) string { return "contract:" + contractID }

// HoldAccount holds the coins of a pending withdrawal.
func HoldAccount(withdrawalID string) string { return "hold:" + withdrawalID }

// AccountKind is the part of an account name before the colon: user,
// escrow, contract, hold or world.
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

var accountKinds = []string{"user", "escrow", "hold", "world", "contract"}

// Posting is one line of an operation's movement of coins.
type Posting struct {
	Account string
	Amount  money.Coins // positive credits the account, negative debits it
}

// Move returns the two postings that move amount coins from one account to
// another.
func Move(from, to string, amount money.Coins) []Posting {
	return []Posting{{Account: from, Amount: -amount}, {Account: to, Amount: amount}}
}

// Validate checks an operation's postings: none or at least two, no zero
// amount, known kinds of account, each account once, summing to zero.
func Validate(ps []Posting) error {
	if len(ps) == 1 {
		return fmt.Errorf("want no postings or at least two, got one to %s", ps[0].Account)
	}
	var sum money.Coins
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Amount == 0 {
			return fmt.Errorf("zero posting to %s", p.Account)
		}
		if !slices.Contains(accountKinds, AccountKind(p.Account)) || !strings.Contains(p.Account, ":") ||
			strings.HasSuffix(p.Account, ":") {
			return fmt.Errorf("bad account name %q", p.Account)
		}
		if seen[p.Account] {
			return fmt.Errorf("account %s posted twice", p.Account)
		}
		seen[p.Account] = true
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("postings sum to %d, want 0", sum)
	}
	return nil
}

// Ordered returns the postings with debits first, each group sorted by
// account, so that the order is deterministic and no credit is applied
// before every debit has succeeded: a short debit then only ever has debits
// to undo.
func Ordered(ps []Posting) []Posting {
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

// Account is a balance and the operations applied to it that have not been
// taken off its pending list yet.
type Account struct {
	Name    string
	Balance money.Coins
	Pending []string
}

// PostingResult says what applying one posting did.
type PostingResult int

// The results of Apply.
const (
	Applied        PostingResult = iota + 1 // the balance changed now
	AlreadyApplied                          // the operation was already applied to this account
	Short                                   // a debit would take the balance below zero; nothing changed
)

// ErrInsufficientCoins ends an operation whose debit the balance did not
// cover.
var ErrInsufficientCoins = apperr.New(apperr.Conflict, "insufficient_coins", "not enough coins for this operation")

// Store persists accounts. storage.LedgerStore implements it. Every method
// is one single-document write or a read, but for ClearPending, which is one
// command that changes several accounts.
type Store interface {
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

	// SetBoard puts an account on board, or with "" takes it off, unless
	// the account records a board change numbered seq or higher. A missing
	// account is created, empty, to go on a board.
	SetBoard(ctx context.Context, account, board string, seq int64, now time.Time) error

	// Accounts returns the named accounts that exist.
	Accounts(ctx context.Context, names []string) ([]Account, error)
	// Leaders returns up to limit accounts on board, highest balance first
	// (ties by name).
	Leaders(ctx context.Context, board string, limit int) ([]Account, error)
	// EachAccount calls fn for every account, EachMovement for every
	// operation that moves coins.
	EachAccount(ctx context.Context, fn func(Account) error) error
	EachMovement(ctx context.Context, fn func(Movement) error) error
}

// Ledger applies postings and reads balances.
type Ledger struct {
	store  Store
	log    *slog.Logger
	checks []namedCheck
}

// New returns a Ledger on store.
func New(store Store, log *slog.Logger) *Ledger {
	return &Ledger{store: store, log: log}
}

// Apply applies one posting of operation op.
func (l *Ledger) Apply(ctx context.Context, op string, p Posting, now time.Time) (PostingResult, error) {
	return l.store.ApplyPosting(ctx, op, p, mayGoNegative(p.Account), now)
}

// Undo reverses one posting of operation op, if it was applied.
func (l *Ledger) Undo(ctx context.Context, op string, p Posting) error {
	return l.store.UndoPosting(ctx, op, p)
}

// Clear takes an ended operation off the pending lists of its accounts.
func (l *Ledger) Clear(ctx context.Context, op string, accounts []string) error {
	return l.store.ClearPending(ctx, op, accounts)
}

// WithPending returns up to limit accounts with operations on their pending
// lists.
func (l *Ledger) WithPending(ctx context.Context, limit int) ([]Account, error) {
	return l.store.WithPending(ctx, limit)
}

// Balance returns an account's balance; an account never used has 0.
func (l *Ledger) Balance(ctx context.Context, account string) (money.Coins, error) {
	b, err := l.Balances(ctx, []string{account})
	return b[account], err
}

// Balances returns the balances of several accounts in one read; accounts
// never used are 0.
func (l *Ledger) Balances(ctx context.Context, accounts []string) (map[string]money.Coins, error) {
	found, err := l.store.Accounts(ctx, accounts)
	if err != nil {
		return nil, fmt.Errorf("read balances: %w", err)
	}
	out := make(map[string]money.Coins, len(accounts))
	for _, a := range accounts {
		out[a] = 0
	}
	for _, a := range found {
		out[a.Name] = a.Balance
	}
	return out, nil
}

// SetBoard puts an account on a board, a ranking by balance that Leaders
// reads (the top workers'), or with "" takes it off. Who the account
// belongs to decides which board, and numbers its changes with seq, so that
// a change arriving late (an operation's follow-up run again by recovery)
// cannot undo a later one: the highest seq wins.
//
// A board lives on the accounts because a ranking must be read in balance
// order from one index: filtering the richest accounts by what their owners
// are would read every richer account of the others first.
func (l *Ledger) SetBoard(ctx context.Context, account, board string, seq int64, now time.Time) error {
	if err := l.store.SetBoard(ctx, account, board, seq, now); err != nil {
		return fmt.Errorf("put %s on board %q: %w", account, board, err)
	}
	return nil
}

// Leaders returns up to limit accounts on a board, highest balance first.
func (l *Ledger) Leaders(ctx context.Context, board string, limit int) ([]Account, error) {
	accts, err := l.store.Leaders(ctx, board, limit)
	if err != nil {
		return nil, fmt.Errorf("read the leaders of board %q: %w", board, err)
	}
	return accts, nil
}
