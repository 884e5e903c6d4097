package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

type weekBody struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"`
	WeekStart   time.Time `json:"week_start"`
	Hours       *int      `json:"hours"`
	Message     string    `json:"message"`
	WorkerCoins int64     `json:"worker_coins"`
}

type hourlyContractBody struct {
	ID       string     `json:"id"`
	Escrow   int64      `json:"escrow_coins"`
	Paused   bool       `json:"paused"`
	NextWeek *time.Time `json:"next_week"`
	Weeks    []weekBody `json:"milestones"`
}

// hourlyContracted hires the worker at 15 an hour, up to 10 hours a week:
// the current week's 150 coins escrowed.
func (a *testAPI) hourlyContracted(t testing.TB, buyer, worker sessionBody) hourlyContractBody {
	t.Helper()
	a.grant(t, buyer.User.ID, 500)
	j := a.postJob(t, buyer.Token, hourlyJob(20, 10))
	p := a.propose(t, worker.Token, j.ID, map[string]any{"cover_letter": "Hi.", "hourly_rate_coins": 15, "estimated_days": 30})
	c := decode[hourlyContractBody](t, a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/hire", buyer.Token, map[string]any{"proposal_id": p.ID}),
		http.StatusCreated)
	if len(c.Weeks) != 1 || c.Weeks[0].WeekStart.Weekday() != time.Monday || c.NextWeek == nil || c.Escrow != 150 {
		t.Fatalf("hourly contract = %+v", c)
	}
	return c
}

// TestTimesheets: the worker logs a week, both read it, the buyer
// approves it: hours × rate to the worker, the rest back.
func TestTimesheets(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	c := a.hourlyContracted(t, buyer, worker)
	monday := c.Weeks[0].WeekStart.Format(time.DateOnly)
	rec := a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/timesheets", worker.Token,
		map[string]any{"week_start": monday, "hours": 4, "memo": "Answered 30 mails."})
	w := decode[weekBody](t, rec, http.StatusCreated)
	if w.Status != "submitted" || w.Hours == nil || *w.Hours != 4 || w.Message != "Answered 30 mails." ||
		rec.Header().Get("Location") != "/api/contracts/"+c.ID+"/milestones/"+w.ID {
		t.Fatalf("logged = %+v, Location %q", w, rec.Header().Get("Location"))
	}
	list := decode[pageOf[weekBody]](t, a.call(t, http.MethodGet, "/api/contracts/"+c.ID+"/timesheets", buyer.Token, nil), http.StatusOK)
	if list.Total != 1 || list.Items[0].ID != w.ID {
		t.Errorf("timesheets = %+v", list)
	}
	got := decode[weekBody](t, a.call(t, http.MethodPut, "/api/timesheets/"+w.ID+"/approve", buyer.Token, nil), http.StatusOK)
	if got.Status != "released" || got.WorkerCoins != 60 {
		t.Errorf("approved = %+v", got)
	}
	if me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil), http.StatusOK); me.Coins != 60+10 {
		t.Errorf("worker's coins = %d, want 70", me.Coins)
	}
	after := decode[contractBody](t, a.call(t, http.MethodGet, "/api/contracts/"+c.ID, buyer.Token, nil), http.StatusOK)
	if after.Escrow != 0 || after.Paid != 60 || after.Refunded != 90 {
		t.Errorf("contract = %+v", after)
	}
}

// TestTimesheetRefusals: wrong role, someone else's contract, invalid
// fields and conflicting states of timesheets, their approval, disputes
// of them and the resume.
func TestTimesheetRefusals(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	otherBuyer, otherWorker := a.register(t, "buyer"), a.register(t, "worker")
	c := a.hourlyContracted(t, buyer, worker)
	fixed := a.contracted(t, otherBuyer, otherWorker)
	start := c.Weeks[0].WeekStart
	monday := start.Format(time.DateOnly)
	path := "/api/contracts/" + c.ID + "/timesheets"
	logged := decode[weekBody](t, a.call(t, http.MethodPost, path, worker.Token, map[string]any{"week_start": monday, "hours": 2}), http.StatusCreated)
	disputes := "/api/contracts/" + c.ID + "/disputes"
	reason := "Two hours for nothing done."
	for _, tt := range []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
		fields []string
	}{
		{"the buyer logs", http.MethodPost, path, buyer.Token, map[string]any{"week_start": monday, "hours": 2}, http.StatusForbidden, "wrong_role", nil},
		{"another worker logs", http.MethodPost, path, otherWorker.Token, map[string]any{"week_start": monday, "hours": 2},
			http.StatusNotFound, "contract_not_found", nil},
		{"no fields", http.MethodPost, path, worker.Token, map[string]any{}, http.StatusUnprocessableEntity, "invalid_fields", []string{"week_start", "hours"}},
		{"not a date", http.MethodPost, path, worker.Token, map[string]any{"week_start": "soon", "hours": 2}, http.StatusUnprocessableEntity,
			"invalid_fields", []string{"week_start"}},
		{"a Tuesday, over the limit", http.MethodPost, path, worker.Token,
			map[string]any{"week_start": start.AddDate(0, 0, 1).Format(time.DateOnly), "hours": 11}, http.StatusUnprocessableEntity, "invalid_fields",
			[]string{"week_start", "hours"}},
		{"a week not funded", http.MethodPost, path, worker.Token, map[string]any{"week_start": start.AddDate(0, 0, 7).Format(time.DateOnly), "hours": 2},
			http.StatusConflict, "week_not_funded", nil},
		{"logged twice", http.MethodPost, path, worker.Token, map[string]any{"week_start": monday, "hours": 3}, http.StatusConflict, "timesheet_logged", nil},
		{"a fixed contract", http.MethodPost, "/api/contracts/" + fixed.ID + "/timesheets", otherWorker.Token,
			map[string]any{"week_start": monday, "hours": 3}, http.StatusConflict, "fixed_contract", nil},
		{"a stranger lists", http.MethodGet, path, otherBuyer.Token, nil, http.StatusNotFound, "contract_not_found", nil},
		{"a fixed contract's list", http.MethodGet, "/api/contracts/" + fixed.ID + "/timesheets", otherBuyer.Token, nil, http.StatusConflict, "fixed_contract", nil},
		{"the worker approves", http.MethodPut, "/api/timesheets/" + logged.ID + "/approve", worker.Token, nil, http.StatusForbidden, "wrong_role", nil},
		{"another buyer approves", http.MethodPut, "/api/timesheets/" + logged.ID + "/approve", otherBuyer.Token, nil, http.StatusNotFound, "timesheet_not_found", nil},
		{"a missing timesheet", http.MethodPut, "/api/timesheets/nope/approve", buyer.Token, nil, http.StatusNotFound, "timesheet_not_found", nil},
		{"a milestone as a timesheet", http.MethodPut, "/api/timesheets/" + fixed.Milestones[0].ID + "/approve", otherBuyer.Token, nil,
			http.StatusNotFound, "timesheet_not_found", nil},
		{"dispute both", http.MethodPost, disputes, buyer.Token, map[string]any{"milestone_id": logged.ID, "timesheet_id": logged.ID, "reason": reason},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"milestone_id", "timesheet_id"}},
		{"dispute a week as a milestone", http.MethodPost, disputes, buyer.Token, map[string]any{"milestone_id": logged.ID, "reason": reason},
			http.StatusNotFound, "milestone_not_found", nil},
		{"dispute a stranger's timesheet", http.MethodPost, disputes, otherBuyer.Token, map[string]any{"timesheet_id": logged.ID, "reason": reason},
			http.StatusNotFound, "contract_not_found", nil},
		{"resume one not paused", http.MethodPost, "/api/contracts/" + c.ID + "/resume", buyer.Token, nil, http.StatusConflict, "contract_not_paused", nil},
		{"the worker resumes", http.MethodPost, "/api/contracts/" + c.ID + "/resume", worker.Token, nil, http.StatusForbidden, "wrong_role", nil},
		{"another buyer resumes", http.MethodPost, "/api/contracts/" + c.ID + "/resume", otherBuyer.Token, nil, http.StatusNotFound, "contract_not_found", nil},
		{"resume a fixed contract", http.MethodPost, "/api/contracts/" + fixed.ID + "/resume", otherBuyer.Token, nil, http.StatusConflict, "fixed_contract", nil},
		{"submit a week as a milestone", http.MethodPost, "/api/contracts/" + c.ID + "/milestones/" + c.Weeks[0].ID + "/submit", worker.Token,
			map[string]any{"message": "Done."}, http.StatusConflict, "hourly_contract", nil},
		{"end with a timesheet in review", http.MethodPost, "/api/contracts/" + c.ID + "/end", worker.Token, map[string]any{}, http.StatusConflict,
			"milestone_in_review", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Field)
			}
			if len(got) != len(tt.fields) {
				t.Fatalf("fields = %v, want %v", got, tt.fields)
			}
			for i := range got {
				if got[i] != tt.fields[i] {
					t.Errorf("fields = %v, want %v", got, tt.fields)
				}
			}
		})
	}

	// Disputed, the timesheet waits for an admin; released, it pays its
	// hours.
	d := decode[disputeBody](t, a.call(t, http.MethodPost, disputes, buyer.Token, map[string]any{"timesheet_id": logged.ID, "reason": reason}),
		http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPut, "/api/timesheets/"+logged.ID+"/approve", buyer.Token, nil), http.StatusConflict, "milestone_not_submitted")
	admin := a.admin(t)
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+d.ID, admin.Token, map[string]any{"status": "resolved", "action": "release"}),
		http.StatusOK)
	if me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil), http.StatusOK); me.Coins != 30+10 {
		t.Errorf("worker's coins = %d, want 40", me.Coins)
	}
}
