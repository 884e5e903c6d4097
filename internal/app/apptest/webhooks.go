package apptest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"microtask/internal/app"
	"microtask/internal/checkout"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/payment"
	"microtask/internal/platform/logging"
)

// Webhooks is a payment.Webhooks for the service and crash tests, which
// need events, not signatures: a payload is a payment.Event as JSON
// (Payload), and CheckoutOf answers with the sessions the test tells it
// about (Knows). The HTTP tests use checkout.Stripe and signed events.
type Webhooks struct {
	mu       sync.Mutex
	sessions map[string][2]string // payment intent -> session, payment
}

var _ payment.Webhooks = (*Webhooks)(nil)

// WithWebhooks configures the services to take webhooks through w, which
// turns the dummy gateway's confirmation off, as Stripe does.
func WithWebhooks(w *Webhooks) func(*app.Config) {
	return func(c *app.Config) { c.Webhooks = w }
}

// Payload is the webhook payload that w parses into ev.
func Payload(ev payment.Event) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // an Event is strings and numbers
	}
	return b
}

// Parse implements payment.Webhooks: every payload verifies.
func (w *Webhooks) Parse(payload []byte, _ string) (payment.Event, error) {
	var ev payment.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return payment.Event{}, payment.ErrBadSignature
	}
	return ev, nil
}

// Knows makes CheckoutOf answer that session created the payment intent.
func (w *Webhooks) Knows(paymentIntentID, sessionID, paymentID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sessions == nil {
		w.sessions = map[string][2]string{}
	}
	w.sessions[paymentIntentID] = [2]string{sessionID, paymentID}
}

// CheckoutOf implements payment.Webhooks.
func (w *Webhooks) CheckoutOf(_ context.Context, paymentIntentID string) (string, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[paymentIntentID]
	if !ok {
		return "", "", payment.ErrNotFound
	}
	return s[0], s[1], nil
}

// Paid is the event of pay's checkout session paid in full, through a
// payment intent named after the payment.
func Paid(pay payment.Payment) payment.Event {
	return payment.Event{ID: "evt_paid_" + pay.ID, Kind: payment.EventPaid, SessionID: pay.SessionID, PaymentID: pay.ID,
		PaymentIntentID: "pi_" + pay.ID, Amount: pay.Amount, Currency: pay.Currency}
}

// PaymentsRacingASpender returns a second payment service on e's stores
// and engine whose first balance read reports extra coins more than the
// buyer has: as if they spent those between the read and the debit worked
// out from it. Operations it runs are the kinds e registered, on the same
// documents.
func (e *Env) PaymentsRacingASpender(w payment.Webhooks, extra money.Coins) *payment.Service {
	return payment.NewService(payment.Deps{
		Store: e.Stores.Payments, Blocks: e.Stores.PurchaseBlocks, Gateway: checkout.Dummy{}, Webhooks: w, Ops: e.Operations,
		Balances: &staleBalance{ledger: e.Ledger, extra: extra}, Notify: e.Notifications, Admins: e.Users, AdminLog: e.AdminLog,
		Pricing: money.DefaultPricing(), Log: logging.Discard(), Now: e.Clock.Now,
	})
}

type staleBalance struct {
	ledger *ledger.Ledger
	extra  money.Coins
	read   atomic.Bool
}

func (s *staleBalance) Balance(ctx context.Context, account string) (money.Coins, error) {
	b, err := s.ledger.Balance(ctx, account)
	if s.read.CompareAndSwap(false, true) {
		b += s.extra
	}
	return b, err
}
