package storage

import (
	"context"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/job"
	"microtask/internal/page"
	"microtask/internal/reputation"
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
		if err := (migrator{db}).taskSubmitters(ctx); err != nil {
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

// TestTaskLabels runs migration 0019's step on tasks of before it: each gets
// the category "other", no tags, the default allotted time and the effective
// pay the sort reads, and a task that has its labels keeps them.
func TestTaskLabels(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	tasks := db.Collection("tasks")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := func(id string, pay int64) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "task_title", Value: id}, {Key: "status", Value: "open"},
			{Key: "required_workers", Value: int64(1)}, {Key: "payable_amount", Value: pay}, {Key: "pending_subs", Value: bson.A{}},
			{Key: "completion_date", Value: now.Add(time.Hour)}, {Key: "created_at", Value: now}}
	}
	for _, d := range []bson.D{old("cheap", 6), old("dear", 180)} {
		if err := tasks.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	store := NewTaskStore(db)
	if err := store.Insert(ctx, task.Task{ID: "new", Title: "new", Status: task.StatusOpen, OpenSlots: 1, Pay: 10,
		CompletionDate: now.Add(time.Hour), CreatedAt: now, Category: task.CategorySurvey, Tags: []string{"quick"}, TimeAllotted: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // safe to repeat
		if err := (migrator{db}).taskLabels(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := store.List(ctx, task.Filter{Sort: task.SortEffectivePay}, page.Request{Number: 1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	type labels struct {
		ID       string
		Category string
		Tags     []string
		Minutes  int
	}
	var ids []labels
	for _, tk := range got {
		ids = append(ids, labels{tk.ID, tk.Category, tk.Tags, int(tk.TimeAllotted / time.Minute)})
	}
	want := []labels{ // 3 coins a minute, 2, 0.1
		{"dear", "other", []string{}, 60}, {"new", "survey", []string{"quick"}, 5}, {"cheap", "other", []string{}, 60},
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("tasks by effective pay = %v, want %v", ids, want)
	}
	for _, tag := range []string{"", "quick"} {
		n, err := store.tasks.Count(ctx, listFilter(task.Filter{Category: task.CategoryOther, Tag: tag}))
		if wantN := map[string]int64{"": 2, "quick": 0}[tag]; err != nil || n != wantN {
			t.Errorf("tasks of category other tagged %q = %d, %v; want %d", tag, n, err, wantN)
		}
	}
}

// TestTaskRequirements runs the steps of migrations 0025 and 0065 on a
// task of before them: it asks nothing, and a worker who brings nothing
// finds it available.
func TestTaskRequirements(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.Collection("tasks").InsertOne(ctx, bson.D{{Key: "_id", Value: "old"}, {Key: "task_title", Value: "old"},
		{Key: "status", Value: "open"}, {Key: "required_workers", Value: int64(1)}, {Key: "payable_amount", Value: int64(1)},
		{Key: "pending_subs", Value: bson.A{}}, {Key: "completion_date", Value: now.Add(time.Hour)}, {Key: "created_at", Value: now}}); err != nil {
		t.Fatal(err)
	}
	store := NewTaskStore(db)
	f := task.Filter{Available: true, Now: now, NotBy: "w", Candidate: &task.Candidate{}}
	if _, n, err := store.List(ctx, f, page.Request{Number: 1, Limit: 10}); err != nil || n != 0 {
		t.Fatalf("available before the step = %d, %v; want none (no requirements to compare)", n, err)
	}
	for range 2 { // safe to repeat
		if err := (migrator{db}).taskRequirements(ctx); err != nil {
			t.Fatal(err)
		}
		if err := (migrator{db}).taskQualifications(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, n, err := store.List(ctx, f, page.Request{Number: 1, Limit: 10})
	if err != nil || n != 1 || !cmp.Equal(got[0].Requirements, task.Requirements{}) {
		t.Errorf("available after the step = %+v, %d, %v; want the task, asking nothing", got, n, err)
	}
}

// TestJobRequirements runs the step of migration 0067 on a job of before
// it: it asks nothing, a worker who brings nothing is eligible for it, and
// a job that has requirements keeps them.
func TestJobRequirements(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.Collection("jobs").InsertOne(ctx, bson.D{{Key: "_id", Value: "old"}, {Key: "title", Value: "old"},
		{Key: "type", Value: "fixed"}, {Key: "budget_coins", Value: int64(10)}, {Key: "budget_key", Value: int64(10)},
		{Key: "skills", Value: bson.A{}}, {Key: "skill_keys", Value: bson.A{}}, {Key: "min_level", Value: int64(0)},
		{Key: "min_rating", Value: 0.0}, {Key: "buyer_id", Value: "b"}, {Key: "status", Value: "open"}, {Key: "created_at", Value: now}}); err != nil {
		t.Fatal(err)
	}
	store := NewJobStore(db)
	dach := task.Requirements{Countries: []string{"DE", "AT"}}
	if err := store.Insert(ctx, job.Job{ID: "new", Title: "new", Type: job.TypeFixed, Budget: 10, Requirements: dach,
		Buyer: job.Party{ID: "b"}, Status: job.StatusOpen, CreatedAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	eligible := func(c task.Candidate) []string {
		t.Helper()
		got, _, err := store.List(ctx, job.Filter{Candidate: &c}, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobIDsOf(got)
	}
	if got := eligible(task.Candidate{Country: "DE"}); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("eligible before the step = %v; want only the new job (the old has no requirements to compare)", got)
	}
	for range 2 { // safe to repeat
		if err := (migrator{db}).jobRequirements(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		country string
		want    []string
	}{{"", []string{"old"}}, {"DE", []string{"new", "old"}}, {"FR", []string{"old"}}} {
		if got := eligible(task.Candidate{Country: tt.country}); !slices.Equal(got, tt.want) {
			t.Errorf("eligible after the step from %q = %v, want %v", tt.country, got, tt.want)
		}
	}
	for id, want := range map[string]task.Requirements{"old": {}, "new": dach} {
		if j, err := store.ByID(ctx, id); err != nil || !cmp.Equal(j.Requirements, want) {
			t.Errorf("job %s requires %+v (%v), want %+v", id, j.Requirements, err, want)
		}
	}
}

func jobIDsOf(jobs []job.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// TestUserRecords runs migration 0020's step on tasks and submissions of
// before it: each user's record counts them, and an operation it counted
// (one whose settle step recovery runs after the migration) is not counted
// again.
func TestUserRecords(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	tasks, subs := NewTaskStore(db), NewSubmissionStore(db)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"t1", "t2"} {
		if err := tasks.Insert(ctx, task.Task{ID: id, Title: id, Status: task.StatusOpen, OpenSlots: 5, Pay: 1,
			Buyer: task.Party{ID: "b"}, CompletionDate: now.Add(time.Hour), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		task, worker string
		to           submission.Status
		took         time.Duration
	}{{"t1", "w1", submission.StatusApproved, 10 * time.Minute}, {"t1", "w2", submission.StatusApproved, 3 * time.Hour},
		{"t2", "w1", submission.StatusRejected, 5 * time.Hour}, {"t2", "w2", submission.StatusPending, 0}} {
		id := s.task + s.worker + string(s.to)
		if err := subs.Insert(ctx, submission.Submission{ID: id, TaskID: s.task, Worker: task.Party{ID: s.worker}, Buyer: task.Party{ID: "b"},
			Status: submission.StatusPending, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if s.to != submission.StatusPending {
			if _, err := subs.Review(ctx, submission.Review{Op: "review:" + id, ID: id, To: s.to, At: now.Add(s.took)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 { // safe to repeat
		if err := (migrator{db}).userRecords(ctx); err != nil {
			t.Fatal(err)
		}
	}
	store := NewRecordStore(db)
	// Recovery finishing an approval the step counted.
	if err := store.Add(ctx, "review:t1w1approved", "w1", reputation.Change{Approved: 1, ReviewBucket: -1}); err != nil {
		t.Fatal(err)
	}
	recs, err := store.ByIDs(ctx, []string{"b", "w1", "w2"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reputation.Record{}
	for _, r := range recs {
		got[r.UserID] = r
	}
	var hist [reputation.Buckets]int64
	hist[0], hist[4], hist[5] = 1, 1, 1 // ≤ 15 minutes, ≤ 4 hours, ≤ 8 hours
	want := map[string]reputation.Record{
		"b":  {UserID: "b", TasksPosted: 2, BuyerApproved: 2, BuyerRejected: 1, ReviewTimes: hist},
		"w1": {UserID: "w1", Approved: 1, Rejected: 1},
		"w2": {UserID: "w2", Approved: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records = %+v\nwant %+v", got, want)
	}
	if d, ok := got["b"].MedianReviewTime(); !ok || d != 4*time.Hour {
		t.Errorf("median review time = %v, %v; want 4h", d, ok)
	}

	// Migration 0024 marks every record, as from new work, for its
	// standing to be worked out.
	if err := (migrator{db}).markStandings(ctx); err != nil {
		t.Fatal(err)
	}
	changed, err := store.Changed(ctx, 10)
	if err != nil || len(changed) != 3 {
		t.Fatalf("Changed() = %+v, %v; want the 3 records", changed, err)
	}
	for _, c := range changed {
		if !c.Work || c.Seq < 1 {
			t.Errorf("record %s marked %+v, want as from work", c.UserID, c)
		}
	}
}
