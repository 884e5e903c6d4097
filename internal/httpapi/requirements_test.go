package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"microtask/internal/user"
)

var standingSeq atomic.Int64

// standing gives a user a standing, as package reputation would work it
// out of their record, later than any worked out before.
func (a *testAPI) standing(t testing.TB, userID string, st user.Standing) {
	t.Helper()
	if err := a.users.SetStanding(context.Background(), userID, st, 1<<40+standingSeq.Add(1)); err != nil {
		t.Fatal(err)
	}
}

func availableIDs(t *testing.T, a *testAPI, token string) []string {
	t.Helper()
	var ids []string
	for _, tk := range decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/available?limit=100", token, nil), http.StatusOK).Items {
		ids = append(ids, tk.ID)
	}
	return ids
}

// TestTaskRequirements: a buyer sets min_level and min_rating at creation
// and by PATCH; a worker below them is refused a reservation and a
// submission (403 requirements_not_met) and does not see the task among
// their available tasks; one who meets them takes it.
func TestTaskRequirements(t *testing.T) {
	a := newAPI(t)
	buyer, novice, expert := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	a.standing(t, expert.User.ID, user.Standing{Level: 2, Rating: 4.6, Reviews: 12, Approved: 150})

	body := taskRequest(a, 3, 10)
	body["min_level"], body["min_rating"] = 2, 4.5
	tk := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	if tk.MinLevel != 2 || tk.MinRating == nil || *tk.MinRating != 4.5 {
		t.Fatalf("task requires level %d, rating %v; want 2 and 4.5", tk.MinLevel, tk.MinRating)
	}
	open := a.postTask(t, buyer.Token, 3, 10)
	if open.MinLevel != 0 || open.MinRating != nil {
		t.Errorf("a task without requirements asks level %d, rating %v; want 0 and null", open.MinLevel, open.MinRating)
	}

	// The list leaves it out for the novice only, in one query.
	if ids := availableIDs(t, a, novice.Token); slices.Contains(ids, tk.ID) || !slices.Contains(ids, open.ID) {
		t.Errorf("the novice's available tasks = %v; want %s and not %s", ids, open.ID, tk.ID)
	}
	for _, token := range []string{expert.Token, ""} {
		if ids := availableIDs(t, a, token); !slices.Contains(ids, tk.ID) {
			t.Errorf("available tasks = %v, want %s among them", ids, tk.ID)
		}
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", novice.Token, nil), http.StatusForbidden, "requirements_not_met")
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", novice.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "https://prnt.sc/proof"}), http.StatusForbidden, "requirements_not_met")
	decode[map[string]any](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", expert.Token, nil), http.StatusCreated)
	a.submit(t, expert.Token, tk.ID)

	// The buyer lowers the bar by PATCH: the rating goes, the level
	// drops to one the novice does not meet either, then to none.
	tk = decode[taskBody](t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_rating": nil, "min_level": 1}), http.StatusOK)
	if tk.MinLevel != 1 || tk.MinRating != nil {
		t.Fatalf("after PATCH: level %d, rating %v; want 1 and null", tk.MinLevel, tk.MinRating)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", novice.Token, nil), http.StatusForbidden, "requirements_not_met")
	tk = decode[taskBody](t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_level": 0}), http.StatusOK)
	if ids := availableIDs(t, a, novice.Token); !slices.Contains(ids, tk.ID) {
		t.Errorf("the novice's available tasks = %v, want %s once it asks nothing", ids, tk.ID)
	}
	a.submit(t, novice.Token, tk.ID)

	// Out of bounds: every bad field at once, at creation and by PATCH.
	body = taskRequest(a, 1, 10)
	body["min_level"], body["min_rating"] = 4, 0.5
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "min_level")
	wantFieldError(t, p, "min_rating")
	p = wantProblem(t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_level": -1, "min_rating": 5.5}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "min_level")
	wantFieldError(t, p, "min_rating")
	// Another buyer's task: 404, as for none.
	other := a.register(t, "buyer")
	wantProblem(t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, other.Token, map[string]any{"min_level": 3}), http.StatusNotFound, "task_not_found")
}

// TestLevelEarnedByWork: ten approvals make a worker level 1, worked out
// in the background after the last one, on their profile and in the tasks
// open to them.
func TestLevelEarnedByWork(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	body := taskRequest(a, 1, 10)
	body["min_level"] = 1
	levelled := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	refresh := func() {
		t.Helper()
		if _, err := a.env.Records.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		tk := a.postTask(t, buyer.Token, 1, 10)
		sub := a.submit(t, worker.Token, tk.ID)
		decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
		if i == 8 {
			refresh()
			if p := a.profile(t, worker.User.ID, ""); *p.Level != 0 || slices.Contains(availableIDs(t, a, worker.Token), levelled.ID) {
				t.Fatalf("after 9 approvals: level %d", *p.Level)
			}
		}
	}
	refresh()
	if p := a.profile(t, worker.User.ID, ""); *p.Level != 1 || p.WorkerRecord.Approved != 10 {
		t.Fatalf("after 10 approvals: level %d, %d approved; want 1", *p.Level, p.WorkerRecord.Approved)
	}
	if !slices.Contains(availableIDs(t, a, worker.Token), levelled.ID) {
		t.Errorf("the level-1 task is not among the worker's available tasks")
	}
	a.submit(t, worker.Token, levelled.ID)
}
