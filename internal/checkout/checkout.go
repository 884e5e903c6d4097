// Package checkout starts coin payments: with Stripe Checkout through
// stripe-go (whose API base URL is configurable, so tests point it at
// stripe-mock), or with the dummy gateway, which needs no account and lets
// the buyer confirm the payment. It also verifies Stripe's webhooks.
package checkout

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"

	"microtask/internal/money"
	"microtask/internal/payment"
)

// StripeConfig configures the Stripe gateway.
type StripeConfig struct {
	SecretKey     string        // sk_test_... or sk_live_...
	WebhookSecret string        // whsec_...: the signing secret of the webhook endpoint
	APIURL        string        // https://api.stripe.com, or a stripe-mock
	SuccessURL    string        // where Checkout sends the buyer after paying
	CancelURL     string        // where Checkout sends the buyer who gives up
	Timeout       time.Duration // for each call to Stripe
	// Transport carries the calls; nil for http.DefaultTransport. The
	// metrics wrap it to count and time them.
	Transport http.RoundTripper
}

// Stripe is Stripe Checkout. It implements payment.Gateway and
// payment.Webhooks.
type Stripe struct {
	api *client.API
	cfg StripeConfig
}

var (
	_ payment.Gateway  = (*Stripe)(nil)
	_ payment.Webhooks = (*Stripe)(nil)
)

// NewStripe returns the Stripe gateway. It keeps its own client (no
// stripe-go globals), which does not retry: a retried checkout creation
// could open two sessions for one payment.
func NewStripe(cfg StripeConfig) *Stripe {
	bc := &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIURL),
		HTTPClient:        &http.Client{Timeout: cfg.Timeout, Transport: cfg.Transport},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
	}
	return &Stripe{
		cfg: cfg,
		api: client.New(cfg.SecretKey, &stripe.Backends{
			API:     stripe.GetBackendWithConfig(stripe.APIBackend, bc),
			Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, bc),
			Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, bc),
		}),
	}
}

// Name implements payment.Gateway.
func (s *Stripe) Name() string { return "stripe" }

// Start implements payment.Gateway: a Checkout Session in payment mode for
// the package, carrying the payment ID in its metadata and client reference.
func (s *Stripe) Start(ctx context.Context, c payment.Checkout) (payment.Session, error) {
	params := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		SuccessURL:        stripe.String(withQuery(s.cfg.SuccessURL, "payment_id", c.PaymentID) + "&session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:         stripe.String(withQuery(s.cfg.CancelURL, "payment_id", c.PaymentID)),
		ClientReferenceID: stripe.String(c.PaymentID),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String(c.Currency),
				UnitAmount:  stripe.Int64(int64(c.Amount)),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String(fmt.Sprintf("%d coins", c.Coins))},
			},
			Quantity: stripe.Int64(1),
		}},
	}
	params.Context = ctx
	params.AddMetadata("payment_id", c.PaymentID)
	params.AddMetadata("user_id", c.UserID)
	params.SetIdempotencyKey("checkout-" + c.PaymentID) // one session per payment, even if retried
	sess, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return payment.Session{}, fmt.Errorf("create checkout session: %w", err)
	}
	return payment.Session{ID: sess.ID, URL: sess.URL}, nil
}

// Parse implements payment.Webhooks. Events whose API version differs from
// stripe-go's are accepted: an account's webhook version is the account's
// choice, and the fields read here are the same in every version.
func (s *Stripe) Parse(payload []byte, signature string) (payment.Event, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return payment.Event{}, payment.ErrBadSignature
	}
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		return sessionEvent(ev, payment.EventPaid)
	case "checkout.session.expired", "checkout.session.async_payment_failed":
		return sessionEvent(ev, payment.EventFailed)
	case "charge.refunded":
		return refundEvent(ev)
	case "charge.dispute.created":
		return disputeEvent(ev)
	}
	return payment.Event{ID: ev.ID, Kind: payment.EventIgnored}, nil
}

func sessionEvent(ev stripe.Event, kind payment.EventKind) (payment.Event, error) {
	var cs stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
		return payment.Event{}, fmt.Errorf("checkout session in event %s: %w", ev.ID, err)
	}
	if kind == payment.EventPaid && cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		// Completed but not paid yet (delayed methods): the async event follows.
		return payment.Event{ID: ev.ID, Kind: payment.EventIgnored}, nil
	}
	id := cs.Metadata["payment_id"]
	if id == "" {
		id = cs.ClientReferenceID
	}
	return payment.Event{ID: ev.ID, Kind: kind, SessionID: cs.ID, PaymentID: id, PaymentIntentID: idOf(cs.PaymentIntent),
		Amount: money.Cents(cs.AmountTotal), Currency: string(cs.Currency)}, nil
}

// refundEvent reads charge.refunded, which Stripe sends for each refund of
// a charge, carrying the charge with the sum of its refunds so far.
func refundEvent(ev stripe.Event) (payment.Event, error) {
	var ch stripe.Charge
	if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
		return payment.Event{}, fmt.Errorf("charge in event %s: %w", ev.ID, err)
	}
	return payment.Event{ID: ev.ID, Kind: payment.EventRefunded, PaymentIntentID: idOf(ch.PaymentIntent),
		Amount: money.Cents(ch.Amount), Refunded: money.Cents(ch.AmountRefunded), Currency: string(ch.Currency)}, nil
}

func disputeEvent(ev stripe.Event) (payment.Event, error) {
	var d stripe.Dispute
	if err := json.Unmarshal(ev.Data.Raw, &d); err != nil {
		return payment.Event{}, fmt.Errorf("dispute in event %s: %w", ev.ID, err)
	}
	pi := idOf(d.PaymentIntent)
	if pi == "" && d.Charge != nil {
		pi = idOf(d.Charge.PaymentIntent) // the charge expanded, in older API versions
	}
	return payment.Event{ID: ev.ID, Kind: payment.EventDisputed, PaymentIntentID: pi,
		Amount: money.Cents(d.Amount), Currency: string(d.Currency)}, nil
}

// idOf is the ID of an expandable payment intent: events carry only the ID.
func idOf(pi *stripe.PaymentIntent) string {
	if pi == nil {
		return ""
	}
	return pi.ID
}

// CheckoutOf implements payment.Webhooks: the Checkout Session that created
// the payment intent, as Stripe's list of sessions filtered by payment
// intent answers (at most one matches).
func (s *Stripe) CheckoutOf(ctx context.Context, paymentIntentID string) (sessionID, paymentID string, err error) {
	params := &stripe.CheckoutSessionListParams{PaymentIntent: stripe.String(paymentIntentID)}
	params.Context = ctx
	params.Limit = stripe.Int64(1)
	it := s.api.CheckoutSessions.List(params)
	if !it.Next() {
		if err := it.Err(); err != nil {
			return "", "", fmt.Errorf("list checkout sessions of %s: %w", paymentIntentID, err)
		}
		return "", "", payment.ErrNotFound
	}
	cs := it.CheckoutSession()
	paymentID = cs.Metadata["payment_id"]
	if paymentID == "" {
		paymentID = cs.ClientReferenceID
	}
	return cs.ID, paymentID, nil
}

// Dummy is the gateway for development and demos: no account, no real
// money. Its checkout URL leads to the app's success page, where the app lets
// the buyer confirm (POST /api/payments/{id}/confirm).
type Dummy struct {
	SuccessURL string
}

var _ payment.Gateway = Dummy{}

// Name implements payment.Gateway.
func (Dummy) Name() string { return payment.DummyProvider }

// Start implements payment.Gateway.
func (d Dummy) Start(_ context.Context, c payment.Checkout) (payment.Session, error) {
	u := withQuery(d.SuccessURL, "payment_id", c.PaymentID) + "&provider=dummy"
	return payment.Session{ID: "dummy_" + c.PaymentID, URL: u}, nil
}

// withQuery adds one query parameter to a URL.
func withQuery(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
