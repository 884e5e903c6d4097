package payment

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
	"microtask/internal/invoice"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/webhook"
)

// Service runs purchases.
type Service struct {
	store    Store
	blocks   BlockStore
	gateway  Gateway
	webhooks Webhooks // nil with the dummy gateway: the buyer confirms
	ops      operation.Runner
	balances Balances
	notify   Notifier
	events   Events
	invoices Invoices
	admins   Admins
	log      *slog.Logger
	now      func() time.Time
	newID    func() string
	pricing  money.Pricing // the packages on sale
	adminLog adminlog.Recorder

	purchase operation.Kind[purchase]
	clawback operation.Kind[clawback]
}

// Provider names the configured gateway ("stripe" or DummyProvider), or is
// "none" when purchases are not configured.
func (s *Service) Provider() string {
	if s.gateway == nil {
		return "none"
	}
	return s.gateway.Name()
}

// Packages returns the coin packages on sale, smallest first.
func (s *Service) Packages() []Package { return slices.Clone(s.pricing.Packages) }

// purchase is the data of the operation that credits a payment's coins.
type purchase struct {
	PaymentID, SessionID, UserID string
	PaymentIntentID              string
	Coins                        money.Coins
	Amount                       money.Cents
}

// DummyProvider is the dummy gateway's name: its payments are confirmed by
// their buyer, so their coins are not revenue.
const DummyProvider = "dummy"

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Blocks BlockStore
	// Gateway is nil when no gateway is configured, and then purchases
	// answer ErrNotConfigured. Webhooks is nil when the gateway is the
	// dummy one, which is what enables Confirm.
	Gateway  Gateway
	Webhooks Webhooks
	Ops      operation.Runner
	Balances Balances
	Notify   Notifier
	Events   Events // tells buyers' webhooks of completed payments
	Invoices Invoices
	Admins   Admins
	AdminLog adminlog.Recorder // records admins' clearing of blocks
	Pricing  money.Pricing     // the packages on sale
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, blocks: d.Blocks, gateway: d.Gateway, webhooks: d.Webhooks, ops: d.Ops, balances: d.Balances,
		notify: d.Notify, events: d.Events, invoices: d.Invoices, admins: d.Admins, log: d.Log, now: now, newID: idgen.New, pricing: d.Pricing, adminLog: d.AdminLog}
	// purchase:<checkout session> credits purchased coins, once per session.
	s.purchase = operation.Kind[purchase]{Name: "purchase", Commit: s.commitPurchase, Settle: s.settlePurchase}
	// clawback:<payment>:<refunded cents>[:disputed] takes coins back after
	// a refund or a dispute, once per state of the payment's reversal. It
	// may run again after failing: its debit was worked out from a balance
	// that the buyer spent from before it applied.
	s.clawback = operation.Kind[clawback]{Name: "clawback", Commit: s.commitClawback, Revert: s.revertClawback,
		Settle: s.settleClawback, Retry: true}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.purchase.Define(), s.clawback.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Create starts a purchase of one of the packages and returns the payment
// with the URL where the buyer pays. With an idempotency key, asking again
// returns the same payment.
func (s *Service) Create(ctx context.Context, p auth.Principal, coins int64, key string) (Payment, error) {
	if !p.Is(auth.RoleBuyer) {
		return Payment{}, auth.ErrWrongRole
	}
	if s.gateway == nil {
		return Payment{}, ErrNotConfigured
	}
	pkg, ok := s.pricing.Package(money.Coins(coins))
	if !ok {
		return Payment{}, ErrBadPackage
	}
	blocked, err := s.blocks.Blocked(ctx, p.UserID)
	if err != nil {
		return Payment{}, fmt.Errorf("check purchase block of user %s: %w", p.UserID, err)
	}
	if blocked {
		return Payment{}, ErrPurchasesBlocked
	}
	pay := Payment{
		ID: s.newID(), UserID: p.UserID, Coins: pkg.Coins, Amount: pkg.Price, Currency: Currency,
		Provider: s.gateway.Name(), Status: StatusPending, CreatedAt: s.clock(), IdempotencyKey: key,
	}
	if key == "" {
		pay.IdempotencyKey = pay.ID // unique, so the unique index on (user, key) holds without one
	}
	err = s.store.Insert(ctx, pay)
	if errors.Is(err, ErrKeyTaken) {
		return s.sameKey(ctx, p.UserID, key, pkg)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("insert payment %s: %w", pay.ID, err)
	}
	return s.startCheckout(ctx, pay)
}

// startCheckout starts the gateway's checkout of a pending payment. If the
// gateway cannot be reached, the payment fails and the buyer is told to try
// again: with the same idempotency key, the same payment starts again.
func (s *Service) startCheckout(ctx context.Context, pay Payment) (Payment, error) {
	sess, err := s.gateway.Start(ctx, Checkout{PaymentID: pay.ID, UserID: pay.UserID, Coins: pay.Coins, Amount: pay.Amount, Currency: pay.Currency})
	if err != nil {
		s.log.ErrorContext(ctx, "start checkout", "payment_id", pay.ID, "provider", pay.Provider, "err", err)
		if err := s.store.MarkFailed(context.WithoutCancel(ctx), pay.ID); err != nil {
			s.log.ErrorContext(ctx, "mark payment failed", "payment_id", pay.ID, "err", err)
		}
		return Payment{}, ErrUnavailable
	}
	if err := s.store.SetSession(ctx, pay.ID, sess); err != nil {
		return Payment{}, fmt.Errorf("record checkout session of payment %s: %w", pay.ID, err)
	}
	pay.SessionID, pay.CheckoutURL = sess.ID, sess.URL
	s.log.InfoContext(ctx, "payment started", "payment_id", pay.ID, "coins", int64(pay.Coins), "provider", pay.Provider)
	return pay, nil
}

// sameKey answers a purchase whose idempotency key the buyer already used.
func (s *Service) sameKey(ctx context.Context, userID, key string, pkg Package) (Payment, error) {
	prev, err := s.store.ByKey(ctx, userID, key)
	if err != nil {
		return Payment{}, fmt.Errorf("read payment of user %s by idempotency key: %w", userID, err)
	}
	switch {
	case prev.Coins != pkg.Coins:
		return Payment{}, ErrKeyReused
	case prev.Status == StatusPending && prev.CheckoutURL == "":
		return Payment{}, ErrInProgress // the first request is still starting its checkout
	case prev.Status == StatusFailed && prev.SessionID == "":
		// The gateway could not be reached the first time: try again,
		// unless a concurrent retry already does.
		ok, err := s.store.Reopen(ctx, prev.ID)
		if err != nil {
			return Payment{}, fmt.Errorf("reopen payment %s: %w", prev.ID, err)
		}
		if !ok {
			return Payment{}, ErrInProgress
		}
		prev.Status = StatusPending
		return s.startCheckout(ctx, prev)
	}
	return prev, nil
}

// Get returns a payment to its buyer or an admin; to anyone else it is not
// found, as if it did not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Payment, error) {
	pay, err := s.store.ByID(ctx, id)
	if err != nil {
		return Payment{}, fmt.Errorf("read payment %s: %w", id, err)
	}
	if pay.UserID != p.UserID && !p.Is(auth.RoleAdmin) {
		return Payment{}, ErrNotFound
	}
	return pay, nil
}

// Confirm completes a payment of the dummy gateway, as Stripe's webhook
// completes a real one. Only the payment's buyer may, and only when no real
// gateway is configured; confirming again credits nothing more.
func (s *Service) Confirm(ctx context.Context, p auth.Principal, id string) (Payment, error) {
	if s.gateway == nil {
		return Payment{}, ErrNotConfigured
	}
	if s.webhooks != nil {
		return Payment{}, ErrConfirmUnavailable
	}
	pay, err := s.store.ByID(ctx, id)
	if err != nil {
		return Payment{}, fmt.Errorf("read payment %s: %w", id, err)
	}
	if pay.UserID != p.UserID {
		return Payment{}, ErrNotFound // another buyer's payment is none of this buyer's business
	}
	if pay.Status == StatusFailed {
		return Payment{}, ErrNotPending
	}
	if err := s.complete(ctx, pay, pay.SessionID, ""); err != nil {
		return Payment{}, err
	}
	return s.store.ByID(ctx, id)
}

// HandleWebhook acts on one verified webhook delivery: a paid session
// credits its coins (once, however often it is delivered), an expired or
// failed one fails its payment, a refund or a dispute takes coins back (see
// takeBack), anything else is acknowledged and ignored.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) error {
	if s.webhooks == nil {
		return ErrNoWebhooks
	}
	ev, err := s.webhooks.Parse(payload, signature)
	if err != nil {
		return fmt.Errorf("parse webhook: %w", err)
	}
	if ev.Kind == EventIgnored {
		return nil
	}
	pay, err := s.paymentOf(ctx, ev)
	if errors.Is(err, ErrNotFound) {
		// Not a checkout of ours (another app on the same Stripe account):
		// acknowledge, or Stripe would retry it for days.
		s.log.WarnContext(ctx, "webhook for no payment of ours", "event_id", ev.ID, "session_id", ev.SessionID,
			"payment_intent", ev.PaymentIntentID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("find the payment of event %s: %w", ev.ID, err)
	}
	switch ev.Kind {
	case EventFailed:
		if err := s.store.MarkFailed(ctx, pay.ID); err != nil {
			return fmt.Errorf("mark payment %s failed: %w", pay.ID, err)
		}
		return nil
	case EventPaid:
		if ev.Amount != pay.Amount || !strings.EqualFold(ev.Currency, pay.Currency) {
			s.log.ErrorContext(ctx, "paid session does not match its payment; no coins credited",
				"event_id", ev.ID, "payment_id", pay.ID, "paid", int64(ev.Amount), "currency", ev.Currency, "due", int64(pay.Amount))
			return nil
		}
		err := s.complete(ctx, pay, ev.SessionID, ev.PaymentIntentID)
		if errors.Is(err, ErrNotPending) {
			s.log.WarnContext(ctx, "paid session for a failed payment", "payment_id", pay.ID, "session_id", ev.SessionID)
			return nil
		}
		return err
	case EventRefunded, EventDisputed:
		return s.takeBack(ctx, pay, ev)
	}
	return nil
}

// paymentOf finds the payment an event is about: by the payment ID the
// session carries in its metadata, else by the session, else (charges and
// disputes, which name only the payment intent) by the payment intent.
func (s *Service) paymentOf(ctx context.Context, ev Event) (Payment, error) {
	switch {
	case ev.PaymentID != "":
		pay, err := s.store.ByID(ctx, ev.PaymentID)
		if err == nil && pay.SessionID != "" && ev.SessionID != "" && pay.SessionID != ev.SessionID {
			return Payment{}, ErrNotFound // a session that is not this payment's
		}
		return pay, err
	case ev.SessionID != "":
		return s.store.BySession(ctx, ev.SessionID)
	case ev.PaymentIntentID != "":
		return s.paymentOfIntent(ctx, ev.PaymentIntentID)
	}
	return Payment{}, ErrNotFound
}

// paymentOfIntent finds the payment of a payment intent. A purchase records
// its payment intent when its session completes, so one read finds it. A
// payment paid before payment intents were recorded, or one whose
// checkout.session.completed has not arrived yet (Stripe's deliveries come
// in any order), does not have it: then Stripe is asked which checkout
// session created the payment intent, and the payment is found by that
// session.
func (s *Service) paymentOfIntent(ctx context.Context, paymentIntentID string) (Payment, error) {
	pay, err := s.store.ByPaymentIntent(ctx, paymentIntentID)
	if !errors.Is(err, ErrNotFound) {
		return pay, err
	}
	sessionID, paymentID, err := s.webhooks.CheckoutOf(ctx, paymentIntentID)
	if errors.Is(err, ErrNotFound) {
		return Payment{}, err
	}
	if err != nil {
		// Answering 503 makes Stripe deliver the event again later.
		s.log.ErrorContext(ctx, "ask Stripe for the session of a payment intent", "payment_intent", paymentIntentID, "err", err)
		return Payment{}, ErrUnavailable
	}
	if sessionID == "" {
		return Payment{}, ErrNotFound
	}
	pay, err = s.paymentOf(ctx, Event{SessionID: sessionID, PaymentID: paymentID})
	if err == nil && pay.PaymentIntentID != "" && pay.PaymentIntentID != paymentIntentID {
		return Payment{}, ErrNotFound // paid through another payment intent
	}
	return pay, err
}

// complete credits a payment's coins with one ledger operation per checkout
// session, whose commit marks the payment paid.
func (s *Service) complete(ctx context.Context, pay Payment, sessionID, paymentIntentID string) error {
	_, err := s.purchase.Run(ctx, s.ops, sessionID, ledger.Move(ledger.Mint, ledger.UserAccount(pay.UserID), pay.Coins),
		purchase{PaymentID: pay.ID, SessionID: sessionID, PaymentIntentID: paymentIntentID, UserID: pay.UserID, Coins: pay.Coins, Amount: pay.Amount})
	if errors.Is(err, operation.ErrCancelled) {
		return ErrNotPending
	}
	if err != nil {
		return fmt.Errorf("credit payment %s: %w", pay.ID, err)
	}
	return nil
}

func (s *Service) commitPurchase(ctx context.Context, op operation.Op[purchase]) (bool, error) {
	return s.store.MarkPaid(ctx, op.Data.PaymentID, op.ID, Paid{SessionID: op.Data.SessionID, PaymentIntentID: op.Data.PaymentIntentID, At: s.clock()})
}

func (s *Service) settlePurchase(ctx context.Context, op operation.Op[purchase]) error {
	d := op.Data
	if err := s.events.Emit(ctx, d.UserID, webhook.PaymentCompleted, op.ID, op.At,
		webhook.PaymentData{ID: d.PaymentID, Coins: d.Coins, Amount: d.Amount, PaidAt: op.At}); err != nil {
		return fmt.Errorf("tell of payment %s: %w", d.PaymentID, err)
	}
	// The platform sold the coins, at the price the buyer paid; the
	// operation's id names the invoice, once.
	if _, err := s.invoices.Issue(ctx, invoice.Request{
		Ref: op.ID, SellerID: invoice.Platform, BuyerID: d.UserID, Date: op.At, Paid: d.Amount,
		Lines: []invoice.Line{{Description: fmt.Sprintf("%d coins", d.Coins), Coins: d.Coins}},
	}); err != nil {
		return fmt.Errorf("invoice payment %s: %w", d.PaymentID, err)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: op.Data.UserID, Type: notification.PaymentCompleted, Page: notification.PaymentHistory, CreatedAt: op.At,
		Message: fmt.Sprintf("Your payment of %s went through: %d coins are yours.", op.Data.Amount, op.Data.Coins),
	})
}

// History returns a page of the buyer's payments, newest first.
func (s *Service) History(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Payment], error) {
	items, total, err := s.store.List(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Payment]{}, fmt.Errorf("list payments of user %s: %w", p.UserID, err)
	}
	return page.Of[Payment]{Items: items, Request: r, Total: total}, nil
}
