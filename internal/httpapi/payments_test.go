package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"microtask/internal/checkout/checkouttest"
)

type checkoutBody struct {
	PaymentID   string `json:"payment_id"`
	Provider    string `json:"provider"`
	CheckoutURL string `json:"checkout_url"`
	Status      string `json:"status"`
}

type paymentBody struct {
	ID                     string  `json:"id"`
	Coins                  int64   `json:"coins"`
	AmountCents            int64   `json:"amount_cents"`
	Currency               string  `json:"currency"`
	Provider               string  `json:"provider"`
	SessionID              string  `json:"session_id"`
	Status                 string  `json:"status"`
	PaidAt                 *string `json:"paid_at"`
	RefundedCents          int64   `json:"refunded_cents"`
	ClawedBackCoins        int64   `json:"clawed_back_coins"`
	ClawbackShortfallCoins int64   `json:"clawback_shortfall_coins"`
}

// buy starts a purchase, with an Idempotency-Key if key is not empty.
func (a *testAPI) buy(t testing.TB, token string, coins int64, key string) *httptest.ResponseRecorder {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	return a.do(t, request{method: http.MethodPost, path: "/api/payments/create", token: token, header: h,
		body: strings.NewReader(fmt.Sprintf(`{"coins":%d}`, coins))})
}

func TestPaymentPackages(t *testing.T) {
	a := newAPI(t)
	got := decode[[]map[string]int64](t, a.get(t, "/api/payments/packages"), http.StatusOK)
	want := []map[string]int64{{"coins": 10, "price_cents": 100}, {"coins": 150, "price_cents": 1000},
		{"coins": 500, "price_cents": 2000}, {"coins": 1000, "price_cents": 3500}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("packages = %v, want %v", got, want)
	}
}

func TestDummyPurchase(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")

	co := decode[checkoutBody](t, a.buy(t, buyer.Token, 150, ""), http.StatusCreated)
	u, err := url.Parse(co.CheckoutURL)
	if co.Provider != "dummy" || co.Status != "pending" || err != nil || u.Query().Get("payment_id") != co.PaymentID {
		t.Fatalf("checkout = %+v", co)
	}
	hist := decode[pageOf[paymentBody]](t, a.call(t, http.MethodGet, "/api/payments/history", buyer.Token, nil), http.StatusOK)
	if hist.Total != 1 || hist.Items[0].Status != "pending" || hist.Items[0].PaidAt != nil || hist.Items[0].AmountCents != 1000 {
		t.Fatalf("history = %+v", hist)
	}
	if a.coins(t, buyer.User.ID) != 50 {
		t.Fatalf("coins before confirming = %d, want 50", a.coins(t, buyer.User.ID))
	}

	confirm := "/api/payments/" + co.PaymentID + "/confirm"
	wantProblem(t, a.call(t, http.MethodPost, confirm, other.Token, nil), http.StatusNotFound, "payment_not_found")
	wantProblem(t, a.call(t, http.MethodPost, confirm, worker.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/nope/confirm", buyer.Token, nil), http.StatusNotFound, "payment_not_found")

	for range 3 { // confirming again credits nothing more
		p := decode[paymentBody](t, a.call(t, http.MethodPost, confirm, buyer.Token, nil), http.StatusOK)
		if p.Status != "paid" || p.PaidAt == nil || p.Coins != 150 {
			t.Errorf("confirmed = %+v", p)
		}
	}
	if got := a.coins(t, buyer.User.ID); got != 200 {
		t.Errorf("coins after confirming = %d, want 50 + 150", got)
	}
	if n := a.notificationsOf(t, buyer.Token); len(n) != 1 || !strings.Contains(n[0].Message, "150 coins") {
		t.Errorf("notifications = %+v", n)
	}
	// Without Stripe there is no webhook.
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/payments/webhook", body: strings.NewReader("{}")}),
		http.StatusNotFound, "webhooks_not_configured")
}

// Without a gateway (MongoDB without Stripe or PAYMENT_GATEWAY=dummy) no
// purchase starts and none can be confirmed: coins never come from nowhere.
func TestPaymentsNotConfigured(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, noGateway: true})
	buyer := a.register(t, "buyer")
	wantProblem(t, a.buy(t, buyer.Token, 150, ""), http.StatusServiceUnavailable, "payments_not_configured")
	wantProblem(t, a.buy(t, buyer.Token, 150, "k"), http.StatusServiceUnavailable, "payments_not_configured")
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/any/confirm", buyer.Token, nil), http.StatusServiceUnavailable, "payments_not_configured")
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/payments/webhook", body: strings.NewReader("{}")}),
		http.StatusNotFound, "webhooks_not_configured")
	if hist := decode[pageOf[paymentBody]](t, a.call(t, http.MethodGet, "/api/payments/history", buyer.Token, nil), http.StatusOK); hist.Total != 0 {
		t.Errorf("history = %+v", hist)
	}
	if got := a.coins(t, buyer.User.ID); got != 50 {
		t.Errorf("coins = %d, want the 50 of the sign-up bonus", got)
	}
}

func TestPurchaseIdempotencyAndInput(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	first := decode[checkoutBody](t, a.buy(t, buyer.Token, 500, "order-42"), http.StatusCreated)
	again := decode[checkoutBody](t, a.buy(t, buyer.Token, 500, "order-42"), http.StatusCreated)
	if again.PaymentID != first.PaymentID {
		t.Errorf("same Idempotency-Key gave payments %s and %s", first.PaymentID, again.PaymentID)
	}
	wantProblem(t, a.buy(t, buyer.Token, 10, "order-42"), http.StatusConflict, "idempotency_key_reused")
	wantProblem(t, a.buy(t, buyer.Token, 10, strings.Repeat("k", 256)), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.buy(t, buyer.Token, 11, ""), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.buy(t, worker.Token, 10, ""), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/create", buyer.Token, `{"coins":10,"price_cents":1}`), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/create", "", `{"coins":10}`), http.StatusUnauthorized, "missing_token")
	// The same key from another buyer is another purchase.
	other := a.register(t, "buyer")
	if p := decode[checkoutBody](t, a.buy(t, other.Token, 500, "order-42"), http.StatusCreated); p.PaymentID == first.PaymentID {
		t.Error("another buyer's key returned this buyer's payment")
	}
	hist := decode[pageOf[paymentBody]](t, a.call(t, http.MethodGet, "/api/payments/history", buyer.Token, nil), http.StatusOK)
	if hist.Total != 1 {
		t.Errorf("buyer has %d payments, want 1", hist.Total)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/payments/history", worker.Token, nil), http.StatusForbidden, "wrong_role")
}

// webhook posts a Stripe event signed with sig (the right one if empty).
func (a *testAPI) webhook(t testing.TB, payload []byte, sig string) *httptest.ResponseRecorder {
	t.Helper()
	if sig == "" {
		sig = checkouttest.Sign(payload, checkouttest.WebhookSecret, time.Now())
	}
	return a.do(t, request{method: http.MethodPost, path: "/api/payments/webhook", body: bytes.NewReader(payload),
		header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Stripe-Signature": {sig}}})
}

func TestStripePurchaseThroughTheWebhook(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, stripe: true})
	buyer := a.register(t, "buyer")
	co := decode[checkoutBody](t, a.buy(t, buyer.Token, 1000, ""), http.StatusCreated)
	if co.Provider != "stripe" || !strings.HasPrefix(co.CheckoutURL, "https://") {
		t.Fatalf("checkout = %+v", co)
	}
	pay, err := a.paymentDB.ByID(context.Background(), co.PaymentID)
	if err != nil || !strings.HasPrefix(pay.SessionID, "cs_") {
		t.Fatalf("stored payment = %+v, %v", pay, err)
	}
	paid := checkouttest.Session{ID: pay.SessionID, PaymentID: pay.ID, PaymentStatus: "paid", AmountTotal: 3500, Currency: "usd"}
	event := checkouttest.Event(t, "evt_paid", "checkout.session.completed", paid)
	coins := func() int64 { return a.coins(t, buyer.User.ID) }

	// Refused deliveries change nothing.
	now := time.Now()
	wantProblem(t, a.webhook(t, event, "t=1,v1=deadbeef"), http.StatusBadRequest, "invalid_signature")
	wantProblem(t, a.webhook(t, event, checkouttest.Sign(event, "whsec_forged", now)), http.StatusBadRequest, "invalid_signature")
	wantProblem(t, a.webhook(t, event, checkouttest.Sign(event, checkouttest.WebhookSecret, now.Add(-10*time.Minute))), http.StatusBadRequest, "invalid_signature")
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/payments/webhook", body: bytes.NewReader(event)}), http.StatusBadRequest, "invalid_signature")
	if coins() != 50 {
		t.Fatalf("coins after refused deliveries = %d", coins())
	}
	// The client cannot confirm a Stripe payment itself.
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/"+pay.ID+"/confirm", buyer.Token, nil), http.StatusNotFound, "confirm_not_available")

	// Delivered, and delivered again: credited once.
	for range 3 {
		if rec := a.webhook(t, event, ""); rec.Code != http.StatusOK {
			t.Fatalf("webhook = %d %s", rec.Code, rec.Body)
		}
	}
	if coins() != 1050 {
		t.Errorf("coins after the webhook = %d, want 50 + 1000", coins())
	}
	hist := decode[pageOf[paymentBody]](t, a.call(t, http.MethodGet, "/api/payments/history", buyer.Token, nil), http.StatusOK)
	if hist.Items[0].Status != "paid" || hist.Items[0].Provider != "stripe" || hist.Items[0].PaidAt == nil || hist.Items[0].SessionID != pay.SessionID {
		t.Errorf("history = %+v", hist.Items)
	}
	// One payment: for its buyer and admins, with the session to find it in
	// Stripe's dashboard; for anyone else, as missing as a missing one.
	for _, tok := range []string{buyer.Token, a.admin(t).Token} {
		got := decode[paymentBody](t, a.call(t, http.MethodGet, "/api/payments/"+pay.ID, tok, nil), http.StatusOK)
		if !reflect.DeepEqual(got, hist.Items[0]) {
			t.Errorf("GET /payments/%s = %+v, want %+v", pay.ID, got, hist.Items[0])
		}
	}
	for _, tok := range []string{a.register(t, "buyer").Token, a.register(t, "worker").Token} {
		missing := wantProblem(t, a.call(t, http.MethodGet, "/api/payments/nope", tok, nil), http.StatusNotFound, "payment_not_found")
		if p := wantProblem(t, a.call(t, http.MethodGet, "/api/payments/"+pay.ID, tok, nil), http.StatusNotFound, "payment_not_found"); p.Detail != missing.Detail {
			t.Errorf("another's payment: %q, a missing one: %q", p.Detail, missing.Detail)
		}
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/payments/"+pay.ID, "", nil), http.StatusUnauthorized, "missing_token")

	// Acknowledged without effect: other events, unknown sessions, amounts
	// that do not match.
	other := checkouttest.Event(t, "evt_other", "customer.created", paid)
	unknown := checkouttest.Event(t, "evt_unknown", "checkout.session.completed",
		checkouttest.Session{ID: "cs_test_elsewhere", PaymentStatus: "paid", AmountTotal: 3500, Currency: "usd"})
	co2 := decode[checkoutBody](t, a.buy(t, buyer.Token, 10, ""), http.StatusCreated)
	pay2, _ := a.paymentDB.ByID(context.Background(), co2.PaymentID)
	cheap := checkouttest.Event(t, "evt_cheap", "checkout.session.completed",
		checkouttest.Session{ID: pay2.SessionID, PaymentID: pay2.ID, PaymentStatus: "paid", AmountTotal: 1, Currency: "usd"})
	for _, ev := range [][]byte{other, unknown, cheap} {
		if rec := a.webhook(t, ev, ""); rec.Code != http.StatusOK {
			t.Errorf("webhook = %d %s, want 200", rec.Code, rec.Body)
		}
	}
	if coins() != 1050 {
		t.Errorf("coins = %d after events that credit nothing", coins())
	}

	// An expired session fails its payment; a late "paid" for it credits nothing.
	expired := checkouttest.Event(t, "evt_expired", "checkout.session.expired",
		checkouttest.Session{ID: pay2.SessionID, PaymentID: pay2.ID, PaymentStatus: "unpaid", AmountTotal: 100, Currency: "usd"})
	decode[map[string]bool](t, a.webhook(t, expired, ""), http.StatusOK)
	late := checkouttest.Event(t, "evt_late", "checkout.session.completed",
		checkouttest.Session{ID: pay2.SessionID, PaymentID: pay2.ID, PaymentStatus: "paid", AmountTotal: 100, Currency: "usd"})
	decode[map[string]bool](t, a.webhook(t, late, ""), http.StatusOK)
	if p, _ := a.paymentDB.ByID(context.Background(), pay2.ID); p.Status != "failed" || coins() != 1050 {
		t.Errorf("expired payment = %s, coins %d", p.Status, coins())
	}
}

func TestStripeWebhookDeliveredTenTimesAtOnce(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, stripe: true})
	buyer := a.register(t, "buyer")
	co := decode[checkoutBody](t, a.buy(t, buyer.Token, 500, ""), http.StatusCreated)
	pay, _ := a.paymentDB.ByID(context.Background(), co.PaymentID)
	event := checkouttest.Event(t, "evt_1", "checkout.session.completed",
		checkouttest.Session{ID: pay.SessionID, PaymentID: pay.ID, PaymentStatus: "paid", AmountTotal: 2000, Currency: "usd"})
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() { codes[i] = a.webhook(t, event, "").Code })
	}
	wg.Wait()
	if countOf(codes, http.StatusOK) != 10 {
		t.Errorf("statuses = %v, want ten 200", codes)
	}
	if got := a.coins(t, buyer.User.ID); got != 550 {
		t.Errorf("coins = %d, want 50 + 500 once", got)
	}
}
