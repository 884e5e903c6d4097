package withdrawal_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/withdrawal"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// worker is a new worker holding coins.
func worker(t *testing.T, e *apptest.Env, coins money.Coins) auth.Principal {
	t.Helper()
	w := e.User(t, auth.RoleWorker)
	e.Give(t, w.UserID, coins)
	return w
}

// request asks for a withdrawal the test expects to be accepted.
func request(t *testing.T, e *apptest.Env, w auth.Principal, coins money.Coins) withdrawal.Withdrawal {
	t.Helper()
	got, err := e.Withdrawals.Request(t.Context(), w, withdrawal.Request{Coins: coins, System: "bkash", AccountNumber: "01700000000"})
	if err != nil {
		t.Fatalf("Request(%d) error = %v", coins, err)
	}
	return got
}

// ids are the IDs of withdrawals, in order.
func ids(ws []withdrawal.Withdrawal) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

// wantMoney fails unless the worker, the withdrawal's hold and the payout
// account hold these coins.
func wantMoney(t *testing.T, e *apptest.Env, workerID, withdrawalID string, coins, held, paidOut money.Coins) {
	t.Helper()
	gotCoins, gotHeld, gotPaid := e.Coins(t, workerID), e.Balance(t, ledger.HoldAccount(withdrawalID)), e.Balance(t, ledger.Payout)
	if gotCoins != coins || gotHeld != held || gotPaid != paidOut {
		t.Errorf("worker %d, hold %d, payout %d; want %d, %d, %d", gotCoins, gotHeld, gotPaid, coins, held, paidOut)
	}
}

// TestRequestHoldsTheCoins: the coins leave the worker's balance at once,
// so that they cannot be spent or withdrawn twice while an admin decides.
func TestRequestHoldsTheCoins(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	tests := []struct {
		name       string
		balance    money.Coins
		req        withdrawal.Request
		wantSystem string
		wantAmount money.Cents
	}{
		{"the minimum", 500, withdrawal.Request{Coins: money.DefaultPricing().MinWithdrawal, System: "bkash", AccountNumber: "01700000000"}, "bkash", 1000},
		{"the whole balance", 500, withdrawal.Request{Coins: 500, System: "stripe", AccountNumber: "acct_1"}, "stripe", 2500},
		// Systems are matched and stored in lower case, as the list names them.
		{"a system in capitals", 300, withdrawal.Request{Coins: 201, System: "Nagad", AccountNumber: "01800000000"}, "nagad", 1005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := worker(t, e, tt.balance)
			got, err := e.Withdrawals.Request(t.Context(), w, tt.req)
			if err != nil {
				t.Fatalf("Request() error = %v", err)
			}
			if got.Worker.ID != w.UserID || got.Worker.Name != "Name of "+w.UserID || got.Worker.Email != w.UserID+"@example.com" {
				t.Errorf("Worker = %+v, want %s with their name and email", got.Worker, w.UserID)
			}
			if got.Coins != tt.req.Coins || got.Amount != tt.wantAmount || got.System != tt.wantSystem ||
				got.AccountNumber != tt.req.AccountNumber || got.Status != withdrawal.StatusPending {
				t.Errorf("Request() = %+v, want a pending withdrawal of %d coins (%v) to %s %s",
					got, tt.req.Coins, tt.wantAmount, tt.wantSystem, tt.req.AccountNumber)
			}
			if !got.CreatedAt.Equal(apptest.Start) || !got.DecidedAt.IsZero() {
				t.Errorf("CreatedAt = %v, DecidedAt = %v; want %v and zero", got.CreatedAt, got.DecidedAt, apptest.Start)
			}
			wantMoney(t, e, w.UserID, got.ID, tt.balance-tt.req.Coins, tt.req.Coins, 0)
		})
	}
}

func TestRequestRefuses(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	ok := withdrawal.Request{Coins: 300, System: "rocket", AccountNumber: "01900000000"}
	with := func(f func(*withdrawal.Request)) withdrawal.Request {
		r := ok
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		role       auth.Role
		req        withdrawal.Request
		want       error
		wantFields []string // of the Invalid error
	}{
		{"a buyer", auth.RoleBuyer, ok, auth.ErrWrongRole, nil},
		{"an admin", auth.RoleAdmin, ok, auth.ErrWrongRole, nil},
		{"below the minimum", auth.RoleWorker, with(func(r *withdrawal.Request) { r.Coins = money.DefaultPricing().MinWithdrawal - 1 }), nil, []string{"withdrawal_coin"}},
		{"no coins", auth.RoleWorker, with(func(r *withdrawal.Request) { r.Coins = 0 }), nil, []string{"withdrawal_coin"}},
		{"negative coins", auth.RoleWorker, with(func(r *withdrawal.Request) { r.Coins = -300 }), nil, []string{"withdrawal_coin"}},
		{"an unknown system", auth.RoleWorker, with(func(r *withdrawal.Request) { r.System = "paypal" }), nil, []string{"payment_system"}},
		{"no system", auth.RoleWorker, with(func(r *withdrawal.Request) { r.System = "" }), nil, []string{"payment_system"}},
		{"too many coins", auth.RoleWorker, with(func(r *withdrawal.Request) { r.Coins = withdrawal.MaxCoins + 1 }), nil, []string{"withdrawal_coin"}},
		{"a system name too long", auth.RoleWorker, with(func(r *withdrawal.Request) { r.System = strings.Repeat("a", withdrawal.MaxSystemLen+1) }), nil, []string{"payment_system"}},
		{"no account", auth.RoleWorker, with(func(r *withdrawal.Request) { r.AccountNumber = "  " }), nil, []string{"account_number"}},
		{"an account too short", auth.RoleWorker, with(func(r *withdrawal.Request) { r.AccountNumber = "123" }), nil, []string{"account_number"}},
		{"an account too long", auth.RoleWorker, with(func(r *withdrawal.Request) { r.AccountNumber = strings.Repeat("1", withdrawal.MaxAccountLen+1) }), nil, []string{"account_number"}},
		{"an account not in printable ASCII", auth.RoleWorker, with(func(r *withdrawal.Request) { r.AccountNumber = "0190\n0000" }), nil, []string{"account_number"}},
		{"every field wrong", auth.RoleWorker, withdrawal.Request{Coins: 10, System: "cash"}, nil, []string{"withdrawal_coin", "payment_system", "account_number"}},
		{"more than the balance", auth.RoleWorker, with(func(r *withdrawal.Request) { r.Coins = 501 }), ledger.ErrInsufficientCoins, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.User(t, tt.role)
			e.Give(t, p.UserID, 500)
			_, err := e.Withdrawals.Request(t.Context(), p, tt.req)
			if tt.wantFields != nil {
				var ae *apperr.Error
				if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
					t.Fatalf("Request() error = %v, want an apperr of kind Invalid", err)
				}
				var fields []string
				for _, f := range ae.Fields {
					fields = append(fields, f.Field)
				}
				if !slices.Equal(fields, tt.wantFields) {
					t.Errorf("Request() invalid fields = %v, want %v", fields, tt.wantFields)
				}
			} else if !errors.Is(err, tt.want) {
				t.Fatalf("Request() error = %v, want %v", err, tt.want)
			}
			// Nothing is held and nothing recorded.
			if c := e.Coins(t, p.UserID); c != 500 {
				t.Errorf("balance after a refused request = %d, want 500", c)
			}
			if mine, err := e.Withdrawals.Mine(t.Context(), p, page.Request{Number: 1, Limit: 10}); err != nil || mine.Total != 0 {
				t.Errorf("Mine() = %d withdrawals, %v; want none", mine.Total, err)
			}
		})
	}
}

// TestHeldCoinsCannotBeWithdrawnTwice: the hold is what stops a worker from
// asking for the same coins twice before an admin decides.
func TestHeldCoinsCannotBeWithdrawnTwice(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	w := worker(t, e, 300)
	request(t, e, w, 200)
	if _, err := e.Withdrawals.Request(t.Context(), w, withdrawal.Request{Coins: 200, System: "bkash", AccountNumber: "01700000000"}); !errors.Is(err, ledger.ErrInsufficientCoins) {
		t.Errorf("second Request() error = %v, want %v", err, ledger.ErrInsufficientCoins)
	}
	if c := e.Coins(t, w.UserID); c != 100 {
		t.Errorf("balance = %d, want 100", c)
	}
}

// TestRequestWithAKeyHoldsOnce: the request for a key run again (after its
// process died before answering) finds the coins the first run held.
func TestRequestWithAKeyHoldsOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	w := worker(t, e, 500)
	req := withdrawal.Request{Coins: 200, System: "bkash", AccountNumber: "01700000000", Key: "payout-1"}
	first, err := e.Withdrawals.Request(t.Context(), w, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Withdrawals.Request(t.Context(), w, req)
	if err != nil || again.ID != first.ID {
		t.Fatalf("again = %+v, %v; want the first withdrawal %s", again, err, first.ID)
	}
	wantMoney(t, e, w.UserID, first.ID, 300, 200, 0)
	second := request(t, e, w, 200)
	if second.ID == first.ID {
		t.Error("a request without the key got the keyed withdrawal")
	}
	if c := e.Coins(t, w.UserID); c != 100 {
		t.Errorf("balance = %d, want 100", c)
	}
}

func TestApprovePaysOutOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	admin := e.User(t, auth.RoleAdmin)
	w := worker(t, e, 500)
	wd := request(t, e, w, 200)
	e.Clock.Advance(time.Hour)

	got, err := e.Withdrawals.Approve(t.Context(), admin, wd.ID)
	if err != nil {
		t.Fatalf("Approve() error = %v", err)
	}
	if got.Status != withdrawal.StatusApproved || !got.DecidedAt.Equal(apptest.Start.Add(time.Hour)) {
		t.Errorf("Approve() = %+v, want approved at %v", got, apptest.Start.Add(time.Hour))
	}
	wantMoney(t, e, w.UserID, wd.ID, 300, 0, 200)

	// A withdrawal is decided once: neither another approval nor a rejection
	// moves its coins again.
	if _, err := e.Withdrawals.Approve(t.Context(), admin, wd.ID); !errors.Is(err, withdrawal.ErrAlreadyDecided) {
		t.Errorf("Approve() again error = %v, want %v", err, withdrawal.ErrAlreadyDecided)
	}
	if _, err := e.Withdrawals.Reject(t.Context(), admin, wd.ID, "changed my mind"); !errors.Is(err, withdrawal.ErrAlreadyDecided) {
		t.Errorf("Reject() after Approve() error = %v, want %v", err, withdrawal.ErrAlreadyDecided)
	}
	wantMoney(t, e, w.UserID, wd.ID, 300, 0, 200)
}

func TestRejectGivesTheCoinsBackOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	admin := e.User(t, auth.RoleAdmin)
	w := worker(t, e, 500)
	wd := request(t, e, w, 250)

	got, err := e.Withdrawals.Reject(t.Context(), admin, wd.ID, "  wrong account number \n")
	if err != nil {
		t.Fatalf("Reject() error = %v", err)
	}
	if got.Status != withdrawal.StatusRejected || got.Reason != "wrong account number" || got.DecidedAt.IsZero() {
		t.Errorf("Reject() = %+v, want rejected with the trimmed reason", got)
	}
	wantMoney(t, e, w.UserID, wd.ID, 500, 0, 0)

	if _, err := e.Withdrawals.Reject(t.Context(), admin, wd.ID, "again"); !errors.Is(err, withdrawal.ErrAlreadyDecided) {
		t.Errorf("Reject() again error = %v, want %v", err, withdrawal.ErrAlreadyDecided)
	}
	if _, err := e.Withdrawals.Approve(t.Context(), admin, wd.ID); !errors.Is(err, withdrawal.ErrAlreadyDecided) {
		t.Errorf("Approve() after Reject() error = %v, want %v", err, withdrawal.ErrAlreadyDecided)
	}
	wantMoney(t, e, w.UserID, wd.ID, 500, 0, 0)
}

// TestConcurrentDecisionsDecideOnce: two admins approving and rejecting the
// same withdrawal at once move its coins once, the way one of them said.
func TestConcurrentDecisionsDecideOnce(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	w := worker(t, e, 500)
	wd := request(t, e, w, 200)
	admins := []auth.Principal{e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin)}
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = e.Withdrawals.Approve(t.Context(), admins[i%2], wd.ID)
			} else {
				_, errs[i] = e.Withdrawals.Reject(t.Context(), admins[i%2], wd.ID, "no")
			}
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("decisions %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, withdrawal.ErrAlreadyDecided):
			t.Errorf("decision %d error = %v, want nil or %v", i, err, withdrawal.ErrAlreadyDecided)
		}
	}
	got, err := e.Stores.Withdrawals.ByID(t.Context(), wd.ID)
	switch {
	case err != nil || won < 0:
		t.Fatalf("withdrawal = %+v, %v; winning decision %d", got, err, won)
	case won%2 == 0:
		if got.Status != withdrawal.StatusApproved {
			t.Errorf("status = %s after an approval won, want approved", got.Status)
		}
		wantMoney(t, e, w.UserID, wd.ID, 300, 0, 200)
	default:
		if got.Status != withdrawal.StatusRejected {
			t.Errorf("status = %s after a rejection won, want rejected", got.Status)
		}
		wantMoney(t, e, w.UserID, wd.ID, 500, 0, 0)
	}
}

func TestOnlyAdminsDecide(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	w := worker(t, e, 500)
	wd := request(t, e, w, 200)
	admin := e.User(t, auth.RoleAdmin)
	tests := []struct {
		name string
		who  auth.Principal
		id   string
		want error
	}{
		{"the worker themselves", w, wd.ID, auth.ErrWrongRole},
		{"another worker", e.User(t, auth.RoleWorker), wd.ID, auth.ErrWrongRole},
		{"a buyer", e.User(t, auth.RoleBuyer), wd.ID, auth.ErrWrongRole},
		{"an unknown withdrawal", admin, "nope", withdrawal.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Withdrawals.Approve(t.Context(), tt.who, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("Approve() error = %v, want %v", err, tt.want)
			}
			if _, err := e.Withdrawals.Reject(t.Context(), tt.who, tt.id, "no"); !errors.Is(err, tt.want) {
				t.Errorf("Reject() error = %v, want %v", err, tt.want)
			}
		})
	}
	pending, err := e.Withdrawals.Pending(t.Context(), admin, withdrawal.OldestFirst, page.Request{Number: 1, Limit: 10})
	if err != nil || pending.Total != 1 || pending.Items[0].Status != withdrawal.StatusPending {
		t.Errorf("Pending() = %+v, %v; want the withdrawal still pending", pending, err)
	}
	wantMoney(t, e, w.UserID, wd.ID, 300, 200, 0)
}

func TestMineAndPending(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	admin := e.User(t, auth.RoleAdmin)
	w1, w2 := worker(t, e, 1000), worker(t, e, 1000)
	a := request(t, e, w1, 200)
	e.Clock.Advance(time.Minute)
	b := request(t, e, w2, 300)
	e.Clock.Advance(time.Minute)
	c := request(t, e, w1, 400)
	e.Clock.Advance(time.Minute)
	d := request(t, e, w1, 200)
	if _, err := e.Withdrawals.Approve(t.Context(), admin, c.ID); err != nil {
		t.Fatal(err)
	}
	first := page.Request{Number: 1, Limit: 10}

	// A worker's own, newest first, whatever their status.
	mine, err := e.Withdrawals.Mine(t.Context(), w1, first)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{d.ID, c.ID, a.ID}; !slices.Equal(ids(mine.Items), want) || mine.Total != 3 {
		t.Errorf("Mine(w1) = %v (total %d), want %v", ids(mine.Items), mine.Total, want)
	}
	if mine, err := e.Withdrawals.Mine(t.Context(), w2, first); err != nil || !slices.Equal(ids(mine.Items), []string{b.ID}) {
		t.Errorf("Mine(w2) = %v, %v; want [%s]", ids(mine.Items), err, b.ID)
	}

	// Everyone's pending ones, oldest first: the order admins work through.
	pending, err := e.Withdrawals.Pending(t.Context(), admin, withdrawal.OldestFirst, first)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a.ID, b.ID, d.ID}; !slices.Equal(ids(pending.Items), want) || pending.Total != 3 {
		t.Errorf("Pending() = %v (total %d), want %v", ids(pending.Items), pending.Total, want)
	}
	if p2, err := e.Withdrawals.Pending(t.Context(), admin, withdrawal.OldestFirst, page.Request{Number: 2, Limit: 2}); err != nil ||
		!slices.Equal(ids(p2.Items), []string{d.ID}) || p2.Total != 3 {
		t.Errorf("Pending(page 2 of 2) = %v (total %d), %v; want [%s]", ids(p2.Items), p2.Total, err, d.ID)
	}

	for _, role := range []auth.Role{auth.RoleWorker, auth.RoleBuyer} {
		if _, err := e.Withdrawals.Pending(t.Context(), e.User(t, role), withdrawal.OldestFirst, first); !errors.Is(err, auth.ErrWrongRole) {
			t.Errorf("Pending() by a %s error = %v, want %v", role, err, auth.ErrWrongRole)
		}
	}
}
