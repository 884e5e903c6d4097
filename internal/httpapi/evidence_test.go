package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSubmissionEvidence: a submission, proof included, is seen by its
// worker, its task's buyer and admins; anyone else gets the same 404 as for
// one that does not exist.
func TestSubmissionEvidence(t *testing.T) {
	a := newAPI(t)
	adm, buyer, other := a.admin(t), a.register(t, "buyer"), a.register(t, "buyer")
	w1, w2, w3 := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 3, 10)
	s1 := a.submit(t, w1.Token, tk.ID)
	a.clock.Advance(time.Second)
	s2 := a.submit(t, w2.Token, tk.ID)
	a.clock.Advance(time.Second)
	s3 := a.submit(t, w3.Token, tk.ID)

	for _, who := range []sessionBody{w1, buyer, adm} {
		got := decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+s1.ID, who.Token, nil), http.StatusOK)
		if got.ID != s1.ID || got.Details != "https://prnt.sc/proof" || got.Status != "pending" || got.AutoApprove == nil {
			t.Errorf("%s reads %+v", who.User.Role, got)
		}
	}
	missing := wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/nope", w2.Token, nil), http.StatusNotFound, "submission_not_found")
	for _, who := range []sessionBody{w2, other} {
		p := wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/"+s1.ID, who.Token, nil), http.StatusNotFound, "submission_not_found")
		if p.Detail != missing.Detail {
			t.Errorf("another's submission says %q, a missing one %q", p.Detail, missing.Detail)
		}
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/"+s1.ID, "", nil), http.StatusUnauthorized, "missing_token")

	// Reviewed: approved, rejected; the third stays pending.
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "Blurry photo, cannot read it."}), http.StatusOK)
	if got := decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+s1.ID, w1.Token, nil), http.StatusOK); got.AutoApprove != nil || got.ReviewedAt == nil {
		t.Errorf("reviewed submission = %+v, want no auto_approve_at", got)
	}

	ids := func(path, tok string) []string {
		t.Helper()
		var out []string
		for _, s := range decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, path, tok, nil), http.StatusOK).Items {
			out = append(out, s.ID)
		}
		return out
	}
	list := "/api/tasks/" + tk.ID + "/submissions"
	for _, tt := range []struct {
		path, token string
		want        []string
	}{
		{list, buyer.Token, []string{s3.ID, s2.ID, s1.ID}},
		{list, adm.Token, []string{s3.ID, s2.ID, s1.ID}},
		{list + "?status=rejected", buyer.Token, []string{s2.ID}},
		{list + "?status=cancelled", buyer.Token, nil},
		{"/api/submissions/my?status=cancelled", w1.Token, nil},
		{"/api/submissions/to-review", buyer.Token, []string{s3.ID}},
		{"/api/admin/submissions", adm.Token, []string{s3.ID, s2.ID, s1.ID}},
		{"/api/admin/submissions?worker_id=" + w2.User.ID, adm.Token, []string{s2.ID}},
		{"/api/admin/submissions?buyer_id=" + buyer.User.ID + "&status=approved", adm.Token, []string{s1.ID}},
		{"/api/admin/submissions?task_id=" + tk.ID + "&status=pending", adm.Token, []string{s3.ID}},
		{"/api/admin/submissions?buyer_id=" + other.User.ID, adm.Token, nil},
	} {
		if got := ids(tt.path, tt.token); !slices.Equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.path, got, tt.want)
		}
	}
	missingTask := wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/nope/submissions", other.Token, nil), http.StatusNotFound, "task_not_found")
	if p := wantProblem(t, a.call(t, http.MethodGet, list, other.Token, nil), http.StatusNotFound, "task_not_found"); p.Detail != missingTask.Detail {
		t.Errorf("another buyer's task says %q, a missing one %q", p.Detail, missingTask.Detail)
	}
	wantProblem(t, a.call(t, http.MethodGet, list, w1.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/submissions", buyer.Token, nil), http.StatusForbidden, "wrong_role")
	wantFieldError(t, wantProblem(t, a.call(t, http.MethodGet, list+"?status=lost", buyer.Token, nil), http.StatusUnprocessableEntity, "invalid_fields"), "status")
}

func TestToReviewOldestFirst(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	tk := a.postTask(t, buyer.Token, 3, 10)
	var want []string
	for range 3 {
		want = append(want, a.submit(t, a.register(t, "worker").Token, tk.ID).ID)
		a.clock.Advance(time.Second)
	}
	got := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/to-review?sort=oldest", buyer.Token, nil), http.StatusOK)
	var ids []string
	for _, s := range got.Items {
		ids = append(ids, s.ID)
		if s.AutoApprove == nil {
			t.Errorf("pending submission without auto_approve_at: %+v", s)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("oldest first = %v, want %v", ids, want)
	}
}

// TestWithdrawalHistoryForAdmins: decided withdrawals, with who decided.
func TestWithdrawalHistoryForAdmins(t *testing.T) {
	a := newAPI(t)
	adm, w1, w2 := a.admin(t), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, w1.User.ID, 400)
	a.grant(t, w2.User.ID, 400)
	d1 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w1.Token, withdrawalRequest(200)), http.StatusCreated)
	a.clock.Advance(time.Second)
	d2 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w2.Token, withdrawalRequest(200)), http.StatusCreated)
	a.clock.Advance(time.Second)
	d3 := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w1.Token, withdrawalRequest(200)), http.StatusCreated)
	decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+d1.ID+"/approve", adm.Token, nil), http.StatusOK)
	decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+d2.ID+"/reject", adm.Token, nil), http.StatusOK)

	type decided struct {
		ID        string  `json:"id"`
		Status    string  `json:"status"`
		DecidedBy string  `json:"decided_by"`
		DecidedAt *string `json:"decided_at"`
	}
	list := func(q string) []decided {
		t.Helper()
		return decode[pageOf[decided]](t, a.call(t, http.MethodGet, "/api/admin/withdrawals"+q, adm.Token, nil), http.StatusOK).Items
	}
	all := list("")
	if len(all) != 3 || all[0].ID != d3.ID || all[0].DecidedBy != "" || all[1].ID != d2.ID || all[1].DecidedBy != adm.User.ID ||
		all[2].ID != d1.ID || all[2].DecidedBy != adm.User.ID || all[2].DecidedAt == nil {
		t.Errorf("history = %+v", all)
	}
	if got := list("?status=approved"); len(got) != 1 || got[0].ID != d1.ID {
		t.Errorf("approved = %+v", got)
	}
	if got := list("?worker_id=" + w1.User.ID); len(got) != 2 {
		t.Errorf("w1's = %+v", got)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/withdrawals", w1.Token, nil), http.StatusForbidden, "wrong_role")
	// The worker never sees who decided.
	mine := a.call(t, http.MethodGet, "/api/withdrawals/my", w1.Token, nil)
	if mine.Code != http.StatusOK || strings.Contains(mine.Body.String(), "decided_by") {
		t.Errorf("worker's list = %s", mine.Body)
	}
}
