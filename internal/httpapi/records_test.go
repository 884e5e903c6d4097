package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

type workerRecordBody struct {
	Approved     int64    `json:"approved"`
	Rejected     int64    `json:"rejected"`
	Revisions    int64    `json:"revisions"`
	ApprovalRate *float64 `json:"approval_rate"`
}

type buyerRecordBody struct {
	TasksPosted       int64    `json:"tasks_posted"`
	Approved          int64    `json:"approved"`
	Rejected          int64    `json:"rejected"`
	ApprovalRate      *float64 `json:"approval_rate"`
	MedianReviewHours *float64 `json:"median_review_hours"`
}

func TestTrackRecords(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	buyer, w1, w2 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)

	type taskWithRecord struct {
		ID          string          `json:"id"`
		BuyerRecord buyerRecordBody `json:"buyer_record"`
	}
	type subWithRecord struct {
		ID           string              `json:"id"`
		Worker       struct{ ID string } `json:"worker"`
		WorkerRecord *workerRecordBody   `json:"worker_record"`
	}
	t1 := a.postTask(t, buyer.Token, 2, 10)
	fresh := decode[taskWithRecord](t, a.get(t, "/api/tasks/"+t1.ID), http.StatusOK).BuyerRecord
	if fresh.TasksPosted != 1 || fresh.ApprovalRate != nil || fresh.MedianReviewHours != nil {
		t.Errorf("a new buyer's record = %+v, want one task and no rates", fresh)
	}
	t2, t3 := a.postTask(t, buyer.Token, 1, 10), a.postTask(t, buyer.Token, 1, 10)
	s1, s2, s3 := a.submit(t, w1.Token, t1.ID), a.submit(t, w2.Token, t1.ID), a.submit(t, w1.Token, t2.ID)

	// Unreviewed workers: no rate yet.
	page := decode[pageOf[subWithRecord]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK)
	if len(page.Items) != 3 || page.Items[0].WorkerRecord == nil || page.Items[0].WorkerRecord.ApprovalRate != nil {
		t.Fatalf("to review = %+v, want three with empty records", page.Items)
	}

	a.clock.Advance(20 * time.Minute)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	a.clock.Advance(3 * time.Hour)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s3.ID+"/reject", buyer.Token,
		map[string]string{"reason": "Not the right page."}), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/approve", buyer.Token, nil), http.StatusOK)
	// Asking again changes nothing.
	wantProblem(t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusConflict, "already_reviewed")
	s4 := a.submit(t, w1.Token, t3.ID)

	rate := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	t.Run("workers' records for their buyer", func(t *testing.T) {
		got := decode[pageOf[subWithRecord]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK)
		if len(got.Items) != 1 || got.Items[0].ID != s4.ID || got.Items[0].WorkerRecord == nil {
			t.Fatalf("to review = %+v", got.Items)
		}
		if r := *got.Items[0].WorkerRecord; r.Approved != 1 || r.Rejected != 1 || r.Revisions != 0 || rate(r.ApprovalRate) != 0.5 {
			t.Errorf("w1's record = %+v, want 1 approved, 1 rejected, rate 0.5", r)
		}
		all := decode[pageOf[subWithRecord]](t, a.call(t, http.MethodGet, "/api/tasks/"+t1.ID+"/submissions", buyer.Token, nil), http.StatusOK)
		for _, sub := range all.Items {
			want := map[string]float64{w1.User.ID: 0.5, w2.User.ID: 1}[sub.Worker.ID]
			if sub.WorkerRecord == nil || rate(sub.WorkerRecord.ApprovalRate) != want {
				t.Errorf("record of %s on the task's submissions = %+v, want rate %v", sub.Worker.ID, sub.WorkerRecord, want)
			}
		}
	})

	t.Run("the buyer's record on every task", func(t *testing.T) {
		want := buyerRecordBody{TasksPosted: 3, Approved: 2, Rejected: 1}
		check := func(where string, got buyerRecordBody) {
			t.Helper()
			// Reviews after 20 minutes, 3 h 20 and 3 h 20: the median is in
			// the bucket up to 4 hours.
			if got.TasksPosted != want.TasksPosted || got.Approved != want.Approved || got.Rejected != want.Rejected ||
				rate(got.ApprovalRate) != 0.667 || rate(got.MedianReviewHours) != 4 {
				t.Errorf("%s: buyer record = %+v, want %+v, rate 0.667, median 4 h", where, got, want)
			}
		}
		check("GET /tasks/{id}", decode[taskWithRecord](t, a.get(t, "/api/tasks/"+t1.ID), http.StatusOK).BuyerRecord)
		for _, path := range []string{"/api/tasks", "/api/tasks/available"} {
			for _, tk := range decode[pageOf[taskWithRecord]](t, a.call(t, http.MethodGet, path, w2.Token, nil), http.StatusOK).Items {
				check(path, tk.BuyerRecord)
			}
		}
	})

	t.Run("an overturned rejection counts as an approval", func(t *testing.T) {
		if _, err := a.submissions.Overturn(ctx, principalOf(a.admin(t)), s3.ID); err != nil {
			t.Fatal(err)
		}
		got := decode[pageOf[subWithRecord]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK)
		if r := got.Items[0].WorkerRecord; r == nil || r.Approved != 2 || r.Rejected != 0 {
			t.Errorf("w1's record after the overturn = %+v", r)
		}
		if r := decode[taskWithRecord](t, a.get(t, "/api/tasks/"+t1.ID), http.StatusOK).BuyerRecord; r.Approved != 3 || r.Rejected != 0 {
			t.Errorf("buyer's record after the overturn = %+v", r)
		}
	})

	t.Run("top workers", func(t *testing.T) {
		type card struct {
			ID           string           `json:"id"`
			Coins        int64            `json:"coins"`
			WorkerRecord workerRecordBody `json:"worker_record"`
		}
		a.grant(t, w2.User.ID, 500) // the richer, with less approved work
		byCoins := decode[[]card](t, a.get(t, "/api/users/top-workers"), http.StatusOK)
		byApproved := decode[[]card](t, a.get(t, "/api/users/top-workers?by=approved"), http.StatusOK)
		if len(byCoins) != 2 || byCoins[0].ID != w2.User.ID || byCoins[0].WorkerRecord.Approved != 1 {
			t.Errorf("top workers by coins = %+v", byCoins)
		}
		if len(byApproved) != 2 || byApproved[0].ID != w1.User.ID || byApproved[0].WorkerRecord.Approved != 2 ||
			byApproved[1].Coins != a.coins(t, w2.User.ID) {
			t.Errorf("top workers by approved work = %+v", byApproved)
		}
		wantProblem(t, a.get(t, "/api/users/top-workers?by=fame"), http.StatusUnprocessableEntity, "invalid_fields")
	})
}
