package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type reviewBody struct {
	ID    string `json:"id"`
	About struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"about"`
	Reviewer struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"reviewer"`
	RevieweeID string `json:"reviewee_id"`
	Rating     int    `json:"rating"`
	Comment    string `json:"comment"`
	Status     string `json:"status"`
	Reply      *struct {
		Text string `json:"text"`
	} `json:"reply"`
	Removal *struct {
		Reason string `json:"reason"`
	} `json:"removal"`
}

// decided posts a task of the buyer, a submission of the worker, and
// approves it.
func (a *testAPI) decided(t *testing.T, buyer, worker sessionBody) submissionBody {
	t.Helper()
	a.grant(t, buyer.User.ID, 100)
	tk := a.postTask(t, buyer.Token, 1, 10)
	sub := a.submit(t, worker.Token, tk.ID)
	return decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
}

func (a *testAPI) review(t *testing.T, token, submissionID string, rating int) reviewBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/reviews", token, map[string]any{"submission_id": submissionID, "rating": rating, "comment": "Fine work."})
	r := decode[reviewBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/reviews/"+r.ID {
		t.Errorf("Location = %q", loc)
	}
	return r
}

func (a *testAPI) reviewsAbout(t *testing.T, userID, query string) []reviewBody {
	t.Helper()
	return decode[pageOf[reviewBody]](t, a.get(t, "/api/users/"+userID+"/reviews"+query), http.StatusOK).Items
}

// countReviews runs the job that counts the reviews that showed.
func (a *testAPI) countReviews(t *testing.T) {
	t.Helper()
	if _, err := a.env.Reviews.CountDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReviewsDoubleBlind: a review shows to the other party and the public
// only once both reviewed; then both count in the ratings, which the
// profiles and the buyer's tasks show.
func TestReviewsDoubleBlind(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	sub := a.decided(t, buyer, worker)

	first := a.review(t, worker.Token, sub.ID, 4)
	if first.Status != "pending_visibility" || first.Reviewer.Role != "worker" || first.RevieweeID != buyer.User.ID ||
		first.About.Type != "submission" || first.About.ID != sub.ID || first.About.Title != sub.TaskTitle {
		t.Errorf("first review = %+v", first)
	}
	// Hidden from the other party and the public; its author sees it.
	for _, token := range []string{buyer.Token, ""} {
		wantProblem(t, a.call(t, http.MethodGet, "/api/reviews/"+first.ID, token, nil), http.StatusNotFound, "review_not_found")
	}
	if got := decode[reviewBody](t, a.call(t, http.MethodGet, "/api/reviews/"+first.ID, worker.Token, nil), http.StatusOK); got.Status != "pending_visibility" {
		t.Errorf("its author sees it %s", got.Status)
	}
	if got := a.reviewsAbout(t, buyer.User.ID, ""); len(got) != 0 {
		t.Errorf("reviews about the buyer = %+v, want none yet", got)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews/"+first.ID+"/reply", buyer.Token, map[string]string{"text": "Thanks"}),
		http.StatusNotFound, "review_not_found")

	// The other party reviews: both show.
	second := a.review(t, buyer.Token, sub.ID, 5)
	if second.Status != "visible" {
		t.Errorf("second review %s, want visible", second.Status)
	}
	if got := decode[reviewBody](t, a.call(t, http.MethodGet, "/api/reviews/"+first.ID, "", nil), http.StatusOK); got.Status != "visible" {
		t.Errorf("the first review to the public: %s, want visible", got.Status)
	}
	if got := a.reviewsAbout(t, buyer.User.ID, ""); len(got) != 1 || got[0].ID != first.ID || got[0].Reviewer.Name != worker.User.Name {
		t.Errorf("reviews about the buyer = %+v", got)
	}
	a.countReviews(t)
	if p := a.profile(t, worker.User.ID, ""); p.Rating.Count != 1 || p.Rating.Average == nil || *p.Rating.Average != 5 || p.Rating.Stars["5"] != 1 {
		t.Errorf("worker's rating = %+v", p.Rating)
	}
	if p := a.profile(t, buyer.User.ID, ""); p.Rating.Count != 1 || *p.Rating.Average != 4 {
		t.Errorf("buyer's rating = %+v", p.Rating)
	}
	// Beside the buyer record on every task of theirs.
	tk := decode[taskBody](t, a.get(t, "/api/tasks/"+sub.TaskID), http.StatusOK)
	if tk.BuyerRating.Count != 1 || *tk.BuyerRating.Average != 4 {
		t.Errorf("the task's buyer_rating = %+v", tk.BuyerRating)
	}
	if got := a.reviewsAbout(t, buyer.User.ID, "?rating=4"); len(got) != 1 {
		t.Errorf("4-star reviews about the buyer = %d, want 1", len(got))
	}
	if got := a.reviewsAbout(t, buyer.User.ID, "?rating=3"); len(got) != 0 {
		t.Errorf("3-star reviews about the buyer = %d, want 0", len(got))
	}
}

// TestReviewsShowAfterFourteenDays: a review the other party never answers
// shows to everyone 14 days after the decision (the clock moved past
// them), and counts in the rating then.
func TestReviewsShowAfterFourteenDays(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	sub := a.decided(t, buyer, worker)
	r := a.review(t, buyer.Token, sub.ID, 2)

	a.clock.Advance(13 * 24 * time.Hour)
	wantProblem(t, a.call(t, http.MethodGet, "/api/reviews/"+r.ID, worker.Token, nil), http.StatusNotFound, "review_not_found")
	a.countReviews(t)
	if p := a.profile(t, worker.User.ID, ""); p.Rating.Count != 0 {
		t.Errorf("rating before 14 days = %+v, want none", p.Rating)
	}

	a.clock.Advance(24*time.Hour + time.Second)
	for _, token := range []string{worker.Token, ""} {
		if got := decode[reviewBody](t, a.call(t, http.MethodGet, "/api/reviews/"+r.ID, token, nil), http.StatusOK); got.Status != "visible" {
			t.Errorf("after 14 days: %s, want visible", got.Status)
		}
	}
	if got := a.reviewsAbout(t, worker.User.ID, ""); len(got) != 1 {
		t.Errorf("reviews about the worker = %d, want 1", len(got))
	}
	a.countReviews(t)
	a.countReviews(t) // once
	if p := a.profile(t, worker.User.ID, ""); p.Rating.Count != 1 || *p.Rating.Average != 2 {
		t.Errorf("rating after 14 days = %+v, want one of 2", p.Rating)
	}
	// The worker answers late: visible at once, counted at once.
	late := a.review(t, worker.Token, sub.ID, 3)
	if late.Status != "visible" {
		t.Errorf("a review after 14 days: %s, want visible", late.Status)
	}
	if p := a.profile(t, buyer.User.ID, ""); p.Rating.Count != 1 || *p.Rating.Average != 3 {
		t.Errorf("buyer's rating = %+v, want one of 3", p.Rating)
	}
	// Past 30 days, no more.
	other := a.register(t, "worker")
	old := a.decided(t, buyer, other)
	a.clock.Advance(30*24*time.Hour + time.Second)
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", other.Token, map[string]any{"submission_id": old.ID, "rating": 4}),
		http.StatusConflict, "review_window_closed")
}

// TestReviewRefusals: who may review what, and the fields.
func TestReviewRefusals(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm, stranger := a.register(t, "buyer"), a.register(t, "worker"), a.admin(t), a.register(t, "buyer")
	sub := a.decided(t, buyer, worker)
	body := map[string]any{"submission_id": sub.ID, "rating": 4}

	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", "", body), http.StatusUnauthorized, "missing_token")
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", adm.Token, body), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", stranger.Token, body), http.StatusNotFound, "submission_not_found")
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", worker.Token, map[string]any{"submission_id": "nope", "rating": 4}),
		http.StatusNotFound, "submission_not_found")
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", worker.Token,
		map[string]any{"rating": 0, "comment": strings.Repeat("c", 2001)}), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"submission_id", "rating", "comment"} {
		wantFieldError(t, p, f)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", worker.Token, map[string]any{"submission_id": sub.ID, "rating": 4, "stars": 4}),
		http.StatusUnprocessableEntity, "invalid_fields")

	// Undecided: pending work.
	tk := a.postTask(t, buyer.Token, 1, 10)
	pending := a.submit(t, worker.Token, tk.ID)
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", buyer.Token, map[string]any{"submission_id": pending.ID, "rating": 3}),
		http.StatusConflict, "not_decided")

	a.review(t, worker.Token, sub.ID, 4)
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews", worker.Token, body), http.StatusConflict, "already_reviewed")
	wantProblem(t, a.get(t, "/api/reviews/nope"), http.StatusNotFound, "review_not_found")
	wantProblem(t, a.get(t, "/api/users/"+worker.User.ID+"/reviews?rating=6"), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.get(t, "/api/users/nobody/reviews"), http.StatusNotFound, "user_not_found")
	// A suspended user's reviews are not public, as their profile.
	decode[userBody](t, a.call(t, http.MethodPut, "/api/admin/users/"+buyer.User.ID, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)
	wantProblem(t, a.get(t, "/api/users/"+buyer.User.ID+"/reviews"), http.StatusNotFound, "user_not_found")
}

// TestReviewReplyAndRemoval: the reviewee replies once; an admin removes a
// review, which leaves the rating and the lists and is in the admin log.
func TestReviewReplyAndRemoval(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm := a.register(t, "buyer"), a.register(t, "worker"), a.admin(t)
	sub := a.decided(t, buyer, worker)
	a.review(t, worker.Token, sub.ID, 5)
	r := a.review(t, buyer.Token, sub.ID, 1) // about the worker, visible and counted

	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews/"+r.ID+"/reply", buyer.Token, map[string]string{"text": "Me again"}),
		http.StatusNotFound, "review_not_found")
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews/"+r.ID+"/reply", worker.Token, map[string]string{"text": " "}),
		http.StatusUnprocessableEntity, "invalid_fields")
	got := decode[reviewBody](t, a.call(t, http.MethodPost, "/api/reviews/"+r.ID+"/reply", worker.Token,
		map[string]string{"text": "The link in the task was broken."}), http.StatusOK)
	if got.Reply == nil || got.Reply.Text != "The link in the task was broken." {
		t.Errorf("reply = %+v", got.Reply)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/reviews/"+r.ID+"/reply", worker.Token, map[string]string{"text": "Again"}),
		http.StatusConflict, "already_replied")
	if list := a.reviewsAbout(t, worker.User.ID, ""); len(list) != 1 || list[0].Reply == nil {
		t.Errorf("reviews about the worker = %+v, want the reply shown", list)
	}

	remove := func(token, id string, body any) *httptest.ResponseRecorder {
		return a.call(t, http.MethodDelete, "/api/admin/reviews/"+id, token, body)
	}
	wantProblem(t, remove(buyer.Token, r.ID, map[string]string{"reason": "x"}), http.StatusForbidden, "wrong_role")
	wantFieldError(t, wantProblem(t, remove(adm.Token, r.ID, map[string]string{"reason": ""}), http.StatusUnprocessableEntity, "invalid_fields"), "reason")
	wantProblem(t, remove(adm.Token, "nope", map[string]string{"reason": "Spam."}), http.StatusNotFound, "review_not_found")
	if rec := remove(adm.Token, r.ID, map[string]string{"reason": "Insults the worker."}); rec.Code != http.StatusNoContent {
		t.Fatalf("remove = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, remove(adm.Token, r.ID, map[string]string{"reason": "Again."}), http.StatusConflict, "review_removed")
	for _, token := range []string{"", worker.Token, buyer.Token} {
		wantProblem(t, a.call(t, http.MethodGet, "/api/reviews/"+r.ID, token, nil), http.StatusNotFound, "review_not_found")
	}
	if got := decode[reviewBody](t, a.call(t, http.MethodGet, "/api/reviews/"+r.ID, adm.Token, nil), http.StatusOK); got.Status != "removed" ||
		got.Removal == nil || got.Removal.Reason != "Insults the worker." {
		t.Errorf("a removed review to an admin = %+v", got)
	}
	if p := a.profile(t, worker.User.ID, ""); p.Rating.Count != 0 {
		t.Errorf("worker's rating after the removal = %+v, want none", p.Rating)
	}
	if list := a.reviewsAbout(t, worker.User.ID, ""); len(list) != 0 {
		t.Errorf("reviews about the worker = %+v, want none", list)
	}
	actions := decode[pageOf[adminActionBody]](t, a.call(t, http.MethodGet, "/api/admin/actions?kind=review.removed", adm.Token, nil), http.StatusOK)
	if len(actions.Items) != 1 || actions.Items[0].TargetID != r.ID || actions.Items[0].Reason != "Insults the worker." ||
		actions.Items[0].AdminID != adm.User.ID {
		t.Errorf("admin actions = %+v", actions.Items)
	}
}
