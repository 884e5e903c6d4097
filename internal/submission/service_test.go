package submission_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// autoApproveAfter is the review delay apptest configures.
const autoApproveAfter = 72 * time.Hour

var firstPage = page.Request{Number: 1, Limit: 10}

// market is a test's environment with the parties most tests need: a buyer
// without coins (newTask gives them what a task costs), a worker and an
// admin.
type market struct {
	*apptest.Env
	ctx                  context.Context
	buyer, worker, admin auth.Principal
}

func newMarket(t *testing.T) *market {
	t.Helper()
	e := apptest.New(t)
	return &market{Env: e, ctx: context.Background(),
		buyer: e.User(t, auth.RoleBuyer), worker: e.User(t, auth.RoleWorker), admin: e.User(t, auth.RoleAdmin)}
}

// fresh returns new parties on the same environment, for the cases of a
// table that neither move the clock nor run the jobs: each case's tasks and
// submissions are its own, and the cases share one database, which saves
// building one per case.
func (m *market) fresh(t *testing.T) *market {
	t.Helper()
	return &market{Env: m.Env, ctx: m.ctx,
		buyer: m.User(t, auth.RoleBuyer), worker: m.User(t, auth.RoleWorker), admin: m.User(t, auth.RoleAdmin)}
}

// marketFor returns the market of a table's case: a database of its own
// when the case moves the clock or runs the expiry job, which would reach
// the other cases' tasks; else fresh parties on shared.
func marketFor(t *testing.T, shared *market, ownDB bool) *market {
	t.Helper()
	if ownDB {
		return newMarket(t)
	}
	return shared.fresh(t)
}

// newTask posts a task of m.buyer's with slots slots at pay coins each,
// after giving the buyer exactly its cost, so that the buyer's balance
// afterwards is what the test moves.
func (m *market) newTask(t *testing.T, slots int, pay money.Coins) task.Task {
	t.Helper()
	return m.newTaskOf(t, m.buyer, slots, pay)
}

func (m *market) newTaskOf(t *testing.T, buyer auth.Principal, slots int, pay money.Coins) task.Task {
	t.Helper()
	m.Give(t, buyer.UserID, money.Coins(slots)*pay)
	tk, err := m.Tasks.Create(m.ctx, buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: slots, Pay: pay, CompletionDate: m.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	return tk
}

func (m *market) submit(t *testing.T, worker auth.Principal, taskID string) submission.Submission {
	t.Helper()
	sub, err := m.Submissions.Submit(m.ctx, worker, taskID, "proof")
	if err != nil {
		t.Fatalf("Submit() error = %v", err)
	}
	return sub
}

func (m *market) approve(t *testing.T, id string) {
	t.Helper()
	if _, err := m.Submissions.Approve(m.ctx, m.buyer, id); err != nil {
		t.Fatalf("Approve() error = %v", err)
	}
}

func (m *market) reject(t *testing.T, id string) {
	t.Helper()
	if _, err := m.Submissions.Reject(m.ctx, m.buyer, id, "the photo is blurry"); err != nil {
		t.Fatalf("Reject() error = %v", err)
	}
}

func (m *market) task(t *testing.T, id string) task.Task {
	t.Helper()
	tk, err := m.Tasks.ByID(m.ctx, id)
	if err != nil {
		t.Fatalf("Tasks.ByID(%s) error = %v", id, err)
	}
	return tk
}

func (m *market) sub(t *testing.T, id string) submission.Submission {
	t.Helper()
	s, err := m.Submissions.Get(m.ctx, id)
	if err != nil {
		t.Fatalf("Get(%s) error = %v", id, err)
	}
	return s
}

// notes returns a user's notifications, newest first.
func (m *market) notes(t *testing.T, userID string) []notification.Notification {
	t.Helper()
	p, err := m.Notifications.List(m.ctx, auth.Principal{UserID: userID}, firstPage)
	if err != nil {
		t.Fatalf("Notifications.List() error = %v", err)
	}
	return p.Items
}

// wantSlots checks a task's open slots and its list of pending submissions.
func (m *market) wantSlots(t *testing.T, taskID string, open int, pending ...string) {
	t.Helper()
	tk := m.task(t, taskID)
	if tk.OpenSlots != open || !slices.Equal(tk.PendingSubs, pending) {
		t.Errorf("task open slots %d, pending %v; want %d, %v", tk.OpenSlots, tk.PendingSubs, open, pending)
	}
}

// wantCoins checks the balances that a review may move.
func (m *market) wantCoins(t *testing.T, taskID string, worker auth.Principal, wantWorker, wantBuyer, wantEscrow money.Coins) {
	t.Helper()
	if got := m.Coins(t, worker.UserID); got != wantWorker {
		t.Errorf("worker has %d coins, want %d", got, wantWorker)
	}
	if got := m.Coins(t, m.buyer.UserID); got != wantBuyer {
		t.Errorf("buyer has %d coins, want %d", got, wantBuyer)
	}
	if got := m.Balance(t, ledger.EscrowAccount(taskID)); got != wantEscrow {
		t.Errorf("escrow holds %d coins, want %d", got, wantEscrow)
	}
}

func TestSubmitOnlyByWorkers(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 1, 10)
	tests := []struct {
		name string
		p    auth.Principal
	}{
		{"the task's buyer", m.buyer},
		{"another buyer", m.User(t, auth.RoleBuyer)},
		{"an admin", m.admin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Submissions.Submit(m.ctx, tt.p, tk.ID, "proof"); !errors.Is(err, auth.ErrWrongRole) {
				t.Errorf("Submit() error = %v, want %v", err, auth.ErrWrongRole)
			}
		})
	}
	m.wantSlots(t, tk.ID, 1)
}

func TestSubmitTakesASlotAndTellsTheBuyer(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 10)
	m.Clock.Advance(time.Hour)
	now := m.Clock.Now()

	got, err := m.Submissions.Submit(m.ctx, m.worker, tk.ID, "my proof")
	if err != nil {
		t.Fatalf("Submit() error = %v", err)
	}
	want := submission.Submission{
		ID: submission.ID(tk.ID, m.worker.UserID), TaskID: tk.ID, TaskTitle: "T", Pay: 10,
		Worker: task.Party{ID: m.worker.UserID, Name: "Name of " + m.worker.UserID}, Buyer: tk.Buyer,
		Details: "my proof", Status: submission.StatusPending, AutoApproveAt: now.Add(autoApproveAfter), CreatedAt: now,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Submit() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, m.sub(t, got.ID)); diff != "" {
		t.Errorf("Get() mismatch (-want +got):\n%s", diff)
	}
	m.wantSlots(t, tk.ID, 1, got.ID)
	// The slot's pay stays in escrow, now held for the pending submission.
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)

	notes := m.notes(t, m.buyer.UserID)
	if len(notes) != 1 || notes[0].ActionRoute != "/dashboard/task-to-review" ||
		!strings.Contains(notes[0].Message, "Name of "+m.worker.UserID) {
		t.Errorf("buyer's notifications = %+v, want one about the submission", notes)
	}
}

// TestSubmitRefused: a task that does not take submissions refuses with
// the reason Task.TakesSubmissions gives, and nothing changes.
func TestSubmitRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setUp makes the task (1 slot) unable to take the worker's
		// submission and returns the ID to submit to.
		setUp func(t *testing.T, m *market, tk task.Task) string
		want  error
		ownDB bool // see marketFor
	}{
		{
			name: "full",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
				return tk.ID
			},
			want: task.ErrFull,
		},
		{
			// Before ExpireDue has run: the completion date alone decides.
			name: "at its completion date",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				m.Clock.Advance(tk.CompletionDate.Sub(m.Clock.Now()))
				return tk.ID
			},
			want:  task.ErrExpired,
			ownDB: true,
		},
		{
			name: "expired",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				m.Clock.Advance(25 * time.Hour)
				if n, err := m.Tasks.ExpireDue(m.ctx); err != nil || n != 1 {
					t.Fatalf("ExpireDue() = %d, %v; want 1", n, err)
				}
				return tk.ID
			},
			want:  task.ErrExpired,
			ownDB: true,
		},
		{
			name: "deleted by its buyer",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				if _, err := m.Tasks.Delete(m.ctx, m.buyer, tk.ID); err != nil {
					t.Fatal(err)
				}
				return tk.ID
			},
			want: task.ErrNotFound,
		},
		{
			name: "removed by an admin",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				if _, err := m.Tasks.Remove(m.ctx, m.admin, tk.ID); err != nil {
					t.Fatal(err)
				}
				return tk.ID
			},
			want: task.ErrNotFound,
		},
		{
			name: "hidden with its suspended buyer",
			setUp: func(t *testing.T, m *market, tk task.Task) string {
				if err := m.Users.SetStatus(m.ctx, m.admin, m.buyer.UserID, user.StatusSuspended, ""); err != nil {
					t.Fatal(err)
				}
				return tk.ID
			},
			want: task.ErrClosed,
		},
		{
			name:  "missing",
			setUp: func(*testing.T, *market, task.Task) string { return "no-such-task" },
			want:  task.ErrNotFound,
		},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := marketFor(t, shared, tt.ownDB)
			tk := m.newTask(t, 1, 10)
			id := tt.setUp(t, m, tk)
			before := m.task(t, tk.ID)
			notified := len(m.notes(t, m.buyer.UserID))

			if _, err := m.Submissions.Submit(m.ctx, m.worker, id, "proof"); !errors.Is(err, tt.want) {
				t.Errorf("Submit() error = %v, want %v", err, tt.want)
			}
			if _, err := m.Submissions.Get(m.ctx, submission.ID(id, m.worker.UserID)); !errors.Is(err, submission.ErrNotFound) {
				t.Errorf("Get() of the refused submission error = %v, want %v", err, submission.ErrNotFound)
			}
			m.wantSlots(t, tk.ID, before.OpenSlots, before.PendingSubs...)
			if got := len(m.notes(t, m.buyer.UserID)); got != notified {
				t.Errorf("buyer has %d notifications, want %d as before", got, notified)
			}
		})
	}
}

// TestSubmitOncePerWorkerAndTask: the pair names the submission, so a
// second one is refused whatever became of the first, and takes no slot.
func TestSubmitOncePerWorkerAndTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		review     func(m *market, t *testing.T, id string) // method expressions of market
		wantStatus submission.Status
		wantOpen   int // of 3 slots, after the second attempt
	}{
		{name: "while pending", review: func(*market, *testing.T, string) {}, wantStatus: submission.StatusPending, wantOpen: 2},
		{name: "after approval", review: (*market).approve, wantStatus: submission.StatusApproved, wantOpen: 2},
		{name: "after rejection", review: (*market).reject, wantStatus: submission.StatusRejected, wantOpen: 3},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, 3, 10)
			first := m.submit(t, m.worker, tk.ID)
			tt.review(m, t, first.ID)

			if _, err := m.Submissions.Submit(m.ctx, m.worker, tk.ID, "again"); !errors.Is(err, submission.ErrAlreadySubmitted) {
				t.Errorf("second Submit() error = %v, want %v", err, submission.ErrAlreadySubmitted)
			}
			if got := m.sub(t, first.ID); got.Status != tt.wantStatus || got.Details != "proof" {
				t.Errorf("first submission = %s %q, want %s %q", got.Status, got.Details, tt.wantStatus, "proof")
			}
			if got := m.task(t, tk.ID).OpenSlots; got != tt.wantOpen {
				t.Errorf("task open slots = %d, want %d", got, tt.wantOpen)
			}
			mine, err := m.Submissions.Mine(m.ctx, m.worker, "", firstPage)
			if err != nil || mine.Total != 1 {
				t.Errorf("Mine() total = %d, %v; want 1", mine.Total, err)
			}
			// Another worker is not affected.
			m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
		})
	}
}

// TestSimultaneousSubmitsOfOneWorker: simultaneous submissions of one worker
// are one operation: one succeeds and takes one slot.
func TestSimultaneousSubmitsOfOneWorker(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 3, 10)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = m.Submissions.Submit(m.ctx, m.worker, tk.ID, "proof") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, submission.ErrAlreadySubmitted):
			t.Errorf("Submit() error = %v, want nil or %v", err, submission.ErrAlreadySubmitted)
		}
	}
	if ok != 1 {
		t.Errorf("%d Submit() calls succeeded, want 1", ok)
	}
	m.wantSlots(t, tk.ID, 2, submission.ID(tk.ID, m.worker.UserID))
	if got := len(m.notes(t, m.buyer.UserID)); got != 1 {
		t.Errorf("buyer has %d notifications, want 1", got)
	}
}

// TestReviewOnlyByTheTasksBuyer: whoever is not the task's buyer, admins
// included, can neither approve nor reject, and the submission stays
// pending.
func TestReviewOnlyByTheTasksBuyer(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 1, 10)
	sub := m.submit(t, m.worker, tk.ID)
	others := []struct {
		name string
		p    auth.Principal
	}{
		{"another buyer", m.User(t, auth.RoleBuyer)},
		{"the worker", m.worker},
		{"an admin", m.admin},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Submissions.Approve(m.ctx, tt.p, sub.ID); !errors.Is(err, submission.ErrNotFound) {
				t.Errorf("Approve() error = %v, want %v", err, submission.ErrNotFound)
			}
			if _, err := m.Submissions.Reject(m.ctx, tt.p, sub.ID, "not the requested proof"); !errors.Is(err, submission.ErrNotFound) {
				t.Errorf("Reject() error = %v, want %v", err, submission.ErrNotFound)
			}
		})
	}
	if got := m.sub(t, sub.ID).Status; got != submission.StatusPending {
		t.Errorf("status = %s, want %s", got, submission.StatusPending)
	}
	m.wantSlots(t, tk.ID, 0, sub.ID)
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 10)

	if _, err := m.Submissions.Approve(m.ctx, m.buyer, "no-such-submission"); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("Approve() of a missing submission error = %v, want %v", err, submission.ErrNotFound)
	}
	if _, err := m.Submissions.Reject(m.ctx, m.buyer, "no-such-submission", "not the requested proof"); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("Reject() of a missing submission error = %v, want %v", err, submission.ErrNotFound)
	}
}

// TestDecisionIsFinal: once approved or rejected, a submission takes no
// other decision, and the second attempt moves no coins or slots.
func TestDecisionIsFinal(t *testing.T) {
	t.Parallel()
	decisions := []struct {
		name   string
		status submission.Status
		decide func(m *market, id string) (submission.Submission, error)
	}{
		{"approve", submission.StatusApproved, func(m *market, id string) (submission.Submission, error) {
			return m.Submissions.Approve(m.ctx, m.buyer, id)
		}},
		{"reject", submission.StatusRejected, func(m *market, id string) (submission.Submission, error) {
			return m.Submissions.Reject(m.ctx, m.buyer, id, "second thoughts")
		}},
	}
	shared := newMarket(t)
	for _, first := range decisions {
		for _, second := range decisions {
			t.Run(first.name+" then "+second.name, func(t *testing.T) {
				t.Parallel()
				m := shared.fresh(t)
				tk := m.newTask(t, 2, 10)
				sub := m.submit(t, m.worker, tk.ID)
				if _, err := first.decide(m, sub.ID); err != nil {
					t.Fatalf("first decision error = %v", err)
				}
				slots, worker, escrow := m.task(t, tk.ID).OpenSlots, m.Coins(t, m.worker.UserID), m.Balance(t, ledger.EscrowAccount(tk.ID))

				if _, err := second.decide(m, sub.ID); !errors.Is(err, submission.ErrAlreadyReviewed) {
					t.Errorf("%s() after %s error = %v, want %v", second.name, first.name, err, submission.ErrAlreadyReviewed)
				}
				if got := m.sub(t, sub.ID).Status; got != first.status {
					t.Errorf("status = %s, want %s", got, first.status)
				}
				m.wantSlots(t, tk.ID, slots)
				m.wantCoins(t, tk.ID, m.worker, worker, 0, escrow)
				if got := len(m.notes(t, m.worker.UserID)); got != 1 {
					t.Errorf("worker has %d notifications, want 1 for the first decision", got)
				}
			})
		}
	}
}

// TestSimultaneousApprovalsPayOnce: the same review asked twice at once
// (a double click) is one operation.
func TestSimultaneousApprovalsPayOnce(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 10)
	sub := m.submit(t, m.worker, tk.ID)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = m.Submissions.Approve(m.ctx, m.buyer, sub.ID) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, submission.ErrAlreadyReviewed):
			t.Errorf("Approve() error = %v, want nil or %v", err, submission.ErrAlreadyReviewed)
		}
	}
	if ok != 1 {
		t.Errorf("%d Approve() calls succeeded, want 1", ok)
	}
	m.wantCoins(t, tk.ID, m.worker, 10, 0, 10)
}

// TestApprovePaysTheWorkerFromEscrow: approval pays the task's pay from
// its escrow and uses the slot up, also once the task expired or its buyer
// was suspended: work already submitted is still reviewed.
func TestApprovePaysTheWorkerFromEscrow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setUp func(t *testing.T, m *market) // after the submission
		// After the approval, of a 2-slot task at 10 coins.
		wantBuyer, wantEscrow money.Coins
		wantOpen              int
		ownDB                 bool // see marketFor
	}{
		{
			name:      "open task",
			setUp:     func(*testing.T, *market) {},
			wantBuyer: 0, wantEscrow: 10, wantOpen: 1,
		},
		{
			name:      "expired task", // the other slot was refunded
			setUp:     func(t *testing.T, m *market) { m.expire(t) },
			wantBuyer: 10, wantEscrow: 0, wantOpen: 0, ownDB: true,
		},
		{
			name: "hidden task of a suspended buyer",
			setUp: func(t *testing.T, m *market) {
				if err := m.Users.SetStatus(m.ctx, m.admin, m.buyer.UserID, user.StatusSuspended, ""); err != nil {
					t.Fatal(err)
				}
			},
			wantBuyer: 0, wantEscrow: 10, wantOpen: 1,
		},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := marketFor(t, shared, tt.ownDB)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)
			tt.setUp(t, m)

			got, err := m.Submissions.Approve(m.ctx, m.buyer, sub.ID)
			if err != nil {
				t.Fatalf("Approve() error = %v", err)
			}
			if got.Status != submission.StatusApproved || !got.ReviewedAt.Equal(m.Clock.Now()) || got.Reason != "" {
				t.Errorf("Approve() = status %s, reviewed at %v, reason %q; want %s at %v", got.Status, got.ReviewedAt, got.Reason,
					submission.StatusApproved, m.Clock.Now())
			}
			// The slot is used up: it does not reopen.
			m.wantSlots(t, tk.ID, tt.wantOpen)
			m.wantCoins(t, tk.ID, m.worker, 10, tt.wantBuyer, tt.wantEscrow)

			notes := m.notes(t, m.worker.UserID)
			if len(notes) != 1 || notes[0].ActionRoute != "/dashboard/my-submissions" ||
				!strings.Contains(notes[0].Message, "was approved: 10 coins") {
				t.Errorf("worker's notifications = %+v, want one about the approval", notes)
			}
		})
	}
}

func TestRejectReopensTheSlotAndKeepsTheReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		reason      string
		wantReason  string
		wantMessage string
	}{
		{"with a reason", "  The photo is blurry.  ", "The photo is blurry.", "was rejected: The photo is blurry."},
	}
	shared := newMarket(t)
	// A reason is required: the worker is told why. Too short, it changes
	// nothing.
	t.Run("without a reason", func(t *testing.T) {
		t.Parallel()
		m := shared.fresh(t)
		tk := m.newTask(t, 2, 10)
		sub := m.submit(t, m.worker, tk.ID)
		for _, reason := range []string{"", "   ", "too short", "  blurry   "} {
			if _, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, reason); apperr.KindOf(err) != apperr.Invalid {
				t.Errorf("Reject(%q) error = %v, want invalid fields", reason, err)
			}
		}
		if got, err := m.Submissions.Get(m.ctx, sub.ID); err != nil || got.Status != submission.StatusPending {
			t.Errorf("after refused rejections: %+v, %v", got, err)
		}
		if got, err := m.Tasks.ByID(m.ctx, tk.ID); err != nil || got.OpenSlots != 1 || len(got.PendingSubs) != 1 {
			t.Errorf("task after refused rejections: %+v, %v", got, err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)

			got, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, tt.reason)
			if err != nil {
				t.Fatalf("Reject() error = %v", err)
			}
			if got.Status != submission.StatusRejected || got.Reason != tt.wantReason || got.ReviewedAt.IsZero() {
				t.Errorf("Reject() = status %s, reason %q, reviewed at %v; want %s, %q", got.Status, got.Reason, got.ReviewedAt,
					submission.StatusRejected, tt.wantReason)
			}
			m.wantSlots(t, tk.ID, 2)
			m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
			notes := m.notes(t, m.worker.UserID)
			if len(notes) != 1 || !strings.HasSuffix(notes[0].Message, tt.wantMessage) {
				t.Errorf("worker's notifications = %+v, want one ending %q", notes, tt.wantMessage)
			}
			// The reopened slot takes another worker.
			m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
		})
	}
}

func TestAutoApproveDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		elapsed time.Duration // since the submission
		want    int
	}{
		{"younger than the delay", autoApproveAfter - time.Millisecond, 0},
		{"exactly the delay", autoApproveAfter, 0},
		{"older than the delay", autoApproveAfter + time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)
			m.Clock.Advance(tt.elapsed)

			n, err := m.Submissions.AutoApproveDue(m.ctx)
			if err != nil || n != tt.want {
				t.Fatalf("AutoApproveDue() = %d, %v; want %d", n, err, tt.want)
			}
			wantStatus, wantPaid := submission.StatusPending, money.Coins(0)
			if tt.want == 1 {
				wantStatus, wantPaid = submission.StatusApproved, 10
			}
			if got := m.sub(t, sub.ID).Status; got != wantStatus {
				t.Errorf("status = %s, want %s", got, wantStatus)
			}
			m.wantCoins(t, tk.ID, m.worker, wantPaid, 0, 20-wantPaid)
		})
	}
}

// TestAutoApproveDueApprovesOnlyWhatIsDue: of several submissions, only the
// pending ones past their delay are approved, each paid once however often
// the job runs.
func TestAutoApproveDueApprovesOnlyWhatIsDue(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 4, 10)
	old, rejected := m.submit(t, m.worker, tk.ID), m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
	m.reject(t, rejected.ID)
	m.Clock.Advance(12 * time.Hour)
	young := m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
	m.Clock.Advance(autoApproveAfter - 12*time.Hour + time.Second) // old is due, young is not

	for i, want := range []int{1, 0} {
		if n, err := m.Submissions.AutoApproveDue(m.ctx); err != nil || n != want {
			t.Errorf("AutoApproveDue() run %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	for _, c := range []struct {
		sub  submission.Submission
		want submission.Status
	}{{old, submission.StatusApproved}, {rejected, submission.StatusRejected}, {young, submission.StatusPending}} {
		if got := m.sub(t, c.sub.ID).Status; got != c.want {
			t.Errorf("submission of %s: status = %s, want %s", c.sub.Worker.ID, got, c.want)
		}
	}
	// 4 slots: old's used up, young's pending, two open.
	m.wantSlots(t, tk.ID, 2, young.ID)
	m.wantCoins(t, tk.ID, m.worker, 10, 0, 30)
	notes := m.notes(t, m.worker.UserID)
	if len(notes) != 1 || !strings.Contains(notes[0].Message, "approved automatically") {
		t.Errorf("worker's notifications = %+v, want one about the automatic approval", notes)
	}

	m.Clock.Advance(12 * time.Hour)
	if n, err := m.Submissions.AutoApproveDue(m.ctx); err != nil || n != 1 {
		t.Errorf("AutoApproveDue() once young is due = %d, %v; want 1", n, err)
	}
	m.wantCoins(t, tk.ID, m.worker, 10, 0, 20)
}

func TestOverturnOnlyByAdmins(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 10)
	sub := m.submit(t, m.worker, tk.ID)
	m.reject(t, sub.ID)
	for _, p := range []auth.Principal{m.buyer, m.worker} {
		t.Run("the "+string(p.Role), func(t *testing.T) {
			if _, err := m.Submissions.Overturn(m.ctx, p, sub.ID); !errors.Is(err, auth.ErrWrongRole) {
				t.Errorf("Overturn() error = %v, want %v", err, auth.ErrWrongRole)
			}
		})
	}
	if got := m.sub(t, sub.ID).Status; got != submission.StatusRejected {
		t.Errorf("status = %s, want %s", got, submission.StatusRejected)
	}
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
}

// TestOverturnOnlyRejected: there is nothing to overturn in a pending,
// approved or cancelled submission.
func TestOverturnOnlyRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setUp leaves the submission in the state to overturn and
		// returns the ID to overturn.
		setUp func(t *testing.T, m *market, sub submission.Submission) string
		want  error
	}{
		{"pending", func(_ *testing.T, _ *market, sub submission.Submission) string { return sub.ID }, submission.ErrNotRejected},
		{"approved", func(t *testing.T, m *market, sub submission.Submission) string {
			m.approve(t, sub.ID)
			return sub.ID
		}, submission.ErrNotRejected},
		{"cancelled", func(t *testing.T, m *market, sub submission.Submission) string {
			if _, err := m.Tasks.Remove(m.ctx, m.admin, sub.TaskID); err != nil {
				t.Fatal(err)
			}
			return sub.ID
		}, submission.ErrNotRejected},
		{"missing", func(*testing.T, *market, submission.Submission) string { return "no-such-submission" }, submission.ErrNotFound},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)
			id := tt.setUp(t, m, sub)
			worker, buyer, escrow := m.Coins(t, m.worker.UserID), m.Coins(t, m.buyer.UserID), m.Balance(t, ledger.EscrowAccount(tk.ID))

			if _, err := m.Submissions.Overturn(m.ctx, m.admin, id); !errors.Is(err, tt.want) {
				t.Errorf("Overturn() error = %v, want %v", err, tt.want)
			}
			m.wantCoins(t, tk.ID, m.worker, worker, buyer, escrow)
		})
	}
}

// expire moves the clock past the completion date of the tasks newTask
// posts and runs the expiry job, which refunds their open slots.
func (m *market) expire(t *testing.T) {
	t.Helper()
	m.Clock.Advance(25 * time.Hour)
	if _, err := m.Tasks.ExpireDue(m.ctx); err != nil {
		t.Fatalf("ExpireDue() error = %v", err)
	}
}

// TestOverturnPays: the task's escrow pays while the task still has an open
// slot, whose pay it holds (the slot is used up); otherwise the buyer pays.
func TestOverturnPays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		slots int // at 10 coins
		// reject rejects the worker's pending submission, and changes the
		// task and the buyer's balance around it.
		reject func(t *testing.T, m *market, sub submission.Submission)
		// After the overturn.
		wantBuyer, wantEscrow money.Coins
		wantOpen              int
		ownDB                 bool // see marketFor
	}{
		{
			name: "from escrow while a slot is open", slots: 2,
			reject:    func(t *testing.T, m *market, sub submission.Submission) { m.reject(t, sub.ID) },
			wantBuyer: 0, wantEscrow: 10, wantOpen: 1,
		},
		{
			// The expiry refunded the open slot; the later rejection
			// reopened the pending one, whose pay escrow still holds.
			name: "from escrow of an expired task whose slot a late rejection reopened", slots: 2,
			reject: func(t *testing.T, m *market, sub submission.Submission) {
				m.expire(t)
				m.reject(t, sub.ID)
			},
			wantBuyer: 10, wantEscrow: 0, wantOpen: 0, ownDB: true,
		},
		{
			name: "from the buyer once another worker took the slot", slots: 1,
			reject: func(t *testing.T, m *market, sub submission.Submission) {
				m.reject(t, sub.ID)
				m.submit(t, m.User(t, auth.RoleWorker), sub.TaskID)
				m.Give(t, m.buyer.UserID, 15)
			},
			wantBuyer: 5, wantEscrow: 10, wantOpen: 0,
		},
		{
			name: "from the buyer once the task expired", slots: 1,
			reject: func(t *testing.T, m *market, sub submission.Submission) {
				m.reject(t, sub.ID)
				m.expire(t) // refunds the reopened slot to the buyer
			},
			wantBuyer: 0, wantEscrow: 0, wantOpen: 0, ownDB: true,
		},
		{
			name: "from the buyer once the buyer deleted the task", slots: 1,
			reject: func(t *testing.T, m *market, sub submission.Submission) {
				m.reject(t, sub.ID)
				if _, err := m.Tasks.Delete(m.ctx, m.buyer, sub.TaskID); err != nil {
					t.Fatal(err)
				}
			},
			wantBuyer: 0, wantEscrow: 0, wantOpen: 0,
		},
		{
			// A deleted task's escrow is empty whatever its document says.
			name: "from the buyer once an admin removed the task", slots: 2,
			reject: func(t *testing.T, m *market, sub submission.Submission) {
				m.reject(t, sub.ID)
				if _, err := m.Tasks.Remove(m.ctx, m.admin, sub.TaskID); err != nil {
					t.Fatal(err)
				}
			},
			wantBuyer: 10, wantEscrow: 0, wantOpen: 0,
		},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := marketFor(t, shared, tt.ownDB)
			tk := m.newTask(t, tt.slots, 10)
			sub := m.submit(t, m.worker, tk.ID)
			tt.reject(t, m, sub)

			got, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID)
			if err != nil {
				t.Fatalf("Overturn() error = %v", err)
			}
			if got.Status != submission.StatusApproved {
				t.Errorf("Overturn() status = %s, want %s", got.Status, submission.StatusApproved)
			}
			m.wantCoins(t, tk.ID, m.worker, 10, tt.wantBuyer, tt.wantEscrow)
			if open := m.task(t, tk.ID).OpenSlots; open != tt.wantOpen {
				t.Errorf("task open slots = %d, want %d", open, tt.wantOpen)
			}
			notes := m.notes(t, m.worker.UserID)
			if !slices.ContainsFunc(notes, func(n notification.Notification) bool {
				return strings.Contains(n.Message, "overturned the rejection")
			}) || len(notes) != 2 {
				t.Errorf("worker's notifications = %+v, want the rejection's and the overturn's", notes)
			}
			// An overturned submission counts as approved work.
			if ws, err := m.Submissions.WorkerStats(m.ctx, m.worker); err != nil || ws.TotalEarnings != 10 {
				t.Errorf("WorkerStats() = %+v, %v; want earnings 10", ws, err)
			}
		})
	}
}

// TestOverturnCannotPay: with no open slot in escrow and too few coins with
// the buyer, the rejection stands and nothing moves.
func TestOverturnCannotPay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reject func(t *testing.T, m *market, sub submission.Submission)
		ownDB  bool // see marketFor
	}{
		{"slot taken by another worker, buyer without coins", func(t *testing.T, m *market, sub submission.Submission) {
			m.reject(t, sub.ID)
			m.submit(t, m.User(t, auth.RoleWorker), sub.TaskID)
			m.Give(t, m.buyer.UserID, 9) // one short
		}, false},
		{"task expired, buyer spent the refund", func(t *testing.T, m *market, sub submission.Submission) {
			m.reject(t, sub.ID)
			m.expire(t)
			if _, err := m.Tasks.Create(m.ctx, m.buyer, task.NewTask{Text: task.Text{Title: "U", Detail: "D", SubmissionInfo: "S"},
				Workers: 1, Pay: 10, CompletionDate: m.Clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := marketFor(t, shared, tt.ownDB)
			tk := m.newTask(t, 1, 10)
			sub := m.submit(t, m.worker, tk.ID)
			tt.reject(t, m, sub)
			before := m.task(t, tk.ID)
			buyer, escrow := m.Coins(t, m.buyer.UserID), m.Balance(t, ledger.EscrowAccount(tk.ID))

			rejected := m.sub(t, sub.ID)
			m.Clock.Advance(time.Hour)
			if _, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID); !errors.Is(err, submission.ErrCannotPay) {
				t.Errorf("Overturn() error = %v, want %v", err, submission.ErrCannotPay)
			}
			// The submission is left as the buyer's rejection made it.
			if got := m.sub(t, sub.ID); got.Status != submission.StatusRejected || got.Reason != rejected.Reason ||
				!got.ReviewedAt.Equal(rejected.ReviewedAt) {
				t.Errorf("submission = %s %q reviewed %v, want still %s %q reviewed %v", got.Status, got.Reason, got.ReviewedAt,
					rejected.Status, rejected.Reason, rejected.ReviewedAt)
			}
			m.wantCoins(t, tk.ID, m.worker, 0, buyer, escrow)
			m.wantSlots(t, tk.ID, before.OpenSlots, before.PendingSubs...)
		})
	}
}

// TestOverturnThatCouldNotPayPaysLater: an overturn that failed for lack of
// coins is decided again once they are there (the buyer's, or a slot's in
// escrow), and still pays the worker once.
func TestOverturnThatCouldNotPayPaysLater(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		then       func(t *testing.T, m *market, other submission.Submission)
		wantBuyer  money.Coins
		wantEscrow money.Coins
	}{
		{"the buyer tops up", func(t *testing.T, m *market, _ submission.Submission) { m.Give(t, m.buyer.UserID, 10) }, 0, 10},
		{"a slot reopens", func(t *testing.T, m *market, other submission.Submission) { m.reject(t, other.ID) }, 0, 0},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, 1, 10)
			sub := m.submit(t, m.worker, tk.ID)
			m.reject(t, sub.ID)
			other := m.submit(t, m.User(t, auth.RoleWorker), tk.ID) // takes the reopened slot
			if _, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID); !errors.Is(err, submission.ErrCannotPay) {
				t.Fatalf("Overturn() with nobody able to pay: error = %v, want %v", err, submission.ErrCannotPay)
			}
			tt.then(t, m, other)
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					_, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID)
					if err != nil && !errors.Is(err, submission.ErrAlreadyReviewed) && !errors.Is(err, submission.ErrNotRejected) &&
						!errors.Is(err, operation.ErrInProgress) {
						t.Errorf("Overturn() again: error = %v", err)
					}
				})
			}
			wg.Wait()
			if got := m.sub(t, sub.ID).Status; got != submission.StatusApproved {
				t.Errorf("status = %s, want approved", got)
			}
			m.wantCoins(t, tk.ID, m.worker, 10, tt.wantBuyer, tt.wantEscrow)
		})
	}
}

// TestOverturnPaysOnce: asking again, in turn or at once, never pays the
// worker a second time.
func TestOverturnPaysOnce(t *testing.T) {
	t.Parallel()
	shared := newMarket(t)
	t.Run("in turn", func(t *testing.T) {
		t.Parallel()
		m := shared.fresh(t)
		tk := m.newTask(t, 3, 10)
		sub := m.submit(t, m.worker, tk.ID)
		m.reject(t, sub.ID)
		if _, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID); err != nil {
			t.Fatalf("first Overturn() error = %v", err)
		}
		// The submission is approved now, so the rule that only a rejected
		// submission is overturned answers.
		if _, err := m.Submissions.Overturn(m.ctx, m.admin, sub.ID); !errors.Is(err, submission.ErrNotRejected) {
			t.Errorf("second Overturn() error = %v, want %v", err, submission.ErrNotRejected)
		}
		m.wantCoins(t, tk.ID, m.worker, 10, 0, 20)
		m.wantSlots(t, tk.ID, 2)
	})

	tests := []struct {
		name  string
		slots int
		setUp func(t *testing.T, m *market, sub submission.Submission)
	}{
		// Two open slots: every call sees one and pays from escrow.
		{"from escrow", 2, func(t *testing.T, m *market, sub submission.Submission) { m.reject(t, sub.ID) }},
		// One open slot: a call that reads the task after the first took
		// it turns to the buyer, who can pay too.
		{"from escrow or the buyer", 1, func(t *testing.T, m *market, sub submission.Submission) {
			m.reject(t, sub.ID)
			m.Give(t, m.buyer.UserID, 10)
		}},
		{"from the buyer", 1, func(t *testing.T, m *market, sub submission.Submission) {
			m.reject(t, sub.ID)
			m.submit(t, m.User(t, auth.RoleWorker), sub.TaskID)
			m.Give(t, m.buyer.UserID, 30)
		}},
	}
	for _, tt := range tests {
		t.Run("at once "+tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, tt.slots, 10)
			sub := m.submit(t, m.worker, tk.ID)
			tt.setUp(t, m, sub)
			total := m.Coins(t, m.buyer.UserID) + m.Balance(t, ledger.EscrowAccount(tk.ID))

			errs := make([]error, 4)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { _, errs[i] = m.Submissions.Overturn(m.ctx, m.admin, sub.ID) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				// A call that read the submission still rejected finds the
				// operation done; one that read it afterwards finds it approved.
				case !errors.Is(err, submission.ErrAlreadyReviewed) && !errors.Is(err, submission.ErrNotRejected):
					t.Errorf("Overturn() error = %v, want nil, %v or %v", err, submission.ErrAlreadyReviewed, submission.ErrNotRejected)
				}
			}
			if ok != 1 {
				t.Errorf("%d Overturn() calls succeeded, want 1", ok)
			}
			if got := m.Coins(t, m.worker.UserID); got != 10 {
				t.Errorf("worker has %d coins, want 10", got)
			}
			if got := m.Coins(t, m.buyer.UserID) + m.Balance(t, ledger.EscrowAccount(tk.ID)); got != total-10 {
				t.Errorf("buyer and escrow hold %d coins, want %d", got, total-10)
			}
			if got := m.sub(t, sub.ID).Status; got != submission.StatusApproved {
				t.Errorf("status = %s, want %s", got, submission.StatusApproved)
			}
		})
	}
}

// TestCancelPending: cancelling a task's submissions (an admin removes the
// task) cancels the pending ones it is given and reopens their slots;
// reviewed ones, missing ones and other tasks' are left alone.
func TestCancelPending(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk, otherTask := m.newTask(t, 3, 10), m.newTask(t, 1, 10)
	w := []auth.Principal{m.worker, m.User(t, auth.RoleWorker), m.User(t, auth.RoleWorker), m.User(t, auth.RoleWorker)}
	approved, rejected, pending := m.submit(t, w[0], tk.ID), m.submit(t, w[1], tk.ID), m.submit(t, w[2], tk.ID)
	m.approve(t, approved.ID)
	m.reject(t, rejected.ID)
	notListed := m.submit(t, w[3], tk.ID) // takes the reopened slot
	elsewhere := m.submit(t, w[0], otherTask.ID)
	m.wantSlots(t, tk.ID, 0, pending.ID, notListed.ID)

	ids := []string{approved.ID, rejected.ID, pending.ID, "no-such-submission", elsewhere.ID}
	for i := range 2 { // cancelling again changes nothing
		if err := m.Submissions.CancelPending(m.ctx, tk.ID, ids); err != nil {
			t.Fatalf("CancelPending() run %d error = %v", i+1, err)
		}
	}

	for _, c := range []struct {
		sub        submission.Submission
		wantStatus submission.Status
		wantReason string
	}{
		{approved, submission.StatusApproved, ""},
		{rejected, submission.StatusRejected, "the photo is blurry"},
		{pending, submission.StatusCancelled, "the task was removed by an admin"},
		{notListed, submission.StatusPending, ""},
		{elsewhere, submission.StatusPending, ""},
	} {
		if got := m.sub(t, c.sub.ID); got.Status != c.wantStatus || got.Reason != c.wantReason {
			t.Errorf("submission of %s to %s = %s %q, want %s %q", c.sub.Worker.ID, c.sub.TaskID, got.Status, got.Reason,
				c.wantStatus, c.wantReason)
		}
	}
	m.wantSlots(t, tk.ID, 1, notListed.ID)
	m.wantSlots(t, otherTask.ID, 0, elsewhere.ID)
	if got := m.Coins(t, w[0].UserID); got != 10 {
		t.Errorf("approved worker has %d coins, want 10 kept", got)
	}
	notes := m.notes(t, w[2].UserID)
	if len(notes) != 1 || !strings.Contains(notes[0].Message, "removed by an admin") {
		t.Errorf("cancelled worker's notifications = %+v, want one about the removal", notes)
	}
	// A cancelled submission is reviewed: the buyer can no longer decide it.
	if _, err := m.Submissions.Approve(m.ctx, m.buyer, pending.ID); !errors.Is(err, submission.ErrAlreadyReviewed) {
		t.Errorf("Approve() of a cancelled submission error = %v, want %v", err, submission.ErrAlreadyReviewed)
	}
}

// TestWorkerStatsAndMine: a worker's figures and list follow their
// submissions on tasks of different pay, and no one else's.
func TestWorkerStatsAndMine(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	other := m.User(t, auth.RoleWorker)
	ids := map[submission.Status][]string{}
	// Oldest first; the clock moves so that newest first is well defined.
	for _, s := range []struct {
		pay    money.Coins
		review func(*market, *testing.T, string)
		status submission.Status
	}{
		{10, (*market).approve, submission.StatusApproved},
		{25, (*market).approve, submission.StatusApproved},
		{7, (*market).reject, submission.StatusRejected},
		{5, func(*market, *testing.T, string) {}, submission.StatusPending},
	} {
		tk := m.newTask(t, 2, s.pay)
		sub := m.submit(t, m.worker, tk.ID)
		s.review(m, t, sub.ID)
		ids[s.status] = append([]string{sub.ID}, ids[s.status]...)
		ids[""] = append([]string{sub.ID}, ids[""]...)
		m.approve(t, m.submit(t, other, tk.ID).ID) // not the worker's
		m.Clock.Advance(time.Minute)
	}

	ws, err := m.Submissions.WorkerStats(m.ctx, m.worker)
	if want := (submission.WorkerStats{TotalSubmissions: 4, PendingSubmissions: 1, TotalEarnings: 35}); err != nil || ws != want {
		t.Errorf("WorkerStats() = %+v, %v; want %+v", ws, err, want)
	}

	tests := []struct {
		name   string
		status submission.Status
		page   page.Request
		want   []string
		total  int64
	}{
		{"all", "", firstPage, ids[""], 4},
		{"approved", submission.StatusApproved, firstPage, ids[submission.StatusApproved], 2},
		{"rejected", submission.StatusRejected, firstPage, ids[submission.StatusRejected], 1},
		{"pending", submission.StatusPending, firstPage, ids[submission.StatusPending], 1},
		{"cancelled", submission.StatusCancelled, firstPage, nil, 0},
		{"first page of two", "", page.Request{Number: 1, Limit: 3}, ids[""][:3], 4},
		{"second page of two", "", page.Request{Number: 2, Limit: 3}, ids[""][3:], 4},
		{"past the last page", "", page.Request{Number: 3, Limit: 3}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Submissions.Mine(m.ctx, m.worker, tt.status, tt.page)
			if err != nil {
				t.Fatalf("Mine() error = %v", err)
			}
			if gotIDs := subIDs(got.Items); !slices.Equal(gotIDs, tt.want) || got.Total != tt.total || got.Request != tt.page {
				t.Errorf("Mine() = %v of %d (page %+v), want %v of %d", gotIDs, got.Total, got.Request, tt.want, tt.total)
			}
		})
	}
}

// TestBuyerStatsAndToReview: a buyer's figures and review list follow their
// tasks and the submissions to them, and no other buyer's.
func TestBuyerStatsAndToReview(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	w := []auth.Principal{m.worker, m.User(t, auth.RoleWorker), m.User(t, auth.RoleWorker)}
	a, b := m.newTask(t, 3, 10), m.newTask(t, 2, 5)
	deleted := m.newTask(t, 4, 1)
	if _, err := m.Tasks.Delete(m.ctx, m.buyer, deleted.ID); err != nil {
		t.Fatal(err)
	}
	m.approve(t, m.submit(t, w[0], a.ID).ID)
	m.Clock.Advance(time.Minute)
	pendingA := m.submit(t, w[1], a.ID)
	m.Clock.Advance(time.Minute)
	pendingB := m.submit(t, w[0], b.ID)
	m.reject(t, m.submit(t, w[2], b.ID).ID)
	m.approve(t, m.submit(t, w[2], a.ID).ID)
	// Another buyer's pending submission.
	m.submit(t, w[0], m.newTaskOf(t, m.User(t, auth.RoleBuyer), 1, 10).ID)

	bs, err := m.Submissions.BuyerStats(m.ctx, m.buyer)
	// a: 3 slots, two used up by approvals, one pending: 0 open.
	// b: 2 slots, one pending, one reopened by the rejection: 1 open.
	if want := (submission.BuyerStats{TotalTasks: 2, PendingSlots: 1, TotalPaid: 20}); err != nil || bs != want {
		t.Errorf("BuyerStats() = %+v, %v; want %+v", bs, err, want)
	}

	tests := []struct {
		name  string
		page  page.Request
		want  []string
		total int64
	}{
		{"all", firstPage, []string{pendingB.ID, pendingA.ID}, 2},
		{"first page of one", page.Request{Number: 1, Limit: 1}, []string{pendingB.ID}, 2},
		{"second page of one", page.Request{Number: 2, Limit: 1}, []string{pendingA.ID}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Submissions.ToReview(m.ctx, m.buyer, false, tt.page)
			if err != nil {
				t.Fatalf("ToReview() error = %v", err)
			}
			if gotIDs := subIDs(got.Items); !slices.Equal(gotIDs, tt.want) || got.Total != tt.total {
				t.Errorf("ToReview() = %v of %d, want %v of %d", gotIDs, got.Total, tt.want, tt.total)
			}
		})
	}

	// Reviewing leaves the list and moves the figures.
	m.approve(t, pendingA.ID)
	m.reject(t, pendingB.ID)
	bs, err = m.Submissions.BuyerStats(m.ctx, m.buyer)
	if want := (submission.BuyerStats{TotalTasks: 2, PendingSlots: 2, TotalPaid: 30}); err != nil || bs != want {
		t.Errorf("BuyerStats() after reviewing = %+v, %v; want %+v", bs, err, want)
	}
	if got, err := m.Submissions.ToReview(m.ctx, m.buyer, false, firstPage); err != nil || got.Total != 0 || len(got.Items) != 0 {
		t.Errorf("ToReview() after reviewing = %v of %d, %v; want none", subIDs(got.Items), got.Total, err)
	}

	// Expired tasks still count, but their slots no longer wait for
	// workers.
	m.expire(t)
	bs, err = m.Submissions.BuyerStats(m.ctx, m.buyer)
	if want := (submission.BuyerStats{TotalTasks: 2, PendingSlots: 0, TotalPaid: 30}); err != nil || bs != want {
		t.Errorf("BuyerStats() after expiry = %+v, %v; want %+v", bs, err, want)
	}
}

func subIDs(subs []submission.Submission) []string {
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestDashboardsCountBonuses: a bonus is earned by the worker and paid by
// the buyer, as the pay of the work is; another buyer's bonus to another
// worker counts for neither.
func TestDashboardsCountBonuses(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	sub := m.submit(t, m.worker, m.newTask(t, 1, 10).ID)
	m.approve(t, sub.ID)
	m.Give(t, m.buyer.UserID, 7)
	if _, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, 4, "neat", "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, 3, "fast", "second"); err != nil {
		t.Fatal(err)
	}
	other := m.fresh(t)
	otherSub := other.submit(t, other.worker, other.newTask(t, 1, 20).ID)
	other.approve(t, otherSub.ID)
	other.Give(t, other.buyer.UserID, 50)
	if _, err := other.Submissions.Bonus(m.ctx, other.buyer, otherSub.ID, 50, "", "first"); err != nil {
		t.Fatal(err)
	}

	ws, err := m.Submissions.WorkerStats(m.ctx, m.worker)
	if want := (submission.WorkerStats{TotalSubmissions: 1, TotalEarnings: 17}); err != nil || ws != want {
		t.Errorf("WorkerStats() = %+v, %v; want %+v", ws, err, want)
	}
	bs, err := m.Submissions.BuyerStats(m.ctx, m.buyer)
	if want := (submission.BuyerStats{TotalTasks: 1, TotalPaid: 17}); err != nil || bs != want {
		t.Errorf("BuyerStats() = %+v, %v; want %+v", bs, err, want)
	}
}

// TestAutoApprovalTellsTheBuyerOncePerTask: the buyer hears of the
// submissions approved automatically in one notification per task and
// round, with how many there were, and of none they approved themselves;
// a round that approves nothing tells nothing.
func TestAutoApprovalTellsTheBuyerOncePerTask(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	post := func(buyer auth.Principal, title string, slots int) task.Task {
		t.Helper()
		m.Give(t, buyer.UserID, money.Coins(slots)*10)
		tk, err := m.Tasks.Create(m.ctx, buyer, task.NewTask{Text: task.Text{Title: title, Detail: "D", SubmissionInfo: "S"},
			Workers: slots, Pay: 10, CompletionDate: m.Clock.Now().Add(30 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	other := m.User(t, auth.RoleBuyer)
	survey, video, others := post(m.buyer, "Fill in a survey", 4), post(m.buyer, "Watch a video", 1), post(other, "Like a page", 1)
	for range 4 {
		m.submit(t, m.User(t, auth.RoleWorker), survey.ID)
	}
	m.submit(t, m.User(t, auth.RoleWorker), video.ID)
	m.submit(t, m.User(t, auth.RoleWorker), others.ID)
	m.approve(t, m.task(t, survey.ID).PendingSubs[0]) // by the buyer: not automatic
	m.Clock.Advance(autoApproveAfter + time.Second)

	autoNotes := func(userID string) []string {
		t.Helper()
		var got []string
		for _, n := range m.notes(t, userID) {
			if n.Type == notification.SubmissionsAutoApproved {
				got = append(got, n.Message)
			}
		}
		slices.Sort(got)
		return got
	}
	for round, want := range []int{5, 0} {
		if n, err := m.Submissions.AutoApproveDue(m.ctx); err != nil || n != want {
			t.Fatalf("AutoApproveDue() round %d = %d, %v; want %d", round+1, n, err, want)
		}
		for _, c := range []struct {
			buyer auth.Principal
			want  []string
		}{
			{m.buyer, []string{
				"3 submissions to “Fill in a survey” were approved automatically, as they were not reviewed in time: their workers were paid from the task's escrow.",
				"A submission to “Watch a video” was approved automatically, as it was not reviewed in time: its worker was paid from the task's escrow.",
			}},
			{other, []string{
				"A submission to “Like a page” was approved automatically, as it was not reviewed in time: its worker was paid from the task's escrow.",
			}},
		} {
			if got := autoNotes(c.buyer.UserID); !slices.Equal(got, c.want) {
				t.Errorf("after round %d, %s was told %q; want %q", round+1, c.buyer.UserID, got, c.want)
			}
		}
	}
}
