package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/ledger"
	"microtask/internal/operation"
)

// TestAdminRoutesRefuseEveryoneElse walks the router: every route under
// /api/admin, and the admin-only routes elsewhere, answer 403 to workers and
// buyers and 401 without a token.
func TestAdminRoutesRefuseEveryoneElse(t *testing.T) {
	a := newAPI(t)
	worker, buyer := a.register(t, "worker"), a.register(t, "buyer")
	routes, err := a.srv.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var admin []string
	for _, r := range routes {
		method, pattern, _ := strings.Cut(r, " ")
		if strings.HasPrefix(pattern, "/api/admin/") {
			admin = append(admin, method+" "+chiPattern(pattern))
		}
	}
	admin = append(admin, "GET /api/withdrawals/pending", "PUT /api/withdrawals/{id}/approve",
		"PUT /api/withdrawals/{id}/reject", "POST /api/notifications", "DELETE /api/users/{id}")
	if len(admin) < 14 {
		t.Fatalf("found only %d admin routes: %v", len(admin), admin)
	}
	for _, r := range admin {
		method, path, _ := strings.Cut(strings.ReplaceAll(r, "{id}", "x"), " ")
		t.Run(r, func(t *testing.T) {
			for _, s := range []sessionBody{worker, buyer} {
				wantProblem(t, a.call(t, method, path, s.Token, `{}`), http.StatusForbidden, "wrong_role")
			}
			wantProblem(t, a.call(t, method, path, "", `{}`), http.StatusUnauthorized, "missing_token")
		})
	}
}

type statsBody struct {
	TotalWorkers        int64  `json:"total_workers"`
	TotalBuyers         int64  `json:"total_buyers"`
	TotalCoins          int64  `json:"total_coins"`
	TotalPaymentsCents  int64  `json:"total_payments_cents"`
	DummyPaymentsCents  int64  `json:"dummy_payments_cents"`
	TotalPayoutsCents   int64  `json:"total_payouts_cents"`
	PlatformMarginCents int64  `json:"platform_margin_cents"`
	PendingWithdrawals  int64  `json:"pending_withdrawals"`
	OpenTasks           int64  `json:"open_tasks"`
	PendingSubmissions  int64  `json:"pending_submissions"`
	OpenReports         int64  `json:"open_reports"`
	ComputedAt          string `json:"computed_at"`
}

func TestAdminStatsMatchAHandCount(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	b1, b2, gone := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "buyer")  // 3 × 50
	w1, w2, w3 := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker") // 3 × 10
	if rec := a.call(t, http.MethodDelete, "/api/users/"+gone.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatal(rec.Code)
	}
	// Purchases: $10 and $20 paid, $35 left pending.
	for _, p := range []struct {
		tok   string
		coins int64
		pay   bool
	}{{b1.Token, 150, true}, {b2.Token, 500, true}, {b2.Token, 1000, false}} {
		co := decode[checkoutBody](t, a.buy(t, p.tok, p.coins, ""), http.StatusCreated)
		if p.pay {
			decode[paymentBody](t, a.call(t, http.MethodPost, "/api/payments/"+co.PaymentID+"/confirm", p.tok, nil), http.StatusOK)
		}
	}
	// b1: 200 coins. A task of 3 slots × 10: b1 170, escrow 30; two submissions.
	tk := a.postTask(t, b1.Token, 3, 10)
	a.submit(t, w1.Token, tk.ID)
	s2 := a.submit(t, w2.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/approve", b1.Token, nil), http.StatusOK) // w2: 20
	// w3 gets 400 coins, withdraws 200 (approved, $10) and 200 (pending).
	a.grant(t, w3.User.ID, 400)
	wd := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w3.Token, withdrawalRequest(200)), http.StatusCreated)
	decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd.ID+"/approve", adm.Token, nil), http.StatusOK)
	decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w3.Token, withdrawalRequest(200)), http.StatusCreated)
	// One open report, one dismissed.
	r1 := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", w1.Token, reportRequest("task", tk.ID)), http.StatusCreated)
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+r1.ID, adm.Token, map[string]string{"status": "dismissed"}), http.StatusOK)
	decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", w2.Token, reportRequest("task", tk.ID)), http.StatusCreated)

	got := decode[statsBody](t, a.call(t, http.MethodGet, "/api/admin/stats", adm.Token, nil), http.StatusOK)
	want := statsBody{
		TotalWorkers: 3, TotalBuyers: 2,
		// b1 170 + b2 550 + gone 50 (frozen) + w1 10 + w2 20 + w3 10 + admin 0
		TotalCoins: 170 + 550 + 50 + 10 + 20 + 10,
		// Every purchase went through the dummy gateway: no money came in.
		TotalPaymentsCents: 0, DummyPaymentsCents: 1000 + 2000, TotalPayoutsCents: 1000, PlatformMarginCents: -1000,
		PendingWithdrawals: 1, OpenTasks: 1, PendingSubmissions: 1, OpenReports: 1, ComputedAt: got.ComputedAt,
	}
	if got != want {
		t.Errorf("stats =\n%+v\nwant\n%+v", got, want)
	}

	// Served from the last computation for a while, unless asked fresh.
	decode[submissionBody](t, a.call(t, http.MethodPost, "/api/submissions", w3.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "x"}), http.StatusCreated)
	if again := decode[statsBody](t, a.call(t, http.MethodGet, "/api/admin/stats", adm.Token, nil), http.StatusOK); again != got {
		t.Errorf("stats within the TTL = %+v, want the cached %+v", again, got)
	}
	if fresh := decode[statsBody](t, a.call(t, http.MethodGet, "/api/admin/stats?fresh=true", adm.Token, nil), http.StatusOK); fresh.PendingSubmissions != 2 {
		t.Errorf("fresh stats: pending submissions = %d, want 2", fresh.PendingSubmissions)
	}
	a.clock.Advance(31 * time.Second)
	if later := decode[statsBody](t, a.call(t, http.MethodGet, "/api/admin/stats", adm.Token, nil), http.StatusOK); later.ComputedAt == got.ComputedAt {
		t.Errorf("stats were not recomputed after their TTL")
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/stats?fresh=yes", adm.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
}

func TestAdminManagesUsers(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 5)

	list := func(q string) pageOf[userBody] {
		t.Helper()
		return decode[pageOf[userBody]](t, a.call(t, http.MethodGet, "/api/admin/users"+q, adm.Token, nil), http.StatusOK)
	}
	if all := list(""); all.Total != 3 {
		t.Errorf("users = %d, want 3", all.Total)
	}
	if b := list("?role=buyer"); b.Total != 1 || b.Items[0].ID != buyer.User.ID || b.Items[0].Coins != 40 {
		t.Errorf("buyers = %+v", b)
	}
	if found := list("?q=" + strings.ToUpper(worker.User.Email[:6])); found.Total != 1 || found.Items[0].ID != worker.User.ID {
		t.Errorf("search = %+v", found)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/users?role=god", adm.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")

	// Suspending the buyer revokes its tokens and hides its tasks.
	path := "/api/admin/users/" + buyer.User.ID
	u := decode[userBody](t, a.call(t, http.MethodPut, path, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)
	if u.Status != "suspended" {
		t.Errorf("after suspension = %+v", u)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", buyer.Token, nil), http.StatusForbidden, "account_suspended")
	if p := decode[pageOf[taskBody]](t, a.get(t, "/api/tasks/available"), http.StatusOK); p.Total != 0 {
		t.Errorf("a suspended buyer's task is still available: %+v", p.Items)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", worker.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "x"}), http.StatusConflict, "task_closed")
	if p := list("?status=suspended"); p.Total != 1 {
		t.Errorf("suspended users = %d", p.Total)
	}

	// Reinstated: the tasks are back; the old token stays revoked.
	decode[userBody](t, a.call(t, http.MethodPut, path, adm.Token, map[string]string{"status": "active"}), http.StatusOK)
	if p := decode[pageOf[taskBody]](t, a.get(t, "/api/tasks/available"), http.StatusOK); p.Total != 1 {
		t.Errorf("tasks after reinstatement = %d, want 1", p.Total)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", buyer.Token, nil), http.StatusUnauthorized, "token_revoked")

	// A role change revokes tokens; the next login carries the new role.
	wpath := "/api/admin/users/" + worker.User.ID
	u = decode[userBody](t, a.call(t, http.MethodPut, wpath, adm.Token, map[string]string{"role": "buyer"}), http.StatusOK)
	if u.Role != "buyer" {
		t.Errorf("after the role change = %+v", u)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil), http.StatusUnauthorized, "token_revoked")
	again := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "",
		map[string]string{"email": worker.User.Email, "password": "Passw0rd!"}), http.StatusOK)
	if again.User.Role != "buyer" {
		t.Errorf("login after the role change = %s", again.User.Role)
	}
	if rec := a.call(t, http.MethodGet, "/api/tasks/my", again.Token, nil); rec.Code != http.StatusOK {
		t.Errorf("the new buyer cannot list their tasks: %d", rec.Code)
	}

	tests := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"own status", "/api/admin/users/" + adm.User.ID, map[string]string{"status": "suspended"}, 403, "own_account"},
		{"own role", "/api/admin/users/" + adm.User.ID, map[string]string{"role": "worker"}, 403, "own_account"},
		{"unknown role", path, map[string]string{"role": "owner"}, 422, "invalid_fields"},
		{"deleted is not a status to set", path, map[string]string{"status": "deleted"}, 422, "invalid_fields"},
		{"nothing to change", path, map[string]string{}, 422, "invalid_fields"},
		{"unknown field", path, map[string]string{"coins": "9"}, 422, "invalid_fields"},
		{"unknown user", "/api/admin/users/nobody", map[string]string{"status": "suspended"}, 404, "user_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPut, tt.path, adm.Token, tt.body), tt.status, tt.code)
		})
	}

	// Deletion through the admin route works like DELETE /users/{id}.
	if rec := a.call(t, http.MethodDelete, path, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("admin delete = %d %s", rec.Code, rec.Body)
	}
	if p := decode[pageOf[taskBody]](t, a.get(t, "/api/tasks/available"), http.StatusOK); p.Total != 0 {
		t.Errorf("a deleted buyer's task is still available")
	}
	if d := list("?status=deleted"); d.Total != 1 || d.Items[0].Coins != 40 {
		t.Errorf("deleted users = %+v, want the buyer with its 40 frozen coins", d)
	}
}

func TestAdminRemovesATask(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	buyer := a.register(t, "buyer")
	w1, w2, w3 := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 4, 10) // buyer 10, escrow 40
	s1 := a.submit(t, w1.Token, tk.ID)
	a.submit(t, w2.Token, tk.ID)
	a.submit(t, w3.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	other := a.postTask(t, buyer.Token, 1, 10) // buyer 0

	all := decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/admin/tasks?buyer_id="+buyer.User.ID, adm.Token, nil), http.StatusOK)
	if all.Total != 2 {
		t.Errorf("admin task list = %d", all.Total)
	}

	del := decode[struct {
		ID       string `json:"id"`
		Refunded int64  `json:"refunded"`
	}](t, a.call(t, http.MethodDelete, "/api/admin/tasks/"+tk.ID, adm.Token, nil), http.StatusOK)
	// Escrow held 30: one open slot and two pending submissions.
	if del.Refunded != 30 || a.coins(t, buyer.User.ID) != 30 || a.escrow(t, tk.ID) != 0 {
		t.Errorf("refunded %d; buyer %d, escrow %d", del.Refunded, a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}
	if a.coins(t, w1.User.ID) != 20 || a.coins(t, w2.User.ID) != 10 {
		t.Errorf("workers: w1 %d (approved, keeps 20), w2 %d (cancelled, 10)", a.coins(t, w1.User.ID), a.coins(t, w2.User.ID))
	}
	mine := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/my", w2.Token, nil), http.StatusOK)
	if mine.Items[0].Status != "cancelled" {
		t.Errorf("w2's submission = %s, want cancelled", mine.Items[0].Status)
	}
	if n := a.notificationsOf(t, w2.Token); len(n) != 1 || !strings.Contains(n[0].Message, "removed by an admin") {
		t.Errorf("w2 notifications = %+v", n)
	}
	if n := a.notificationsOf(t, buyer.Token); !strings.Contains(n[0].Message, "An admin removed") {
		t.Errorf("buyer's newest notification = %+v", n[0])
	}
	wantProblem(t, a.get(t, "/api/tasks/"+tk.ID), http.StatusNotFound, "task_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/admin/tasks/"+tk.ID, adm.Token, nil), http.StatusNotFound, "task_not_found")
	all = decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/admin/tasks", adm.Token, nil), http.StatusOK)
	statuses := map[string]string{}
	for _, it := range all.Items {
		statuses[it.ID] = it.Status
	}
	if all.Total != 2 || statuses[tk.ID] != "deleted" || statuses[other.ID] != "open" {
		t.Errorf("admin list after removal = %v", statuses)
	}
	if a.escrow(t, other.ID) != 10 {
		t.Errorf("the buyer's other task lost its escrow")
	}
}

type auditBody struct {
	Balanced          bool     `json:"balanced"`
	Accounts          int      `json:"accounts"`
	Movements         int      `json:"movements"`
	MovementsInFlight int      `json:"movements_in_flight"`
	InFlightSum       int64    `json:"in_flight_sum"`
	Uncleared         int      `json:"uncleared"`
	Sum               int64    `json:"sum"`
	Problems          []string `json:"problems"`
}

// deprecatedAuditNames are the audit's fields under their names of the
// time the ledger kept transfers, which clients may still read.
type deprecatedAuditNames struct {
	Transfers        *int `json:"transfers"`
	PendingTransfers *int `json:"pending_transfers"`
}

// TestAdminAudit: the audit tells the operations in flight and what their
// applied postings add to the sum of balances apart from whether the ledger
// is balanced, so that a balanced ledger never shows a sum other than that
// without the reason beside it. The deprecated transfers and
// pending_transfers say what movements and movements_in_flight say.
func TestAdminAudit(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	buyer := a.register(t, "buyer")
	audit := func(t *testing.T) auditBody {
		t.Helper()
		rec := a.call(t, http.MethodGet, "/api/admin/audit", adm.Token, nil)
		got, old := decode[auditBody](t, rec, http.StatusOK), decode[deprecatedAuditNames](t, rec, http.StatusOK)
		switch {
		case old.Transfers == nil || old.PendingTransfers == nil:
			t.Errorf("audit %s lacks transfers or pending_transfers", rec.Body)
		case *old.Transfers != got.Movements || *old.PendingTransfers != got.MovementsInFlight:
			t.Errorf("audit's transfers, pending_transfers = %d, %d; want movements, movements_in_flight = %d, %d",
				*old.Transfers, *old.PendingTransfers, got.Movements, got.MovementsInFlight)
		}
		return got
	}
	if got, want := audit(t), (auditBody{Balanced: true, Accounts: 2, Movements: 1, Problems: []string{}}); !cmp.Equal(got, want) {
		t.Errorf("audit of a quiet ledger = %+v, want %+v", got, want)
	}

	// A grant of 30 coins stops after its debit of the mint, as a crash
	// would leave it.
	crash := errors.New("crash")
	a.env.Operations.InjectFailures(func(step string) error {
		if step == "applied:0" {
			return crash
		}
		return nil
	})
	_, err := apptest.Grant.Run(context.Background(), a.env.Operations, "audit", ledger.Move(ledger.Mint, ledger.UserAccount(buyer.User.ID), 30), struct{}{})
	a.env.Operations.InjectFailures(nil)
	if !errors.Is(err, crash) {
		t.Fatalf("grant = %v, want the crash", err)
	}
	if got, want := audit(t), (auditBody{Balanced: true, Accounts: 2, Movements: 2, MovementsInFlight: 1, InFlightSum: -30, Sum: -30, Problems: []string{}}); !cmp.Equal(got, want) {
		t.Errorf("audit with an operation in flight = %+v, want %+v", got, want)
	}

	// Recovery finishes it: nothing in flight, the sum back to zero.
	a.clock.Advance(operation.DefaultLeaseTTL + time.Second)
	if _, err := a.env.Operations.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := audit(t), (auditBody{Balanced: true, Accounts: 2, Movements: 2, Problems: []string{}}); !cmp.Equal(got, want) {
		t.Errorf("audit after recovery = %+v, want %+v", got, want)
	}
}

type reportBody struct {
	ID         string  `json:"id"`
	TargetType string  `json:"target_type"`
	TargetID   string  `json:"target_id"`
	Reason     string  `json:"reason"`
	Status     string  `json:"status"`
	Note       string  `json:"note"`
	Action     string  `json:"action"`
	DecidedAt  *string `json:"decided_at"`
	Reporter   struct {
		ID string `json:"id"`
	} `json:"reporter"`
}

func reportRequest(typ, id string) map[string]string {
	return map[string]string{"target_type": typ, "target_id": id, "reason": "This looks wrong to me, please check."}
}

func TestReports(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	buyer, w1, w2 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 10)
	sub := a.submit(t, w1.Token, tk.ID)

	tests := []struct {
		name   string
		token  string
		body   any
		status int
		code   string
	}{
		{"someone else's submission", w2.Token, reportRequest("submission", sub.ID), 404, "target_not_found"},
		{"oneself", w1.Token, reportRequest("user", w1.User.ID), 409, "self_report"},
		{"unknown task", w1.Token, reportRequest("task", "nope"), 404, "target_not_found"},
		{"unknown user", w1.Token, reportRequest("user", "nope"), 404, "target_not_found"},
		{"unknown type", w1.Token, reportRequest("payment", "x"), 422, "invalid_fields"},
		{"short reason", w1.Token, map[string]string{"target_type": "task", "target_id": tk.ID, "reason": "bad"}, 422, "invalid_fields"},
		{"long reason", w1.Token, map[string]string{"target_type": "task", "target_id": tk.ID, "reason": strings.Repeat("r", 1001)}, 422, "invalid_fields"},
		{"no token", "", reportRequest("task", tk.ID), 401, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/reports", tt.token, tt.body), tt.status, tt.code)
		})
	}

	byWorker := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", w1.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	a.clock.Advance(time.Second)
	byBuyer := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", buyer.Token, reportRequest("user", w1.User.ID)), http.StatusCreated)
	a.clock.Advance(time.Second)
	scam := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", w2.Token, reportRequest("task", tk.ID)), http.StatusCreated)
	a.clock.Advance(time.Second)
	if byWorker.Status != "open" || byWorker.Reporter.ID != w1.User.ID || byWorker.DecidedAt != nil {
		t.Errorf("report = %+v", byWorker)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reports", w2.Token, reportRequest("task", tk.ID)), http.StatusConflict, "already_reported")
	if mine := decode[pageOf[reportBody]](t, a.call(t, http.MethodGet, "/api/reports/my", w1.Token, nil), http.StatusOK); mine.Total != 1 {
		t.Errorf("w1's reports = %d", mine.Total)
	}

	// Dismissing takes no action; the reporter is told and may report again.
	decided := decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+scam.ID, adm.Token,
		map[string]string{"status": "dismissed", "note": "The task is legitimate."}), http.StatusOK)
	if decided.Status != "dismissed" || decided.Note != "The task is legitimate." || decided.DecidedAt == nil {
		t.Errorf("dismissed = %+v", decided)
	}
	wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+scam.ID, adm.Token, map[string]string{"status": "resolved"}), http.StatusConflict, "report_closed")
	if n := a.notificationsOf(t, w2.Token); len(n) != 1 || !strings.Contains(n[0].Message, "legitimate") {
		t.Errorf("reporter notifications = %+v", n)
	}
	decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", w2.Token, reportRequest("task", tk.ID)), http.StatusCreated)

	// The admins' list: open ones first, oldest first; a status filter.
	list := decode[pageOf[reportBody]](t, a.call(t, http.MethodGet, "/api/admin/reports", adm.Token, nil), http.StatusOK)
	var order []string
	for _, r := range list.Items {
		order = append(order, r.Status)
	}
	if !slices.Equal(order, []string{"open", "open", "open", "dismissed"}) || list.Items[0].ID != byWorker.ID {
		t.Errorf("admin list order = %v (first %s)", order, list.Items[0].ID)
	}
	if open := decode[pageOf[reportBody]](t, a.call(t, http.MethodGet, "/api/admin/reports?status=open", adm.Token, nil), http.StatusOK); open.Total != 3 {
		t.Errorf("open reports = %d", open.Total)
	}

	bad := []struct {
		name string
		body any
	}{
		{"no status", map[string]string{"note": "x"}},
		{"open is not a decision", map[string]string{"status": "open"}},
		{"unknown action", map[string]string{"status": "resolved", "action": "ban_forever"}},
		{"action on a dismissal", map[string]string{"status": "dismissed", "action": "suspend_user"}},
		{"overturn without a submission", map[string]string{"status": "resolved", "action": "overturn_rejection"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+byBuyer.ID, adm.Token, tt.body), http.StatusUnprocessableEntity, "invalid_fields")
		})
	}

	// The admin deciding a report sees what it is about: the submission with
	// its proof, the task, the user.
	type target struct {
		Task       *taskBody       `json:"task"`
		Submission *submissionBody `json:"submission"`
		User       *userBody       `json:"user"`
	}
	withTarget := func(id string) *target {
		t.Helper()
		return decode[struct {
			ID     string  `json:"id"`
			Target *target `json:"target"`
		}](t, a.call(t, http.MethodGet, "/api/admin/reports/"+id, adm.Token, nil), http.StatusOK).Target
	}
	if got := withTarget(byWorker.ID); got == nil || got.Submission == nil || got.Submission.ID != sub.ID ||
		got.Submission.Details != "https://prnt.sc/proof" || got.Task != nil || got.User != nil {
		t.Errorf("submission report's target = %+v", got)
	}
	if got := withTarget(byBuyer.ID); got == nil || got.User == nil || got.User.ID != w1.User.ID || got.User.Email != w1.User.Email {
		t.Errorf("user report's target = %+v", got)
	}
	if got := withTarget(scam.ID); got == nil || got.Task == nil || got.Task.ID != tk.ID {
		t.Errorf("task report's target = %+v", got)
	}
	for _, tt := range []struct {
		name, token, id string
		status          int
		code            string
	}{
		{"a worker", w1.Token, byWorker.ID, 403, "wrong_role"},
		{"the reporter", w2.Token, scam.ID, 403, "wrong_role"},
		{"no token", "", scam.ID, 401, "missing_token"},
		{"unknown report", adm.Token, "nope", 404, "report_not_found"},
	} {
		wantProblem(t, a.call(t, http.MethodGet, "/api/admin/reports/"+tt.id, tt.token, nil), tt.status, tt.code)
	}

	// Resolving with suspend_user suspends the reported worker.
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+byBuyer.ID, adm.Token,
		map[string]string{"status": "resolved", "action": "suspend_user"}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", w1.Token, nil), http.StatusForbidden, "account_suspended")
	wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/nope", adm.Token, map[string]string{"status": "resolved"}), http.StatusNotFound, "report_not_found")

	// A target that no longer exists is null.
	if rec := a.call(t, http.MethodDelete, "/api/admin/users/"+w1.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d %s", rec.Code, rec.Body)
	}
	if got := withTarget(byBuyer.ID); got != nil {
		t.Errorf("deleted user's report target = %+v, want null", got)
	}
}

// overturnSetup leaves a rejected submission of a 10-coin task, its report by
// the worker, and the parties.
func overturnSetup(t *testing.T, a *testAPI, slots int) (buyer, worker, adm sessionBody, tk taskBody, sub submissionBody, rep reportBody) {
	t.Helper()
	adm = a.admin(t)
	buyer, worker = a.register(t, "buyer"), a.register(t, "worker")
	tk = a.postTask(t, buyer.Token, slots, 10)
	sub = a.submit(t, worker.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/reject", buyer.Token, map[string]string{"reason": "the photo is blurry"}), http.StatusOK)
	rep = decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", worker.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	return
}

var overturn = map[string]string{"status": "resolved", "action": "overturn_rejection", "note": "The proof was fine."}

func TestOverturnPaysFromEscrowWhileASlotIsOpen(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, tk, sub, rep := overturnSetup(t, a, 2) // escrow 20, two open slots after the rejection
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep.ID, adm.Token, overturn), http.StatusOK)
	got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	if a.coins(t, worker.User.ID) != 20 || a.escrow(t, tk.ID) != 10 || got.RequiredWorkers != 1 || a.coins(t, buyer.User.ID) != 30 {
		t.Errorf("worker %d (want 20), escrow %d (want 10), open slots %d (want 1), buyer %d (want 30)",
			a.coins(t, worker.User.ID), a.escrow(t, tk.ID), got.RequiredWorkers, a.coins(t, buyer.User.ID))
	}
	mine := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/my", worker.Token, nil), http.StatusOK)
	if mine.Items[0].ID != sub.ID || mine.Items[0].Status != "approved" {
		t.Errorf("submission = %+v", mine.Items[0])
	}
}

func TestOverturnPaysFromTheBuyerOnceTheSlotIsGone(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, tk, _, rep := overturnSetup(t, a, 1)
	other := a.register(t, "worker")
	a.submit(t, other.Token, tk.ID) // takes the reopened slot
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep.ID, adm.Token, overturn), http.StatusOK)
	if a.coins(t, worker.User.ID) != 20 || a.coins(t, buyer.User.ID) != 30 || a.escrow(t, tk.ID) != 10 {
		t.Errorf("worker %d (want 20), buyer %d (want 40 - 10), escrow %d (untouched 10)",
			a.coins(t, worker.User.ID), a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}
}

func TestOverturnThatNobodyCanPayLeavesTheReportOpen(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, tk, _, rep := overturnSetup(t, a, 1)
	a.submit(t, a.register(t, "worker").Token, tk.ID) // the slot is gone
	// The buyer spends everything: 40 coins on another task.
	a.postTask(t, buyer.Token, 4, 10)
	wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep.ID, adm.Token, overturn), http.StatusConflict, "cannot_pay")
	if a.coins(t, worker.User.ID) != 10 {
		t.Errorf("worker = %d, want unpaid 10", a.coins(t, worker.User.ID))
	}
	open := decode[pageOf[reportBody]](t, a.call(t, http.MethodGet, "/api/admin/reports?status=open", adm.Token, nil), http.StatusOK)
	if open.Total != 1 {
		t.Errorf("open reports = %d, want the report still open", open.Total)
	}
	mine := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/my", worker.Token, nil), http.StatusOK)
	if mine.Items[0].Status != "rejected" {
		t.Errorf("submission = %s, want still rejected", mine.Items[0].Status)
	}
}

func TestConcurrentOverturnsPayOnce(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, tk, sub, rep := overturnSetup(t, a, 2)
	// The buyer reports the same submission too: two reports, decided at once,
	// twice each.
	rep2 := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", buyer.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i, id := range []string{rep.ID, rep.ID, rep2.ID, rep2.ID} {
		wg.Go(func() { codes[i] = a.call(t, http.MethodPut, "/api/admin/reports/"+id, adm.Token, overturn).Code })
	}
	wg.Wait()
	if countOf(codes, http.StatusOK) != 2 || countOf(codes, http.StatusConflict) != 2 {
		t.Errorf("statuses = %v, want one 200 and one 409 per report", codes)
	}
	if got := a.coins(t, worker.User.ID); got != 20 {
		t.Errorf("worker = %d coins, want 10 + one payment of 10", got)
	}
	if b, e := a.coins(t, buyer.User.ID), a.escrow(t, tk.ID); b+e != 40 {
		t.Errorf("buyer %d + escrow %d, want 40 between them", b, e)
	}
}

// TestSecondReportOfAnOverturnedSubmission: two reports ask to overturn the
// same rejection; once the first is decided, deciding the second finds the
// submission approved, which is what it asked: it is decided, and nothing
// is paid twice.
func TestSecondReportOfAnOverturnedSubmission(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, _, sub, rep := overturnSetup(t, a, 2)
	rep2 := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", buyer.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep.ID, adm.Token, overturn), http.StatusOK)
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep2.ID, adm.Token, overturn), http.StatusOK)
	if got := a.coins(t, worker.User.ID); got != 20 {
		t.Errorf("worker = %d coins, want 10 + one payment of 10", got)
	}
}

// TestReworkSendsTheRejectionBack: an admin decides a dispute with rework
// and a deadline: the worker's submission is in revision again, its pay
// held from the reopened slot; the worker resubmits and the buyer approves.
// Decided twice at once over two reports, it sends back once. The unhappy
// paths: no deadline or one passed (422), a report about a task (422), a
// submission no longer rejected (409), a deleted task (409), not an admin
// (403).
func TestReworkSendsTheRejectionBack(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, tk, sub, rep := overturnSetup(t, a, 2)
	rep2 := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", buyer.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	due := a.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	rework := map[string]string{"status": "resolved", "action": "rework", "deadline": due, "note": "Crop the photo and send it again."}

	for _, tt := range []struct {
		name   string
		token  string
		body   map[string]string
		status int
		code   string
	}{
		{"a buyer", buyer.Token, rework, http.StatusForbidden, "wrong_role"},
		{"no deadline", adm.Token, map[string]string{"status": "resolved", "action": "rework"}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"a deadline passed", adm.Token, map[string]string{"status": "resolved", "action": "rework", "deadline": "2020-01-01T00:00:00Z"},
			http.StatusUnprocessableEntity, "invalid_fields"},
		{"not a date", adm.Token, map[string]string{"status": "resolved", "action": "rework", "deadline": "tomorrow"},
			http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep.ID, tt.token, tt.body), tt.status, tt.code)
			if tt.status == http.StatusUnprocessableEntity {
				wantFieldError(t, p, "deadline")
			}
		})
	}
	taskReport := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", worker.Token, reportRequest("task", tk.ID)), http.StatusCreated)
	wantFieldError(t, wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+taskReport.ID, adm.Token, rework),
		http.StatusUnprocessableEntity, "invalid_fields"), "action")

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, id := range []string{rep.ID, rep2.ID} {
		wg.Go(func() { codes[i] = a.call(t, http.MethodPut, "/api/admin/reports/"+id, adm.Token, rework).Code })
	}
	wg.Wait()
	if countOf(codes, http.StatusOK) != 2 {
		t.Fatalf("statuses = %v, want both reports decided (the second finds it sent back, what it asked)", codes)
	}
	got := decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+sub.ID, worker.Token, nil), http.StatusOK)
	open := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	if got.Status != "revision_requested" || open.RequiredWorkers != 1 || a.escrow(t, tk.ID) != 20 || a.coins(t, buyer.User.ID) != 30 {
		t.Errorf("submission %s, open slots %d, escrow %d, buyer %d; want revision_requested, 1, 20, 30",
			got.Status, open.RequiredWorkers, a.escrow(t, tk.ID), a.coins(t, buyer.User.ID))
	}
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID, worker.Token,
		map[string]string{"submission_details": "https://prnt.sc/cropped"}), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
	if a.coins(t, worker.User.ID) != 20 || a.escrow(t, tk.ID) != 10 {
		t.Errorf("worker %d, escrow %d; want 20 (paid once) and 10", a.coins(t, worker.User.ID), a.escrow(t, tk.ID))
	}

	// No longer rejected: 409 not_rejected.
	rep3 := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", worker.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep3.ID, adm.Token, rework), http.StatusConflict, "not_rejected")

	// A deleted task: 409 task_deleted.
	buyer2, _, _, tk2, _, rep4 := overturnSetup(t, a, 1)
	if rec := a.call(t, http.MethodDelete, "/api/tasks/"+tk2.ID, buyer2.Token, nil); rec.Code != http.StatusOK {
		t.Fatalf("DELETE task = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+rep4.ID, adm.Token, rework), http.StatusConflict, "task_deleted")
}
