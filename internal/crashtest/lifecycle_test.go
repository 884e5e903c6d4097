package crashtest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/reservation"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// lifecycleScenarios are the buyer's controls that move coins.
var lifecycleScenarios = []scenario{
	{
		name:   "add slots to a task",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) }, // the buyer keeps 30
		retry:  true,                                             // the same request again, as a client retrying with its Idempotency-Key
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.AddSlots(ctx, buyer, w.onlyTaskQuiet(), 2, "request-1")
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.OpenSlots != 4 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 40 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 10 {
				t.Errorf("task %+v, escrow %d, buyer %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
		},
	},
	{
		name:   "add slots the buyer cannot pay for",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) },
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.AddSlots(ctx, buyer, w.onlyTaskQuiet(), 4, "request-1")
			if errors.Is(err, ledger.ErrInsufficientCoins) {
				return nil // the answer expected
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.OpenSlots != 2 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 30 {
				t.Errorf("task %+v, escrow %d, buyer %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			// Nothing is left funding the task: it can be closed.
			w.Operations.InjectFailures(nil)
			if refunded, err := w.Tasks.CloseEarly(context.Background(), buyer, tk.ID); err != nil || refunded != 20 {
				t.Errorf("CloseEarly() = %d, %v; want 20", refunded, err)
			}
		},
	},
	{
		name:   "close a task early",
		before: submitted, // 2 slots, one taken by a pending submission
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.CloseEarly(ctx, buyer, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.Status != task.StatusClosed || tk.OpenSlots != 0 || len(tk.PendingSubs) != 1 ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 10 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 40 {
				t.Errorf("task %+v, escrow %d, buyer %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			if w.notified(t, buyer.UserID) != 2 { // the submission, the refund
				t.Errorf("buyer notified %d times, want 2", w.notified(t, buyer.UserID))
			}
		},
	},
	{
		name: "pay a bonus",
		before: func(t *testing.T, w *world) {
			submitted(t, w) // the buyer keeps 30
			if _, err := w.Submissions.Approve(context.Background(), buyer, w.onlySubmissionQuiet()); err != nil {
				t.Fatal(err)
			}
		},
		retry: true, // the same request again, as a client retrying with its Idempotency-Key
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Bonus(ctx, buyer, w.onlySubmissionQuiet(), 5, "neat", "request-1")
			return err
		},
		check: func(t *testing.T, w *world) {
			sub := w.onlySubmission(t)
			if sub.Bonus != 5 || w.balance(t, ledger.UserAccount(worker.UserID)) != 15 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 25 {
				t.Errorf("submission %+v, worker %d, buyer %d", sub, w.balance(t, ledger.UserAccount(worker.UserID)), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			if w.notified(t, worker.UserID) != 2 { // the approval, the bonus
				t.Errorf("worker notified %d times, want 2", w.notified(t, worker.UserID))
			}
		},
	},
	{
		name:   "reserve a slot",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) },
		action: func(ctx context.Context, w *world) error {
			_, err := w.Reservations.Reserve(ctx, worker, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, r := w.onlyTask(t), w.onlyReservation(t)
			if tk.OpenSlots != 1 || !slices.Equal(tk.Held, []string{r.HeldID()}) || r.Status != reservation.StatusLive ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 {
				t.Errorf("task %+v, reservation %+v", tk, r)
			}
		},
	},
	{
		name:   "release a reservation",
		before: reserved,
		action: func(ctx context.Context, w *world) error {
			return w.Reservations.Release(ctx, worker, w.onlyReservationQuiet())
		},
		check: func(t *testing.T, w *world) {
			tk, r := w.onlyTask(t), w.onlyReservation(t)
			if tk.OpenSlots != 2 || len(tk.Held) != 0 || r.Status != reservation.StatusReleased {
				t.Errorf("task %+v, reservation %+v", tk, r)
			}
		},
	},
	{
		name: "expire a reservation",
		before: func(t *testing.T, w *world) {
			reserved(t, w)
			w.Clock.Advance(2 * time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			n, err := w.Reservations.ExpireDue(ctx)
			if err == nil && n != 1 {
				return errors.New("nothing expired")
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, r := w.onlyTask(t), w.onlyReservation(t)
			if tk.OpenSlots != 2 || len(tk.Held) != 0 || r.Status != reservation.StatusExpired {
				t.Errorf("task %+v, reservation %+v", tk, r)
			}
		},
	},
	{
		name: "submit into a reserved slot",
		before: func(t *testing.T, w *world) {
			reserved(t, w)
			// Another worker takes the last free slot: only the reserved one is left.
			if _, err := w.Submissions.Submit(context.Background(), w.User(t, auth.RoleWorker), w.onlyTaskQuiet(), "proof"); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Submit(ctx, worker, w.onlyTaskQuiet(), "proof")
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, r := w.onlyTask(t), w.onlyReservation(t)
			if tk.OpenSlots != 0 || len(tk.Held) != 0 || len(tk.PendingSubs) != 2 || r.Status != reservation.StatusUsed ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 {
				t.Errorf("task %+v, reservation %+v", tk, r)
			}
		},
	},
	{
		name:   "close a task with a reserved slot",
		before: reserved,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.CloseEarly(ctx, buyer, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.Status != task.StatusClosed || tk.OpenSlots != 0 || len(tk.Held) != 0 ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 0 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, escrow %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)))
			}
			w.cancelledReservation(t, tk.ID)
		},
	},
	{
		name:   "delete a task with a reserved slot",
		before: reserved,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.Delete(ctx, buyer, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTaskAnyStatus(t)
			if tk.Status != task.StatusDeleted || len(tk.Held) != 0 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 0 ||
				w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, buyer %d", tk, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.cancelledReservation(t, tk.ID)
		},
	},
	{
		name: "expire a task with a reserved slot",
		before: func(t *testing.T, w *world) {
			reserved(t, w)
			w.Clock.Advance(25 * time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			n, err := w.Tasks.ExpireDue(ctx)
			if err == nil && n != 1 {
				return errors.New("nothing expired")
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.Status != task.StatusExpired || len(tk.Held) != 0 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, buyer %d", tk, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.cancelledReservation(t, tk.ID)
		},
	},
	{
		name: "reject a revision whose deadline passed",
		before: func(t *testing.T, w *world) {
			submitted(t, w)
			if _, err := w.Submissions.RequestRevision(context.Background(), buyer, w.onlySubmissionQuiet(), "show the whole page"); err != nil {
				t.Fatal(err)
			}
			w.Clock.Advance(49 * time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			n, err := w.Submissions.RejectOverdue(ctx)
			if err == nil && n != 1 {
				return errors.New("nothing rejected")
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTaskAnyStatus(t), w.onlySubmission(t)
			if sub.Status != submission.StatusRejected || len(tk.PendingSubs) != 0 || tk.OpenSlots+len(tk.Held) != 2 {
				t.Errorf("task %+v, submission %+v", tk, sub)
			}
			if w.notified(t, worker.UserID) != 2 { // the request, the rejection
				t.Errorf("worker notified %d times, want 2", w.notified(t, worker.UserID))
			}
		},
	},
}

// reserved leaves a task of 2 slots with one reserved by the worker.
func reserved(t *testing.T, w *world) {
	tk := w.newTask(t, 2)
	if _, err := w.Reservations.Reserve(context.Background(), worker, tk.ID); err != nil {
		t.Fatal(err)
	}
}

func (w *world) onlyReservation(t *testing.T) reservation.Reservation {
	t.Helper()
	r, err := w.Stores.Reservations.ByID(context.Background(), w.onlyReservationQuiet())
	if err != nil {
		t.Fatalf("the worker's reservation: %v", err)
	}
	return r
}

// cancelledReservation fails unless the worker's reservation of the task
// ended cancelled with it, and no longer counts as live.
func (w *world) cancelledReservation(t *testing.T, taskID string) {
	t.Helper()
	ctx := context.Background()
	r, err := w.Stores.Reservations.ByID(ctx, reservation.ID(taskID, worker.UserID))
	if err != nil {
		t.Fatalf("the worker's reservation: %v", err)
	}
	n, err := w.Stores.Reservations.CountLive(ctx, worker.UserID)
	if r.Status != reservation.StatusCancelled || r.EndedAt.IsZero() || err != nil || n != 0 {
		t.Errorf("reservation %+v, live %d (%v); want it cancelled", r, n, err)
	}
}

func (w *world) onlyReservationQuiet() string {
	return reservation.ID(w.onlyTaskQuiet(), worker.UserID)
}
