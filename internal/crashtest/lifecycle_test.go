package crashtest_test

import (
	"context"
	"errors"
	"testing"

	"microtask/internal/ledger"
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
}
