package crashtest_test

import (
	"context"
	"testing"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/contract"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/report"
)

// proposed posts a fixed job of the buyer's (budget 40) and the worker's
// proposal for it at 30.
func proposed(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	j, err := w.Projects.Create(ctx, buyer, job.NewJob{Title: "Landing page", Description: "One page.", Type: job.TypeFixed, Budget: 40})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "Me.", Bid: 30, EstimatedDays: 3}); err != nil {
		t.Fatal(err)
	}
}

var contractMilestones = []contract.NewMilestone{{Title: "Design", Coins: 10}, {Title: "Build", Coins: 20}}

// hire hires the worker of the only proposal (the first of two milestones
// funded: 10 of the buyer's 50 coins).
func (w *world) hire(ctx context.Context) error {
	jobs, err := w.Projects.Mine(ctx, buyer, firstPage)
	if err != nil || len(jobs.Items) == 0 {
		return err
	}
	ps, err := w.Projects.Proposals(ctx, buyer, jobs.Items[0].ID, firstPage)
	if err != nil || len(ps.Items) == 0 {
		return err
	}
	_, err = w.Contracts.Hire(ctx, buyer, jobs.Items[0].ID, ps.Items[0].ID, contractMilestones)
	return err
}

func hiredContract(t *testing.T, w *world) {
	t.Helper()
	proposed(t, w)
	if err := w.hire(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// proposedChange is a hired contract (bid 30, milestones of 10 and 20)
// whose buyer added a third of 5 beyond the bid: proposed to the worker.
func proposedChange(t *testing.T, w *world) {
	t.Helper()
	hiredContract(t, w)
	ctx := context.Background()
	it, err := w.Contracts.AddMilestone(ctx, buyer, w.contractQuiet(ctx).ID, contract.NewMilestone{Title: "More", Coins: 5})
	if err != nil || it.Status != contract.ItemProposed {
		t.Fatalf("propose = %+v, %v", it, err)
	}
}

// onlyContract is the buyer's only contract, with its items.
func (w *world) onlyContract(t *testing.T) contract.Detail {
	t.Helper()
	ctx := context.Background()
	all, err := w.Contracts.Mine(ctx, buyer, "", firstPage)
	if err != nil || len(all.Items) != 1 {
		t.Fatalf("contracts = %+v, %v; want one", all, err)
	}
	d, err := w.Contracts.Get(ctx, buyer, all.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// contractQuiet is the buyer's only contract for actions, or none.
func (w *world) contractQuiet(ctx context.Context) contract.Detail {
	all, err := w.Contracts.Mine(ctx, buyer, "", firstPage)
	if err != nil || len(all.Items) == 0 {
		return contract.Detail{}
	}
	d, _ := w.Contracts.Get(ctx, buyer, all.Items[0].ID)
	return d
}

func submittedMilestone(t *testing.T, w *world) {
	t.Helper()
	hiredContract(t, w)
	d := w.onlyContract(t)
	if _, err := w.Contracts.Submit(context.Background(), worker, d.ID, d.Items[0].ID, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
}

// wantContract checks the only contract's escrow, its items' statuses and
// the buyer's and worker's coins.
func wantContract(t *testing.T, w *world, escrow, paid, buyerCoins, workerCoins int, items ...contract.ItemStatus) {
	t.Helper()
	d := w.onlyContract(t)
	if int(d.Holding) != escrow || int(d.Paid) != paid || int(w.balance(t, ledger.ContractAccount(d.ID))) != escrow {
		t.Errorf("contract %+v, account %d; want escrow %d, paid %d", d.Contract, w.balance(t, ledger.ContractAccount(d.ID)), escrow, paid)
	}
	if got := int(w.balance(t, ledger.UserAccount(buyer.UserID))); got != buyerCoins {
		t.Errorf("buyer = %d, want %d", got, buyerCoins)
	}
	if got := int(w.balance(t, ledger.UserAccount(worker.UserID))); got != workerCoins {
		t.Errorf("worker = %d, want %d", got, workerCoins)
	}
	for i, st := range items {
		if d.Items[i].Status != st {
			t.Errorf("item %d is %s, want %s", i, d.Items[i].Status, st)
		}
	}
}

// releaseInvoicedOnce fails unless the only contract's first milestone,
// released, has one invoice, the first of the year, from its worker to its
// buyer for its coins.
func (w *world) releaseInvoicedOnce(t *testing.T) {
	t.Helper()
	d := w.onlyContract(t)
	got, err := w.Invoices.List(context.Background(), admin, "", firstPage)
	if err != nil || len(got.Items) != 1 {
		t.Fatalf("invoices = %+v (%v), want one", got.Items, err)
	}
	inv := got.Items[0]
	if inv.Ref != "milestone-release:"+d.Items[0].ID || inv.Seq != 1 || inv.Seller.ID != worker.UserID ||
		inv.Buyer.ID != buyer.UserID || inv.Coins != d.Items[0].Coins {
		t.Errorf("invoice %+v, want number 1 for the release of %+v", inv, d.Items[0])
	}
}

// contractScenarios hire, fund, submit, release, send back and end.
var contractScenarios = []scenario{
	{
		name:   "propose a milestone beyond the bid",
		before: hiredContract,
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.AddMilestone(ctx, buyer, w.contractQuiet(ctx).ID, contract.NewMilestone{Title: "More", Coins: 5})
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemFunded, contract.ItemUnfunded, contract.ItemProposed)
			if d := w.onlyContract(t); len(d.Proposed) != 1 || d.Proposed[0] != d.Items[2].ID || d.Raised != 0 {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
	{
		name:   "accept a milestone beyond the bid",
		before: proposedChange,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Accept(ctx, worker, d.ID, d.Items[2].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemFunded, contract.ItemUnfunded, contract.ItemUnfunded)
			if d := w.onlyContract(t); d.Raised != 5 || len(d.Proposed) != 0 {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
	{
		name: "fund a milestone accepted beyond the bid",
		before: func(t *testing.T, w *world) {
			proposedChange(t, w)
			ctx := context.Background()
			d := w.contractQuiet(ctx)
			if _, err := w.Contracts.Accept(ctx, worker, d.ID, d.Items[2].ID); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Fund(ctx, buyer, d.ID, d.Items[2].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 15, 0, 35, 0, contract.ItemFunded, contract.ItemUnfunded, contract.ItemFunded)
		},
	},
	{
		name:   "hire",
		before: proposed,
		action: func(ctx context.Context, w *world) error { return w.hire(ctx) },
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemFunded, contract.ItemUnfunded)
			js, err := w.Projects.Mine(context.Background(), buyer, firstPage)
			if err != nil || js.Items[0].Status != job.StatusHired {
				t.Errorf("job = %+v, %v", js.Items, err)
			}
			if w.notified(t, worker.UserID) != 1 {
				t.Errorf("worker not notified once")
			}
		},
	},
	{
		name:   "fund a milestone",
		before: hiredContract,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Fund(ctx, buyer, d.ID, d.Items[1].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 30, 0, 20, 0, contract.ItemFunded, contract.ItemFunded)
		},
	},
	{
		name:   "submit a milestone",
		before: hiredContract,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Submit(ctx, worker, d.ID, d.Items[0].ID, contract.Submission{Message: "Done."})
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemSubmitted, contract.ItemUnfunded)
			if w.notified(t, buyer.UserID) != 2 { // the proposal, the submission
				t.Errorf("buyer notified %d times, want 2", w.notified(t, buyer.UserID))
			}
		},
	},
	{
		name:   "approve a milestone",
		before: submittedMilestone,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Approve(ctx, buyer, d.ID, d.Items[0].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 10, 40, 10, contract.ItemReleased, contract.ItemUnfunded)
			w.releaseInvoicedOnce(t)
			if w.notified(t, worker.UserID) != 2 { // hired, paid
				t.Errorf("worker notified %d times, want 2", w.notified(t, worker.UserID))
			}
		},
	},
	{
		name:   "send a milestone back",
		before: submittedMilestone,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.RequestChanges(ctx, buyer, d.ID, d.Items[0].ID, "Make the logo larger.")
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemFunded, contract.ItemUnfunded)
		},
	},
	{
		name:  "release a milestone automatically",
		retry: true,
		before: func(t *testing.T, w *world) {
			submittedMilestone(t, w)
			w.Clock.Advance(contract.DefaultAutoRelease)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.ReleaseDue(ctx)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 10, 40, 10, contract.ItemReleased, contract.ItemUnfunded)
			w.releaseInvoicedOnce(t)
			if !w.onlyContract(t).Items[0].AutoRelease {
				t.Errorf("not marked as released automatically")
			}
		},
	},
	{
		name: "end a contract",
		before: func(t *testing.T, w *world) {
			hiredContract(t, w)
			d := w.onlyContract(t)
			if _, err := w.Contracts.Fund(context.Background(), buyer, d.ID, d.Items[1].ID); err != nil {
				t.Fatal(err)
			}
			w.Clock.Advance(time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.End(ctx, worker, w.contractQuiet(ctx).ID, "Cannot go on.")
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 0, 50, 0, contract.ItemRefunded, contract.ItemRefunded)
			d := w.onlyContract(t)
			if d.Status != contract.StatusEnded || d.Refunded != 30 || d.EndedBy != worker.UserID {
				t.Errorf("contract = %+v", d.Contract)
			}
		},
	},
}

// disputedMilestone is a submitted first milestone the buyer disputed.
func disputedMilestone(t *testing.T, w *world) {
	t.Helper()
	submittedMilestone(t, w)
	d := w.onlyContract(t)
	if _, err := w.Contracts.Dispute(context.Background(), buyer, d.ID, d.Items[0].ID, "It does not load on phones."); err != nil {
		t.Fatal(err)
	}
}

// onlyReport is the only report in the admins' queue.
func (w *world) onlyReport(t *testing.T) report.Report {
	t.Helper()
	all, err := w.Reports.List(context.Background(), admin, "", firstPage)
	if err != nil || all.Total != 1 {
		t.Fatalf("reports = %+v, %v; want one", all.Items, err)
	}
	return all.Items[0]
}

// decideDispute decides the only report, a dispute, with the verdict,
// resolving it.
func decideDispute(v report.Verdict) func(ctx context.Context, w *world) error {
	return func(ctx context.Context, w *world) error {
		all, err := w.Reports.List(ctx, admin, report.StatusOpen, firstPage)
		if err != nil || len(all.Items) == 0 {
			return err // decided before the crash: asked again, nothing is open
		}
		v.Status = report.StatusResolved
		_, err = w.Reports.DecideWith(ctx, admin, all.Items[0].ID, v)
		return err
	}
}

// wantDecided checks the only report resolved with the action, the
// decision logged once, and both parties told of it once.
func wantDecided(t *testing.T, w *world, action report.Action) {
	t.Helper()
	if rp := w.onlyReport(t); rp.Status != report.StatusResolved || rp.Action != action {
		t.Errorf("report = %+v", rp)
	}
	w.logged(t, adminlog.DisputeDecided)
	// Each told of the dispute and its decision; the buyer, who disputed,
	// of the report's decision too.
	if w.notified(t, buyer.UserID) != 5 || w.notified(t, worker.UserID) != 3 {
		t.Errorf("buyer notified %d times, worker %d; want 5 and 3", w.notified(t, buyer.UserID), w.notified(t, worker.UserID))
	}
}

// disputeScenarios dispute a milestone and decide the dispute every way;
// the decisions are asked again after recovery, as an admin would whose
// request failed: the report, left open by the crash, closes.
var disputeScenarios = []scenario{
	{
		name:   "dispute a milestone",
		before: submittedMilestone,
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.Dispute(ctx, worker, d.ID, d.Items[0].ID, "The buyer keeps changing the brief.")
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemDisputed, contract.ItemUnfunded)
			if rp := w.onlyReport(t); rp.Status != report.StatusOpen || rp.TargetType != report.TargetMilestone || rp.Reporter.ID != worker.UserID {
				t.Errorf("report = %+v", rp)
			}
			if w.notified(t, buyer.UserID) != 3 || w.notified(t, worker.UserID) != 2 {
				t.Errorf("buyer notified %d times, worker %d; want 3 and 2", w.notified(t, buyer.UserID), w.notified(t, worker.UserID))
			}
		},
	},
	{
		name: "release a disputed milestone", retry: true, before: disputedMilestone,
		action: decideDispute(report.Verdict{Action: report.ActionRelease}),
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 10, 40, 10, contract.ItemReleased, contract.ItemUnfunded)
			wantDecided(t, w, report.ActionRelease)
		},
	},
	{
		name: "refund a disputed milestone", retry: true, before: disputedMilestone,
		action: decideDispute(report.Verdict{Action: report.ActionRefund}),
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 0, 50, 0, contract.ItemRefunded, contract.ItemUnfunded)
			wantDecided(t, w, report.ActionRefund)
		},
	},
	{
		name: "split a disputed milestone", retry: true, before: disputedMilestone,
		action: decideDispute(report.Verdict{Action: report.ActionSplit, WorkerCoins: 4}),
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 4, 46, 4, contract.ItemSplit, contract.ItemUnfunded)
			wantDecided(t, w, report.ActionSplit)
		},
	},
	{
		name: "send a disputed milestone back", retry: true, before: disputedMilestone,
		action: decideDispute(report.Verdict{Action: report.ActionRework, Deadline: time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)}),
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 10, 0, 40, 0, contract.ItemFunded, contract.ItemUnfunded)
			wantDecided(t, w, report.ActionRework)
		},
	},
	{
		name: "refund a missed rework",
		before: func(t *testing.T, w *world) {
			disputedMilestone(t, w)
			if err := decideDispute(report.Verdict{Action: report.ActionRework, Deadline: time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC)})(
				context.Background(), w); err != nil {
				t.Fatal(err)
			}
			w.Clock.Advance(72 * time.Hour)
		},
		action: func(ctx context.Context, w *world) error {
			d := w.contractQuiet(ctx)
			_, err := w.Contracts.RefundMissed(ctx, buyer, d.ID, d.Items[0].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 0, 50, 0, contract.ItemRefunded, contract.ItemUnfunded)
		},
	},
}

// hourlyHired hires the worker at 2 coins an hour for up to 10 hours a
// week: the first week (from Monday 1 June) escrows 20 of the buyer's 50.
func hourlyHired(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	j, err := w.Projects.Create(ctx, buyer, job.NewJob{Title: "Support", Description: "Mail.", Type: job.TypeHourly, HourlyRate: 2, WeeklyHourLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "Me.", HourlyRate: 2, EstimatedDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Contracts.Hire(ctx, buyer, j.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
}

var firstWeek = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// fundWeeks runs the job of the weeks.
func fundWeeks(ctx context.Context, w *world) error {
	_, err := w.Contracts.FundWeeks(ctx)
	return err
}

// pausedContract is an hourly contract whose third week (15 June) the
// buyer, 10 coins left, could not fund.
func pausedContract(t *testing.T, w *world) {
	t.Helper()
	hourlyHired(t, w)
	for _, days := range []int{7, 14} {
		w.Clock.Advance(firstWeek.AddDate(0, 0, days).Sub(w.Clock.Now()))
		if err := fundWeeks(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	if d := w.onlyContract(t); !d.Paused {
		t.Fatalf("contract not paused: %+v", d.Contract)
	}
}

// timesheetScenarios refund a week never logged, approve a timesheet,
// fund a week, pause a contract whose buyer is short and resume it.
var timesheetScenarios = []scenario{
	{
		name:  "refund a week never logged",
		retry: true, // the job's next round
		before: func(t *testing.T, w *world) {
			hourlyHired(t, w)
			// The first week ended on 8 June; its grace on 15 June.
			w.Clock.Advance(firstWeek.AddDate(0, 0, 14).Add(time.Hour).Sub(w.Clock.Now()))
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.RefundUnlogged(ctx)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 0, 50, 0, contract.ItemRefunded)
			if d := w.onlyContract(t); d.Refunded != 20 || d.Status != contract.StatusActive || len(d.Held) != 0 {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
	{
		name: "approve a timesheet",
		before: func(t *testing.T, w *world) {
			hourlyHired(t, w)
			d := w.onlyContract(t)
			if _, err := w.Contracts.LogTime(context.Background(), worker, d.ID, contract.Timesheet{WeekStart: firstWeek, Hours: 3}); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.ApproveTimesheet(ctx, buyer, w.contractQuiet(ctx).Items[0].ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 0, 6, 44, 6, contract.ItemReleased)
			if d := w.onlyContract(t); d.Refunded != 14 || d.Items[0].WorkerCoins != 6 {
				t.Errorf("contract %+v, week %+v", d.Contract, d.Items[0])
			}
		},
	},
	{
		name:  "fund a week",
		retry: true, // the job's next round
		before: func(t *testing.T, w *world) {
			hourlyHired(t, w)
			w.Clock.Advance(firstWeek.AddDate(0, 0, 7).Sub(w.Clock.Now()))
		},
		action: fundWeeks,
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 40, 0, 10, 0, contract.ItemFunded, contract.ItemFunded)
			if d := w.onlyContract(t); !d.NextWeek.Equal(firstWeek.AddDate(0, 0, 14)) || d.Paused {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
	{
		name:  "pause a contract its buyer cannot fund",
		retry: true,
		before: func(t *testing.T, w *world) {
			hourlyHired(t, w)
			w.Clock.Advance(firstWeek.AddDate(0, 0, 7).Sub(w.Clock.Now()))
			if err := fundWeeks(context.Background(), w); err != nil {
				t.Fatal(err)
			}
			w.Clock.Advance(7 * 24 * time.Hour)
		},
		action: fundWeeks,
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 40, 0, 10, 0, contract.ItemFunded, contract.ItemFunded, contract.ItemUnfunded)
			if d := w.onlyContract(t); !d.Paused || !d.NextWeek.Equal(firstWeek.AddDate(0, 0, 14)) {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
	{
		name: "resume a paused contract",
		before: func(t *testing.T, w *world) {
			pausedContract(t, w)
			w.Give(t, buyer.UserID, 30)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Contracts.Resume(ctx, buyer, w.contractQuiet(ctx).ID)
			return err
		},
		check: func(t *testing.T, w *world) {
			wantContract(t, w, 60, 0, 20, 0, contract.ItemFunded, contract.ItemFunded, contract.ItemFunded)
			if d := w.onlyContract(t); d.Paused || !d.NextWeek.Equal(firstWeek.AddDate(0, 0, 21)) {
				t.Errorf("contract %+v", d.Contract)
			}
		},
	},
}
