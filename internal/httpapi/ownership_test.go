package httpapi_test

import (
	"net/http"
	"testing"

	"microtask/internal/submission"
)

// TestNotYoursIsNotFound holds the rule that a resource of someone else's
// answers exactly as one that does not exist: the same 404, code and detail.
// Otherwise an ID reveals something: a submission's ID is derived from the
// public IDs of its task and worker, so a 403 for someone else's and a 404
// for none would tell anyone whether a worker worked on a task. (Withdrawals
// are decided by admins only, who may decide any: a worker gets wrong_role,
// which says nothing about the withdrawal.)
func TestNotYoursIsNotFound(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	worker, idle := a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 10)
	sub := a.submit(t, worker.Token, tk.ID)
	pay := decode[checkoutBody](t, a.buy(t, buyer.Token, 10, ""), http.StatusCreated)
	note := a.notificationsOf(t, buyer.Token)[0] // the submission's
	// The ID the idle worker's submission to the task would have.
	neverSubmitted := submission.ID(tk.ID, idle.User.ID)
	const missing = "000000000000000000000000"
	text := map[string]string{"task_title": "x", "task_detail": "x", "submission_info": "x"}

	tests := []struct {
		name    string
		token   string // of someone who is not party to the resource
		method  string
		path    func(id string) string
		body    func(id string) any
		yours   string // the resource, someone else's
		missing string
	}{
		{name: "report a submission, by another worker", token: idle.Token, method: http.MethodPost,
			path: fixed("/api/reports"), body: func(id string) any { return reportRequest("submission", id) },
			yours: sub.ID, missing: neverSubmitted},
		{name: "report a submission, by another buyer", token: other.Token, method: http.MethodPost,
			path: fixed("/api/reports"), body: func(id string) any { return reportRequest("submission", id) },
			yours: sub.ID, missing: neverSubmitted},
		{name: "approve a submission to another buyer's task", token: other.Token, method: http.MethodPut,
			path: func(id string) string { return "/api/submissions/" + id + "/approve" }, yours: sub.ID, missing: neverSubmitted},
		{name: "reject a submission to another buyer's task", token: other.Token, method: http.MethodPut,
			path: func(id string) string { return "/api/submissions/" + id + "/reject" }, yours: sub.ID, missing: neverSubmitted,
			body: func(string) any { return map[string]string{"reason": "The proof does not show the task."} }},
		{name: "edit another buyer's task", token: other.Token, method: http.MethodPut,
			path: func(id string) string { return "/api/tasks/" + id }, body: func(string) any { return text },
			yours: tk.ID, missing: missing},
		{name: "delete another buyer's task", token: other.Token, method: http.MethodDelete,
			path: func(id string) string { return "/api/tasks/" + id }, yours: tk.ID, missing: missing},
		{name: "confirm another buyer's payment", token: other.Token, method: http.MethodPost,
			path: func(id string) string { return "/api/payments/" + id + "/confirm" }, yours: pay.PaymentID, missing: missing},
		{name: "read another user's notification", token: other.Token, method: http.MethodPut,
			path: func(id string) string { return "/api/notifications/" + id }, yours: note.ID, missing: missing},
		{name: "delete another user's notification", token: other.Token, method: http.MethodDelete,
			path: func(id string) string { return "/api/notifications/" + id }, yours: note.ID, missing: missing},
		{name: "change another user's profile", token: other.Token, method: http.MethodPut,
			path: func(id string) string { return "/api/users/" + id }, body: func(string) any { return map[string]string{"name": "Mallory"} },
			yours: worker.User.ID, missing: missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := func(id string) problemBody {
				t.Helper()
				var body any
				if tt.body != nil {
					body = tt.body(id)
				}
				rec := a.call(t, tt.method, tt.path(id), tt.token, body)
				if rec.Code != http.StatusNotFound {
					t.Fatalf("%s %s: status = %d, want 404; body %s", tt.method, tt.path(id), rec.Code, rec.Body)
				}
				return decode[problemBody](t, rec, http.StatusNotFound)
			}
			got, want := call(tt.yours), call(tt.missing)
			if got.Code != want.Code || got.Detail != want.Detail || got.Title != want.Title {
				t.Errorf("someone else's: %q %q, want as missing: %q %q", got.Code, got.Detail, want.Code, want.Detail)
			}
		})
	}

	// Nothing was changed on the way.
	if got := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK); got.Total != 1 {
		t.Errorf("submissions to review = %d, want 1", got.Total)
	}
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK); got.Title == "x" {
		t.Errorf("task = %+v, changed by another buyer", got)
	}
	if got := a.coins(t, buyer.User.ID); got != 30 {
		t.Errorf("buyer's coins = %d, want 50 - 20 in escrow, nothing confirmed", got)
	}
}

func fixed(path string) func(string) string { return func(string) string { return path } }
