package batch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/batch"
	"microtask/internal/ledger"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func template(e *apptest.Env) task.NewTask {
	return task.NewTask{
		Text: task.Text{Title: "Find the phone number of {{company}}", Detail: "Search the web for {{company}} in {{city}}.",
			SubmissionInfo: "The number, and the page it is on"},
		Workers: 2, Pay: 3, CompletionDate: e.Clock.Now().Add(7 * 24 * time.Hour), Tags: []string{"Research"},
	}
}

const items = "company,city\nAcme,Berlin\nGlobex,Lyon\nInitech,Austin\n"

func fieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field)
	}
	return out
}

func tasksOf(t *testing.T, e *apptest.Env, batchID string) []task.Task {
	t.Helper()
	var out []task.Task
	if err := e.Tasks.EachOfBatch(context.Background(), batchID, func(tk task.Task) error { out = append(out, tk); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestABatchMakesOneFundedTaskPerRow(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	b, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Name: "phones", Template: template(e), Items: []byte(items)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != batch.StatusOpen || b.Rows != 3 || b.Funded() != 18 {
		t.Errorf("batch = %+v, want open with 3 rows funded 18", b)
	}
	tasks := tasksOf(t, e, b.ID)
	var titles []string
	for i, tk := range tasks {
		titles = append(titles, tk.Title)
		if tk.BatchRow != i+1 || tk.OpenSlots != 2 || tk.Pay != 3 || e.Balance(t, ledger.EscrowAccount(tk.ID)) != 6 ||
			!cmp.Equal(tk.Tags, []string{"research"}) || tk.Category != task.CategoryOther || tk.TimeAllotted != task.DefaultTimeAllotted {
			t.Errorf("task %d = %+v, escrow %d", i+1, tk, e.Balance(t, ledger.EscrowAccount(tk.ID)))
		}
	}
	want := []string{"Find the phone number of Acme", "Find the phone number of Globex", "Find the phone number of Initech"}
	if diff := cmp.Diff(want, titles); diff != "" {
		t.Errorf("titles (-want +got):\n%s", diff)
	}
	if tasks[1].Detail != "Search the web for Globex in Lyon." {
		t.Errorf("detail = %q", tasks[1].Detail)
	}
	if got := e.Coins(t, buyer.UserID); got != 82 {
		t.Errorf("buyer has %d coins, want 82", got)
	}
	list, err := e.Batches.List(ctx, buyer, page.Request{Number: 1, Limit: 10})
	if err != nil || list.Total != 1 {
		t.Errorf("list = %+v, %v", list, err)
	}
	// A worker sees them as any task.
	avail, err := e.Tasks.List(ctx, task.Filter{Available: true}, page.Request{Number: 1, Limit: 10})
	if err != nil || avail.Total != 3 {
		t.Errorf("available tasks = %d, %v; want 3", avail.Total, err)
	}
}

func TestEveryBadRowIsNamedAndNothingIsMade(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	tpl := template(e)
	tpl.Title = "{{company}} in {{country}}"
	tpl.Pay = 0
	long := strings.Repeat("x", 199)
	csv := "company,city\nAcme,Berlin\nGlobex\n," + "Lyon\n" + long + ",Austin\n"
	_, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: tpl, Items: []byte(csv)})
	want := []string{"template.payable_amount", "template.task_title", "items[2]", "items[3].company", "items[4].task_title"}
	if diff := cmp.Diff(want, fieldsOf(err)); diff != "" {
		t.Errorf("bad fields (-want +got):\n%s\n%v", diff, err)
	}
	if e.Coins(t, buyer.UserID) != 100 {
		t.Error("coins moved for a batch refused")
	}
	tests := []struct {
		name  string
		items string
		want  []string
	}{
		{"no rows", "company,city\n", []string{"items"}},
		{"empty file", "", []string{"items"}},
		{"repeated column", "company,company,city\nA,B,C\n", []string{"items.header[2]"}},
		{"too many rows", "company,city\n" + strings.Repeat("A,B\n", batch.MaxRows+1), []string{"items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: template(e), Items: []byte(tt.items)})
			if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
				t.Errorf("bad fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
	if _, err := e.Batches.Create(ctx, e.User(t, auth.RoleWorker), batch.NewBatch{Template: template(e), Items: []byte(items)}); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("a worker's batch: %v, want wrong_role", err)
	}
}

func TestABatchTheBuyerCannotPayMakesNothing(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 17) // 18 needed
	_, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: template(e), Items: []byte(items), Key: "k1"})
	if !errors.Is(err, ledger.ErrInsufficientCoins) {
		t.Fatalf("Create() = %v, want insufficient_coins", err)
	}
	all, _ := e.Tasks.List(ctx, task.Filter{}, page.Request{Number: 1, Limit: 10})
	if all.Total != 0 || e.Coins(t, buyer.UserID) != 17 {
		t.Errorf("%d tasks made, buyer has %d; want none and 17", all.Total, e.Coins(t, buyer.UserID))
	}
	if list, _ := e.Batches.List(ctx, buyer, page.Request{Number: 1, Limit: 10}); list.Total != 0 {
		t.Errorf("a failed batch is listed: %+v", list.Items)
	}
}

func TestTheSameKeyMakesOneBatch(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	in := batch.NewBatch{Template: template(e), Items: []byte(items), Key: "once"}
	first, err := e.Batches.Create(ctx, buyer, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Batches.Create(ctx, buyer, in)
	if err != nil || again.ID != first.ID || e.Coins(t, buyer.UserID) != 82 || len(tasksOf(t, e, first.ID)) != 3 {
		t.Errorf("again = %+v, %v; buyer %d", again, err, e.Coins(t, buyer.UserID))
	}
}

func TestCloseRefundsEveryOpenTaskAndResultsListTheWork(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, w1, w2 := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	b, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: template(e), Items: []byte(items)})
	if err != nil {
		t.Fatal(err)
	}
	tasks := tasksOf(t, e, b.ID)
	s1, err := e.Submissions.Submit(ctx, w1, tasks[0].ID, "030 1234, acme.de/contact")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Approve(ctx, buyer, s1.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.Submissions.Submit(ctx, w2, tasks[0].ID, "030 9999"); err != nil { // pending at the close
		t.Fatal(err)
	}
	if _, err := e.Submissions.Submit(ctx, w2, tasks[2].ID, "512 555"); err != nil {
		t.Fatal(err)
	}
	// 18 funded; 3 paid; escrow keeps 3 + 3 for the pending two; 9 back.
	got, st, err := e.Batches.Close(ctx, buyer, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantStats := batch.Stats{Tasks: map[task.Status]int{task.StatusClosed: 3},
		Submissions: map[submission.Status]int{submission.StatusApproved: 1, submission.StatusPending: 2},
		Funded:      18, Escrowed: 6, Paid: 3, Refunded: 9}
	if got.Status != batch.StatusClosed || !cmp.Equal(st, wantStats) {
		t.Errorf("closed %s with %+v, want %+v", got.Status, st, wantStats)
	}
	if e.Coins(t, buyer.UserID) != 82+9 {
		t.Errorf("buyer has %d, want 91", e.Coins(t, buyer.UserID))
	}
	if _, _, err := e.Batches.Close(ctx, buyer, b.ID); !errors.Is(err, batch.ErrNotOpen) {
		t.Errorf("closed twice: %v, want batch_not_open", err)
	}
	var header []string
	var lines []string
	err = e.Batches.Results(ctx, buyer, b.ID, func(c []string) error { header = c; return nil }, func(r batch.Result) error {
		lines = append(lines, fmt.Sprintf("%d %s %s %s", r.Row.N, strings.Join(r.Row.Values, "|"), r.Submission.Worker.ID, r.Submission.Status))
		return nil
	})
	want := []string{"1 Acme|Berlin " + w1.UserID + " approved", "1 Acme|Berlin " + w2.UserID + " pending", "3 Initech|Austin " + w2.UserID + " pending"}
	if err != nil || !cmp.Equal(header, []string{"company", "city"}) || !cmp.Equal(lines, want) {
		t.Errorf("results %v %v (%v), want %v", header, lines, err, want)
	}
	if _, _, err := e.Batches.Get(ctx, e.User(t, auth.RoleBuyer), b.ID); !errors.Is(err, batch.ErrNotFound) {
		t.Errorf("another buyer's batch: %v, want not found", err)
	}
}

func TestABatchCompletesOnceItsWorkIsDone(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	r := apptest.NewReceiver(t, e.Clock.Now)
	ep, err := e.Webhooks.Create(ctx, buyer, webhook.NewEndpoint{URL: r.URL, Events: []webhook.EventType{webhook.BatchCompleted}})
	if err != nil {
		t.Fatal(err)
	}
	r.SetSecret(ep.Secret)
	tpl := template(e)
	tpl.Workers = 1
	b, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: tpl, Items: []byte("company,city\nAcme,Berlin\nGlobex,Lyon\n")})
	if err != nil {
		t.Fatal(err)
	}
	tasks := tasksOf(t, e, b.ID)
	sub, err := e.Submissions.Submit(ctx, worker, tasks[0].ID, "proof")
	if err != nil {
		t.Fatal(err)
	}
	complete := func() int {
		t.Helper()
		n, err := e.Batches.CompleteDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := complete(); n != 0 {
		t.Fatalf("completed %d batches with work to come", n)
	}
	if _, err := e.Submissions.Approve(ctx, buyer, sub.ID); err != nil {
		t.Fatal(err)
	}
	if n := complete(); n != 0 {
		t.Fatalf("completed %d batches with a free slot left", n)
	}
	if _, _, err := e.Batches.Close(ctx, buyer, b.ID); err != nil {
		t.Fatal(err)
	}
	if n := complete(); n != 1 {
		t.Fatalf("completed %d batches, want 1", n)
	}
	if n := complete(); n != 0 {
		t.Fatalf("completed it again: %d", n)
	}
	if _, err := e.Webhooks.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Got(); len(got) != 1 || got[0].Type != "batch.completed" || !got[0].Valid {
		t.Errorf("received %+v, want one batch.completed", got)
	}
	got, _, _ := e.Batches.Get(ctx, buyer, b.ID)
	if got.CompletedAt.IsZero() {
		t.Error("completed_at not set")
	}
}

// TestAThousandRowsMakeAThousandTasks: the largest batch, funded by one
// operation of 1,001 postings and the tasks made in bulk; the audit (each
// task's escrow included) balances at the end of the test.
func TestAThousandRowsMakeAThousandTasks(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 10_000)
	var csv strings.Builder
	csv.WriteString("company,city\n")
	for i := range batch.MaxRows {
		fmt.Fprintf(&csv, "Company %d,City %d\n", i, i)
	}
	tpl := template(e)
	tpl.Workers, tpl.Pay = 1, 2
	start := time.Now()
	b, err := e.Batches.Create(ctx, buyer, batch.NewBatch{Template: tpl, Items: []byte(csv.String())})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a batch of %d rows funded and made in %v", batch.MaxRows, took)
	if n := len(tasksOf(t, e, b.ID)); n != batch.MaxRows {
		t.Errorf("%d tasks, want %d", n, batch.MaxRows)
	}
	if got := e.Coins(t, buyer.UserID); got != 8000 {
		t.Errorf("buyer has %d, want 8000", got)
	}
}
