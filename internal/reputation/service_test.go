package reputation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// standing refreshes the standings and returns the worker's level on the
// record and the copy kept with the user.
func standing(t *testing.T, e *apptest.Env, id string) (int, user.Standing) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Records.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := e.Records.Records(ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.Users.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Standing.Level != recs[id].Level {
		t.Errorf("the user's copy of the level = %d, the record's %d", u.Standing.Level, recs[id].Level)
	}
	return recs[id].Level, u.Standing
}

var opSeq int

func approve(t *testing.T, e *apptest.Env, worker, buyer string, n int, approved bool) {
	t.Helper()
	for range n {
		opSeq++
		if err := e.Records.Reviewed(context.Background(), fmt.Sprintf("review:%d", opSeq), worker, buyer, approved, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

func rate(t *testing.T, e *apptest.Env, userID string, stars ...int) {
	t.Helper()
	for _, n := range stars {
		opSeq++
		if err := e.Records.Rated(context.Background(), fmt.Sprintf("rate:%d", opSeq), userID, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLevelsComeFromWork: a worker's level is worked out after their record
// changes and kept with the user; it rises with reviewed work, never from
// reviews alone, and reviews and rejections may take it down.
func TestLevelsComeFromWork(t *testing.T) {
	e := apptest.New(t)
	worker, buyer := e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
	w := worker.UserID

	approve(t, e, w, buyer.UserID, 9, true)
	if level, _ := standing(t, e, w); level != 0 {
		t.Fatalf("level after 9 approvals = %d, want 0", level)
	}
	approve(t, e, w, buyer.UserID, 1, true)
	level, st := standing(t, e, w)
	if level != 1 || st.Approved != 10 {
		t.Fatalf("after 10 approvals: level %d, standing %+v; want level 1, 10 approved", level, st)
	}

	// Work enough for level 2, a month old, but with no reviews yet.
	e.Clock.Advance(31 * 24 * time.Hour)
	approve(t, e, w, buyer.UserID, 90, true)
	if level, _ := standing(t, e, w); level != 1 {
		t.Fatalf("level without reviews = %d, want 1", level)
	}
	// Five good reviews: the rating is there, but reviews alone raise
	// nothing.
	rate(t, e, w, 5, 5, 4, 5, 5)
	level, st = standing(t, e, w)
	if level != 1 || st.Reviews != 5 || st.Rating != 4.8 {
		t.Fatalf("after reviews alone: level %d, standing %+v; want level 1, 5 reviews of 4.8", level, st)
	}
	// The next approved work does.
	approve(t, e, w, buyer.UserID, 1, true)
	if level, _ := standing(t, e, w); level != 2 {
		t.Fatalf("level after more work = %d, want 2", level)
	}
	// Bad reviews take it down at once.
	rate(t, e, w, 1, 1, 1)
	if level, st := standing(t, e, w); level != 1 || st.Rating >= 4 {
		t.Fatalf("after bad reviews: level %d, standing %+v; want level 1", level, st)
	}
	// So do rejections, below 80%.
	approve(t, e, w, buyer.UserID, 30, false)
	if level, _ := standing(t, e, w); level != 0 {
		t.Fatalf("level below 80%% approved = %d, want 0", level)
	}

	// Buyers have ratings, never levels.
	approve(t, e, "other-worker", buyer.UserID, 20, true)
	rate(t, e, buyer.UserID, 3)
	if level, st := standing(t, e, buyer.UserID); level != 0 || st.Reviews != 1 || st.Rating != 3 {
		t.Errorf("buyer: level %d, standing %+v; want 0, one review of 3", level, st)
	}
}

// TestRefreshAfterChangesMeanwhile: a record that changes while its
// standing is being worked out stays marked, and the next round works it
// out from the change.
func TestRefreshAfterChangesMeanwhile(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	worker, buyer := e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
	approve(t, e, worker.UserID, buyer.UserID, 9, true)
	if _, err := e.Records.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: nothing to work out.
	if n, err := e.Records.Refresh(ctx); err != nil || n != 0 {
		t.Errorf("Refresh() with nothing changed = %d, %v; want 0", n, err)
	}
	approve(t, e, worker.UserID, buyer.UserID, 1, true)
	approve(t, e, worker.UserID, buyer.UserID, 1, true)
	if n, err := e.Records.Refresh(ctx); err != nil || n != 1 {
		t.Errorf("Refresh() = %d, %v; want the one record", n, err)
	}
	if level, st := standing(t, e, worker.UserID); level != 1 || st.Approved != 11 {
		t.Errorf("level %d, standing %+v; want 1, 11 approved", level, st)
	}
	// Taking out a review counted before takes its stars out.
	rate(t, e, worker.UserID, 2, 4)
	opSeq++
	if err := e.Records.Unrated(ctx, fmt.Sprintf("unrate:%d", opSeq), worker.UserID, 2); err != nil {
		t.Fatal(err)
	}
	if _, st := standing(t, e, worker.UserID); st.Reviews != 1 || st.Rating != 4 {
		t.Errorf("standing after a review taken out = %+v, want one of 4 stars", st)
	}
	if err := e.Records.Rated(ctx, "bad", worker.UserID, 6); err == nil {
		t.Errorf("Rated(6 stars) = nil, want an error")
	}
}

// TestRunRefreshWakesOnChange: the loop works out a standing soon after
// this process changed it, long before its interval.
func TestRunRefreshWakesOnChange(t *testing.T) {
	e := apptest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Records.RunRefresh(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	worker, buyer := e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
	approve(t, e, worker.UserID, buyer.UserID, 10, true)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u, err := e.Users.Get(context.Background(), worker.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Standing.Level == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("standing %+v ten seconds after the tenth approval, want level 1", u.Standing)
		}
	}
}
