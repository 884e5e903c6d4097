package review_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/review"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// work is a submission of worker to a task of buyer, decided (approved)
// unless pending.
type work struct {
	e             *apptest.Env
	buyer, worker auth.Principal
	sub           submission.Submission
	ref           review.Ref
	ctx           context.Context
}

func newWork(t *testing.T, e *apptest.Env, decide bool) *work {
	t.Helper()
	ctx := context.Background()
	w := &work{e: e, ctx: ctx, buyer: e.User(t, auth.RoleBuyer), worker: e.User(t, auth.RoleWorker)}
	e.Give(t, w.buyer.UserID, 10)
	tk, err := e.Tasks.Create(ctx, w.buyer, task.NewTask{Text: task.Text{Title: "Tag photos", Detail: "D", SubmissionInfo: "S"},
		Workers: 1, Pay: 5, CompletionDate: e.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if w.sub, err = e.Submissions.Submit(ctx, w.worker, tk.ID, "https://example.com/proof"); err != nil {
		t.Fatal(err)
	}
	if decide {
		if w.sub, err = e.Submissions.Approve(ctx, w.buyer, w.sub.ID); err != nil {
			t.Fatal(err)
		}
	}
	w.ref = review.Ref{Type: review.SubjectSubmission, ID: w.sub.ID}
	return w
}

// stars are the counts of stars in the rating of a user.
func stars(t *testing.T, e *apptest.Env, userID string) [5]int64 {
	t.Helper()
	recs, err := e.Records.Records(context.Background(), []string{userID})
	if err != nil {
		t.Fatal(err)
	}
	return recs[userID].Stars
}

func (w *work) post(t *testing.T, p auth.Principal, rating int) (review.Review, error) {
	t.Helper()
	return w.e.Reviews.Post(w.ctx, p, review.New{Subject: w.ref, Rating: rating, Comment: " Quick and careful. "})
}

func mustPost(t *testing.T, w *work, p auth.Principal, rating int) review.Review {
	t.Helper()
	r, err := w.post(t, p, rating)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func countDue(t *testing.T, e *apptest.Env) int {
	t.Helper()
	n, err := e.Reviews.CountDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func about(t *testing.T, e *apptest.Env, userID string) []review.Review {
	t.Helper()
	res, err := e.Reviews.About(context.Background(), userID, 0, page.Request{Number: 1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// TestDoubleBlindBothReview: a review stays hidden from the other party and
// the public until the other party reviews too; then both show, and each
// counts once in its reviewee's rating.
func TestDoubleBlindBothReview(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, true)
	first := mustPost(t, w, w.worker, 4)
	if first.StatusAt(e.Clock.Now()) != review.StatusPending || first.Comment != "Quick and careful." || first.RevieweeID != w.buyer.UserID ||
		first.AuthorRole != auth.RoleWorker {
		t.Fatalf("first review = %+v", first)
	}
	if _, err := e.Reviews.Get(w.ctx, w.buyer, first.ID); !errors.Is(err, review.ErrNotFound) {
		t.Errorf("the reviewee reads the hidden review: %v", err)
	}
	if _, err := e.Reviews.Get(w.ctx, auth.Principal{}, first.ID); !errors.Is(err, review.ErrNotFound) {
		t.Errorf("the public reads the hidden review: %v", err)
	}
	if got, err := e.Reviews.Get(w.ctx, w.worker, first.ID); err != nil || got.StatusAt(e.Clock.Now()) != review.StatusPending {
		t.Errorf("its author reads %+v, %v; want it pending", got, err)
	}
	if got := about(t, e, w.buyer.UserID); len(got) != 0 {
		t.Errorf("reviews about the buyer = %+v, want none yet", got)
	}
	if _, err := w.post(t, w.worker, 5); !errors.Is(err, review.ErrAlreadyReviewed) {
		t.Errorf("a second review = %v, want %v", err, review.ErrAlreadyReviewed)
	}
	if n := countDue(t, e); n != 0 || stars(t, e, w.buyer.UserID) != [5]int64{} {
		t.Errorf("counted %d before it shows, stars %v", n, stars(t, e, w.buyer.UserID))
	}

	e.Clock.Advance(time.Hour)
	second := mustPost(t, w, w.buyer, 2)
	now := e.Clock.Now()
	if second.StatusAt(now) != review.StatusVisible || !second.Counted {
		t.Errorf("second review = %+v, want visible and counted", second)
	}
	if got, err := e.Reviews.Get(w.ctx, w.buyer, first.ID); err != nil || got.StatusAt(now) != review.StatusVisible {
		t.Errorf("the first review to its reviewee: %+v, %v; want visible", got, err)
	}
	if got := about(t, e, w.worker.UserID); len(got) != 1 || got[0].ID != second.ID {
		t.Errorf("reviews about the worker = %+v", got)
	}
	// The second counted as written; the first, revealed, by the job.
	if got := stars(t, e, w.worker.UserID); got != [5]int64{0, 1, 0, 0, 0} {
		t.Errorf("worker's stars = %v, want one of 2", got)
	}
	if n := countDue(t, e); n != 1 {
		t.Errorf("CountDue() counted %d, want the first review", n)
	}
	for range 2 {
		if n := countDue(t, e); n != 0 {
			t.Errorf("CountDue() again counted %d, want none", n)
		}
	}
	if got := stars(t, e, w.buyer.UserID); got != [5]int64{0, 0, 0, 1, 0} {
		t.Errorf("buyer's stars = %v, want one of 4", got)
	}
}

// TestDoubleBlindAfterFourteenDays: a review the other party never answers
// shows 14 days after the decision, without a write, and counts once; a
// review written after that shows, and counts, at once; none after 30
// days.
func TestDoubleBlindAfterFourteenDays(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, true)
	r := mustPost(t, w, w.buyer, 5)
	e.Clock.Advance(review.BlindFor - time.Minute)
	if _, err := e.Reviews.Get(w.ctx, w.worker, r.ID); !errors.Is(err, review.ErrNotFound) || countDue(t, e) != 0 {
		t.Errorf("a minute before 14 days: %v", err)
	}
	e.Clock.Advance(time.Minute)
	if got, err := e.Reviews.Get(w.ctx, auth.Principal{}, r.ID); err != nil || got.StatusAt(e.Clock.Now()) != review.StatusVisible {
		t.Errorf("at 14 days: %+v, %v; want visible to anyone", got, err)
	}
	if n := countDue(t, e); n != 1 || countDue(t, e) != 0 || stars(t, e, w.worker.UserID) != [5]int64{0, 0, 0, 0, 1} {
		t.Errorf("counted %d; stars %v; want one of 5, once", n, stars(t, e, w.worker.UserID))
	}
	late := mustPost(t, w, w.worker, 3)
	if late.StatusAt(e.Clock.Now()) != review.StatusVisible || !late.Counted || stars(t, e, w.buyer.UserID) != [5]int64{0, 0, 1, 0, 0} {
		t.Errorf("a review after 14 days = %+v; buyer's stars %v", late, stars(t, e, w.buyer.UserID))
	}

	old := newWork(t, e, true)
	e.Clock.Advance(review.Window + time.Second)
	if _, err := old.post(t, old.worker, 3); !errors.Is(err, review.ErrWindowClosed) {
		t.Errorf("after 30 days: %v, want %v", err, review.ErrWindowClosed)
	}
}

// TestWhoMayReview: the two parties of decided work only.
func TestWhoMayReview(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, false)
	if _, err := w.post(t, w.worker, 4); !errors.Is(err, review.ErrNotDecided) {
		t.Errorf("undecided: %v, want %v", err, review.ErrNotDecided)
	}
	stranger := e.User(t, auth.RoleWorker)
	if _, err := w.post(t, stranger, 4); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("a stranger: %v, want %v", err, submission.ErrNotFound)
	}
	if _, err := e.Reviews.Post(w.ctx, w.worker, review.New{Subject: review.Ref{Type: review.SubjectSubmission, ID: "nope"}, Rating: 4}); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("no such submission: %v", err)
	}
	if _, err := w.post(t, e.User(t, auth.RoleAdmin), 4); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("an admin: %v, want %v", err, auth.ErrWrongRole)
	}
	if _, err := w.post(t, w.worker, 6); err == nil {
		t.Errorf("6 stars accepted")
	}
	// A rejection decides too.
	rejected := newWork(t, e, false)
	if _, err := e.Submissions.Reject(w.ctx, rejected.buyer, rejected.sub.ID, "The proof shows another page."); err != nil {
		t.Fatal(err)
	}
	mustPost(t, rejected, rejected.worker, 1)
}

// TestSimultaneousReviews: both parties reviewing at the same moment, each
// not seeing the other's yet, still show both at once, each counted once.
func TestSimultaneousReviews(t *testing.T) {
	e := apptest.New(t)
	for range 10 {
		w := newWork(t, e, true)
		var wg sync.WaitGroup
		for _, p := range []auth.Principal{w.buyer, w.worker} {
			wg.Go(func() {
				if _, err := w.post(t, p, 4); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		countDue(t, e)
		now := e.Clock.Now()
		for _, p := range []auth.Principal{w.buyer, w.worker} {
			other := w.worker
			if p == w.worker {
				other = w.buyer
			}
			r, err := e.Reviews.Get(w.ctx, other, review.ID(w.ref, p.UserID))
			if err != nil || r.StatusAt(now) != review.StatusVisible || !r.Counted {
				t.Fatalf("review by %s: %+v, %v; want visible and counted", p.Role, r, err)
			}
			if got := stars(t, e, other.UserID); got != [5]int64{0, 0, 0, 1, 0} {
				t.Errorf("stars of %s = %v, want one of 4", other.Role, got)
			}
		}
	}
}

// TestRemoveAndReply: the reviewee replies once to a visible review; an
// admin's removal hides it from everyone but admins, takes it out of the
// rating and is in the admin log.
func TestRemoveAndReply(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, true)
	admin := e.User(t, auth.RoleAdmin)
	mustPost(t, w, w.worker, 5)
	r := mustPost(t, w, w.buyer, 1) // about the worker: visible and counted
	if _, err := e.Reviews.Reply(w.ctx, w.buyer, r.ID, "Thanks"); !errors.Is(err, review.ErrNotFound) {
		t.Errorf("a reply by its author: %v, want not found", err)
	}
	replied, err := e.Reviews.Reply(w.ctx, w.worker, r.ID, "  The task's link was broken.  ")
	if err != nil || replied.Reply != "The task's link was broken." || replied.RepliedAt.IsZero() {
		t.Fatalf("Reply() = %+v, %v", replied, err)
	}
	if _, err := e.Reviews.Reply(w.ctx, w.worker, r.ID, "Again"); !errors.Is(err, review.ErrAlreadyReplied) {
		t.Errorf("a second reply: %v", err)
	}

	if err := e.Reviews.Remove(w.ctx, w.buyer, r.ID, "abuse"); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("a buyer removes: %v", err)
	}
	if err := e.Reviews.Remove(w.ctx, admin, r.ID, ""); err == nil {
		t.Errorf("a removal without a reason was accepted")
	}
	if err := e.Reviews.Remove(w.ctx, admin, r.ID, "Insults the worker."); err != nil {
		t.Fatal(err)
	}
	if got := stars(t, e, w.worker.UserID); got != [5]int64{} {
		t.Errorf("worker's stars after the removal = %v, want none", got)
	}
	if err := e.Reviews.Remove(w.ctx, admin, r.ID, "Again."); !errors.Is(err, review.ErrRemoved) {
		t.Errorf("removing twice: %v", err)
	}
	for _, p := range []auth.Principal{{}, w.worker, w.buyer} {
		if _, err := e.Reviews.Get(w.ctx, p, r.ID); !errors.Is(err, review.ErrNotFound) {
			t.Errorf("a removed review to %q: %v", p.Role, err)
		}
	}
	if got, err := e.Reviews.Get(w.ctx, admin, r.ID); err != nil || got.StatusAt(e.Clock.Now()) != review.StatusRemoved || got.RemovalReason != "Insults the worker." {
		t.Errorf("a removed review to an admin: %+v, %v", got, err)
	}
	if got := about(t, e, w.worker.UserID); len(got) != 0 {
		t.Errorf("reviews about the worker = %+v, want none", got)
	}
	log, err := e.AdminLog.List(w.ctx, admin, adminlog.Filter{Kind: adminlog.ReviewRemoved}, page.Request{Number: 1, Limit: 10})
	if err != nil || len(log.Items) != 1 || log.Items[0].TargetID != r.ID || log.Items[0].Reason != "Insults the worker." {
		t.Errorf("admin log = %+v, %v", log.Items, err)
	}

	// A hidden review removed before it shows never counts.
	h := newWork(t, e, true)
	hidden := mustPost(t, h, h.buyer, 2)
	if err := e.Reviews.Remove(w.ctx, admin, hidden.ID, "Spam."); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(review.BlindFor)
	countDue(t, e)
	if got := stars(t, e, h.worker.UserID); got != [5]int64{} {
		t.Errorf("stars after a removed review's 14 days = %v, want none", got)
	}
}

// TestCountingAfterACrash: a review whose addition to the rating was made
// but not recorded (a crash in between) is counted once by the job.
func TestCountingAfterACrash(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, true)
	r := mustPost(t, w, w.buyer, 3)
	e.Clock.Advance(review.BlindFor)
	// What the job's first run did before the crash: the addition only.
	if err := e.Records.Rated(w.ctx, "rate:"+r.ID, w.worker.UserID, 3); err != nil {
		t.Fatal(err)
	}
	if n := countDue(t, e); n != 1 || countDue(t, e) != 0 {
		t.Errorf("CountDue() counted %d, then again; want 1, then 0", n)
	}
	if got := stars(t, e, w.worker.UserID); got != [5]int64{0, 0, 1, 0, 0} {
		t.Errorf("stars = %v, want one of 3", got)
	}
}

// TestRunCountingWakesOnReveal: the review the second of a pair revealed
// is counted soon after, long before the loop's interval.
func TestRunCountingWakesOnReveal(t *testing.T) {
	e := apptest.New(t)
	w := newWork(t, e, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Reviews.RunCounting(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	mustPost(t, w, w.worker, 4)
	mustPost(t, w, w.buyer, 5)
	for deadline := time.Now().Add(10 * time.Second); stars(t, e, w.buyer.UserID) != [5]int64{0, 0, 0, 1, 0}; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("buyer's stars %v ten seconds after both reviewed, want one of 4", stars(t, e, w.buyer.UserID))
		}
	}
}
