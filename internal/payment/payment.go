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
)

// Currency is the only currency on sale.
const Currency = "usd"

// Payment is one purchase of coins.
type Payment struct {
	ID             string
	UserID         string
	Coins          money.Coins
	Amount         money.Cents
	Currency       string
	Provider       string // the gateway's name: "stripe" or DummyProvider
	SessionID      string // the gateway's checkout session
	CheckoutURL    string // where the buyer pays
	IdempotencyKey string // the client's Idempotency-Key, or the payment's ID
	Status         Status
	CreatedAt      time.Time
	PaidAt         time.Time // zero until paid
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
	EventIgnored EventKind = iota // nothing to do
	EventPaid                     // the session is paid
	EventFailed                   // the session expired or its payment failed
)

// Event is a verified webhook event, in the payment package's terms.
type Event struct {
	ID        string // the provider's event ID, for the logs
	Kind      EventKind
	SessionID string
	PaymentID string // from the session's metadata, if present
	Amount    money.Cents
	Currency  string
}

// Webhooks verifies and reads webhook deliveries. checkout.Stripe
// implements it.
type Webhooks interface {
	// Parse checks the signature header against the payload and returns the
	// event. ErrBadSignature if it does not verify.
	Parse(payload []byte, signature string) (Event, error)
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
	// SetSession records a payment's checkout session.
	SetSession(ctx context.Context, id string, s Session) error
	// MarkPaid commits a purchase: a pending payment becomes paid, recording
	// op. True if it did now or had already.
	MarkPaid(ctx context.Context, id, op, sessionID string, at time.Time) (bool, error)
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
