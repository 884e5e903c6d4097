package withdrawal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// Operation kinds this package registers with the ledger.
const (
	holdKind    = "withdraw"        // worker -> hold:<id>, when requested
	approveKind = "withdraw-pay"    // hold -> world:payout
	rejectKind  = "withdraw-refund" // hold -> worker
)

// Service applies the withdrawal rules.
type Service struct {
	store   Store
	ledger  Ledger
	notify  Notifier
	users   Users
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
	systems []string
}

// NewService returns a Service accepting the given payment systems, and
// registers its ledger hooks. now may be nil for time.Now.
func NewService(store Store, l Ledger, n Notifier, users Users, systems []string, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, ledger: l, notify: n, users: users, log: log, now: now, newID: idgen.New, systems: systems}
	l.Handle(holdKind, ledger.Hook{Settle: s.settleHold})
	l.Handle(approveKind, ledger.Hook{Commit: s.commitDecision(StatusApproved), Settle: s.settleDecision})
	l.Handle(rejectKind, ledger.Hook{Commit: s.commitDecision(StatusRejected), Settle: s.settleDecision})
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Systems returns the payment systems workers may withdraw to.
func (s *Service) Systems() []string { return slices.Clone(s.systems) }

// Request is a worker's withdrawal request.
type Request struct {
	Coins         money.Coins
	System        string
	AccountNumber string
}

// Request asks for a payout: at least money.MinWithdrawal coins, at most the
// worker's balance, which they leave at once for the withdrawal's hold.
func (s *Service) Request(ctx context.Context, p auth.Principal, r Request) (Withdrawal, error) {
	if !p.Is(auth.RoleWorker) {
		return Withdrawal{}, auth.ErrWrongRole
	}
	var fields []apperr.FieldError
	if r.Coins < money.MinWithdrawal {
		fields = append(fields, apperr.FieldError{Field: "withdrawal_coin", Message: fmt.Sprintf("must be at least %d", money.MinWithdrawal)})
	}
	if !slices.Contains(s.systems, strings.ToLower(r.System)) {
		fields = append(fields, apperr.FieldError{Field: "payment_system", Message: "must be one of: " + strings.Join(s.systems, ", ")})
	}
	if len(fields) > 0 {
		return Withdrawal{}, apperr.InvalidFields(fields...)
	}
	name, email, err := s.users.Contact(ctx, p.UserID)
	if err != nil {
		return Withdrawal{}, err
	}
	w := Withdrawal{
		ID: s.newID(), Worker: Worker{ID: p.UserID, Name: name, Email: email}, Coins: r.Coins,
		Amount: money.PayoutCents(r.Coins), System: strings.ToLower(r.System), AccountNumber: r.AccountNumber,
		Status: StatusPending, CreatedAt: s.clock(),
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return Withdrawal{}, err
	}
	_, err = s.ledger.Post(ctx, ledger.Transfer{
		ID:       holdKind + ":" + w.ID,
		Postings: ledger.Move(ledger.UserAccount(p.UserID), ledger.HoldAccount(w.ID), w.Coins),
		// The account number stays out of the permanent journal.
		Private: map[string]string{"withdrawal": string(payload)},
	})
	if err != nil {
		return Withdrawal{}, err
	}
	s.log.InfoContext(ctx, "withdrawal requested", "withdrawal_id", w.ID, "coins", int64(w.Coins))
	return s.store.ByID(ctx, w.ID)
}

// settleHold inserts the withdrawal once its coins are held.
func (s *Service) settleHold(ctx context.Context, tr ledger.Transfer) error {
	var w Withdrawal
	if err := json.Unmarshal([]byte(tr.Private["withdrawal"]), &w); err != nil {
		return fmt.Errorf("withdrawal of %s: %w", tr.ID, err)
	}
	return s.store.Insert(ctx, w)
}

// Approve pays a pending withdrawal out (admins only): its held coins go to
// the payout account.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id string) (Withdrawal, error) {
	return s.decide(ctx, p, id, approveKind, "")
}

// Reject gives a pending withdrawal's coins back to the worker (admins
// only), with a reason for them.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (Withdrawal, error) {
	return s.decide(ctx, p, id, rejectKind, strings.TrimSpace(reason))
}

func (s *Service) decide(ctx context.Context, p auth.Principal, id, kind, reason string) (Withdrawal, error) {
	if !p.Is(auth.RoleAdmin) {
		return Withdrawal{}, auth.ErrWrongRole
	}
	w, err := s.store.ByID(ctx, id)
	if err != nil {
		return Withdrawal{}, err
	}
	if w.Status != StatusPending {
		return Withdrawal{}, ErrAlreadyDecided
	}
	to := ledger.Payout
	if kind == rejectKind {
		to = ledger.UserAccount(w.Worker.ID)
	}
	tr, err := s.ledger.Post(ctx, ledger.Transfer{
		ID:       kind + ":" + w.ID,
		Postings: ledger.Move(ledger.HoldAccount(w.ID), to, w.Coins),
		Meta: map[string]string{"withdrawal": w.ID, "worker": w.Worker.ID, "reason": reason,
			"coins": strconv.FormatInt(int64(w.Coins), 10), "amount": w.Amount.String(), "system": w.System},
	})
	if errors.Is(err, ledger.ErrCancelled) || (err == nil && tr.Replayed) {
		return Withdrawal{}, ErrAlreadyDecided // decided the other way, or the same way by a concurrent call
	}
	if err != nil {
		return Withdrawal{}, err
	}
	s.log.InfoContext(ctx, "withdrawal decided", "withdrawal_id", w.ID, "op", kind)
	return s.store.ByID(ctx, id)
}

func (s *Service) commitDecision(to Status) func(context.Context, ledger.Transfer) (bool, error) {
	return func(ctx context.Context, tr ledger.Transfer) (bool, error) {
		return s.store.Decide(ctx, Decision{Op: tr.ID, ID: tr.Meta["withdrawal"], To: to, Reason: tr.Meta["reason"], At: s.clock()})
	}
}

func (s *Service) settleDecision(ctx context.Context, tr ledger.Transfer) error {
	msg := fmt.Sprintf("Your withdrawal of %s coins (%s) to %s was paid out.", tr.Meta["coins"], tr.Meta["amount"], tr.Meta["system"])
	if tr.Kind() == rejectKind {
		msg = fmt.Sprintf("Your withdrawal of %s coins was rejected and the coins are back in your balance.", tr.Meta["coins"])
		if r := tr.Meta["reason"]; r != "" {
			msg = fmt.Sprintf("Your withdrawal of %s coins was rejected (%s); the coins are back in your balance.", tr.Meta["coins"], r)
		}
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: tr.Meta["worker"], ActionRoute: "/dashboard/withdrawals", CreatedAt: tr.UpdatedAt, Message: msg,
	})
}

// Mine returns a page of the worker's withdrawals, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Withdrawal], error) {
	items, total, err := s.store.ListByWorker(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Withdrawal]{}, err
	}
	return page.Of[Withdrawal]{Items: items, Request: r, Total: total}, nil
}

// Pending returns a page of the pending withdrawals, oldest first (admins).
func (s *Service) Pending(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Withdrawal], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Withdrawal]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.ListPending(ctx, r)
	if err != nil {
		return page.Of[Withdrawal]{}, err
	}
	return page.Of[Withdrawal]{Items: items, Request: r, Total: total}, nil
}
