package report_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/report"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// market is a small marketplace: a buyer with 100 coins who posted a task
// of two slots at 10 coins (80 left, 20 in escrow), a worker who submitted
// to it, and an admin.
type market struct {
	e      *apptest.Env
	admin  auth.Principal
	buyer  auth.Principal
	worker auth.Principal
	task   task.Task
	sub    submission.Submission
}

func newMarket(t *testing.T) *market {
	t.Helper()
	e := apptest.New(t)
	m := &market{e: e, admin: e.User(t, auth.RoleAdmin), buyer: e.User(t, auth.RoleBuyer), worker: e.User(t, auth.RoleWorker)}
	e.Give(t, m.buyer.UserID, 100)
	m.task = m.postTask(t, m.buyer, 2)
	m.sub = m.submit(t, m.worker, m.task.ID)
	return m
}

// postTask posts a task of slots at 10 coins each.
func (m *market) postTask(t *testing.T, buyer auth.Principal, slots int) task.Task {
	t.Helper()
	tk, err := m.e.Tasks.Create(t.Context(), buyer, task.NewTask{
		Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"}, Workers: slots, Pay: 10,
		CompletionDate: m.e.Clock.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("Tasks.Create() error = %v", err)
	}
	return tk
}

func (m *market) submit(t *testing.T, w auth.Principal, taskID string) submission.Submission {
	t.Helper()
	sub, err := m.e.Submissions.Submit(t.Context(), w, taskID, "proof")
	if err != nil {
		t.Fatalf("Submit() error = %v", err)
	}
	return sub
}

// report files a report the test expects to be accepted.
func (m *market) report(t *testing.T, p auth.Principal, typ report.TargetType, id string) report.Report {
	t.Helper()
	r, err := m.e.Reports.Create(t.Context(), p, typ, id, "Something is wrong here.")
	if err != nil {
		t.Fatalf("Create(%s %s) error = %v", typ, id, err)
	}
	return r
}

// get reads a report as it is stored.
func (m *market) get(t *testing.T, id string) report.Report {
	t.Helper()
	rs, err := m.e.Reports.List(t.Context(), m.admin, "", page.Request{Number: 1, Limit: page.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Items {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("report %s is not in the admins' list", id)
	return report.Report{}
}

func (m *market) userStatus(t *testing.T, id string) user.Status {
	t.Helper()
	u, err := m.e.Stores.Users.ByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Status
}

// wantInvalid fails unless err is an *apperr.Error of kind Invalid naming
// the field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
		t.Errorf("error = %v, want an apperr of kind Invalid about %s", err, field)
		return
	}
	for _, f := range ae.Fields {
		if f.Field == field {
			return
		}
	}
	t.Errorf("error fields = %+v, want one about %s", ae.Fields, field)
}

func ids(rs []report.Report) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestCreateReportsAboutEachTarget(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tests := []struct {
		name string
		who  auth.Principal
		typ  report.TargetType
		id   string
	}{
		{"a task, by a worker with no part in it", m.e.User(t, auth.RoleWorker), report.TargetTask, m.task.ID},
		{"a task, by its own buyer", m.buyer, report.TargetTask, m.task.ID},
		{"a submission, by its worker", m.worker, report.TargetSubmission, m.sub.ID},
		{"a submission, by its task's buyer", m.buyer, report.TargetSubmission, m.sub.ID},
		{"a user, by a buyer", m.buyer, report.TargetUser, m.worker.UserID},
		{"a user, by an admin", m.admin, report.TargetUser, m.buyer.UserID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.e.Reports.Create(t.Context(), tt.who, tt.typ, tt.id, "  Looks like a scam. \n")
			if err != nil {
				t.Fatalf("Create() error = %v", err)
			}
			if got.Reporter.ID != tt.who.UserID || got.Reporter.Name != "Name of "+tt.who.UserID ||
				got.TargetType != tt.typ || got.TargetID != tt.id || got.Reason != "Looks like a scam." {
				t.Errorf("Create() = %+v, want %s's report about %s %s with the trimmed reason", got, tt.who.UserID, tt.typ, tt.id)
			}
			if got.Status != report.StatusOpen || !got.CreatedAt.Equal(apptest.Start) || !got.DecidedAt.IsZero() {
				t.Errorf("Create() = %+v, want open since %v", got, apptest.Start)
			}
			if stored := m.get(t, got.ID); stored.Reporter != got.Reporter || stored.Status != report.StatusOpen {
				t.Errorf("stored report = %+v, want %+v", stored, got)
			}
		})
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	// A task its buyer deleted, and a user an admin deleted, are gone.
	deleted := m.postTask(t, m.buyer, 1)
	if _, err := m.e.Tasks.Delete(t.Context(), m.buyer, deleted.ID); err != nil {
		t.Fatal(err)
	}
	gone := m.e.User(t, auth.RoleWorker)
	if err := m.e.Users.Delete(t.Context(), m.admin, gone.UserID); err != nil {
		t.Fatal(err)
	}
	otherBuyer := m.e.User(t, auth.RoleBuyer)
	tests := []struct {
		name string
		who  auth.Principal
		typ  report.TargetType
		id   string
		want error
	}{
		{"a submission, by another worker", m.e.User(t, auth.RoleWorker), report.TargetSubmission, m.sub.ID, report.ErrTargetNotFound},
		{"a submission, by another buyer", otherBuyer, report.TargetSubmission, m.sub.ID, report.ErrTargetNotFound},
		{"a submission, by an admin", m.admin, report.TargetSubmission, m.sub.ID, report.ErrTargetNotFound},
		{"oneself", m.worker, report.TargetUser, m.worker.UserID, report.ErrSelf},
		{"an unknown task", m.worker, report.TargetTask, "nope", report.ErrTargetNotFound},
		{"a deleted task", m.worker, report.TargetTask, deleted.ID, report.ErrTargetNotFound},
		{"an unknown submission", m.worker, report.TargetSubmission, "nope", report.ErrTargetNotFound},
		{"an unknown user", m.worker, report.TargetUser, "nope", report.ErrTargetNotFound},
		{"a deleted user", m.worker, report.TargetUser, gone.UserID, report.ErrTargetNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.e.Reports.Create(t.Context(), tt.who, tt.typ, tt.id, "Something is wrong here."); !errors.Is(err, tt.want) {
				t.Errorf("Create() error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("an unknown target type", func(t *testing.T) {
		_, err := m.e.Reports.Create(t.Context(), m.worker, "payment", "x", "Something is wrong here.")
		wantInvalid(t, err, "target_type")
	})
	if open, err := m.e.Reports.List(t.Context(), m.admin, report.StatusOpen, page.Request{Number: 1, Limit: 10}); err != nil || open.Total != 0 {
		t.Errorf("open reports after refusals = %d, %v; want 0", open.Total, err)
	}
}

// TestOneOpenReportPerReporterAndTarget: a reporter cannot pile reports on
// one target while one is open; once it is decided they may report again.
func TestOneOpenReportPerReporterAndTarget(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	other := m.e.User(t, auth.RoleWorker)
	first := m.report(t, m.worker, report.TargetTask, m.task.ID)

	if _, err := m.e.Reports.Create(t.Context(), m.worker, report.TargetTask, m.task.ID, "Again, the same scam."); !errors.Is(err, report.ErrAlreadyReported) {
		t.Errorf("Create() again error = %v, want %v", err, report.ErrAlreadyReported)
	}
	// Another reporter, or another target, is another report.
	m.report(t, other, report.TargetTask, m.task.ID)
	m.report(t, m.worker, report.TargetUser, m.buyer.UserID)
	m.report(t, m.worker, report.TargetSubmission, m.sub.ID)

	if _, err := m.e.Reports.Decide(t.Context(), m.admin, first.ID, report.StatusDismissed, "", report.ActionNone); err != nil {
		t.Fatal(err)
	}
	again := m.report(t, m.worker, report.TargetTask, m.task.ID)
	if again.ID == first.ID {
		t.Errorf("report after the dismissal has the first one's ID %s", first.ID)
	}
	mine, err := m.e.Reports.Mine(t.Context(), m.worker, page.Request{Number: 1, Limit: 10})
	if err != nil || mine.Total != 4 {
		t.Errorf("Mine() total = %d, %v; want 4", mine.Total, err)
	}
}

func TestListIsForAdmins(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	a := m.report(t, m.worker, report.TargetTask, m.task.ID)
	m.e.Clock.Advance(time.Minute)
	b := m.report(t, m.buyer, report.TargetUser, m.worker.UserID)
	m.e.Clock.Advance(time.Minute)
	c := m.report(t, m.buyer, report.TargetSubmission, m.sub.ID)
	if _, err := m.e.Reports.Decide(t.Context(), m.admin, a.ID, report.StatusDismissed, "", report.ActionNone); err != nil {
		t.Fatal(err)
	}
	first := page.Request{Number: 1, Limit: 10}

	for _, p := range []auth.Principal{m.worker, m.buyer} {
		if _, err := m.e.Reports.List(t.Context(), p, "", first); !errors.Is(err, auth.ErrWrongRole) {
			t.Errorf("List() by a %s error = %v, want %v", p.Role, err, auth.ErrWrongRole)
		}
	}
	tests := []struct {
		status report.Status
		want   []string
	}{
		{"", []string{b.ID, c.ID, a.ID}}, // open ones first, oldest first
		{report.StatusOpen, []string{b.ID, c.ID}},
		{report.StatusDismissed, []string{a.ID}},
		{report.StatusResolved, nil},
	}
	for _, tt := range tests {
		got, err := m.e.Reports.List(t.Context(), m.admin, tt.status, first)
		if err != nil || !slices.Equal(ids(got.Items), tt.want) || got.Total != int64(len(tt.want)) {
			t.Errorf("List(%q) = %v (total %d), %v; want %v", tt.status, ids(got.Items), got.Total, err, tt.want)
		}
	}
	// A reporter's own, newest first.
	mine, err := m.e.Reports.Mine(t.Context(), m.buyer, first)
	if err != nil || !slices.Equal(ids(mine.Items), []string{c.ID, b.ID}) {
		t.Errorf("Mine(buyer) = %v, %v; want [%s %s]", ids(mine.Items), err, c.ID, b.ID)
	}
}

func TestDecideRefuses(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	aboutTask := m.report(t, m.worker, report.TargetTask, m.task.ID)
	aboutUser := m.report(t, m.buyer, report.TargetUser, m.worker.UserID)
	tests := []struct {
		name   string
		who    auth.Principal
		id     string
		status report.Status
		action report.Action
		want   error  // nil for an Invalid error
		field  string // of the Invalid error
	}{
		{"by a worker", m.worker, aboutTask.ID, report.StatusResolved, report.ActionNone, auth.ErrWrongRole, ""},
		{"by a buyer", m.buyer, aboutTask.ID, report.StatusDismissed, report.ActionNone, auth.ErrWrongRole, ""},
		{"an unknown report", m.admin, "nope", report.StatusResolved, report.ActionNone, report.ErrNotFound, ""},
		{"no status", m.admin, aboutTask.ID, "", report.ActionNone, nil, "status"},
		{"open is not a decision", m.admin, aboutTask.ID, report.StatusOpen, report.ActionNone, nil, "status"},
		{"an action on a dismissal", m.admin, aboutTask.ID, report.StatusDismissed, report.ActionDeleteTask, nil, "action"},
		{"an unknown action", m.admin, aboutTask.ID, report.StatusResolved, "ban_forever", nil, "action"},
		{"overturning a task", m.admin, aboutTask.ID, report.StatusResolved, report.ActionOverturnRejection, nil, "action"},
		{"deleting a user's task", m.admin, aboutUser.ID, report.StatusResolved, report.ActionDeleteTask, nil, "action"},
		// The action fails, so the report stays open for another decision.
		{"overturning a pending submission", m.admin, m.report(t, m.worker, report.TargetSubmission, m.sub.ID).ID,
			report.StatusResolved, report.ActionOverturnRejection, submission.ErrNotRejected, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.e.Reports.Decide(t.Context(), tt.who, tt.id, tt.status, "note", tt.action)
			if tt.want == nil {
				wantInvalid(t, err, tt.field)
			} else if !errors.Is(err, tt.want) {
				t.Errorf("Decide() error = %v, want %v", err, tt.want)
			}
			if tt.id != "nope" {
				if r := m.get(t, tt.id); r.Status != report.StatusOpen {
					t.Errorf("report after a refused decision = %+v, want still open", r)
				}
			}
		})
	}
	// No refused decision acted.
	if st := m.userStatus(t, m.worker.UserID); st != user.StatusActive {
		t.Errorf("worker status = %s, want active", st)
	}
	if _, err := m.e.Tasks.Get(t.Context(), m.task.ID); err != nil {
		t.Errorf("task after refused decisions: %v", err)
	}
}

// TestDecidedReportCannotBeDecidedAgain: a decision is final, so its
// action and its notification to the reporter happen once.
func TestDecidedReportCannotBeDecidedAgain(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	r := m.report(t, m.worker, report.TargetTask, m.task.ID)
	m.e.Clock.Advance(time.Hour)

	got, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusDismissed, "  The task is legitimate. ", report.ActionNone)
	if err != nil {
		t.Fatalf("Decide() error = %v", err)
	}
	if got.Status != report.StatusDismissed || got.Note != "The task is legitimate." || got.Action != report.ActionNone ||
		!got.DecidedAt.Equal(apptest.Start.Add(time.Hour)) {
		t.Errorf("Decide() = %+v, want dismissed with the trimmed note at %v", got, apptest.Start.Add(time.Hour))
	}

	for _, tt := range []struct {
		status report.Status
		action report.Action
	}{
		{report.StatusResolved, report.ActionNone},
		{report.StatusDismissed, report.ActionNone},
		{report.StatusResolved, report.ActionDeleteTask},
	} {
		if _, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, tt.status, "", tt.action); !errors.Is(err, report.ErrClosed) {
			t.Errorf("Decide(%s, %q) again error = %v, want %v", tt.status, tt.action, err, report.ErrClosed)
		}
	}
	if after := m.get(t, r.ID); after.Status != report.StatusDismissed || after.Note != got.Note {
		t.Errorf("report = %+v, want it as first decided", after)
	}
	if _, err := m.e.Tasks.Get(t.Context(), m.task.ID); err != nil {
		t.Errorf("task after a refused delete_task: %v, want it still there", err)
	}
	notes, err := m.e.Notifications.List(t.Context(), m.worker, page.Request{Number: 1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var aboutReport int
	for _, n := range notes.Items {
		if n.ID == "report:"+r.ID {
			aboutReport++
		}
	}
	if aboutReport != 1 {
		t.Errorf("reporter got %d notifications about the report, want 1", aboutReport)
	}
}

// TestOverturnRejectionPaysTheWorker: a worker disputing a rejection whom
// the admin believes is paid, from the task's escrow while it holds an open
// slot's pay.
func TestOverturnRejectionPaysTheWorker(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	if _, err := m.e.Submissions.Reject(t.Context(), m.buyer, m.sub.ID, "the photo is blurry"); err != nil {
		t.Fatal(err)
	}
	r := m.report(t, m.worker, report.TargetSubmission, m.sub.ID)

	got, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusResolved, "The proof was fine.", report.ActionOverturnRejection)
	if err != nil {
		t.Fatalf("Decide() error = %v", err)
	}
	if got.Status != report.StatusResolved || got.Action != report.ActionOverturnRejection {
		t.Errorf("Decide() = %+v, want resolved with overturn_rejection", got)
	}
	sub, err := m.e.Submissions.Get(t.Context(), m.sub.ID)
	if err != nil || sub.Status != submission.StatusApproved {
		t.Errorf("submission = %+v, %v; want approved", sub, err)
	}
	tk, err := m.e.Tasks.Get(t.Context(), m.task.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two slots of 10: the rejection reopened the worker's, the overturn used it.
	worker, buyer, escrow := m.e.Coins(t, m.worker.UserID), m.e.Coins(t, m.buyer.UserID), m.e.Balance(t, ledger.EscrowAccount(m.task.ID))
	if worker != 10 || buyer != 80 || escrow != 10 || tk.OpenSlots != 1 {
		t.Errorf("worker %d, buyer %d, escrow %d, open slots %d; want 10, 80, 10, 1", worker, buyer, escrow, tk.OpenSlots)
	}
	if _, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusResolved, "", report.ActionOverturnRejection); !errors.Is(err, report.ErrClosed) {
		t.Errorf("Decide() again error = %v, want %v", err, report.ErrClosed)
	}
	if got := m.e.Coins(t, m.worker.UserID); got != 10 {
		t.Errorf("worker = %d coins after a second decision, want 10 (paid once)", got)
	}
}

// TestSuspendUserSuspendsTheCulprit: who is suspended depends on what was
// reported: the user, the task's buyer, or the submission's worker.
func TestSuspendUserSuspendsTheCulprit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     report.TargetType
		culprit func(m *market) auth.Principal
	}{
		{"a reported user", report.TargetUser, func(m *market) auth.Principal { return m.worker }},
		{"a reported task's buyer", report.TargetTask, func(m *market) auth.Principal { return m.buyer }},
		{"a reported submission's worker", report.TargetSubmission, func(m *market) auth.Principal { return m.worker }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t)
			reporter, target := m.buyer, m.worker.UserID
			switch tt.typ {
			case report.TargetTask:
				reporter, target = m.e.User(t, auth.RoleWorker), m.task.ID
			case report.TargetSubmission:
				target = m.sub.ID
			}
			r := m.report(t, reporter, tt.typ, target)
			got, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusResolved, "", report.ActionSuspendUser)
			if err != nil {
				t.Fatalf("Decide() error = %v", err)
			}
			if got.Status != report.StatusResolved || got.Action != report.ActionSuspendUser {
				t.Errorf("Decide() = %+v, want resolved with suspend_user", got)
			}
			culprit := tt.culprit(m)
			if st := m.userStatus(t, culprit.UserID); st != user.StatusSuspended {
				t.Errorf("culprit %s status = %s, want suspended", culprit.UserID, st)
			}
			if st := m.userStatus(t, reporter.UserID); st != user.StatusActive {
				t.Errorf("reporter %s status = %s, want active", reporter.UserID, st)
			}
			// A suspended buyer's tasks leave the lists with them.
			if tk, err := m.e.Tasks.Get(t.Context(), m.task.ID); err != nil || tk.Hidden != (culprit == m.buyer) {
				t.Errorf("task hidden = %v, %v; want %v", tk.Hidden, err, culprit == m.buyer)
			}
		})
	}
}

// TestDeleteTaskRemovesAndRefunds: a scam task an admin removes gives its
// escrow back to its buyer, after cancelling the work awaiting review.
func TestDeleteTaskRemovesAndRefunds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		typ  report.TargetType
	}{
		{"reported as a task", report.TargetTask},
		{"reported through its submission", report.TargetSubmission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t)
			reporter, target := m.e.User(t, auth.RoleWorker), m.task.ID
			if tt.typ == report.TargetSubmission {
				reporter, target = m.buyer, m.sub.ID
			}
			r := m.report(t, reporter, tt.typ, target)
			if _, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusResolved, "Scam.", report.ActionDeleteTask); err != nil {
				t.Fatalf("Decide() error = %v", err)
			}
			if _, err := m.e.Tasks.Get(t.Context(), m.task.ID); !errors.Is(err, task.ErrNotFound) {
				t.Errorf("Tasks.Get() after delete_task error = %v, want %v", err, task.ErrNotFound)
			}
			if sub, err := m.e.Submissions.Get(t.Context(), m.sub.ID); err != nil || sub.Status != submission.StatusCancelled {
				t.Errorf("pending submission = %+v, %v; want cancelled", sub, err)
			}
			// All 20 coins of escrow, the pending submission's slot included,
			// are back with the buyer; the worker was not paid.
			buyer, escrow, worker := m.e.Coins(t, m.buyer.UserID), m.e.Balance(t, ledger.EscrowAccount(m.task.ID)), m.e.Coins(t, m.worker.UserID)
			if buyer != 100 || escrow != 0 || worker != 0 {
				t.Errorf("buyer %d, escrow %d, worker %d; want 100, 0, 0", buyer, escrow, worker)
			}
		})
	}
}

// TestSuspendUserAfterTheTaskIsGone: a buyer who deletes their scam task
// (or an admin who removed it through another report) can still be
// suspended on a report about it.
func TestSuspendUserAfterTheTaskIsGone(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.postTask(t, m.buyer, 1)
	r := m.report(t, m.worker, report.TargetTask, tk.ID)
	if _, err := m.e.Tasks.Delete(t.Context(), m.buyer, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.e.Reports.Decide(t.Context(), m.admin, r.ID, report.StatusResolved, "", report.ActionSuspendUser); err != nil {
		t.Fatalf("Decide(suspend_user) of a deleted task's report error = %v", err)
	}
	if got := m.userStatus(t, m.buyer.UserID); got != user.StatusSuspended {
		t.Errorf("buyer status = %s, want suspended", got)
	}
}

// rework decides a report about the market's submission with a rework due
// in two days.
func (m *market) rework(t *testing.T) (report.Report, error) {
	t.Helper()
	r := m.report(t, m.worker, report.TargetSubmission, m.sub.ID)
	return m.e.Reports.DecideWith(t.Context(), m.admin, r.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
		Deadline: m.e.Clock.Now().Add(48 * time.Hour)})
}

func (m *market) reject(t *testing.T) {
	t.Helper()
	if _, err := m.e.Submissions.Reject(t.Context(), m.buyer, m.sub.ID, "the photo is blurry"); err != nil {
		t.Fatal(err)
	}
}

// wantMoney checks the worker's, the buyer's and the task's escrow coins,
// the task's open slots and the submission's status.
func (m *market) wantMoney(t *testing.T, worker, buyer, escrow money.Coins, open int, status submission.Status) {
	t.Helper()
	tk, err := m.e.Tasks.ByID(t.Context(), m.task.ID)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := m.e.Submissions.Get(t.Context(), m.sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	gotW, gotB, gotE := m.e.Coins(t, m.worker.UserID), m.e.Coins(t, m.buyer.UserID), m.e.Balance(t, ledger.EscrowAccount(m.task.ID))
	if gotW != worker || gotB != buyer || gotE != escrow || tk.OpenSlots != open || sub.Status != status {
		t.Errorf("worker %d, buyer %d, escrow %d, open slots %d, submission %s; want %d, %d, %d, %d, %s",
			gotW, gotB, gotE, tk.OpenSlots, sub.Status, worker, buyer, escrow, open, status)
	}
}

// TestReworkFromTheReopenedSlot: a rejection an admin sends back takes the
// slot the rejection reopened (its pay is still in escrow); the worker
// revises, the buyer reviews again (a second rejection is a new review),
// and a second rework whose deadline passes is rejected again, its slot
// reopened for the buyer to close and be refunded.
func TestReworkFromTheReopenedSlot(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	ctx := t.Context()
	m.reject(t)
	m.wantMoney(t, 0, 80, 20, 2, submission.StatusRejected)
	got, err := m.rework(t)
	if err != nil || got.Action != report.ActionRework || got.Status != report.StatusResolved {
		t.Fatalf("DecideWith(rework) = %+v, %v", got, err)
	}
	m.wantMoney(t, 0, 80, 20, 1, submission.StatusRevision)
	if _, err := m.e.Submissions.Resubmit(ctx, m.worker, m.sub.ID, "a sharper photo"); err != nil {
		t.Fatalf("Resubmit() = %v", err)
	}
	m.wantMoney(t, 0, 80, 20, 1, submission.StatusPending)
	m.reject(t) // the buyer still disagrees: a review of the new round
	m.wantMoney(t, 0, 80, 20, 2, submission.StatusRejected)

	if _, err := m.rework(t); err != nil {
		t.Fatalf("a second rework = %v", err)
	}
	m.e.Clock.Advance(49 * time.Hour)
	if n, err := m.e.Submissions.RejectOverdue(ctx); err != nil || n != 1 {
		t.Fatalf("RejectOverdue() = %d, %v; want the missed rework rejected", n, err)
	}
	m.wantMoney(t, 0, 80, 20, 2, submission.StatusRejected)
	if refunded, err := m.e.Tasks.CloseEarly(ctx, m.buyer, m.task.ID); err != nil || refunded != 20 {
		t.Fatalf("CloseEarly() = %d, %v; want 20 back", refunded, err)
	}
	m.wantMoney(t, 0, 100, 0, 0, submission.StatusRejected)
}

// TestReworkPaidByTheBuyer: once the reopened slot is gone (the task
// closed and refunded), the buyer pays the slot back into escrow; the
// revision approved pays the worker from it. A buyer who cannot pay leaves
// the report open and the submission rejected; a deleted task cannot be
// reworked.
func TestReworkPaidByTheBuyer(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	ctx := t.Context()
	m.reject(t)
	if _, err := m.e.Tasks.CloseEarly(ctx, m.buyer, m.task.ID); err != nil {
		t.Fatal(err)
	}
	m.wantMoney(t, 0, 100, 0, 0, submission.StatusRejected)
	if _, err := m.rework(t); err != nil {
		t.Fatalf("DecideWith(rework) = %v", err)
	}
	m.wantMoney(t, 0, 90, 10, 0, submission.StatusRevision)
	if _, err := m.e.Submissions.Resubmit(ctx, m.worker, m.sub.ID, "a sharper photo"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.e.Submissions.Approve(ctx, m.buyer, m.sub.ID); err != nil {
		t.Fatalf("Approve() after the rework = %v", err)
	}
	m.wantMoney(t, 10, 90, 0, 0, submission.StatusApproved)

	// A buyer without the coins: 409, nothing moves, the report stays open.
	poor := newMarket(t)
	poor.reject(t)
	if _, err := poor.e.Tasks.CloseEarly(ctx, poor.buyer, poor.task.ID); err != nil {
		t.Fatal(err)
	}
	poor.postTask(t, poor.buyer, 10) // spends the 100
	r := poor.report(t, poor.worker, report.TargetSubmission, poor.sub.ID)
	_, err := poor.e.Reports.DecideWith(ctx, poor.admin, r.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
		Deadline: poor.e.Clock.Now().Add(time.Hour)})
	if !errors.Is(err, submission.ErrCannotPay) || poor.get(t, r.ID).Status != report.StatusOpen {
		t.Errorf("DecideWith() for a buyer without coins = %v, report %s; want %v and open", err, poor.get(t, r.ID).Status, submission.ErrCannotPay)
	}
	poor.wantMoney(t, 0, 0, 0, 0, submission.StatusRejected)

	// A deleted task: its escrow is gone; overturn instead.
	gone := newMarket(t)
	gone.reject(t)
	if _, err := gone.e.Tasks.Delete(ctx, gone.buyer, gone.task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.rework(t); !errors.Is(err, submission.ErrTaskDeleted) {
		t.Errorf("rework on a deleted task = %v, want %v", err, submission.ErrTaskDeleted)
	}
}

// TestReworkRefusals: rework needs a report about a rejected submission
// and a deadline ahead.
func TestReworkRefusals(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	ctx := t.Context()
	now := m.e.Clock.Now()
	onTask := m.report(t, m.worker, report.TargetTask, m.task.ID)
	onSub := m.report(t, m.worker, report.TargetSubmission, m.sub.ID)
	for _, tt := range []struct {
		name     string
		id       string
		deadline time.Time
		want     error
	}{
		{"a report about a task", onTask.ID, now.Add(time.Hour), apperr.InvalidFields()},
		{"a deadline passed", onSub.ID, now.Add(-time.Minute), apperr.InvalidFields()},
		{"a deadline too far", onSub.ID, now.Add(submission.MaxReworkAhead + time.Hour), apperr.InvalidFields()},
		{"no deadline", onSub.ID, time.Time{}, apperr.InvalidFields()},
		{"a submission not rejected", onSub.ID, now.Add(time.Hour), submission.ErrNotRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.e.Reports.DecideWith(ctx, m.admin, tt.id, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
				Deadline: tt.deadline})
			if !errors.Is(err, tt.want) {
				t.Errorf("DecideWith() = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := m.e.Submissions.Rework(ctx, m.buyer, m.sub.ID, now.Add(time.Hour)); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("Rework() by the buyer = %v, want %v", err, auth.ErrWrongRole)
	}
}
