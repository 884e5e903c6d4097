package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/task"
)

// TestTakesWorkIsOneRule: "a task takes work" is written as Go
// (task.Task.TakesWork and TakesSubmissions, which the services ask to say
// why not) and as filters (takesWork and takesSubmissions, and pastDue for
// its date's other side), which the database checks atomically when a slot
// is reserved, held or used, and answers the list of available tasks and
// the expiry job's tasks with. Every combination of the fields the rule
// reads goes through the Go rule, each conditional write and both lists,
// on reads from memory and from the server, and all must give the same
// answer.
func TestTakesWorkIsOneRule(t *testing.T) {
	for _, reads := range []struct {
		name string
		db   func(testing.TB) *docdb.DB
	}{
		{"reads from memory", newTestDB},
		{"reads from the server", newServerReadsDB},
	} {
		t.Run(reads.name, func(t *testing.T) {
			t.Parallel()
			checkTakesWork(t, reads.db(t))
		})
	}
}

// slotState is how a task's slots stand.
type slotState struct {
	name    string
	free    int
	held    []string // reserved by other workers
	pending []string // taken by submissions awaiting review
}

func checkTakesWork(t *testing.T, db *docdb.DB) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	store := NewTaskStore(db)
	n := 0
	for _, status := range []task.Status{task.StatusOpen, task.StatusExpired, task.StatusClosed, task.StatusDeleted} {
		for _, hidden := range []bool{false, true} { // hidden: its buyer is suspended or deleted
			for _, paused := range []bool{false, true} {
				for _, slots := range []slotState{
					{name: "a free slot", free: 1},
					{name: "a free slot and a reserved one", free: 1, held: []string{"other-held"}},
					{name: "no slot", free: 0},
					{name: "full with a reservation", free: 0, held: []string{"other-held"}},
					{name: "full with a submission", free: 0, pending: []string{"other-sub"}},
				} {
					var cases []ruleCase
					for _, due := range []time.Duration{-time.Hour, 0, time.Millisecond} {
						n++
						cases = append(cases, ruleCase{
							name: fmt.Sprintf("%s, hidden %v, paused %v, %s, due in %v", status, hidden, paused, slots.name, due),
							doc: taskDoc{
								ID: fmt.Sprintf("t%03d", n), Title: "T", Status: string(status), Hidden: hidden, Paused: paused,
								RequiredWorkers: int64(slots.free), Held: append([]string{}, slots.held...),
								PendingSubs: append([]string{}, slots.pending...), Pay: 1, CompletionDate: now.Add(due),
								BuyerID: "b", Ops: []string{}, Tags: []string{}, Category: task.CategoryOther,
								CreatedAt: now.Add(-time.Duration(n) * time.Second),
							},
						})
					}
					// A few cases at a time, then gone: FerretDB reads a
					// whole collection for every query, even by _id.
					checkRuleCases(t, store, now, cases)
					if _, err := store.tasks.DeleteMany(context.Background(), bson.D{}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

// ruleCase is a task in one combination of the fields the rule reads.
type ruleCase struct {
	name string
	doc  taskDoc
}

// checkRuleCases runs the cases through the Go rule, the list of available
// tasks and each conditional write.
func checkRuleCases(t *testing.T, store *TaskStore, now time.Time, cases []ruleCase) {
	ctx := context.Background()
	// Each case is three tasks alike, one for each conditional write: the
	// third also holds a slot for the worker who submits to it.
	copies := []struct {
		suffix string
		write  func(id string) (bool, error)
		rule   func(task.Task) error
	}{
		{"reserve", func(id string) (bool, error) { return store.ReserveSlot(ctx, id, "sub", "w1", now) },
			func(tk task.Task) error { return tk.TakesSubmissions(now) }},
		{"hold", func(id string) (bool, error) { return store.HoldSlot(ctx, id, "w1-held", "w1", now) },
			func(tk task.Task) error { return tk.TakesSubmissions(now) }},
		{"use", func(id string) (bool, error) { return store.UseHeld(ctx, id, "w1-held", "sub", "w1", now) },
			func(tk task.Task) error { return tk.TakesWork(now) }},
	}
	var docs []any
	for _, c := range cases {
		for _, cp := range copies {
			d := c.doc
			d.ID += "-" + cp.suffix
			if cp.suffix == "use" {
				d.Held = append(append([]string{}, d.Held...), "w1-held")
			}
			docs = append(docs, d)
		}
	}
	if err := store.tasks.InsertMany(ctx, docs, true); err != nil {
		t.Fatal(err)
	}

	// Read back as the services read tasks.
	read := map[string]task.Task{}
	if err := store.Each(ctx, func(tk task.Task) error { read[tk.ID] = tk; return nil }); err != nil {
		t.Fatal(err)
	}
	available := map[string]bool{}
	list, total, err := store.List(ctx, task.Filter{Available: true, Now: now}, page.Request{Number: 1, Limit: len(docs)})
	if err != nil {
		t.Fatal(err)
	}
	if int(total) != len(list) {
		t.Fatalf("List(Available) total = %d, but %d items", total, len(list))
	}
	for _, tk := range list {
		available[tk.ID] = true
	}
	due := map[string]bool{}
	dueList, err := store.Due(ctx, now, len(docs))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range dueList {
		due[tk.ID] = true
	}

	for _, c := range cases {
		for _, cp := range copies {
			id := c.doc.ID + "-" + cp.suffix
			tk, ok := read[id]
			if !ok {
				t.Fatalf("%s: task %s not read back", c.name, id)
			}
			takes := tk.TakesSubmissions(now)
			// What readers are told agrees: open when the task takes
			// submissions, full when only a free slot is missing.
			if shown := tk.StatusAt(now); tk.Status == task.StatusOpen &&
				((shown == task.StatusOpen) != (takes == nil) || (shown == task.StatusFull) != (takes == task.ErrFull)) {
				t.Errorf("%s: StatusAt() = %s, TakesSubmissions() = %v", c.name, shown, takes)
			}
			if got := available[id]; got != (takes == nil) {
				t.Errorf("%s: in List(Available) = %v, TakesSubmissions() = %v", c.name, got, takes)
			}
			// An open task the rule calls expired is due for the expiry
			// job, and no other.
			if expired := errors.Is(tk.TakesWork(now), task.ErrExpired); tk.Status == task.StatusOpen && due[id] != expired {
				t.Errorf("%s: in Due() = %v, TakesWork() = %v", c.name, due[id], tk.TakesWork(now))
			}
			want := cp.rule(tk)
			got, err := cp.write(id)
			if err != nil {
				t.Fatalf("%s: %s: %v", c.name, cp.suffix, err)
			}
			if got != (want == nil) {
				t.Errorf("%s: %s = %v, the Go rule says %v", c.name, cp.suffix, got, want)
			}
		}
	}
}
