package submission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/platform/job"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

// Service applies the submission and review rules.
type Service struct {
	store   Store
	tasks   Tasks
	ops     operation.Runner
	notify  Notifier
	users   UserNames
	admins  adminlog.Recorder
	held    Reservations
	blocks  Blocks
	records Records
	workers task.Candidates
	events  Events
	// revisionWindow is how long a worker has to revise.
	revisionWindow time.Duration
	log            *slog.Logger
	now            func() time.Time

	submit                  operation.Kind[Submission]
	revise                  operation.Kind[revision]
	approve, reject, cancel operation.Kind[review]
	overturn                operation.Kind[overturn]
	rework                  operation.Kind[rework]
	bonus                   operation.Kind[bonus]
}

// review is the data of a review: the submission as it was read, the
// buyer's reason and whether the auto-approval made it.
type review struct {
	Submission Submission
	Reason     string
	Auto       bool
}

// overturn is the data of an overturned rejection: the submission, and who
// pays, its task's escrow (using up an open slot) or its buyer.
type overturn struct {
	Submission Submission
	FromEscrow bool
	By         string // the admin who decided
}

// rework is the data of a rejection an admin sends back to its worker: the
// submission as read (rejected), the deadline of the worker's revision,
// and who pays the slot back into escrow, the open slot the rejection
// reopened (its pay is in escrow still) or the buyer.
type rework struct {
	Submission Submission
	Deadline   time.Time
	FromEscrow bool
	By         string // the admin who decided
}

// Deps is what a Service is built with.
type Deps struct {
	Store        Store
	Tasks        Tasks
	Ops          operation.Runner
	Notify       Notifier
	Users        UserNames
	Reservations Reservations      // gives a submission the slot its worker reserved
	Blocks       Blocks            // refuses submissions of workers the task's buyer blocked
	Workers      task.Candidates   // refuses submissions of workers below the task's requirements
	Records      Records           // counts reviews in the track records of workers and buyers
	Admins       adminlog.Recorder // records admins' overturns
	Events       Events            // tells buyers' webhooks of submissions made, revised and reviewed
	// RevisionWindow is how long a worker has to revise; 0 (or less):
	// DefaultRevisionWindow.
	RevisionWindow time.Duration
	Log            *slog.Logger
	Now            func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, tasks: d.Tasks, ops: d.Ops, notify: d.Notify, users: d.Users, admins: d.Admins, held: d.Reservations,
		blocks: d.Blocks, records: d.Records, workers: d.Workers, events: d.Events, revisionWindow: d.RevisionWindow, log: d.Log, now: now}
	if s.revisionWindow <= 0 {
		s.revisionWindow = DefaultRevisionWindow
	}
	// Submitting and rejecting move no coins; they are operations so that
	// their two documents (the submission and its task's slots) change
	// together even across a crash. Each id is the kind and the submission.
	//
	// submit takes a slot, then records the submission.
	s.submit = operation.Kind[Submission]{Name: "submit", Commit: s.commitSubmit, Settle: s.settleSubmit}
	// revise:<submission> makes a submission sent back for revision
	// pending again with its new details, then tells its buyer: once, as a
	// submission gets one revision.
	s.revise = operation.Kind[revision]{Name: "revise", Commit: s.commitRevise, Settle: s.settleRevise}
	// approve pays the worker from escrow, and the slot is used up.
	s.approve = operation.Kind[review]{Name: "approve", Commit: s.commitReview(StatusApproved), Revert: s.revertReview, Settle: s.settleApprove}
	// reject reopens the slot.
	s.reject = operation.Kind[review]{Name: "reject", Commit: s.commitReview(StatusRejected), Settle: s.settleReject}
	// cancel, when an admin removes the task, reopens the slot for the
	// task's refund.
	s.cancel = operation.Kind[review]{Name: "cancel", Commit: s.commitReview(StatusCancelled), Settle: s.settleCancel}
	// overturn approves a rejected submission on a dispute: escrow or buyer
	// pays the worker. One that failed for lack of coins may be decided
	// again later, once the buyer can pay or a slot has reopened: it still
	// pays once.
	s.overturn = operation.Kind[overturn]{Name: "overturn", Commit: s.commitOverturn, Revert: s.revertOverturn,
		Settle: s.settleOverturn, Retry: true}
	// rework:<submission>:<round> sends a rejected submission back to its
	// worker on a dispute, holding its slot's pay in escrow again: the
	// open slot the rejection reopened, or the buyer's coins. Like
	// overturn, one that failed for lack of coins may be decided again.
	s.rework = operation.Kind[rework]{Name: "rework", Commit: s.commitRework, Revert: s.revertRework, Settle: s.settleRework,
		Retry: true}
	// bonus:<submission>:<request> pays the worker a bonus from the
	// buyer's balance, then records it on the submission and tells the
	// worker.
	s.bonus = operation.Kind[bonus]{Name: "bonus", Settle: s.settleBonus}
	return s
}

// bonus is the data of a bonus operation.
type bonus struct {
	Submission Submission
	Coins      money.Coins
	Reason     string
}

// Submitted reports whether the worker submitted work for the task.
func (s *Service) Submitted(ctx context.Context, taskID, workerID string) (bool, error) {
	id := ID(taskID, workerID)
	switch _, err := s.store.ByID(ctx, id); {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("read submission %s of worker %s to task %s: %w", id, workerID, taskID, err)
	}
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.submit.Define(), s.revise.Define(), s.approve.Define(), s.reject.Define(), s.cancel.Define(), s.overturn.Define(),
		s.rework.Define(),
		s.bonus.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// ID is the ID of a worker's submission for a task. A worker submits to a
// task at most once, so the pair names the submission: checking for an
// earlier one is a read by ID, which even the embedded database answers
// without reading every submission, and two simultaneous submissions of one
// worker are one ledger operation.
func ID(taskID, workerID string) string {
	sum := sha256.Sum256([]byte(taskID + "|" + workerID))
	return hex.EncodeToString(sum[:12])
}

// ForTasks returns the worker's submissions to those of the tasks they
// submitted to, by task id, in one read: the IDs derive from the pairs.
func (s *Service) ForTasks(ctx context.Context, workerID string, taskIDs []string) (map[string]Submission, error) {
	ids := make([]string, len(taskIDs))
	for i, t := range taskIDs {
		ids[i] = ID(t, workerID)
	}
	subs, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read submissions of worker %s: %w", workerID, err)
	}
	out := make(map[string]Submission, len(subs))
	for _, sub := range subs {
		if sub.Worker.ID == workerID {
			out[sub.TaskID] = sub
		}
	}
	return out, nil
}

// Submit records a worker's proof of work for a task and takes one of its
// slots. A second submission of the worker to the task is found as a replay
// of the first one's operation, whose id the pair decides.
func (s *Service) Submit(ctx context.Context, p auth.Principal, taskID, details string) (Submission, error) {
	if !p.Is(auth.RoleWorker) {
		return Submission{}, auth.ErrWrongRole
	}
	details = strings.TrimSpace(details)
	if err := checkDetails(details); err != nil {
		return Submission{}, err
	}
	t, err := s.tasks.ByID(ctx, taskID)
	if err != nil {
		return Submission{}, fmt.Errorf("read task %s: %w", taskID, err)
	}
	now := s.clock()
	held := s.held.Held(t, p.UserID)
	// A reserved slot is the worker's: a task with no free slot takes it.
	takes := t.TakesSubmissions
	if held != "" {
		takes = t.TakesWork
	}
	if err := takes(now); err != nil {
		return Submission{}, err
	}
	// Checked before the operation, not in its commit: a block placed
	// while the worker submits may let that one submission through.
	if blocked, err := s.blocks.Blocked(ctx, t.Buyer.ID, p.UserID); err != nil {
		return Submission{}, err
	} else if blocked {
		return Submission{}, ErrBlockedByBuyer
	}
	// Asked of a worker holding a reservation too: requirements raised
	// since they reserved hold their submission back.
	if c, err := s.workers.Candidate(ctx, p.UserID); err != nil {
		return Submission{}, fmt.Errorf("read what worker %s brings to requirements: %w", p.UserID, err)
	} else if err := t.Requirements.Admits(c); err != nil {
		return Submission{}, err
	}
	name, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Submission{}, err
	}
	sub := Submission{
		ID: ID(taskID, p.UserID), TaskID: t.ID, TaskTitle: t.Title, Pay: t.Pay, Worker: task.Party{ID: p.UserID, Name: name},
		Buyer: t.Buyer, Details: details, Status: StatusPending, AutoApproveAt: now.Add(t.AutoApproveAfter), CreatedAt: now,
		Held: held,
	}
	res, err := s.submit.Run(ctx, s.ops, sub.ID, nil, sub)
	if errors.Is(err, operation.ErrCancelled) && held != "" {
		// The reservation ended meanwhile (it expired, or was released):
		// a free slot, if there is one, takes the work.
		sub.Held = ""
		res, err = s.submit.Run(ctx, s.ops, sub.ID, nil, sub)
	}
	if errors.Is(err, operation.ErrCancelled) {
		// The slot was gone by the time it was to be taken: say why.
		if t, err := s.tasks.ByID(ctx, taskID); err == nil {
			if err := t.TakesSubmissions(s.clock()); err != nil {
				return Submission{}, err
			}
		}
		return Submission{}, task.ErrFull
	}
	if err != nil {
		return Submission{}, fmt.Errorf("submit to task %s: %w", taskID, err)
	}
	if res.Replayed {
		return Submission{}, ErrAlreadySubmitted // submitted before, or simultaneously
	}
	return sub, nil // as settleSubmit stored it
}

// commitSubmit takes the slot. A submission that exists was settled by an
// earlier run of this operation, and may have been reviewed since, which
// takes it off the task's pending list: its slot must not be taken again.
func (s *Service) commitSubmit(ctx context.Context, op operation.Op[Submission]) (bool, error) {
	if _, err := s.store.ByID(ctx, op.Data.ID); err == nil {
		return true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("read submission %s: %w", op.Data.ID, err)
	}
	if op.Data.Held != "" {
		return s.tasks.UseHeld(ctx, op.Data.TaskID, op.Data.Held, op.Data.ID, op.Data.Worker.ID, s.clock())
	}
	return s.tasks.ReserveSlot(ctx, op.Data.TaskID, op.Data.ID, op.Data.Worker.ID, s.clock())
}

// settleSubmit inserts the submission whose slot is taken and tells the
// buyer. Should the worker have a submission for the task under another ID
// (the unique index on task and worker says so), the slot goes back instead.
func (s *Service) settleSubmit(ctx context.Context, op operation.Op[Submission]) error {
	sub := op.Data
	err := s.store.Insert(ctx, sub)
	if errors.Is(err, ErrAlreadySubmitted) {
		return s.tasks.ReleaseSlot(ctx, sub.TaskID, sub.ID, true)
	}
	if err != nil {
		return fmt.Errorf("insert submission %s: %w", sub.ID, err)
	}
	if sub.Held != "" {
		if err := s.held.Used(ctx, sub.TaskID, sub.Worker.ID, sub.Held); err != nil {
			return err
		}
	}
	if err := s.emit(ctx, op.ID, webhook.SubmissionCreated, op.At, sub); err != nil {
		return err
	}
	if sub.Held == "" { // a reserved slot was taken already: it filled nothing now
		if err := s.tasks.NoteSlotTaken(ctx, sub.Buyer.ID, sub.TaskID); err != nil {
			return err
		}
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Buyer.ID, Type: notification.SubmissionReceived, Page: notification.TaskToReview, CreatedAt: op.At,
		Message: fmt.Sprintf("%s submitted work for your task “%s”.", sub.Worker.Name, sub.TaskTitle),
	})
}

// Approve approves a pending submission (the task's buyer only): the worker
// is paid the task's pay from its escrow.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id string) (Submission, error) {
	return s.decide(ctx, p, id, s.approve, "")
}

// Reject rejects a pending submission (the task's buyer only), with the
// reason the worker is told; its slot reopens.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (Submission, error) {
	reason = strings.TrimSpace(reason)
	if err := checkRejectReason(reason); err != nil {
		return Submission{}, err
	}
	return s.decide(ctx, p, id, s.reject, reason)
}

// Outcome is what a bulk review did to one submission: the submission as
// reviewed, or the error the single review would have answered.
type Outcome struct {
	ID         string
	Submission Submission
	Err        error
}

// ReviewMany approves, or rejects with the reason, each of the buyer's
// submissions in turn, exactly as Approve or Reject would one by one: each
// is reviewed once, whatever else reviews it at the same time. It fails as
// a whole only for a bad request: the submissions (1 to MaxBulkReview, none
// twice), or a reason too long, or too short to reject with.
func (s *Service) ReviewMany(ctx context.Context, p auth.Principal, ids []string, approve bool, reason string) ([]Outcome, error) {
	reason = strings.TrimSpace(reason)
	if err := checkBulkReview(ids, approve, reason); err != nil {
		return nil, err
	}
	out := make([]Outcome, len(ids))
	for i, id := range ids {
		out[i].ID = id
		if approve {
			out[i].Submission, out[i].Err = s.Approve(ctx, p, id)
		} else {
			out[i].Submission, out[i].Err = s.decide(ctx, p, id, s.reject, reason)
		}
	}
	return out, nil
}

func (s *Service) decide(ctx context.Context, p auth.Principal, id string, kind operation.Kind[review], reason string) (Submission, error) {
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Buyer.ID != p.UserID {
		// Not a 403: the ID derives from the task's and the worker's, so
		// telling "someone else's" from "none" would tell who worked on what.
		return Submission{}, ErrNotFound
	}
	switch sub.Status {
	case StatusPending:
	case StatusRevision:
		return Submission{}, ErrInRevision
	default:
		return Submission{}, ErrAlreadyReviewed
	}
	if err := s.run(ctx, kind, sub, reason, false); err != nil {
		return Submission{}, err
	}
	return s.store.ByID(ctx, id)
}

// run runs a review operation (approve, reject or cancel) of a submission.
func (s *Service) run(ctx context.Context, kind operation.Kind[review], sub Submission, reason string, auto bool) error {
	var postings []ledger.Posting
	if kind.Name == s.approve.Name {
		postings = ledger.Move(ledger.EscrowAccount(sub.TaskID), ledger.UserAccount(sub.Worker.ID), sub.Pay)
	}
	res, err := kind.Run(ctx, s.ops, sub.OpKey(), postings, review{Submission: sub, Reason: reason, Auto: auto})
	if errors.Is(err, operation.ErrCancelled) || (err == nil && res.Replayed) {
		return ErrAlreadyReviewed // another review, or this same one by a concurrent call
	}
	return err
}

func (s *Service) commitReview(to Status) func(context.Context, operation.Op[review]) (bool, error) {
	return func(ctx context.Context, op operation.Op[review]) (bool, error) {
		// From the status it was read in: pending, or in revision for a
		// deadline missed or a task removed.
		return s.store.Review(ctx, Review{Op: op.ID, ID: op.Data.Submission.ID, From: op.Data.Submission.Status, To: to,
			Reason: op.Data.Reason, At: s.clock(), Auto: op.Data.Auto && to == StatusApproved})
	}
}

// revertReview puts an approval back to pending if the task's escrow could
// not pay it, which the escrow invariant says never happens.
func (s *Service) revertReview(ctx context.Context, op operation.Op[review]) error {
	s.log.ErrorContext(ctx, "escrow could not pay an approval", "op", op.ID, "task", op.Data.Submission.TaskID)
	return s.store.Unreview(ctx, op.ID, op.Data.Submission)
}

func (s *Service) settleApprove(ctx context.Context, op operation.Op[review]) error {
	sub := op.Data.Submission
	if err := s.tasks.ReleaseSlot(ctx, sub.TaskID, sub.ID, false); err != nil {
		return fmt.Errorf("use up slot of submission %s on task %s: %w", sub.ID, sub.TaskID, err)
	}
	if err := s.countReview(ctx, op, true); err != nil {
		return err
	}
	if err := s.emitReview(ctx, op, StatusApproved); err != nil {
		return err
	}
	how := "was approved"
	if op.Data.Auto {
		how = "was approved automatically, as the buyer did not review it in time"
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.SubmissionApproved, Page: notification.MySubmissions, CreatedAt: op.At,
		Message: fmt.Sprintf("Your submission for “%s” %s: %d coins are yours.", sub.TaskTitle, how, sub.Pay),
	})
}

// emit tells the buyer's webhooks of a change to sub, named by key.
func (s *Service) emit(ctx context.Context, key string, t webhook.EventType, at time.Time, sub Submission) error {
	if err := s.events.Emit(ctx, sub.Buyer.ID, t, key, at, sub.EventData()); err != nil {
		return fmt.Errorf("tell of submission %s: %w", sub.ID, err)
	}
	return nil
}

// emitReview tells the buyer's webhooks of a review: the submission as it
// became.
func (s *Service) emitReview(ctx context.Context, op operation.Op[review], to Status) error {
	sub := op.Data.Submission
	sub.Status, sub.Reason, sub.ReviewedAt = to, op.Data.Reason, op.At
	t := webhook.SubmissionApproved
	if to == StatusRejected {
		t = webhook.SubmissionRejected
	}
	return s.emit(ctx, op.ID, t, op.At, sub)
}

// countReview counts a review in the records of the submission's worker
// and buyer, with the time from submission to the review's start.
func (s *Service) countReview(ctx context.Context, op operation.Op[review], approved bool) error {
	sub := op.Data.Submission
	return s.records.Reviewed(ctx, op.ID, sub.Worker.ID, sub.Buyer.ID, approved, op.At.Sub(sub.CreatedAt))
}

func (s *Service) settleReject(ctx context.Context, op operation.Op[review]) error {
	sub := op.Data.Submission
	if err := s.tasks.ReleaseSlot(ctx, sub.TaskID, sub.ID, true); err != nil {
		return fmt.Errorf("reopen slot of submission %s on task %s: %w", sub.ID, sub.TaskID, err)
	}
	if err := s.countReview(ctx, op, false); err != nil {
		return err
	}
	if err := s.emitReview(ctx, op, StatusRejected); err != nil {
		return err
	}
	msg := fmt.Sprintf("Your submission for “%s” was rejected.", sub.TaskTitle)
	if r := op.Data.Reason; r != "" {
		msg = fmt.Sprintf("Your submission for “%s” was rejected: %s", sub.TaskTitle, r)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.SubmissionRejected, Page: notification.MySubmissions, CreatedAt: op.At, Message: msg,
	})
}

// Bonus pays the worker of an approved submission coins (1 to MaxBonus)
// from its buyer's balance (the buyer only), with the reason they are told.
// ledger.ErrInsufficientCoins if the buyer lacks them. request names the
// request, the client's Idempotency-Key if it sent one: the same request
// pays once.
func (s *Service) Bonus(ctx context.Context, p auth.Principal, id string, coins money.Coins, reason, request string) (Submission, error) {
	reason = strings.TrimSpace(reason)
	if err := checkBonus(coins, reason); err != nil {
		return Submission{}, err
	}
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Buyer.ID != p.UserID {
		return Submission{}, ErrNotFound // as in decide
	}
	if sub.Status != StatusApproved {
		return Submission{}, ErrNotApproved
	}
	if request == "" {
		request = idgen.New()
	}
	ref := sub.ID + ":" + idgen.Derive("bonus", p.UserID, request)
	_, err = s.bonus.Run(ctx, s.ops, ref, ledger.Move(ledger.UserAccount(p.UserID), ledger.UserAccount(sub.Worker.ID), coins),
		bonus{Submission: sub, Coins: coins, Reason: reason})
	if err != nil {
		return Submission{}, err
	}
	s.log.InfoContext(ctx, "bonus paid", "submission_id", sub.ID, "coins", int64(coins))
	return s.store.ByID(ctx, id)
}

func (s *Service) settleBonus(ctx context.Context, op operation.Op[bonus]) error {
	sub := op.Data.Submission
	if err := s.store.AddBonus(ctx, sub.ID, op.ID, op.Data.Coins); err != nil {
		return fmt.Errorf("add bonus %s to submission %s: %w", op.ID, sub.ID, err)
	}
	msg := fmt.Sprintf("%s paid you a bonus of %d coins for “%s”.", sub.Buyer.Name, op.Data.Coins, sub.TaskTitle)
	if r := op.Data.Reason; r != "" {
		msg = fmt.Sprintf("%s paid you a bonus of %d coins for “%s”: %s", sub.Buyer.Name, op.Data.Coins, sub.TaskTitle, r)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.BonusPaid, Page: notification.MySubmissions, CreatedAt: op.At, Message: msg,
	})
}

// RequestRevision asks the worker of a pending submission (the task's buyer
// only) to revise it by the deadline, with the reason they are told. The
// submission keeps its slot and its pay in escrow meanwhile; it gets one
// revision.
func (s *Service) RequestRevision(ctx context.Context, p auth.Principal, id, reason string) (Submission, error) {
	reason = strings.TrimSpace(reason)
	if err := checkRejectReason(reason); err != nil {
		return Submission{}, err
	}
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Buyer.ID != p.UserID {
		return Submission{}, ErrNotFound // as in decide
	}
	deadline := s.clock().Add(s.revisionWindow)
	ok, err := s.store.RequestRevision(ctx, id, reason, deadline)
	if err != nil {
		return Submission{}, fmt.Errorf("ask for a revision of submission %s: %w", id, err)
	}
	if !ok {
		if sub, err = s.store.ByID(ctx, id); err != nil {
			return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
		}
		switch {
		case sub.Status == StatusRevision:
			return Submission{}, ErrInRevision
		case sub.Status == StatusPending: // revised once already
			return Submission{}, ErrRevisionUsed
		}
		return Submission{}, ErrAlreadyReviewed
	}
	// Counted once: a submission gets one request. Like the notification,
	// the count follows a change already made, which its failure does not
	// undo (the record misses one revision).
	if err := s.records.RevisionRequested(ctx, "revision:"+id, sub.Worker.ID); err != nil {
		s.log.ErrorContext(ctx, "count a revision", "submission_id", id, "err", err)
	}
	s.tell(ctx, notification.Notification{
		ID: "revision:" + id, UserID: sub.Worker.ID, Type: notification.RevisionRequested, Page: notification.MySubmissions,
		CreatedAt: s.clock(), Message: fmt.Sprintf("The buyer of “%s” asks you to revise your submission by %s: %s",
			sub.TaskTitle, deadline.Format("2006-01-02 15:04 MST"), reason),
	})
	return s.store.ByID(ctx, id)
}

// Resubmit replaces the details of a submission in revision (its worker
// only) before the deadline: it is pending again, with a new auto-approval
// time, and its buyer is told.
func (s *Service) Resubmit(ctx context.Context, p auth.Principal, id, details string) (Submission, error) {
	details = strings.TrimSpace(details)
	if err := checkDetails(details); err != nil {
		return Submission{}, err
	}
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Worker.ID != p.UserID {
		return Submission{}, ErrNotFound
	}
	now := s.clock()
	t, err := s.tasks.ByID(ctx, sub.TaskID)
	if err != nil {
		return Submission{}, fmt.Errorf("read task %s: %w", sub.TaskID, err)
	}
	sub.Details, sub.Status, sub.AutoApproveAt = details, StatusPending, now.Add(t.AutoApproveAfter)
	res, err := s.revise.Run(ctx, s.ops, sub.OpKey(), nil, revision{Submission: sub, At: now})
	if errors.Is(err, operation.ErrCancelled) || (err == nil && res.Replayed) {
		return Submission{}, ErrNotInRevision // not in revision, past its deadline, or revised already
	}
	if err != nil {
		return Submission{}, fmt.Errorf("resubmit submission %s: %w", id, err)
	}
	return s.store.ByID(ctx, id)
}

// revision is the data of a revision: the submission as revised, and
// when.
type revision struct {
	Submission Submission
	At         time.Time
}

func (s *Service) commitRevise(ctx context.Context, op operation.Op[revision]) (bool, error) {
	sub := op.Data.Submission
	return s.store.Resubmit(ctx, op.ID, sub.ID, sub.Details, sub.AutoApproveAt, op.Data.At)
}

func (s *Service) settleRevise(ctx context.Context, op operation.Op[revision]) error {
	sub := op.Data.Submission
	if err := s.emit(ctx, op.ID, webhook.SubmissionRevised, op.At, sub); err != nil {
		return err
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: "revised:" + sub.ID, UserID: sub.Buyer.ID, Type: notification.SubmissionRevised, Page: notification.TaskToReview,
		CreatedAt: op.At, Message: fmt.Sprintf("%s revised their submission for your task “%s”.", sub.Worker.Name, sub.TaskTitle),
	})
}

// tell sends a notification of a change already made, which its failure
// does not undo: it is logged.
func (s *Service) tell(ctx context.Context, n notification.Notification) {
	if err := s.notify.Send(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "notify", "notification", n.ID, "err", err)
	}
}

// RejectOverdue rejects the submissions whose revision deadline passed, as
// the rules say a missed deadline counts: their slots reopen. It returns how
// many it rejected. Safe to run anywhere, any number of times.
func (s *Service) RejectOverdue(ctx context.Context) (int, error) {
	due, err := s.store.DueRevisions(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find overdue revisions: %w", err)
	}
	return job.Each(due, func(sub Submission) string { return "reject overdue submission " + sub.ID },
		func(sub Submission) error {
			return s.run(ctx, s.reject, sub, "the revision was not submitted by its deadline", false)
		},
		ErrAlreadyReviewed, operation.ErrInProgress) // resubmitted or reviewed meanwhile
}

// CancelPending cancels the pending submissions of a task an admin removes:
// each slot reopens (for the task's refund to give back) and each worker is
// told. A submission reviewed meanwhile keeps its review.
func (s *Service) CancelPending(ctx context.Context, taskID string, submissionIDs []string) error {
	for _, id := range submissionIDs {
		sub, err := s.store.ByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read submission %s: %w", id, err)
		}
		if (sub.Status != StatusPending && sub.Status != StatusRevision) || sub.TaskID != taskID {
			continue
		}
		err = s.run(ctx, s.cancel, sub, "the task was removed by an admin", false)
		if err != nil && !errors.Is(err, ErrAlreadyReviewed) {
			return err
		}
	}
	return nil
}

func (s *Service) settleCancel(ctx context.Context, op operation.Op[review]) error {
	sub := op.Data.Submission
	if err := s.tasks.ReleaseSlot(ctx, sub.TaskID, sub.ID, true); err != nil {
		return fmt.Errorf("reopen slot of submission %s on task %s: %w", sub.ID, sub.TaskID, err)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.SubmissionCancelled, Page: notification.MySubmissions, CreatedAt: op.At,
		Message: fmt.Sprintf("The task “%s” was removed by an admin, so your submission for it was cancelled.", sub.TaskTitle),
	})
}

// Overturn approves a rejected submission on a dispute (admins only). The
// worker is paid from the task's escrow if it still holds an open slot's
// worth (the slot is used up), else from the buyer's balance; if neither can
// pay, ErrCannotPay. Overturning one submission pays once, however often or
// concurrently it is asked.
func (s *Service) Overturn(ctx context.Context, p auth.Principal, id string) (Submission, error) {
	if !p.Is(auth.RoleAdmin) {
		return Submission{}, auth.ErrWrongRole
	}
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Status != StatusRejected {
		return Submission{}, ErrNotRejected
	}
	t, err := s.tasks.ByID(ctx, sub.TaskID)
	if err != nil {
		return Submission{}, fmt.Errorf("read task %s: %w", sub.TaskID, err)
	}
	if t.Status != task.StatusDeleted && t.OpenSlots > 0 {
		res, err := s.overturn.Run(ctx, s.ops, sub.OpKey(), ledger.Move(ledger.EscrowAccount(sub.TaskID), ledger.UserAccount(sub.Worker.ID), sub.Pay),
			overturn{Submission: sub, FromEscrow: true, By: p.UserID})
		switch {
		case err == nil && res.Replayed, errors.Is(err, operation.ErrReused):
			return Submission{}, ErrAlreadyReviewed // overturned already, perhaps from the other source
		case err == nil:
			return s.store.ByID(ctx, id)
		case !errors.Is(err, operation.ErrCancelled): // cancelled: the slot went meanwhile
			return Submission{}, err
		}
	}
	res, err := s.overturn.Run(ctx, s.ops, sub.OpKey(), ledger.Move(ledger.UserAccount(sub.Buyer.ID), ledger.UserAccount(sub.Worker.ID), sub.Pay),
		overturn{Submission: sub, By: p.UserID})
	switch {
	case errors.Is(err, ledger.ErrInsufficientCoins):
		return Submission{}, ErrCannotPay
	case errors.Is(err, operation.ErrCancelled), err == nil && res.Replayed:
		return Submission{}, ErrAlreadyReviewed
	case errors.Is(err, operation.ErrReused):
		return Submission{}, ErrAlreadyReviewed // overturned already, from the other source
	case err != nil:
		return Submission{}, err
	}
	return s.store.ByID(ctx, id)
}

// commitOverturn takes the escrow's open slot, or when the buyer pays, makes
// the submission approved at once.
func (s *Service) commitOverturn(ctx context.Context, op operation.Op[overturn]) (bool, error) {
	sub := op.Data.Submission
	if op.Data.FromEscrow {
		return s.tasks.ConsumeSlot(ctx, sub.TaskID, op.ID)
	}
	return s.store.Review(ctx, Review{Op: op.ID, ID: sub.ID, From: StatusRejected, To: StatusApproved, At: s.clock()})
}

func (s *Service) revertOverturn(ctx context.Context, op operation.Op[overturn]) error {
	return s.store.Unreview(ctx, op.ID, op.Data.Submission)
}

func (s *Service) settleOverturn(ctx context.Context, op operation.Op[overturn]) error {
	sub := op.Data.Submission
	if op.Data.FromEscrow {
		if _, err := s.store.Review(ctx, Review{Op: op.ID, ID: sub.ID, From: StatusRejected, To: StatusApproved, At: s.clock()}); err != nil {
			return fmt.Errorf("approve submission %s: %w", sub.ID, err)
		}
	}
	if err := s.records.Overturned(ctx, op.ID, sub.Worker.ID, sub.Buyer.ID); err != nil {
		return err
	}
	approved := sub
	approved.Status, approved.Reason, approved.ReviewedAt = StatusApproved, "", op.At
	if err := s.emit(ctx, op.ID, webhook.SubmissionApproved, op.At, approved); err != nil {
		return err
	}
	if op.Data.By != "" { // operations from before actions were recorded name no admin
		from := "the buyer's balance"
		if op.Data.FromEscrow {
			from = "the task's escrow"
		}
		if err := s.admins.Record(ctx, adminlog.Entry{ID: op.ID, AdminID: op.Data.By, Kind: adminlog.SubmissionOverturned,
			TargetType: "submission", TargetID: sub.ID, Summary: fmt.Sprintf("rejection overturned: %d coins paid to the worker from %s", sub.Pay, from),
			At: op.At}); err != nil {
			return err
		}
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.RejectionOverturned, Page: notification.MySubmissions, CreatedAt: op.At,
		Message: fmt.Sprintf("An admin overturned the rejection of your submission for “%s”: %d coins are yours.", sub.TaskTitle, sub.Pay),
	})
}

// MaxReworkAhead is how far ahead a rework's deadline may be.
const MaxReworkAhead = 30 * 24 * time.Hour

// Rework sends a rejected submission back to its worker on a dispute
// (admins only), to revise by deadline: it is in revision again, holding
// its slot's pay in escrow, as when its buyer asks for a revision. The pay
// comes from the open slot the rejection reopened, if the task still has
// one, else from the buyer's balance (ErrCannotPay if they lack it). The
// worker's revision is pending again for the buyer's review; a deadline
// missed rejects it again (RejectOverdue), which reopens the slot as any
// rejection does, for the buyer to close and have refunded (refunded by
// itself on a closed or expired task). A task deleted since: ErrTaskDeleted.
func (s *Service) Rework(ctx context.Context, p auth.Principal, id string, deadline time.Time) (Submission, error) {
	if !p.Is(auth.RoleAdmin) {
		return Submission{}, auth.ErrWrongRole
	}
	now := s.clock()
	deadline = deadline.UTC().Truncate(time.Millisecond)
	switch {
	case !deadline.After(now):
		return Submission{}, apperr.InvalidFields(apperr.FieldError{Field: "deadline", Message: "must be in the future"})
	case deadline.After(now.Add(MaxReworkAhead)):
		return Submission{}, apperr.InvalidFields(apperr.FieldError{Field: "deadline",
			Message: fmt.Sprintf("must be within %d days", int(MaxReworkAhead/(24*time.Hour)))})
	}
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if sub.Status != StatusRejected {
		return Submission{}, ErrNotRejected
	}
	t, err := s.tasks.ByID(ctx, sub.TaskID)
	if err != nil {
		return Submission{}, fmt.Errorf("read task %s: %w", sub.TaskID, err)
	}
	if t.Status == task.StatusDeleted {
		return Submission{}, ErrTaskDeleted
	}
	// The round this rework opens names it, so that a later rejection
	// may be sent back again.
	key := sub.ID + ":" + strconv.Itoa(sub.Reworks+1)
	data := rework{Submission: sub, Deadline: deadline, By: p.UserID}
	if t.OpenSlots > 0 {
		data.FromEscrow = true
		res, err := s.rework.Run(ctx, s.ops, key, nil, data)
		switch {
		case err == nil && res.Replayed, errors.Is(err, operation.ErrReused):
			return Submission{}, ErrAlreadyReviewed // sent back already, perhaps from the other source
		case err == nil:
			return s.store.ByID(ctx, id)
		case !errors.Is(err, operation.ErrCancelled): // cancelled: the slot went meanwhile
			return Submission{}, err
		}
		data.FromEscrow = false
	}
	res, err := s.rework.Run(ctx, s.ops, key, ledger.Move(ledger.UserAccount(sub.Buyer.ID), ledger.EscrowAccount(sub.TaskID), sub.Pay), data)
	switch {
	case errors.Is(err, ledger.ErrInsufficientCoins):
		return Submission{}, ErrCannotPay
	case errors.Is(err, operation.ErrCancelled), err == nil && res.Replayed, errors.Is(err, operation.ErrReused):
		return Submission{}, ErrAlreadyReviewed
	case err != nil:
		return Submission{}, err
	}
	return s.store.ByID(ctx, id)
}

// reworkReason is what the worker of a reworked submission is told.
const reworkReason = "an admin sent your rejected submission back to you on a dispute: revise it by the deadline"

// commitRework takes the open slot back for the submission, or, when the
// buyer pays, sends the submission back at once.
func (s *Service) commitRework(ctx context.Context, op operation.Op[rework]) (bool, error) {
	d := op.Data
	if d.FromEscrow {
		return s.tasks.ReclaimSlot(ctx, d.Submission.TaskID, d.Submission.ID, op.ID)
	}
	return s.store.Rework(ctx, op.ID, d.Submission.ID, reworkReason, d.Deadline)
}

// revertRework puts a rework the buyer could not pay back to rejected.
func (s *Service) revertRework(ctx context.Context, op operation.Op[rework]) error {
	return s.store.Unrework(ctx, op.ID, op.Data.Submission)
}

// settleRework finishes what the commit began (the submission sent back,
// or its slot's pay, now in escrow, listed as pending on the task), then
// records the admin's action and tells the worker.
func (s *Service) settleRework(ctx context.Context, op operation.Op[rework]) error {
	d := op.Data
	sub := d.Submission
	if d.FromEscrow {
		if _, err := s.store.Rework(ctx, op.ID, sub.ID, reworkReason, d.Deadline); err != nil {
			return fmt.Errorf("send submission %s back: %w", sub.ID, err)
		}
	} else if err := s.tasks.AddPending(ctx, sub.TaskID, sub.ID, op.ID); err != nil {
		return fmt.Errorf("list submission %s as pending on task %s: %w", sub.ID, sub.TaskID, err)
	}
	from := "the buyer's balance"
	if d.FromEscrow {
		from = "the slot its rejection reopened"
	}
	if err := s.admins.Record(ctx, adminlog.Entry{ID: op.ID, AdminID: d.By, Kind: adminlog.SubmissionReworked,
		TargetType: "submission", TargetID: sub.ID, At: op.At,
		Summary: fmt.Sprintf("rejection sent back for rework by %s: %d coins held in escrow from %s",
			d.Deadline.Format(time.RFC3339), sub.Pay, from)}); err != nil {
		return err
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: op.ID, UserID: sub.Worker.ID, Type: notification.RevisionRequested, Page: notification.MySubmissions, CreatedAt: op.At,
		Message: fmt.Sprintf("An admin sent your rejected submission for “%s” back to you: revise it by %s.", sub.TaskTitle,
			d.Deadline.Format("2006-01-02 15:04 MST")),
	})
}

// EachOfTasks calls fn for every submission to these tasks, by task,
// oldest first: the results of a batch.
func (s *Service) EachOfTasks(ctx context.Context, taskIDs []string, fn func(Submission) error) error {
	return s.store.EachOfTasks(ctx, taskIDs, fn)
}

// Get returns a submission.
func (s *Service) Get(ctx context.Context, id string) (Submission, error) {
	return s.store.ByID(ctx, id)
}

// AutoApproveDue approves the pending submissions whose review time has
// passed, as Mechanical Turk does, so that no worker waits forever, and
// tells their buyers, once per task (tellAutoApproved). It returns how many
// it approved. Safe to run anywhere, any number of times.
func (s *Service) AutoApproveDue(ctx context.Context) (int, error) {
	// First what an earlier round approved and did not get to tell (it
	// stopped in between), in the notices it would have sent.
	if err := s.tellAutoApproved(ctx); err != nil {
		return 0, err
	}
	due, err := s.store.DueForApproval(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find submissions due for approval: %w", err)
	}
	n, err := job.Each(due, func(sub Submission) string { return "auto-approve " + sub.ID },
		func(sub Submission) error { return s.run(ctx, s.approve, sub, "", true) },
		ErrAlreadyReviewed, operation.ErrInProgress)
	return n, errors.Join(err, s.tellAutoApproved(ctx))
}

// tellAutoApproved tells each buyer of the submissions approved
// automatically since they were last told, in one notification per task.
// The approval marks the submission in the write that approves it, and the
// mark goes once the notification is stored, so a round stopped in between
// leaves the notice to the next; the notice's ID derives from the
// submissions it tells of, so telling again sends nothing twice.
func (s *Service) tellAutoApproved(ctx context.Context) error {
	untold, err := s.store.UntoldAutoApprovals(ctx, 100)
	if err != nil {
		return fmt.Errorf("find untold automatic approvals: %w", err)
	}
	var tasks []string
	byTask := map[string][]Submission{}
	for _, sub := range untold {
		if byTask[sub.TaskID] == nil {
			tasks = append(tasks, sub.TaskID)
		}
		byTask[sub.TaskID] = append(byTask[sub.TaskID], sub)
	}
	var errs []error
	for _, taskID := range tasks {
		subs := byTask[taskID]
		ids := make([]string, len(subs))
		for i, sub := range subs {
			ids[i] = sub.ID
		}
		slices.Sort(ids)
		sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
		err := s.notify.Send(ctx, notification.Notification{
			ID: "auto-approved:" + taskID + ":" + hex.EncodeToString(sum[:12]), UserID: subs[0].Buyer.ID,
			Type: notification.SubmissionsAutoApproved, Page: notification.MyTasks, Message: autoApprovedMessage(len(subs), subs[0].TaskTitle),
		})
		if err == nil {
			err = s.store.BuyersTold(ctx, ids)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tell the buyer of task %s of its automatic approvals: %w", taskID, err))
		}
	}
	return errors.Join(errs...)
}

// autoApprovedMessage tells a buyer that n submissions to their task titled
// title were approved automatically.
func autoApprovedMessage(n int, title string) string {
	if n == 1 {
		return fmt.Sprintf("A submission to “%s” was approved automatically, as it was not reviewed in time: "+
			"its worker was paid from the task's escrow.", title)
	}
	return fmt.Sprintf("%d submissions to “%s” were approved automatically, as they were not reviewed in time: "+
		"their workers were paid from the task's escrow.", n, title)
}

// Mine returns a page of the worker's submissions, newest first, optionally
// of one status.
func (s *Service) Mine(ctx context.Context, p auth.Principal, status Status, r page.Request) (page.Of[Submission], error) {
	return s.list(ctx, Filter{WorkerID: p.UserID, Status: status}, r)
}

// ToReview returns a page of the pending submissions on the buyer's tasks,
// newest or oldest first.
func (s *Service) ToReview(ctx context.Context, p auth.Principal, oldestFirst bool, r page.Request) (page.Of[Submission], error) {
	return s.list(ctx, Filter{BuyerID: p.UserID, Status: StatusPending, OldestFirst: oldestFirst}, r)
}

// View returns a submission to those entitled to see it, proof included:
// its worker, its task's buyer and admins. To anyone else it is not found,
// as if it did not exist.
func (s *Service) View(ctx context.Context, p auth.Principal, id string) (Submission, error) {
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, fmt.Errorf("read submission %s: %w", id, err)
	}
	if p.UserID != sub.Worker.ID && p.UserID != sub.Buyer.ID && !p.Is(auth.RoleAdmin) {
		return Submission{}, ErrNotFound
	}
	return sub, nil
}

// OfTask returns a page of a task's submissions in every status, newest
// first, or of one status: to the task's buyer and admins. To anyone else
// the task is not found.
func (s *Service) OfTask(ctx context.Context, p auth.Principal, taskID string, status Status, r page.Request) (page.Of[Submission], error) {
	t, err := s.tasks.ByID(ctx, taskID)
	if err != nil {
		return page.Of[Submission]{}, fmt.Errorf("read task %s: %w", taskID, err)
	}
	if t.Buyer.ID != p.UserID && !p.Is(auth.RoleAdmin) {
		return page.Of[Submission]{}, task.ErrNotFound
	}
	return s.list(ctx, Filter{TaskID: taskID, Status: status}, r)
}

// AdminList returns a page of every submission matching f, newest first
// (admins).
func (s *Service) AdminList(ctx context.Context, p auth.Principal, f Filter, r page.Request) (page.Of[Submission], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Submission]{}, auth.ErrWrongRole
	}
	f.OldestFirst = false
	return s.list(ctx, f, r)
}

func (s *Service) list(ctx context.Context, f Filter, r page.Request) (page.Of[Submission], error) {
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Submission]{}, fmt.Errorf("list submissions: %w", err)
	}
	return page.Of[Submission]{Items: items, Request: r, Total: total}, nil
}

// WorkerStats are a worker's dashboard figures.
type WorkerStats struct {
	TotalSubmissions   int64
	PendingSubmissions int64
	TotalEarnings      money.Coins // the pay of the approved work, and the bonuses paid for it
}

// BuyerStats are a buyer's dashboard figures.
type BuyerStats struct {
	TotalTasks   int64
	PendingSlots int64       // open slots of the buyer's live tasks, still waiting for workers
	TotalPaid    money.Coins // the pay of the approved work, and the bonuses paid for it
}

// WorkerStats returns the worker's figures.
func (s *Service) WorkerStats(ctx context.Context, p auth.Principal) (WorkerStats, error) {
	var ws WorkerStats
	var err1, err2, err3 error
	ws.TotalSubmissions, err1 = s.store.Count(ctx, Filter{WorkerID: p.UserID})
	ws.PendingSubmissions, err2 = s.store.Count(ctx, Filter{WorkerID: p.UserID, Status: StatusPending})
	ws.TotalEarnings, err3 = s.paid(ctx, Filter{WorkerID: p.UserID, Status: StatusApproved})
	return ws, errors.Join(err1, err2, err3)
}

// BuyerStats returns the buyer's figures.
func (s *Service) BuyerStats(ctx context.Context, p auth.Principal) (BuyerStats, error) {
	var bs BuyerStats
	var err1, err2, err3 error
	bs.TotalTasks, err1 = s.tasks.CountByBuyer(ctx, p.UserID)
	bs.PendingSlots, err2 = s.tasks.OpenSlots(ctx, p.UserID)
	bs.TotalPaid, err3 = s.paid(ctx, Filter{BuyerID: p.UserID, Status: StatusApproved})
	return bs, errors.Join(err1, err2, err3)
}

// paid adds up what the approved submissions matching f paid their
// workers: their pay, and the bonuses their buyers added.
func (s *Service) paid(ctx context.Context, f Filter) (money.Coins, error) {
	pay, err := s.store.SumPay(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("sum pay: %w", err)
	}
	bonus, err := s.store.SumBonus(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("sum bonuses: %w", err)
	}
	return pay + bonus, nil
}
