package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

type adminActionBody struct {
	ID         string `json:"id"`
	AdminID    string `json:"admin_id"`
	Kind       string `json:"kind"`
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	Summary    string `json:"summary"`
	Reason     string `json:"reason"`
	CreatedAt  string `json:"created_at"`
}

// TestAdminActionsAreRecorded: every admin action on money, roles and
// statuses lands in the log, with who, what, on what, when and why.
func TestAdminActionsAreRecorded(t *testing.T) {
	a := newAPI(t)
	adm, other := a.admin(t), a.admin(t)
	buyer, worker, victim := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	a.grant(t, worker.User.ID, 400)
	step := func() { a.clock.Advance(time.Second) }

	// One action of each kind, by adm unless said.
	put := func(tok, path string, body any) {
		t.Helper()
		if rec := a.call(t, http.MethodPut, path, tok, body); rec.Code != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", path, rec.Code, rec.Body)
		}
		step()
	}
	put(adm.Token, "/api/admin/users/"+victim.User.ID, map[string]string{"status": "suspended", "reason": "Spam in three tasks."})
	put(adm.Token, "/api/admin/users/"+victim.User.ID, map[string]string{"status": "active"})
	put(other.Token, "/api/admin/users/"+victim.User.ID, map[string]string{"role": "buyer", "reason": "Asked to post tasks."})
	w1 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)), http.StatusCreated)
	w2 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, withdrawalRequest(200)), http.StatusCreated)
	put(adm.Token, "/api/withdrawals/"+w1.ID+"/approve", nil)
	put(adm.Token, "/api/withdrawals/"+w2.ID+"/reject", map[string]string{"reason": "Not a bKash wallet."})
	tk := a.postTask(t, buyer.Token, 2, 10)
	sub := a.submit(t, worker.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/reject", buyer.Token, map[string]string{"reason": "Not the requested proof."}), http.StatusOK)
	rp := decode[reportBody](t, a.call(t, http.MethodPost, "/api/reports", worker.Token, reportRequest("submission", sub.ID)), http.StatusCreated)
	put(adm.Token, "/api/admin/reports/"+rp.ID, overturn)
	if rec := a.call(t, http.MethodDelete, "/api/admin/tasks/"+tk.ID, adm.Token, nil); rec.Code != http.StatusOK {
		t.Fatalf("remove task = %d %s", rec.Code, rec.Body)
	}
	step()
	if rec := a.call(t, http.MethodDelete, "/api/admin/users/"+victim.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete user = %d %s", rec.Code, rec.Body)
	}

	list := func(query string) pageOf[adminActionBody] {
		t.Helper()
		return decode[pageOf[adminActionBody]](t, a.call(t, http.MethodGet, "/api/admin/actions"+query, adm.Token, nil), http.StatusOK)
	}
	all := list("?limit=100")
	type entry struct{ admin, kind, target, reason string }
	var got []entry
	for _, e := range all.Items {
		got = append(got, entry{e.AdminID, e.Kind, e.TargetID, e.Reason})
		if e.Summary == "" || e.CreatedAt == "" || e.ID == "" {
			t.Errorf("entry without its what or when: %+v", e)
		}
	}
	want := []entry{ // newest first
		{adm.User.ID, "user.deleted", victim.User.ID, ""},
		{adm.User.ID, "task.removed", tk.ID, ""},
		{adm.User.ID, "report.resolved", rp.ID, "The proof was fine."},
		{adm.User.ID, "submission.overturned", sub.ID, ""},
		{adm.User.ID, "withdrawal.rejected", w2.ID, "Not a bKash wallet."},
		{adm.User.ID, "withdrawal.approved", w1.ID, ""},
		{other.User.ID, "user.role_changed", victim.User.ID, "Asked to post tasks."},
		{adm.User.ID, "user.reinstated", victim.User.ID, ""},
		{adm.User.ID, "user.suspended", victim.User.ID, "Spam in three tasks."},
	}
	// The overturn's entry and the report's carry the same second; either
	// order is right.
	if len(got) == len(want) && got[2] == want[3] && got[3] == want[2] {
		got[2], got[3] = got[3], got[2]
	}
	if !slices.Equal(got, want) {
		t.Errorf("actions =\n%v\nwant\n%v", got, want)
	}
	if all.Items[6].Summary != "role worker → buyer" {
		t.Errorf("role change summary = %q", all.Items[6].Summary)
	}

	tests := []struct {
		query string
		want  int64
	}{
		{"?admin_id=" + other.User.ID, 1},
		{"?target_id=" + victim.User.ID, 4},
		{"?kind=withdrawal.approved", 1},
		{"?kind=user.suspended&target_id=" + victim.User.ID, 1},
		{"?admin_id=" + buyer.User.ID, 0},
		{"?limit=2&page=2", 9},
	}
	for _, tt := range tests {
		if p := list(tt.query); p.Total != tt.want {
			t.Errorf("%s: total %d, want %d", tt.query, p.Total, tt.want)
		}
	}
	wantFieldError(t, wantProblem(t, a.call(t, http.MethodGet, "/api/admin/actions?kind=user.hugged", adm.Token, nil), http.StatusUnprocessableEntity, "invalid_fields"), "kind")
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/actions", worker.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/actions", "", nil), http.StatusUnauthorized, "missing_token")
}
