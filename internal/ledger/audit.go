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
	Balanced      bool        // no problems
	Accounts      int         // accounts read
	Transfers     int         // transfers read
	OpenTransfers int         // transfers still in flight (counted in the balances)
	Sum           money.Coins // sum of all balances: 0 when balanced and nothing is in flight
	Problems      []string    // one sentence per broken invariant
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

// Audit checks the ledger's invariants (DESIGN.md §3):
//
//  1. the balances of all accounts sum to zero;
//  2. each account's balance is the sum of its entries;
//  3. no account but the mint is negative;
//  4. the extra checks registered with AddCheck (escrow per task);
//  5. every posted transfer has exactly one entry per posting, with its
//     amount, and no other transfer has any.
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
	err := s.store.EachTransfer(ctx, func(t Transfer) error {
		transfers[t.ID] = t
		if t.Open {
			r.OpenTransfers++
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read transfers: %w", err)
	}
	r.Transfers = len(transfers)

	type key struct{ op, account string }
	entries := map[key]money.Coins{}
	entrySum := map[string]money.Coins{}
	err = s.store.EachEntry(ctx, func(e Entry) error {
		k := key{e.Op, e.Account}
		if _, dup := entries[k]; dup {
			problem("transfer %s has two entries for %s", e.Op, e.Account)
		}
		entries[k] = e.Amount
		entrySum[e.Account] += e.Amount
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read entries: %w", err)
	}

	balances := map[string]money.Coins{}
	var inFlight money.Coins // applied postings of transfers not yet posted
	err = s.store.EachAccount(ctx, func(a Account) error {
		r.Accounts++
		balances[a.Name] = a.Balance
		r.Sum += a.Balance
		want := entrySum[a.Name]
		for _, op := range a.Pending {
			t, ok := transfers[op]
			switch {
			case !ok:
				problem("account %s lists unknown operation %s as pending", a.Name, op)
			case !t.Open:
				problem("account %s still lists settled operation %s as pending", a.Name, op)
			default:
				if _, entered := entries[key{op, a.Name}]; !entered {
					amount := postingAmount(t, a.Name)
					want += amount
					if t.State != Posted {
						inFlight += amount
					}
				}
			}
		}
		if a.Balance != want {
			problem("account %s has balance %d but its entries sum to %d", a.Name, a.Balance, want)
		}
		if a.Balance < 0 && !mayGoNegative(a.Name) {
			problem("account %s is negative: %d", a.Name, a.Balance)
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read accounts: %w", err)
	}
	for name, sum := range entrySum {
		if _, ok := balances[name]; !ok && sum != 0 {
			problem("account %s is missing but its entries sum to %d", name, sum)
		}
	}

	// Invariant 1, allowing for transfers caught half-applied: their applied
	// postings do not sum to zero yet.
	if r.Sum != inFlight {
		problem("balances sum to %d, want 0", r.Sum-inFlight)
	}

	// Invariant 5.
	ids := make([]string, 0, len(transfers))
	for id := range transfers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := transfers[id]
		if t.State == "" {
			problem("transfer %s has a journal record but neither a run nor an outcome", id)
		}
		posted := t.State == Posted
		for _, p := range t.Postings {
			amount, ok := entries[key{id, p.Account}]
			switch {
			case posted && !t.Open && !ok:
				problem("posted transfer %s has no entry for %s", id, p.Account)
			case ok && !posted:
				problem("%s transfer %s has an entry for %s", t.State, id, p.Account)
			case ok && amount != p.Amount:
				problem("transfer %s posts %d to %s but its entry says %d", id, p.Amount, p.Account, amount)
			}
		}
	}
	for k := range entries {
		t, ok := transfers[k.op]
		if !ok {
			problem("entry for %s belongs to unknown transfer %s", k.account, k.op)
		} else if !slices.ContainsFunc(t.Postings, func(p Posting) bool { return p.Account == k.account }) {
			problem("entry for %s is not a posting of transfer %s", k.account, k.op)
		}
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
