package block_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/block"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func newTask(t *testing.T, e *apptest.Env, buyer auth.Principal) (task.Task, error) {
	t.Helper()
	return e.Tasks.Create(context.Background(), buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: 1, Pay: 1, CompletionDate: e.Clock.Now().Add(24 * time.Hour)})
}

func availableTo(t *testing.T, e *apptest.Env, worker auth.Principal) []string {
	t.Helper()
	res, err := e.Tasks.List(context.Background(), task.Filter{Available: true, NotBy: worker.UserID}, page.Request{Number: 1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range res.Items {
		ids = append(ids, tk.ID)
	}
	return ids
}

// TestBlocksRacingTasks: blocks and unblocks made while the buyer posts
// tasks leave every task with the buyer's final list, whatever the order
// of their writes, and every worker blocked at the end is refused.
func TestBlocksRacingTasks(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	var workers []auth.Principal
	for range 6 {
		workers = append(workers, e.User(t, auth.RoleWorker))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i, w := range workers {
		wg.Go(func() {
			if _, err := e.Blocks.Block(ctx, buyer, w.UserID); err != nil {
				errs <- err
			}
			if i%2 == 1 { // the odd ones are unblocked again
				if err := e.Blocks.Unblock(ctx, buyer, w.UserID); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			if _, err := newTask(t, e, buyer); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mine, err := e.Blocks.Mine(ctx, buyer, page.Request{Number: 1, Limit: 10})
	if err != nil || mine.Total != 3 {
		t.Fatalf("Mine() = %+v, %v; want 3 blocks", mine, err)
	}
	all := availableTo(t, e, e.User(t, auth.RoleWorker))
	if len(all) != len(workers) {
		t.Fatalf("tasks available to an unblocked worker = %d, want %d", len(all), len(workers))
	}
	for i, w := range workers {
		got := availableTo(t, e, w)
		blocked, err := e.Blocks.Blocked(ctx, buyer.UserID, w.UserID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case blocked != (i%2 == 0):
			t.Errorf("worker %d blocked = %v", i, blocked)
		case blocked && len(got) != 0:
			t.Errorf("tasks available to blocked worker %d = %v, want none", i, got)
		case !blocked && !slices.Equal(got, all):
			t.Errorf("tasks available to unblocked worker %d = %v, want all %v", i, got, all)
		}
	}
	for i, w := range workers { // each to a task of their own, which has a slot
		_, err := e.Submissions.Submit(ctx, w, all[i], "proof")
		if i%2 == 0 && !errors.Is(err, block.ErrBlocked) {
			t.Errorf("blocked worker %d submits: %v, want ErrBlocked", i, err)
		}
		if i%2 == 1 && err != nil {
			t.Errorf("unblocked worker %d submits: %v", i, err)
		}
	}
	if !errors.Is(block.ErrBlocked, submission.ErrBlockedByBuyer) {
		t.Errorf("submissions refuse with another error than blocks")
	}
}
