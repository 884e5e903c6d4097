// Package payment sells coins to buyers: the packages and their prices,
// checkouts through a gateway (Stripe Checkout, or the dummy gateway that
// needs no account), and crediting the coins once a payment is confirmed,
// by Stripe's verified webhook or, with the dummy gateway, by the buyer.
package payment

import (
	"context"
	"errors"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/invoice"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/webhook"
)

// Package is a number of coins for a price; the packages on sale are the
// configured money.Pricing's.
type Package = money.Package

// Status is where a payment is.
type Status string

// The statuses.
const (
	StatusPending Status = "pending"
	StatusPaid    Status = "paid"
	StatusFailed  Status = "failed"
	// StatusRefunded and StatusDisputed follow paid: Stripe refunded some
	// or all of the payment, or the buyer's bank disputes it (which wins
	// over refunded). Either way coins were taken back (see Reversal).
	StatusRefunded Status = "refunded"
	StatusDisputed Status = "disputed"
)

// credited reports whether a payment in this status credited its coins.
func (s Status) credited() bool {
	return s == StatusPaid || s == StatusRefunded || s == StatusDisputed
}

// Currency is the only currency on sale.
const Currency = "usd"

// Payment is one purchase of coins.
type Payment struct {
	ID              string
	UserID          string
	Coins           money.Coins
	Amount          money.Cents
	Currency        string
	Provider        string // the gateway's name: "stripe" or DummyProvider
	SessionID       string // the gateway's checkout session
	PaymentIntentID string // Stripe's, recorded when paid: refunds and disputes name the payment by it
	CheckoutURL     string // where the buyer pays
	IdempotencyKey  string // the client's Idempotency-Key, or the payment's ID
	Status          Status
	CreatedAt       time.Time
	PaidAt          time.Time // zero until paid
	Reversal        Reversal  // zero unless refunded or disputed
	// ClawbackOp is the clawback operation in flight on the payment, if
	// any: they run one at a time, each from the Reversal the last left.
	ClawbackOp string
}

// Reversal is what Stripe has given back of a payment, and what the
// platform has taken back of its coins in turn.
type Reversal struct {
	Refunded money.Cents // the sum of the charge's refunds
	Disputed bool
	// Taken are the coins moved from the buyer's balance to the ledger's
	// clawback account; Shortfall are those owed that the buyer no longer
	// held (spent on tasks, say). Together they are always Owed.
	Taken, Shortfall money.Coins
}

// Owed is how many of a payment's coins its buyer owes back once Stripe
// has given back r: all of them after a dispute, else the refunded share
// of the price. The share is rounded up (in the platform's favour), so that
// the buyer never keeps a coin nobody paid for; it is computed from the
// sum of the refunds, not refund by refund, so rounding costs the buyer
// less than one coin per payment however many partial refunds there are.
func (p Payment) Owed(r Reversal) money.Coins {
	switch {
	case r.Disputed || r.Refunded >= p.Amount:
		return p.Coins
	case r.Refunded <= 0 || p.Amount <= 0:
		return 0
	}
	return money.Coins((int64(p.Coins)*int64(r.Refunded) + int64(p.Amount) - 1) / int64(p.Amount))
}

// statusOf is the status of a paid payment once Stripe has given back r.
func statusOf(r Reversal) Status {
	switch {
	case r.Disputed:
		return StatusDisputed
	case r.Refunded > 0:
		return StatusRefunded
	}
	return StatusPaid
}

// Reason is why a buyer's purchases are blocked.
type Reason string

// The reasons.
const (
	ReasonRefund  Reason = "refund"
	ReasonDispute Reason = "dispute"
)

// Block is a buyer's purchases blocked after a refund or a dispute, until
// an admin clears it.
type Block struct {
	UserID    string
	PaymentID string // the payment whose refund or dispute blocked them last
	Reason    Reason
	At        time.Time
}

// Paid is what a purchase records on its payment.
type Paid struct {
	SessionID       string
	PaymentIntentID string // empty with the dummy gateway
	At              time.Time
}

// Checkout is what a gateway needs to start a checkout.
type Checkout struct {
	PaymentID string
	UserID    string
	Coins     money.Coins
	Amount    money.Cents
	Currency  string
}

// Session is a started checkout.
type Session struct {
	ID  string
	URL string
}

// Gateway starts checkouts. checkout.Stripe and checkout.Dummy implement it.
type Gateway interface {
	Name() string
	// Start opens a checkout session for c; an apperr of kind Unavailable
	// (or any error) if the provider cannot.
	Start(ctx context.Context, c Checkout) (Session, error)
}

// EventKind says what a verified webhook event means for a payment.
type EventKind int

// The kinds of webhook events.
const (
	EventIgnored  EventKind = iota // nothing to do
	EventPaid                      // the session is paid
	EventFailed                    // the session expired or its payment failed
	EventRefunded                  // the charge was refunded, in part or in full
	EventDisputed                  // the buyer's bank disputes the charge
)

// Event is a verified webhook event, in the payment package's terms.
// Session events name the checkout session (and the payment, in its
// metadata); charge and dispute events name only the payment intent.
type Event struct {
	ID              string // the provider's event ID, for the logs
	Kind            EventKind
	SessionID       string
	PaymentID       string // from the session's metadata, if present
	PaymentIntentID string
	Amount          money.Cents // the session's total, the charge's amount, or the disputed amount
	Refunded        money.Cents // of a refunded charge: every refund so far, not only the latest
	Currency        string
}

// Webhooks verifies and reads webhook deliveries. checkout.Stripe
// implements it.
type Webhooks interface {
	// Parse checks the signature header against the payload and returns the
	// event. ErrBadSignature if it does not verify.
	Parse(payload []byte, signature string) (Event, error)
	// CheckoutOf asks the provider which checkout session created a payment
	// intent, and returns it with the payment ID from its metadata (empty if
	// it has none). ErrNotFound if none did; any other error means the
	// provider could not be asked.
	CheckoutOf(ctx context.Context, paymentIntentID string) (sessionID, paymentID string, err error)
}

// Errors.
var (
	ErrNotFound     = apperr.New(apperr.NotFound, "payment_not_found", "no such payment")
	ErrBadPackage   = apperr.InvalidFields(apperr.FieldError{Field: "coins", Message: "must be the coins of one of the packages (GET /api/payments/packages)"})
	ErrBadSignature = apperr.New(apperr.Malformed, "invalid_signature",
		"the Stripe-Signature header does not verify this payload")
	ErrKeyReused = apperr.New(apperr.Conflict, "idempotency_key_reused",
		"this Idempotency-Key was used for a different purchase")
	ErrInProgress = apperr.New(apperr.Conflict, "operation_in_progress",
		"a purchase with this Idempotency-Key is still being started; retry in a moment")
	ErrUnavailable = apperr.New(apperr.Unavailable, "payment_provider_unavailable",
		"the payment provider cannot be reached; try again later")
	ErrConfirmUnavailable = apperr.New(apperr.NotFound, "confirm_not_available",
		"payments are confirmed by the payment provider, not by the client")
	ErrNotPending    = apperr.New(apperr.Conflict, "payment_not_pending", "the payment is no longer pending")
	ErrNotConfigured = apperr.New(apperr.Unavailable, "payments_not_configured",
		"coin purchases are not configured on this server")
	ErrNoWebhooks = apperr.New(apperr.NotFound, "webhooks_not_configured",
		"this server takes no payment webhooks: Stripe is not configured")
	ErrPurchasesBlocked = apperr.New(apperr.Forbidden, "purchases_blocked",
		"buying coins is blocked after a refund or a dispute of an earlier purchase, until an admin clears it")
	ErrNotCredited = apperr.New(apperr.Conflict, "payment_not_credited",
		"the payment's coins are not credited yet; deliver the event again later")
	ErrNoBlock = apperr.New(apperr.NotFound, "purchase_block_not_found", "this user's purchases are not blocked")
	// ErrKeyTaken is Store.Insert's answer for an idempotency key in use.
	ErrKeyTaken = errors.New("idempotency key taken")
)

// Store persists payments. storage.PaymentStore implements it.
type Store interface {
	// Insert adds p. ErrKeyTaken if the user has a payment with its
	// idempotency key.
	Insert(ctx context.Context, p Payment) error
	// ByID returns a payment. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Payment, error)
	// ByKey returns the user's payment with this idempotency key.
	// ErrNotFound if none.
	ByKey(ctx context.Context, userID, key string) (Payment, error)
	// BySession returns the payment of a checkout session. ErrNotFound if
	// none.
	BySession(ctx context.Context, sessionID string) (Payment, error)
	// ByPaymentIntent returns the payment recorded with this payment intent.
	// ErrNotFound if none.
	ByPaymentIntent(ctx context.Context, paymentIntentID string) (Payment, error)
	// SetSession records a payment's checkout session.
	SetSession(ctx context.Context, id string, s Session) error
	// MarkPaid commits a purchase: a pending payment becomes paid, with its
	// session and payment intent (if known), recording op. True if it did
	// now or had already.
	MarkPaid(ctx context.Context, id, op string, s Paid) (bool, error)
	// MarkFailed makes a pending payment failed.
	MarkFailed(ctx context.Context, id string) error
	// BeginClawback commits a clawback: a payment whose coins were credited,
	// with no clawback in flight and whose refunds and dispute are still
	// those of from, records op as its clawback in flight. True if it did
	// now or had already.
	BeginClawback(ctx context.Context, id, op string, from Reversal) (bool, error)
	// EndClawback settles the clawback op in flight: the payment takes the
	// reversal to, its status and (if not empty) the payment intent, and
	// has no clawback in flight. Nothing if op is not in flight (any more).
	EndClawback(ctx context.Context, id, op string, to Reversal, status Status, paymentIntentID string) error
	// DropClawback reverts BeginClawback: op is no longer in flight, nor
	// recorded, so it may begin again.
	DropClawback(ctx context.Context, id, op string) error
	// Reopen makes pending again a payment that failed before it had a
	// checkout session (the gateway could not be reached). False if it is
	// not such a payment (any more).
	Reopen(ctx context.Context, id string) (bool, error)
	// List returns a page of a user's payments, newest first, and their
	// count.
	List(ctx context.Context, userID string, p page.Request) ([]Payment, int64, error)
}

// BlockStore persists the blocks of buyers' purchases, one record per
// buyer. storage.PurchaseBlockStore implements it.
type BlockStore interface {
	// Block blocks b.UserID's purchases on behalf of operation op, once:
	// after that it does nothing for op, even if an admin has cleared the
	// block since.
	Block(ctx context.Context, b Block, op string) error
	// Blocked reports whether the user's purchases are blocked.
	Blocked(ctx context.Context, userID string) (bool, error)
	// Clear lifts the user's block, recording by whom and when. False if
	// the user's purchases are not blocked.
	Clear(ctx context.Context, userID, by string, at time.Time) (bool, error)
	// List returns a page of the blocks in force, the latest first, and
	// their count.
	List(ctx context.Context, p page.Request) ([]Block, int64, error)
}

// Balances reads balances of the coin ledger; ledger.Ledger implements it.
type Balances interface {
	Balance(ctx context.Context, account string) (money.Coins, error)
}

// Admins finds the admins, whom refunds and disputes are reported to;
// user.Service implements it.
type Admins interface {
	AdminIDs(ctx context.Context) ([]string, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// Invoices issues the invoice of each purchase; invoice.Service implements
// it. Issue is called from the purchase's Settle step, and issues one
// invoice per ref however often the step runs.
type Invoices interface {
	Issue(ctx context.Context, r invoice.Request) (invoice.Invoice, error)
}

// Events stores webhook events for the buyer's endpoints; webhook.Service
// implements it. Emit is called from an operation's step, and stores each
// event once however often the step runs.
type Events interface {
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}
