package storage

import (
	"context"
	"slices"
	"testing"
	"time"

	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// TestTaskSubmitters runs migration 0018's step on submissions of before it:
// each task lists the workers who submitted to it, and a worker's available
// tasks leave those out.
func TestTaskSubmitters(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	tasks, subs := NewTaskStore(db), NewSubmissionStore(db)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"t1", "t2", "t3"} {
		if err := tasks.Insert(ctx, task.Task{ID: id, Title: id, Status: task.StatusOpen, OpenSlots: 5, Pay: 1,
			Buyer: task.Party{ID: "b", Name: "b"}, CompletionDate: now.Add(time.Hour), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct{ task, worker string }{{"t1", "w1"}, {"t2", "w1"}, {"t2", "w2"}} {
		if err := subs.Insert(ctx, submission.Submission{ID: s.task + s.worker, TaskID: s.task, Worker: task.Party{ID: s.worker},
			Status: submission.StatusRejected, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // safe to repeat
		if err := db.taskSubmitters(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for worker, want := range map[string][]string{"w1": {"t3"}, "w2": {"t3", "t1"}, "w3": {"t3", "t2", "t1"}} {
		got, _, err := tasks.List(ctx, task.Filter{Available: true, Now: now, NotBy: worker, Sort: task.SortNewest}, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range got {
			ids = append(ids, tk.ID)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("available to %s = %v, want %v", worker, ids, want)
		}
	}
}
