package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
)

// clawback is the data of the operation that takes coins back after a
// refund or a dispute: the payment's reversal goes from From to To, and
// the step moves To.Taken - From.Taken coins.
type clawback struct {
	PaymentID, UserID, PaymentIntentID string
	Coins                              money.Coins // the payment's, for the messages
	Amount                             money.Cents
	From, To                           Reversal
}

func (c clawback) taken() money.Coins     { return c.To.Taken - c.From.Taken }
func (c clawback) shortfall() money.Coins { return c.To.Shortfall - c.From.Shortfall }

// clawbackAttempts bounds how often one delivery works out its clawback
// again when the payment or the buyer's balance changed under it; then it
// answers operation_in_progress and Stripe delivers the event again later.
const clawbackAttempts = 5

// takeBack answers a refund or a dispute of a payment whose coins were
// credited. Stripe delivers events at least once and in any order, and a
// charge.refunded carries the sum of the charge's refunds, so the event is
// merged into what the payment already records (the larger refund; a
// dispute stays): a repeated or stale event changes nothing. When it does
// change something, one clawback operation takes the newly owed coins, as
// many as the buyer still holds, records the rest as a shortfall, blocks
// the buyer's purchases and tells the admins and the buyer. Nothing takes
// back more than the payment's coins in all, since what is owed only ever
// grows to Owed of the latest state.
func (s *Service) takeBack(ctx context.Context, pay Payment, ev Event) error {
	if !strings.EqualFold(ev.Currency, pay.Currency) {
		s.log.ErrorContext(ctx, "refund or dispute in another currency than its payment; nothing taken back",
			"event_id", ev.ID, "payment_id", pay.ID, "currency", ev.Currency)
		return nil
	}
	for attempt := 1; ; attempt++ {
		done, err := s.takeBackOnce(ctx, pay, ev)
		if done || err != nil {
			return err
		}
		if attempt == clawbackAttempts {
			return operation.ErrInProgress
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
		if pay, err = s.store.ByID(ctx, pay.ID); err != nil {
			return fmt.Errorf("read payment %s: %w", pay.ID, err)
		}
	}
}

// takeBackOnce works out and runs the clawback of ev on pay as read. done
// is false when it must be worked out again from a fresh read.
func (s *Service) takeBackOnce(ctx context.Context, pay Payment, ev Event) (done bool, _ error) {
	switch {
	case pay.Status == StatusPending:
		// The completion has not arrived yet (or is being credited): refusing
		// makes Stripe deliver this again, by when the coins are there to take.
		return true, ErrNotCredited
	case !pay.Status.credited():
		s.log.WarnContext(ctx, "refund or dispute of a payment that credited nothing", "event_id", ev.ID, "payment_id", pay.ID)
		return true, nil
	case pay.ClawbackOp != "":
		return false, nil // one at a time, each from where the last left the payment
	}
	to := pay.Reversal
	switch ev.Kind {
	case EventRefunded:
		to.Refunded = max(to.Refunded, min(ev.Refunded, pay.Amount))
	case EventDisputed:
		to.Disputed = true
	}
	if to == pay.Reversal {
		return true, nil // delivered again, or older than what the payment records
	}
	owed := max(pay.Owed(to)-(pay.Reversal.Taken+pay.Reversal.Shortfall), 0)
	balance, err := s.balances.Balance(ctx, ledger.UserAccount(pay.UserID))
	if err != nil {
		return true, fmt.Errorf("read balance of user %s: %w", pay.UserID, err)
	}
	taken := min(owed, max(balance, 0))
	to.Taken += taken
	to.Shortfall += owed - taken
	var postings []ledger.Posting
	if taken > 0 {
		postings = ledger.Move(ledger.UserAccount(pay.UserID), ledger.Clawback, taken)
	}
	// The id names the state reached: Refunded only grows and Disputed only
	// turns true, so each state is reached at most once per payment.
	ref := fmt.Sprintf("%s:%d", pay.ID, to.Refunded)
	if to.Disputed {
		ref += ":disputed"
	}
	_, err = s.clawback.Run(ctx, s.ops, ref, postings, clawback{PaymentID: pay.ID, UserID: pay.UserID,
		PaymentIntentID: ev.PaymentIntentID, Coins: pay.Coins, Amount: pay.Amount, From: pay.Reversal, To: to})
	switch {
	case errors.Is(err, operation.ErrCancelled), // the payment changed since it was read
		errors.Is(err, ledger.ErrInsufficientCoins), // the buyer spent coins since the balance was read
		errors.Is(err, operation.ErrReused),         // a concurrent delivery ran this step with another balance
		errors.Is(err, operation.ErrInProgress):     // or is running it now
		return false, nil
	case err != nil:
		return true, fmt.Errorf("take back coins of payment %s: %w", pay.ID, err)
	}
	s.log.InfoContext(ctx, "coins taken back", "payment_id", pay.ID, "buyer_id", pay.UserID, "event_id", ev.ID,
		"taken", int64(taken), "shortfall", int64(owed-taken))
	return true, nil
}

func (s *Service) commitClawback(ctx context.Context, op operation.Op[clawback]) (bool, error) {
	return s.store.BeginClawback(ctx, op.Data.PaymentID, op.ID, op.Data.From)
}

func (s *Service) revertClawback(ctx context.Context, op operation.Op[clawback]) error {
	return s.store.DropClawback(ctx, op.Data.PaymentID, op.ID)
}

// settleClawback records the new reversal on the payment, blocks the
// buyer's purchases and tells every admin and the buyer. Each step is safe
// to repeat: the payment changes only while op is in flight on it, the
// block only once for op, and the notifications' ids derive from op's.
func (s *Service) settleClawback(ctx context.Context, op operation.Op[clawback]) error {
	d := op.Data
	if err := s.store.EndClawback(ctx, d.PaymentID, op.ID, d.To, statusOf(d.To), d.PaymentIntentID); err != nil {
		return fmt.Errorf("end clawback of payment %s: %w", d.PaymentID, err)
	}
	reason := ReasonRefund
	if d.To.Disputed {
		reason = ReasonDispute
	}
	if err := s.blocks.Block(ctx, Block{UserID: d.UserID, PaymentID: d.PaymentID, Reason: reason, At: op.At}, op.ID); err != nil {
		return fmt.Errorf("block purchases of %s: %w", d.UserID, err)
	}
	admins, err := s.admins.AdminIDs(ctx)
	if err != nil {
		return fmt.Errorf("find the admins: %w", err)
	}
	for _, id := range admins {
		err := s.notify.Send(ctx, notification.Notification{ID: op.ID + ":" + id, UserID: id, Message: d.adminMessage(),
			Type: notification.PurchasesBlocked, Page: notification.PurchaseBlocks, CreatedAt: op.At})
		if err != nil {
			return err
		}
	}
	return s.notify.Send(ctx, notification.Notification{ID: op.ID, UserID: d.UserID, Message: d.buyerMessage(),
		Type: notification.PaymentReversed, Page: notification.PaymentHistory, CreatedAt: op.At})
}

func (c clawback) adminMessage() string {
	what := fmt.Sprintf("Stripe refunded %s of payment %s (%d coins for %s) by buyer %s.",
		c.To.Refunded, c.PaymentID, c.Coins, c.Amount, c.UserID)
	if c.To.Disputed {
		what = fmt.Sprintf("The bank of buyer %s disputes payment %s (%d coins for %s).", c.UserID, c.PaymentID, c.Coins, c.Amount)
	}
	return fmt.Sprintf("%s %d coins were taken back; %d could not be, the buyer no longer had them. "+
		"The buyer cannot buy coins until an admin clears the block.", what, c.taken(), c.shortfall())
}

func (c clawback) buyerMessage() string {
	what := fmt.Sprintf("Your payment of %s was refunded (%s in all)", c.Amount, c.To.Refunded)
	if c.To.Disputed {
		what = fmt.Sprintf("Your payment of %s is disputed with your bank", c.Amount)
	}
	return fmt.Sprintf("%s: %d of its coins were taken back. Buying coins is paused until an admin has looked at it.",
		what, c.taken())
}

// ClearBlock lets a blocked buyer buy coins again (admins only), and tells
// them. ErrNoBlock if their purchases are not blocked.
func (s *Service) ClearBlock(ctx context.Context, p auth.Principal, userID string) error {
	if !p.Is(auth.RoleAdmin) {
		return auth.ErrWrongRole
	}
	at := s.clock()
	ok, err := s.blocks.Clear(ctx, userID, p.UserID, at)
	if err != nil {
		return fmt.Errorf("clear purchase block of user %s: %w", userID, err)
	}
	if !ok {
		return ErrNoBlock
	}
	s.log.InfoContext(ctx, "purchase block cleared", "buyer_id", userID)
	// The clearing's time names it. A crash right before this loses the
	// entry (the clearing is one write, not an operation).
	if err := s.adminLog.Record(ctx, adminlog.Entry{ID: fmt.Sprintf("unblock:%s:%d", userID, at.UnixMilli()), AdminID: p.UserID,
		Kind: adminlog.PurchasesUnblocked, TargetType: "user", TargetID: userID, Summary: "purchases allowed again", At: at}); err != nil {
		s.log.ErrorContext(ctx, "record admin action", "buyer_id", userID, "err", err)
	}
	err = s.notify.Send(ctx, notification.Notification{UserID: userID, Message: "You can buy coins again.",
		Type: notification.PurchasesUnblocked, Page: notification.PurchaseCoin, CreatedAt: at})
	if err != nil {
		// The block is cleared, which is what was asked; the message is not
		// worth an error.
		s.log.ErrorContext(ctx, "tell a buyer their block is cleared", "buyer_id", userID, "err", err)
	}
	return nil
}

// Blocks returns a page of the blocked buyers, the latest blocked first
// (admins only).
func (s *Service) Blocks(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Block], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Block]{}, auth.ErrWrongRole
	}
	items, total, err := s.blocks.List(ctx, r)
	if err != nil {
		return page.Of[Block]{}, fmt.Errorf("list purchase blocks: %w", err)
	}
	return page.Of[Block]{Items: items, Request: r, Total: total}, nil
}
