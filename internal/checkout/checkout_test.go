package checkout_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"microtask/internal/checkout"
	"microtask/internal/checkout/checkouttest"
	"microtask/internal/money"
	"microtask/internal/payment"
)

func TestMain(m *testing.M) {
	code := m.Run()
	checkouttest.Stop()
	os.Exit(code)
}

func newStripe(t *testing.T) *checkout.Stripe {
	return checkout.NewStripe(checkout.StripeConfig{
		SecretKey: "sk_test_microtask", WebhookSecret: checkouttest.WebhookSecret, APIURL: checkouttest.StripeMockURL(t),
		SuccessURL: "https://app.example.com/paid", CancelURL: "https://app.example.com/buy", Timeout: 10 * time.Second,
	})
}

func TestStripeStartsACheckoutSession(t *testing.T) {
	s := newStripe(t)
	sess, err := s.Start(context.Background(), payment.Checkout{PaymentID: "p1", UserID: "u1", Coins: 150, Amount: 1000, Currency: "usd"})
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if !strings.HasPrefix(sess.ID, "cs_") || !strings.HasPrefix(sess.URL, "https://") {
		t.Errorf("Start() = %+v, want a cs_ session with a URL", sess)
	}
	if s.Name() != "stripe" {
		t.Errorf("Name() = %q", s.Name())
	}
}

func TestStripeReportsItsErrors(t *testing.T) {
	// stripe-mock checks the key as Stripe does.
	badKey := checkout.NewStripe(checkout.StripeConfig{SecretKey: "not_a_key", APIURL: checkouttest.StripeMockURL(t), Timeout: 10 * time.Second})
	if _, err := badKey.Start(context.Background(), payment.Checkout{PaymentID: "p1", Coins: 10, Amount: 100, Currency: "usd"}); err == nil {
		t.Fatal("Start() with a bad key: no error")
	}
	unreachable := checkout.NewStripe(checkout.StripeConfig{SecretKey: "sk_test_x", APIURL: "http://127.0.0.1:1", Timeout: time.Second})
	if _, err := unreachable.Start(context.Background(), payment.Checkout{PaymentID: "p1", Coins: 10, Amount: 100, Currency: "usd"}); err == nil {
		t.Error("Start() against nothing: no error")
	}
}

func TestStripeParsesWebhooks(t *testing.T) {
	s := newStripe(t)
	paid := checkouttest.Session{ID: "cs_test_1", PaymentID: "p1", PaymentIntent: "pi_1", PaymentStatus: "paid", AmountTotal: 1000, Currency: "usd"}
	unpaid := paid
	unpaid.PaymentStatus, unpaid.PaymentIntent = "unpaid", ""
	refunded := checkouttest.RefundEvent(t, "evt_1", checkouttest.Charge{ID: "ch_1", PaymentIntent: "pi_1", Amount: 1000, AmountRefunded: 400, Currency: "usd"})
	disputed := checkouttest.DisputeEvent(t, "evt_1", checkouttest.Dispute{ID: "dp_1", Charge: "ch_1", PaymentIntent: "pi_1", Amount: 1000, Currency: "usd"})
	now := time.Now()
	body := func(typ string, sess checkouttest.Session) []byte { return checkouttest.Event(t, "evt_1", typ, sess) }
	tests := []struct {
		name    string
		payload []byte
		sig     func(p []byte) string
		want    payment.Event
		wantErr error
	}{
		{"paid", body("checkout.session.completed", paid), nil,
			payment.Event{ID: "evt_1", Kind: payment.EventPaid, SessionID: "cs_test_1", PaymentID: "p1", PaymentIntentID: "pi_1", Amount: 1000, Currency: "usd"}, nil},
		{"paid later", body("checkout.session.async_payment_succeeded", paid), nil,
			payment.Event{ID: "evt_1", Kind: payment.EventPaid, SessionID: "cs_test_1", PaymentID: "p1", PaymentIntentID: "pi_1", Amount: 1000, Currency: "usd"}, nil},
		// Charges and disputes name only the payment intent; a refunded
		// charge carries the sum of its refunds.
		{"refunded", refunded, nil,
			payment.Event{ID: "evt_1", Kind: payment.EventRefunded, PaymentIntentID: "pi_1", Amount: 1000, Refunded: 400, Currency: "usd"}, nil},
		{"disputed", disputed, nil,
			payment.Event{ID: "evt_1", Kind: payment.EventDisputed, PaymentIntentID: "pi_1", Amount: 1000, Currency: "usd"}, nil},
		{"refund updated", checkouttest.Event(t, "evt_1", "charge.refund.updated", paid), nil, payment.Event{ID: "evt_1", Kind: payment.EventIgnored}, nil},
		{"completed but not paid yet", body("checkout.session.completed", unpaid), nil, payment.Event{ID: "evt_1", Kind: payment.EventIgnored}, nil},
		{"expired", body("checkout.session.expired", unpaid), nil,
			payment.Event{ID: "evt_1", Kind: payment.EventFailed, SessionID: "cs_test_1", PaymentID: "p1", Amount: 1000, Currency: "usd"}, nil},
		{"other event", body("customer.created", paid), nil, payment.Event{ID: "evt_1", Kind: payment.EventIgnored}, nil},
		{"wrong secret", body("checkout.session.completed", paid), func(p []byte) string { return checkouttest.Sign(p, "whsec_other", now) }, payment.Event{}, payment.ErrBadSignature},
		{"stale", body("checkout.session.completed", paid), func(p []byte) string {
			return checkouttest.Sign(p, checkouttest.WebhookSecret, now.Add(-10*time.Minute))
		}, payment.Event{}, payment.ErrBadSignature},
		{"no signature", body("checkout.session.completed", paid), func([]byte) string { return "" }, payment.Event{}, payment.ErrBadSignature},
		{"not JSON", []byte("hello"), nil, payment.Event{}, payment.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := checkouttest.Sign(tt.payload, checkouttest.WebhookSecret, now)
			if tt.sig != nil {
				sig = tt.sig(tt.payload)
			}
			got, err := s.Parse(tt.payload, sig)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("Parse() = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("tampered after signing", func(t *testing.T) {
		p := body("checkout.session.completed", paid)
		sig := checkouttest.Sign(p, checkouttest.WebhookSecret, now)
		tampered := []byte(strings.Replace(string(p), `"amount_total":1000`, `"amount_total":1`, 1))
		if _, err := s.Parse(tampered, sig); !errors.Is(err, payment.ErrBadSignature) {
			t.Errorf("Parse(tampered) error = %v, want ErrBadSignature", err)
		}
	})
}

// TestStripeFindsTheSessionOfAPaymentIntent: stripe-mock answers any
// filter with its one fixture session, so this checks the request is valid
// and the answer read, not Stripe's filtering.
func TestStripeFindsTheSessionOfAPaymentIntent(t *testing.T) {
	s := newStripe(t)
	sessionID, paymentID, err := s.CheckoutOf(context.Background(), "pi_test_1")
	if err != nil || !strings.HasPrefix(sessionID, "cs_") || paymentID != "" {
		t.Errorf("CheckoutOf() = %q, %q, %v; want a cs_ session without a payment ID in its metadata", sessionID, paymentID, err)
	}
	unreachable := checkout.NewStripe(checkout.StripeConfig{SecretKey: "sk_test_x", APIURL: "http://127.0.0.1:1", Timeout: time.Second})
	if _, _, err := unreachable.CheckoutOf(context.Background(), "pi_test_1"); err == nil || errors.Is(err, payment.ErrNotFound) {
		t.Errorf("CheckoutOf() against nothing error = %v, want one that is not ErrNotFound", err)
	}
}

func TestDummyGateway(t *testing.T) {
	d := checkout.Dummy{SuccessURL: "http://localhost:5173/dashboard/payment/success"}
	sess, err := d.Start(context.Background(), payment.Checkout{PaymentID: "p 1", Coins: 10, Amount: money.Cents(100)})
	if err != nil || sess.ID != "dummy_p 1" {
		t.Fatalf("Start() = %+v, %v", sess, err)
	}
	u, err := url.Parse(sess.URL)
	if err != nil || u.Query().Get("payment_id") != "p 1" || u.Query().Get("provider") != "dummy" || u.Path != "/dashboard/payment/success" {
		t.Errorf("checkout URL = %q", sess.URL)
	}
}
