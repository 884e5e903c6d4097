package ledger

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"microtask/internal/money"
)

// Report is the result of an audit of the ledger's invariants.
type Report struct {
	Balanced      bool // no problems
	Accounts      int  // accounts read
	Transfers     int  // transfers read
	OpenTransfers int  // transfers still in flight (counted in the balances)
	// Uncleared counts operations of posted transfers still in accounts'
	// pending lists: a crash came between a transfer's end and its
	// clean-up, which Recover finishes. Not a problem for the balances.
	Uncleared int
	Sum       money.Coins // sum of all balances: 0 when balanced and nothing is in flight
	Problems  []string    // one sentence per broken invariant
}

// Check is an extra invariant contributed by another capability, such as the
// task service's "escrow equals open slots plus pending submissions times
// pay". It gets every balance, and the accounts that transfers still in
// flight post to (whose business documents may be mid-change), and returns
// one sentence per problem.
type Check func(ctx context.Context, balances map[string]money.Coins, busy map[string]bool) ([]string, error)

type namedCheck struct {
	name  string
	check Check
}

// AddCheck registers an extra invariant for Audit. Call it while wiring.
func (s *Service) AddCheck(name string, c Check) {
	s.checks = append(s.checks, namedCheck{name, c})
}

// Audit checks the ledger's invariants:
//
//  1. the balances of all accounts sum to zero;
//  2. each account's balance is the sum of what posted transfers post to it;
//  3. no account but the mint is negative;
//  4. the extra checks registered with AddCheck (escrow per task);
//  5. every operation an account lists as pending is a transfer that posts
//     to it and has not failed.
//
// Postings of transfers still in flight are counted where they have been
// applied (their operation is in the account's pending list), so the audit is
// exact on a quiet ledger and, under traffic, exact for every transfer that
// is not moving while it is read. It reads every record: it is an
// administrator's tool, not something to call per request.
func (s *Service) Audit(ctx context.Context) (Report, error) {
	var r Report
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	transfers := map[string]Transfer{}
	postedSum := map[string]money.Coins{} // account -> what posted transfers post to it
	err := s.store.EachTransfer(ctx, func(t Transfer) error {
		transfers[t.ID] = t
		switch {
		case t.Open:
			r.OpenTransfers++
		case t.State == Posted:
			for _, p := range t.Postings {
				postedSum[p.Account] += p.Amount
			}
		case t.State != Failed:
			problem("transfer %s is in state %q", t.ID, t.State)
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read transfers: %w", err)
	}
	r.Transfers = len(transfers)

	balances := map[string]money.Coins{}
	var inFlight money.Coins // applied postings of transfers not yet posted
	err = s.store.EachAccount(ctx, func(a Account) error {
		r.Accounts++
		balances[a.Name] = a.Balance
		r.Sum += a.Balance
		want := postedSum[a.Name]
		for _, op := range a.Pending {
			t, ok := transfers[op]
			switch {
			case !ok:
				problem("account %s lists unknown operation %s as pending", a.Name, op)
			case !slices.ContainsFunc(t.Postings, func(p Posting) bool { return p.Account == a.Name }):
				problem("account %s lists operation %s as pending, which does not post to it", a.Name, op)
			case t.State == Failed:
				problem("account %s still lists failed operation %s as pending", a.Name, op)
			case t.Open:
				// Applied, not posted yet: in the balance, not in postedSum.
				amount := postingAmount(t, a.Name)
				want += amount
				inFlight += amount
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

	// Invariant 1, allowing for transfers caught half-applied: their applied
	// postings do not sum to zero yet.
	if r.Sum != inFlight {
		problem("balances sum to %d, want 0", r.Sum-inFlight)
	}

	busy := map[string]bool{}
	for _, t := range transfers {
		if t.Open {
			for _, p := range t.Postings {
				busy[p.Account] = true
			}
		}
	}
	for _, c := range s.checks {
		found, err := c.check(ctx, balances, busy)
		if err != nil {
			return r, fmt.Errorf("audit check %s: %w", c.name, err)
		}
		r.Problems = append(r.Problems, found...)
	}
	r.Balanced = len(r.Problems) == 0
	return r, nil
}

func postingAmount(t Transfer, account string) money.Coins {
	for _, p := range t.Postings {
		if p.Account == account {
			return p.Amount
		}
	}
	return 0
}
