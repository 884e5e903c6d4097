package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

type disputeBody struct {
	ID          string `json:"id"`
	ContractID  string `json:"contract_id"`
	MilestoneID string `json:"milestone_id"`
	By          struct {
		ID string `json:"id"`
	} `json:"by"`
	Reason string `json:"reason"`
}

type disputedMilestoneBody struct {
	milestoneBody
	DisputeID      *string    `json:"dispute_id"`
	Resolution     string     `json:"resolution"`
	WorkerCoins    int64      `json:"worker_coins"`
	ReworkDeadline *time.Time `json:"rework_deadline"`
}

type disputeReportBody struct {
	ID         string `json:"id"`
	TargetType string `json:"target_type"`
	Status     string `json:"status"`
	Action     string `json:"action"`
	Target     *struct {
		Dispute *struct {
			Contract     contractBody          `json:"contract"`
			Milestone    disputedMilestoneBody `json:"milestone"`
			Conversation []struct {
				Body string `json:"body"`
			} `json:"conversation"`
		} `json:"dispute"`
	} `json:"target"`
}

// disputedContract is a contract (milestones of 40 and 50) whose first
// milestone the worker submitted and the buyer disputed.
func (a *testAPI) disputedContract(t testing.TB, buyer, worker sessionBody) (contractBody, disputeBody) {
	t.Helper()
	c := a.contracted(t, buyer, worker)
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token, map[string]any{"message": "Done."}), http.StatusOK)
	rec := a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/disputes", buyer.Token,
		map[string]any{"milestone_id": c.Milestones[0].ID, "reason": "It does not load on phones."})
	d := decode[disputeBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/reports/"+d.ID || d.By.ID != buyer.User.ID || d.MilestoneID != c.Milestones[0].ID {
		t.Errorf("dispute = %+v, Location %q", d, loc)
	}
	return c, d
}

// TestDisputeDecidedByAnAdmin: a dispute in the admins' queue with the
// contract, the milestone and the conversation; each decision moves the
// coins it says.
func TestDisputeDecidedByAnAdmin(t *testing.T) {
	for _, tt := range []struct {
		decision             map[string]any
		status               string
		escrow, paid, worker int64
	}{
		{map[string]any{"action": "release"}, "released", 0, 40, 40 + 10},
		{map[string]any{"action": "refund"}, "refunded", 0, 0, 10},
		{map[string]any{"action": "split", "worker_coins": 25}, "split", 0, 25, 25 + 10},
		{map[string]any{"action": "rework"}, "funded", 40, 0, 10},
	} {
		t.Run(tt.decision["action"].(string), func(t *testing.T) {
			a := newAPI(t)
			buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
			admin := a.admin(t)
			c, d := a.disputedContract(t, buyer, worker)
			got := decode[disputeReportBody](t, a.call(t, http.MethodGet, "/api/admin/reports/"+d.ID, admin.Token, nil), http.StatusOK)
			if got.TargetType != "milestone" || got.Status != "open" || got.Target == nil || got.Target.Dispute == nil ||
				got.Target.Dispute.Contract.ID != c.ID || got.Target.Dispute.Milestone.Status != "disputed" ||
				got.Target.Dispute.Conversation == nil {
				t.Fatalf("the admin's view = %+v", got)
			}
			body := map[string]any{"status": "resolved", "note": "Seen both sides."}
			for k, v := range tt.decision {
				body[k] = v
			}
			if tt.decision["action"] == "rework" {
				body["deadline"] = a.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
			}
			decided := decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+d.ID, admin.Token, body), http.StatusOK)
			if decided.Status != "resolved" || decided.Action != tt.decision["action"] {
				t.Errorf("decided = %+v", decided)
			}
			after := decode[contractBody](t, a.call(t, http.MethodGet, "/api/contracts/"+c.ID, worker.Token, nil), http.StatusOK)
			if after.Escrow != tt.escrow || after.Paid != tt.paid || after.Milestones[0].Status != tt.status {
				t.Errorf("contract after the decision = %+v", after)
			}
			me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", worker.Token, nil), http.StatusOK)
			if me.Coins != tt.worker {
				t.Errorf("worker's coins = %d, want %d", me.Coins, tt.worker)
			}
			wantProblem(t, a.call(t, http.MethodPut, "/api/admin/reports/"+d.ID, admin.Token, body), http.StatusConflict, "report_closed")
		})
	}
}

// TestDisputeRefusals: wrong role, someone else's contract, invalid
// fields and conflicting states of disputes, their decisions and the
// refund of a missed rework.
func TestDisputeRefusals(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	stranger := a.register(t, "buyer")
	admin := a.admin(t)
	c, d := a.disputedContract(t, buyer, worker)
	disputes := "/api/contracts/" + c.ID + "/disputes"
	reason := "Not what we agreed on."
	decide := "/api/admin/reports/" + d.ID
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
		{"a stranger disputes", http.MethodPost, disputes, stranger.Token, map[string]any{"milestone_id": c.Milestones[0].ID, "reason": reason},
			http.StatusNotFound, "contract_not_found", nil},
		{"a missing milestone", http.MethodPost, disputes, buyer.Token, map[string]any{"milestone_id": "nope", "reason": reason},
			http.StatusNotFound, "milestone_not_found", nil},
		{"no fields", http.MethodPost, disputes, buyer.Token, map[string]any{}, http.StatusUnprocessableEntity, "invalid_fields",
			[]string{"milestone_id", "timesheet_id", "reason"}},
		{"a short reason", http.MethodPost, disputes, worker.Token, map[string]any{"milestone_id": c.Milestones[0].ID, "reason": "no"},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"reason"}},
		{"disputed again", http.MethodPost, disputes, worker.Token, map[string]any{"milestone_id": c.Milestones[0].ID, "reason": reason},
			http.StatusConflict, "milestone_disputed", nil},
		{"one not submitted", http.MethodPost, disputes, worker.Token, map[string]any{"milestone_id": c.Milestones[1].ID, "reason": reason},
			http.StatusConflict, "milestone_not_submitted", nil},
		{"approve a disputed one", http.MethodPost, milestonePath(c, 0, "/approve"), buyer.Token, nil, http.StatusConflict, "milestone_not_submitted", nil},
		{"end while disputed", http.MethodPost, "/api/contracts/" + c.ID + "/end", worker.Token, map[string]any{}, http.StatusConflict, "milestone_disputed", nil},
		{"a buyer decides", http.MethodPut, decide, buyer.Token, map[string]any{"status": "resolved", "action": "release"}, http.StatusForbidden, "wrong_role", nil},
		{"dismissed", http.MethodPut, decide, admin.Token, map[string]any{"status": "dismissed"}, http.StatusUnprocessableEntity, "invalid_fields", []string{"action"}},
		{"a task's action", http.MethodPut, decide, admin.Token, map[string]any{"status": "resolved", "action": "delete_task"},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"action"}},
		{"a split without coins, a release with a deadline", http.MethodPut, decide, admin.Token,
			map[string]any{"status": "resolved", "action": "split", "deadline": "2030-01-01T00:00:00Z"},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"deadline", "worker_coins"}},
		{"a split of it all", http.MethodPut, decide, admin.Token, map[string]any{"status": "resolved", "action": "split", "worker_coins": 40},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"worker_coins"}},
		{"a rework without a deadline", http.MethodPut, decide, admin.Token, map[string]any{"status": "resolved", "action": "rework"},
			http.StatusUnprocessableEntity, "invalid_fields", []string{"deadline"}},
		{"the worker refunds", http.MethodPost, milestonePath(c, 0, "/refund"), worker.Token, nil, http.StatusForbidden, "wrong_role", nil},
		{"another buyer refunds", http.MethodPost, milestonePath(c, 0, "/refund"), stranger.Token, nil, http.StatusNotFound, "contract_not_found", nil},
		{"refund a disputed one", http.MethodPost, milestonePath(c, 0, "/refund"), buyer.Token, nil, http.StatusConflict, "rework_not_missed", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
			if tt.fields != nil {
				var got []string
				for _, e := range p.Errors {
					got = append(got, e.Field)
				}
				if len(got) != len(tt.fields) {
					t.Errorf("fields = %v, want %v", got, tt.fields)
				}
				for i := range got {
					if got[i] != tt.fields[i] {
						t.Errorf("fields = %v, want %v", got, tt.fields)
						break
					}
				}
			}
		})
	}

	// Sent back with a deadline: not refundable before it, refundable
	// after; the contract can end once nothing is disputed.
	deadline := a.clock.Now().Add(24 * time.Hour)
	decode[reportBody](t, a.call(t, http.MethodPut, decide, admin.Token,
		map[string]any{"status": "resolved", "action": "rework", "deadline": deadline.Format(time.RFC3339)}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodPost, milestonePath(c, 0, "/refund"), buyer.Token, nil), http.StatusConflict, "rework_not_missed")
	a.clock.Advance(25 * time.Hour)
	back := decode[disputedMilestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/refund"), buyer.Token, nil), http.StatusOK)
	if back.Status != "refunded" || back.Resolution != "rework" || back.DisputeID == nil || *back.DisputeID != d.ID {
		t.Errorf("refunded = %+v", back)
	}
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", worker.Token, map[string]any{}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodPost, disputes, buyer.Token, map[string]any{"milestone_id": c.Milestones[0].ID, "reason": reason}),
		http.StatusConflict, "contract_ended")
}
