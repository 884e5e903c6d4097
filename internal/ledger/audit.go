package ledger

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"microtask/internal/money"
)

// Movement is an operation as the audit sees it: the coins it moves, and
// whether they stand.
type Movement struct {
	Op       string
	Postings []Posting
	State    MovementState
}

// MovementState is where an operation's postings are.
type MovementState string

// The states of a movement, as the operation records them.
const (
	InFlight MovementState = "in flight" // postings being applied or undone
	Posted   MovementState = "posted"    // every posting stands
	Failed   MovementState = "failed"    // nothing moved
)

// Report is the result of an audit of the ledger's invariants.
type Report struct {
	Balanced  bool // no problems
	Accounts  int  // accounts read
	Movements int  // operations that move coins, read
	InFlight  int  // of which still in flight (counted in the balances)
	// Uncleared counts posted operations still in accounts' pending lists:
	// a crash came between an operation's end and its clean-up, which
	// recovery finishes. Not a problem for the balances.
	Uncleared int
	Sum       money.Coins // sum of all balances: InFlightSum when balanced
	// InFlightSum is what the postings applied so far by the operations in
	// flight add up to: their debits come first, so until they end the
	// balances sum to this rather than to zero, and a balanced ledger says
	// why its sum is not zero.
	InFlightSum money.Coins
	Problems    []string // one sentence per broken invariant
}

// Check is an extra invariant contributed by another capability, such as the
// task service's "escrow equals open slots plus pending submissions times
// pay". It gets every balance, and the accounts that operations still in
// flight post to (whose business documents may be mid-change), and returns
// one sentence per problem.
type Check func(ctx context.Context, balances map[string]money.Coins, busy map[string]bool) ([]string, error)

type namedCheck struct {
	name  string
	check Check
}

// AddCheck registers an extra invariant for Audit, while wiring. A name
// registered twice is an error.
func (l *Ledger) AddCheck(name string, c Check) error {
	if slices.ContainsFunc(l.checks, func(n namedCheck) bool { return n.name == name }) {
		return fmt.Errorf("audit check %q registered twice", name)
	}
	l.checks = append(l.checks, namedCheck{name, c})
	return nil
}

// Audit checks the ledger's invariants:
//
//  1. the balances of all accounts sum to zero;
//  2. each account's balance is the sum of what posted operations post to it;
//  3. no account but the mint is negative;
//  4. the extra checks registered with AddCheck (escrow per task);
//  5. every operation an account lists as pending posts to it and has not
//     failed.
//
// Postings of operations still in flight are counted where they have been
// applied (the operation is in the account's pending list), so the audit is
// exact on a quiet ledger and, under traffic, exact for every operation that
// is not moving while it is read. It reads every record: it is an
// administrator's tool, not something to call per request.
func (l *Ledger) Audit(ctx context.Context) (Report, error) {
	var r Report
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	movements := map[string]Movement{}
	postedSum := map[string]money.Coins{} // account -> what posted operations post to it
	err := l.store.EachMovement(ctx, func(m Movement) error {
		movements[m.Op] = m
		switch m.State {
		case InFlight:
			r.InFlight++
		case Posted:
			for _, p := range m.Postings {
				postedSum[p.Account] += p.Amount
			}
		case Failed:
		default:
			problem("operation %s is in state %q", m.Op, m.State)
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read operations: %w", err)
	}
	r.Movements = len(movements)

	balances := map[string]money.Coins{}
	err = l.store.EachAccount(ctx, func(a Account) error {
		r.Accounts++
		balances[a.Name] = a.Balance
		r.Sum += a.Balance
		want := postedSum[a.Name]
		for _, op := range a.Pending {
			m, ok := movements[op]
			switch {
			case !ok:
				problem("account %s lists unknown operation %s as pending", a.Name, op)
			case !slices.ContainsFunc(m.Postings, func(p Posting) bool { return p.Account == a.Name }):
				problem("account %s lists operation %s as pending, which does not post to it", a.Name, op)
			case m.State == Failed:
				problem("account %s still lists failed operation %s as pending", a.Name, op)
			case m.State == InFlight:
				// Applied, not posted yet: in the balance, not in postedSum.
				amount := postingAmount(m, a.Name)
				want += amount
				r.InFlightSum += amount
			default:
				r.Uncleared++ // posted: only waiting to be cleared
			}
		}
		if a.Balance != want {
			problem("account %s has balance %d but its postings sum to %d", a.Name, a.Balance, want)
		}
		if a.Balance < 0 && !mayGoNegative(a.Name) {
			problem("account %s is negative: %d", a.Name, a.Balance)
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read accounts: %w", err)
	}
	names := make([]string, 0, len(postedSum))
	for name := range postedSum {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := balances[name]; !ok && postedSum[name] != 0 {
			problem("account %s is missing but its postings sum to %d", name, postedSum[name])
		}
	}

	// Invariant 1, allowing for operations caught half-applied: their applied
	// postings do not sum to zero yet.
	if r.Sum != r.InFlightSum {
		problem("balances sum to %d, want 0", r.Sum-r.InFlightSum)
	}

	busy := map[string]bool{}
	for _, m := range movements {
		if m.State == InFlight {
			for _, p := range m.Postings {
				busy[p.Account] = true
			}
		}
	}
	for _, c := range l.checks {
		found, err := c.check(ctx, balances, busy)
		if err != nil {
			return r, fmt.Errorf("audit check %s: %w", c.name, err)
		}
		r.Problems = append(r.Problems, found...)
	}
	r.Balanced = len(r.Problems) == 0
	return r, nil
}

func postingAmount(m Movement, account string) money.Coins {
	for _, p := range m.Postings {
		if p.Account == account {
			return p.Amount
		}
	}
	return 0
}
