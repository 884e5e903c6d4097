package submission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/task"
)

// Operation kinds this package registers with the ledger. Submitting and
// rejecting move no coins; they run as operations without postings so that
// their two documents (the submission and the task's slots) change together
// even across a crash.
const (
	submitKind   = "submit"   // takes a slot, then inserts the submission
	approveKind  = "approve"  // escrow -> worker, and the slot is used up
	rejectKind   = "reject"   // the slot reopens
	cancelKind   = "cancel"   // an admin removes the task: the slot reopens, to be refunded
	overturnKind = "overturn" // an admin approves a rejected submission: escrow or buyer -> worker
)

// Service applies the submission and review rules.
type Service struct {
	store  Store
	tasks  Tasks
	ledger Ledger
	notify Notifier
	users  UserNames
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns a Service and registers its ledger hooks. now may be
// nil for time.Now.
func NewService(store Store, tasks Tasks, l Ledger, n Notifier, users UserNames, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, tasks: tasks, ledger: l, notify: n, users: users, log: log, now: now}
	l.Handle(submitKind, ledger.Hook{Commit: s.commitSubmit, Settle: s.settleSubmit})
	l.Handle(approveKind, ledger.Hook{Commit: s.commitReview(StatusApproved), Revert: s.revertReview, Settle: s.settleApprove})
	l.Handle(rejectKind, ledger.Hook{Commit: s.commitReview(StatusRejected), Settle: s.settleReject})
	l.Handle(cancelKind, ledger.Hook{Commit: s.commitReview(StatusCancelled), Settle: s.settleCancel})
	l.Handle(overturnKind, ledger.Hook{Commit: s.commitOverturn, Revert: s.revertOverturn, Settle: s.settleOverturn})
	return s
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

// Submit records a worker's proof of work for a task and takes one of its
// slots. A second submission of the worker to the task is found as a replay
// of the first one's operation, whose id the pair decides.
func (s *Service) Submit(ctx context.Context, p auth.Principal, taskID, details string) (Submission, error) {
	if !p.Is(auth.RoleWorker) {
		return Submission{}, auth.ErrWrongRole
	}
	t, err := s.tasks.ByID(ctx, taskID)
	if err != nil {
		return Submission{}, err
	}
	now := s.clock()
	if err := takesSubmissions(t, now); err != nil {
		return Submission{}, err
	}
	name, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Submission{}, err
	}
	sub := Submission{
		ID: ID(taskID, p.UserID), TaskID: t.ID, TaskTitle: t.Title, Pay: t.Pay, Worker: task.Party{ID: p.UserID, Name: name},
		Buyer: t.Buyer, Details: details, Status: StatusPending, AutoApproveAt: now.Add(t.AutoApproveAfter), CreatedAt: now,
	}
	payload, err := json.Marshal(sub)
	if err != nil {
		return Submission{}, err
	}
	tr, err := s.ledger.Post(ctx, ledger.Transfer{
		ID:      submitKind + ":" + sub.ID,
		Meta:    map[string]string{"task": t.ID, "worker": p.UserID},
		Private: map[string]string{"submission": string(payload)},
	})
	if errors.Is(err, ledger.ErrCancelled) {
		// The slot was gone by the time it was to be taken: say why.
		if t, err := s.tasks.ByID(ctx, taskID); err == nil {
			if err := takesSubmissions(t, s.clock()); err != nil {
				return Submission{}, err
			}
		}
		return Submission{}, ErrTaskFull
	}
	if err != nil {
		return Submission{}, err
	}
	if tr.Replayed {
		return Submission{}, ErrAlreadySubmitted // submitted before, or simultaneously
	}
	return sub, nil // as settleSubmit stored it
}

// takesSubmissions says why a task cannot take a submission now, if so.
func takesSubmissions(t task.Task, now time.Time) error {
	switch {
	case t.Status == task.StatusDeleted:
		return task.ErrNotFound
	case t.Status == task.StatusExpired || !now.Before(t.CompletionDate):
		return ErrTaskExpired
	case t.Status != task.StatusOpen || t.Hidden:
		return ErrTaskClosed
	case t.OpenSlots <= 0:
		return ErrTaskFull
	}
	return nil
}

// commitSubmit takes the slot. A submission that exists was settled by an
// earlier run of this operation, and may have been reviewed since, which
// takes it off the task's pending list: its slot must not be taken again.
func (s *Service) commitSubmit(ctx context.Context, tr ledger.Transfer) (bool, error) {
	id := strings.TrimPrefix(tr.ID, submitKind+":")
	if _, err := s.store.ByID(ctx, id); err == nil {
		return true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return s.tasks.ReserveSlot(ctx, tr.Meta["task"], id, s.clock())
}

// settleSubmit inserts the submission whose slot is taken and tells the
// buyer. Should the worker have a submission for the task under another ID
// (the unique index on task and worker says so), the slot goes back instead.
func (s *Service) settleSubmit(ctx context.Context, tr ledger.Transfer) error {
	var sub Submission
	if err := json.Unmarshal([]byte(tr.Private["submission"]), &sub); err != nil {
		return fmt.Errorf("submission of %s: %w", tr.ID, err)
	}
	err := s.store.Insert(ctx, sub)
	if errors.Is(err, ErrAlreadySubmitted) {
		return s.tasks.ReleaseSlot(ctx, sub.TaskID, sub.ID, true)
	}
	if err != nil {
		return err
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: sub.Buyer.ID, ActionRoute: "/dashboard/task-to-review", CreatedAt: tr.UpdatedAt,
		Message: fmt.Sprintf("%s submitted work for your task “%s”.", sub.Worker.Name, sub.TaskTitle),
	})
}

// Approve approves a pending submission (the task's buyer only): the worker
// is paid the task's pay from its escrow.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id string) (Submission, error) {
	return s.decide(ctx, p, id, approveKind, "")
}

// Reject rejects a pending submission (the task's buyer only), with an
// optional reason for the worker; its slot reopens.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (Submission, error) {
	return s.decide(ctx, p, id, rejectKind, strings.TrimSpace(reason))
}

func (s *Service) decide(ctx context.Context, p auth.Principal, id, kind, reason string) (Submission, error) {
	sub, err := s.store.ByID(ctx, id)
	if err != nil {
		return Submission{}, err
	}
	if sub.Buyer.ID != p.UserID {
		return Submission{}, ErrNotYours
	}
	if sub.Status != StatusPending {
		return Submission{}, ErrAlreadyReviewed
	}
	if err := s.review(ctx, sub, kind, reason, false); err != nil {
		return Submission{}, err
	}
	return s.store.ByID(ctx, id)
}

// review runs the approve or reject operation of a submission.
func (s *Service) review(ctx context.Context, sub Submission, kind, reason string, auto bool) error {
	var postings []ledger.Posting
	if kind == approveKind {
		postings = ledger.Move(ledger.EscrowAccount(sub.TaskID), ledger.UserAccount(sub.Worker.ID), sub.Pay)
	}
	tr, err := s.ledger.Post(ctx, ledger.Transfer{
		ID:       kind + ":" + sub.ID,
		Postings: postings,
		Meta: map[string]string{
			"submission": sub.ID, "task": sub.TaskID, "title": sub.TaskTitle, "worker": sub.Worker.ID,
			"pay": strconv.FormatInt(int64(sub.Pay), 10), "reason": reason, "auto": strconv.FormatBool(auto),
		},
	})
	if errors.Is(err, ledger.ErrCancelled) || (err == nil && tr.Replayed) {
		return ErrAlreadyReviewed // another review, or this same one by a concurrent call
	}
	return err
}

func (s *Service) commitReview(to Status) func(context.Context, ledger.Transfer) (bool, error) {
	return func(ctx context.Context, tr ledger.Transfer) (bool, error) {
		return s.store.Review(ctx, Review{Op: tr.ID, ID: tr.Meta["submission"], To: to, Reason: tr.Meta["reason"], At: s.clock()})
	}
}

// revertReview puts an approval back to pending if the task's escrow could
// not pay it, which the escrow invariant says never happens.
func (s *Service) revertReview(ctx context.Context, tr ledger.Transfer) error {
	s.log.ErrorContext(ctx, "escrow could not pay an approval", "op", tr.ID, "task", tr.Meta["task"])
	return s.store.Unreview(ctx, tr.Meta["submission"], tr.ID, StatusPending)
}

func (s *Service) settleApprove(ctx context.Context, tr ledger.Transfer) error {
	if err := s.tasks.ReleaseSlot(ctx, tr.Meta["task"], tr.Meta["submission"], false); err != nil {
		return err
	}
	how := "was approved"
	if tr.Meta["auto"] == "true" {
		how = "was approved automatically, as the buyer did not review it in time"
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: tr.Meta["worker"], ActionRoute: "/dashboard/my-submissions", CreatedAt: tr.UpdatedAt,
		Message: fmt.Sprintf("Your submission for “%s” %s: %s coins are yours.", tr.Meta["title"], how, tr.Meta["pay"]),
	})
}

func (s *Service) settleReject(ctx context.Context, tr ledger.Transfer) error {
	if err := s.tasks.ReleaseSlot(ctx, tr.Meta["task"], tr.Meta["submission"], true); err != nil {
		return err
	}
	msg := fmt.Sprintf("Your submission for “%s” was rejected.", tr.Meta["title"])
	if r := tr.Meta["reason"]; r != "" {
		msg = fmt.Sprintf("Your submission for “%s” was rejected: %s", tr.Meta["title"], r)
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: tr.Meta["worker"], ActionRoute: "/dashboard/my-submissions", CreatedAt: tr.UpdatedAt, Message: msg,
	})
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
			return err
		}
		if sub.Status != StatusPending || sub.TaskID != taskID {
			continue
		}
		err = s.review(ctx, sub, cancelKind, "the task was removed by an admin", false)
		if err != nil && !errors.Is(err, ErrAlreadyReviewed) {
			return err
		}
	}
	return nil
}

func (s *Service) settleCancel(ctx context.Context, tr ledger.Transfer) error {
	if err := s.tasks.ReleaseSlot(ctx, tr.Meta["task"], tr.Meta["submission"], true); err != nil {
		return err
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: tr.Meta["worker"], ActionRoute: "/dashboard/my-submissions", CreatedAt: tr.UpdatedAt,
		Message: fmt.Sprintf("The task “%s” was removed by an admin, so your submission for it was cancelled.", tr.Meta["title"]),
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
		return Submission{}, err
	}
	if sub.Status != StatusRejected {
		return Submission{}, ErrNotRejected
	}
	t, err := s.tasks.ByID(ctx, sub.TaskID)
	if err != nil {
		return Submission{}, err
	}
	meta := func(source string) map[string]string {
		return map[string]string{"submission": sub.ID, "task": sub.TaskID, "title": sub.TaskTitle, "worker": sub.Worker.ID,
			"buyer": sub.Buyer.ID, "pay": strconv.FormatInt(int64(sub.Pay), 10), "source": source}
	}
	op := overturnKind + ":" + sub.ID
	if t.Status != task.StatusDeleted && t.OpenSlots > 0 {
		tr, err := s.ledger.Post(ctx, ledger.Transfer{ID: op, Meta: meta("escrow"),
			Postings: ledger.Move(ledger.EscrowAccount(sub.TaskID), ledger.UserAccount(sub.Worker.ID), sub.Pay)})
		switch {
		case err == nil && tr.Replayed:
			return Submission{}, ErrAlreadyReviewed
		case err == nil:
			return s.store.ByID(ctx, id)
		case !errors.Is(err, ledger.ErrCancelled): // cancelled: the slot went meanwhile
			return Submission{}, err
		}
	}
	tr, err := s.ledger.Post(ctx, ledger.Transfer{ID: op, Meta: meta("buyer"),
		Postings: ledger.Move(ledger.UserAccount(sub.Buyer.ID), ledger.UserAccount(sub.Worker.ID), sub.Pay)})
	switch {
	case errors.Is(err, ledger.ErrInsufficientCoins):
		return Submission{}, ErrCannotPay
	case errors.Is(err, ledger.ErrCancelled), err == nil && tr.Replayed:
		return Submission{}, ErrAlreadyReviewed
	case errors.Is(err, ledger.ErrOperationReused):
		return Submission{}, ErrAlreadyReviewed // overturned already, from the other source
	case err != nil:
		return Submission{}, err
	}
	return s.store.ByID(ctx, id)
}

// commitOverturn takes the escrow's open slot, or when the buyer pays, makes
// the submission approved at once.
func (s *Service) commitOverturn(ctx context.Context, tr ledger.Transfer) (bool, error) {
	if tr.Meta["source"] == "escrow" {
		return s.tasks.ConsumeSlot(ctx, tr.Meta["task"], tr.ID)
	}
	return s.store.Review(ctx, Review{Op: tr.ID, ID: tr.Meta["submission"], From: StatusRejected, To: StatusApproved, At: s.clock()})
}

func (s *Service) revertOverturn(ctx context.Context, tr ledger.Transfer) error {
	return s.store.Unreview(ctx, tr.Meta["submission"], tr.ID, StatusRejected)
}

func (s *Service) settleOverturn(ctx context.Context, tr ledger.Transfer) error {
	if tr.Meta["source"] == "escrow" {
		if _, err := s.store.Review(ctx, Review{Op: tr.ID, ID: tr.Meta["submission"], From: StatusRejected, To: StatusApproved, At: s.clock()}); err != nil {
			return err
		}
	}
	return s.notify.Send(ctx, notification.Notification{
		ID: tr.ID, UserID: tr.Meta["worker"], ActionRoute: "/dashboard/my-submissions", CreatedAt: tr.UpdatedAt,
		Message: fmt.Sprintf("An admin overturned the rejection of your submission for “%s”: %s coins are yours.", tr.Meta["title"], tr.Meta["pay"]),
	})
}

// Get returns a submission.
func (s *Service) Get(ctx context.Context, id string) (Submission, error) {
	return s.store.ByID(ctx, id)
}

// AutoApproveDue approves the pending submissions whose review time has
// passed, as Mechanical Turk does, so that no worker waits forever. It
// returns how many it approved. Safe to run anywhere, any number of times.
func (s *Service) AutoApproveDue(ctx context.Context) (int, error) {
	due, err := s.store.DueForApproval(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find submissions due for approval: %w", err)
	}
	n := 0
	var errs []error
	for _, sub := range due {
		err := s.review(ctx, sub, approveKind, "", true)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrAlreadyReviewed), errors.Is(err, ledger.ErrInProgress):
		default:
			errs = append(errs, fmt.Errorf("auto-approve %s: %w", sub.ID, err))
		}
	}
	return n, errors.Join(errs...)
}

// Mine returns a page of the worker's submissions, newest first, optionally
// of one status.
func (s *Service) Mine(ctx context.Context, p auth.Principal, status Status, r page.Request) (page.Of[Submission], error) {
	return s.list(ctx, Filter{WorkerID: p.UserID, Status: status}, r)
}

// ToReview returns a page of the pending submissions on the buyer's tasks.
func (s *Service) ToReview(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Submission], error) {
	return s.list(ctx, Filter{BuyerID: p.UserID, Status: StatusPending}, r)
}

func (s *Service) list(ctx context.Context, f Filter, r page.Request) (page.Of[Submission], error) {
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Submission]{}, err
	}
	return page.Of[Submission]{Items: items, Request: r, Total: total}, nil
}

// WorkerStats are a worker's dashboard figures.
type WorkerStats struct {
	TotalSubmissions   int64
	PendingSubmissions int64
	TotalEarnings      money.Coins
}

// BuyerStats are a buyer's dashboard figures.
type BuyerStats struct {
	TotalTasks   int64
	PendingSlots int64 // open slots of the buyer's live tasks, still waiting for workers
	TotalPaid    money.Coins
}

// WorkerStats returns the worker's figures.
func (s *Service) WorkerStats(ctx context.Context, p auth.Principal) (WorkerStats, error) {
	var ws WorkerStats
	var err1, err2, err3 error
	ws.TotalSubmissions, err1 = s.store.Count(ctx, Filter{WorkerID: p.UserID})
	ws.PendingSubmissions, err2 = s.store.Count(ctx, Filter{WorkerID: p.UserID, Status: StatusPending})
	ws.TotalEarnings, err3 = s.store.SumPay(ctx, Filter{WorkerID: p.UserID, Status: StatusApproved})
	return ws, errors.Join(err1, err2, err3)
}

// BuyerStats returns the buyer's figures.
func (s *Service) BuyerStats(ctx context.Context, p auth.Principal) (BuyerStats, error) {
	var bs BuyerStats
	var err1, err2, err3 error
	bs.TotalTasks, err1 = s.tasks.CountByBuyer(ctx, p.UserID)
	bs.PendingSlots, err2 = s.tasks.OpenSlots(ctx, p.UserID)
	bs.TotalPaid, err3 = s.store.SumPay(ctx, Filter{BuyerID: p.UserID, Status: StatusApproved})
	return bs, errors.Join(err1, err2, err3)
}
