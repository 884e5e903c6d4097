package contract_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/contract"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/report"
)

// firstMonday is the Monday of apptest.Start's week (a Sunday): the first
// week of a contract hired at the start.
var firstMonday = time.Date(2026, 2, 23, 0, 0, 0, 0, time.UTC)

// hourly hires a worker at 18 an hour for up to 10 hours a week: the
// first week's 180 coins escrowed from the buyer's coins.
func hourly(t *testing.T, e *apptest.Env, coins money.Coins) (buyer, worker auth.Principal, d contract.Detail) {
	t.Helper()
	ctx := context.Background()
	buyer, worker = e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, coins)
	j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "Support", Description: "Mail.", Type: job.TypeHourly, HourlyRate: 20, WeeklyHourLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "Me.", HourlyRate: 18, EstimatedDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if d, err = e.Contracts.Hire(ctx, buyer, j.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if !d.Items[0].WeekStart.Equal(firstMonday) || !d.NextWeek.Equal(firstMonday.AddDate(0, 0, 7)) || d.Holding != 180 {
		t.Fatalf("hourly contract = %+v, week %+v", d.Contract, d.Items[0])
	}
	return buyer, worker, d
}

// TestTimesheetApproved: the buyer's approval pays hours × rate and
// refunds the rest of the week, invoiced.
func TestTimesheetApproved(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 500)
	it, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 6, Memo: " Answered mail. "})
	if err != nil || it.Status != contract.ItemSubmitted || it.Hours != 6 || it.Message != "Answered mail." {
		t.Fatalf("log = %+v, %v", it, err)
	}
	got, err := e.Contracts.ApproveTimesheet(ctx, buyer, it.ID)
	if err != nil || got.Status != contract.ItemReleased || got.WorkerCoins != 108 {
		t.Fatalf("approve = %+v, %v", got, err)
	}
	c, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if c.Holding != 0 || c.Paid != 108 || c.Refunded != 72 || e.Coins(t, worker.UserID) != 108 || e.Coins(t, buyer.UserID) != 500-108 {
		t.Errorf("contract %+v; worker %d, buyer %d", c.Contract, e.Coins(t, worker.UserID), e.Coins(t, buyer.UserID))
	}
	if invs := invoicesOf(t, e, d.ID); len(invs) != 1 || invs[0].Ref != "milestone-release:"+it.ID || invs[0].Coins != 108 {
		t.Errorf("invoices = %+v", invs)
	}
	page, err := e.Contracts.Timesheets(ctx, worker, d.ID, firstPage)
	if err != nil || page.Total != 1 || page.Items[0].Hours != 6 {
		t.Errorf("timesheets = %+v, %v", page, err)
	}
}

// TestTimesheetRules: who logs and approves what, the bounds, one per
// week, and the end held by a timesheet in review.
func TestTimesheetRules(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 500)
	stranger := e.User(t, auth.RoleBuyer)
	ts := contract.Timesheet{WeekStart: firstMonday, Hours: 4}
	_, err := e.Contracts.LogTime(ctx, buyer, d.ID, ts)
	wantErr(t, err, contract.ErrNotFound)
	_, err = e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday.Add(time.Hour), Hours: 11})
	if fe := fieldsOf(err); len(fe) != 2 || fe[0].Field != "week_start" || fe[1].Field != "hours" {
		t.Errorf("bad fields: %v", err)
	}
	_, err = e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday.AddDate(0, 0, 7), Hours: 4})
	wantErr(t, err, contract.ErrWeekNotFunded)
	it, err := e.Contracts.LogTime(ctx, worker, d.ID, ts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Contracts.LogTime(ctx, worker, d.ID, ts)
	wantErr(t, err, contract.ErrTimesheetLogged)
	_, err = e.Contracts.End(ctx, buyer, d.ID, "")
	wantErr(t, err, contract.ErrInReview)
	_, err = e.Contracts.ApproveTimesheet(ctx, stranger, it.ID)
	wantErr(t, err, contract.ErrTimesheetNotFound)
	_, err = e.Contracts.ApproveTimesheet(ctx, worker, it.ID)
	wantErr(t, err, contract.ErrTimesheetNotFound)
	_, err = e.Contracts.Resume(ctx, buyer, d.ID)
	wantErr(t, err, contract.ErrNotPaused)

	_, _, fixed := hired(t, e)
	_, err = e.Contracts.LogTime(ctx, auth.Principal{UserID: fixed.Worker.ID, Role: auth.RoleWorker}, fixed.ID, ts)
	wantErr(t, err, contract.ErrNotHourly)
}

// TestTimesheetAutoApproved: a timesheet left alone for TimesheetReview
// is approved by the job, not before.
func TestTimesheetAutoApproved(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 500)
	it, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 10})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(contract.TimesheetReview - time.Minute)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 0 {
		t.Fatalf("before the delay: %d, %v", n, err)
	}
	e.Clock.Advance(time.Minute)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 1 {
		t.Fatalf("at the delay: %d, %v", n, err)
	}
	got, _ := e.Contracts.Item(ctx, buyer, d.ID, it.ID)
	if got.Status != contract.ItemReleased || !got.AutoRelease || e.Coins(t, worker.UserID) != 180 {
		t.Errorf("week %+v, worker %d", got, e.Coins(t, worker.UserID))
	}
}

// TestFundWeeks: each week is funded when it starts; a buyer short of
// coins has the contract paused (both told), not a negative balance;
// resuming funds the week then current.
func TestFundWeeks(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 400) // 220 left: one more week
	if n, err := e.Contracts.FundWeeks(ctx); err != nil || n != 0 {
		t.Fatalf("before the next week: %d, %v", n, err)
	}
	e.Clock.Advance(firstMonday.AddDate(0, 0, 7).Sub(e.Clock.Now()))
	if n, err := e.Contracts.FundWeeks(ctx); err != nil || n != 1 {
		t.Fatalf("the second week: %d, %v", n, err)
	}
	if n, err := e.Contracts.FundWeeks(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d, %v", n, err)
	}
	e.Clock.Advance(firstMonday.AddDate(0, 0, 14).Add(time.Hour).Sub(e.Clock.Now()))
	if n, err := e.Contracts.FundWeeks(ctx); err != nil || n != 0 {
		t.Fatalf("the third week, short: %d, %v", n, err)
	}
	c, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if !c.Paused || c.Holding != 360 || e.Coins(t, buyer.UserID) != 40 || e.Balance(t, ledger.ContractAccount(d.ID)) != 360 {
		t.Errorf("after a week the buyer could not fund: %+v, buyer %d", c.Contract, e.Coins(t, buyer.UserID))
	}
	for _, who := range []auth.Principal{buyer, worker} {
		if n := notifiedOf(t, e, who.UserID, notification.ContractPaused); n != 1 {
			t.Errorf("%s told of the pause %d times", who.UserID, n)
		}
	}
	e.Clock.Advance(24 * time.Hour)
	if n, err := e.Contracts.FundWeeks(ctx); err != nil || n != 0 {
		t.Fatalf("paused: %d, %v", n, err)
	}
	_, err := e.Contracts.Resume(ctx, buyer, d.ID)
	wantErr(t, err, ledger.ErrInsufficientCoins)
	e.Give(t, buyer.UserID, 200)
	e.Clock.Advance(firstMonday.AddDate(0, 0, 22).Sub(e.Clock.Now())) // the week after the one missed
	r, err := e.Contracts.Resume(ctx, buyer, d.ID)
	if err != nil || r.Paused || r.Holding != 540 || !r.NextWeek.Equal(firstMonday.AddDate(0, 0, 28)) {
		t.Fatalf("resume = %+v, %v", r.Contract, err)
	}
	// Three weeks funded, the one missed never; the end refunds the three.
	ended, err := e.Contracts.End(ctx, worker, d.ID, "")
	if err != nil || ended.Refunded != 540 || e.Coins(t, buyer.UserID) != 40+200+540-180 {
		t.Errorf("end = %+v, %v; buyer %d", ended, err, e.Coins(t, buyer.UserID))
	}
}

// TestTimesheetDisputed: a disputed timesheet's release pays its hours ×
// rate, the rest back to the buyer.
func TestTimesheetDisputed(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 500)
	admin := e.User(t, auth.RoleAdmin)
	it, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 5})
	if err != nil {
		t.Fatal(err)
	}
	dp, err := e.Contracts.Dispute(ctx, buyer, d.ID, it.ID, "Five hours for two emails?")
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(contract.TimesheetReview)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 0 {
		t.Fatalf("auto-approval of a disputed timesheet: %d, %v", n, err)
	}
	if _, err := e.Reports.DecideWith(ctx, admin, dp.ID, report.Verdict{Status: report.StatusResolved, Action: report.ActionRelease}); err != nil {
		t.Fatal(err)
	}
	if e.Coins(t, worker.UserID) != 90 || e.Coins(t, buyer.UserID) != 500-90 {
		t.Errorf("worker %d, buyer %d", e.Coins(t, worker.UserID), e.Coins(t, buyer.UserID))
	}
}

// TestTimesheetApprovalRacesDispute: the buyer's approval of a timesheet
// and the worker's dispute of it at once: exactly one wins, and the
// escrow matches it.
func TestTimesheetApprovalRacesDispute(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hourly(t, e, 500)
		it, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 5})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var approveErr, disputeErr error
		wg.Go(func() { _, approveErr = e.Contracts.ApproveTimesheet(ctx, buyer, it.ID) })
		wg.Go(func() { _, disputeErr = e.Contracts.Dispute(ctx, worker, d.ID, it.ID, "Five hours, not four.") })
		wg.Wait()
		if (approveErr == nil) == (disputeErr == nil) {
			t.Fatalf("approve: %v, dispute: %v; want exactly one", approveErr, disputeErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		if got.Holding != e.Balance(t, ledger.ContractAccount(d.ID)) || (approveErr == nil && e.Coins(t, worker.UserID) != 90) {
			t.Errorf("contract %+v, account %d, worker %d", got.Contract, e.Balance(t, ledger.ContractAccount(d.ID)), e.Coins(t, worker.UserID))
		}
	}
}

// TestWeekFundingRacesEnd: the job funding a week and the contract's end
// at once: whichever commits first, the end refunds every week its escrow
// held, and the buyer ends with all but nothing spent.
func TestWeekFundingRacesEnd(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hourly(t, e, 500)
		e.Clock.Advance(firstMonday.AddDate(0, 0, 7).Sub(e.Clock.Now()))
		var wg sync.WaitGroup
		var fundErr, endErr error
		wg.Go(func() { _, fundErr = e.Contracts.FundWeeks(ctx) })
		wg.Go(func() { _, endErr = e.Contracts.End(ctx, worker, d.ID, "") })
		wg.Wait()
		if fundErr != nil || endErr != nil {
			t.Fatalf("fund: %v, end: %v", fundErr, endErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		if got.Status != contract.StatusEnded || got.Holding != 0 || e.Balance(t, ledger.ContractAccount(d.ID)) != 0 || e.Coins(t, buyer.UserID) != 500 {
			t.Errorf("contract %+v, buyer %d", got.Contract, e.Coins(t, buyer.UserID))
		}
	}
}

// TestRefundUnlogged: a funded week never logged is refunded to its
// buyer UnloggedGrace after it ended, not before, both parties told; a
// week logged is left, and logging a refunded week is refused.
func TestRefundUnlogged(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hourly(t, e, 500)
	weekEnd := firstMonday.AddDate(0, 0, 7)
	e.Clock.Advance(weekEnd.Add(contract.UnloggedGrace).Add(-time.Minute).Sub(e.Clock.Now()))
	if n, err := e.Contracts.RefundUnlogged(ctx); err != nil || n != 0 {
		t.Fatalf("refunded %d before the grace ended, %v", n, err)
	}
	e.Clock.Advance(2 * time.Minute)
	if n, err := e.Contracts.RefundUnlogged(ctx); err != nil || n != 1 {
		t.Fatalf("refunded %d, %v; want 1", n, err)
	}
	got, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if got.Status != contract.StatusActive || got.Holding != 0 || got.Refunded != 180 || got.Items[0].Status != contract.ItemRefunded ||
		e.Coins(t, buyer.UserID) != 500 || e.Balance(t, ledger.ContractAccount(d.ID)) != 0 {
		t.Errorf("contract %+v, week %+v, buyer %d", got.Contract, got.Items[0], e.Coins(t, buyer.UserID))
	}
	for _, u := range []auth.Principal{buyer, worker} {
		if notifiedOf(t, e, u.UserID, notification.WeekRefunded) != 1 {
			t.Errorf("%s not told", u.UserID)
		}
	}
	_, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 3})
	wantErr(t, err, contract.ErrTimesheetLogged)
	if n, err := e.Contracts.RefundUnlogged(ctx); err != nil || n != 0 {
		t.Errorf("refunded %d again, %v", n, err)
	}
}

// TestRefundUnloggedLeavesLoggedWeeks: a week logged (in review) is not
// the job's, however late.
func TestRefundUnloggedLeavesLoggedWeeks(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	_, worker, d := hourly(t, e, 500)
	if _, err := e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 3}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(30 * 24 * time.Hour)
	if n, err := e.Contracts.RefundUnlogged(ctx); err != nil || n != 0 {
		t.Errorf("refunded %d, %v; want none", n, err)
	}
}

// TestRefundUnloggedRacesLateTimesheet: the job refunding a week and its
// worker logging it late, at once: either the timesheet is in review
// (the week's coins still in escrow) or the week is refunded and the
// timesheet refused; never both. Audit balanced after each.
func TestRefundUnloggedRacesLateTimesheet(t *testing.T) {
	wins := map[string]int{}
	for range 10 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hourly(t, e, 500)
		e.Clock.Advance(firstMonday.AddDate(0, 0, 7).Add(contract.UnloggedGrace).Add(time.Hour).Sub(e.Clock.Now()))
		var n int
		var refundErr, logErr error
		var wg sync.WaitGroup
		wg.Go(func() { n, refundErr = e.Contracts.RefundUnlogged(ctx) })
		wg.Go(func() {
			_, logErr = e.Contracts.LogTime(ctx, worker, d.ID, contract.Timesheet{WeekStart: firstMonday, Hours: 3})
		})
		wg.Wait()
		if refundErr != nil {
			t.Fatalf("refund: %v", refundErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		switch {
		case logErr == nil && n == 0:
			wins["timesheet"]++
			if got.Items[0].Status != contract.ItemSubmitted || got.Holding != 180 || e.Coins(t, buyer.UserID) != 320 {
				t.Errorf("timesheet won: week %+v, contract %+v", got.Items[0], got.Contract)
			}
		case n == 1:
			wins["refund"]++
			wantErr(t, logErr, contract.ErrTimesheetLogged)
			if got.Items[0].Status != contract.ItemRefunded || got.Holding != 0 || e.Coins(t, buyer.UserID) != 500 {
				t.Errorf("refund won: week %+v, contract %+v", got.Items[0], got.Contract)
			}
		default:
			t.Fatalf("refunded %d, log %v", n, logErr)
		}
		if got.Holding != e.Balance(t, ledger.ContractAccount(d.ID)) {
			t.Errorf("escrow %d, account %d", got.Holding, e.Balance(t, ledger.ContractAccount(d.ID)))
		}
	}
	t.Logf("wins: %v", wins)
}
