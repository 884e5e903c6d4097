package task_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/platform/clocktest"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

// firstPage holds every task of these tests: none posts more than ten.
var firstPage = page.Request{Number: 1, Limit: 10}

// Most tests post one task of 3 slots at 10 coins, due a day after
// apptest.Start, for a buyer granted 100 coins: 30 go to escrow, 70 stay.
const (
	slots              = 3
	pay    money.Coins = 10
	grant  money.Coins = 100
	dueIn              = 24 * time.Hour
	posted             = grant - slots*pay
)

// fixture is a funded buyer who has posted a task, and the submissions made
// to it so far.
type fixture struct {
	e      *apptest.Env
	buyer  auth.Principal
	taskID string
	subs   []submission.Submission
}

// newFixture posts the fixture's task on a database of its own.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return fixtureOn(t, apptest.New(t))
}

// fixtureOn posts the fixture's task on e, next to other fixtures' tasks.
// A new database costs more than a case's work, so the tables whose cases
// leave the clock alone, or move it only for their own checks, share one.
// Cases sharing e run one after the other: a case that moves the clock and
// expires tasks does so only after the earlier cases have made their checks.
func fixtureOn(t *testing.T, e *apptest.Env) *fixture {
	t.Helper()
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, grant)
	tk := post(t, e, buyer, newTask("Label photos", slots, pay, e.Clock.Now().Add(dueIn)))
	return &fixture{e: e, buyer: buyer, taskID: tk.ID}
}

func newTask(title string, workers int, pay money.Coins, due time.Time) task.NewTask {
	return task.NewTask{
		Text:    task.Text{Title: title, Detail: "Detail of " + title, SubmissionInfo: "a screenshot"},
		Workers: workers, Pay: pay, CompletionDate: due,
	}
}

func post(t *testing.T, e *apptest.Env, buyer auth.Principal, in task.NewTask) task.Task {
	t.Helper()
	tk, err := e.Tasks.Create(context.Background(), buyer, in)
	if err != nil {
		t.Fatalf("Create(%q) error = %v", in.Title, err)
	}
	return tk
}

// submit makes a new worker submit to the fixture's task.
func (f *fixture) submit(t *testing.T) submission.Submission {
	t.Helper()
	worker := f.e.User(t, auth.RoleWorker)
	sub, err := f.e.Submissions.Submit(context.Background(), worker, f.taskID, "proof")
	if err != nil {
		t.Fatalf("Submit() error = %v", err)
	}
	f.subs = append(f.subs, sub)
	return sub
}

func (f *fixture) approve(t *testing.T, sub submission.Submission) {
	t.Helper()
	if _, err := f.e.Submissions.Approve(context.Background(), f.buyer, sub.ID); err != nil {
		t.Fatalf("Approve() error = %v", err)
	}
}

func (f *fixture) reject(t *testing.T, sub submission.Submission) {
	t.Helper()
	if _, err := f.e.Submissions.Reject(context.Background(), f.buyer, sub.ID, "the photo is blurry"); err != nil {
		t.Fatalf("Reject() error = %v", err)
	}
}

// expire moves the clock past the task's completion date and runs the
// expiry.
func (f *fixture) expire(t *testing.T) {
	t.Helper()
	f.e.Clock.Advance(dueIn + time.Hour)
	if _, err := f.e.Tasks.ExpireDue(context.Background()); err != nil {
		t.Fatalf("ExpireDue() error = %v", err)
	}
}

// task reads the task as stored, deleted or not.
func (f *fixture) task(t *testing.T) task.Task {
	t.Helper()
	tk, err := f.e.Tasks.ByID(context.Background(), f.taskID)
	if err != nil {
		t.Fatalf("ByID() error = %v", err)
	}
	return tk
}

// wantMoney checks the buyer's coins and the task's escrow.
func (f *fixture) wantMoney(t *testing.T, buyer, escrow money.Coins) {
	t.Helper()
	if got := f.e.Coins(t, f.buyer.UserID); got != buyer {
		t.Errorf("buyer's coins = %d, want %d", got, buyer)
	}
	if got := f.e.Balance(t, ledger.EscrowAccount(f.taskID)); got != escrow {
		t.Errorf("escrow = %d, want %d", got, escrow)
	}
}

// wantSubs checks the statuses of the fixture's submissions, in order.
func (f *fixture) wantSubs(t *testing.T, want []submission.Status) {
	t.Helper()
	var got []submission.Status
	for _, s := range f.subs {
		sub, err := f.e.Submissions.Get(context.Background(), s.ID)
		if err != nil {
			t.Fatalf("Get(submission) error = %v", err)
		}
		got = append(got, sub.Status)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("submission statuses (-want +got):\n%s", diff)
	}
}

// invalidField reports whether err is an apperr invalid-fields error naming
// field: the HTTP layer shows Fields to the client, so the name matters.
func invalidField(err error, field string) bool {
	var ae *apperr.Error
	return errors.As(err, &ae) && ae.Kind == apperr.Invalid &&
		slices.ContainsFunc(ae.Fields, func(fe apperr.FieldError) bool { return fe.Field == field })
}

func TestCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		role      auth.Role
		coins     money.Coins
		workers   int
		pay       money.Coins
		due       time.Duration // from the clock's time
		wantErr   error
		wantField string // for apperr.Invalid errors
	}{
		{name: "buyer with coins to spare", role: auth.RoleBuyer, coins: 100, workers: 3, pay: 10, due: dueIn},
		{name: "buyer with the exact cost", role: auth.RoleBuyer, coins: 30, workers: 3, pay: 10, due: dueIn},
		{name: "due at the latest allowed", role: auth.RoleBuyer, coins: 30, workers: 3, pay: 10, due: task.MaxCompletionAhead},
		{name: "due in a millisecond", role: auth.RoleBuyer, coins: 30, workers: 3, pay: 10, due: time.Millisecond},
		{name: "worker", role: auth.RoleWorker, coins: 100, workers: 3, pay: 10, due: dueIn, wantErr: auth.ErrWrongRole},
		{name: "admin", role: auth.RoleAdmin, coins: 100, workers: 3, pay: 10, due: dueIn, wantErr: auth.ErrWrongRole},
		{name: "due now", role: auth.RoleBuyer, coins: 100, workers: 3, pay: 10, due: 0,
			wantErr: apperr.InvalidFields(), wantField: "completion_date"},
		{name: "due in the past", role: auth.RoleBuyer, coins: 100, workers: 3, pay: 10, due: -time.Hour,
			wantErr: apperr.InvalidFields(), wantField: "completion_date"},
		// Dates are kept to the millisecond: less than one ahead is now.
		{name: "due in half a millisecond", role: auth.RoleBuyer, coins: 100, workers: 3, pay: 10, due: 500 * time.Microsecond,
			wantErr: apperr.InvalidFields(), wantField: "completion_date"},
		{name: "due too far ahead", role: auth.RoleBuyer, coins: 100, workers: 3, pay: 10, due: task.MaxCompletionAhead + time.Millisecond,
			wantErr: apperr.InvalidFields(), wantField: "completion_date"},
		{name: "one coin short", role: auth.RoleBuyer, coins: 29, workers: 3, pay: 10, due: dueIn, wantErr: ledger.ErrInsufficientCoins},
		{name: "no coins", role: auth.RoleBuyer, coins: 0, workers: 1, pay: 1, due: dueIn, wantErr: ledger.ErrInsufficientCoins},
	}
	// The cases share a database, each with a user of its own; none moves
	// the clock.
	ctx := context.Background()
	e := apptest.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.User(t, tt.role)
			if tt.coins > 0 {
				e.Give(t, p.UserID, tt.coins)
			}
			due := e.Clock.Now().Add(tt.due)
			got, err := e.Tasks.Create(ctx, p, newTask("Label photos", tt.workers, tt.pay, due))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Create() error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantField != "" && !invalidField(err, tt.wantField) {
				t.Errorf("Create() error = %#v, want field %q", err, tt.wantField)
			}
			mine, merr := e.Tasks.Mine(ctx, p, firstPage)
			if merr != nil {
				t.Fatal(merr)
			}
			if tt.wantErr != nil {
				// Refused: no task, and the coins stay with the user.
				if mine.Total != 0 {
					t.Errorf("after a refused Create, the user has %d tasks, want 0", mine.Total)
				}
				if c := e.Coins(t, p.UserID); c != tt.coins {
					t.Errorf("after a refused Create, coins = %d, want %d", c, tt.coins)
				}
				return
			}
			cost := money.Coins(tt.workers) * tt.pay
			if c := e.Coins(t, p.UserID); c != tt.coins-cost {
				t.Errorf("buyer's coins = %d, want %d", c, tt.coins-cost)
			}
			if b := e.Balance(t, ledger.EscrowAccount(got.ID)); b != cost {
				t.Errorf("escrow = %d, want %d", b, cost)
			}
			if mine.Total != 1 || mine.Items[0].ID != got.ID {
				t.Errorf("Mine() = %d tasks, want only %s", mine.Total, got.ID)
			}
			want := task.Task{
				ID: got.ID, Title: "Label photos", Detail: "Detail of Label photos", SubmissionInfo: "a screenshot",
				OpenSlots: tt.workers, PendingSubs: []string{}, Held: []string{}, TimeAllotted: time.Hour, Pay: tt.pay, CompletionDate: due,
				Buyer: task.Party{ID: p.UserID, Name: "Name of " + p.UserID}, Status: task.StatusOpen,
				AutoApproveAfter: 72 * time.Hour, CreatedAt: apptest.Start,
				Category: task.CategoryOther, Tags: []string{}, // the defaults
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Create() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateWithAKeyFundsOnce: the request for a key run again (after its
// process died before answering) finds the task the first run funded.
func TestCreateWithAKeyFundsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.New(t)
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	e.Give(t, other.UserID, 100)
	in := newTask("Label photos", 3, 10, e.Clock.Now().Add(dueIn))
	in.Key = "order-1"

	first, err := e.Tasks.Create(ctx, buyer, in)
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	again, err := e.Tasks.Create(ctx, buyer, in)
	if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("again = %+v, %v; want the first task %s", again, err, first.ID)
	}
	if c := e.Coins(t, buyer.UserID); c != 70 {
		t.Errorf("buyer's coins = %d, want 70: funded once", c)
	}
	mine, err := e.Tasks.Mine(ctx, buyer, firstPage)
	if err != nil || mine.Total != 1 {
		t.Errorf("Mine() = %d tasks, %v; want 1", mine.Total, err)
	}
	// Another buyer's key of the same name is another task.
	theirs, err := e.Tasks.Create(ctx, other, in)
	if err != nil || theirs.ID == first.ID {
		t.Errorf("another buyer's task = %+v, %v", theirs, err)
	}
	// Without a key, every call is a new task.
	in.Key = ""
	if t2, err := e.Tasks.Create(ctx, buyer, in); err != nil || t2.ID == first.ID {
		t.Errorf("a task without a key = %+v, %v", t2, err)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		prepare    func(t *testing.T, f *fixture)
		wantErr    error
		wantStatus task.Status
	}{
		{name: "open", wantStatus: task.StatusOpen},
		{name: "expired", prepare: func(t *testing.T, f *fixture) { f.expire(t) }, wantStatus: task.StatusExpired},
		{name: "deleted by its buyer", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Delete(ctx, f.buyer, f.taskID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: task.ErrNotFound},
		{name: "removed by an admin", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Remove(ctx, f.e.User(t, auth.RoleAdmin), f.taskID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: task.ErrNotFound},
		{name: "never existed", prepare: func(t *testing.T, f *fixture) { f.taskID = "no-such-task" }, wantErr: task.ErrNotFound},
	}
	e := apptest.New(t) // shared: see fixtureOn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtureOn(t, e)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			got, err := f.e.Tasks.Get(ctx, f.taskID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.ID != f.taskID || got.Status != tt.wantStatus) {
				t.Errorf("Get() = task %s, %s; want %s, %s", got.ID, got.Status, f.taskID, tt.wantStatus)
			}
		})
	}
}

// market is a database with tasks in every state the lists tell apart,
// named for the tests' readability:
//
//	logo    open, pay 5, due in 48h, 2 slots; "logo" in its title
//	blog    open, pay 20, due in 24h; "LOGO" in its detail
//	app     open, pay 10, due in 72h, its one slot taken by a pending submission
//	quick   open, pay 8, due in 2h, which the clock has passed (not expired yet)
//	old     expired, pay 8 (its buyer's own lists only)
//	gone    deleted by its buyer, pay 50
//	hidden  open, pay 30, of a suspended buyer
//
// The tasks were posted in that order, a minute apart, by buyer but for
// hidden, by other.
type market struct {
	e                           *apptest.Env
	buyer, other, worker, admin auth.Principal
	ids                         map[string]string // name -> task ID
}

func newMarket(t *testing.T) *market {
	t.Helper()
	ctx := context.Background()
	e := apptest.New(t)
	m := &market{e: e, buyer: e.User(t, auth.RoleBuyer), other: e.User(t, auth.RoleBuyer),
		worker: e.User(t, auth.RoleWorker), admin: e.User(t, auth.RoleAdmin), ids: map[string]string{}}
	e.Give(t, m.buyer.UserID, 1000)
	e.Give(t, m.other.UserID, 1000)
	add := func(name string, by auth.Principal, title, detail string, workers int, pay money.Coins, due time.Duration) string {
		in := newTask(title, workers, pay, apptest.Start.Add(due))
		in.Detail = detail
		m.ids[name] = post(t, e, by, in).ID
		e.Clock.Advance(time.Minute)
		return m.ids[name]
	}
	add("logo", m.buyer, "Design a logo", "Vector art for a bakery", 2, 5, 48*time.Hour)
	add("blog", m.buyer, "Write a blog post", "On the history of the LOGO", 1, 20, 24*time.Hour)
	app := add("app", m.buyer, "Test an app", "Android only", 1, 10, 72*time.Hour)
	if _, err := e.Submissions.Submit(ctx, m.worker, app, "proof"); err != nil {
		t.Fatal(err)
	}
	add("quick", m.buyer, "Short task", "Quick one", 1, 8, 2*time.Hour)
	add("old", m.buyer, "Old task", "Long gone", 1, 8, 30*time.Minute)
	gone := add("gone", m.buyer, "Deleted task", "Nothing here", 1, 50, 24*time.Hour)
	if _, err := e.Tasks.Delete(ctx, m.buyer, gone); err != nil {
		t.Fatal(err)
	}
	add("hidden", m.other, "Hidden task", "Of a suspended buyer", 1, 30, 24*time.Hour)
	if err := e.Users.SetStatus(ctx, m.admin, m.other.UserID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	// Past old's completion date but not quick's: only old expires.
	e.Clock.Advance(time.Hour)
	if n, err := e.Tasks.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue() = %d, %v; want 1 task closed", n, err)
	}
	// Past quick's completion date too, with nothing run to expire it.
	e.Clock.Advance(2 * time.Hour)
	return m
}

// names turns a page's tasks into the market's names for them.
func (m *market) names(p page.Of[task.Task]) []string {
	byID := map[string]string{}
	for name, id := range m.ids {
		byID[id] = name
	}
	names := []string{}
	for _, tk := range p.Items {
		names = append(names, byID[tk.ID])
	}
	return names
}

func TestList(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tests := []struct {
		name      string
		filter    task.Filter
		page      page.Request
		want      []string
		wantTotal int64
	}{
		{name: "live open tasks, newest first", want: []string{"quick", "app", "blog", "logo"}},
		{name: "available: open slots and time left", filter: task.Filter{Available: true}, want: []string{"blog", "logo"}},
		// All is for the admins' list only.
		{name: "all is ignored", filter: task.Filter{All: true}, want: []string{"quick", "app", "blog", "logo"}},
		{name: "min pay", filter: task.Filter{MinPay: 10}, want: []string{"app", "blog"}},
		{name: "min pay, available", filter: task.Filter{MinPay: 10, Available: true}, want: []string{"blog"}},
		{name: "query in title or detail, any case", filter: task.Filter{Query: "logo"}, want: []string{"blog", "logo"}},
		{name: "query in capitals", filter: task.Filter{Query: "ANDROID"}, want: []string{"app"}},
		{name: "query of several words", filter: task.Filter{Query: "a blog"}, want: []string{"blog"}},
		{name: "query is not a pattern", filter: task.Filter{Query: "a.p"}, want: []string{}},
		{name: "query matching only hidden", filter: task.Filter{Query: "suspended"}, want: []string{}},
		{name: "query matching only deleted", filter: task.Filter{Query: "Deleted"}, want: []string{}},
		{name: "query matching only expired", filter: task.Filter{Query: "gone"}, want: []string{}},
		{name: "sort by pay", filter: task.Filter{Sort: task.SortPay}, want: []string{"blog", "app", "quick", "logo"}},
		{name: "sort by deadline", filter: task.Filter{Sort: task.SortDeadline}, want: []string{"quick", "blog", "logo", "app"}},
		{name: "sort newest", filter: task.Filter{Sort: task.SortNewest}, want: []string{"quick", "app", "blog", "logo"}},
		// The service drops a buyer filter, which would bring in expired
		// tasks: List is the public list whatever the caller asks.
		{name: "buyer filter ignored", filter: task.Filter{BuyerID: "x"}, want: []string{"quick", "app", "blog", "logo"}},
		{name: "first page of 3", page: page.Request{Number: 1, Limit: 3}, want: []string{"quick", "app", "blog"}, wantTotal: 4},
		{name: "second page of 3", page: page.Request{Number: 2, Limit: 3}, want: []string{"logo"}, wantTotal: 4},
		{name: "past the last page", page: page.Request{Number: 3, Limit: 3}, want: []string{}, wantTotal: 4},
		{name: "total counts all pages of a filter", filter: task.Filter{Sort: task.SortPay}, page: page.Request{Number: 1, Limit: 1},
			want: []string{"blog"}, wantTotal: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.page == (page.Request{}) {
				tt.page, tt.wantTotal = firstPage, int64(len(tt.want))
			}
			got, err := m.e.Tasks.List(context.Background(), tt.filter, tt.page)
			if err != nil {
				t.Fatalf("List() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, m.names(got)); diff != "" {
				t.Errorf("List(%+v) (-want +got):\n%s", tt.filter, diff)
			}
			if got.Total != tt.wantTotal || got.Request != tt.page {
				t.Errorf("List() total = %d, page %+v; want %d, %+v", got.Total, got.Request, tt.wantTotal, tt.page)
			}
		})
	}
}

func TestMine(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tests := []struct {
		name string
		who  auth.Principal
		want []string
	}{
		// Expired tasks stay in their buyer's list; deleted ones do not.
		{name: "buyer", who: m.buyer, want: []string{"old", "quick", "app", "blog", "logo"}},
		// A suspended buyer still sees their hidden task.
		{name: "suspended buyer", who: m.other, want: []string{"hidden"}},
		{name: "someone without tasks", who: m.worker, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.e.Tasks.Mine(context.Background(), tt.who, firstPage)
			if err != nil {
				t.Fatalf("Mine() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, m.names(got)); diff != "" {
				t.Errorf("Mine() (-want +got):\n%s", diff)
			}
			if got.Total != int64(len(tt.want)) {
				t.Errorf("Mine() total = %d, want %d", got.Total, len(tt.want))
			}
		})
	}
}

func TestAdminList(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tests := []struct {
		name    string
		who     auth.Principal
		filter  task.AdminFilter
		want    []string
		wantErr error
	}{
		{name: "everything", who: m.admin, want: []string{"hidden", "gone", "old", "quick", "app", "blog", "logo"}},
		{name: "query", who: m.admin, filter: task.AdminFilter{Query: "TASK"}, want: []string{"hidden", "gone", "old", "quick"}},
		{name: "by buyer", who: m.admin, filter: task.AdminFilter{BuyerID: m.other.UserID}, want: []string{"hidden"}},
		{name: "by buyer and query", who: m.admin, filter: task.AdminFilter{BuyerID: m.buyer.UserID, Query: "deleted"}, want: []string{"gone"}},
		{name: "buyer", who: m.buyer, wantErr: auth.ErrWrongRole},
		{name: "worker", who: m.worker, wantErr: auth.ErrWrongRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.e.Tasks.AdminList(context.Background(), tt.who, tt.filter, firstPage)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("AdminList() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, m.names(got)); diff != "" {
				t.Errorf("AdminList(%+v) (-want +got):\n%s", tt.filter, diff)
			}
			if got.Total != int64(len(tt.want)) {
				t.Errorf("AdminList() total = %d, want %d", got.Total, len(tt.want))
			}
		})
	}
}

func TestUpdateText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	str := func(s string) *string { return &s }
	full := task.TextEdit{Title: str("New title"), Detail: str("New detail"), SubmissionInfo: str("New info"), ImageURL: str("https://example.com/i.png")}
	tests := []struct {
		name    string
		edit    *task.TextEdit // full if nil
		prepare func(t *testing.T, f *fixture)
		who     func(t *testing.T, f *fixture) auth.Principal
		wantErr error
	}{
		{name: "its buyer"},
		// What the edit leaves out stays: the image survives a text edit.
		{name: "the title only", edit: &task.TextEdit{Title: str("Only the title")}},
		{name: "the image removed", edit: &task.TextEdit{ImageURL: str("")}, prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.UpdateText(ctx, f.buyer, f.taskID, full); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "nothing", edit: &task.TextEdit{}},
		{name: "its buyer, expired task", prepare: func(t *testing.T, f *fixture) { f.expire(t) }},
		{name: "another buyer", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleBuyer) },
			wantErr: task.ErrNotFound},
		// Admins remove tasks; they do not rewrite them.
		{name: "an admin", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleAdmin) },
			wantErr: task.ErrNotFound},
		{name: "a worker", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleWorker) },
			wantErr: task.ErrNotFound},
		{name: "deleted task", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Delete(ctx, f.buyer, f.taskID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: task.ErrNotFound},
		{name: "no such task", prepare: func(t *testing.T, f *fixture) { f.taskID = "no-such-task" }, wantErr: task.ErrNotFound},
	}
	e := apptest.New(t) // shared: see fixtureOn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtureOn(t, e)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			who := f.buyer
			if tt.who != nil {
				who = tt.who(t, f)
			}
			edit := full
			if tt.edit != nil {
				edit = *tt.edit
			}
			before, _ := f.e.Tasks.ByID(ctx, f.taskID)
			got, err := f.e.Tasks.UpdateText(ctx, who, f.taskID, edit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateText() error = %v, want %v", err, tt.wantErr)
			}
			if before.ID == "" {
				return // nothing to compare with
			}
			after := f.task(t)
			want := before
			if err == nil {
				// Only the text changes: the money fields stay as posted.
				for _, f := range []struct{ to, from *string }{
					{&want.Title, edit.Title}, {&want.Detail, edit.Detail},
					{&want.SubmissionInfo, edit.SubmissionInfo}, {&want.ImageURL, edit.ImageURL},
				} {
					if f.from != nil {
						*f.to = *f.from
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("UpdateText() returned (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("task after UpdateText() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		prepare    func(t *testing.T, f *fixture)
		who        func(t *testing.T, f *fixture) auth.Principal // the buyer if nil
		wantErr    error
		wantRefund money.Coins
		wantBuyer  money.Coins
		wantEscrow money.Coins
		wantStatus task.Status
	}{
		{name: "untouched task", wantRefund: 30, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusDeleted},
		{name: "after an approval", prepare: func(t *testing.T, f *fixture) { f.approve(t, f.submit(t)) },
			wantRefund: 20, wantBuyer: grant - pay, wantEscrow: 0, wantStatus: task.StatusDeleted},
		// A rejection reopens its slot, whose pay then comes back.
		{name: "after a rejection", prepare: func(t *testing.T, f *fixture) { f.reject(t, f.submit(t)) },
			wantRefund: 30, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusDeleted},
		{name: "while a submission awaits review", prepare: func(t *testing.T, f *fixture) { f.submit(t) },
			wantErr: task.ErrPendingSubmissions, wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen},
		{name: "expired, open slots already refunded", prepare: func(t *testing.T, f *fixture) { f.expire(t) },
			wantRefund: 0, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusDeleted},
		{name: "expired, with a submission awaiting review", prepare: func(t *testing.T, f *fixture) { f.submit(t); f.expire(t) },
			wantErr: task.ErrPendingSubmissions, wantBuyer: grant - pay, wantEscrow: pay, wantStatus: task.StatusExpired},
		{name: "by another buyer", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleBuyer) },
			wantErr: task.ErrNotFound, wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen},
		// Admins have Remove; Delete is the buyer's own.
		{name: "by an admin", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleAdmin) },
			wantErr: task.ErrNotFound, wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen},
		{name: "twice", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Delete(ctx, f.buyer, f.taskID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: task.ErrNotFound, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusDeleted},
	}
	e := apptest.New(t) // shared: see fixtureOn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtureOn(t, e)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			who := f.buyer
			if tt.who != nil {
				who = tt.who(t, f)
			}
			refund, err := f.e.Tasks.Delete(ctx, who, f.taskID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Delete() error = %v, want %v", err, tt.wantErr)
			}
			if refund != tt.wantRefund {
				t.Errorf("Delete() refund = %d, want %d", refund, tt.wantRefund)
			}
			f.wantMoney(t, tt.wantBuyer, tt.wantEscrow)
			if got := f.task(t); got.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", got.Status, tt.wantStatus)
			}
			if _, err := f.e.Tasks.Get(ctx, f.taskID); tt.wantStatus == task.StatusDeleted && !errors.Is(err, task.ErrNotFound) {
				t.Errorf("Get() of the deleted task error = %v, want %v", err, task.ErrNotFound)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := submission.StatusPending
	tests := []struct {
		name       string
		prepare    func(t *testing.T, f *fixture)
		who        func(t *testing.T, f *fixture) auth.Principal // an admin if nil
		wantErr    error
		wantRefund money.Coins
		wantBuyer  money.Coins
		wantEscrow money.Coins
		wantStatus task.Status
		wantSubs   []submission.Status
	}{
		{name: "untouched task", wantRefund: 30, wantBuyer: grant, wantStatus: task.StatusDeleted},
		// The pending work is cancelled, not paid: its pay goes back too.
		{name: "with submissions awaiting review", prepare: func(t *testing.T, f *fixture) { f.submit(t); f.submit(t) },
			wantRefund: 30, wantBuyer: grant, wantStatus: task.StatusDeleted,
			wantSubs: []submission.Status{submission.StatusCancelled, submission.StatusCancelled}},
		{name: "with an approved and a pending submission", prepare: func(t *testing.T, f *fixture) { f.approve(t, f.submit(t)); f.submit(t) },
			wantRefund: 20, wantBuyer: grant - pay, wantStatus: task.StatusDeleted,
			wantSubs: []submission.Status{submission.StatusApproved, submission.StatusCancelled}},
		{name: "full task", prepare: func(t *testing.T, f *fixture) { f.submit(t); f.submit(t); f.approve(t, f.submit(t)) },
			wantRefund: 20, wantBuyer: grant - pay, wantStatus: task.StatusDeleted,
			wantSubs: []submission.Status{submission.StatusCancelled, submission.StatusCancelled, submission.StatusApproved}},
		{name: "expired, with a submission awaiting review", prepare: func(t *testing.T, f *fixture) { f.submit(t); f.expire(t) },
			wantRefund: pay, wantBuyer: grant, wantStatus: task.StatusDeleted, wantSubs: []submission.Status{submission.StatusCancelled}},
		{name: "by its buyer", who: func(t *testing.T, f *fixture) auth.Principal { return f.buyer }, prepare: func(t *testing.T, f *fixture) { f.submit(t) },
			wantErr: auth.ErrWrongRole, wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen, wantSubs: []submission.Status{s}},
		{name: "by a worker", who: func(t *testing.T, f *fixture) auth.Principal { return f.e.User(t, auth.RoleWorker) },
			wantErr: auth.ErrWrongRole, wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen},
		{name: "already deleted", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Delete(ctx, f.buyer, f.taskID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: task.ErrNotFound, wantBuyer: grant, wantStatus: task.StatusDeleted},
	}
	e := apptest.New(t) // shared: see fixtureOn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtureOn(t, e)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			var who auth.Principal
			if tt.who != nil {
				who = tt.who(t, f)
			} else {
				who = f.e.User(t, auth.RoleAdmin)
			}
			refund, err := f.e.Tasks.Remove(ctx, who, f.taskID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Remove() error = %v, want %v", err, tt.wantErr)
			}
			if refund != tt.wantRefund {
				t.Errorf("Remove() refund = %d, want %d", refund, tt.wantRefund)
			}
			f.wantMoney(t, tt.wantBuyer, tt.wantEscrow)
			f.wantSubs(t, tt.wantSubs)
			got := f.task(t)
			if got.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", got.Status, tt.wantStatus)
			}
			if tt.wantErr == nil && (got.OpenSlots != 0 || len(got.PendingSubs) != 0) {
				t.Errorf("removed task has %d open slots and pending %v, want none", got.OpenSlots, got.PendingSubs)
			}
			// The cancelled workers were paid nothing; the approved one keeps their pay.
			for _, sub := range f.subs {
				want := money.Coins(0)
				if st, _ := f.e.Submissions.Get(ctx, sub.ID); st.Status == submission.StatusApproved {
					want = pay
				}
				if c := f.e.Coins(t, sub.Worker.ID); c != want {
					t.Errorf("worker %s has %d coins, want %d", sub.Worker.ID, c, want)
				}
			}
		})
	}
}

func TestExpireDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name        string
		prepare     func(t *testing.T, f *fixture) // before the clock moves
		advance     time.Duration                  // from the task's posting
		wantClosed  int
		wantBuyer   money.Coins
		wantEscrow  money.Coins
		wantStatus  task.Status
		wantSlots   int
		wantPending int
	}{
		{name: "before its completion date", advance: dueIn - time.Millisecond,
			wantBuyer: posted, wantEscrow: 30, wantStatus: task.StatusOpen, wantSlots: slots},
		// At its completion date a task takes no more work
		// (Task.TakesWork), so the job expires it.
		{name: "at its completion date", advance: dueIn,
			wantClosed: 1, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusExpired},
		{name: "just past its completion date", advance: dueIn + time.Millisecond,
			wantClosed: 1, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusExpired},
		{name: "after an approval", prepare: func(t *testing.T, f *fixture) { f.approve(t, f.submit(t)) }, advance: 2 * dueIn,
			wantClosed: 1, wantBuyer: grant - pay, wantEscrow: 0, wantStatus: task.StatusExpired},
		// The pending submission keeps its slot's pay in escrow for its review.
		{name: "with a submission awaiting review", prepare: func(t *testing.T, f *fixture) { f.submit(t) }, advance: 2 * dueIn,
			wantClosed: 1, wantBuyer: grant - pay, wantEscrow: pay, wantStatus: task.StatusExpired, wantPending: 1},
		// A task whose slots are all used still expires, with nothing to
		// refund, and leaves the lists.
		{name: "full", prepare: func(t *testing.T, f *fixture) {
			for range slots {
				f.approve(t, f.submit(t))
			}
		}, advance: 2 * dueIn, wantClosed: 1, wantBuyer: posted, wantEscrow: 0, wantStatus: task.StatusExpired},
		{name: "deleted before", prepare: func(t *testing.T, f *fixture) {
			if _, err := f.e.Tasks.Delete(ctx, f.buyer, f.taskID); err != nil {
				t.Fatal(err)
			}
		}, advance: 2 * dueIn, wantBuyer: grant, wantEscrow: 0, wantStatus: task.StatusDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			f.e.Clock.Advance(tt.advance)
			// The second run finds nothing left to refund.
			for run, want := range []int{tt.wantClosed, 0} {
				n, err := f.e.Tasks.ExpireDue(ctx)
				if err != nil || n != want {
					t.Errorf("ExpireDue() run %d = %d, %v; want %d, nil", run+1, n, err, want)
				}
				f.wantMoney(t, tt.wantBuyer, tt.wantEscrow)
			}
			got := f.task(t)
			if got.Status != tt.wantStatus || got.OpenSlots != tt.wantSlots || len(got.PendingSubs) != tt.wantPending {
				t.Errorf("task is %s with %d open slots and %d pending, want %s with %d and %d",
					got.Status, got.OpenSlots, len(got.PendingSubs), tt.wantStatus, tt.wantSlots, tt.wantPending)
			}
		})
	}
}

// TestReviewAfterExpiry: the work a worker submitted in time is reviewed
// after the task expires, paid from what escrow kept for it, and a rejected
// slot's pay, no longer wanted, comes back by the next expiry run.
func TestReviewAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		review     func(f *fixture, t *testing.T, sub submission.Submission)
		wantStatus submission.Status
		wantWorker money.Coins
		wantClosed int // by the expiry run after the review
		wantBuyer  money.Coins
		wantRefund int // the task's refund operations in all
	}{
		{name: "approved", review: (*fixture).approve, wantStatus: submission.StatusApproved,
			wantWorker: pay, wantClosed: 0, wantBuyer: grant - pay, wantRefund: 1},
		{name: "rejected", review: (*fixture).reject, wantStatus: submission.StatusRejected,
			wantWorker: 0, wantClosed: 1, wantBuyer: grant, wantRefund: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			sub := f.submit(t)
			f.expire(t)
			tt.review(f, t, sub)
			f.wantSubs(t, []submission.Status{tt.wantStatus})
			if n, err := f.e.Tasks.ExpireDue(ctx); err != nil || n != tt.wantClosed {
				t.Errorf("ExpireDue() after the review = %d, %v; want %d, nil", n, err, tt.wantClosed)
			}
			f.wantMoney(t, tt.wantBuyer, 0)
			if c := f.e.Coins(t, sub.Worker.ID); c != tt.wantWorker {
				t.Errorf("worker's coins = %d, want %d", c, tt.wantWorker)
			}
			got := f.task(t)
			if got.Status != task.StatusExpired || got.OpenSlots != 0 || len(got.PendingSubs) != 0 || got.Refunds != tt.wantRefund {
				t.Errorf("task is %s with %d open slots, pending %v, %d refunds; want expired with none and %d refunds",
					got.Status, got.OpenSlots, got.PendingSubs, got.Refunds, tt.wantRefund)
			}
		})
	}
}

// TestAuditChecksEscrow: the audit's escrow invariant (Service.CheckEscrow)
// notices an escrow that does not match its task. The environment is built
// without apptest.New's audit at the end, which these broken ledgers fail.
func TestAuditChecksEscrow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// tamper changes the books behind the task service's back.
		tamper      func(t *testing.T, e *apptest.Env, taskID string)
		wantProblem string // "" for a balanced audit
	}{
		{name: "untouched", tamper: func(*testing.T, *apptest.Env, string) {}},
		{name: "a slot taken without moving coins", tamper: func(t *testing.T, e *apptest.Env, taskID string) {
			if ok, err := e.Stores.Tasks.ConsumeSlot(ctx, taskID, "tamper"); err != nil || !ok {
				t.Fatalf("ConsumeSlot() = %v, %v", ok, err)
			}
		}, wantProblem: "escrow holds 30, want 20"},
		{name: "coins added to a task's escrow", tamper: func(t *testing.T, e *apptest.Env, taskID string) {
			credit(t, e, ledger.EscrowAccount(taskID), 5)
		}, wantProblem: "escrow holds 35, want 30"},
		{name: "coins in the escrow of no task", tamper: func(t *testing.T, e *apptest.Env, _ string) {
			credit(t, e, ledger.EscrowAccount("ghost"), 5)
		}, wantProblem: "escrow:ghost holds 5 but its task does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := apptest.Build(t, storagetest.NewDB(t), clocktest.New(apptest.Start))
			buyer := e.User(t, auth.RoleBuyer)
			e.Give(t, buyer.UserID, grant)
			tk := post(t, e, buyer, newTask("Label photos", slots, pay, e.Clock.Now().Add(dueIn)))
			tt.tamper(t, e, tk.ID)
			r, err := e.Ledger.Audit(ctx)
			if err != nil {
				t.Fatalf("Audit() error = %v", err)
			}
			if tt.wantProblem == "" {
				if !r.Balanced {
					t.Errorf("Audit() problems = %q, want none", r.Problems)
				}
				return
			}
			if r.Balanced || !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, tt.wantProblem) }) {
				t.Errorf("Audit() balanced %v, problems %q; want one saying %q", r.Balanced, r.Problems, tt.wantProblem)
			}
		})
	}
}

// TestCheckEscrowSkipsBusyAccounts: an escrow an operation in flight posts
// to may be mid-change, so the check leaves it alone rather than raise a
// false alarm.
func TestCheckEscrowSkipsBusyAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acct, ghost := ledger.EscrowAccount(f.taskID), ledger.EscrowAccount("ghost")
	wrong := map[string]money.Coins{acct: 1, ghost: 5}
	tests := []struct {
		name string
		busy map[string]bool
		want int // problems
	}{
		{name: "nothing busy", busy: nil, want: 2},
		{name: "task's escrow busy", busy: map[string]bool{acct: true}, want: 1},
		{name: "both busy", busy: map[string]bool{acct: true, ghost: true}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.e.Tasks.CheckEscrow(context.Background(), wrong, tt.busy)
			if err != nil || len(got) != tt.want {
				t.Errorf("CheckEscrow() = %q, %v; want %d problems", got, err, tt.want)
			}
		})
	}
}

// credit credits an account from the mint in a posted operation of its own:
// the ledger's own invariants hold, only the escrow check can object.
func credit(t *testing.T, e *apptest.Env, account string, coins money.Coins) {
	t.Helper()
	ref := "tamper-" + account
	if _, err := apptest.Grant.Run(context.Background(), e.Operations, ref, ledger.Move(ledger.Mint, account, coins), struct{}{}); err != nil {
		t.Fatalf("grant %d to %s: %v", coins, account, err)
	}
}
