package crashtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/adminlog"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/invoice"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/payment"
	"microtask/internal/platform/clocktest"
	"microtask/internal/reputation"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
	"microtask/internal/withdrawal"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// world is the marketplace's services on one database, as one process has
// them; a restart builds a new world on the same database.
type world struct{ *apptest.Env }

// build builds the services, taking payment webhooks (as with Stripe) if
// stripe is set; else the buyer confirms purchases (the dummy gateway).
func build(t *testing.T, db *docdb.DB, c *clocktest.Clock, stripe bool) *world {
	t.Helper()
	if stripe {
		return &world{apptest.Build(t, db, c, apptest.WithWebhooks(&apptest.Webhooks{}))}
	}
	return &world{apptest.Build(t, db, c)}
}

var (
	buyer  = auth.Principal{UserID: "buyer", Role: auth.RoleBuyer}
	worker = auth.Principal{UserID: "worker", Role: auth.RoleWorker}
)

// setUp adds a buyer with 50 coins and a worker.
func setUp(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	us := storage.NewUserStore(w.DB)
	for _, p := range []auth.Principal{buyer, worker, admin} {
		u := user.User{ID: p.UserID, Name: strings.ToUpper(p.UserID), Email: p.UserID + "@example.com", Role: p.Role, Status: user.StatusActive}
		if err := us.Insert(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	w.Give(t, buyer.UserID, 50)
}

func (w *world) newTask(t *testing.T, slots int) task.Task {
	t.Helper()
	tk, err := w.Tasks.Create(context.Background(), buyer, newTaskInput(w, slots))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// The buyer's tasks, the worker's submissions and withdrawals: a few at
// most in every scenario.
var firstPage = page.Request{Number: 1, Limit: 10}

func (w *world) buyerTasks() ([]task.Task, error) {
	all, _, err := w.Stores.Tasks.List(context.Background(), task.Filter{BuyerID: buyer.UserID}, firstPage)
	return all, err
}

func (w *world) workerSubmissions() ([]submission.Submission, error) {
	all, _, err := w.Stores.Submissions.List(context.Background(), submission.Filter{WorkerID: worker.UserID}, firstPage)
	return all, err
}

func (w *world) workerWithdrawals() ([]withdrawal.Withdrawal, error) {
	all, _, err := w.Stores.Withdrawals.ListByWorker(context.Background(), worker.UserID, firstPage)
	return all, err
}

func (w *world) onlyTask(t *testing.T) task.Task {
	t.Helper()
	all, err := w.buyerTasks()
	if err != nil || len(all) != 1 {
		t.Fatalf("buyer's tasks = %v, %v; want exactly one", all, err)
	}
	return all[0]
}

func (w *world) onlySubmission(t *testing.T) submission.Submission {
	t.Helper()
	all, err := w.workerSubmissions()
	if err != nil || len(all) != 1 {
		t.Fatalf("worker's submissions = %v, %v; want exactly one", all, err)
	}
	return all[0]
}

func (w *world) balance(t *testing.T, acct string) money.Coins {
	t.Helper()
	b, err := w.Ledger.Balance(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) notified(t *testing.T, userID string) int64 {
	t.Helper()
	_, n, err := w.Stores.Notifications.List(context.Background(), userID, page.Request{Number: 1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// recorded fails unless the user's track record is want: each operation
// counted once, whatever step a crash interrupted.
func (w *world) recorded(t *testing.T, want reputation.Record) {
	t.Helper()
	recs, err := w.Records.Records(context.Background(), []string{want.UserID})
	got := recs[want.UserID]
	var reviews int64
	for _, n := range got.ReviewTimes {
		reviews += n
	}
	got.ReviewTimes = [reputation.Buckets]int64{}
	if err != nil || got != want {
		t.Errorf("record = %+v (%v), want %+v", got, err, want)
	}
	if want.BuyerApproved+want.BuyerRejected != reviews {
		t.Errorf("record of %s has %d review times, want %d", want.UserID, reviews, want.BuyerApproved+want.BuyerRejected)
	}
}

// logged fails unless the admin log holds one action of this kind, by the
// admin: recovery records what a crash interrupted, and only once.
func (w *world) logged(t *testing.T, kind adminlog.Kind) {
	t.Helper()
	got, err := w.AdminLog.List(context.Background(), admin, adminlog.Filter{Kind: kind}, page.Request{Number: 1, Limit: 10})
	if err != nil || got.Total != 1 || got.Items[0].AdminID != admin.UserID {
		t.Errorf("admin log of %s = %+v, %v; want one entry by %s", kind, got.Items, err, admin.UserID)
	}
}

type scenario struct {
	name   string
	stripe bool                                      // purchases are paid by webhook, as with Stripe
	retry  bool                                      // after recovery the request is made again: a workflow of several operations, or a webhook Stripe delivers again
	before func(t *testing.T, w *world)              // runs without failures
	action func(ctx context.Context, w *world) error // interrupted after each step in turn
	check  func(t *testing.T, w *world)              // the state once finished
}

var scenarios = []scenario{
	{
		name: "post a task",
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.Create(ctx, buyer, newTaskInput(w, 2))
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTask(t)
			if tk.OpenSlots != 2 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 30 {
				t.Errorf("task %+v, escrow %d, buyer %d", tk, w.balance(t, ledger.EscrowAccount(tk.ID)), w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.recorded(t, reputation.Record{UserID: buyer.UserID, TasksPosted: 1})
		},
	},
	{
		name:   "submit",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) },
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Submit(ctx, worker, w.onlyTaskQuiet(), "proof")
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusPending || tk.OpenSlots != 1 || !slices.Equal(tk.PendingSubs, []string{sub.ID}) {
				t.Errorf("task %+v, submission %+v", tk, sub)
			}
			if w.notified(t, buyer.UserID) != 1 {
				t.Errorf("buyer not notified once")
			}
		},
	},
	{
		name:   "approve",
		before: submitted,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Approve(ctx, buyer, w.onlySubmissionQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusApproved || tk.OpenSlots != 1 || len(tk.PendingSubs) != 0 ||
				w.balance(t, ledger.UserAccount(worker.UserID)) != 10 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 10 {
				t.Errorf("task %+v, submission %+v, worker %d", tk, sub, w.balance(t, ledger.UserAccount(worker.UserID)))
			}
			if w.notified(t, worker.UserID) != 1 {
				t.Errorf("worker not notified once")
			}
			w.recorded(t, reputation.Record{UserID: worker.UserID, Approved: 1})
			w.recorded(t, reputation.Record{UserID: buyer.UserID, TasksPosted: 1, BuyerApproved: 1})
		},
	},
	{
		name:   "reject",
		before: submitted,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Reject(ctx, buyer, w.onlySubmissionQuiet(), "the photo is blurry")
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusRejected || sub.Reason != "the photo is blurry" || tk.OpenSlots != 2 || len(tk.PendingSubs) != 0 ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 {
				t.Errorf("task %+v, submission %+v", tk, sub)
			}
			w.recorded(t, reputation.Record{UserID: worker.UserID, Rejected: 1})
			w.recorded(t, reputation.Record{UserID: buyer.UserID, TasksPosted: 1, BuyerRejected: 1})
		},
	},
	{
		// Recovery finishes the approval; the buyer is told by the job's
		// next round, which tells what an earlier one did not get to.
		name:  "auto-approve",
		retry: true,
		before: func(t *testing.T, w *world) {
			submitted(t, w)
			w.Clock.Advance(73 * time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.AutoApproveDue(ctx)
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusApproved || tk.OpenSlots != 1 || len(tk.PendingSubs) != 0 ||
				w.balance(t, ledger.UserAccount(worker.UserID)) != 10 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 10 {
				t.Errorf("task %+v, submission %+v, worker %d", tk, sub, w.balance(t, ledger.UserAccount(worker.UserID)))
			}
			if w.notified(t, worker.UserID) != 1 || w.notified(t, buyer.UserID) != 2 { // the buyer: the submission, the approval
				t.Errorf("worker notified %d times, buyer %d; want 1 and 2", w.notified(t, worker.UserID), w.notified(t, buyer.UserID))
			}
		},
	},
	{
		name:   "delete a task",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) },
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.Delete(ctx, buyer, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk := w.onlyTaskAnyStatus(t)
			if tk.Status != task.StatusDeleted || tk.OpenSlots != 0 || w.balance(t, ledger.EscrowAccount(tk.ID)) != 0 ||
				w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, buyer %d", tk, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
		},
	},
	{
		name: "expire a task",
		before: func(t *testing.T, w *world) {
			w.newTask(t, 2)
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
			if tk.Status != task.StatusExpired || tk.OpenSlots != 0 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, buyer %d", tk, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
		},
	},
}

// adminScenarios are the admins' operations.
var adminScenarios = []scenario{
	{
		name:   "suspend a buyer",
		before: func(t *testing.T, w *world) { w.newTask(t, 2) },
		action: func(ctx context.Context, w *world) error {
			return w.Users.SetStatus(ctx, admin, buyer.UserID, user.StatusSuspended, "")
		},
		check: func(t *testing.T, w *world) {
			u, err := w.Users.Get(context.Background(), buyer.UserID)
			if err != nil || u.Status != user.StatusSuspended || !w.onlyTask(t).Hidden {
				t.Errorf("buyer %+v (%v), task hidden %v", u, err, w.onlyTask(t).Hidden)
			}
			w.logged(t, adminlog.UserSuspended)
		},
	},
	{
		name: "overturn a rejection",
		before: func(t *testing.T, w *world) {
			submitted(t, w)
			if _, err := w.Submissions.Reject(context.Background(), buyer, w.onlySubmissionQuiet(), "not the requested proof"); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Overturn(ctx, admin, w.onlySubmissionQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusApproved || tk.OpenSlots != 1 || w.balance(t, ledger.UserAccount(worker.UserID)) != 10 ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 10 {
				t.Errorf("task %+v, submission %+v, worker %d", tk, sub, w.balance(t, ledger.UserAccount(worker.UserID)))
			}
			w.logged(t, adminlog.SubmissionOverturned)
			w.recorded(t, reputation.Record{UserID: worker.UserID, Approved: 1})
			w.recorded(t, reputation.Record{UserID: buyer.UserID, TasksPosted: 1, BuyerApproved: 1})
		},
	},
	{
		name:   "rework a rejection from its reopened slot",
		before: rejected,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Rework(ctx, admin, w.onlySubmissionQuiet(), reworkDue)
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTask(t), w.onlySubmission(t)
			if sub.Status != submission.StatusRevision || !sub.RevisionDeadline.Equal(reworkDue) || sub.Reworks != 1 || tk.OpenSlots != 1 ||
				!slices.Contains(tk.PendingSubs, sub.ID) || w.balance(t, ledger.EscrowAccount(tk.ID)) != 20 ||
				w.balance(t, ledger.UserAccount(buyer.UserID)) != 30 {
				t.Errorf("task %+v, submission %+v, buyer %d", tk, sub, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.logged(t, adminlog.SubmissionReworked)
		},
	},
	{
		name: "rework a rejection the buyer pays",
		before: func(t *testing.T, w *world) {
			rejected(t, w)
			if _, err := w.Tasks.CloseEarly(context.Background(), buyer, w.onlyTaskQuiet()); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Rework(ctx, admin, w.onlySubmissionQuiet(), reworkDue)
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTaskAnyStatus(t), w.onlySubmission(t)
			if sub.Status != submission.StatusRevision || sub.Reworks != 1 || tk.OpenSlots != 0 || tk.Status != task.StatusClosed ||
				!slices.Equal(tk.PendingSubs, []string{sub.ID}) || w.balance(t, ledger.EscrowAccount(tk.ID)) != 10 ||
				w.balance(t, ledger.UserAccount(buyer.UserID)) != 40 {
				t.Errorf("task %+v, submission %+v, buyer %d", tk, sub, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.logged(t, adminlog.SubmissionReworked)
		},
	},
	{
		name:   "remove a task",
		retry:  true,
		before: submitted,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.Remove(ctx, admin, w.onlyTaskQuiet())
			if errors.Is(err, task.ErrNotFound) {
				return nil // removed already: asking again is done
			}
			return err
		},
		check: func(t *testing.T, w *world) {
			tk, sub := w.onlyTaskAnyStatus(t), w.onlySubmission(t)
			if tk.Status != task.StatusDeleted || sub.Status != submission.StatusCancelled ||
				w.balance(t, ledger.EscrowAccount(tk.ID)) != 0 || w.balance(t, ledger.UserAccount(buyer.UserID)) != 50 {
				t.Errorf("task %+v, submission %s, buyer %d", tk, sub.Status, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.logged(t, adminlog.TaskRemoved)
		},
	},
}

// moneyScenarios are the operations of coins coming in and going out.
var moneyScenarios = []scenario{
	{
		name: "confirm a purchase",
		before: func(t *testing.T, w *world) {
			if _, err := w.Payments.Create(context.Background(), buyer, 150, ""); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Payments.Confirm(ctx, buyer, w.onlyPayment())
			return err
		},
		check: func(t *testing.T, w *world) {
			p, err := w.Stores.Payments.ByID(context.Background(), w.onlyPayment())
			if err != nil || p.Status != payment.StatusPaid || w.balance(t, ledger.UserAccount(buyer.UserID)) != 200 {
				t.Errorf("payment %+v (%v), buyer %d", p, err, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			if w.notified(t, buyer.UserID) != 1 {
				t.Errorf("buyer not notified once")
			}
			w.invoicedOnce(t, p)
		},
	},
	{
		// Stripe delivers the event again when the crash kept it from an
		// answer.
		name: "pay a purchase, told by Stripe", stripe: true, retry: true,
		before: func(t *testing.T, w *world) {
			if _, err := w.Payments.Create(context.Background(), buyer, 150, ""); err != nil {
				t.Fatal(err)
			}
		},
		action: deliver(apptest.Paid),
		check: func(t *testing.T, w *world) {
			p, err := w.Stores.Payments.ByID(context.Background(), w.onlyPayment())
			if err != nil || p.Status != payment.StatusPaid || w.balance(t, ledger.UserAccount(buyer.UserID)) != 200 {
				t.Errorf("payment %+v (%v), buyer %d", p, err, w.balance(t, ledger.UserAccount(buyer.UserID)))
			}
			w.invoicedOnce(t, p)
		},
	},
	{
		name:   "request a withdrawal",
		before: workerCoins(300),
		action: func(ctx context.Context, w *world) error {
			_, err := w.Withdrawals.Request(ctx, worker, withdrawal.Request{Coins: 200, System: "bkash", AccountNumber: "0170000"})
			return err
		},
		check: func(t *testing.T, w *world) {
			wd := w.onlyWithdrawal(t)
			if wd.Status != withdrawal.StatusPending || w.balance(t, ledger.HoldAccount(wd.ID)) != 200 || w.balance(t, ledger.UserAccount(worker.UserID)) != 100 {
				t.Errorf("withdrawal %+v, worker %d", wd, w.balance(t, ledger.UserAccount(worker.UserID)))
			}
		},
	},
	{
		name:   "approve a withdrawal",
		before: withdrawalRequested,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Withdrawals.Approve(ctx, admin, w.onlyWithdrawalQuiet())
			return err
		},
		check: func(t *testing.T, w *world) {
			wd := w.onlyWithdrawal(t)
			if wd.Status != withdrawal.StatusApproved || w.balance(t, ledger.Payout) != 200 || w.balance(t, ledger.HoldAccount(wd.ID)) != 0 {
				t.Errorf("withdrawal %+v, payout %d", wd, w.balance(t, ledger.Payout))
			}
			w.logged(t, adminlog.WithdrawalApproved)
			if w.notified(t, worker.UserID) != 1 {
				t.Errorf("worker not notified once")
			}
		},
	},
	{
		name:   "reject a withdrawal",
		before: withdrawalRequested,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Withdrawals.Reject(ctx, admin, w.onlyWithdrawalQuiet(), "wrong number")
			return err
		},
		check: func(t *testing.T, w *world) {
			wd := w.onlyWithdrawal(t)
			if wd.Status != withdrawal.StatusRejected || w.balance(t, ledger.UserAccount(worker.UserID)) != 300 || w.balance(t, ledger.HoldAccount(wd.ID)) != 0 {
				t.Errorf("withdrawal %+v, worker %d", wd, w.balance(t, ledger.UserAccount(worker.UserID)))
			}
			w.logged(t, adminlog.WithdrawalRejected)
		},
	},
}

var admin = auth.Principal{UserID: "admin", Role: auth.RoleAdmin}

// clawbackScenarios take coins back after Stripe refunds a purchase or the
// buyer's bank disputes it.
var clawbackScenarios = []scenario{
	{
		// Stripe delivers the event again when the crash kept it from an
		// answer; the second delivery must move nothing more.
		name: "take back a partial refund", stripe: true, retry: true,
		before: boughtByWebhook(150),
		action: deliver(func(p payment.Payment) payment.Event {
			return payment.Event{ID: "evt_r", Kind: payment.EventRefunded, PaymentIntentID: "pi_" + p.ID, Amount: 1000, Refunded: 500, Currency: "usd"}
		}),
		check: wantClawback(payment.StatusRefunded, payment.Reversal{Refunded: 500, Taken: 75}, 125),
	},
	{
		name: "take back what is left after a dispute", stripe: true,
		before: func(t *testing.T, w *world) {
			boughtByWebhook(150)(t, w) // 50 + 150
			w.newTask(t, 10)           // 100 of them spent
		},
		action: deliver(disputeOf),
		check:  wantClawback(payment.StatusDisputed, payment.Reversal{Disputed: true, Taken: 100, Shortfall: 50}, 0),
	},
	{
		// The balance read says 150 but the buyer holds 100: the debit of
		// 150 comes up short, the operation fails and reverts, and the
		// delivery (or Stripe's next one) works it out again from 100.
		name: "take back a refund while the buyer spends", stripe: true, retry: true,
		before: func(t *testing.T, w *world) {
			boughtByWebhook(150)(t, w) // 50 + 150
			w.newTask(t, 10)           // 100 of them spent
		},
		action: func(ctx context.Context, w *world) error {
			p, err := w.Stores.Payments.ByID(ctx, w.onlyPayment())
			if err != nil {
				return err
			}
			ev := payment.Event{ID: "evt_r", Kind: payment.EventRefunded, PaymentIntentID: "pi_" + p.ID, Amount: 1000, Refunded: 1000, Currency: "usd"}
			return w.PaymentsRacingASpender(&apptest.Webhooks{}, 50).HandleWebhook(ctx, apptest.Payload(ev), "")
		},
		check: wantClawback(payment.StatusRefunded, payment.Reversal{Refunded: 1000, Taken: 100, Shortfall: 50}, 0),
	},
	{
		name: "record a dispute the buyer cannot pay back", stripe: true,
		before: func(t *testing.T, w *world) {
			boughtByWebhook(10)(t, w) // 50 + 10
			w.newTask(t, 6)           // all 60 spent
		},
		action: deliver(disputeOf),
		check:  wantClawback(payment.StatusDisputed, payment.Reversal{Disputed: true, Shortfall: 10}, 0),
	},
}

// boughtByWebhook has the buyer buy a package, paid by its webhook.
func boughtByWebhook(coins int64) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		pay, err := w.Payments.Create(context.Background(), buyer, coins, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Payments.HandleWebhook(context.Background(), apptest.Payload(apptest.Paid(pay)), ""); err != nil {
			t.Fatal(err)
		}
	}
}

func disputeOf(p payment.Payment) payment.Event {
	return payment.Event{ID: "evt_d", Kind: payment.EventDisputed, PaymentIntentID: "pi_" + p.ID, Amount: p.Amount, Currency: "usd"}
}

// deliver is the action of delivering the webhook event about the buyer's
// only payment.
func deliver(event func(payment.Payment) payment.Event) func(ctx context.Context, w *world) error {
	return func(ctx context.Context, w *world) error {
		p, err := w.Stores.Payments.ByID(ctx, w.onlyPayment())
		if err != nil {
			return err
		}
		return w.Payments.HandleWebhook(ctx, apptest.Payload(event(p)), "")
	}
}

// wantClawback checks the buyer's only payment, their balance and block,
// the clawback account, and that the admin and the buyer were told once.
func wantClawback(status payment.Status, want payment.Reversal, balance money.Coins) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		ctx := context.Background()
		p, err := w.Stores.Payments.ByID(ctx, w.onlyPayment())
		if err != nil || p.Status != status || p.Reversal != want || p.ClawbackOp != "" {
			t.Errorf("payment %+v (%v), want %s with %+v", p, err, status, want)
		}
		if got := w.balance(t, ledger.UserAccount(buyer.UserID)); got != balance {
			t.Errorf("buyer's coins = %d, want %d", got, balance)
		}
		if got := w.balance(t, ledger.Clawback); got != want.Taken {
			t.Errorf("clawback account = %d, want %d", got, want.Taken)
		}
		if blocked, err := w.Stores.PurchaseBlocks.Blocked(ctx, buyer.UserID); err != nil || !blocked {
			t.Errorf("buyer blocked = %v (%v), want true", blocked, err)
		}
		if w.notified(t, admin.UserID) != 1 || w.notified(t, buyer.UserID) != 2 {
			t.Errorf("admin told %d times, buyer %d times; want once, and once after the purchase's", w.notified(t, admin.UserID), w.notified(t, buyer.UserID))
		}
	}
}

func workerCoins(n money.Coins) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		if _, err := apptest.Grant.Run(context.Background(), w.Operations, "worker", ledger.Move(ledger.Mint, ledger.UserAccount(worker.UserID), n), struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
}

func withdrawalRequested(t *testing.T, w *world) {
	workerCoins(300)(t, w)
	if _, err := w.Withdrawals.Request(context.Background(), worker, withdrawal.Request{Coins: 200, System: "bkash", AccountNumber: "0170000"}); err != nil {
		t.Fatal(err)
	}
}

// invoicedOnce fails unless the buyer has one invoice, the first of its
// year, for the paid purchase p: the platform's sale at the price paid.
func (w *world) invoicedOnce(t *testing.T, p payment.Payment) {
	t.Helper()
	got, err := w.Invoices.List(context.Background(), admin, "", page.Request{Number: 1, Limit: 10})
	if err != nil || got.Total != 1 {
		t.Fatalf("invoices = %+v (%v), want one", got.Items, err)
	}
	inv := got.Items[0]
	if inv.Ref != "purchase:"+p.SessionID || inv.Seq != 1 || inv.Buyer.ID != buyer.UserID || inv.Seller.ID != invoice.Platform ||
		inv.Coins != p.Coins || inv.Value != p.Amount {
		t.Errorf("invoice %+v, want number 1 for payment %+v", inv, p)
	}
}

func (w *world) onlyPayment() string {
	ps, _, _ := w.Stores.Payments.List(context.Background(), buyer.UserID, page.Request{Number: 1, Limit: 1})
	if len(ps) == 0 {
		return ""
	}
	return ps[0].ID
}

func (w *world) onlyWithdrawalQuiet() string {
	ws, _ := w.workerWithdrawals()
	if len(ws) == 0 {
		return ""
	}
	return ws[0].ID
}

func (w *world) onlyWithdrawal(t *testing.T) withdrawal.Withdrawal {
	t.Helper()
	ws, err := w.workerWithdrawals()
	if err != nil || len(ws) != 1 {
		t.Fatalf("withdrawals = %v, %v; want one", ws, err)
	}
	return ws[0]
}

func newTaskInput(w *world, slots int) task.NewTask {
	return task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"}, Workers: slots, Pay: 10,
		CompletionDate: w.Clock.Now().Add(24 * time.Hour)}
}

func submitted(t *testing.T, w *world) {
	tk := w.newTask(t, 2)
	if _, err := w.Submissions.Submit(context.Background(), worker, tk.ID, "proof"); err != nil {
		t.Fatal(err)
	}
}

// rejected is submitted, and the submission rejected: its slot reopened.
func rejected(t *testing.T, w *world) {
	submitted(t, w)
	if _, err := w.Submissions.Reject(context.Background(), buyer, w.onlySubmissionQuiet(), "not the requested proof"); err != nil {
		t.Fatal(err)
	}
}

// reworkDue is the deadline of the reworks of the scenarios: two days
// after their clock's start.
var reworkDue = time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)

// The quiet lookups serve actions, which cannot fail the test themselves.
func (w *world) onlyTaskQuiet() string {
	all, _ := w.buyerTasks()
	if len(all) == 0 {
		return ""
	}
	return all[0].ID
}

func (w *world) onlySubmissionQuiet() string {
	all, _ := w.workerSubmissions()
	if len(all) == 0 {
		return ""
	}
	return all[0].ID
}

func (w *world) onlyTaskAnyStatus(t *testing.T) task.Task {
	t.Helper()
	var found []task.Task
	if err := w.Stores.Tasks.Each(context.Background(), func(tk task.Task) error { found = append(found, tk); return nil }); err != nil || len(found) != 1 {
		t.Fatalf("tasks = %v, %v; want one", found, err)
	}
	return found[0]
}

var errCrash = errors.New("crash")

// TestOperationsSurviveACrashAtEveryStep interrupts each marketplace and
// money operation after every step of its ledger operation in turn,
// restarts the services on the same database and runs recovery: the
// operation must end as if it had never been interrupted, with the ledger
// audit (escrow invariant included) balanced.
func TestOperationsSurviveACrashAtEveryStep(t *testing.T) {
	for _, sc := range slices.Concat(scenarios, moneyScenarios, clawbackScenarios, adminScenarios, lifecycleScenarios, webhookScenarios, batchScenarios,
		contractScenarios, disputeScenarios, timesheetScenarios) {
		t.Run(sc.name, func(t *testing.T) {
			// Every scenario has its own database, emptied before each of
			// its runs; the scenarios run side by side.
			t.Parallel()
			db := newScenarioDB(t)
			steps := sc.run(t, db, "")
			if len(steps) < 4 {
				t.Fatalf("steps = %v", steps)
			}
			for _, step := range steps {
				t.Run("after "+step, func(t *testing.T) { sc.run(t, db, step) })
			}
		})
	}
}

// scenarioDB is a migrated database that each run of a scenario empties
// back to what storagetest.NewDB gave: creating and migrating a database
// for each of the two hundred runs took half of this test's time.
type scenarioDB struct {
	*docdb.DB
	seeded map[string]int64 // the collections that hold documents when fresh (the record of migrations), and how many
}

func newScenarioDB(t *testing.T) *scenarioDB {
	t.Helper()
	ctx := context.Background()
	db := &scenarioDB{DB: storagetest.NewDB(t), seeded: map[string]int64{}}
	names, err := db.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		n, err := db.Collection(name).Count(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			db.seeded[name] = n
		}
	}
	return db
}

// empty deletes every document the runs before left, and fails if one of
// them wrote where the migrations did, which emptying cannot put back.
func (db *scenarioDB) empty(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	names, err := db.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		c := db.Collection(name)
		if want, ok := db.seeded[name]; ok {
			if n, err := c.Count(ctx, bson.D{}); err != nil || n != want {
				t.Fatalf("%s holds %d documents (%v), %d in a fresh database: a run wrote to it", name, n, err, want)
			}
			continue
		}
		if _, err := c.DeleteMany(ctx, bson.D{}); err != nil {
			t.Fatalf("empty %s: %v", name, err)
		}
	}
}

func (sc scenario) run(t *testing.T, sdb *scenarioDB, crashAt string) []string {
	sdb.empty(t)
	db := sdb.DB
	c := clocktest.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	w := build(t, db, c, sc.stripe)
	setUp(t, w)
	if sc.before != nil {
		sc.before(t, w)
	}
	// A step seen again (an operation run inside another's step, as a
	// batch's close runs each task's refund) is named by its occurrence,
	// so that each is interrupted in turn.
	var steps []string
	seen := map[string]int{}
	w.Operations.InjectFailures(func(step string) error {
		if seen[step]++; seen[step] > 1 {
			step = fmt.Sprintf("%s#%d", step, seen[step])
		}
		steps = append(steps, step)
		if step == crashAt {
			return errCrash
		}
		return nil
	})
	err := sc.action(context.Background(), w)
	if crashAt == "" && err != nil {
		t.Fatalf("uninterrupted action: %v", err)
	}
	if crashAt != "" {
		if !errors.Is(err, errCrash) {
			t.Fatalf("action = %v, want the crash", err)
		}
		// Restart: new services on the same data; the lease runs out and
		// recovery finishes the operation.
		w = build(t, db, c, sc.stripe)
		c.Advance(operation.DefaultLeaseTTL + time.Second)
		if _, err := w.Operations.Recover(context.Background()); err != nil {
			t.Fatalf("Recover() = %v", err)
		}
		if sc.retry {
			if err := sc.action(context.Background(), w); err != nil {
				t.Fatalf("the request again after recovery: %v", err)
			}
		}
	}
	sc.check(t, w)
	r, err := w.Ledger.Audit(context.Background())
	if err != nil || !r.Balanced || r.InFlight != 0 || r.Uncleared != 0 {
		t.Errorf("audit = %+v, %v", r, err)
	}
	return steps
}
