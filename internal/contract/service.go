package contract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/webhook"
)

// DefaultAutoRelease is how long a submitted milestone waits for its
// buyer before the job releases it (MILESTONE_AUTO_RELEASE).
const DefaultAutoRelease = 14 * 24 * time.Hour

// Service applies the contract rules.
type Service struct {
	store       Store
	ops         operation.Runner
	jobs        Jobs
	notify      Notifier
	events      Events
	invoices    Invoices
	disputes    Disputes
	admins      AdminLog
	log         *slog.Logger
	now         func() time.Time
	newID       func() string
	autoRelease time.Duration

	hire    operation.Kind[hireData]
	fund    operation.Kind[itemOp]
	submit  operation.Kind[itemOp]
	release operation.Kind[itemOp]
	changes operation.Kind[itemOp]
	end     operation.Kind[endData]

	disputeOp operation.Kind[disputeData]
	decide    operation.Kind[decideData]
	refund    operation.Kind[itemOp]
	weekFund  operation.Kind[weekOp]
	pauseOp   operation.Kind[weekOp]
	weekBack  operation.Kind[itemOp]

	propose operation.Kind[itemOp]
	accept  operation.Kind[itemOp]
	decline operation.Kind[itemOp]
}

// Deps is what a Service is built with.
type Deps struct {
	Store    Store
	Ops      operation.Runner
	Jobs     Jobs
	Notify   Notifier
	Events   Events   // tells buyers' webhooks of submitted milestones
	Invoices Invoices // makes an invoice of every release
	Disputes Disputes // files disputes in the admins' queue
	Admins   AdminLog // records admins' decisions of disputes
	// AutoRelease is how long a submitted milestone waits for its buyer;
	// 0: DefaultAutoRelease.
	AutoRelease time.Duration
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, ops: d.Ops, jobs: d.Jobs, notify: d.Notify, events: d.Events, invoices: d.Invoices,
		disputes: d.Disputes, admins: d.Admins, log: d.Log, now: now, newID: idgen.New, autoRelease: d.AutoRelease}
	if s.autoRelease <= 0 {
		s.autoRelease = DefaultAutoRelease
	}
	// hire:<contract> claims the proposal and closes the job to other
	// hires (its commit, exclusive with a withdrawal), moves the
	// first milestone's or week's coins from the buyer to the contract's
	// escrow, then makes the contract and its items and declines the
	// other proposals. Retry: a buyer short of coins may buy some and
	// hire the same proposal again.
	s.hire = operation.Kind[hireData]{Name: "hire", Commit: s.commitHire, Revert: s.revertHire, Settle: s.settleHire, Retry: true}
	// milestone-fund:<item> adds the item to the contract's escrow, moves
	// its coins from the buyer, then marks it funded. Retry: as a hire.
	s.fund = operation.Kind[itemOp]{Name: "milestone-fund", Commit: s.commit, Revert: s.revertFund, Settle: s.settleFund, Retry: true}
	// milestone-submit:<item>:<n> puts the item in the buyer's review.
	s.submit = operation.Kind[itemOp]{Name: "milestone-submit", Commit: s.commit, Settle: s.settleSubmit}
	// milestone-release:<item> takes the item out of escrow and pays its
	// coins to the worker: the buyer's approval, or the job's after
	// MILESTONE_AUTO_RELEASE.
	s.release = operation.Kind[itemOp]{Name: "milestone-release", Commit: s.commit, Settle: s.settleRelease}
	// milestone-changes:<item>:<n> sends the item back to the worker; its
	// coins stay in escrow.
	s.changes = operation.Kind[itemOp]{Name: "milestone-changes", Commit: s.commit, Settle: s.settleChanges}
	// contract-end:<contract> ends the contract and refunds what its
	// escrow holds (nothing is in review).
	s.end = operation.Kind[endData]{Name: "contract-end", Commit: s.commitEnd, Settle: s.settleEnd}
	// milestone-dispute:<item>:<n> takes the submitted item out of the
	// buyer's review into dispute, then files it for the admins.
	s.disputeOp = operation.Kind[disputeData]{Name: "milestone-dispute", Commit: s.commitDispute, Settle: s.settleDispute}
	// milestone-decide:<item>:<n>:<action> carries out an admin's
	// decision of the item's nth dispute.
	s.decide = operation.Kind[decideData]{Name: "milestone-decide", Commit: s.commitDecide, Settle: s.settleDecide}
	// milestone-refund:<item>:<n> refunds a rework whose deadline passed.
	s.refund = operation.Kind[itemOp]{Name: "milestone-refund", Commit: s.commit, Settle: s.settleRefund}
	// week-fund:<week> escrows an hourly contract's week from the buyer
	// and moves the next week on. Retry: a buyer short of coins resumes
	// the contract later.
	s.weekFund = operation.Kind[weekOp]{Name: "week-fund", Commit: s.commitWeek, Revert: s.revertWeek, Settle: s.settleWeek, Retry: true}
	// contract-pause:<week> pauses a contract whose buyer could not fund
	// the week.
	s.pauseOp = operation.Kind[weekOp]{Name: "contract-pause", Commit: s.commitWeek, Settle: s.settlePause}
	// week-refund:<week> gives a week never logged back to the buyer,
	// UnloggedGrace after it ended.
	s.weekBack = operation.Kind[itemOp]{Name: "week-refund", Commit: s.commit, Settle: s.settleWeekRefund}
	// milestone-propose:<item> adds a milestone beyond the agreed price
	// to the contract's changes awaiting the worker, then makes it.
	s.propose = operation.Kind[itemOp]{Name: "milestone-propose", Commit: s.commit, Settle: s.settlePropose}
	// milestone-accept:<item> raises the agreed price by a proposed
	// milestone's coins, which may then be funded; milestone-decline:<item>
	// drops it. Both commit on the contract, so one of the two wins.
	s.accept = operation.Kind[itemOp]{Name: "milestone-accept", Commit: s.commit, Settle: s.settleAnswer}
	s.decline = operation.Kind[itemOp]{Name: "milestone-decline", Commit: s.commit, Settle: s.settleAnswer}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.hire.Define(), s.fund.Define(), s.submit.Define(), s.release.Define(), s.changes.Define(),
		s.end.Define(), s.disputeOp.Define(), s.decide.Define(), s.refund.Define(),
		s.weekFund.Define(), s.pauseOp.Define(), s.weekBack.Define(), s.propose.Define(), s.accept.Define(), s.decline.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// AutoRelease is how long a submitted milestone waits for its buyer.
func (s *Service) AutoRelease() time.Duration { return s.autoRelease }

// ref is what an operation's steps need to tell of a contract.
type ref struct {
	ID       string
	JobID    string
	JobTitle string
	Buyer    Party
	Worker   Party
	Rate     money.Coins // an hourly contract's, for what a timesheet pays
}

func refOf(c Contract) ref {
	return ref{ID: c.ID, JobID: c.JobID, JobTitle: c.JobTitle, Buyer: c.Buyer, Worker: c.Worker, Rate: c.Rate}
}

// hireData is the data of a hire: the contract and its items as they are
// made once the first is funded.
type hireData struct {
	Contract Contract
	Items    []Item
}

// itemOp is the data of an operation on one item: the contract's escrow
// as the commit makes it, at revision Rev, and the item as the settle step
// stores it (at the same revision).
type itemOp struct {
	Contract ref
	Next     Escrow
	Rev      int64
	Item     Item
}

// endData is the data of a contract's end.
type endData struct {
	Contract ref
	Next     Escrow
	Rev      int64
	By       string
	Reason   string
	Refund   money.Coins
	Held     []string // the items the escrow held when the end was read: refunded
}

// NewMilestone is a milestone a buyer plans: at hire, or added later.
type NewMilestone struct {
	Title   string
	Coins   money.Coins
	DueDate time.Time // zero: none
}

// Hire makes the contract of the buyer's open job with the worker of a
// pending proposal (POST /jobs/{id}/hire). A fixed job needs 1 to
// MaxMilestones milestones adding up to at most the accepted bid, the
// first funded at once; an hourly job takes none and funds its first week
// (rate × weekly hour limit, at the proposal's rate). Short of coins:
// ledger.ErrInsufficientCoins, and nothing is made. Two hires of one job
// at once: one contract, the other job.ErrNotOpen. A withdrawal (or a
// decline) of the proposal at the moment of its hire: either the hire's
// commit claims the proposal first and the withdrawal is refused
// (job.ErrProposalNotPending), or the withdrawal comes first and the hire
// is cancelled before any coin moves (job.ErrProposalNotPending).
func (s *Service) Hire(ctx context.Context, p auth.Principal, jobID, proposalID string, milestones []NewMilestone) (Detail, error) {
	if !p.Is(auth.RoleBuyer) {
		return Detail{}, auth.ErrWrongRole
	}
	j, pr, err := s.jobs.ForHire(ctx, p, jobID, proposalID)
	if err != nil {
		return Detail{}, err
	}
	now := s.clock()
	id := idgen.Derive("contract", jobID, proposalID)
	c := Contract{ID: id, JobID: j.ID, JobTitle: j.Title, ProposalID: pr.ID, Type: j.Type, Buyer: Party(j.Buyer),
		Worker: Party(pr.Worker), Rev: 1, CreatedAt: now}
	var items []Item
	if j.Type == job.TypeFixed {
		c.Price = pr.Bid
		milestones = slices.Clone(milestones) // checked and trimmed here, not through the caller's
		if err := checkMilestones(milestones, c.Price, now); err != nil {
			return Detail{}, err
		}
		for i, m := range milestones {
			items = append(items, Item{ID: idgen.Derive("item", id, strconv.Itoa(i+1)), ContractID: id, Kind: KindMilestone, Seq: i + 1,
				Title: m.Title, Coins: m.Coins, DueDate: m.DueDate, Status: ItemUnfunded, CreatedAt: now})
		}
	} else {
		if len(milestones) > 0 {
			return Detail{}, invalidMilestones("an hourly contract is paid by the week: leave milestones out")
		}
		c.Rate, c.WeeklyHourLimit = pr.Bid, j.WeeklyHourLimit
		start := Monday(now)
		items = []Item{c.week(start, now)}
		c.NextWeek = start.AddDate(0, 0, 7)
	}
	first := &items[0]
	first.Status, first.Rev = ItemFunded, 1
	c.Status = StatusActive
	c.Escrow = Escrow{Status: StatusActive, Held: []string{first.ID}, Submitted: []string{}, Holding: first.Coins, NextWeek: c.NextWeek}
	_, err = s.hire.Run(ctx, s.ops, id, ledger.Move(ledger.UserAccount(p.UserID), ledger.ContractAccount(id), first.Coins),
		hireData{Contract: c, Items: items})
	if errors.Is(err, operation.ErrCancelled) {
		// The proposal was withdrawn or declined, or another hire took
		// the job, first: read again, which it is.
		if _, _, err := s.jobs.ForHire(ctx, p, jobID, proposalID); err != nil {
			return Detail{}, err
		}
		return Detail{}, job.ErrNotOpen
	}
	if err != nil {
		return Detail{}, fmt.Errorf("hire for job %s: %w", jobID, err)
	}
	s.log.InfoContext(ctx, "hired", "contract_id", id, "job_id", jobID, "escrow", int64(first.Coins))
	return s.detail(ctx, id)
}

func (s *Service) commitHire(ctx context.Context, op operation.Op[hireData]) (bool, error) {
	c := op.Data.Contract
	return s.jobs.MarkHired(ctx, c.JobID, c.Buyer.ID, c.ProposalID, c.ID, op.At)
}

func (s *Service) revertHire(ctx context.Context, op operation.Op[hireData]) error {
	c := op.Data.Contract
	return s.jobs.Unhire(ctx, c.JobID, c.ProposalID, c.ID, op.At)
}

// settleHire makes the items, then the contract (whose escrow the audit
// checks once the operation has ended), then declines the other
// proposals (the commit marked this one hired), and tells the worker.
func (s *Service) settleHire(ctx context.Context, op operation.Op[hireData]) error {
	c := op.Data.Contract
	c.Ops = []string{op.ID}
	if err := s.store.InsertItems(ctx, op.Data.Items); err != nil {
		return fmt.Errorf("insert items of contract %s: %w", c.ID, err)
	}
	if err := s.store.InsertContract(ctx, c); err != nil {
		return fmt.Errorf("insert contract %s: %w", c.ID, err)
	}
	if err := s.jobs.SettleHire(ctx, c.JobID, c.ProposalID, op.At); err != nil {
		return fmt.Errorf("settle the hire of job %s: %w", c.JobID, err)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.ContractStarted, Page: notification.Contracts,
		Message: fmt.Sprintf("%s hired you for %q: %d coins are in escrow for %q.", c.Buyer.Name, c.JobTitle, op.Data.Items[0].Coins, op.Data.Items[0].Title)})
	return nil
}

// commit is the commit of every operation on an item: the contract's
// escrow becomes op.Data.Next if nothing changed it since it was read.
func (s *Service) commit(ctx context.Context, op operation.Op[itemOp]) (bool, error) {
	return s.store.Commit(ctx, op.Data.Contract.ID, op.ID, op.Data.Rev, op.Data.Next)
}

func (s *Service) tell(ctx context.Context, n notification.Notification) {
	if err := s.notify.Send(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "notify", "notification_id", n.ID, "err", err)
	}
}

// Get returns a contract with its items to its parties and admins;
// ErrNotFound to anyone else, as for a missing one.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Detail, error) {
	c, err := s.store.Contract(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	if !c.HasParty(p.UserID) && !p.Is(auth.RoleAdmin) {
		return Detail{}, ErrNotFound
	}
	items, err := s.store.Items(ctx, id)
	if err != nil {
		return Detail{}, fmt.Errorf("items of contract %s: %w", id, err)
	}
	return Detail{Contract: c, Items: items}, nil
}

// Contract returns a contract without its items to its parties and
// admins; ErrNotFound to anyone else, as for a missing one. One read.
func (s *Service) Contract(ctx context.Context, p auth.Principal, id string) (Contract, error) {
	c, err := s.store.Contract(ctx, id)
	if err != nil {
		return Contract{}, err
	}
	if !c.HasParty(p.UserID) && !p.Is(auth.RoleAdmin) {
		return Contract{}, ErrNotFound
	}
	return c, nil
}

func (s *Service) detail(ctx context.Context, id string) (Detail, error) {
	c, err := s.store.Contract(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	items, err := s.store.Items(ctx, id)
	return Detail{Contract: c, Items: items}, err
}

// Of returns a contract to one of its parties: ErrNotFound to anyone
// else, as for a missing one. One read: what reviews ask of a contract.
func (s *Service) Of(ctx context.Context, userID, id string) (Contract, error) {
	c, err := s.store.Contract(ctx, id)
	if err != nil {
		return Contract{}, err
	}
	if !c.HasParty(userID) {
		return Contract{}, ErrNotFound
	}
	return c, nil
}

// Mine returns one page of the user's contracts, as buyer or worker, the
// latest first; only those of status if it is not empty.
func (s *Service) Mine(ctx context.Context, p auth.Principal, status Status, r page.Request) (page.Of[Contract], error) {
	items, total, err := s.store.List(ctx, p.UserID, status, r)
	if err != nil {
		return page.Of[Contract]{}, fmt.Errorf("list contracts of %s: %w", p.UserID, err)
	}
	return page.Of[Contract]{Items: items, Request: r, Total: total}, nil
}

// party reads a contract and one of its items for the party: ErrNotFound
// to anyone else, ErrItemNotFound for an item of another contract.
func (s *Service) party(ctx context.Context, p auth.Principal, role auth.Role, contractID, itemID string) (Contract, Item, error) {
	c, err := s.store.Contract(ctx, contractID)
	if err != nil {
		return Contract{}, Item{}, err
	}
	if (role == auth.RoleBuyer && c.Buyer.ID != p.UserID) || (role == auth.RoleWorker && c.Worker.ID != p.UserID) {
		return Contract{}, Item{}, ErrNotFound
	}
	if itemID == "" {
		return c, Item{}, nil
	}
	it, err := s.store.Item(ctx, itemID)
	if err != nil {
		return Contract{}, Item{}, err
	}
	if it.ContractID != c.ID {
		return Contract{}, Item{}, ErrItemNotFound
	}
	return c, it, nil
}

// Item returns one item of a contract to its parties and admins.
func (s *Service) Item(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	d, err := s.Get(ctx, p, contractID)
	if err != nil {
		return Item{}, err
	}
	for _, it := range d.Items {
		if it.ID == itemID {
			return it, nil
		}
	}
	return Item{}, ErrItemNotFound
}

// retried runs try again when its operation was cancelled (another
// change of the contract committed between its read and its commit):
// each try reads again, so the loser of a race is answered by the
// contract as the winner left it.
func retried[T any](try func() (T, error)) (T, error) {
	for n := 0; ; n++ {
		v, err := try()
		if !errors.Is(err, operation.ErrCancelled) {
			return v, err
		}
		if n == 3 {
			var zero T
			return zero, ErrBusy
		}
	}
}

// AddMilestone adds a milestone to the buyer's active fixed contract.
// One that fits in the agreed price (all its milestones but those
// refunded, cancelled, proposed or declined adding up to at most
// Contract.Agreed) is unfunded, the buyer's to fund. One that does not is
// a change the worker answers: proposed (a milestone-propose operation
// adding it to Escrow.Proposed, the worker told), to be accepted (Accept:
// the agreed price grows by its coins) or declined (Decline); it cannot be
// funded meanwhile (ErrProposed). At the hire, which the worker is not
// asked about, the milestones stay within the bid: further work is
// proposed this way.
func (s *Service) AddMilestone(ctx context.Context, p auth.Principal, contractID string, m NewMilestone) (Item, error) {
	now := s.clock()
	m.DueDate = m.DueDate.UTC().Truncate(time.Millisecond)
	if err := m.check("", now); err != nil {
		if _, _, perr := s.party(ctx, p, auth.RoleBuyer, contractID, ""); perr != nil {
			return Item{}, perr
		}
		return Item{}, err
	}
	id := s.newID()
	return retried(func() (Item, error) {
		c, _, err := s.party(ctx, p, auth.RoleBuyer, contractID, "")
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case c.Type != job.TypeFixed:
			return Item{}, ErrNotMilestones
		}
		items, err := s.store.Items(ctx, c.ID)
		if err != nil {
			return Item{}, fmt.Errorf("items of contract %s: %w", c.ID, err)
		}
		if len(items) >= MaxMilestones {
			return Item{}, invalidMilestones(fmt.Sprintf("a contract has at most %d milestones", MaxMilestones))
		}
		it := Item{ID: id, ContractID: c.ID, Kind: KindMilestone, Seq: len(items) + 1, Title: m.Title, Coins: m.Coins,
			DueDate: m.DueDate, Status: ItemUnfunded, CreatedAt: now}
		if planned(items)+m.Coins <= c.Agreed() {
			if err := s.store.InsertItems(ctx, []Item{it}); err != nil {
				return Item{}, fmt.Errorf("insert milestone of contract %s: %w", c.ID, err)
			}
			return it, nil
		}
		next := c.Escrow
		next.Proposed = append(slices.Clone(c.Proposed), it.ID)
		it.Status, it.Rev = ItemProposed, c.Rev+1
		_, err = s.propose.Run(ctx, s.ops, it.ID, nil, itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("propose milestone %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

// settlePropose makes the proposed milestone and tells the worker.
func (s *Service) settlePropose(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	if err := s.store.InsertItems(ctx, []Item{it}); err != nil {
		return fmt.Errorf("insert milestone %s: %w", it.ID, err)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.MilestoneProposed, Page: notification.Contracts,
		Message: fmt.Sprintf("%s proposes %q (%d coins) beyond the agreed price of %q: accept it or decline it.",
			c.Buyer.Name, it.Title, it.Coins, c.JobTitle)})
	return nil
}

// Accept is the worker's yes to a proposed milestone: the agreed price
// grows by its coins and it is unfunded, the buyer's to fund.
func (s *Service) Accept(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	return s.answer(ctx, p, contractID, itemID, true)
}

// Decline is the worker's no to a proposed milestone: it is declined and
// never funded.
func (s *Service) Decline(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	return s.answer(ctx, p, contractID, itemID, false)
}

// answer accepts or declines a proposed milestone, as an operation on the
// contract: of an acceptance and a decline at once (or two of either),
// one commits and the other finds it answered (ErrNotProposed).
func (s *Service) answer(ctx context.Context, p auth.Principal, contractID, itemID string, yes bool) (Item, error) {
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleWorker, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case !held(c.Proposed, it.ID):
			return Item{}, ErrNotProposed
		}
		next := c.Escrow
		next.Proposed = without(c.Proposed, it.ID)
		kind, status := s.decline, ItemDeclined
		if yes {
			kind, status = s.accept, ItemUnfunded
			next.Raised += it.Coins
		}
		it.Status, it.Rev = status, c.Rev+1
		_, err = kind.Run(ctx, s.ops, it.ID, nil, itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("answer milestone %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

// settleAnswer stores the worker's answer on the milestone and tells the
// buyer.
func (s *Service) settleAnswer(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("answer milestone %s: %w", it.ID, err)
	}
	typ, msg := notification.MilestoneAccepted, fmt.Sprintf("%s accepted %q (%d coins) of %q: the agreed price grew by it; fund it when work may start.",
		c.Worker.Name, it.Title, it.Coins, c.JobTitle)
	if it.Status == ItemDeclined {
		typ, msg = notification.MilestoneDeclined, fmt.Sprintf("%s declined %q (%d coins) of %q.", c.Worker.Name, it.Title, it.Coins, c.JobTitle)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Buyer.ID, Type: typ, Page: notification.Contracts, Message: msg})
	return nil
}

// planned adds up the coins of the items that are or may be paid: all but
// those refunded or cancelled, and changes not accepted (proposed or
// declined).
func planned(items []Item) money.Coins {
	var sum money.Coins
	for _, it := range items {
		switch it.Status {
		case ItemRefunded, ItemCancelled, ItemProposed, ItemDeclined:
		default:
			sum += it.Coins
		}
	}
	return sum
}

// Fund moves an unfunded milestone's coins from the buyer into the
// contract's escrow. Short of coins: ledger.ErrInsufficientCoins, nothing
// moved. What the escrow held and paid, with it, stays within the agreed
// price (ErrOverBid): the commit's revision makes that exact. A proposed
// milestone the worker has not accepted, or declined: ErrProposed.
func (s *Service) Fund(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleBuyer, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case it.Status == ItemProposed || it.Status == ItemDeclined || held(c.Proposed, it.ID):
			return Item{}, ErrProposed
		case it.Status != ItemUnfunded || held(c.Held, it.ID):
			return Item{}, ErrFunded
		case c.Type == job.TypeFixed && c.Paid+c.Holding+it.Coins > c.Agreed():
			return Item{}, ErrOverBid
		}
		next := c.Escrow
		next.Held = append(slices.Clone(c.Held), it.ID)
		next.Holding += it.Coins
		it.Status, it.Rev = ItemFunded, c.Rev+1
		_, err = s.fund.Run(ctx, s.ops, it.ID, ledger.Move(ledger.UserAccount(c.Buyer.ID), ledger.ContractAccount(c.ID), it.Coins),
			itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("fund milestone %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

func (s *Service) revertFund(ctx context.Context, op operation.Op[itemOp]) error {
	return s.store.Unfund(ctx, op.Data.Contract.ID, op.ID, op.Data.Item.ID, op.Data.Item.Coins)
}

func (s *Service) settleFund(ctx context.Context, op operation.Op[itemOp]) error {
	if err := s.store.SetItem(ctx, op.Data.Item); err != nil {
		return fmt.Errorf("mark milestone %s funded: %w", op.Data.Item.ID, err)
	}
	c, it := op.Data.Contract, op.Data.Item
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.MilestoneFunded, Page: notification.Contracts,
		Message: fmt.Sprintf("%d coins are in escrow for %q of %q.", it.Coins, it.Title, c.JobTitle)})
	return nil
}

// Submit puts the worker's funded milestone in the buyer's review, with
// a message and attachments.
func (s *Service) Submit(ctx context.Context, p auth.Principal, contractID, itemID string, sub Submission) (Item, error) {
	if err := sub.check(); err != nil {
		return Item{}, err
	}
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleWorker, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		switch {
		case c.Status != StatusActive:
			return Item{}, ErrEnded
		case it.Kind == KindWeek:
			return Item{}, ErrNotMilestones // a week is logged with its hours (LogTime)
		case it.Status != ItemFunded || !held(c.Held, it.ID) || held(c.Submitted, it.ID):
			return Item{}, ErrNotFunded
		}
		next := c.Escrow
		next.Submitted = append(slices.Clone(c.Submitted), it.ID)
		it.Status, it.Rev, it.Message, it.Attachments = ItemSubmitted, c.Rev+1, sub.Message, sub.Attachments
		it.ReworkDeadline = time.Time{} // met
		it.Submissions++
		_, err = s.submit.Run(ctx, s.ops, it.ID+":"+strconv.Itoa(it.Submissions), nil,
			itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("submit milestone %s: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

// settleSubmit marks the item submitted at the operation's start (the
// auto-release counts from then), tells the buyer and their webhooks: a
// milestone as contract.milestone_submitted, a week's timesheet as
// contract.timesheet_submitted (see webhook.TimesheetSubmitted for why
// not the same event).
func (s *Service) settleSubmit(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	it.SubmittedAt = op.At
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark milestone %s submitted: %w", it.ID, err)
	}
	typ, data := webhook.MilestoneSubmitted, any(milestoneEvent(c, it))
	if it.Kind == KindWeek {
		typ, data = webhook.TimesheetSubmitted, webhook.TimesheetData{ID: it.ID, ContractID: c.ID, JobTitle: c.JobTitle, WeekStart: it.WeekStart,
			Hours: it.Hours, Memo: it.Message, Pay: min(c.Rate*money.Coins(it.Hours), it.Coins), WeekCoins: it.Coins, WorkerID: c.Worker.ID,
			SubmittedAt: it.SubmittedAt, ApproveAt: it.SubmittedAt.Add(TimesheetReview)}
	}
	if err := s.events.Emit(ctx, c.Buyer.ID, typ, op.ID, op.At, data); err != nil {
		return fmt.Errorf("tell of milestone %s: %w", it.ID, err)
	}
	msg := fmt.Sprintf("%s submitted %q of %q: approve it or ask for changes.", c.Worker.Name, it.Title, c.JobTitle)
	if it.Kind == KindWeek {
		msg = fmt.Sprintf("%s logged %d hours for the %s of %q: approve the timesheet or dispute it within %d days, or it is approved.",
			c.Worker.Name, it.Hours, strings.ToLower(it.Title[:1])+it.Title[1:], c.JobTitle, int(TimesheetReview.Hours()/24))
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Buyer.ID, Type: notification.MilestoneSubmitted, Page: notification.Contracts,
		Message: msg})
	return nil
}

func milestoneEvent(c ref, it Item) webhook.MilestoneData {
	return webhook.MilestoneData{ID: it.ID, ContractID: c.ID, JobTitle: c.JobTitle, Title: it.Title, Coins: it.Coins,
		Status: string(it.Status), Message: it.Message, Attachments: it.Attachments, SubmittedAt: it.SubmittedAt,
		WorkerID: c.Worker.ID}
}

// Approve releases the buyer's submitted milestone: its coins go from
// escrow to the worker.
func (s *Service) Approve(ctx context.Context, p auth.Principal, contractID, itemID string) (Item, error) {
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleBuyer, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		return s.releaseItem(ctx, c, it, false)
	})
}

// releaseItem releases a submitted item: a milestone's coins to the
// worker; a week's timesheet, hours × rate to the worker and the rest of
// the week's escrow back to the buyer, in the one operation.
func (s *Service) releaseItem(ctx context.Context, c Contract, it Item, auto bool) (Item, error) {
	if !held(c.Submitted, it.ID) || it.Status != ItemSubmitted {
		return Item{}, ErrNotSubmitted
	}
	pay := payOf(c, it)
	next := c.Escrow
	next.Held = without(c.Held, it.ID)
	next.Submitted = without(c.Submitted, it.ID)
	next.Holding -= it.Coins
	next.Paid += pay
	next.Refunded += it.Coins - pay
	it.Status, it.Rev, it.AutoRelease, it.WorkerCoins = ItemReleased, c.Rev+1, auto, pay
	_, err := s.release.Run(ctx, s.ops, it.ID, payout(c, it.Coins, pay),
		itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
	if err != nil {
		return Item{}, fmt.Errorf("release milestone %s: %w", it.ID, err)
	}
	return s.store.Item(ctx, it.ID)
}

func without(ids []string, id string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(v string) bool { return v == id })
}

// settleRelease marks the item released, has its invoice made, and tells
// the worker (and the buyer, when the job released it).
func (s *Service) settleRelease(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	it.ReleasedAt = op.At
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("mark milestone %s released: %w", it.ID, err)
	}
	if it.WorkerCoins > 0 {
		if err := s.invoices.Released(ctx, Payment{OperationID: op.ID, ContractID: c.ID, JobID: c.JobID, JobTitle: c.JobTitle, MilestoneTitle: it.Title,
			Buyer: c.Buyer, Worker: c.Worker, Coins: it.WorkerCoins, At: op.At}); err != nil {
			return fmt.Errorf("invoice milestone %s: %w", it.ID, err)
		}
	}
	if it.Kind == KindWeek {
		s.tellTimesheet(ctx, op.ID, c, it)
		return nil
	}
	how := "approved"
	if it.AutoRelease {
		how = "released automatically"
		s.tell(ctx, notification.Notification{ID: op.ID + ":buyer", UserID: c.Buyer.ID, Type: notification.MilestoneReleased,
			Page: notification.Contracts, Message: fmt.Sprintf("%q of %q was released to %s automatically: %d coins.",
				it.Title, c.JobTitle, c.Worker.Name, it.Coins)})
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.MilestoneReleased, Page: notification.Contracts,
		Message: fmt.Sprintf("%q of %q was %s: you earned %d coins.", it.Title, c.JobTitle, how, it.Coins)})
	return nil
}

// RequestChanges sends the buyer's submitted milestone back to the worker
// with a note (MinChangeNoteLen to MaxChangeNoteLen characters); its coins
// stay in escrow.
func (s *Service) RequestChanges(ctx context.Context, p auth.Principal, contractID, itemID, note string) (Item, error) {
	note, err := checkNote(note)
	if err != nil {
		return Item{}, err
	}
	return retried(func() (Item, error) {
		c, it, err := s.party(ctx, p, auth.RoleBuyer, contractID, itemID)
		if err != nil {
			return Item{}, err
		}
		if !held(c.Submitted, it.ID) || it.Status != ItemSubmitted {
			return Item{}, ErrNotSubmitted
		}
		next := c.Escrow
		next.Submitted = without(c.Submitted, it.ID)
		it.Status, it.Rev, it.ChangeNote = ItemFunded, c.Rev+1, note
		it.Changes++
		_, err = s.changes.Run(ctx, s.ops, it.ID+":"+strconv.Itoa(it.Changes), nil,
			itemOp{Contract: refOf(c), Next: next, Rev: c.Rev + 1, Item: it})
		if err != nil {
			return Item{}, fmt.Errorf("send milestone %s back: %w", it.ID, err)
		}
		return s.store.Item(ctx, it.ID)
	})
}

func (s *Service) settleChanges(ctx context.Context, op operation.Op[itemOp]) error {
	it, c := op.Data.Item, op.Data.Contract
	if err := s.store.SetItem(ctx, it); err != nil {
		return fmt.Errorf("send milestone %s back: %w", it.ID, err)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: c.Worker.ID, Type: notification.ChangesRequested, Page: notification.Contracts,
		Message: fmt.Sprintf("%s asked for changes to %q of %q: %s", c.Buyer.Name, it.Title, c.JobTitle, it.ChangeNote)})
	return nil
}

// End ends the party's active contract with a reason: what its escrow
// holds goes back to the buyer (funded milestones not submitted; an
// hourly contract's week, until timesheets settle the hours worked), and
// milestones never funded are cancelled. A submitted milestone must be
// approved or sent back first (ErrInReview), a disputed one decided
// (ErrDisputed). The other party is told;
// both may then review each other.
func (s *Service) End(ctx context.Context, p auth.Principal, contractID, reason string) (Contract, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return Contract{}, err
	}
	return retried(func() (Contract, error) {
		c, _, err := s.party(ctx, p, "", contractID, "")
		if err != nil {
			return Contract{}, err
		}
		if !c.HasParty(p.UserID) {
			return Contract{}, ErrNotFound
		}
		switch {
		case c.Status != StatusActive:
			return Contract{}, ErrEnded
		case len(c.Disputed) > 0:
			return Contract{}, ErrDisputed
		case len(c.Submitted) > 0:
			return Contract{}, ErrInReview
		}
		next := Escrow{Status: StatusEnded, Held: []string{}, Submitted: []string{}, Disputed: []string{}, Paid: c.Paid, Refunded: c.Refunded + c.Holding,
			Proposed: []string{}, Raised: c.Raised}
		var postings []ledger.Posting
		if c.Holding > 0 {
			postings = ledger.Move(ledger.ContractAccount(c.ID), ledger.UserAccount(c.Buyer.ID), c.Holding)
		}
		_, err = s.end.Run(ctx, s.ops, c.ID, postings,
			endData{Contract: refOf(c), Next: next, Rev: c.Rev + 1, By: p.UserID, Reason: reason, Refund: c.Holding, Held: c.Held})
		if err != nil {
			return Contract{}, fmt.Errorf("end contract %s: %w", c.ID, err)
		}
		return s.store.Contract(ctx, c.ID)
	})
}

func (s *Service) commitEnd(ctx context.Context, op operation.Op[endData]) (bool, error) {
	return s.store.Commit(ctx, op.Data.Contract.ID, op.ID, op.Data.Rev, op.Data.Next)
}

// settleEnd records who ended the contract and why, refunds or cancels
// its items, and tells the other party.
func (s *Service) settleEnd(ctx context.Context, op operation.Op[endData]) error {
	c := op.Data.Contract
	if err := s.store.SetEnded(ctx, c.ID, op.Data.By, op.Data.Reason, op.At); err != nil {
		return fmt.Errorf("record the end of contract %s: %w", c.ID, err)
	}
	items, err := s.store.Items(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("items of contract %s: %w", c.ID, err)
	}
	// What the escrow held, as the end read it, was refunded: an item's
	// own document may not show its funding yet (that step may still be
	// to run, and then finds the item ended).
	for _, it := range items {
		switch {
		case held(op.Data.Held, it.ID):
			it.Status = ItemRefunded
		case it.Status == ItemUnfunded || it.Status == ItemProposed:
			it.Status = ItemCancelled
		default:
			continue
		}
		it.Rev = op.Data.Rev
		if err := s.store.SetItem(ctx, it); err != nil {
			return fmt.Errorf("end milestone %s: %w", it.ID, err)
		}
	}
	other, by := c.Worker, c.Buyer
	if op.Data.By == c.Worker.ID {
		other, by = c.Buyer, c.Worker
	}
	msg := fmt.Sprintf("%s ended the contract for %q.", by.Name, c.JobTitle)
	if op.Data.Refund > 0 {
		msg += fmt.Sprintf(" %d coins in escrow went back to the buyer.", op.Data.Refund)
	}
	s.tell(ctx, notification.Notification{ID: op.ID, UserID: other.ID, Type: notification.ContractEnded, Page: notification.Contracts,
		Message: msg + " You may now review each other."})
	return nil
}

// autoReleaseBatch bounds the items one round of the job releases.
const autoReleaseBatch = 50

// ReleaseDue releases the submitted milestones their buyers left alone
// for the auto-release delay, as an approval would: the job of
// MILESTONE_AUTO_RELEASE. A milestone approved, sent back or disputed
// meanwhile is left: its commit no longer applies (the contract's revision
// moved on, and the item is no longer in Submitted).
//
// Timesheets the buyers left alone for TimesheetReview are approved the
// same way, in the same round.
func (s *Service) ReleaseDue(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, KindMilestone, s.clock().Add(-s.autoRelease), autoReleaseBatch)
	if err != nil {
		return 0, fmt.Errorf("read milestones due for release: %w", err)
	}
	weeks, err := s.store.Due(ctx, KindWeek, s.clock().Add(-TimesheetReview), autoReleaseBatch)
	if err != nil {
		return 0, fmt.Errorf("read timesheets due for approval: %w", err)
	}
	due = append(due, weeks...)
	n := 0
	for _, it := range due {
		c, err := s.store.Contract(ctx, it.ContractID)
		if err != nil {
			return n, fmt.Errorf("read contract %s: %w", it.ContractID, err)
		}
		_, err = s.releaseItem(ctx, c, it, true)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrNotSubmitted), errors.Is(err, operation.ErrCancelled):
			// decided meanwhile
		default:
			return n, err
		}
	}
	return n, nil
}

// CheckEscrow is the audit's invariant of contracts: each contract's
// escrow account holds what the contract says its items hold, a fixed
// contract's escrow and payments stay within its agreed price, and no
// escrow account of a contract holds coins without its contract.
// Accounts that operations in flight post to are left out.
func (s *Service) CheckEscrow(ctx context.Context, balances map[string]money.Coins, busy map[string]bool) ([]string, error) {
	var problems []string
	seen := map[string]bool{}
	err := s.store.Each(ctx, func(c Contract) error {
		acct := ledger.ContractAccount(c.ID)
		seen[acct] = true
		if busy[acct] {
			return nil
		}
		if got := balances[acct]; got != c.Holding {
			problems = append(problems, fmt.Sprintf("contract %s: escrow holds %d, want %d (items %v)", c.ID, got, c.Holding, c.Held))
		}
		// What a fixed contract has escrowed and paid stays within its
		// agreed price: the bid and the changes its worker accepted.
		if c.Type == job.TypeFixed && c.Paid+c.Holding > c.Agreed() {
			problems = append(problems, fmt.Sprintf("contract %s: holds %d and paid %d, beyond its agreed price %d", c.ID, c.Holding, c.Paid, c.Agreed()))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check the escrow of contracts: %w", err)
	}
	for acct, bal := range balances {
		if ledger.AccountKind(acct) == "contract" && !seen[acct] && !busy[acct] && bal != 0 {
			problems = append(problems, fmt.Sprintf("%s holds %d but its contract does not exist", acct, bal))
		}
	}
	return problems, nil
}

// Contracted reports whether the buyer and the worker have a contract,
// active or ended: who may write to whom (package chat). One read.
func (s *Service) Contracted(ctx context.Context, buyerID, workerID string) (bool, error) {
	return s.store.Contracted(ctx, buyerID, workerID)
}
