package withdrawal_test

import (
	"slices"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/task"
	"microtask/internal/withdrawal"
)

// pays has buyer post a one-slot task of pay coins, which the worker does
// and the buyer approves.
func pays(t *testing.T, e *apptest.Env, buyer, worker auth.Principal, pay money.Coins) {
	t.Helper()
	tk, err := e.Tasks.Create(t.Context(), buyer, task.NewTask{
		Text: task.Text{Title: "Like a page", Detail: "D", SubmissionInfo: "S"}, Workers: 1, Pay: pay,
		CompletionDate: e.Clock.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.Submissions.Submit(t.Context(), worker, tk.ID, "done")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Approve(t.Context(), buyer, sub.ID); err != nil {
		t.Fatal(err)
	}
}

// buys has the buyer buy a package through the gateway as it is named now.
func buys(t *testing.T, e *apptest.Env, buyer auth.Principal, coins int64) {
	t.Helper()
	p, err := e.Payments.Create(t.Context(), buyer, coins, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Payments.Confirm(t.Context(), buyer, p.ID); err != nil {
		t.Fatal(err)
	}
}

// TestRiskOfWithdrawals: the scheme of four throwaway buyers paying their
// sign-up bonuses to a new worker stands out; an established worker paid by
// buyers who bought their coins does not; admins can list the riskiest
// first.
func TestRiskOfWithdrawals(t *testing.T) {
	t.Parallel()
	gw := &apptest.Gateway{}
	e := apptest.New(t, apptest.RealGateway(gw))
	admin := e.User(t, auth.RoleAdmin)

	// An established worker, paid by three buyers who bought coins, and a
	// dummy-gateway buyer whose coins were never paid for.
	honest := e.User(t, auth.RoleWorker)
	e.Clock.Advance(60 * 24 * time.Hour)
	for range 3 {
		b := e.User(t, auth.RoleBuyer)
		buys(t, e, b, 150)
		pays(t, e, b, honest, 100)
	}
	gw.Provider = "dummy"
	b := e.User(t, auth.RoleBuyer)
	buys(t, e, b, 150)
	pays(t, e, b, honest, 20)
	gw.Provider = "stripe"
	honestWd := request(t, e, honest, 300)

	// The scheme: a worker of an hour, paid 200 coins by four buyers' bonuses.
	e.Clock.Advance(time.Minute)
	schemer := e.User(t, auth.RoleWorker)
	e.Clock.Advance(time.Hour)
	for range 4 {
		b := e.User(t, auth.RoleBuyer)
		e.Give(t, b.UserID, 50) // the bonus: from the mint, never bought
		pays(t, e, b, schemer, 50)
	}
	schemeWd := request(t, e, schemer, 200)

	tests := []struct {
		name  string
		wd    withdrawal.Withdrawal
		want  withdrawal.Risk
		level string
	}{
		{"established", honestWd, withdrawal.Risk{AccountAge: 60 * 24 * time.Hour, Earned: 320, Unfunded: 20, PayingBuyers: 4, Score: 0, Reasons: []string{}}, "low"},
		{"throwaway buyers", schemeWd, withdrawal.Risk{AccountAge: time.Hour, Earned: 200, Unfunded: 200, PayingBuyers: 4, Score: 85, Reasons: []string{
			"100% of the worker's earnings came from buyers who never paid real money for coins " +
				"(they had only sign-up bonuses, or coins from the dummy gateway)", "the account is 1 hour old",
		}}, "high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, got := range []withdrawal.Withdrawal{tt.wd, stored(t, e, tt.wd.ID)} {
				if got.Risk == nil {
					t.Fatal("no risk measured")
				}
				if r := *got.Risk; r.AccountAge != tt.want.AccountAge || r.Earned != tt.want.Earned || r.Unfunded != tt.want.Unfunded ||
					r.PayingBuyers != tt.want.PayingBuyers || r.Score != tt.want.Score || r.Level() != tt.level || !slices.Equal(r.Reasons, tt.want.Reasons) {
					t.Errorf("risk = %+v (%s), want %+v (%s)", r, r.Level(), tt.want, tt.level)
				}
			}
		})
	}

	first := page.Request{Number: 1, Limit: 10}
	for order, want := range map[withdrawal.Order][]string{
		withdrawal.OldestFirst: {honestWd.ID, schemeWd.ID},
		withdrawal.RiskFirst:   {schemeWd.ID, honestWd.ID},
	} {
		got, err := e.Withdrawals.Pending(t.Context(), admin, order, first)
		if err != nil || !slices.Equal(ids(got.Items), want) {
			t.Errorf("Pending(%s) = %v, %v; want %v", order, ids(got.Items), err, want)
		}
	}
}

func stored(t *testing.T, e *apptest.Env, id string) withdrawal.Withdrawal {
	t.Helper()
	w, err := e.Stores.Withdrawals.ByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRiskReasonOfDummyGatewayPurchases: coins bought through the dummy
// gateway were never paid for, so the earnings they paid count as unfunded;
// the reason says so without claiming that the buyers never bought coins.
func TestRiskReasonOfDummyGatewayPurchases(t *testing.T) {
	t.Parallel()
	e := apptest.New(t) // the dummy gateway
	worker := e.User(t, auth.RoleWorker)
	e.Clock.Advance(60 * 24 * time.Hour)
	for range 3 {
		b := e.User(t, auth.RoleBuyer)
		buys(t, e, b, 150)
		pays(t, e, b, worker, 100)
	}
	wd := request(t, e, worker, 300)
	want := []string{"100% of the worker's earnings came from buyers who never paid real money for coins (they had only sign-up bonuses, or coins from the dummy gateway)"}
	if wd.Risk == nil || wd.Risk.Unfunded != 300 || !slices.Equal(wd.Risk.Reasons, want) {
		t.Errorf("risk = %+v, want 300 unfunded coins and the reasons %q", wd.Risk, want)
	}
}
