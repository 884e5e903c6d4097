package task_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestTakesSubmissionsAgreesWithTheStore: "a task takes submissions" is
// written twice, as Task.TakesSubmissions in Go and as the condition of
// the store's ReserveSlot, which the database checks atomically. For every
// combination of the fields the rule reads, both must say the same.
func TestTakesSubmissionsAgreesWithTheStore(t *testing.T) {
	db := storagetest.NewDB(t)
	store := storage.NewTaskStore(db)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	for _, status := range []task.Status{task.StatusOpen, task.StatusExpired, task.StatusDeleted} {
		for _, hidden := range []bool{false, true} {
			for _, slots := range []int{0, 1} {
				for _, due := range []time.Duration{-time.Hour, 0, time.Millisecond, time.Hour} {
					n++
					tk := task.Task{
						ID: fmt.Sprintf("t%d", n), Title: "T", OpenSlots: slots, Pay: 1, CompletionDate: now.Add(due),
						Buyer: task.Party{ID: fmt.Sprintf("b%d", n)}, Status: status, CreatedAt: now,
					}
					if err := store.Insert(ctx, tk); err != nil {
						t.Fatal(err)
					}
					if hidden { // as a suspension of its buyer does
						if err := store.SetHidden(ctx, tk.Buyer.ID, true); err != nil {
							t.Fatal(err)
						}
					}
					tk, err := store.ByID(ctx, tk.ID)
					if err != nil || tk.Hidden != hidden {
						t.Fatalf("ByID() = %+v, %v", tk, err)
					}
					want := tk.TakesSubmissions(now) == nil
					// What readers are told agrees: open when it takes
					// submissions, full when only a free slot is missing.
					if shown, takes := tk.StatusAt(now), tk.TakesSubmissions(now); (shown == task.StatusOpen) != (takes == nil) ||
						(shown == task.StatusFull) != (takes == task.ErrFull) {
						t.Errorf("%s, hidden %v, %d slots, due %v: StatusAt() = %s, TakesSubmissions() = %v", status, hidden, slots, due, shown, takes)
					}
					got, err := store.ReserveSlot(ctx, tk.ID, "s1", "w1", now)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("%s, hidden %v, %d slots, due %v: ReserveSlot() = %v, TakesSubmissions() allows %v",
							status, hidden, slots, due, got, want)
					}
				}
			}
		}
	}
}

func TestNormalizeTags(t *testing.T) {
	for _, tt := range []struct {
		in      []string
		want    []string
		invalid bool
	}{
		{in: nil, want: []string{}},
		{in: []string{" Quick", "quick", "QUICK "}, want: []string{"quick"}},
		{in: []string{"en-us", "a1", "b", "c", "d", "a1"}, want: []string{"en-us", "a1", "b", "c", "d"}},
		{in: []string{"a", "b", "c", "d", "e", "f"}, invalid: true},
		{in: []string{"two words"}, invalid: true},
		{in: []string{"-dash"}, invalid: true},
		{in: []string{"under_score"}, invalid: true},
		{in: []string{""}, invalid: true},
		{in: []string{strings.Repeat("a", task.MaxTagLen+1)}, invalid: true},
	} {
		got, err := task.NormalizeTags(tt.in)
		if tt.invalid != (err != nil) || (!tt.invalid && !slices.Equal(got, tt.want)) || (!tt.invalid && got == nil) {
			t.Errorf("NormalizeTags(%q) = %q, %v; want %q (invalid: %v)", tt.in, got, err, tt.want, tt.invalid)
		}
	}
}
