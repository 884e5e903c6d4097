package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/task"
)

// Service applies the rules of jobs and proposals.
type Service struct {
	store   Store
	notify  Notifier
	users   UserNames
	workers task.Candidates
	quals   task.QualificationTypes
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Notify  Notifier
	Users   UserNames
	Workers task.Candidates // what workers bring to a job's requirements, as to a task's
	// Qualifications tells which qualification types a buyer may require,
	// as for tasks.
	Qualifications task.QualificationTypes
	Log            *slog.Logger
	Now            func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, notify: d.Notify, users: d.Users, workers: d.Workers, quals: d.Qualifications, log: d.Log, now: now, newID: idgen.New}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Create posts a buyer's job: nothing is escrowed until a hire. A field
// out of its bounds, or a qualification type the buyer may not require
// (their own, or another buyer's public one, as for tasks): an Invalid
// error listing every bad one.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewJob) (Job, error) {
	if !p.Is(auth.RoleBuyer) {
		return Job{}, auth.ErrWrongRole
	}
	now := s.clock()
	in.Deadline = in.Deadline.UTC().Truncate(time.Millisecond)
	var errs apperr.Fields
	errs.AddFrom(in.check(now))
	if err := task.CheckRequirable(ctx, s.quals, p.UserID, in.Requirements, &errs); err != nil {
		return Job{}, err
	}
	if err := errs.Err(); err != nil {
		return Job{}, err
	}
	name, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Job{}, fmt.Errorf("name of buyer %s: %w", p.UserID, err)
	}
	j := Job{ID: s.newID(), Title: in.Title, Description: in.Description, Category: in.Category, Skills: in.Skills,
		Type: in.Type, Budget: in.Budget, HourlyRate: in.HourlyRate, WeeklyHourLimit: in.WeeklyHourLimit,
		Deadline: in.Deadline, Requirements: in.Requirements, Buyer: Party{ID: p.UserID, Name: name},
		Status: StatusOpen, CreatedAt: now}
	if err := s.store.Insert(ctx, j); err != nil {
		return Job{}, fmt.Errorf("insert job: %w", err)
	}
	s.log.InfoContext(ctx, "job posted", "job_id", j.ID, "type", string(j.Type))
	return j, nil
}

// Get returns a job, whatever its status: a hired or closed job stays
// readable (its proposals and contract point at it).
func (s *Service) Get(ctx context.Context, id string) (Job, error) {
	return s.store.ByID(ctx, id)
}

// Detail is a job as one reads it alone: with how many proposals it has
// (withdrawn ones not counted), and the caller's own proposal, if they
// are a worker who sent one.
type Detail struct {
	Job
	Proposals  int64
	MyProposal *Proposal
}

// Detail returns a job with its proposal count and, for a worker, their
// own proposal: three reads at most.
func (s *Service) Detail(ctx context.Context, p auth.Principal, id string) (Detail, error) {
	j, err := s.store.ByID(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	n, err := s.store.CountProposals(ctx, id)
	if err != nil {
		return Detail{}, fmt.Errorf("count proposals of job %s: %w", id, err)
	}
	d := Detail{Job: j, Proposals: n}
	if p.Is(auth.RoleWorker) {
		switch mine, err := s.store.WorkerProposal(ctx, id, p.UserID); {
		case err == nil:
			d.MyProposal = &mine
		case !errors.Is(err, ErrProposalNotFound):
			return Detail{}, fmt.Errorf("proposal of worker %s for job %s: %w", p.UserID, id, err)
		}
	}
	return d, nil
}

// List returns one page of open jobs matching f: one find and one count.
// Those open to a worker (f.EligibleFor) leave out the jobs whose
// requirements they do not meet, in the same query: what they bring is
// read through the authentication cache.
func (s *Service) List(ctx context.Context, f Filter, r page.Request) (page.Of[Job], error) {
	f.BuyerID, f.Skill, f.Candidate = "", SkillKey(f.Skill), nil
	if f.EligibleFor != "" {
		c, err := s.workers.Candidate(ctx, f.EligibleFor)
		if err != nil {
			return page.Of[Job]{}, fmt.Errorf("read what worker %s brings to requirements: %w", f.EligibleFor, err)
		}
		f.Candidate = &c
	}
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Job]{}, fmt.Errorf("list jobs: %w", err)
	}
	return page.Of[Job]{Items: items, Request: r, Total: total}, nil
}

// Mine returns one page of the buyer's own jobs, whatever their status,
// newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Job], error) {
	items, total, err := s.store.List(ctx, Filter{BuyerID: p.UserID}, r)
	if err != nil {
		return page.Of[Job]{}, fmt.Errorf("list jobs of buyer %s: %w", p.UserID, err)
	}
	return page.Of[Job]{Items: items, Request: r, Total: total}, nil
}

// own returns the buyer's job; anyone else's is ErrNotFound, as a
// missing one.
func (s *Service) own(ctx context.Context, p auth.Principal, id string) (Job, error) {
	j, err := s.store.ByID(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if j.Buyer.ID != p.UserID {
		return Job{}, ErrNotFound
	}
	return j, nil
}

// Update changes the fields e sets of the buyer's job while it is open
// (ErrNotOpen otherwise). Budgets may change: nothing is escrowed yet, and
// proposals keep the bids they were made with.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, e Edit) (Job, error) {
	j, err := s.own(ctx, p, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status != StatusOpen {
		return Job{}, ErrNotOpen
	}
	if e.Deadline != nil {
		d := e.Deadline.UTC().Truncate(time.Millisecond)
		e.Deadline = &d
	}
	var errs apperr.Fields
	errs.AddFrom(e.check(j.Type, s.clock()))
	if e.Qualifications != nil {
		if err := task.CheckRequirable(ctx, s.quals, p.UserID, task.Requirements{Qualifications: *e.Qualifications}, &errs); err != nil {
			return Job{}, err
		}
	}
	if err := errs.Err(); err != nil {
		return Job{}, err
	}
	return s.store.Edit(ctx, id, p.UserID, e)
}

// Close closes the buyer's open job without hiring, and declines its
// pending proposals, each worker told.
func (s *Service) Close(ctx context.Context, p auth.Principal, id string) (Job, error) {
	j, err := s.own(ctx, p, id)
	if err != nil {
		return Job{}, err
	}
	now := s.clock()
	ok, err := s.store.SetStatus(ctx, id, p.UserID, StatusClosed, "", now)
	if err != nil {
		return Job{}, fmt.Errorf("close job %s: %w", id, err)
	}
	if !ok {
		return Job{}, ErrNotOpen
	}
	if err := s.DeclineOthers(ctx, id, "", "The buyer closed the job."); err != nil {
		return Job{}, err
	}
	j.Status, j.ClosedAt = StatusClosed, now
	return j, nil
}

// Propose sends a worker's proposal for an open job, once per worker and
// job (ErrAlreadyProposed, a withdrawn one included), if they meet its
// requirements (ErrRequirementsNotMet, by the tasks' rule); its buyer is
// told.
func (s *Service) Propose(ctx context.Context, p auth.Principal, jobID string, in NewProposal) (Proposal, error) {
	if !p.Is(auth.RoleWorker) {
		return Proposal{}, auth.ErrWrongRole
	}
	j, err := s.store.ByID(ctx, jobID)
	if err != nil {
		return Proposal{}, err
	}
	bid, err := in.check(j.Type)
	if err != nil {
		return Proposal{}, err
	}
	if j.Status != StatusOpen || j.Hidden {
		return Proposal{}, ErrNotOpen
	}
	c, err := s.workers.Candidate(ctx, p.UserID)
	if err != nil {
		return Proposal{}, fmt.Errorf("read what worker %s brings to requirements: %w", p.UserID, err)
	}
	if missed := j.Requirements.Missed(c); missed != "" {
		return Proposal{}, ErrRequirementsNotMet.WithMessage("this job %s", missed)
	}
	name, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Proposal{}, fmt.Errorf("name of worker %s: %w", p.UserID, err)
	}
	pr := Proposal{ID: s.newID(), JobID: j.ID, JobTitle: j.Title, JobType: j.Type, BuyerID: j.Buyer.ID,
		Worker: Party{ID: p.UserID, Name: name}, Bid: bid, CoverLetter: in.CoverLetter, EstimatedDays: in.EstimatedDays,
		Status: ProposalPending, CreatedAt: s.clock()}
	if err := s.store.InsertProposal(ctx, pr); err != nil {
		if errors.Is(err, ErrAlreadyProposed) {
			return Proposal{}, err
		}
		return Proposal{}, fmt.Errorf("insert proposal for job %s: %w", j.ID, err)
	}
	s.tell(ctx, notification.Notification{ID: "proposal:" + pr.ID, UserID: j.Buyer.ID, Type: notification.ProposalReceived,
		Page: notification.MyJobs, Message: fmt.Sprintf("%s sent a proposal for %q.", name, j.Title)})
	return pr, nil
}

// tell sends a notification; a failure is logged, not returned: the
// change it tells of is made.
func (s *Service) tell(ctx context.Context, n notification.Notification) {
	if err := s.notify.Send(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "notify", "notification_id", n.ID, "err", err)
	}
}

// Proposals returns one page of a job's proposals, the earliest first, to
// its buyer (ErrNotFound to anyone else).
func (s *Service) Proposals(ctx context.Context, p auth.Principal, jobID string, r page.Request) (page.Of[Proposal], error) {
	if _, err := s.own(ctx, p, jobID); err != nil {
		return page.Of[Proposal]{}, err
	}
	items, total, err := s.store.Proposals(ctx, jobID, "", r)
	if err != nil {
		return page.Of[Proposal]{}, fmt.Errorf("list proposals of job %s: %w", jobID, err)
	}
	return page.Of[Proposal]{Items: items, Request: r, Total: total}, nil
}

// MyProposals returns one page of the worker's proposals, the latest
// first.
func (s *Service) MyProposals(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Proposal], error) {
	items, total, err := s.store.Proposals(ctx, "", p.UserID, r)
	if err != nil {
		return page.Of[Proposal]{}, fmt.Errorf("list proposals of worker %s: %w", p.UserID, err)
	}
	return page.Of[Proposal]{Items: items, Request: r, Total: total}, nil
}

// Proposal returns a proposal to its worker, its job's buyer and admins
// (ErrProposalNotFound to anyone else).
func (s *Service) Proposal(ctx context.Context, p auth.Principal, id string) (Proposal, error) {
	pr, err := s.store.Proposal(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if pr.Worker.ID != p.UserID && pr.BuyerID != p.UserID && !p.Is(auth.RoleAdmin) {
		return Proposal{}, ErrProposalNotFound
	}
	return pr, nil
}

// Withdraw withdraws the worker's pending proposal. It stays their one
// proposal for the job: a withdrawn proposal is not sent again.
func (s *Service) Withdraw(ctx context.Context, p auth.Principal, id string) (Proposal, error) {
	pr, err := s.store.Proposal(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if pr.Worker.ID != p.UserID {
		return Proposal{}, ErrProposalNotFound
	}
	return s.decide(ctx, pr, ProposalWithdrawn, "")
}

// Decline declines a pending proposal for the buyer's job, with an
// optional reason the worker is told.
func (s *Service) Decline(ctx context.Context, p auth.Principal, id, reason string) (Proposal, error) {
	pr, err := s.store.Proposal(ctx, id)
	if err != nil {
		return Proposal{}, err
	}
	if pr.BuyerID != p.UserID {
		return Proposal{}, ErrProposalNotFound
	}
	if err := checkReason(&reason); err != nil {
		return Proposal{}, err
	}
	pr, err = s.decide(ctx, pr, ProposalDeclined, reason)
	if err != nil {
		return Proposal{}, err
	}
	s.tellDeclined(ctx, pr)
	return pr, nil
}

func (s *Service) decide(ctx context.Context, pr Proposal, status ProposalStatus, reason string) (Proposal, error) {
	now := s.clock()
	ok, err := s.store.SetProposalStatus(ctx, pr.ID, status, reason, now)
	if err != nil {
		return Proposal{}, fmt.Errorf("set proposal %s %s: %w", pr.ID, status, err)
	}
	if !ok {
		return Proposal{}, ErrProposalNotPending
	}
	pr.Status, pr.DeclineReason, pr.DecidedAt = status, reason, now
	return pr, nil
}

func (s *Service) tellDeclined(ctx context.Context, pr Proposal) {
	msg := fmt.Sprintf("Your proposal for %q was declined.", pr.JobTitle)
	if pr.DeclineReason != "" {
		msg += " " + pr.DeclineReason
	}
	s.tell(ctx, notification.Notification{ID: "proposal-declined:" + pr.ID, UserID: pr.Worker.ID,
		Type: notification.ProposalDeclined, Page: notification.MyProposals, Message: msg})
}

// DeclineOthers declines every pending proposal of a job but except, each
// worker told with reason: when the job is hired or closed. Safe to
// repeat (from an operation's step): a proposal declined already is left,
// and each notification is sent once.
func (s *Service) DeclineOthers(ctx context.Context, jobID, except, reason string) error {
	pending, err := s.store.PendingProposals(ctx, jobID, except)
	if err != nil {
		return fmt.Errorf("pending proposals of job %s: %w", jobID, err)
	}
	now := s.clock()
	for _, pr := range pending {
		ok, err := s.store.SetProposalStatus(ctx, pr.ID, ProposalDeclined, reason, now)
		if err != nil {
			return fmt.Errorf("decline proposal %s: %w", pr.ID, err)
		}
		if ok {
			pr.DeclineReason = reason
			s.tellDeclined(ctx, pr)
		}
	}
	return nil
}

// checkReason trims a decline's reason and checks its length.
func checkReason(reason *string) error {
	var errs apperr.Fields
	*reason = strings.TrimSpace(*reason)
	errs.MaxText("reason", *reason, MaxDeclineReasonLen)
	return errs.Err()
}

// The hire is the contract package's: it asks the job service, which owns
// jobs and proposals, through these methods.

// ForHire returns the buyer's open job and its pending proposal, as a
// hire reads them: ErrNotFound for a job that is not the buyer's,
// ErrNotOpen for one hired or closed, ErrProposalNotFound for a proposal
// of another job, ErrProposalNotPending for one withdrawn or declined.
func (s *Service) ForHire(ctx context.Context, p auth.Principal, jobID, proposalID string) (Job, Proposal, error) {
	j, err := s.own(ctx, p, jobID)
	if err != nil {
		return Job{}, Proposal{}, err
	}
	pr, err := s.store.Proposal(ctx, proposalID)
	if err != nil {
		return Job{}, Proposal{}, err
	}
	if pr.JobID != jobID {
		return Job{}, Proposal{}, ErrProposalNotFound
	}
	if j.Status != StatusOpen {
		return Job{}, Proposal{}, ErrNotOpen
	}
	if pr.Status != ProposalPending {
		return Job{}, Proposal{}, ErrProposalNotPending
	}
	return j, pr, nil
}

// MarkHired is the commit of a hire: it claims the pending proposal
// (pending to hired, conditional on its state, so that a withdrawal or a
// decline at the same moment either comes first and cancels the hire, or
// finds the proposal hired and is refused), then moves the buyer's open job
// to hired with its contract, which makes one hire per job however many
// are asked at once. True if it did now or had for this contract already:
// a proposal found hired was claimed by this very hire (the contract's id
// derives from the job and the proposal), whose commit runs again after a
// crash. A job no longer open gives the proposal back (Unclaim): pending if
// the job is open again, declined otherwise, as the other hire or the
// close would have declined it.
func (s *Service) MarkHired(ctx context.Context, jobID, buyerID, proposalID, contractID string, at time.Time) (bool, error) {
	ok, err := s.store.SetProposalStatus(ctx, proposalID, ProposalHired, "", at)
	if err != nil {
		return false, fmt.Errorf("claim proposal %s: %w", proposalID, err)
	}
	if !ok {
		pr, err := s.store.Proposal(ctx, proposalID)
		if err != nil {
			return false, err
		}
		if pr.Status != ProposalHired {
			return false, nil // withdrawn or declined first
		}
	}
	ok, err = s.store.SetStatus(ctx, jobID, buyerID, StatusHired, contractID, at)
	if err != nil || ok {
		return ok, err
	}
	j, err := s.store.ByID(ctx, jobID)
	if err != nil {
		return false, err
	}
	if j.Status == StatusHired && j.ContractID == contractID {
		return true, nil
	}
	status, reason := ProposalPending, ""
	if j.Status != StatusOpen {
		status, reason = ProposalDeclined, "The job is no longer open."
	}
	if err := s.store.Unclaim(ctx, proposalID, status, reason, at); err != nil {
		return false, fmt.Errorf("give proposal %s back: %w", proposalID, err)
	}
	if status == ProposalDeclined {
		if pr, err := s.store.Proposal(ctx, proposalID); err == nil {
			s.tellDeclined(ctx, pr)
		}
	}
	return false, nil
}

// Unhire opens again a job hired for contractID, whose hire failed (the
// buyer was short of coins), and gives its proposal back to pending.
// Nothing if it is not so. Safe to repeat (the hire's Revert step).
func (s *Service) Unhire(ctx context.Context, jobID, proposalID, contractID string, at time.Time) error {
	if err := s.store.Reopen(ctx, jobID, contractID); err != nil {
		return fmt.Errorf("reopen job %s: %w", jobID, err)
	}
	if err := s.store.Unclaim(ctx, proposalID, ProposalPending, "", at); err != nil {
		return fmt.Errorf("give proposal %s back: %w", proposalID, err)
	}
	return nil
}

// SettleHire declines the job's other pending proposals, each worker
// told: the follow-up of a hire (whose commit marked the proposal hired),
// safe to repeat.
func (s *Service) SettleHire(ctx context.Context, jobID, proposalID string, _ time.Time) error {
	return s.DeclineOthers(ctx, jobID, proposalID, "The buyer hired someone else.")
}

// RequiredByOpenJob reports whether an open job (hidden included: it may
// show again) requires the qualification type, which may then not be
// deleted. Jobs hired or closed take no more proposals and do not count.
func (s *Service) RequiredByOpenJob(ctx context.Context, typeID string) (bool, error) {
	return s.store.RequiresOpen(ctx, typeID)
}

// Proposed reports whether the worker sent a proposal for one of the
// buyer's jobs, whatever became of it: who may write to whom (package
// chat). One read.
func (s *Service) Proposed(ctx context.Context, buyerID, workerID string) (bool, error) {
	return s.store.Proposed(ctx, buyerID, workerID)
}

// SetHidden takes a buyer's jobs out of the public list (suspended,
// deleted, or no longer a buyer), or shows them again: they take no
// proposals meanwhile. Called from the account change's step, as the
// tasks' SetHidden.
func (s *Service) SetHidden(ctx context.Context, buyerID string, hidden bool) error {
	return s.store.SetHidden(ctx, buyerID, hidden)
}
