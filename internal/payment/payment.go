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
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
)

// Package is a number of coins for a price.
type Package struct {
	Coins money.Coins
	Price money.Cents
}

// Packages are the coin packages on sale, the one place prices live:
// 10 coins for $1, 150 for $10, 500 for $20, 1000 for $35.
var Packages = []Package{{10, 100}, {150, 1000}, {500, 2000}, {1000, 3500}}

// PackageOf returns the package of this many coins.
func PackageOf(coins money.Coins) (Package, bool) {
	for _, p := range Packages {
		if p.Coins == coins {
			return p, true
		}
	}
	return Package{}, false
}

// Status is where a payment is.
type Status string

// The statuses.
const (
	StatusPending Status = "pending"
	StatusPaid    Status = "paid"
	StatusFailed  Status = "failed"
)

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
	ErrBadPackage   = apperr.InvalidFields(apperr.FieldError{Field: "coins", Message: "must be one of 10, 150, 500 or 1000"})
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
	// Reopen makes pending again a payment that failed before it had a
	// checkout session (the gateway could not be reached). False if it is
	// not such a payment (any more).
	Reopen(ctx context.Context, id string) (bool, error)
	// List returns a page of a user's payments, newest first, and their
	// count.
	List(ctx context.Context, userID string, p page.Request) ([]Payment, int64, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}
