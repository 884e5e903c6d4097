package crashtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"microtask/internal/batch"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/reputation"
	"microtask/internal/task"
)

// newBatch is three rows of a template of two slots at pay (3 × 2 × pay).
func newBatch(w *world, pay int) batch.NewBatch {
	return batch.NewBatch{Key: "batch-1", Items: []byte("city\nBerlin\nLyon\nAustin\n"), Template: task.NewTask{
		Text:    task.Text{Title: "Photograph a bakery in {{city}}", Detail: "D", SubmissionInfo: "S"},
		Workers: 2, Pay: moneyOf(pay), CompletionDate: w.Clock.Now().Add(24 * time.Hour),
	}}
}

func (w *world) batchTasks(t *testing.T, id string) []task.Task {
	t.Helper()
	var out []task.Task
	if err := w.Tasks.EachOfBatch(context.Background(), id, func(tk task.Task) error { out = append(out, tk); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) onlyBatch(t *testing.T) batch.Batch {
	t.Helper()
	all, err := w.Batches.List(context.Background(), buyer, firstPage)
	if err != nil || len(all.Items) != 1 {
		t.Fatalf("batches = %+v, %v; want one", all, err)
	}
	return all.Items[0]
}

// batchScenarios fund and close batches: one operation of many postings,
// and one whose step runs an operation per task.
var batchScenarios = []scenario{
	{
		name: "fund a batch",
		action: func(ctx context.Context, w *world) error {
			_, err := w.Batches.Create(ctx, buyer, newBatch(w, 3))
			return err
		},
		check: func(t *testing.T, w *world) {
			b := w.onlyBatch(t)
			tasks := w.batchTasks(t, b.ID)
			if b.Status != batch.StatusOpen || len(tasks) != 3 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 32 {
				t.Errorf("batch %+v, %d tasks, buyer %d", b, len(tasks), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			for _, tk := range tasks {
				if tk.OpenSlots != 2 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 6 {
					t.Errorf("task %+v, escrow %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)))
				}
			}
			w.recorded(t, reputation.Record{UserID: buyer.UserID, TasksPosted: 3})
		},
	},
	{
		name: "fund a batch the buyer cannot pay for",
		action: func(ctx context.Context, w *world) error {
			_, err := w.Batches.Create(ctx, buyer, newBatch(w, 10)) // 60 of the buyer's 50
			if errors.Is(err, ledger.ErrInsufficientCoins) {
				return nil // the answer expected
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			all, err := w.buyerTasks()
			if err != nil || len(all) != 0 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("%d tasks (%v), buyer %d; want none and 50", len(all), err, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			if list, _ := w.Batches.List(context.Background(), buyer, firstPage); list.Total != 0 {
				t.Errorf("batches = %+v, want none shown", list.Items)
			}
		},
	},
	{
		// Closing runs a refund operation per open task inside its own
		// step: interrupted in any of them, recovery closes every task.
		name: "close a batch",
		before: func(t *testing.T, w *world) {
			b, err := w.Batches.Create(context.Background(), buyer, newBatch(w, 3))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Submissions.Submit(context.Background(), worker, w.batchTasks(t, b.ID)[0].ID, "proof"); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			all, err := w.Batches.List(ctx, buyer, firstPage)
			if err != nil || len(all.Items) != 1 {
				return errors.New("no batch")
			}
			_, _, err = w.Batches.Close(ctx, buyer, all.Items[0].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			b := w.onlyBatch(t)
			tasks := w.batchTasks(t, b.ID)
			if b.Status != batch.StatusClosed || w.balance(t, ledger.UserAccount(buyer.UserID)) != 47 { // 32 + 3 + 6 + 6
				t.Errorf("batch %s, buyer %d; want closed and 47", b.Status, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			for i, tk := range tasks {
				want := ledgerWant(i)
				if tk.Status != task.StatusClosed || tk.OpenSlots != 0 || w.balance(t, ledger.EscrowAccount(tk.ID)) != want {
					t.Errorf("task %d %s with %d open, escrow %d; want closed, 0, %d", i+1, tk.Status, tk.OpenSlots,
						w.balance(t, ledger.EscrowAccount(tk.ID)), want)
				}
			}
			if w.notified(t, buyer.UserID) != 4 { // the submission, three refunds
				t.Errorf("buyer told %d times, want 4", w.notified(t, buyer.UserID))
			}
		},
	},
}

// ledgerWant is what the escrow of the i-th task of a closed batch keeps:
// the first has a pending submission.
func ledgerWant(i int) moneyCoins {
	if i == 0 {
		return 3
	}
	return 0
}

type moneyCoins = money.Coins

func moneyOf(n int) money.Coins { return money.Coins(n) }
