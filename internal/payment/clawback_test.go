package payment_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/payment"
	"microtask/internal/task"
)

// withStripe is an Env whose payments are confirmed by webhook events, as
// with Stripe.
func withStripe(t *testing.T) (*apptest.Env, *apptest.Webhooks) {
	t.Helper()
	w := &apptest.Webhooks{}
	return apptest.New(t, apptest.WithWebhooks(w)), w
}

// deliver hands ev to the service as a verified webhook delivery.
func deliver(t *testing.T, e *apptest.Env, ev payment.Event) error {
	t.Helper()
	return e.Payments.HandleWebhook(t.Context(), apptest.Payload(ev), "")
}

// bought is a payment of the package, paid through its webhook.
func bought(t *testing.T, e *apptest.Env, buyer auth.Principal, coins int64) payment.Payment {
	t.Helper()
	pay := create(t, e, buyer, coins, "")
	if err := deliver(t, e, apptest.Paid(pay)); err != nil {
		t.Fatalf("deliver the paid session: %v", err)
	}
	return stored(t, e, pay.ID)
}

func stored(t *testing.T, e *apptest.Env, id string) payment.Payment {
	t.Helper()
	p, err := e.Stores.Payments.ByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// refunded is Stripe's charge.refunded of pay once refunds of cents in all
// were made.
func refunded(pay payment.Payment, cents money.Cents) payment.Event {
	return payment.Event{ID: "evt_refund", Kind: payment.EventRefunded, PaymentIntentID: "pi_" + pay.ID,
		Amount: pay.Amount, Refunded: cents, Currency: "usd"}
}

// disputed is Stripe's charge.dispute.created for pay.
func disputed(pay payment.Payment) payment.Event {
	return payment.Event{ID: "evt_dispute", Kind: payment.EventDisputed, PaymentIntentID: "pi_" + pay.ID,
		Amount: pay.Amount, Currency: "usd"}
}

// spend moves coins of the buyer into a task's escrow, out of reach.
func spend(t *testing.T, e *apptest.Env, buyer auth.Principal, coins int) {
	t.Helper()
	_, err := e.Tasks.Create(t.Context(), buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: coins, Pay: 1, CompletionDate: e.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

// notificationsAbout are the user's notifications whose ID names the
// payment's clawbacks.
func notificationsAbout(t *testing.T, e *apptest.Env, userID, paymentID string) []notification.Notification {
	t.Helper()
	all, _, err := e.Stores.Notifications.List(t.Context(), userID, page.Request{Number: 1, Limit: page.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []notification.Notification
	for _, n := range all {
		if strings.HasPrefix(n.ID, "clawback:"+paymentID+":") {
			out = append(out, n)
		}
	}
	return out
}

func TestOwedRoundsTheRefundedShareUp(t *testing.T) {
	tests := []struct {
		name  string
		pkg   payment.Package
		r     payment.Reversal
		want  money.Coins
		doing string
	}{
		{"nothing refunded", payment.Package{Coins: 150, Price: 1000}, payment.Reversal{}, 0, ""},
		{"all refunded", payment.Package{Coins: 150, Price: 1000}, payment.Reversal{Refunded: 1000}, 150, ""},
		{"half refunded", payment.Package{Coins: 150, Price: 1000}, payment.Reversal{Refunded: 500}, 75, ""},
		{"one cent", payment.Package{Coins: 150, Price: 1000}, payment.Reversal{Refunded: 1}, 1, "0.15 coins, rounded up"},
		{"a dollar of $35", payment.Package{Coins: 1000, Price: 3500}, payment.Reversal{Refunded: 100}, 29, "28.57 coins"},
		{"exact share", payment.Package{Coins: 500, Price: 2000}, payment.Reversal{Refunded: 4}, 1, "4 cents a coin"},
		{"more than paid", payment.Package{Coins: 10, Price: 100}, payment.Reversal{Refunded: 150}, 10, "never more than the coins"},
		{"disputed", payment.Package{Coins: 500, Price: 2000}, payment.Reversal{Disputed: true}, 500, ""},
		{"disputed after a partial refund", payment.Package{Coins: 500, Price: 2000}, payment.Reversal{Refunded: 1, Disputed: true}, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := payment.Payment{Coins: tt.pkg.Coins, Amount: tt.pkg.Price}
			if got := p.Owed(tt.r); got != tt.want {
				t.Errorf("Owed(%+v) of %d coins for %s = %d, want %d %s", tt.r, tt.pkg.Coins, tt.pkg.Price, got, tt.want, tt.doing)
			}
		})
	}
}

// TestRefundsAndDisputesTakeCoinsBack: each case is a buyer who bought a
// package through Stripe, may have spent some of it, and then got events
// about the charge; the coins taken back never exceed the package, the
// balance never goes below zero, and what could not be taken is recorded.
func TestRefundsAndDisputesTakeCoinsBack(t *testing.T) {
	t.Parallel()
	e, _ := withStripe(t)
	admin := e.User(t, auth.RoleAdmin)
	tests := []struct {
		name        string
		coins       int64 // the package bought
		spent       int   // coins moved into a task before the events
		events      func(p payment.Payment) []payment.Event
		want        payment.Reversal
		wantStatus  payment.Status
		wantBalance money.Coins
		wantSteps   int // clawbacks run: each tells the admin once
	}{
		{
			name: "full refund, the buyer holds every coin", coins: 150,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 1000)} },
			want:       payment.Reversal{Refunded: 1000, Taken: 150},
			wantStatus: payment.StatusRefunded, wantBalance: 0, wantSteps: 1,
		},
		{
			name: "partial refund takes the same share", coins: 150,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 500)} },
			want:       payment.Reversal{Refunded: 500, Taken: 75},
			wantStatus: payment.StatusRefunded, wantBalance: 75, wantSteps: 1,
		},
		{
			name: "the buyer spent coins: what is left is taken, the rest is short", coins: 150, spent: 120,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 1000)} },
			want:       payment.Reversal{Refunded: 1000, Taken: 30, Shortfall: 120},
			wantStatus: payment.StatusRefunded, wantBalance: 0, wantSteps: 1,
		},
		{
			name: "the buyer spent everything: nothing moves, all is short", coins: 10, spent: 10,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{disputed(p)} },
			want:       payment.Reversal{Disputed: true, Shortfall: 10},
			wantStatus: payment.StatusDisputed, wantBalance: 0, wantSteps: 1,
		},
		{
			name: "dispute takes every coin", coins: 500,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{disputed(p)} },
			want:       payment.Reversal{Disputed: true, Taken: 500},
			wantStatus: payment.StatusDisputed, wantBalance: 0, wantSteps: 1,
		},
		{
			name: "redelivered events move nothing more", coins: 150,
			events: func(p payment.Payment) []payment.Event {
				return []payment.Event{refunded(p, 500), refunded(p, 500), disputed(p), disputed(p), refunded(p, 500)}
			},
			want:       payment.Reversal{Refunded: 500, Disputed: true, Taken: 150},
			wantStatus: payment.StatusDisputed, wantBalance: 0, wantSteps: 2,
		},
		{
			name: "a dispute after a partial refund takes only the rest", coins: 150, spent: 50,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 200), disputed(p)} },
			want:       payment.Reversal{Refunded: 200, Disputed: true, Taken: 100, Shortfall: 50},
			wantStatus: payment.StatusDisputed, wantBalance: 0, wantSteps: 2,
		},
		{
			name: "partial refunds add up to their sum, rounded once", coins: 1000,
			// 100 cents are 28.57 coins, 200 are 57.14: 29, then 58 in all.
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 100), refunded(p, 200)} },
			want:       payment.Reversal{Refunded: 200, Taken: 58},
			wantStatus: payment.StatusRefunded, wantBalance: 942, wantSteps: 2,
		},
		{
			name: "an older refund arriving late changes nothing", coins: 150,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{refunded(p, 800), refunded(p, 300)} },
			want:       payment.Reversal{Refunded: 800, Taken: 120},
			wantStatus: payment.StatusRefunded, wantBalance: 30, wantSteps: 1,
		},
		{
			name: "a refund after a dispute takes nothing more", coins: 150,
			events:     func(p payment.Payment) []payment.Event { return []payment.Event{disputed(p), refunded(p, 1000)} },
			want:       payment.Reversal{Refunded: 1000, Disputed: true, Taken: 150},
			wantStatus: payment.StatusDisputed, wantBalance: 0, wantSteps: 2,
		},
	}
	var clawedBack money.Coins
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buyer := e.User(t, auth.RoleBuyer)
			pay := bought(t, e, buyer, tt.coins)
			if tt.spent > 0 {
				spend(t, e, buyer, tt.spent)
			}
			for _, ev := range tt.events(pay) {
				if err := deliver(t, e, ev); err != nil {
					t.Fatalf("deliver %s of %d cents error = %v", ev.ID, ev.Refunded, err)
				}
			}
			got := stored(t, e, pay.ID)
			clawedBack += got.Reversal.Taken
			if got.Reversal != tt.want || got.Status != tt.wantStatus || got.ClawbackOp != "" {
				t.Errorf("payment reversal %+v, status %s, in flight %q; want %+v, %s, none",
					got.Reversal, got.Status, got.ClawbackOp, tt.want, tt.wantStatus)
			}
			if c := e.Coins(t, buyer.UserID); c != tt.wantBalance {
				t.Errorf("buyer's coins = %d, want %d", c, tt.wantBalance)
			}
			if n := notificationsAbout(t, e, admin.UserID, pay.ID); len(n) != tt.wantSteps {
				t.Errorf("admin told %d times, want %d", len(n), tt.wantSteps)
			}
			if n := notificationsAbout(t, e, buyer.UserID, pay.ID); len(n) != tt.wantSteps {
				t.Errorf("buyer told %d times, want %d", len(n), tt.wantSteps)
			}
			if blocked, err := e.Stores.PurchaseBlocks.Blocked(t.Context(), buyer.UserID); err != nil || !blocked {
				t.Errorf("Blocked() = %v, %v; want the buyer blocked", blocked, err)
			}
		})
	}
	if got := e.Balance(t, ledger.Clawback); got != clawedBack {
		t.Errorf("clawback account = %d, want the %d coins taken back", got, clawedBack)
	}
}

// TestAdminsAreToldWhatHappened: every active admin gets the message,
// which says what was and was not taken back.
func TestAdminsAreToldWhatHappened(t *testing.T) {
	t.Parallel()
	e, _ := withStripe(t)
	a1, a2, buyer := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin), e.User(t, auth.RoleBuyer)
	pay := bought(t, e, buyer, 150)
	spend(t, e, buyer, 100)
	if err := deliver(t, e, disputed(pay)); err != nil {
		t.Fatal(err)
	}
	for _, admin := range []auth.Principal{a1, a2} {
		n := notificationsAbout(t, e, admin.UserID, pay.ID)
		if len(n) != 1 || !strings.Contains(n[0].Message, "disputes payment "+pay.ID) ||
			!strings.Contains(n[0].Message, "50 coins were taken back; 100 could not be") {
			t.Errorf("admin %s told %+v", admin.UserID, n)
		}
	}
	if n := notificationsAbout(t, e, buyer.UserID, pay.ID); len(n) != 1 || !strings.Contains(n[0].Message, "disputed with your bank: 50 of its coins") {
		t.Errorf("buyer told %+v", n)
	}
}

// TestPurchasesStayBlockedUntilAnAdminClearsThem: the block outlives the
// events; only an admin lifts it, and an old event delivered again does not
// put it back, while a new refund does.
func TestPurchasesStayBlockedUntilAnAdminClearsThem(t *testing.T) {
	t.Parallel()
	e, _ := withStripe(t)
	admin, buyer, other := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	pay := bought(t, e, buyer, 150)
	e.Clock.Advance(time.Minute)
	if err := deliver(t, e, refunded(pay, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Payments.Create(t.Context(), buyer, 10, ""); !errors.Is(err, payment.ErrPurchasesBlocked) {
		t.Fatalf("Create() by a blocked buyer error = %v, want %v", err, payment.ErrPurchasesBlocked)
	}
	create(t, e, other, 10, "") // others are not blocked

	blocks, err := e.Payments.Blocks(t.Context(), admin, page.Request{Number: 1, Limit: 10})
	want := payment.Block{UserID: buyer.UserID, PaymentID: pay.ID, Reason: payment.ReasonRefund, At: apptest.Start.Add(time.Minute)}
	if err != nil || blocks.Total != 1 || blocks.Items[0] != want {
		t.Errorf("Blocks() = %+v, %v; want only %+v", blocks, err, want)
	}
	for _, p := range []auth.Principal{buyer, other} {
		if err := e.Payments.ClearBlock(t.Context(), p, buyer.UserID); !errors.Is(err, auth.ErrWrongRole) {
			t.Errorf("ClearBlock() by a %s error = %v, want %v", p.Role, err, auth.ErrWrongRole)
		}
		if _, err := e.Payments.Blocks(t.Context(), p, page.Request{Number: 1, Limit: 10}); !errors.Is(err, auth.ErrWrongRole) {
			t.Errorf("Blocks() by a %s error = %v, want %v", p.Role, err, auth.ErrWrongRole)
		}
	}
	if err := e.Payments.ClearBlock(t.Context(), admin, other.UserID); !errors.Is(err, payment.ErrNoBlock) {
		t.Errorf("ClearBlock() of a buyer never blocked error = %v, want %v", err, payment.ErrNoBlock)
	}

	if err := e.Payments.ClearBlock(t.Context(), admin, buyer.UserID); err != nil {
		t.Fatalf("ClearBlock() error = %v", err)
	}
	if err := e.Payments.ClearBlock(t.Context(), admin, buyer.UserID); !errors.Is(err, payment.ErrNoBlock) {
		t.Errorf("ClearBlock() again error = %v, want %v", err, payment.ErrNoBlock)
	}
	if b, _ := e.Payments.Blocks(t.Context(), admin, page.Request{Number: 1, Limit: 10}); b.Total != 0 {
		t.Errorf("Blocks() after clearing = %+v, want none", b)
	}
	create(t, e, buyer, 10, "")

	// The refund delivered again, and the block step of its operation run
	// again (as recovery would), leave the buyer free.
	if err := deliver(t, e, refunded(pay, 100)); err != nil {
		t.Fatal(err)
	}
	if err := e.Stores.PurchaseBlocks.Block(t.Context(), want, "clawback:"+pay.ID+":100"); err != nil {
		t.Fatal(err)
	}
	create(t, e, buyer, 10, "")

	// A further refund blocks again.
	if err := deliver(t, e, refunded(pay, 300)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Payments.Create(t.Context(), buyer, 10, ""); !errors.Is(err, payment.ErrPurchasesBlocked) {
		t.Errorf("Create() after a second refund error = %v, want %v", err, payment.ErrPurchasesBlocked)
	}
	if got := stored(t, e, pay.ID).Reversal; got != (payment.Reversal{Refunded: 300, Taken: 45}) {
		t.Errorf("reversal = %+v, want 300 cents refunded and 45 coins taken", got)
	}
}

// TestARefundBeforeThePaymentIsCredited: Stripe's events come in any order;
// a refund that arrives before the paid session is refused, so that Stripe
// delivers it again, by when the coins are there to take back.
func TestARefundBeforeThePaymentIsCredited(t *testing.T) {
	t.Parallel()
	e, w := withStripe(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 150, "")
	w.Knows("pi_"+pay.ID, pay.SessionID, pay.ID) // not recorded yet: Stripe says which session
	if err := deliver(t, e, refunded(pay, 1000)); !errors.Is(err, payment.ErrNotCredited) {
		t.Fatalf("refund before the payment is credited error = %v, want %v", err, payment.ErrNotCredited)
	}
	if err := deliver(t, e, apptest.Paid(pay)); err != nil {
		t.Fatal(err)
	}
	if err := deliver(t, e, refunded(pay, 1000)); err != nil {
		t.Fatalf("refund delivered again error = %v", err)
	}
	if got := stored(t, e, pay.ID); got.Status != payment.StatusRefunded || e.Coins(t, buyer.UserID) != 0 {
		t.Errorf("payment %+v, buyer's coins %d; want refunded and 0", got, e.Coins(t, buyer.UserID))
	}
}

// TestAChargeIsFoundThroughStripe: a payment paid before payment intents
// were recorded is found by asking Stripe for the session of the charge's
// payment intent, which the clawback then records.
func TestAChargeIsFoundThroughStripe(t *testing.T) {
	t.Parallel()
	e, w := withStripe(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := create(t, e, buyer, 500, "")
	legacy := apptest.Paid(pay)
	legacy.PaymentIntentID = ""
	if err := deliver(t, e, legacy); err != nil {
		t.Fatal(err)
	}

	// Not found at all: acknowledged, nothing taken.
	if err := deliver(t, e, refunded(pay, 2000)); err != nil {
		t.Fatalf("refund of an unknown payment intent error = %v, want it acknowledged", err)
	}
	if c := e.Coins(t, buyer.UserID); c != 500 {
		t.Fatalf("buyer's coins = %d after a refund of nothing of ours, want 500", c)
	}

	w.Knows("pi_"+pay.ID, pay.SessionID, "")
	if err := deliver(t, e, refunded(pay, 1000)); err != nil {
		t.Fatal(err)
	}
	got := stored(t, e, pay.ID)
	if got.PaymentIntentID != "pi_"+pay.ID || got.Reversal != (payment.Reversal{Refunded: 1000, Taken: 250}) {
		t.Errorf("payment = %+v, want its payment intent recorded and 250 coins taken", got)
	}
}

// TestARefundInAnotherCurrencyTakesNothing: the event does not describe
// this payment's money.
func TestARefundInAnotherCurrencyTakesNothing(t *testing.T) {
	t.Parallel()
	e, _ := withStripe(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := bought(t, e, buyer, 150)
	ev := refunded(pay, 1000)
	ev.Currency = "eur"
	if err := deliver(t, e, ev); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, e, pay.ID); got.Status != payment.StatusPaid || e.Coins(t, buyer.UserID) != 150 {
		t.Errorf("payment %s, coins %d; want paid and 150", got.Status, e.Coins(t, buyer.UserID))
	}
}

// TestConcurrentDeliveriesTakeBackOnce: Stripe redelivers while a delivery
// is still running, and a refund and a dispute may arrive together.
func TestConcurrentDeliveriesTakeBackOnce(t *testing.T) {
	t.Parallel()
	e, _ := withStripe(t)
	buyer := e.User(t, auth.RoleBuyer)
	pay := bought(t, e, buyer, 150)
	e.Give(t, buyer.UserID, 40) // coins of other origin stay the buyer's
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		ev := refunded(pay, 500)
		if i%2 == 1 {
			ev = disputed(pay)
		}
		wg.Go(func() { errs[i] = e.Payments.HandleWebhook(context.Background(), apptest.Payload(ev), "") })
	}
	wg.Wait()
	for i, err := range errs {
		// A delivery that kept finding another at work is told to come
		// back; its event then changes nothing.
		if err != nil && !errors.Is(err, operation.ErrInProgress) {
			t.Errorf("delivery %d error = %v", i, err)
		}
	}
	for _, ev := range []payment.Event{refunded(pay, 500), disputed(pay)} {
		if err := deliver(t, e, ev); err != nil {
			t.Fatal(err)
		}
	}
	got := stored(t, e, pay.ID)
	if got.Reversal != (payment.Reversal{Refunded: 500, Disputed: true, Taken: 150}) || got.Status != payment.StatusDisputed {
		t.Errorf("payment reversal %+v, status %s; want all 150 coins taken once", got.Reversal, got.Status)
	}
	if c, cb := e.Coins(t, buyer.UserID), e.Balance(t, ledger.Clawback); c != 40 || cb != 150 {
		t.Errorf("buyer %d, clawback account %d; want 40 and 150", c, cb)
	}
}

// TestAClawbackShortOfCoinsIsWorkedOutAgain: when the buyer spends between
// the balance read and the debit, the debit comes up short, the operation
// fails and is reverted, and the delivery works the clawback out again from
// the balance as it is: the balance never goes negative and the shortfall
// is what was really missing.
func TestAClawbackShortOfCoinsIsWorkedOutAgain(t *testing.T) {
	t.Parallel()
	w := &apptest.Webhooks{}
	e := apptest.New(t, apptest.WithWebhooks(w))
	buyer := e.User(t, auth.RoleBuyer)
	pay := bought(t, e, buyer, 150)
	spend(t, e, buyer, 100)
	racing := e.PaymentsRacingASpender(w, 100)
	if err := racing.HandleWebhook(t.Context(), apptest.Payload(refunded(pay, 1000)), ""); err != nil {
		t.Fatalf("HandleWebhook() error = %v", err)
	}
	got := stored(t, e, pay.ID)
	if got.Reversal != (payment.Reversal{Refunded: 1000, Taken: 50, Shortfall: 100}) || got.ClawbackOp != "" {
		t.Errorf("payment reversal %+v, in flight %q; want 50 taken and 100 short", got.Reversal, got.ClawbackOp)
	}
	if c := e.Coins(t, buyer.UserID); c != 0 {
		t.Errorf("buyer's coins = %d, want 0", c)
	}
	if n := notificationsAbout(t, e, buyer.UserID, pay.ID); len(n) != 1 {
		t.Errorf("buyer told %d times, want once", len(n))
	}
}
