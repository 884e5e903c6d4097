package submission_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// revisionReason is a reason long enough to send work back with.
const revisionReason = "Please show the whole page."

// askRevision sends sub back to its worker as m.buyer, and fails the test
// if it is refused.
func (m *market) askRevision(t *testing.T, id string) submission.Submission {
	t.Helper()
	sub, err := m.Submissions.RequestRevision(m.ctx, m.buyer, id, revisionReason)
	if err != nil {
		t.Fatalf("RequestRevision() error = %v", err)
	}
	return sub
}

func (m *market) revise(t *testing.T, id, details string) submission.Submission {
	t.Helper()
	sub, err := m.Submissions.Resubmit(m.ctx, m.worker, id, details)
	if err != nil {
		t.Fatalf("Resubmit() error = %v", err)
	}
	return sub
}

// weekTask posts a task of m.buyer's with two slots of 10 coins due in a
// week, past the revision window, after giving the buyer its cost.
func (m *market) weekTask(t *testing.T) task.Task {
	t.Helper()
	m.Give(t, m.buyer.UserID, 20)
	tk, err := m.Tasks.Create(m.ctx, m.buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: 2, Pay: 10, CompletionDate: m.Clock.Now().Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	return tk
}

func (m *market) revisionsOf(t *testing.T, userID string) int64 {
	t.Helper()
	recs, err := m.Records.Records(m.ctx, []string{userID})
	if err != nil {
		t.Fatalf("Records() error = %v", err)
	}
	return recs[userID].Revisions
}

// TestRequestRevisionKeepsSlotAndEscrow: the task's buyer sends a pending
// submission back with a reason; the submission keeps its slot and its pay
// in escrow, waits for the worker until the deadline REVISION_WINDOW ahead,
// and cannot be reviewed meanwhile; the worker is told why and by when, and
// their track record counts one revision.
func TestRequestRevisionKeepsSlotAndEscrow(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.newTask(t, 2, 10)
	sub := m.submit(t, m.worker, tk.ID)
	m.Clock.Advance(time.Hour)
	now := m.Clock.Now()

	got, err := m.Submissions.RequestRevision(m.ctx, m.buyer, sub.ID, "  "+revisionReason+"  ")
	if err != nil {
		t.Fatalf("RequestRevision() error = %v", err)
	}
	want := sub
	want.Status, want.RevisionReason, want.RevisionDeadline = submission.StatusRevision, revisionReason, now.Add(submission.DefaultRevisionWindow)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RequestRevision() mismatch (-want +got):\n%s", diff)
	}
	m.wantSlots(t, tk.ID, 1, sub.ID)
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
	notes := m.notes(t, m.worker.UserID)
	if len(notes) != 1 || !strings.HasSuffix(notes[0].Message, revisionReason) ||
		!strings.Contains(notes[0].Message, want.RevisionDeadline.Format("2006-01-02 15:04")) {
		t.Errorf("worker's notifications = %+v, want one with the reason and the deadline", notes)
	}
	if n := m.revisionsOf(t, m.worker.UserID); n != 1 {
		t.Errorf("worker's record counts %d revisions, want 1", n)
	}

	// While it waits, neither a review nor the review delay decides it.
	if _, err := m.Submissions.Approve(m.ctx, m.buyer, sub.ID); !errors.Is(err, submission.ErrInRevision) {
		t.Errorf("Approve() error = %v, want %v", err, submission.ErrInRevision)
	}
	if _, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, "the photo is blurry"); !errors.Is(err, submission.ErrInRevision) {
		t.Errorf("Reject() error = %v, want %v", err, submission.ErrInRevision)
	}
	m.Clock.Advance(autoApproveAfter) // past the auto-approval time set when it was submitted
	if n, err := m.Submissions.AutoApproveDue(m.ctx); err != nil || n != 0 {
		t.Errorf("AutoApproveDue() = %d, %v; want 0: a submission in revision waits for its worker", n, err)
	}
	if got := m.sub(t, sub.ID); got.Status != submission.StatusRevision {
		t.Errorf("status = %s, want %s", got.Status, submission.StatusRevision)
	}
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
}

// TestRequestRevisionRefused: only the task's buyer sends back, once, a
// pending submission, with a reason the worker can act on; a refusal
// changes nothing and tells nobody.
func TestRequestRevisionRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setUp brings a fresh submission of m.worker's to the state of
		// the case and returns who asks and with what reason.
		setUp      func(t *testing.T, m *market, sub submission.Submission) (auth.Principal, string)
		want       error
		wantStatus submission.Status
	}{
		{"another buyer", func(t *testing.T, m *market, _ submission.Submission) (auth.Principal, string) {
			return m.User(t, auth.RoleBuyer), revisionReason
		}, submission.ErrNotFound, submission.StatusPending},
		{"its worker", func(t *testing.T, m *market, _ submission.Submission) (auth.Principal, string) {
			return m.worker, revisionReason
		}, submission.ErrNotFound, submission.StatusPending},
		{"a reason too short", func(t *testing.T, m *market, _ submission.Submission) (auth.Principal, string) {
			return m.buyer, "  redo it  "
		}, apperr.InvalidFields(), submission.StatusPending},
		{"no reason", func(t *testing.T, m *market, _ submission.Submission) (auth.Principal, string) {
			return m.buyer, ""
		}, apperr.InvalidFields(), submission.StatusPending},
		{"already sent back", func(t *testing.T, m *market, sub submission.Submission) (auth.Principal, string) {
			m.askRevision(t, sub.ID)
			return m.buyer, revisionReason
		}, submission.ErrInRevision, submission.StatusRevision},
		{"revised once", func(t *testing.T, m *market, sub submission.Submission) (auth.Principal, string) {
			m.askRevision(t, sub.ID)
			m.revise(t, sub.ID, "the whole page")
			return m.buyer, revisionReason
		}, submission.ErrRevisionUsed, submission.StatusPending},
		{"approved", func(t *testing.T, m *market, sub submission.Submission) (auth.Principal, string) {
			m.approve(t, sub.ID)
			return m.buyer, revisionReason
		}, submission.ErrAlreadyReviewed, submission.StatusApproved},
		{"rejected", func(t *testing.T, m *market, sub submission.Submission) (auth.Principal, string) {
			m.reject(t, sub.ID)
			return m.buyer, revisionReason
		}, submission.ErrAlreadyReviewed, submission.StatusRejected},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := shared.fresh(t)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)
			who, reason := tt.setUp(t, m, sub)
			before := m.sub(t, sub.ID)
			notes := len(m.notes(t, m.worker.UserID))

			_, err := m.Submissions.RequestRevision(m.ctx, who, sub.ID, reason)
			if !errors.Is(err, tt.want) { // invalid_fields matches any list of bad fields
				t.Fatalf("RequestRevision() error = %v, want %v", err, tt.want)
			}
			if got := m.sub(t, sub.ID); got.Status != tt.wantStatus || !cmp.Equal(got, before) {
				t.Errorf("after the refusal: %+v, want it unchanged in status %s", got, tt.wantStatus)
			}
			if got := len(m.notes(t, m.worker.UserID)); got != notes {
				t.Errorf("worker has %d notifications, want %d: a refusal tells nobody", got, notes)
			}
		})
	}
}

// TestResubmitWithinTheWindow: the worker revises before the deadline, with
// the same slot and the same pay in escrow; the submission is pending again
// with a new review delay, its buyer is told, and approving it pays the
// worker exactly its pay from escrow.
func TestResubmitWithinTheWindow(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	tk := m.weekTask(t)
	sub := m.submit(t, m.worker, tk.ID)
	m.askRevision(t, sub.ID)
	m.Clock.Advance(submission.DefaultRevisionWindow - time.Minute) // a minute before the deadline
	now := m.Clock.Now()

	got := m.revise(t, sub.ID, "https://prnt.sc/whole-page")
	want := sub
	want.Details, want.AutoApproveAt, want.RevisionReason = "https://prnt.sc/whole-page", now.Add(autoApproveAfter), revisionReason
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resubmit() mismatch (-want +got):\n%s", diff)
	}
	m.wantSlots(t, tk.ID, 1, sub.ID)
	m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
	if notes := m.notes(t, m.buyer.UserID); len(notes) == 0 || !strings.Contains(notes[0].Message, "revised their submission") {
		t.Errorf("buyer's notifications = %+v, want the revision first", notes)
	}
	// Past the deadline it was revised before, nothing rejects it.
	m.Clock.Advance(time.Hour)
	if n, err := m.Submissions.RejectOverdue(m.ctx); err != nil || n != 0 {
		t.Errorf("RejectOverdue() = %d, %v; want 0", n, err)
	}

	m.approve(t, sub.ID)
	m.wantSlots(t, tk.ID, 1)
	m.wantCoins(t, tk.ID, m.worker, 10, 0, 10)
	if n := m.revisionsOf(t, m.worker.UserID); n != 1 {
		t.Errorf("worker's record counts %d revisions, want 1", n)
	}
}

// TestResubmitRefused: only the submission's worker revises, only a
// submission sent back, and only before its deadline; a refusal changes
// nothing.
func TestResubmitRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setUp brings a fresh submission of m.worker's to the state of
		// the case and returns who revises.
		setUp func(t *testing.T, m *market, sub submission.Submission) auth.Principal
		want  error
		ownDB bool // see marketFor
	}{
		{"not sent back", func(t *testing.T, m *market, _ submission.Submission) auth.Principal {
			return m.worker
		}, submission.ErrNotInRevision, false},
		{"another worker", func(t *testing.T, m *market, sub submission.Submission) auth.Principal {
			m.askRevision(t, sub.ID)
			return m.User(t, auth.RoleWorker)
		}, submission.ErrNotFound, false},
		{"revised already", func(t *testing.T, m *market, sub submission.Submission) auth.Principal {
			m.askRevision(t, sub.ID)
			m.revise(t, sub.ID, "the whole page")
			return m.worker
		}, submission.ErrNotInRevision, false},
		{"at the deadline", func(t *testing.T, m *market, sub submission.Submission) auth.Principal {
			m.askRevision(t, sub.ID)
			m.Clock.Advance(submission.DefaultRevisionWindow)
			return m.worker
		}, submission.ErrNotInRevision, true},
		{"rejected as overdue", func(t *testing.T, m *market, sub submission.Submission) auth.Principal {
			m.askRevision(t, sub.ID)
			m.Clock.Advance(submission.DefaultRevisionWindow + time.Minute)
			if n, err := m.Submissions.RejectOverdue(m.ctx); err != nil || n != 1 {
				t.Fatalf("RejectOverdue() = %d, %v; want 1", n, err)
			}
			return m.worker
		}, submission.ErrNotInRevision, true},
	}
	shared := newMarket(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := marketFor(t, shared, tt.ownDB)
			tk := m.newTask(t, 2, 10)
			sub := m.submit(t, m.worker, tk.ID)
			who := tt.setUp(t, m, sub)
			before := m.sub(t, sub.ID)

			if _, err := m.Submissions.Resubmit(m.ctx, who, sub.ID, "late proof"); !errors.Is(err, tt.want) {
				t.Fatalf("Resubmit() error = %v, want %v", err, tt.want)
			}
			if got := m.sub(t, sub.ID); !cmp.Equal(got, before) {
				t.Errorf("after the refusal: %+v, want %+v", got, before)
			}
		})
	}
}

// TestRejectOverdue: a submission not revised by its deadline is rejected by
// the job as the rules count a missed deadline: its slot reopens with its
// pay still in escrow for the next worker, and the worker is told. Before
// the deadline, or once revised, the job leaves it alone.
func TestRejectOverdue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		revise     bool
		after      time.Duration // from the request to the job's run
		wantStatus submission.Status
	}{
		{"before the deadline", false, submission.DefaultRevisionWindow - time.Millisecond, submission.StatusRevision},
		{"at the deadline", false, submission.DefaultRevisionWindow, submission.StatusRevision},
		{"past the deadline", false, submission.DefaultRevisionWindow + time.Millisecond, submission.StatusRejected},
		{"revised in time", true, submission.DefaultRevisionWindow + time.Hour, submission.StatusPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMarket(t) // the clock moves and the job reads every submission
			tk := m.weekTask(t)
			sub := m.submit(t, m.worker, tk.ID)
			m.askRevision(t, sub.ID)
			if tt.revise {
				m.revise(t, sub.ID, "the whole page")
			}
			m.Clock.Advance(tt.after)

			n, err := m.Submissions.RejectOverdue(m.ctx)
			if wantN := map[bool]int{true: 1}[tt.wantStatus == submission.StatusRejected]; err != nil || n != wantN {
				t.Fatalf("RejectOverdue() = %d, %v; want %d", n, err, wantN)
			}
			got := m.sub(t, sub.ID)
			if got.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", got.Status, tt.wantStatus)
			}
			if tt.wantStatus != submission.StatusRejected {
				m.wantSlots(t, tk.ID, 1, sub.ID)
				m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
				return
			}
			if !strings.Contains(got.Reason, "deadline") || got.ReviewedAt.IsZero() {
				t.Errorf("rejected: reason %q, reviewed at %v; want the deadline named", got.Reason, got.ReviewedAt)
			}
			m.wantSlots(t, tk.ID, 2)
			m.wantCoins(t, tk.ID, m.worker, 0, 0, 20)
			if notes := m.notes(t, m.worker.UserID); len(notes) == 0 || !strings.Contains(notes[0].Message, "was rejected") {
				t.Errorf("worker's notifications = %+v, want the rejection first", notes)
			}
			// Run again, it finds nothing; the reopened slot takes another worker.
			if n, err := m.Submissions.RejectOverdue(m.ctx); err != nil || n != 0 {
				t.Errorf("RejectOverdue() again = %d, %v; want 0", n, err)
			}
			m.submit(t, m.User(t, auth.RoleWorker), tk.ID)
		})
	}
}
