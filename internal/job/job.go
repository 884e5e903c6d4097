// Package job is the projects' side of the marketplace before the work
// starts: buyers post jobs (one piece of work for one worker, at a fixed
// price or by the hour), workers send proposals, and the buyer reads them,
// declines some and hires one (package contract makes the contract). A job
// escrows nothing: coins move only once a contract is made.
//
// Jobs and their proposals are one capability, as a proposal lives only
// with its job (one per worker and job, counted, declined and closed with
// it); they are kept in two collections, jobs and proposals.
package job

import (
	"context"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/task"
)

// Type is how a job pays.
type Type string

// The types.
const (
	TypeFixed  Type = "fixed"  // a budget, paid by milestones
	TypeHourly Type = "hourly" // a rate per hour, up to a weekly limit of hours
)

// Status is where a job is in its life.
type Status string

// The statuses.
const (
	StatusOpen   Status = "open"   // takes proposals
	StatusHired  Status = "hired"  // its buyer hired a worker: a contract runs; no more proposals
	StatusClosed Status = "closed" // closed by its buyer without hiring; no more proposals
)

// Party names a user on a job or a proposal.
type Party struct {
	ID   string
	Name string
}

// Job is a piece of work a buyer wants one worker for.
type Job struct {
	ID          string
	Title       string
	Description string
	Category    string   // one of Categories
	Skills      []string // as written, trimmed, no two alike but for case
	Type        Type
	// Budget is a fixed job's price; HourlyRate and WeeklyHourLimit an
	// hourly job's. The others are zero.
	Budget          money.Coins
	HourlyRate      money.Coins
	WeeklyHourLimit int
	Deadline        time.Time // zero: none
	// Requirements are what the job asks of the workers who propose: the
	// same rule as tasks' (task.Requirements.Admits).
	Requirements task.Requirements
	Buyer        Party
	Status       Status
	// Hidden: its buyer is suspended, deleted or no longer a buyer: out
	// of the public list, and it takes no proposals.
	Hidden     bool
	ContractID string // the contract its hire made, once hired
	CreatedAt  time.Time
	ClosedAt   time.Time // when it was hired or closed
}

// BudgetKey is what the job is worth for the budget filters and sort: a
// fixed job's budget, or a full week of an hourly one (rate × weekly hour
// limit), which is what hiring it escrows first. Kept with the job, as the
// in-memory copy sorts and filters on stored fields only.
func (j Job) BudgetKey() money.Coins {
	if j.Type == TypeHourly {
		return j.HourlyRate * money.Coins(j.WeeklyHourLimit)
	}
	return j.Budget
}

// The categories a job may be in: a fixed list, so that clients can offer
// it as a menu and filters match exactly. Projects are larger pieces of
// work than tasks, hence their own list.
const (
	CategoryDevelopment = "development"
	CategoryDesign      = "design"
	CategoryWriting     = "writing"
	CategoryTranslation = "translation"
	CategoryDataEntry   = "data_entry"
	CategoryMarketing   = "marketing"
	CategoryResearch    = "research"
	CategoryOther       = "other" // the default
)

// Categories lists every category.
var Categories = []string{CategoryDevelopment, CategoryDesign, CategoryWriting, CategoryTranslation, CategoryDataEntry,
	CategoryMarketing, CategoryResearch, CategoryOther}

// Sort orders of the public list.
const (
	SortNewest   = "newest"   // the latest posted first (default)
	SortBudget   = "budget"   // the highest BudgetKey first
	SortDeadline = "deadline" // the nearest deadline first; jobs without one last
)

// Filter selects jobs for a list.
type Filter struct {
	Query     string // words in title or description, case-insensitive
	Category  string
	Skill     string // among the job's skills, compared without case
	Type      Type   // empty: both
	MinBudget money.Coins
	MaxBudget money.Coins // 0: no bound
	Sort      string
	BuyerID   string // only this buyer's jobs, whatever their status; otherwise open jobs only
	// EligibleFor leaves out the jobs whose requirements this worker does
	// not meet, in the same query (task.Requirements.Admits as a filter).
	EligibleFor string
	// Candidate is what the worker EligibleFor brings to requirements;
	// the service fills it in.
	Candidate *task.Candidate
}

// Edit changes some of an open job's fields: a nil field stays as it is.
// The type never changes: proposals were made for it.
type Edit struct {
	Title           *string
	Description     *string
	Category        *string
	Skills          *[]string
	Budget          *money.Coins
	HourlyRate      *money.Coins
	WeeklyHourLimit *int
	Deadline        *time.Time // a zero time removes the deadline
	// Requirements change as a task's: a nil one stays, 0 or an empty
	// list asks nothing.
	task.RequirementsEdit
}

// ProposalStatus is where a proposal is in its life.
type ProposalStatus string

// The proposal statuses.
const (
	ProposalPending   ProposalStatus = "pending"   // awaits the buyer
	ProposalWithdrawn ProposalStatus = "withdrawn" // by its worker
	ProposalDeclined  ProposalStatus = "declined"  // by the buyer, or as another was hired or the job closed
	ProposalHired     ProposalStatus = "hired"     // its worker was hired: a contract runs
)

// Proposal is a worker's offer to do a job.
type Proposal struct {
	ID       string
	JobID    string
	JobTitle string
	JobType  Type
	BuyerID  string
	Worker   Party
	// Bid is the price asked: for a fixed job the whole price, for an
	// hourly one the rate per hour.
	Bid           money.Coins
	CoverLetter   string
	EstimatedDays int
	Status        ProposalStatus
	DeclineReason string
	CreatedAt     time.Time
	DecidedAt     time.Time // when it was withdrawn, declined or hired
}

// Errors.
var (
	ErrNotFound = apperr.New(apperr.NotFound, "job_not_found", "no such job")
	ErrNotOpen  = apperr.New(apperr.Conflict, "job_not_open",
		"the job is no longer open (hired or closed); this needs an open job")
	ErrProposalNotFound = apperr.New(apperr.NotFound, "proposal_not_found", "no such proposal")
	ErrAlreadyProposed  = apperr.New(apperr.Conflict, "already_proposed",
		"you have sent a proposal for this job already (one per worker, also once withdrawn)")
	ErrProposalNotPending = apperr.New(apperr.Conflict, "proposal_not_pending",
		"the proposal was withdrawn, declined or hired already")
	// ErrRequirementsNotMet is task.ErrRequirementsNotMet's code, worded
	// for a job: the rule is the same. Its message names the requirement
	// missed (task.Requirements.Missed).
	ErrRequirementsNotMet = apperr.New(apperr.Forbidden, "requirements_not_met",
		"you do not meet this job's requirements")
)

// checkCategory returns a field error unless c is one of Categories.
func checkCategory(errs *apperr.Fields, c string) {
	if !slices.Contains(Categories, c) {
		errs.Add("category", "must be one of: %s", strings.Join(Categories, ", "))
	}
}

// Store persists jobs and proposals. storage.JobStore implements it.
type Store interface {
	// Insert adds a job.
	Insert(ctx context.Context, j Job) error
	// ByID returns a job. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Job, error)
	// List returns a page of jobs matching f, and their count.
	List(ctx context.Context, f Filter, p page.Request) ([]Job, int64, error)
	// Edit changes the fields e sets of the buyer's open job. ErrNotFound
	// if there is no such job of the buyer's, ErrNotOpen if it is not
	// open.
	Edit(ctx context.Context, id, buyerID string, e Edit) (Job, error)
	// SetStatus moves the buyer's open job to status (hired, with the
	// contract, or closed). False if it is not open.
	SetStatus(ctx context.Context, id, buyerID string, status Status, contractID string, at time.Time) (bool, error)
	// SetHidden hides or shows every job of a buyer.
	SetHidden(ctx context.Context, buyerID string, hidden bool) error
	// Reopen moves a job hired for contractID back to open. Nothing if it
	// is not so.
	Reopen(ctx context.Context, id, contractID string) error
	// RequiresOpen reports whether an open job (hidden included)
	// requires the qualification type.
	RequiresOpen(ctx context.Context, typeID string) (bool, error)

	// InsertProposal adds a proposal; ErrAlreadyProposed if the worker has
	// one for the job.
	InsertProposal(ctx context.Context, p Proposal) error
	// Proposal returns a proposal. ErrProposalNotFound if missing.
	Proposal(ctx context.Context, id string) (Proposal, error)
	// WorkerProposal returns the worker's proposal for the job.
	// ErrProposalNotFound if none.
	WorkerProposal(ctx context.Context, jobID, workerID string) (Proposal, error)
	// Proposals returns a page of a job's proposals, the earliest first,
	// and their count; or (jobID empty) the worker's, the latest first.
	Proposals(ctx context.Context, jobID, workerID string, p page.Request) ([]Proposal, int64, error)
	// CountProposals counts a job's proposals not withdrawn.
	CountProposals(ctx context.Context, jobID string) (int64, error)
	// SetProposalStatus moves a pending proposal to status. False if it is
	// not pending.
	SetProposalStatus(ctx context.Context, id string, status ProposalStatus, reason string, at time.Time) (bool, error)
	// Unclaim moves a hired proposal to status (pending, or declined with
	// reason): a hire that claimed it did not go through. Nothing if it is
	// not hired.
	Unclaim(ctx context.Context, id string, status ProposalStatus, reason string, at time.Time) error
	// Proposed reports whether the worker has a proposal for one of the
	// buyer's jobs.
	Proposed(ctx context.Context, buyerID, workerID string) (bool, error)
	// PendingProposals returns the ids and workers of a job's pending
	// proposals but except.
	PendingProposals(ctx context.Context, jobID, except string) ([]Proposal, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}

// UserNames tells a user's name; user.Service implements it.
type UserNames interface {
	Name(ctx context.Context, id string) (string, error)
}
