package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"microtask/internal/block"
	"microtask/internal/page"
	"microtask/internal/task"
)

// TestBlockListsReachTasksInVersionOrder: a buyer's list of blocked
// workers reaches their tasks only over an earlier version, so that two
// changes whose task writes cross leave the later list; the available
// tasks of a blocked worker leave the buyer's out.
func TestBlockListsReachTasksInVersionOrder(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	tasks, blocks := NewTaskStore(db), NewBlockStore(db)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"t1", "t2"} {
		if err := tasks.Insert(ctx, task.Task{ID: id, Title: id, Status: task.StatusOpen, OpenSlots: 1, Pay: 1,
			Buyer: task.Party{ID: "b"}, CompletionDate: now.Add(time.Hour), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := blocks.Save(ctx, block.List{BuyerID: "b", Blocks: []block.Block{{WorkerID: "w1"}}})
	if err != nil || l.Version != 1 {
		t.Fatalf("Save() = %+v, %v", l, err)
	}
	if _, err := blocks.Save(ctx, block.List{BuyerID: "b"}); !errors.Is(err, block.ErrStale) {
		t.Errorf("second first Save() = %v, want ErrStale", err)
	}
	for _, step := range []struct {
		task    string
		workers []string
		version int64
	}{{"", []string{"w1", "w2"}, 2}, {"", []string{"w1"}, 1}, {"t2", nil, 1}} { // the later list first
		if err := tasks.SetBlocked(ctx, "b", step.task, step.workers, step.version); err != nil {
			t.Fatal(err)
		}
	}
	for worker, want := range map[string][]string{"w1": nil, "w2": nil, "w3": {"t1", "t2"}} {
		got, _, err := tasks.List(ctx, task.Filter{Available: true, Now: now, NotBy: worker}, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range got {
			ids = append(ids, tk.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Errorf("available to %s = %v, want %v", worker, ids, want)
		}
	}
}
