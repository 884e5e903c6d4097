package payment_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/checkout"
	"microtask/internal/invoice"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/payment"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// create starts a purchase that the test expects to succeed.
func create(t *testing.T, e *apptest.Env, p auth.Principal, coins int64, key string) payment.Payment {
	t.Helper()
	pay, err := e.Payments.Create(t.Context(), p, coins, key)
	if err != nil {
		t.Fatalf("Create(%d, %q) error = %v", coins, key, err)
	}
	return pay
}

// history is the first page of a user's payments.
func history(t *testing.T, e *apptest.Env, p auth.Principal) page.Of[payment.Payment] {
	t.Helper()
	h, err := e.Payments.History(t.Context(), p, page.Request{Number: 1, Limit: page.MaxLimit})
	if err != nil {
		t.Fatalf("History() error = %v", err)
	}
	return h
}

// wantInvalid fails unless err is an *apperr.Error of kind Invalid naming
// the field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
		t.Fatalf("error = %v, want an apperr of kind Invalid", err)
	}
	for _, f := range ae.Fields {
		if f.Field == field {
			return
		}
	}
	t.Errorf("error fields = %+v, want one about %q", ae.Fields, field)
}

// TestConfiguredPackages: the packages on sale, and their prices, are the
// configured ones.
func TestConfiguredPackages(t *testing.T) {
	t.Parallel()
	custom := []payment.Package{{Coins: 25, Price: 299}, {Coins: 100, Price: 999}}
	e := apptest.New(t, func(c *app.Config) { c.Pricing.Packages = custom })
	if got := e.Payments.Packages(); len(got) != 2 || got[0] != custom[0] || got[1] != custom[1] {
		t.Errorf("Packages() = %+v, want %+v", got, custom)
	}
	buyer := e.User(t, auth.RoleBuyer)
	p, err := e.Payments.Create(t.Context(), buyer, 25, "")
	if err != nil || p.Coins != 25 || p.Amount != 299 {
		t.Errorf("Create(25) = %+v, %v", p, err)
	}
	if _, err := e.Payments.Create(t.Context(), buyer, 150, ""); !errors.Is(err, payment.ErrBadPackage) {
		t.Errorf("Create(150), not on sale here: %v, want %v", err, payment.ErrBadPackage)
	}
}

func TestCreateStartsACheckoutForEachPackage(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	tests := []struct {
		name  string
		coins int64
		price money.Cents
	}{
		{"10 coins for $1", 10, 100},
		{"150 coins for $10", 150, 1000},
		{"500 coins for $20", 500, 2000},
		{"1000 coins for $35", 1000, 3500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := create(t, e, buyer, tt.coins, "")
			if got.UserID != buyer.UserID || got.Coins != money.Coins(tt.coins) || got.Amount != tt.price ||
				got.Currency != payment.Currency || got.Status != payment.StatusPending || got.Provider != "dummy" {
				t.Errorf("Create() = %+v, want a pending %d-coin payment of %v for %s", got, tt.coins, tt.price, buyer.UserID)
			}
			// Without a key the payment's ID stands in for it, so that the
			// unique index on (user, key) holds.
			if got.IdempotencyKey != got.ID {
				t.Errorf("IdempotencyKey = %q, want the payment's ID %q", got.IdempotencyKey, got.ID)
			}
			if got.SessionID != "dummy_"+got.ID || !strings.Contains(got.CheckoutURL, "payment_id="+got.ID) {
				t.Errorf("session %q, checkout URL %q; want the dummy gateway's for %s", got.SessionID, got.CheckoutURL, got.ID)
			}
			if !got.CreatedAt.Equal(apptest.Start) || !got.PaidAt.IsZero() {
				t.Errorf("CreatedAt = %v, PaidAt = %v; want %v and zero", got.CreatedAt, got.PaidAt, apptest.Start)
			}
		})
	}
	// Starting a checkout credits nothing: coins come with the confirmation.
	if got := e.Coins(t, buyer.UserID); got != 0 {
		t.Errorf("buyer's coins = %d, want 0 before any confirmation", got)
	}
	if h := history(t, e, buyer); h.Total != int64(len(tests)) {
		t.Errorf("History() total = %d, want %d", h.Total, len(tests))
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	tests := []struct {
		name  string
		who   auth.Principal
		coins int64
		want  error
	}{
		{"a worker", e.User(t, auth.RoleWorker), 150, auth.ErrWrongRole},
		{"an admin", e.User(t, auth.RoleAdmin), 150, auth.ErrWrongRole},
		{"no coins", buyer, 0, payment.ErrBadPackage},
		{"a number between packages", buyer, 11, payment.ErrBadPackage},
		{"a price instead of coins", buyer, 3500, payment.ErrBadPackage},
		{"a negative package", buyer, -10, payment.ErrBadPackage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Payments.Create(t.Context(), tt.who, tt.coins, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create(%d) error = %v, want %v", tt.coins, err, tt.want)
			}
			if errors.Is(tt.want, payment.ErrBadPackage) {
				wantInvalid(t, err, "coins")
			}
			if h := history(t, e, tt.who); h.Total != 0 {
				t.Errorf("History() total = %d after a refused purchase, want 0", h.Total)
			}
		})
	}
}

// TestCreateWithAnIdempotencyKey: a client that retries a purchase with the
// same Idempotency-Key gets the same payment, not a second checkout; the
// key means one purchase, so another package with it is refused.
func TestCreateWithAnIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	first := create(t, e, buyer, 150, "key-1")
	if first.IdempotencyKey != "key-1" {
		t.Errorf("IdempotencyKey = %q, want key-1", first.IdempotencyKey)
	}

	e.Clock.Advance(time.Minute)
	again := create(t, e, buyer, 150, "key-1")
	if again.ID != first.ID || again.CheckoutURL != first.CheckoutURL || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("Create() again = %+v, want the first payment %+v", again, first)
	}

	_, err := e.Payments.Create(t.Context(), buyer, 500, "key-1")
	if !errors.Is(err, payment.ErrKeyReused) {
		t.Errorf("Create() with the key and another package error = %v, want %v", err, payment.ErrKeyReused)
	}

	// A retry that arrives while the first request is still starting its
	// checkout (its payment stored, its session not yet) must not start a
	// second one: it is told to retry.
	starting := payment.Payment{ID: "starting", UserID: buyer.UserID, Coins: 150, Amount: 1000, Currency: payment.Currency,
		Provider: "dummy", IdempotencyKey: "key-2", Status: payment.StatusPending, CreatedAt: e.Clock.Now()}
	if err := e.Stores.Payments.Insert(t.Context(), starting); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Payments.Create(t.Context(), buyer, 150, "key-2"); !errors.Is(err, payment.ErrInProgress) {
		t.Errorf("Create() while the key's checkout is starting error = %v, want %v", err, payment.ErrInProgress)
	}

	// Keys are the buyer's own: another buyer's same key is another purchase.
	theirs := create(t, e, other, 500, "key-1")
	if theirs.ID == first.ID || theirs.UserID != other.UserID || theirs.Coins != 500 {
		t.Errorf("another buyer's Create() with the same key = %+v, want a payment of their own", theirs)
	}

	// Without a key every call is a new purchase.
	if a, b := create(t, e, buyer, 10, ""), create(t, e, buyer, 10, ""); a.ID == b.ID {
		t.Errorf("two Create() without a key returned the same payment %s", a.ID)
	}
	if h := history(t, e, buyer); h.Total != 4 {
		t.Errorf("History() total = %d, want 4 (key-1 and key-2 once each, and two without a key)", h.Total)
	}

	// Once paid, the key still answers with that payment, now paid, rather
	// than starting a checkout to pay twice.
	if _, err := e.Payments.Confirm(t.Context(), buyer, first.ID); err != nil {
		t.Fatal(err)
	}
	paid := create(t, e, buyer, 150, "key-1")
	if paid.ID != first.ID || paid.Status != payment.StatusPaid {
		t.Errorf("Create() with the key of a paid payment = %+v, want payment %s, paid", paid, first.ID)
	}
	if got := e.Coins(t, buyer.UserID); got != 150 {
		t.Errorf("buyer's coins = %d, want 150", got)
	}
}

// TestConcurrentCreatesWithOneKey: a client's retries racing each other
// start one purchase; each gets that payment or is told to retry.
func TestConcurrentCreatesWithOneKey(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	const n = 8
	ids, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var p payment.Payment
			p, errs[i] = e.Payments.Create(t.Context(), buyer, 150, "racing")
			ids[i] = p.ID
		})
	}
	wg.Wait()
	h := history(t, e, buyer)
	if h.Total != 1 {
		t.Fatalf("History() total = %d after %d racing Create() with one key, want 1", h.Total, n)
	}
	for i := range n {
		switch {
		case errs[i] == nil && ids[i] != h.Items[0].ID:
			t.Errorf("Create() #%d = payment %s, want %s", i, ids[i], h.Items[0].ID)
		case errs[i] != nil && !errors.Is(errs[i], payment.ErrInProgress):
			t.Errorf("Create() #%d error = %v, want nil or %v", i, errs[i], payment.ErrInProgress)
		}
	}
}

// TestConfirmCreditsOnce: with the dummy gateway the buyer confirms; the
// coins come from the mint once, however often the confirmation is sent.
func TestConfirmCreditsOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 500, "")
	e.Clock.Advance(time.Minute)

	got, err := e.Payments.Confirm(t.Context(), buyer, pay.ID)
	if err != nil {
		t.Fatalf("Confirm() error = %v", err)
	}
	if got.ID != pay.ID || got.Status != payment.StatusPaid || !got.PaidAt.Equal(apptest.Start.Add(time.Minute)) {
		t.Errorf("Confirm() = %+v, want payment %s paid at %v", got, pay.ID, apptest.Start.Add(time.Minute))
	}
	if c, m := e.Coins(t, buyer.UserID), e.Balance(t, ledger.Mint); c != 500 || m != -500 {
		t.Errorf("buyer %d coins, mint %d; want 500 and -500", c, m)
	}

	// A second confirmation (a double click, a retry) answers with the paid
	// payment and credits nothing more.
	e.Clock.Advance(time.Minute)
	again, err := e.Payments.Confirm(t.Context(), buyer, pay.ID)
	if err != nil {
		t.Fatalf("Confirm() again error = %v, want nil", err)
	}
	if again.Status != payment.StatusPaid || !again.PaidAt.Equal(got.PaidAt) {
		t.Errorf("Confirm() again = %+v, want it paid at %v still", again, got.PaidAt)
	}
	if c := e.Coins(t, buyer.UserID); c != 500 {
		t.Errorf("buyer's coins after a second Confirm() = %d, want 500", c)
	}
}

// TestAPurchaseIsInvoicedOnce: the platform sells the coins at the price
// the buyer paid, on one invoice however often the purchase is confirmed.
func TestAPurchaseIsInvoicedOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 500, "")
	for range 2 {
		if _, err := e.Payments.Confirm(t.Context(), buyer, pay.ID); err != nil {
			t.Fatalf("Confirm() error = %v", err)
		}
	}
	got, err := e.Invoices.List(t.Context(), buyer, "", page.Request{Number: 1, Limit: 10})
	if err != nil || got.Total != 1 {
		t.Fatalf("buyer's invoices = %+v, %v; want one", got, err)
	}
	inv := got.Items[0]
	if inv.Ref != "purchase:"+pay.SessionID || inv.Seller.ID != invoice.Platform || inv.Buyer.ID != buyer.UserID ||
		inv.Coins != 500 || inv.Value != pay.Amount || inv.Rate != invoice.RatePurchase || inv.Number() != "INV-2026-000001" {
		t.Errorf("invoice = %+v, want the platform's sale of 500 coins for %s", inv, pay.Amount)
	}
}

func TestConfirmRefuses(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 150, "")
	expired := create(t, e, buyer, 150, "")
	// As Stripe's webhook for an expired checkout session would.
	if err := e.Stores.Payments.MarkFailed(t.Context(), expired.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		who  auth.Principal
		id   string
		want error
	}{
		// Another buyer learns nothing, not even that the payment exists.
		{"another buyer's payment", other, pay.ID, payment.ErrNotFound},
		{"by a worker", e.User(t, auth.RoleWorker), pay.ID, payment.ErrNotFound},
		{"an unknown payment", buyer, "nope", payment.ErrNotFound},
		{"a failed payment", buyer, expired.ID, payment.ErrNotPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Payments.Confirm(t.Context(), tt.who, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("Confirm() error = %v, want %v", err, tt.want)
			}
		})
	}
	for _, id := range []string{buyer.UserID, other.UserID} {
		if c := e.Coins(t, id); c != 0 {
			t.Errorf("%s has %d coins after refused confirmations, want 0", id, c)
		}
	}
	if got, err := e.Stores.Payments.ByID(t.Context(), pay.ID); err != nil || got.Status != payment.StatusPending {
		t.Errorf("payment after refused confirmations = %+v, %v; want still pending", got, err)
	}
}

// TestConfirmNeedsTheDummyGateway: with Stripe's webhooks configured only a
// verified webhook completes a payment; the buyer's word is not enough.
func TestConfirmNeedsTheDummyGateway(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *app.Config) {
		c.Webhooks = checkout.NewStripe(checkout.StripeConfig{WebhookSecret: "whsec_test"})
	})
	buyer := e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 150, "") // still the dummy gateway's checkout
	if _, err := e.Payments.Confirm(t.Context(), buyer, pay.ID); !errors.Is(err, payment.ErrConfirmUnavailable) {
		t.Errorf("Confirm() error = %v, want %v", err, payment.ErrConfirmUnavailable)
	}
	if c := e.Coins(t, buyer.UserID); c != 0 {
		t.Errorf("buyer's coins = %d, want 0", c)
	}
}

func TestHistoryListsOnesOwnPaymentsNewestFirst(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	var want []string // newest first
	for _, coins := range []int64{10, 150, 500} {
		want = append([]string{create(t, e, buyer, coins, "").ID}, want...)
		create(t, e, other, 1000, "")
		e.Clock.Advance(time.Minute)
	}
	if _, err := e.Payments.Confirm(t.Context(), buyer, want[1]); err != nil {
		t.Fatal(err)
	}

	h := history(t, e, buyer)
	var got []string
	for _, p := range h.Items {
		if p.UserID != buyer.UserID {
			t.Errorf("History() holds %s's payment %s", p.UserID, p.ID)
		}
		got = append(got, p.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || h.Total != 3 {
		t.Errorf("History() = %v (total %d), want %v (total 3)", got, h.Total, want)
	}
	if len(h.Items) == 3 && (h.Items[1].Status != payment.StatusPaid || h.Items[0].Status != payment.StatusPending) {
		t.Errorf("statuses = %s, %s; want pending, paid", h.Items[0].Status, h.Items[1].Status)
	}

	// Pages: the second page of two holds the oldest payment.
	p2, err := e.Payments.History(t.Context(), buyer, page.Request{Number: 2, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Items) != 1 || p2.Items[0].ID != want[2] || p2.Total != 3 {
		t.Errorf("History(page 2 of 2) = %d items (total %d), want only %s", len(p2.Items), p2.Total, want[2])
	}
}

// TestRetryAfterTheGatewayWasDown: a purchase whose checkout could not start
// is told to try again, and trying again with the same idempotency key
// starts the same payment's checkout, rather than answering the failed
// payment for good.
func TestRetryAfterTheGatewayWasDown(t *testing.T) {
	t.Parallel()
	gw := &apptest.Gateway{Dummy: checkout.Dummy{SuccessURL: "http://localhost/paid"}}
	e := apptest.New(t, func(c *app.Config) { c.Gateway = gw })
	b := e.User(t, auth.RoleBuyer)
	gw.Down.Store(true)
	if _, err := e.Payments.Create(t.Context(), b, 150, "k"); !errors.Is(err, payment.ErrUnavailable) {
		t.Fatalf("Create() while the gateway is down error = %v, want ErrUnavailable", err)
	}
	if _, err := e.Payments.Create(t.Context(), b, 150, "k"); !errors.Is(err, payment.ErrUnavailable) {
		t.Fatalf("Create() again while down error = %v, want ErrUnavailable", err)
	}
	gw.Down.Store(false)
	p := create(t, e, b, 150, "k")
	if p.Status != payment.StatusPending || p.CheckoutURL == "" {
		t.Fatalf("Create() once the gateway is back = %+v, want a pending payment with a checkout", p)
	}
	if h := history(t, e, b); h.Total != 1 {
		t.Errorf("history has %d payments, want the one the key names", h.Total)
	}
	if again := create(t, e, b, 150, "k"); again.ID != p.ID || again.CheckoutURL != p.CheckoutURL {
		t.Errorf("Create() with the key once started = %+v, want %+v", again, p)
	}
}

// TestAPaidSessionRecordsItsPaymentIntent: refunds and disputes name the
// payment intent, not the session, so a paid session's is kept.
func TestAPaidSessionRecordsItsPaymentIntent(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.WithWebhooks(&apptest.Webhooks{}))
	buyer := e.User(t, auth.RoleBuyer)
	withIntent, without := create(t, e, buyer, 150, ""), create(t, e, buyer, 10, "")
	legacy := apptest.Paid(without)
	legacy.PaymentIntentID = "" // as before payment intents were read
	for _, ev := range []payment.Event{apptest.Paid(withIntent), legacy} {
		if err := e.Payments.HandleWebhook(t.Context(), apptest.Payload(ev), ""); err != nil {
			t.Fatalf("HandleWebhook(%s) error = %v", ev.ID, err)
		}
	}
	got, err := e.Stores.Payments.ByPaymentIntent(t.Context(), "pi_"+withIntent.ID)
	if err != nil || got.ID != withIntent.ID || got.Status != payment.StatusPaid {
		t.Errorf("ByPaymentIntent() = %+v, %v; want payment %s, paid", got, err, withIntent.ID)
	}
	if got, err := e.Stores.Payments.ByID(t.Context(), without.ID); err != nil || got.PaymentIntentID != "" || got.Status != payment.StatusPaid {
		t.Errorf("payment paid without a payment intent = %+v, %v", got, err)
	}
	if _, err := e.Stores.Payments.ByPaymentIntent(t.Context(), ""); !errors.Is(err, payment.ErrNotFound) {
		t.Errorf("ByPaymentIntent(\"\") error = %v, want ErrNotFound", err)
	}
	if c := e.Coins(t, buyer.UserID); c != 160 {
		t.Errorf("buyer's coins = %d, want 150 + 10", c)
	}
}
