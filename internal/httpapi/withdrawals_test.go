package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"microtask/internal/ledger"
)

type withdrawalBody struct {
	ID            string  `json:"id"`
	Coins         int64   `json:"withdrawal_coin"`
	AmountCents   int64   `json:"withdrawal_amount_cents"`
	System        string  `json:"payment_system"`
	AccountNumber string  `json:"account_number"`
	Status        string  `json:"status"`
	Reason        string  `json:"reason"`
	DecidedAt     *string `json:"decided_at"`
	Worker        struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"worker"`
}

func withdrawalRequest(coins int64) map[string]any {
	return map[string]any{"withdrawal_coin": coins, "payment_system": "bkash", "account_number": "01700-000000"}
}

// wantOnHold fails unless the user sees these coins and coins on hold, on
// /auth/me and in the admins' user list.
func wantOnHold(t *testing.T, a *testAPI, u sessionBody, coins, onHold int64) {
	t.Helper()
	me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", u.Token, nil), http.StatusOK)
	if me.Coins != coins || me.CoinsOnHold != onHold {
		t.Errorf("/auth/me: coins %d, on hold %d; want %d, %d", me.Coins, me.CoinsOnHold, coins, onHold)
	}
	adm := a.admin(t)
	list := decode[pageOf[userBody]](t, a.call(t, http.MethodGet, "/api/admin/users?q="+u.User.Email, adm.Token, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].Coins != coins || list.Items[0].CoinsOnHold != onHold {
		t.Errorf("admin list = %+v; want coins %d, on hold %d", list.Items, coins, onHold)
	}
}

func TestWithdrawalFlow(t *testing.T) {
	a := newAPI(t)
	worker, buyer, adm := a.register(t, "worker"), a.register(t, "buyer"), a.admin(t)
	a.grant(t, worker.User.ID, 400) // 410 coins

	wd := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)), http.StatusCreated)
	if wd.Status != "pending" || wd.AmountCents != 1000 || wd.System != "bkash" || wd.Worker.ID != worker.User.ID || wd.DecidedAt != nil {
		t.Fatalf("withdrawal = %+v", wd)
	}
	if a.coins(t, worker.User.ID) != 210 || a.balance(t, ledger.HoldAccount(wd.ID)) != 200 {
		t.Fatalf("after the request: worker %d, hold %d", a.coins(t, worker.User.ID), a.balance(t, ledger.HoldAccount(wd.ID)))
	}
	wantOnHold(t, a, worker, 210, 200)
	mine := decode[pageOf[withdrawalBody]](t, a.call(t, http.MethodGet, "/api/withdrawals/my", worker.Token, nil), http.StatusOK)
	pending := decode[pageOf[withdrawalBody]](t, a.call(t, http.MethodGet, "/api/withdrawals/pending", adm.Token, nil), http.StatusOK)
	if mine.Total != 1 || pending.Total != 1 || pending.Items[0].Worker.Email != worker.User.Email || pending.Items[0].Worker.Name != "Test worker" {
		t.Errorf("mine %+v, pending %+v", mine, pending)
	}

	// Approval pays out; the decision is final.
	ok := decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd.ID+"/approve", adm.Token, nil), http.StatusOK)
	if ok.Status != "approved" || ok.DecidedAt == nil {
		t.Errorf("approved = %+v", ok)
	}
	if a.balance(t, ledger.Payout) != 200 || a.balance(t, ledger.HoldAccount(wd.ID)) != 0 || a.coins(t, worker.User.ID) != 210 {
		t.Errorf("after approval: payout %d, hold %d, worker %d", a.balance(t, ledger.Payout), a.balance(t, ledger.HoldAccount(wd.ID)), a.coins(t, worker.User.ID))
	}
	wantOnHold(t, a, worker, 210, 0) // paid out: no longer the worker's
	wantProblem(t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd.ID+"/approve", adm.Token, nil), http.StatusConflict, "already_decided")
	wantProblem(t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd.ID+"/reject", adm.Token, nil), http.StatusConflict, "already_decided")

	// Rejection gives the coins back, with the reason.
	wd2 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)), http.StatusCreated)
	wantOnHold(t, a, worker, 10, 200)
	no := decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd2.ID+"/reject", adm.Token,
		map[string]string{"reason": "The account number is not a bKash wallet."}), http.StatusOK)
	if no.Status != "rejected" || no.Reason != "The account number is not a bKash wallet." || a.coins(t, worker.User.ID) != 210 {
		t.Errorf("rejected = %+v, worker %d", no, a.coins(t, worker.User.ID))
	}
	wantOnHold(t, a, worker, 210, 0)
	notes := a.notificationsOf(t, worker.Token)
	if len(notes) != 2 || !strings.Contains(notes[0].Message, "not a bKash wallet") || !strings.Contains(notes[1].Message, "paid out") {
		t.Errorf("worker notifications = %+v", notes)
	}
	if p := decode[pageOf[withdrawalBody]](t, a.call(t, http.MethodGet, "/api/withdrawals/pending", adm.Token, nil), http.StatusOK); p.Total != 0 {
		t.Errorf("pending after decisions = %d", p.Total)
	}

	// Who may do what.
	wantProblem(t, a.call(t, http.MethodPost, "/api/withdrawals", buyer.Token, withdrawalRequest(200)), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/withdrawals/pending", worker.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd2.ID+"/approve", worker.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodPut, "/api/withdrawals/nope/approve", adm.Token, nil), http.StatusNotFound, "withdrawal_not_found")
	wantProblem(t, a.call(t, http.MethodGet, "/api/withdrawals/my", "", nil), http.StatusUnauthorized, "missing_token")
	if got := decode[[]string](t, a.get(t, "/api/withdrawals/methods"), http.StatusOK); strings.Join(got, ",") != "stripe,bkash,rocket,nagad" {
		t.Errorf("methods = %v", got)
	}
	terms := decode[struct {
		MinCoins       int64    `json:"min_coins"`
		CoinsPerDollar int64    `json:"coins_per_dollar"`
		Methods        []string `json:"methods"`
	}](t, a.get(t, "/api/withdrawals/terms"), http.StatusOK)
	if terms.MinCoins != 200 || terms.CoinsPerDollar != 20 || strings.Join(terms.Methods, ",") != "stripe,bkash,rocket,nagad" {
		t.Errorf("terms = %+v", terms)
	}
}

func TestWithdrawalRefusesBadInput(t *testing.T) {
	a := newAPI(t)
	worker := a.register(t, "worker")
	a.grant(t, worker.User.ID, 300) // 310 coins
	with := func(change func(map[string]any)) map[string]any {
		r := withdrawalRequest(200)
		change(r)
		return r
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"below the minimum", withdrawalRequest(199), 422, "invalid_fields", "withdrawal_coin"},
		{"zero", withdrawalRequest(0), 422, "invalid_fields", "withdrawal_coin"},
		{"negative", withdrawalRequest(-200), 422, "invalid_fields", "withdrawal_coin"},
		{"more than the balance", withdrawalRequest(311), 409, "insufficient_coins", ""},
		{"unknown system", with(func(r map[string]any) { r["payment_system"] = "paypal" }), 422, "invalid_fields", "payment_system"},
		{"short account", with(func(r map[string]any) { r["account_number"] = "123" }), 422, "invalid_fields", "account_number"},
		{"long account", with(func(r map[string]any) { r["account_number"] = strings.Repeat("1", 41) }), 422, "invalid_fields", "account_number"},
		{"control characters", with(func(r map[string]any) { r["account_number"] = "0170\n0000" }), 422, "invalid_fields", "account_number"},
		{"coins as text", with(func(r map[string]any) { r["withdrawal_coin"] = "200" }), 422, "invalid_fields", "withdrawal_coin"},
		{"smuggled status", with(func(r map[string]any) { r["status"] = "approved" }), 422, "invalid_fields", "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, tt.body), tt.status, tt.code)
			if tt.field != "" {
				wantFieldError(t, p, tt.field)
			}
		})
	}
	if a.coins(t, worker.User.ID) != 310 {
		t.Errorf("coins after refused requests = %d", a.coins(t, worker.User.ID))
	}
	// The system's letter case does not matter.
	wd := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token,
		with(func(r map[string]any) { r["payment_system"] = "Nagad" })), http.StatusCreated)
	if wd.System != "nagad" {
		t.Errorf("system = %q", wd.System)
	}
}

func TestConcurrentWithdrawalsNeverOverdraw(t *testing.T) {
	a := newAPI(t)
	worker := a.register(t, "worker")
	a.grant(t, worker.User.ID, 400) // 410 coins
	codes := make([]int, 6)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			codes[i] = a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)).Code
		})
	}
	wg.Wait()
	if countOf(codes, http.StatusCreated) != 2 || countOf(codes, http.StatusConflict) != 4 {
		t.Errorf("statuses = %v, want two 201 and four 409", codes)
	}
	if got := a.coins(t, worker.User.ID); got != 10 {
		t.Errorf("coins = %d, want 10", got)
	}
}

func TestApproveAndRejectRacing(t *testing.T) {
	a := newAPI(t)
	worker, adm := a.register(t, "worker"), a.admin(t)
	a.grant(t, worker.User.ID, 190)
	w := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)), http.StatusCreated)
	var approve, reject int
	var wg sync.WaitGroup
	wg.Go(func() { approve = a.call(t, http.MethodPut, "/api/withdrawals/"+w.ID+"/approve", adm.Token, nil).Code })
	wg.Go(func() { reject = a.call(t, http.MethodPut, "/api/withdrawals/"+w.ID+"/reject", adm.Token, nil).Code })
	wg.Wait()
	if (approve == http.StatusOK) == (reject == http.StatusOK) {
		t.Fatalf("approve %d, reject %d: want exactly one 200", approve, reject)
	}
	payout, coins := a.balance(t, ledger.Payout), a.coins(t, worker.User.ID)
	if approve == http.StatusOK && (payout != 200 || coins != 0) || reject == http.StatusOK && (payout != 0 || coins != 200) {
		t.Errorf("approve %d reject %d: payout %d, worker %d", approve, reject, payout, coins)
	}
}

// A withdrawal's risk is for admins: its worker never sees it.
func TestWithdrawalRiskIsForAdmins(t *testing.T) {
	a := newAPI(t)
	worker, adm := a.register(t, "worker"), a.admin(t)
	a.grant(t, worker.User.ID, 400)
	created := a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200))
	mine := a.call(t, http.MethodGet, "/api/withdrawals/my", worker.Token, nil)
	for _, rec := range []*httptest.ResponseRecorder{created, mine} {
		if strings.Contains(rec.Body.String(), `"risk"`) {
			t.Errorf("the worker sees the risk: %s", rec.Body)
		}
	}
	type withRisk struct {
		ID   string `json:"id"`
		Risk *struct {
			Score   int      `json:"score"`
			Level   string   `json:"level"`
			Reasons []string `json:"reasons"`
		} `json:"risk"`
	}
	for _, sort := range []string{"", "?sort=oldest", "?sort=risk"} {
		p := decode[pageOf[withRisk]](t, a.call(t, http.MethodGet, "/api/withdrawals/pending"+sort, adm.Token, nil), http.StatusOK)
		// A new account, paid by nobody: its coins came from elsewhere.
		if len(p.Items) != 1 || p.Items[0].Risk == nil || p.Items[0].Risk.Score != 25 || p.Items[0].Risk.Level != "low" || len(p.Items[0].Risk.Reasons) != 1 {
			t.Errorf("pending%s = %+v", sort, p.Items)
		}
	}
	wantFieldError(t, wantProblem(t, a.call(t, http.MethodGet, "/api/withdrawals/pending?sort=amount", adm.Token, nil), http.StatusUnprocessableEntity, "invalid_fields"), "sort")
}
