package stats_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/payment"
	"microtask/internal/report"
	"microtask/internal/stats"
	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
	"microtask/internal/user"
	"microtask/internal/withdrawal"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// platform reads the figures as an admin.
func platform(t *testing.T, e *apptest.Env, admin auth.Principal, fresh bool) stats.Platform {
	t.Helper()
	got, err := e.Stats.Platform(t.Context(), admin, fresh)
	if err != nil {
		t.Fatalf("Platform(fresh %v) error = %v", fresh, err)
	}
	return got
}

// buy purchases a package and, if pay, confirms it.
func buy(t *testing.T, e *apptest.Env, buyer auth.Principal, coins int64, pay bool) {
	t.Helper()
	p, err := e.Payments.Create(t.Context(), buyer, coins, "")
	if err != nil {
		t.Fatal(err)
	}
	if pay {
		if _, err := e.Payments.Confirm(t.Context(), buyer, p.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func postTask(t *testing.T, e *apptest.Env, buyer auth.Principal, slots int) task.Task {
	t.Helper()
	tk, err := e.Tasks.Create(t.Context(), buyer, task.NewTask{
		Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"}, Workers: slots, Pay: 10,
		CompletionDate: e.Clock.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func withdraw(t *testing.T, e *apptest.Env, w auth.Principal, coins money.Coins) withdrawal.Withdrawal {
	t.Helper()
	wd, err := e.Withdrawals.Request(t.Context(), w, withdrawal.Request{Coins: coins, System: "bkash", AccountNumber: "01700000000"})
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestPlatformIsForAdmins(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	for _, role := range []auth.Role{auth.RoleWorker, auth.RoleBuyer} {
		if _, err := e.Stats.Platform(t.Context(), e.User(t, role), true); !errors.Is(err, auth.ErrWrongRole) {
			t.Errorf("Platform() by a %s error = %v, want %v", role, err, auth.ErrWrongRole)
		}
	}
}

func TestPlatformOfAnEmptyPlatform(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	got := platform(t, e, e.User(t, auth.RoleAdmin), false)
	if diff := cmp.Diff(stats.Platform{ComputedAt: apptest.Start}, got); diff != "" {
		t.Errorf("Platform() mismatch (-want +got):\n%s", diff)
	}
}

// TestPlatformFiguresMatchWhatHappened builds a platform step by step and
// counts by hand what each figure must be.
func TestPlatformFiguresMatchWhatHappened(t *testing.T) {
	t.Parallel()
	gw := &apptest.Gateway{Provider: payment.DummyProvider}
	e := apptest.New(t, apptest.RealGateway(gw))
	admin := e.User(t, auth.RoleAdmin)
	b1, b2, gone := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	w1, w2, w3 := e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	suspended := e.User(t, auth.RoleWorker)

	// A deleted user is not counted, but their frozen coins still are; a
	// suspended one is still a worker.
	e.Give(t, gone.UserID, 50)
	if err := e.Users.Delete(t.Context(), admin, gone.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.Users.SetStatus(t.Context(), admin, suspended.UserID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}

	// Purchases: $10 (b1, through a real gateway) and $20 (b2, through
	// the dummy one) paid; b2's $35 never confirmed.
	gw.Provider = "stripe"
	buy(t, e, b1, 150, true)
	gw.Provider = payment.DummyProvider
	buy(t, e, b2, 500, true)
	buy(t, e, b2, 1000, false)

	// b1: a task of 3 × 10 (120 left, 30 in escrow), two submissions, one
	// approved (w2 +10) and one pending.
	tk := postTask(t, e, b1, 3)
	if _, err := e.Submissions.Submit(t.Context(), w1, tk.ID, "proof"); err != nil {
		t.Fatal(err)
	}
	s2, err := e.Submissions.Submit(t.Context(), w2, tk.ID, "proof")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Approve(t.Context(), b1, s2.ID); err != nil {
		t.Fatal(err)
	}
	// b2: a task deleted at once, which is not open (its 20 coins come back).
	deleted := postTask(t, e, b2, 2)
	if _, err := e.Tasks.Delete(t.Context(), b2, deleted.ID); err != nil {
		t.Fatal(err)
	}

	// w3: 500 coins; 200 withdrawn and paid out ($10), 200 rejected (back),
	// 200 pending in the hold, where they are no user's coins: 100 left.
	e.Give(t, w3.UserID, 500)
	paidOut := withdraw(t, e, w3, 200)
	if _, err := e.Withdrawals.Approve(t.Context(), admin, paidOut.ID); err != nil {
		t.Fatal(err)
	}
	refused := withdraw(t, e, w3, 200)
	if _, err := e.Withdrawals.Reject(t.Context(), admin, refused.ID, "no"); err != nil {
		t.Fatal(err)
	}
	withdraw(t, e, w3, 200)

	// Reports: one dismissed, one open.
	r1, err := e.Reports.Create(t.Context(), w1, report.TargetTask, tk.ID, "Scam? It looks like one.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reports.Decide(t.Context(), admin, r1.ID, report.StatusDismissed, "", report.ActionNone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reports.Create(t.Context(), w2, report.TargetUser, b1.UserID, "Rude to me in every message."); err != nil {
		t.Fatal(err)
	}

	e.Clock.Advance(time.Minute)
	got := platform(t, e, admin, false)
	want := stats.Platform{
		Workers: 4, Buyers: 2,
		// b1 150-30, b2 500, gone 50 (frozen), w1 0, w2 10, w3 500-200-200, admin 0
		Coins: 120 + 500 + 50 + 10 + 100,
		// The dummy gateway's purchases brought no money in.
		Payments: 1000, DummyPayments: 2000, Payouts: 1000, Margin: 0,
		PendingWithdrawals: 1, OpenTasks: 1, PendingSubmissions: 1, OpenReports: 1,
		ComputedAt: apptest.Start.Add(time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Platform() mismatch (-want +got):\n%s", diff)
	}
	// The coins figure is the sum of the users' balances as the ledger has them.
	var sum money.Coins
	for _, p := range []auth.Principal{admin, b1, b2, gone, w1, w2, w3, suspended} {
		sum += e.Coins(t, p.UserID)
	}
	if got.Coins != sum {
		t.Errorf("Coins = %d, want the users' balances' sum %d", got.Coins, sum)
	}
}

// TestPlatformCountsWhatRefundsAndDisputesLeave: a refunded purchase
// brought its price less the refunds, a disputed one nothing while the bank
// holds the money.
func TestPlatformCountsWhatRefundsAndDisputesLeave(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.WithWebhooks(&apptest.Webhooks{}), apptest.RealGateway(&apptest.Gateway{}))
	admin, b := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleBuyer)
	deliver := func(ev payment.Event) {
		t.Helper()
		if err := e.Payments.HandleWebhook(t.Context(), apptest.Payload(ev), ""); err != nil {
			t.Fatal(err)
		}
	}
	var pays []payment.Payment
	for _, coins := range []int64{150, 500, 1000, 10} { // $10, $20, $35, $1
		p, err := e.Payments.Create(t.Context(), b, coins, "")
		if err != nil {
			t.Fatal(err)
		}
		deliver(apptest.Paid(p))
		pays = append(pays, p)
	}
	refund := func(p payment.Payment, cents money.Cents) payment.Event {
		return payment.Event{Kind: payment.EventRefunded, PaymentIntentID: "pi_" + p.ID, Amount: p.Amount, Refunded: cents, Currency: "usd"}
	}
	deliver(refund(pays[0], 250))  // $10 - $2.50
	deliver(refund(pays[1], 2000)) // all of $20
	deliver(payment.Event{Kind: payment.EventDisputed, PaymentIntentID: "pi_" + pays[2].ID, Amount: 3500, Currency: "usd"})
	got := platform(t, e, admin, true)
	if want := money.Cents(750 + 0 + 0 + 100); got.Payments != want || got.DummyPayments != 0 {
		t.Errorf("Payments = %s, DummyPayments = %s; want %s and $0.00", got.Payments, got.DummyPayments, want)
	}
}

// TestPlatformIsCachedForTTL: the sums read every matching record, so the
// figures are computed at most once per TTL unless an admin asks for fresh
// ones; the clock shows both.
func TestPlatformIsCachedForTTL(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	admin := e.User(t, auth.RoleAdmin)
	first := platform(t, e, admin, false)
	if first.Workers != 0 || !first.ComputedAt.Equal(apptest.Start) {
		t.Fatalf("Platform() = %+v, want no workers, computed at %v", first, apptest.Start)
	}

	e.User(t, auth.RoleWorker)
	e.Clock.Advance(stats.TTL - time.Second)
	if got := platform(t, e, admin, false); got != first {
		t.Errorf("Platform() within the TTL = %+v, want the cached %+v", got, first)
	}

	// Fresh figures are computed now, and are what is cached from now on.
	fresh := platform(t, e, admin, true)
	freshAt := apptest.Start.Add(stats.TTL - time.Second)
	if fresh.Workers != 1 || !fresh.ComputedAt.Equal(freshAt) {
		t.Errorf("Platform(fresh) = %+v, want 1 worker, computed at %v", fresh, freshAt)
	}
	e.User(t, auth.RoleWorker)
	e.Clock.Advance(stats.TTL - time.Second)
	if got := platform(t, e, admin, false); got != fresh {
		t.Errorf("Platform() within the TTL of the fresh figures = %+v, want %+v", got, fresh)
	}

	// Once the TTL has passed, they are computed again.
	e.Clock.Advance(time.Second)
	later := platform(t, e, admin, false)
	if later.Workers != 2 || !later.ComputedAt.Equal(freshAt.Add(stats.TTL)) {
		t.Errorf("Platform() after the TTL = %+v, want 2 workers, computed at %v", later, freshAt.Add(stats.TTL))
	}

	// The cache is the platform's, not the caller's: another admin gets it.
	e.User(t, auth.RoleWorker)
	if got := platform(t, e, e.User(t, auth.RoleAdmin), false); got != later {
		t.Errorf("Platform() by another admin = %+v, want the cached %+v", got, later)
	}
	// A refused caller neither reads nor refreshes it.
	if _, err := e.Stats.Platform(t.Context(), e.User(t, auth.RoleWorker), true); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("Platform(fresh) by a worker error = %v, want %v", err, auth.ErrWrongRole)
	}
	if got := platform(t, e, admin, false); got != later {
		t.Errorf("Platform() after a refused call = %+v, want the cached %+v", got, later)
	}
}
