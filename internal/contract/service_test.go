package contract_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/contract"
	"microtask/internal/invoice"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// setUp is a buyer with coins, a fixed job of theirs with a budget of 100
// and a proposal of a worker's for it at 90.
func setUp(t *testing.T, e *apptest.Env, coins money.Coins) (buyer, worker auth.Principal, j job.Job, p job.Proposal) {
	t.Helper()
	ctx := context.Background()
	buyer, worker = e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	if coins > 0 {
		e.Give(t, buyer.UserID, coins)
	}
	j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "Landing page", Description: "One page.", Type: job.TypeFixed, Budget: 100})
	if err != nil {
		t.Fatal(err)
	}
	p, err = e.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "Me.", Bid: 90, EstimatedDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	return buyer, worker, j, p
}

var firstPage = page.Request{Number: 1, Limit: 10}

var twoMilestones = []contract.NewMilestone{{Title: "Design", Coins: 40}, {Title: "Build", Coins: 50}}

func hired(t *testing.T, e *apptest.Env) (buyer, worker auth.Principal, d contract.Detail) {
	t.Helper()
	buyer, worker, j, p := setUp(t, e, 200)
	d, err := e.Contracts.Hire(context.Background(), buyer, j.ID, p.ID, twoMilestones)
	if err != nil {
		t.Fatal(err)
	}
	return buyer, worker, d
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// TestHire: a hire makes the contract with its milestones, funds the
// first from the buyer, closes the job and settles the proposals; the
// milestones add up to at most the bid.
func TestHire(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, j, p := setUp(t, e, 200)
	other := e.User(t, auth.RoleWorker)
	op, err := e.Projects.Propose(ctx, other, j.ID, job.NewProposal{CoverLetter: "Me too.", Bid: 80, EstimatedDays: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = e.Contracts.Hire(ctx, buyer, j.ID, p.ID, []contract.NewMilestone{{Title: "All", Coins: 91}}); err == nil {
		t.Fatal("milestones over the bid were taken")
	}
	d, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != contract.StatusActive || d.Price != 90 || d.Holding != 40 || len(d.Items) != 2 ||
		d.Items[0].Status != contract.ItemFunded || d.Items[1].Status != contract.ItemUnfunded || d.Worker.ID != worker.UserID {
		t.Errorf("contract = %+v", d)
	}
	if got := e.Balance(t, ledger.ContractAccount(d.ID)); got != 40 {
		t.Errorf("escrow = %d, want 40", got)
	}
	if got := e.Coins(t, buyer.UserID); got != 160 {
		t.Errorf("buyer = %d, want 160", got)
	}
	if jj, _ := e.Projects.Get(ctx, j.ID); jj.Status != job.StatusHired || jj.ContractID != d.ID {
		t.Errorf("job = %+v", jj)
	}
	if got, _ := e.Projects.Proposal(ctx, other, op.ID); got.Status != job.ProposalDeclined {
		t.Errorf("the other proposal is %s, want declined", got.Status)
	}
	if got, _ := e.Projects.Proposal(ctx, worker, p.ID); got.Status != job.ProposalHired {
		t.Errorf("the hired proposal is %s", got.Status)
	}
	_, err = e.Contracts.Hire(ctx, buyer, j.ID, op.ID, twoMilestones)
	wantErr(t, err, job.ErrNotOpen)
}

// TestHireShortOfCoins: nothing is made, the job stays open, and the same
// hire succeeds once the buyer has the coins.
func TestHireShortOfCoins(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, _, j, p := setUp(t, e, 30)
	_, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones)
	wantErr(t, err, ledger.ErrInsufficientCoins)
	if jj, _ := e.Projects.Get(ctx, j.ID); jj.Status != job.StatusOpen || jj.ContractID != "" {
		t.Errorf("job after a failed hire = %+v", jj)
	}
	if got, _ := e.Contracts.Mine(ctx, buyer, "", firstPage); got.Total != 0 {
		t.Errorf("contracts = %d, want none", got.Total)
	}
	e.Give(t, buyer.UserID, 10)
	if _, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones); err != nil {
		t.Fatalf("hire again: %v", err)
	}
	if got := e.Coins(t, buyer.UserID); got != 0 {
		t.Errorf("buyer = %d, want 0", got)
	}
}

// TestHourlyHire funds the first week: the proposal's rate × the job's
// weekly hour limit.
func TestHourlyHire(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 500)
	j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "Support", Description: "Mail.", Type: job.TypeHourly, HourlyRate: 20, WeeklyHourLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "Me.", HourlyRate: 18, EstimatedDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones); err == nil {
		t.Fatal("an hourly hire took milestones")
	}
	d, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rate != 18 || d.WeeklyHourLimit != 10 || d.Holding != 180 || len(d.Items) != 1 || d.Items[0].Kind != contract.KindWeek ||
		d.Items[0].Status != contract.ItemFunded || d.Items[0].WeekStart.IsZero() {
		t.Errorf("hourly contract = %+v", d)
	}
	_, err = e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "More", Coins: 5})
	wantErr(t, err, contract.ErrNotMilestones)
	ended, err := e.Contracts.End(ctx, worker, d.ID, "Done here.")
	if err != nil || ended.Status != contract.StatusEnded || e.Coins(t, buyer.UserID) != 500 {
		t.Errorf("end = %+v, %v; buyer %d", ended, err, e.Coins(t, buyer.UserID))
	}
}

// TestTwoHiresAtOnce: of two hires of one job at once (two proposals),
// one makes a contract and the other is refused; the escrow holds one
// first milestone. Run several times over.
func TestTwoHiresAtOnce(t *testing.T) {
	for range 5 {
		twoHiresAtOnce(t)
	}
}

func twoHiresAtOnce(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, _, j, p := setUp(t, e, 200)
	other := e.User(t, auth.RoleWorker)
	p2, err := e.Projects.Propose(ctx, other, j.ID, job.NewProposal{CoverLetter: "Me too.", Bid: 90, EstimatedDays: 2})
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, pid := range []string{p.ID, p2.ID} {
		wg.Go(func() { _, errs[i] = e.Contracts.Hire(ctx, buyer, j.ID, pid, twoMilestones) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, job.ErrNotOpen) && !errors.Is(err, job.ErrProposalNotPending):
			// The loser is told the job was hired, or, read a moment
			// later, that its proposal was declined with the hire.
			t.Errorf("hire: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d hires succeeded, want 1: %v", ok, errs)
	}
	if got, _ := e.Contracts.Mine(ctx, buyer, "", firstPage); got.Total != 1 {
		t.Errorf("contracts = %d, want 1", got.Total)
	}
	if got := e.Coins(t, buyer.UserID); got != 160 {
		t.Errorf("buyer = %d, want 160", got)
	}
}

// TestMilestones: fund, submit, ask for changes, submit again, approve;
// the bid bounds what is funded; the roles and states are held.
func TestMilestones(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e)
	first, second := d.Items[0].ID, d.Items[1].ID

	_, err := e.Contracts.Submit(ctx, worker, d.ID, second, contract.Submission{Message: "Done."})
	wantErr(t, err, contract.ErrNotFunded)
	if it, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "Extra", Coins: 1}); err != nil || it.Status != contract.ItemProposed {
		t.Fatalf("a milestone beyond the bid = %+v, %v; want proposed", it, err)
	}

	it, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Here it is.", Attachments: []string{"https://example.com/d.png"}})
	if err != nil || it.Status != contract.ItemSubmitted || it.SubmittedAt.IsZero() {
		t.Fatalf("submit = %+v, %v", it, err)
	}
	_, err = e.Contracts.RequestChanges(ctx, buyer, d.ID, first, "short")
	if err == nil {
		t.Fatal("a note of 5 characters was taken")
	}
	it, err = e.Contracts.RequestChanges(ctx, buyer, d.ID, first, "Make the logo larger, please.")
	if err != nil || it.Status != contract.ItemFunded || it.Changes != 1 {
		t.Fatalf("request changes = %+v, %v", it, err)
	}
	_, err = e.Contracts.Approve(ctx, buyer, d.ID, first)
	wantErr(t, err, contract.ErrNotSubmitted)
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Larger now."}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Contracts.Approve(ctx, worker, d.ID, first)
	wantErr(t, err, contract.ErrNotFound)
	it, err = e.Contracts.Approve(ctx, buyer, d.ID, first)
	if err != nil || it.Status != contract.ItemReleased || it.AutoRelease {
		t.Fatalf("approve = %+v, %v", it, err)
	}
	if e.Coins(t, worker.UserID) != 40 || e.Balance(t, ledger.ContractAccount(d.ID)) != 0 {
		t.Errorf("worker %d, escrow %d", e.Coins(t, worker.UserID), e.Balance(t, ledger.ContractAccount(d.ID)))
	}
	it, err = e.Contracts.Fund(ctx, buyer, d.ID, second)
	if err != nil || it.Status != contract.ItemFunded {
		t.Fatalf("fund = %+v, %v", it, err)
	}
	_, err = e.Contracts.Fund(ctx, buyer, d.ID, second)
	wantErr(t, err, contract.ErrFunded)
	got, err := e.Contracts.Get(ctx, buyer, d.ID)
	if err != nil || got.Holding != 50 || got.Paid != 40 {
		t.Errorf("contract = %+v, %v", got.Contract, err)
	}
	if _, err := e.Contracts.Get(ctx, e.User(t, auth.RoleBuyer), d.ID); !errors.Is(err, contract.ErrNotFound) {
		t.Errorf("a stranger reads the contract: %v", err)
	}
	if _, err := e.Contracts.Get(ctx, e.User(t, auth.RoleAdmin), d.ID); err != nil {
		t.Errorf("an admin reads the contract: %v", err)
	}
}

// TestEnd refunds funded milestones not submitted, cancels those never
// funded, and waits for a submitted one to be decided.
func TestEnd(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e)
	first := d.Items[0].ID
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Contracts.End(ctx, buyer, d.ID, "")
	wantErr(t, err, contract.ErrInReview)
	if _, err := e.Contracts.RequestChanges(ctx, buyer, d.ID, first, "Not what we asked for."); err != nil {
		t.Fatal(err)
	}
	c, err := e.Contracts.End(ctx, buyer, d.ID, "We changed plans.")
	if err != nil || c.Status != contract.StatusEnded || c.Refunded != 40 || c.EndedBy != buyer.UserID || c.EndReason != "We changed plans." {
		t.Fatalf("end = %+v, %v", c, err)
	}
	if e.Coins(t, buyer.UserID) != 200 || e.Balance(t, ledger.ContractAccount(d.ID)) != 0 {
		t.Errorf("buyer %d, escrow %d", e.Coins(t, buyer.UserID), e.Balance(t, ledger.ContractAccount(d.ID)))
	}
	got, _ := e.Contracts.Get(ctx, worker, d.ID)
	if got.Items[0].Status != contract.ItemRefunded || got.Items[1].Status != contract.ItemCancelled {
		t.Errorf("items after the end = %s, %s", got.Items[0].Status, got.Items[1].Status)
	}
	_, err = e.Contracts.End(ctx, worker, d.ID, "")
	wantErr(t, err, contract.ErrEnded)
	_, err = e.Contracts.Fund(ctx, buyer, d.ID, d.Items[1].ID)
	wantErr(t, err, contract.ErrEnded)
}

// TestApproveRacesChangesAndEnd: an approval, a request for changes and
// an end of one contract at once: exactly one of approval and changes
// wins, the end only if the milestone left review first, and the escrow
// matches whoever won.
func TestApproveRacesChangesAndEnd(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hired(t, e)
		first := d.Items[0].ID
		if _, err := e.Contracts.Submit(ctx, worker, d.ID, first, contract.Submission{Message: "Done."}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var approveErr, changesErr, endErr error
		wg.Go(func() { _, approveErr = e.Contracts.Approve(ctx, buyer, d.ID, first) })
		wg.Go(func() { _, changesErr = e.Contracts.RequestChanges(ctx, buyer, d.ID, first, "Please redo the header.") })
		wg.Go(func() { _, endErr = e.Contracts.End(ctx, worker, d.ID, "") })
		wg.Wait()
		if (approveErr == nil) == (changesErr == nil) {
			t.Fatalf("approve: %v, changes: %v; want exactly one", approveErr, changesErr)
		}
		if endErr != nil && !errors.Is(endErr, contract.ErrInReview) {
			t.Fatalf("end: %v", endErr)
		}
		got, _ := e.Contracts.Get(ctx, buyer, d.ID)
		switch {
		case approveErr == nil && e.Coins(t, worker.UserID) != 40:
			t.Errorf("approved, but the worker has %d", e.Coins(t, worker.UserID))
		case changesErr == nil && endErr == nil && (got.Status != contract.StatusEnded || e.Coins(t, buyer.UserID) != 200):
			t.Errorf("sent back and ended, but the contract is %s and the buyer has %d", got.Status, e.Coins(t, buyer.UserID))
		}
		if got.Holding != e.Balance(t, ledger.ContractAccount(d.ID)) {
			t.Errorf("the contract says %d in escrow, the account %d", got.Holding, e.Balance(t, ledger.ContractAccount(d.ID)))
		}
	}
}

// TestReleaseDue releases a milestone its buyer left alone for the
// auto-release delay, and leaves one still within it.
func TestReleaseDue(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e)
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, d.Items[0].ID, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(contract.DefaultAutoRelease - time.Minute)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 0 {
		t.Fatalf("release before the delay = %d, %v", n, err)
	}
	e.Clock.Advance(time.Minute)
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 1 {
		t.Fatalf("release at the delay = %d, %v", n, err)
	}
	got, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if got.Items[0].Status != contract.ItemReleased || !got.Items[0].AutoRelease || e.Coins(t, worker.UserID) != 40 {
		t.Errorf("item %+v, worker %d", got.Items[0], e.Coins(t, worker.UserID))
	}
	if n, err := e.Contracts.ReleaseDue(ctx); err != nil || n != 0 {
		t.Errorf("release again = %d, %v", n, err)
	}
}

// invoicesOf returns the invoices of a contract's payments.
func invoicesOf(t *testing.T, e *apptest.Env, contractID string) []invoice.Invoice {
	t.Helper()
	l, err := e.Invoices.ListBySubject(context.Background(), e.User(t, auth.RoleAdmin),
		invoice.Subject{Type: invoice.SubjectContract, ID: contractID}, page.Request{Number: 1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// TestReleasesAreInvoiced: an approval makes one invoice, the worker's to
// the buyer, for the milestone's coins, keyed by the release's operation
// and listed under the contract and the job.
func TestReleasesAreInvoiced(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e)
	if _, err := e.Contracts.Submit(ctx, worker, d.ID, d.Items[0].ID, contract.Submission{Message: "Done."}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Contracts.Approve(ctx, buyer, d.ID, d.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []invoice.Subject{{Type: invoice.SubjectContract, ID: d.ID}, {Type: invoice.SubjectJob, ID: d.JobID}} {
		l, err := e.Invoices.ListBySubject(ctx, worker, subject, page.Request{Number: 1, Limit: 10})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("invoices of %s = %+v, %v; want one", subject, l.Items, err)
		}
		inv := l.Items[0]
		want := []invoice.Line{{Description: "Landing page: Design", Coins: 40}}
		if inv.Ref != "milestone-release:"+d.Items[0].ID || inv.Seller.ID != worker.UserID || inv.Buyer.ID != buyer.UserID ||
			!slices.Equal(inv.Lines, want) || inv.Coins != 40 || inv.Rate != invoice.RatePayout {
			t.Errorf("invoice = %+v", inv)
		}
	}
}

// TestWithdrawRacesHire: a worker withdrawing their proposal at the
// moment the buyer hires it. Either the hire wins (a contract; the
// withdrawal refused) or the withdrawal wins (the hire refused, no
// contract, no coin moved, the job still open); never both. Run many
// times over, the audit balanced after each.
func TestWithdrawRacesHire(t *testing.T) {
	wins := map[string]int{}
	for range 20 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, j, p := setUp(t, e, 200)
		var hireErr, withdrawErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, hireErr = e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones) })
		wg.Go(func() { _, withdrawErr = e.Projects.Withdraw(ctx, worker, p.ID) })
		wg.Wait()
		got, _ := e.Projects.Proposal(ctx, worker, p.ID)
		jj, _ := e.Projects.Get(ctx, j.ID)
		contracts, _ := e.Contracts.Mine(ctx, buyer, "", firstPage)
		switch {
		case hireErr == nil:
			wins["hire"]++
			wantErr(t, withdrawErr, job.ErrProposalNotPending)
			if got.Status != job.ProposalHired || jj.Status != job.StatusHired || contracts.Total != 1 || e.Coins(t, buyer.UserID) != 160 {
				t.Errorf("hire won: proposal %s, job %s, %d contracts, buyer %d", got.Status, jj.Status, contracts.Total, e.Coins(t, buyer.UserID))
			}
		case withdrawErr == nil:
			wins["withdrawal"]++
			wantErr(t, hireErr, job.ErrProposalNotPending)
			if got.Status != job.ProposalWithdrawn || jj.Status != job.StatusOpen || contracts.Total != 0 || e.Coins(t, buyer.UserID) != 200 {
				t.Errorf("withdrawal won: proposal %s, job %s, %d contracts, buyer %d", got.Status, jj.Status, contracts.Total, e.Coins(t, buyer.UserID))
			}
		default:
			t.Fatalf("both refused: hire %v, withdrawal %v", hireErr, withdrawErr)
		}
	}
	t.Logf("wins: %v", wins)
}

// TestHireOfAWithdrawnProposal: a proposal withdrawn before the hire
// is refused by it with nothing moved; one declined likewise.
func TestHireOfAWithdrawnProposal(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, j, p := setUp(t, e, 200)
	if _, err := e.Projects.Withdraw(ctx, worker, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones)
	wantErr(t, err, job.ErrProposalNotPending)
	if got := e.Coins(t, buyer.UserID); got != 200 {
		t.Errorf("buyer = %d, want 200", got)
	}
}

// TestHireShortOfCoinsGivesTheProposalBack: a hire whose coins fell
// short leaves the proposal pending, so that the worker may still
// withdraw it.
func TestHireShortOfCoinsGivesTheProposalBack(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, j, p := setUp(t, e, 30)
	_, err := e.Contracts.Hire(ctx, buyer, j.ID, p.ID, twoMilestones)
	wantErr(t, err, ledger.ErrInsufficientCoins)
	if got, _ := e.Projects.Proposal(ctx, worker, p.ID); got.Status != job.ProposalPending {
		t.Errorf("proposal after a failed hire = %s, want pending", got.Status)
	}
	if _, err := e.Projects.Withdraw(ctx, worker, p.ID); err != nil {
		t.Errorf("withdraw after a failed hire: %v", err)
	}
}

// TestProposedMilestones: a milestone beyond the agreed price is a change
// the worker answers. Proposed, it cannot be funded; accepted, the
// agreed price grows by it and it is funded; declined, never. Only the
// contract's worker answers, only once; the end cancels one unanswered.
func TestProposedMilestones(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, d := hired(t, e) // bid 90: milestones of 40 and 50
	within, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "Nothing", Coins: 0})
	if err == nil {
		t.Fatalf("a milestone of 0 coins = %+v", within)
	}
	more, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "More pages", Coins: 30})
	if err != nil || more.Status != contract.ItemProposed {
		t.Fatalf("propose = %+v, %v", more, err)
	}
	if n := notifiedOf(t, e, worker.UserID, notification.MilestoneProposed); n != 1 {
		t.Errorf("the worker was told %d times", n)
	}
	_, err = e.Contracts.Fund(ctx, buyer, d.ID, more.ID)
	wantErr(t, err, contract.ErrProposed)
	_, err = e.Contracts.Accept(ctx, buyer, d.ID, more.ID)
	wantErr(t, err, contract.ErrNotFound) // the buyer does not answer their own change
	_, err = e.Contracts.Accept(ctx, e.User(t, auth.RoleWorker), d.ID, more.ID)
	wantErr(t, err, contract.ErrNotFound)
	_, err = e.Contracts.Accept(ctx, worker, d.ID, d.Items[1].ID)
	wantErr(t, err, contract.ErrNotProposed)

	got, err := e.Contracts.Accept(ctx, worker, d.ID, more.ID)
	if err != nil || got.Status != contract.ItemUnfunded {
		t.Fatalf("accept = %+v, %v", got, err)
	}
	_, err = e.Contracts.Decline(ctx, worker, d.ID, more.ID)
	wantErr(t, err, contract.ErrNotProposed)
	c, _ := e.Contracts.Get(ctx, buyer, d.ID)
	if c.Raised != 30 || c.Agreed() != 120 || len(c.Proposed) != 0 {
		t.Errorf("contract after the acceptance = %+v", c.Contract)
	}
	if n := notifiedOf(t, e, buyer.UserID, notification.MilestoneAccepted); n != 1 {
		t.Errorf("the buyer was told %d times", n)
	}
	for _, id := range []string{d.Items[1].ID, more.ID} {
		if _, err := e.Contracts.Fund(ctx, buyer, d.ID, id); err != nil {
			t.Fatalf("fund %s: %v", id, err)
		}
	}
	if got := e.Balance(t, ledger.ContractAccount(d.ID)); got != 120 {
		t.Errorf("escrow = %d, want 120", got)
	}

	// Declined: never funded. Unanswered at the end: cancelled.
	no, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "Even more", Coins: 5})
	if err != nil || no.Status != contract.ItemProposed {
		t.Fatalf("propose = %+v, %v", no, err)
	}
	if got, err := e.Contracts.Decline(ctx, worker, d.ID, no.ID); err != nil || got.Status != contract.ItemDeclined {
		t.Fatalf("decline = %+v, %v", got, err)
	}
	_, err = e.Contracts.Fund(ctx, buyer, d.ID, no.ID)
	wantErr(t, err, contract.ErrProposed)
	left, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "Last", Coins: 5})
	if err != nil || left.Status != contract.ItemProposed {
		t.Fatalf("propose = %+v, %v", left, err)
	}
	for _, id := range []string{d.Items[0].ID, d.Items[1].ID, more.ID} {
		if _, err := e.Contracts.Submit(ctx, worker, d.ID, id, contract.Submission{Message: "Done."}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Contracts.Approve(ctx, buyer, d.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Contracts.End(ctx, buyer, d.ID, "Done."); err != nil {
		t.Fatal(err)
	}
	_, err = e.Contracts.Accept(ctx, worker, d.ID, left.ID)
	wantErr(t, err, contract.ErrEnded)
	c, _ = e.Contracts.Get(ctx, buyer, d.ID)
	if c.Paid != 120 || c.Items[len(c.Items)-1].Status != contract.ItemCancelled || e.Coins(t, worker.UserID) != 120 {
		t.Errorf("ended: %+v, last %+v", c.Contract, c.Items[len(c.Items)-1])
	}
}

// TestAcceptRacesDecline: the worker's acceptance and decline of one
// proposed milestone at once (two devices): one wins, the other is
// refused, and the agreed price follows the winner.
func TestAcceptRacesDecline(t *testing.T) {
	for range 5 {
		e := apptest.New(t)
		ctx := context.Background()
		buyer, worker, d := hired(t, e)
		more, err := e.Contracts.AddMilestone(ctx, buyer, d.ID, contract.NewMilestone{Title: "More", Coins: 30})
		if err != nil {
			t.Fatal(err)
		}
		var acceptErr, declineErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, acceptErr = e.Contracts.Accept(ctx, worker, d.ID, more.ID) })
		wg.Go(func() { _, declineErr = e.Contracts.Decline(ctx, worker, d.ID, more.ID) })
		wg.Wait()
		c, _ := e.Contracts.Get(ctx, buyer, d.ID)
		it, _ := e.Contracts.Item(ctx, buyer, d.ID, more.ID)
		switch {
		case acceptErr == nil:
			wantErr(t, declineErr, contract.ErrNotProposed)
			if c.Raised != 30 || it.Status != contract.ItemUnfunded {
				t.Errorf("accepted: raised %d, milestone %s", c.Raised, it.Status)
			}
		case declineErr == nil:
			wantErr(t, acceptErr, contract.ErrNotProposed)
			if c.Raised != 0 || it.Status != contract.ItemDeclined {
				t.Errorf("declined: raised %d, milestone %s", c.Raised, it.Status)
			}
		default:
			t.Fatalf("both refused: %v, %v", acceptErr, declineErr)
		}
	}
}
