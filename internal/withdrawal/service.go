package withdrawal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// Service applies the withdrawal rules.
type Service struct {
	store  Store
	ops    operation.Runner
	notify Notifier
	users  Users
	// earnings and purchases measure each request's risk.
	earnings  Earnings
	purchases Purchases
	pricing   money.Pricing // the minimum and what coins pay out
	log       *slog.Logger
	now       func() time.Time
	newID     func() string
	systems   []string

	admins adminlog.Recorder

	hold, pay, refund operation.Kind[subject]
}

// subject is the data of the withdrawal operations: the withdrawal a hold
// creates, or the one a payout or refund decides, and the reason given.
type subject struct {
	Withdrawal Withdrawal
	Reason     string
	By         string // the admin who decided
}

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Ops    operation.Runner
	Notify Notifier
	Users  Users
	// Earnings and Purchases measure each request's risk.
	Earnings  Earnings
	Purchases Purchases
	Admins    adminlog.Recorder // records admins' decisions
	Pricing   money.Pricing     // the minimum and what coins pay out
	Systems   []string          // the payment systems accepted
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, ops: d.Ops, notify: d.Notify, users: d.Users, earnings: d.Earnings, purchases: d.Purchases,
		pricing: d.Pricing, log: d.Log, now: now, newID: idgen.New, systems: d.Systems, admins: d.Admins}
	// withdraw:<id> holds the coins (worker -> hold:<id>) and records the
	// withdrawal.
	s.hold = operation.Kind[subject]{Name: "withdraw", Settle: s.settleHold}
	// withdraw-pay:<id> pays them out (hold -> world:payout),
	// withdraw-refund:<id> gives them back (hold -> worker).
	s.pay = operation.Kind[subject]{Name: "withdraw-pay", Commit: s.commitDecision(StatusApproved), Settle: s.settleDecision}
	s.refund = operation.Kind[subject]{Name: "withdraw-refund", Commit: s.commitDecision(StatusRejected), Settle: s.settleDecision}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.hold.Define(), s.pay.Define(), s.refund.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Terms returns the minimum withdrawal and how many coins are a dollar.
func (s *Service) Terms() (min money.Coins, coinsPerDollar int64) {
	return s.pricing.MinWithdrawal, s.pricing.CoinsPerDollar
}

// Systems returns the payment systems workers may withdraw to.
func (s *Service) Systems() []string { return slices.Clone(s.systems) }

// knows reports whether workers may withdraw to the payment system, in
// any letter case.
func (s *Service) knows(system string) bool {
	return slices.Contains(s.systems, strings.ToLower(system))
}

// Request is a worker's withdrawal request.
type Request struct {
	Coins         money.Coins
	System        string
	AccountNumber string
	// Key is the client's Idempotency-Key, if it sent one: the
	// withdrawal's ID is derived from it, so that the request run again
	// after a crash finds the coins the first run held instead of holding
	// more.
	Key string
}

// Request asks for a payout: at least the minimum withdrawal, at most the
// worker's balance, which they leave at once for the withdrawal's hold, to
// an account of one of the payment systems (bounds.go).
func (s *Service) Request(ctx context.Context, p auth.Principal, r Request) (Withdrawal, error) {
	if !p.Is(auth.RoleWorker) {
		return Withdrawal{}, auth.ErrWrongRole
	}
	if err := s.check(&r); err != nil {
		return Withdrawal{}, err
	}
	name, email, since, verified, err := s.users.Contact(ctx, p.UserID)
	if err != nil {
		return Withdrawal{}, err
	}
	risk, err := s.assess(ctx, p.UserID, since)
	if err != nil {
		return Withdrawal{}, err
	}
	risk.EmailVerified = verified
	id := s.newID()
	if r.Key != "" {
		id = idgen.Derive("withdrawal", p.UserID, r.Key)
	}
	w := Withdrawal{
		ID: id, Worker: Worker{ID: p.UserID, Name: name, Email: email}, Coins: r.Coins,
		Amount: s.pricing.PayoutCents(r.Coins), System: strings.ToLower(r.System), AccountNumber: r.AccountNumber,
		Status: StatusPending, CreatedAt: s.clock(), Risk: &risk,
	}
	_, err = s.hold.Run(ctx, s.ops, w.ID, ledger.Move(ledger.UserAccount(p.UserID), ledger.HoldAccount(w.ID), w.Coins),
		subject{Withdrawal: w})
	if err != nil {
		return Withdrawal{}, fmt.Errorf("hold coins for withdrawal %s: %w", w.ID, err)
	}
	s.log.InfoContext(ctx, "withdrawal requested", "withdrawal_id", w.ID, "coins", int64(w.Coins))
	return s.store.ByID(ctx, w.ID)
}

// settleHold inserts the withdrawal once its coins are held.
func (s *Service) settleHold(ctx context.Context, op operation.Op[subject]) error {
	return s.store.Insert(ctx, op.Data.Withdrawal)
}

// Approve pays a pending withdrawal out (admins only): its held coins go to
// the payout account.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id string) (Withdrawal, error) {
	return s.decide(ctx, p, id, s.pay, "")
}

// Reject gives a pending withdrawal's coins back to the worker (admins
// only), with a reason for them.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (Withdrawal, error) {
	return s.decide(ctx, p, id, s.refund, strings.TrimSpace(reason))
}

func (s *Service) decide(ctx context.Context, p auth.Principal, id string, kind operation.Kind[subject], reason string) (Withdrawal, error) {
	if !p.Is(auth.RoleAdmin) {
		return Withdrawal{}, auth.ErrWrongRole
	}
	w, err := s.store.ByID(ctx, id)
	if err != nil {
		return Withdrawal{}, fmt.Errorf("read withdrawal %s: %w", id, err)
	}
	if w.Status != StatusPending {
		return Withdrawal{}, ErrAlreadyDecided
	}
	to := ledger.Payout
	if kind.Name == s.refund.Name {
		to = ledger.UserAccount(w.Worker.ID)
	}
	res, err := kind.Run(ctx, s.ops, w.ID, ledger.Move(ledger.HoldAccount(w.ID), to, w.Coins), subject{Withdrawal: w, Reason: reason, By: p.UserID})
	if errors.Is(err, operation.ErrCancelled) || (err == nil && res.Replayed) {
		return Withdrawal{}, ErrAlreadyDecided // decided the other way, or the same way by a concurrent call
	}
	if err != nil {
		return Withdrawal{}, err
	}
	s.log.InfoContext(ctx, "withdrawal decided", "withdrawal_id", w.ID, "op", res.ID)
	return s.store.ByID(ctx, id)
}

func (s *Service) commitDecision(to Status) func(context.Context, operation.Op[subject]) (bool, error) {
	return func(ctx context.Context, op operation.Op[subject]) (bool, error) {
		return s.store.Decide(ctx, Decision{Op: op.ID, ID: op.Data.Withdrawal.ID, To: to, Reason: op.Data.Reason, By: op.Data.By, At: s.clock()})
	}
}

// settleDecision records the admin's decision and tells the worker.
func (s *Service) settleDecision(ctx context.Context, op operation.Op[subject]) error {
	w := op.Data.Withdrawal
	refund := strings.HasPrefix(op.ID, s.refund.Name+":")
	if op.Data.By != "" { // operations from before actions were recorded name no admin
		e := adminlog.Entry{ID: op.ID, AdminID: op.Data.By, Kind: adminlog.WithdrawalApproved, TargetType: "withdrawal", TargetID: w.ID,
			Summary: fmt.Sprintf("%d coins (%s) paid out to %s %s", w.Coins, w.Amount, w.System, w.AccountNumber), Reason: op.Data.Reason, At: op.At}
		if refund {
			e.Kind, e.Summary = adminlog.WithdrawalRejected, fmt.Sprintf("%d coins given back to the worker", w.Coins)
		}
		if err := s.admins.Record(ctx, e); err != nil {
			return err
		}
	}
	msg, typ := fmt.Sprintf("Your withdrawal of %d coins (%s) to %s was paid out.", w.Coins, w.Amount, w.System), notification.WithdrawalPaid
	if refund {
		typ = notification.WithdrawalRejected
		msg = fmt.Sprintf("Your withdrawal of %d coins was rejected and the coins are back in your balance.", w.Coins)
		if r := op.Data.Reason; r != "" {
			msg = fmt.Sprintf("Your withdrawal of %d coins was rejected (%s); the coins are back in your balance.", w.Coins, r)
		}
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: w.Worker.ID, Type: typ, Page: notification.Withdrawals, CreatedAt: op.At, Message: msg,
	})
}

// Get returns one withdrawal, to its worker or an admin; to anyone else it
// does not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Withdrawal, error) {
	w, err := s.store.ByID(ctx, id)
	if err != nil {
		return Withdrawal{}, fmt.Errorf("read withdrawal %s: %w", id, err)
	}
	if w.Worker.ID != p.UserID && !p.Is(auth.RoleAdmin) {
		return Withdrawal{}, ErrNotFound
	}
	return w, nil
}

// Mine returns a page of the worker's withdrawals, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Withdrawal], error) {
	items, total, err := s.store.ListByWorker(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Withdrawal]{}, fmt.Errorf("list withdrawals of worker %s: %w", p.UserID, err)
	}
	return page.Of[Withdrawal]{Items: items, Request: r, Total: total}, nil
}

// History returns a page of the withdrawals matching f, newest first, with
// who decided them and when (admins).
func (s *Service) History(ctx context.Context, p auth.Principal, f Filter, r page.Request) (page.Of[Withdrawal], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Withdrawal]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Withdrawal]{}, fmt.Errorf("list withdrawals: %w", err)
	}
	return page.Of[Withdrawal]{Items: items, Request: r, Total: total}, nil
}

// Pending returns a page of the pending withdrawals in order (admins).
func (s *Service) Pending(ctx context.Context, p auth.Principal, order Order, r page.Request) (page.Of[Withdrawal], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Withdrawal]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.ListPending(ctx, order, r)
	if err != nil {
		return page.Of[Withdrawal]{}, fmt.Errorf("list pending withdrawals: %w", err)
	}
	return page.Of[Withdrawal]{Items: items, Request: r, Total: total}, nil
}
