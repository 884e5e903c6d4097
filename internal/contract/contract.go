// Package contract is the projects' side of the marketplace once a buyer
// hires: the contract between a job's buyer and the worker hired, and the
// coins it holds in escrow for the work, paid by milestones (fixed price)
// or by the week (hourly).
//
// # Escrow items
//
// Whatever a contract holds in escrow is held for an escrow item: a
// milestone (fixed) or a week (hourly). An item is funded (its coins move
// from the buyer to the contract's escrow account, contract:<id>), and
// later released to the worker, refunded to the buyer, or, by an admin's
// decision on a dispute, split between them. The contract document keeps
// which items its escrow holds (Held: their ids) and how much (Holding),
// which the audit checks against the account; each item has its own
// document with its title, coins and state, for reading.
//
// Every change of what the escrow holds is an operation whose Commit is
// one conditional update of the contract document, guarded by its
// revision (Rev: every commit adds one, and an operation reads the
// contract at Rev-1): two changes of one contract at once (an approval and
// a request for changes, an approval and the end) cannot both commit: the
// second is cancelled and answered by what the contract is now. The
// items' documents follow in the operations' Settle steps, each update
// guarded by the same revision, so that a late step never undoes a later
// one. The weeks of hourly contracts (timesheets) and disputes build on
// this: a week is an item like a milestone, and a dispute's release,
// refund or split is an operation of the same shape (Commit on the
// contract: the item leaves Held; postings from contract:<id> to the
// worker, the buyer or both).
package contract

import (
	"context"
	"slices"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/webhook"
)

// Status is where a contract is in its life.
type Status string

// The statuses.
const (
	StatusActive Status = "active" // work goes on; items are funded, submitted and released
	StatusEnded  Status = "ended"  // ended by a party; what escrow held unsubmitted was refunded
)

// Party names a user on a contract.
type Party struct {
	ID   string
	Name string
}

// Contract is the agreement between a job's buyer and the worker hired.
type Contract struct {
	ID         string
	JobID      string
	JobTitle   string
	ProposalID string
	Type       job.Type
	Buyer      Party
	Worker     Party
	// Price is a fixed contract's accepted bid: its milestones add up to
	// at most this and what the worker's accepted changes raised it by
	// (Escrow.Raised; Agreed). Rate and WeeklyHourLimit are an hourly contract's; a
	// week's escrow is Rate × WeeklyHourLimit.
	Price           money.Coins
	Rate            money.Coins
	WeeklyHourLimit int
	Status          Status
	Escrow
	Rev       int64    // the revision: every change of the escrow adds one
	Ops       []string // the operations committed on it
	CreatedAt time.Time
	EndedAt   time.Time
	EndedBy   string // the party who ended it
	EndReason string
}

// Escrow is what a contract holds and has paid: the part of the contract
// its operations change.
type Escrow struct {
	Status    Status
	Held      []string    // the ids of the items the escrow holds coins for: funded, in review (or disputed)
	Submitted []string    // of those, the ones the worker submitted, in the buyer's review
	Disputed  []string    // of those, the ones disputed: an admin decides what becomes of their coins
	Holding   money.Coins // what contract:<id> holds: the coins of the Held items
	Paid      money.Coins // released to the worker so far
	Refunded  money.Coins // given back to the buyer so far
	// An hourly contract's weeks: NextWeek is when the next week starts
	// (the job funds it then); Paused is set when its buyer could not
	// fund a week, until they resume it (POST /contracts/{id}/resume).
	NextWeek time.Time
	Paused   bool
	// A fixed contract's changes: Proposed are the milestones the buyer
	// added beyond the agreed price, awaiting the worker's answer; Raised
	// what the milestones the worker accepted added to the price.
	Proposed []string
	Raised   money.Coins
}

// HasParty reports whether the user is the contract's buyer or worker.
func (c Contract) HasParty(userID string) bool { return c.Buyer.ID == userID || c.Worker.ID == userID }

// Agreed is what a fixed contract's milestones may add up to: the
// accepted bid, raised by the changes its worker accepted.
func (c Contract) Agreed() money.Coins { return c.Price + c.Raised }

// WeekCoins is what a week of an hourly contract holds in escrow.
func (c Contract) WeekCoins() money.Coins { return c.Rate * money.Coins(c.WeeklyHourLimit) }

// ItemKind is what an escrow item pays for.
type ItemKind string

// The kinds.
const (
	KindMilestone ItemKind = "milestone" // a part of a fixed contract's work
	KindWeek      ItemKind = "week"      // a week of an hourly contract, up to its hour limit
)

// ItemStatus is where an escrow item is in its life.
type ItemStatus string

// The item statuses.
const (
	ItemProposed  ItemStatus = "proposed"  // added beyond the agreed price: the worker accepts it (unfunded) or declines it
	ItemDeclined  ItemStatus = "declined"  // proposed, and declined by the worker: never funded
	ItemUnfunded  ItemStatus = "unfunded"  // added (or accepted); nothing escrowed yet
	ItemFunded    ItemStatus = "funded"    // its coins are in escrow; the worker works on it (again, after changes were asked)
	ItemSubmitted ItemStatus = "submitted" // the worker submitted it: the buyer approves it or asks for changes
	ItemReleased  ItemStatus = "released"  // paid to the worker
	ItemRefunded  ItemStatus = "refunded"  // given back to the buyer (the contract ended before it was submitted; a week never logged)
	ItemCancelled ItemStatus = "cancelled" // never funded (or proposed), and the contract ended
	ItemDisputed  ItemStatus = "disputed"  // submitted, then disputed by a party: its coins stay in escrow until an admin decides
	ItemSplit     ItemStatus = "split"     // an admin's decision of its dispute paid part to the worker, the rest back to the buyer
)

// Item is an escrow item: a milestone, or a week of an hourly contract.
type Item struct {
	ID         string
	ContractID string
	Kind       ItemKind
	Seq        int // its order in the contract, from 1
	Title      string
	Coins      money.Coins
	DueDate    time.Time // zero: none
	WeekStart  time.Time // a week's first day: a Monday, 00:00 UTC
	Hours      int       // a week's timesheet: the hours worked (Message is its memo)
	Status     ItemStatus
	// The worker's latest submission of it.
	Message     string
	Attachments []string
	SubmittedAt time.Time
	Submissions int    // how often it was submitted
	Changes     int    // how often the buyer asked for changes
	ChangeNote  string // the buyer's latest request for changes
	ReleasedAt  time.Time
	AutoRelease bool // released by the job, the buyer having left it alone
	// Disputes: how often it was disputed; DisputeID the latest dispute
	// (its report in the admins' queue); Resolution the admin's decision
	// of it, once decided; WorkerCoins what was paid to the worker
	// (released: Coins; split: the admin's share).
	Disputes    int
	DisputeID   string
	Resolution  Resolution
	WorkerCoins money.Coins
	// ReworkDeadline is when the work an admin sent back is due again:
	// missed (not submitted by then), the buyer may have it refunded.
	// Zero once it is submitted again.
	ReworkDeadline time.Time
	Rev            int64
	CreatedAt      time.Time
}

// Holds reports whether the item's coins are in escrow.
func (i Item) Holds() bool {
	return i.Status == ItemFunded || i.Status == ItemSubmitted || i.Status == ItemDisputed
}

// Detail is a contract with its items, in their order.
type Detail struct {
	Contract
	Items []Item
}

// Errors.
var (
	ErrNotFound     = apperr.New(apperr.NotFound, "contract_not_found", "no such contract")
	ErrItemNotFound = apperr.New(apperr.NotFound, "milestone_not_found", "no such milestone in this contract")
	ErrEnded        = apperr.New(apperr.Conflict, "contract_ended", "the contract has ended")
	ErrNotFunded    = apperr.New(apperr.Conflict, "milestone_not_funded",
		"the milestone is not funded and waiting for work: fund it first, or it was submitted, released or refunded already")
	ErrFunded = apperr.New(apperr.Conflict, "milestone_funded",
		"the milestone is funded already, or released, refunded or cancelled")
	ErrNotSubmitted = apperr.New(apperr.Conflict, "milestone_not_submitted",
		"the milestone is not in review: it was approved, sent back or not submitted yet")
	ErrInReview = apperr.New(apperr.Conflict, "milestone_in_review",
		"a submitted milestone awaits the buyer: approve it or send it back first")
	ErrOverBid = apperr.New(apperr.Conflict, "milestones_over_bid",
		"the milestones funded would add up to more than the agreed price (the accepted bid and the changes the worker accepted)")
	ErrProposed = apperr.New(apperr.Conflict, "milestone_proposed",
		"the milestone goes beyond the agreed price: only once its worker accepts it may it be funded (a declined one never)")
	ErrNotProposed = apperr.New(apperr.Conflict, "milestone_not_proposed",
		"the milestone is not a proposed change awaiting the worker: accepted, declined, or within the agreed price")
	ErrNotMilestones = apperr.New(apperr.Conflict, "hourly_contract",
		"an hourly contract is paid by the week: it has no milestones")
	ErrDisputed = apperr.New(apperr.Conflict, "milestone_disputed",
		"a milestone of the contract is disputed: an admin decides it first")
	ErrNotDisputed = apperr.New(apperr.Conflict, "milestone_not_disputed",
		"the milestone is not in dispute: it was decided already, or never disputed")
	ErrReworkNotMissed = apperr.New(apperr.Conflict, "rework_not_missed",
		"the milestone is not a rework whose deadline passed unsubmitted")
	ErrNotHourly = apperr.New(apperr.Conflict, "fixed_contract",
		"a fixed contract is paid by milestones: it has no timesheets")
	ErrWeekNotFunded = apperr.New(apperr.Conflict, "week_not_funded",
		"that week of the contract is not funded: log the hours of a funded week that has started")
	ErrTimesheetLogged = apperr.New(apperr.Conflict, "timesheet_logged",
		"that week has a timesheet already: in the buyer's review, disputed, approved or refunded")
	ErrTimesheetNotFound = apperr.New(apperr.NotFound, "timesheet_not_found", "no such timesheet")
	ErrNotPaused         = apperr.New(apperr.Conflict, "contract_not_paused", "the contract is not paused")
	ErrBusy              = apperr.New(apperr.Conflict, "contract_busy",
		"the contract changed while this request ran; read it again and retry")
)

// Store persists contracts and their items. storage.ContractStore
// implements it.
type Store interface {
	// InsertContract adds a contract; one inserted already is left.
	InsertContract(ctx context.Context, c Contract) error
	// InsertItems adds items; those inserted already are left.
	InsertItems(ctx context.Context, items []Item) error
	// Contract returns a contract. ErrNotFound if missing.
	Contract(ctx context.Context, id string) (Contract, error)
	// Items returns a contract's items in their order.
	Items(ctx context.Context, contractID string) ([]Item, error)
	// Item returns an item. ErrItemNotFound if missing.
	Item(ctx context.Context, id string) (Item, error)
	// List returns a page of the user's contracts (as either party), the
	// latest first, only those of status if it is not empty, and their
	// count.
	List(ctx context.Context, userID string, status Status, p page.Request) ([]Contract, int64, error)
	// Commit is the commit of operation op on the contract: if its
	// revision is still rev-1, it becomes e at revision rev, recording
	// op. True if it did now or had already (op is recorded).
	Commit(ctx context.Context, contractID, op string, rev int64, e Escrow) (bool, error)
	// Unfund undoes the commit of op, a funding of item whose coins fell
	// short: the item leaves Held and its coins Escrow, and op is
	// forgotten. Nothing if op is not recorded.
	Unfund(ctx context.Context, contractID, op, itemID string, coins money.Coins) error
	// SetEnded records who ended the contract, why and when.
	SetEnded(ctx context.Context, contractID, by, reason string, at time.Time) error
	// SetItem stores the item's new state, if its revision is below
	// i.Rev: a late step never undoes a later one.
	SetItem(ctx context.Context, i Item) error
	// Due returns up to limit items of the kind submitted at or before
	// before.
	Due(ctx context.Context, kind ItemKind, before time.Time, limit int) ([]Item, error)
	// Unlogged returns up to limit funded weeks never logged (no
	// timesheet ever) that started before before, the earliest first.
	Unlogged(ctx context.Context, before time.Time, limit int) ([]Item, error)
	// Weeks returns a page of an hourly contract's weeks, the latest
	// first, and their count.
	Weeks(ctx context.Context, contractID string, p page.Request) ([]Item, int64, error)
	// WeekDue returns up to limit active hourly contracts, not paused,
	// whose next week starts at or before now.
	WeekDue(ctx context.Context, now time.Time, limit int) ([]Contract, error)
	// RestoreWeek sets when the contract's next week starts back to prev
	// and whether it is paused back to paused, if its next week is still
	// at (what a reverted funding set).
	RestoreWeek(ctx context.Context, contractID string, at, prev time.Time, paused bool) error
	// Contracted reports whether the buyer and the worker have a
	// contract.
	Contracted(ctx context.Context, buyerID, workerID string) (bool, error)
	// Each calls fn for every contract, for the audit.
	Each(ctx context.Context, fn func(Contract) error) error
}

// Jobs is what a hire asks of jobs and proposals; job.Service
// implements it.
type Jobs interface {
	ForHire(ctx context.Context, buyer auth.Principal, jobID, proposalID string) (job.Job, job.Proposal, error)
	MarkHired(ctx context.Context, jobID, buyerID, proposalID, contractID string, at time.Time) (bool, error)
	Unhire(ctx context.Context, jobID, proposalID, contractID string, at time.Time) error
	SettleHire(ctx context.Context, jobID, proposalID string, at time.Time) error
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// Events stores webhook events for the endpoints of a contract's buyer;
// webhook.Service implements it. Emit is called from an operation's step,
// and stores each event once however often the step runs.
type Events interface {
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}

// Payment is a milestone (or, with timesheets, a week's hours) released to
// the worker: what an invoice is made of.
type Payment struct {
	OperationID    string // the release's operation: an invoice per operation, however often its step runs
	ContractID     string
	JobID          string
	JobTitle       string
	MilestoneTitle string // the item's title
	Buyer          Party  // who pays
	Worker         Party  // who is paid
	Coins          money.Coins
	At             time.Time // when the release started
}

// Invoices makes the invoice of each payment (package invoice, through
// the wiring). Released is called
// from the release operation's Settle step, which may run more than once
// after a crash: it must be idempotent by Payment.OperationID.
type Invoices interface {
	Released(ctx context.Context, p Payment) error
}

// Disputes files a dispute in the admins' queue of reports; the wiring
// connects the reports' store. File is called from the dispute
// operation's Settle step, which may run more than once after a crash: a
// dispute filed already (by its ID) is left.
type Disputes interface {
	File(ctx context.Context, d Dispute) error
}

// AdminLog records admins' decisions; adminlog.Log implements it.
type AdminLog interface {
	Record(ctx context.Context, e adminlog.Entry) error
}

// held reports whether id is in ids.
func held(ids []string, id string) bool { return slices.Contains(ids, id) }
