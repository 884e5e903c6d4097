package contract_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/contract"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/report"
)

// disputed is a hired contract whose first milestone (40 coins) the
// worker submitted and the buyer disputed; the buyer has 160 coins left.
func disputed(t *testing.T, e *apptest.Env) (buyer, worker auth.Principal, d contract.Detail, dp contract.Dispute) {
	t.Helper()
	ctx := context.Background()
	buyer, worker, d = hired(t, e)
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, d.Items[0].ID, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
	dp, err := e.Contracts.Dispute(ctx, buyer, d.ID, d.Items[0].ID, "The page does not load on phones.")
	if err != nil {
		t.Fatal(err)
	}
	return buyer, worker, d, dp
}

func notifiedOf(t *testing.T, e *apptest.Env, userID string, typ notification.Type) int {
	t.Helper()
	all, err := e.Notifications.List(context.Background(), auth.Principal{UserID: userID}, page.Request{Number: 1, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range all.Items {
		if x.Type == typ {
			n++
		}
	}
	return n
}

// TestDispute: a disputed milestone keeps its coins in escrow, leaves the
// buyer's review (no approval, changes, auto-release nor end), both
// parties are told, and the admins find it in the reports' queue with the
// contract, the milestone and the parties' conversation.
func TestDispute(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d, dp := disputed(t, e)
	admin := e.User(t, auth.RoleAdmin)
	first := d.Items[0].ID
	got, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if got.Items[0].Status != contract.ItemDisputed || got.Holding != 40 || len(got.Disputed) != 1 || len(got.Submitted) != 0 ||
		got.Items[0].DisputeID != dp.ID || dp.By.ID != buyer.UserID {
		t.Errorf("after the dispute: contract %+v, item %+v", got.Contract, got.Items[0])
	}
	for _, who := range []auth.Principal{buyer, worker} {
		if n := notifiedOf(t, e, who.UserID, notification.MilestoneDisputed); n != 1 {
			t.Errorf("%s told of the dispute %d times", who.UserID, n)
		}
	}
	_, err := e.Contracts.Approve(ctx, buyer, d.ID, first)
	wantErr(t, err, contract.ErrNotSubmitted)
	_, err = e.Contracts.RequestChanges(ctx, buyer, d.ID, first, "Please redo the header.")
	wantErr(t, err, contract.ErrNotSubmitted)
	_, err = e.Contracts.End(ctx, worker, d.ID, "")
	wantErr(t, err, contract.ErrDisputed)
	_, err = e.Contracts.Dispute(ctx, worker, d.ID, first, "The buyer moved the goalposts.")
	wantErr(t, err, contract.ErrDisputed)
	e.Clock.Advance(contract.DefaultAutoRelease + time.Hour)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 0 {
		t.Errorf("auto-release of a disputed milestone = %d, %v", n, err)
	}

	queue, err := e.Reports.List(ctx, admin, report.StatusOpen, firstPage)
	if err != nil || queue.Total != 1 || queue.Items[0].ID != dp.ID || queue.Items[0].TargetType != report.TargetMilestone ||
		queue.Items[0].TargetID != first || queue.Items[0].Reporter.ID != buyer.UserID {
		t.Fatalf("queue = %+v, %v", queue.Items, err)
	}
	_, target, err := e.Reports.WithTarget(ctx, admin, dp.ID)
	if err != nil || target.Contract == nil || target.Contract.ID != d.ID || target.Milestone == nil ||
		target.Milestone.Message != "Done." || target.Conversation == nil {
		t.Errorf("target = %+v, %v", target, err)
	}
}

// TestDisputeRules: who may dispute what, and the bounds of a reason.
func TestDisputeRules(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e)
	stranger := e.User(t, auth.RoleBuyer)
	first, second := d.Items[0].ID, d.Items[1].ID
	reason := "It is not what we agreed."
	_, err := e.Contracts.Dispute(ctx, worker, d.ID, first, reason)
	wantErr(t, err, contract.ErrNotSubmitted)
	_, err = e.Contracts.Dispute(ctx, buyer, d.ID, second, reason)
	wantErr(t, err, contract.ErrNotSubmitted)
	_, err = e.Contracts.Dispute(ctx, stranger, d.ID, first, reason)
	wantErr(t, err, contract.ErrNotFound)
	_, err = e.Contracts.Dispute(ctx, buyer, d.ID, "nope", reason)
	wantErr(t, err, contract.ErrItemNotFound)
	_, err = e.Contracts.Dispute(ctx, buyer, d.ID, first, "short")
	if fe := fieldsOf(err); len(fe) != 1 || fe[0].Field != "reason" {
		t.Errorf("short reason: %v", err)
	}
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
	dp, err := e.Contracts.Dispute(ctx, worker, d.ID, first, reason)
	if err != nil || dp.By.ID != worker.UserID {
		t.Fatalf("the worker's dispute = %+v, %v", dp, err)
	}
	_, err = e.Contracts.Decide(ctx, buyer, first, contract.Ruling{DisputeID: dp.ID, Action: contract.ResolveRelease})
	wantErr(t, err, auth.ErrWrongRole)
}

// TestDisputeDecisions: each decision of the admin, through the reports'
// queue, moves the escrow as it says in one operation, invoices what the
// worker is paid, is logged and told to both parties.
func TestDisputeDecisions(t *testing.T) {
	tests := []struct {
		verdict                  report.Verdict
		status                   contract.ItemStatus
		escrow, buyer, worker    money.Coins
		paid, refunded, invoiced money.Coins
	}{
		{report.Verdict{Action: report.ActionRelease}, contract.ItemReleased, 0, 160, 40, 40, 0, 40},
		{report.Verdict{Action: report.ActionRefund}, contract.ItemRefunded, 0, 200, 0, 0, 40, 0},
		{report.Verdict{Action: report.ActionSplit, WorkerCoins: 15}, contract.ItemSplit, 0, 185, 15, 15, 25, 15},
		{report.Verdict{Action: report.ActionRework, Deadline: apptest.Start.Add(72 * time.Hour)}, contract.ItemFunded, 40, 160, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.verdict.Action), func(t *testing.T) {
			e := apptest.New(t)
			ctx := context.Background()
			buyer, worker, d, dp := disputed(t, e)
			admin := e.User(t, auth.RoleAdmin)
			v := tt.verdict
			v.Status, v.Note = report.StatusResolved, "Both have a point."
			rp, err := e.Reports.DecideWith(ctx, admin, dp.ID, v)
			if err != nil || rp.Status != report.StatusResolved || rp.Action != v.Action {
				t.Fatalf("decide = %+v, %v", rp, err)
			}
			got, _ := e.Contracts.Get(ctx, buyer, d.ID)
			it := got.Items[0]
			if it.Status != tt.status || it.Resolution != contract.Resolution(v.Action) || it.WorkerCoins != tt.paid ||
				got.Holding != tt.escrow || got.Paid != tt.paid || got.Refunded != tt.refunded || len(got.Disputed) != 0 {
				t.Errorf("contract %+v, item %+v", got.Contract, it)
			}
			if e.Coins(t, buyer.UserID) != tt.buyer || e.Coins(t, worker.UserID) != tt.worker ||
				e.Balance(t, ledger.ContractAccount(d.ID)) != tt.escrow {
				t.Errorf("buyer %d, worker %d, escrow %d", e.Coins(t, buyer.UserID), e.Coins(t, worker.UserID),
					e.Balance(t, ledger.ContractAccount(d.ID)))
			}
			invs := invoicesOf(t, e, d.ID)
			var invoiced money.Coins
			for _, inv := range invs {
				invoiced += inv.Coins
			}
			if invoiced != tt.invoiced || (tt.invoiced == 0) != (len(invs) == 0) {
				t.Errorf("invoiced %d in %d invoices, want %d", invoiced, len(invs), tt.invoiced)
			}
			log, err := e.AdminLog.List(ctx, admin, adminlog.Filter{Kind: adminlog.DisputeDecided}, firstPage)
			if err != nil || log.Total != 1 || log.Items[0].TargetID != it.ID || log.Items[0].Reason != v.Note {
				t.Errorf("admin log = %+v, %v", log.Items, err)
			}
			for _, who := range []auth.Principal{buyer, worker} {
				if n := notifiedOf(t, e, who.UserID, notification.DisputeDecided); n != 1 {
					t.Errorf("%s told of the decision %d times", who.UserID, n)
				}
			}
			if v.Action == report.ActionRework && !it.ReworkDeadline.Equal(v.Deadline) {
				t.Errorf("rework deadline = %v, want %v", it.ReworkDeadline, v.Deadline)
			}
			// Decided, the report is closed, and the milestone in no
			// dispute: deciding again is refused.
			_, err = e.Reports.DecideWith(ctx, admin, dp.ID, v)
			wantErr(t, err, report.ErrClosed)
			_, err = e.Contracts.Decide(ctx, admin, it.ID, contract.Ruling{DisputeID: dp.ID, Action: contract.ResolveRefund})
			wantErr(t, err, contract.ErrNotDisputed)
		})
	}
}

// TestDecisionBounds: the report's decision of a dispute takes one of the
// four actions, a split leaves each side at least a coin, a rework's
// deadline is ahead; the report stays open after a refusal.
func TestDecisionBounds(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	_, _, _, dp := disputed(t, e)
	admin := e.User(t, auth.RoleAdmin)
	tests := []struct {
		v     report.Verdict
		field string
	}{
		{report.Verdict{Status: report.StatusDismissed}, "action"},
		{report.Verdict{Status: report.StatusResolved}, "action"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionOverturnRejection}, "action"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionSplit}, "worker_coins"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionSplit, WorkerCoins: 40}, "worker_coins"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionRelease, WorkerCoins: 4}, "worker_coins"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionRework}, "deadline"},
		{report.Verdict{Status: report.StatusResolved, Action: report.ActionRework, Deadline: apptest.Start.Add(-time.Hour)}, "deadline"},
	}
	for _, tt := range tests {
		_, err := e.Reports.DecideWith(ctx, admin, dp.ID, tt.v)
		if fe := fieldsOf(err); len(fe) != 1 || fe[0].Field != tt.field {
			t.Errorf("%+v: err = %v, want one error of %s", tt.v, err, tt.field)
		}
	}
	if rp, _ := e.Reports.Get(ctx, admin, dp.ID); rp.Status != report.StatusOpen {
		t.Errorf("report = %+v, want open", rp)
	}
}

// TestAutoReleaseRacesDispute: the auto-release job and a dispute of one
// milestone at once: exactly one wins, and the escrow matches it.
func TestAutoReleaseRacesDispute(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hired(t, e)
		first := d.Items[0].ID
		if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Done."}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(contract.DefaultAutoRelease)
		var wg sync.WaitGroup
		var released int
		var releaseErr, disputeErr error
		wg.Go(func() { released, releaseErr = e.Contracts.ReleaseDue(ctx) })
		wg.Go(func() { _, disputeErr = e.Contracts.Dispute(ctx, buyer, d.ID, first, "Not what we agreed.") })
		wg.Wait()
		if releaseErr != nil || (released == 1) == (disputeErr == nil) {
			t.Fatalf("released %d (%v), dispute %v: want exactly one", released, releaseErr, disputeErr)
		}
		if disputeErr != nil && !errors.Is(disputeErr, contract.ErrNotSubmitted) {
			t.Fatalf("dispute: %v", disputeErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		switch {
		case released == 1 && (got.Items[0].Status != contract.ItemReleased || e.Coins(t, worker.UserID) != 40):
			t.Errorf("released, but the item is %s and the worker has %d", got.Items[0].Status, e.Coins(t, worker.UserID))
		case disputeErr == nil && (got.Items[0].Status != contract.ItemDisputed || got.Holding != 40 || e.Coins(t, worker.UserID) != 0):
			t.Errorf("disputed, but the item is %s, escrow %d", got.Items[0].Status, got.Holding)
		}
		if got.Holding != e.Balance(t, ledger.ContractAccount(d.ID)) {
			t.Errorf("the contract says %d in escrow, the account %d", got.Holding, e.Balance(t, ledger.ContractAccount(d.ID)))
		}
	}
}

// TestTwoDecisionsAtOnce: a release and a refund of one dispute at once
// (two admins): exactly one is carried out and closes the report.
func TestTwoDecisionsAtOnce(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d, dp := disputed(t, e)
		a1, a2 := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin)
		var wg sync.WaitGroup
		var releaseErr, refundErr error
		wg.Go(func() {
			_, releaseErr = e.Reports.DecideWith(ctx, a1, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRelease})
		})
		wg.Go(func() {
			_, refundErr = e.Reports.DecideWith(ctx, a2, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRefund})
		})
		wg.Wait()
		if (releaseErr == nil) == (refundErr == nil) {
			t.Fatalf("release: %v, refund: %v; want exactly one", releaseErr, refundErr)
		}
		for _, err := range []error{releaseErr, refundErr} {
			if err != nil && !errors.Is(err, contract.ErrNotDisputed) && !errors.Is(err, report.ErrClosed) {
				t.Fatalf("the loser: %v", err)
			}
		}
		rp, _ := e.Reports.Get(ctx, a1, dp.ID)
		switch {
		case releaseErr == nil && (e.Coins(t, worker.UserID) != 40 || rp.Action != report.ActionRelease):
			t.Errorf("released, but the worker has %d, the report %+v", e.Coins(t, worker.UserID), rp)
		case refundErr == nil && (e.Coins(t, buyer.UserID) != 200 || rp.Action != report.ActionRefund):
			t.Errorf("refunded, but the buyer has %d, the report %+v", e.Coins(t, buyer.UserID), rp)
		}
		if got, _ := e.Contracts.Get(ctx, buyer, d.ID); got.Holding != 0 || e.Balance(t, ledger.ContractAccount(d.ID)) != 0 {
			t.Errorf("escrow %d, account %d", got.Holding, e.Balance(t, ledger.ContractAccount(d.ID)))
		}
	}
}

// TestDecisionRacesEnd: a rework decision and the contract's end at once:
// the end waits for no dispute, so it either is refused or comes after
// the rework and refunds the milestone sent back; the escrow matches.
func TestDecisionRacesEnd(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d, dp := disputed(t, e)
		admin := e.User(t, auth.RoleAdmin)
		var wg sync.WaitGroup
		var decideErr, endErr error
		wg.Go(func() {
			_, decideErr = e.Reports.DecideWith(ctx, admin, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
				Deadline: apptest.Start.Add(48 * time.Hour)})
		})
		wg.Go(func() { _, endErr = e.Contracts.End(ctx, worker, d.ID, "") })
		wg.Wait()
		if decideErr != nil {
			t.Fatalf("decide: %v", decideErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		switch {
		case endErr == nil && (got.Status != contract.StatusEnded || got.Items[0].Status != contract.ItemRefunded || e.Coins(t, buyer.UserID) != 200):
			t.Errorf("ended after the rework, but %+v, item %s, buyer %d", got.Contract, got.Items[0].Status, e.Coins(t, buyer.UserID))
		case endErr != nil && !errors.Is(endErr, contract.ErrDisputed):
			t.Errorf("end: %v", endErr)
		case endErr != nil && got.Items[0].Status != contract.ItemFunded:
			t.Errorf("reworked, but the item is %s", got.Items[0].Status)
		}
		if got.Holding != e.Balance(t, ledger.ContractAccount(d.ID)) {
			t.Errorf("the contract says %d in escrow, the account %d", got.Holding, e.Balance(t, ledger.ContractAccount(d.ID)))
		}
	}
}

// TestReworkMissed: a milestone sent back by an admin is the buyer's to
// refund once its deadline passed unsubmitted, not before; submitted in
// time, it is in the buyer's review again.
func TestReworkMissed(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d, dp := disputed(t, e)
	admin := e.User(t, auth.RoleAdmin)
	first := d.Items[0].ID
	deadline := apptest.Start.Add(48 * time.Hour)
	if _, err := e.Reports.DecideWith(ctx, admin, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
		Deadline: deadline}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Contracts.RefundMissed(ctx, buyer, d.ID, first)
	wantErr(t, err, contract.ErrReworkNotMissed)
	_, err = e.Contracts.RefundMissed(ctx, worker, d.ID, first)
	wantErr(t, err, contract.ErrNotFound)
	e.Clock.Advance(49 * time.Hour)
	it, err := e.Contracts.RefundMissed(ctx, buyer, d.ID, first)
	if err != nil || it.Status != contract.ItemRefunded || e.Coins(t, buyer.UserID) != 200 {
		t.Fatalf("refund = %+v, %v; buyer %d", it, err, e.Coins(t, buyer.UserID))
	}
	_, err = e.Contracts.RefundMissed(ctx, buyer, d.ID, first)
	wantErr(t, err, contract.ErrReworkNotMissed)
	// The contract goes on: the second milestone may be funded.
	if _, err := e.Contracts.Fund(ctx, buyer, d.ID, d.Items[1].ID); err != nil {
		t.Fatal(err)
	}
}

// TestReworkSubmittedInTime: a rework submitted before its deadline is
// reviewed again, and no longer refundable as missed.
func TestReworkSubmittedInTime(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d, dp := disputed(t, e)
	admin := e.User(t, auth.RoleAdmin)
	first := d.Items[0].ID
	if _, err := e.Reports.DecideWith(ctx, admin, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRework,
		Deadline: apptest.Start.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	it, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Fixed for phones."})
	if err != nil || it.Status != contract.ItemSubmitted || !it.ReworkDeadline.IsZero() {
		t.Fatalf("submit = %+v, %v", it, err)
	}
	e.Clock.Advance(72 * time.Hour)
	_, err = e.Contracts.RefundMissed(ctx, buyer, d.ID, first)
	wantErr(t, err, contract.ErrReworkNotMissed)
	// A second dispute of the same milestone is a new report.
	dp2, err := e.Contracts.Dispute(ctx, buyer, d.ID, first, "Still broken on phones.")
	if err != nil || dp2.ID == dp.ID {
		t.Fatalf("second dispute = %+v, %v", dp2, err)
	}
	_, err = e.Reports.DecideWith(ctx, admin, dp2.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionSplit, WorkerCoins: 20})
	if err != nil || e.Coins(t, worker.UserID) != 20 || e.Coins(t, buyer.UserID) != 180 {
		t.Errorf("split = %v; worker %d, buyer %d", err, e.Coins(t, worker.UserID), e.Coins(t, buyer.UserID))
	}
}

// fieldsOf is the field errors of an Invalid error, or none.
func fieldsOf(err error) []apperr.FieldError {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Fields
	}
	return nil
}

// TestDisputeAgainWhileAnOldReportIsOpen: a decision carried out whose
// report a crash left open does not keep the same party from disputing
// the milestone again; the old report, decided again the same way,
// closes.
func TestDisputeAgainWhileAnOldReportIsOpen(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d, dp := disputed(t, e)
	admin := e.User(t, auth.RoleAdmin)
	first := d.Items[0].ID
	rework := contract.Ruling{DisputeID: dp.ID, Action: contract.ResolveRework, Deadline: apptest.Start.Add(48 * time.Hour)}
	if _, err := e.Contracts.Decide(ctx, admin, first, rework); err != nil { // the report stays open, as after a crash
		t.Fatal(err)
	}
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Fixed."}); err != nil {
		t.Fatal(err)
	}
	dp2, err := e.Contracts.Dispute(ctx, buyer, d.ID, first, "Still broken on phones.")
	if err != nil {
		t.Fatal(err)
	}
	queue, err := e.Reports.List(ctx, admin, report.StatusOpen, firstPage)
	if err != nil || queue.Total != 2 {
		t.Fatalf("open reports = %+v, %v; want both rounds", queue.Items, err)
	}
	if _, err := e.Reports.DecideWith(ctx, admin, dp2.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRefund}); err != nil {
		t.Fatal(err)
	}
	if e.Coins(t, buyer.UserID) != 200 {
		t.Errorf("buyer = %d, want 200", e.Coins(t, buyer.UserID))
	}
	// The first round's report, decided already, closes without an
	// action; the second's no longer does.
	if rp, err := e.Reports.DecideWith(ctx, admin, dp.ID, report.Verdict{Status: report.StatusDismissed}); err != nil || rp.Status != report.StatusDismissed {
		t.Errorf("dismiss the old report = %+v, %v", rp, err)
	}
}
