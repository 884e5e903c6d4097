package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"microtask/internal/checkout"
	"microtask/internal/checkout/checkouttest"
	"microtask/internal/ledger"
	"microtask/internal/payment"
)

type purchaseBlockBody struct {
	UserID    string `json:"user_id"`
	PaymentID string `json:"payment_id"`
	Reason    string `json:"reason"`
	BlockedAt string `json:"blocked_at"`
}

// boughtWithStripe has the buyer buy a package through Stripe Checkout
// (stripe-mock) and delivers its signed checkout.session.completed, paid
// through the payment intent pi. It returns the payment.
func (a *testAPI) boughtWithStripe(t testing.TB, buyer sessionBody, coins int64, pi string) payment.Payment {
	t.Helper()
	co := decode[checkoutBody](t, a.buy(t, buyer.Token, coins, ""), http.StatusCreated)
	pay, err := a.paymentDB.ByID(context.Background(), co.PaymentID)
	if err != nil {
		t.Fatal(err)
	}
	ev := checkouttest.Event(t, "evt_paid_"+pay.ID, "checkout.session.completed", checkouttest.Session{ID: pay.SessionID,
		PaymentID: pay.ID, PaymentIntent: pi, PaymentStatus: "paid", AmountTotal: int64(pay.Amount), Currency: "usd"})
	decode[webhookBody](t, a.webhook(t, ev, ""), http.StatusOK)
	return pay
}

type webhookBody struct {
	Received bool `json:"received"`
}

// refundOf is Stripe's charge.refunded once refunds of refunded cents in
// all were made on the charge of pay, paid through pi.
func refundOf(t testing.TB, eventID string, pay payment.Payment, pi string, refunded int64) []byte {
	return checkouttest.RefundEvent(t, eventID, checkouttest.Charge{ID: "ch_" + pay.ID, PaymentIntent: pi,
		Amount: int64(pay.Amount), AmountRefunded: refunded, Currency: "usd"})
}

func disputeOf(t testing.TB, eventID string, pay payment.Payment, pi string) []byte {
	return checkouttest.DisputeEvent(t, eventID, checkouttest.Dispute{ID: "dp_" + pay.ID, Charge: "ch_" + pay.ID,
		PaymentIntent: pi, Amount: int64(pay.Amount), Currency: "usd"})
}

// history is the buyer's payments by ID.
func (a *testAPI) history(t testing.TB, token string) map[string]paymentBody {
	t.Helper()
	h := decode[pageOf[paymentBody]](t, a.call(t, http.MethodGet, "/api/payments/history?limit=100", token, nil), http.StatusOK)
	out := map[string]paymentBody{}
	for _, p := range h.Items {
		out[p.ID] = p
	}
	return out
}

// TestStripeRefundsAndDisputesThroughTheWebhook: signed charge.refunded and
// charge.dispute.created events take back what the buyer still holds of
// the purchase's coins, record the rest, block the buyer until an admin
// clears it, and tell the admins; redeliveries move nothing.
func TestStripeRefundsAndDisputesThroughTheWebhook(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, stripe: true})
	admin := a.admin(t)
	holder, partial, spender := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "buyer") // 50 coins each
	worker := a.register(t, "worker")

	full := a.boughtWithStripe(t, holder, 150, "pi_full")    // 200
	half := a.boughtWithStripe(t, partial, 500, "pi_half")   // 550
	spent := a.boughtWithStripe(t, spender, 150, "pi_spent") // 200
	a.postTask(t, spender.Token, 18, 10)                     // 20 left
	wantCoins := func(who sessionBody, want int64) {
		t.Helper()
		if got := a.coins(t, who.User.ID); got != want {
			t.Errorf("%s's coins = %d, want %d", who.User.Email, got, want)
		}
	}
	wantPayment := func(who sessionBody, id, status string, refunded, taken, short int64) {
		t.Helper()
		p := a.history(t, who.Token)[id]
		if p.Status != status || p.RefundedCents != refunded || p.ClawedBackCoins != taken || p.ClawbackShortfallCoins != short {
			t.Errorf("payment %+v, want %s with %d cents refunded, %d coins taken, %d short", p, status, refunded, taken, short)
		}
	}

	// A full refund while the buyer holds every coin takes them all.
	decode[webhookBody](t, a.webhook(t, refundOf(t, "evt_r1", full, "pi_full", 1000), ""), http.StatusOK)
	wantCoins(holder, 50)
	wantPayment(holder, full.ID, "refunded", 1000, 150, 0)

	// A partial refund takes the same share: $5 of $20 is 125 of 500 coins;
	// delivered again, it takes nothing more.
	halfRefund := refundOf(t, "evt_r2", half, "pi_half", 500)
	for range 3 {
		decode[webhookBody](t, a.webhook(t, halfRefund, ""), http.StatusOK)
	}
	wantCoins(partial, 425)
	wantPayment(partial, half.ID, "refunded", 500, 125, 0)

	// The buyer spent 180 coins on a task: the 20 left are taken, never
	// more; the balance stops at zero and the other 130 are recorded.
	decode[webhookBody](t, a.webhook(t, refundOf(t, "evt_r3", spent, "pi_spent", 1000), ""), http.StatusOK)
	wantCoins(spender, 0)
	wantPayment(spender, spent.ID, "refunded", 1000, 20, 130)

	// A dispute after the partial refund takes only the rest, once; the
	// refund arriving again afterwards changes nothing.
	a.clock.Advance(time.Minute)
	dispute := disputeOf(t, "evt_d1", half, "pi_half")
	for _, ev := range [][]byte{dispute, dispute, halfRefund} {
		decode[webhookBody](t, a.webhook(t, ev, ""), http.StatusOK)
	}
	wantCoins(partial, 50)
	wantPayment(partial, half.ID, "disputed", 500, 500, 0)
	if got := a.balance(t, ledger.Clawback); got != 150+500+20 {
		t.Errorf("clawback account = %d, want 670", got)
	}

	// Forged events, and charges that are none of ours, change nothing.
	forged := refundOf(t, "evt_forged", spent, "pi_full", 1000)
	wantProblem(t, a.webhook(t, forged, checkouttest.Sign(forged, "whsec_forged", time.Now())), http.StatusBadRequest, "invalid_signature")
	decode[webhookBody](t, a.webhook(t, refundOf(t, "evt_other", full, "pi_elsewhere", 1000), ""), http.StatusOK)
	wantCoins(holder, 50)

	// Every admin was told of each of the four clawbacks.
	var told int
	for _, n := range a.notificationsOf(t, admin.Token) {
		if strings.HasPrefix(n.ID, "clawback:") {
			told++
		}
	}
	if told != 4 {
		t.Errorf("admin told of %d clawbacks, want 4", told)
	}

	// The three buyers are blocked; others are not; only an admin clears it.
	wantProblem(t, a.buy(t, holder.Token, 10, ""), http.StatusForbidden, "purchases_blocked")
	decode[checkoutBody](t, a.buy(t, a.register(t, "buyer").Token, 10, ""), http.StatusCreated)
	blocks := decode[pageOf[purchaseBlockBody]](t, a.call(t, http.MethodGet, "/api/admin/purchase-blocks", admin.Token, nil), http.StatusOK)
	if blocks.Total != 3 || blocks.Items[0].UserID != partial.User.ID || blocks.Items[0].Reason != "dispute" || blocks.Items[0].PaymentID != half.ID {
		t.Errorf("purchase blocks = %+v, want three, the disputed one first", blocks)
	}
	clear := "/api/admin/users/" + holder.User.ID + "/purchase-block"
	for _, who := range []sessionBody{holder, worker} {
		wantProblem(t, a.call(t, http.MethodDelete, clear, who.Token, nil), http.StatusForbidden, "wrong_role")
		wantProblem(t, a.call(t, http.MethodGet, "/api/admin/purchase-blocks", who.Token, nil), http.StatusForbidden, "wrong_role")
	}
	wantProblem(t, a.call(t, http.MethodDelete, clear, "", nil), http.StatusUnauthorized, "missing_token")
	wantProblem(t, a.buy(t, holder.Token, 10, ""), http.StatusForbidden, "purchases_blocked")

	a.clock.Advance(time.Minute)
	if rec := a.call(t, http.MethodDelete, clear, admin.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("clearing the block = %d %s, want 204", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodDelete, clear, admin.Token, nil), http.StatusNotFound, "purchase_block_not_found")
	logged := decode[pageOf[adminActionBody]](t, a.call(t, http.MethodGet, "/api/admin/actions?target_id="+holder.User.ID, admin.Token, nil), http.StatusOK)
	if logged.Total != 1 || logged.Items[0].Kind != "user.purchases_unblocked" || logged.Items[0].AdminID != admin.User.ID {
		t.Errorf("admin actions on the buyer = %+v, want the one clearing", logged.Items)
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/admin/users/"+worker.User.ID+"/purchase-block", admin.Token, nil),
		http.StatusNotFound, "purchase_block_not_found")
	decode[checkoutBody](t, a.buy(t, holder.Token, 10, ""), http.StatusCreated)
	if n := a.notificationsOf(t, holder.Token); len(n) == 0 || !strings.Contains(n[0].Message, "buy coins again") {
		t.Errorf("holder's notifications = %+v, want the block's end first", n)
	}
	// The old refund delivered again does not block them again.
	decode[webhookBody](t, a.webhook(t, refundOf(t, "evt_r1", full, "pi_full", 1000), ""), http.StatusOK)
	decode[checkoutBody](t, a.buy(t, holder.Token, 10, ""), http.StatusCreated)

	audit := decode[map[string]any](t, a.call(t, http.MethodGet, "/api/admin/audit", admin.Token, nil), http.StatusOK)
	if audit["balanced"] != true {
		t.Errorf("audit = %v", audit)
	}
}

// TestStripeRefundOfAnOlderPaymentAsksStripe: a payment paid before
// payment intents were recorded is found by asking Stripe (stripe-mock,
// whose one fixture session the test gives the payment) which checkout
// session created the charge's payment intent. A refund arriving before
// the payment is credited is refused so that Stripe delivers it again.
func TestStripeRefundOfAnOlderPaymentAsksStripe(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, stripe: true})
	buyer := a.register(t, "buyer")
	ctx := context.Background()
	st := checkout.NewStripe(checkout.StripeConfig{SecretKey: "sk_test_microtask", APIURL: checkouttest.StripeMockURL(t), Timeout: 10 * time.Second})
	fixture, _, err := st.CheckoutOf(ctx, "pi_legacy")
	if err != nil {
		t.Fatal(err)
	}
	co := decode[checkoutBody](t, a.buy(t, buyer.Token, 150, ""), http.StatusCreated)
	if err := a.paymentDB.SetSession(ctx, co.PaymentID, payment.Session{ID: fixture, URL: co.CheckoutURL}); err != nil {
		t.Fatal(err)
	}
	pay, _ := a.paymentDB.ByID(ctx, co.PaymentID)

	refund := refundOf(t, "evt_early", pay, "pi_legacy", 1000)
	wantProblem(t, a.webhook(t, refund, ""), http.StatusConflict, "payment_not_credited")
	if got := a.coins(t, buyer.User.ID); got != 50 {
		t.Fatalf("coins = %d after a refund of an uncredited payment, want 50", got)
	}

	// Completed without a payment intent, as before they were recorded.
	paid := checkouttest.Event(t, "evt_paid", "checkout.session.completed", checkouttest.Session{ID: fixture,
		PaymentID: pay.ID, PaymentStatus: "paid", AmountTotal: 1000, Currency: "usd"})
	decode[webhookBody](t, a.webhook(t, paid, ""), http.StatusOK)
	decode[webhookBody](t, a.webhook(t, refund, ""), http.StatusOK) // Stripe's redelivery
	if got := a.coins(t, buyer.User.ID); got != 50 {
		t.Errorf("coins = %d, want the 150 bought taken back", got)
	}
	got, err := a.paymentDB.ByID(ctx, pay.ID)
	if err != nil || got.Status != payment.StatusRefunded || got.PaymentIntentID != "pi_legacy" {
		t.Errorf("payment = %+v, %v; want refunded, with the payment intent recorded", got, err)
	}
}
