package invoice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// maxTries bounds the numbers one Issue tries. Every refused number was
// taken by another invoice, so the year's invoices grew meanwhile; an Issue
// that loses this many times in a row answers an error, and the step that
// called it runs again later (recovery), from the then highest number.
const maxTries = 100

// Service issues invoices and shows them to their parties.
type Service struct {
	store   Store
	users   Users
	pricing money.Pricing
	log     *slog.Logger

	// mu makes this process's Issue calls take their numbers one at a
	// time, so that they do not refuse each other's numbers; other
	// processes are kept apart by the unique index alone. last is the
	// highest number of each year this process knows to exist.
	mu   sync.Mutex
	last map[int]int64
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Users   Users
	Pricing money.Pricing // CoinsPerDollar values payments between users
	Log     *slog.Logger
}

// NewService returns a Service on d.
func NewService(d Deps) *Service {
	return &Service{store: d.Store, users: d.Users, pricing: d.Pricing, log: d.Log, last: map[int]int64{}}
}

// IDOf is the id of the invoice of the payment ref, the same however often
// it is issued.
func IDOf(ref string) string { return idgen.Derive("invoice", ref) }

// Issue records the invoice of the payment r.Ref and returns it, or returns
// the invoice already issued for that ref (whatever the rest of r says: an
// invoice never changes). It is meant for an operation's Settle step, which
// recovery may run again: a call interrupted anywhere left either nothing
// or the whole invoice, and the next call finishes the job. A request that
// breaks the rules is ErrBadRequest, a bug of the caller.
//
// A purchase names the Platform as seller and what the buyer Paid. A
// payment between users (a released milestone, an approved timesheet)
// names the worker as seller and the client as buyer, leaves Paid at zero
// (its value is the coins at the payout rate) and names what it was for,
// e.g. from a milestone's release:
//
//	invoices.Issue(ctx, invoice.Request{
//		Ref: op.ID, SellerID: c.WorkerID, BuyerID: c.BuyerID, Date: op.At,
//		Lines:    []invoice.Line{{Description: "Milestone: " + m.Title, Coins: m.Coins}},
//		Subjects: []invoice.Subject{{Type: invoice.SubjectContract, ID: c.ID}, {Type: invoice.SubjectJob, ID: c.JobID}},
//	})
func (s *Service) Issue(ctx context.Context, r Request) (Invoice, error) {
	// No read first of whether the ref's invoice exists: the insert of a
	// second one is refused by its _id (see number), which costs the rare
	// call run again a read, and every first call none.
	id := IDOf(r.Ref)
	if err := r.check(); err != nil {
		return Invoice{}, fmt.Errorf("issue invoice of %s: %w", r.Ref, err)
	}
	inv, err := s.draft(ctx, id, r)
	if err != nil {
		return Invoice{}, err
	}
	return s.number(ctx, inv)
}

// draft is the invoice r asks for, without its number.
func (s *Service) draft(ctx context.Context, id string, r Request) (Invoice, error) {
	date := r.Date.UTC().Truncate(time.Millisecond)
	inv := Invoice{ID: id, Ref: r.Ref, Year: date.Year(), Lines: r.Lines, Date: date, Subjects: r.Subjects}
	for _, l := range r.Lines {
		inv.Coins += l.Coins
	}
	if r.SellerID == Platform {
		inv.Rate, inv.Value = RatePurchase, r.Paid
	} else {
		inv.Rate, inv.Value, inv.CoinsPerDollar = RatePayout, s.pricing.PayoutCents(inv.Coins), s.pricing.CoinsPerDollar
	}
	var err error
	if inv.Seller, err = s.party(ctx, r.SellerID, r.SellerName); err != nil {
		return Invoice{}, err
	}
	if inv.Buyer, err = s.party(ctx, r.BuyerID, r.BuyerName); err != nil {
		return Invoice{}, err
	}
	return inv, nil
}

// party is the user id as a party, named name, or read when name is empty.
func (s *Service) party(ctx context.Context, id, name string) (Party, error) {
	switch {
	case id == Platform:
		return Party{ID: Platform, Name: PlatformName}, nil
	case name != "":
		return Party{ID: id, Name: name}, nil
	}
	name, err := s.users.Name(ctx, id)
	if err != nil {
		return Party{}, fmt.Errorf("name party %s: %w", id, err)
	}
	return Party{ID: id, Name: name}, nil
}

// number inserts inv with the number after the highest of its year (see the
// package comment).
func (s *Service) number(ctx context.Context, inv Invoice) (Invoice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, known := s.last[inv.Year]
	for range maxTries {
		if !known {
			n, err := s.store.Last(ctx, inv.Year)
			if err != nil {
				return Invoice{}, fmt.Errorf("read the last invoice of %d: %w", inv.Year, err)
			}
			last, known = n, true
		}
		inv.Seq = last + 1
		err := s.store.Insert(ctx, inv)
		if err == nil {
			s.last[inv.Year] = inv.Seq
			return inv, nil
		}
		if !errors.Is(err, ErrTaken) {
			return Invoice{}, fmt.Errorf("insert invoice %s: %w", inv.Number(), err)
		}
		// The id or the number is taken: the first means this payment's
		// invoice exists (a concurrent Issue of the same ref), the second
		// that another process numbered an invoice meanwhile.
		prev, err := s.store.ByID(ctx, inv.ID)
		if err == nil {
			return prev, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Invoice{}, fmt.Errorf("read invoice of %s: %w", inv.Ref, err)
		}
		known = false
	}
	delete(s.last, inv.Year)
	return Invoice{}, fmt.Errorf("number invoice of %s: %d numbers taken in a row", inv.Ref, maxTries)
}

// Get returns an invoice to its seller, its buyer or an admin; to anyone
// else it is ErrNotFound, as if it did not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Invoice, error) {
	inv, err := s.store.ByID(ctx, id)
	if err != nil {
		return Invoice{}, fmt.Errorf("read invoice %s: %w", id, err)
	}
	if !inv.Party(p.UserID) && !p.Is(auth.RoleAdmin) {
		return Invoice{}, ErrNotFound
	}
	return inv, nil
}

// List returns a page of the invoices userID is a party to, the highest
// number first. A user sees only their own (userID empty, or their own id);
// an admin sees anyone's, or every invoice with userID empty.
func (s *Service) List(ctx context.Context, p auth.Principal, userID string, r page.Request) (page.Of[Invoice], error) {
	switch {
	case !p.Is(auth.RoleAdmin) && userID != "" && userID != p.UserID:
		return page.Of[Invoice]{}, auth.ErrWrongRole
	case !p.Is(auth.RoleAdmin):
		userID = p.UserID
	}
	items, total, err := s.store.List(ctx, userID, r)
	if err != nil {
		return page.Of[Invoice]{}, fmt.Errorf("list invoices of %q: %w", userID, err)
	}
	return page.Of[Invoice]{Items: items, Request: r, Total: total}, nil
}

// ListBySubject returns a page of the invoices about subject (a contract's,
// a job's) that p is a party to (all of them to an admin), the highest
// number first. Whether p may see the subject itself is the caller's to
// check.
func (s *Service) ListBySubject(ctx context.Context, p auth.Principal, subject Subject, r page.Request) (page.Of[Invoice], error) {
	userID := p.UserID
	if p.Is(auth.RoleAdmin) {
		userID = ""
	}
	items, total, err := s.store.BySubject(ctx, subject, userID, r)
	if err != nil {
		return page.Of[Invoice]{}, fmt.Errorf("list invoices of %s: %w", subject, err)
	}
	return page.Of[Invoice]{Items: items, Request: r, Total: total}, nil
}

// ByRefs returns the invoices issued for these payments (operation ids), by
// ref; a ref without an invoice (yet) is missing from the map. Like
// ListBySubject, it leaves the right to see them to the caller.
func (s *Service) ByRefs(ctx context.Context, refs []string) (map[string]Invoice, error) {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = IDOf(r)
	}
	invs, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read invoices of %d payments: %w", len(refs), err)
	}
	out := make(map[string]Invoice, len(invs))
	for _, inv := range invs {
		out[inv.Ref] = inv
	}
	return out, nil
}
