package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/chat"
	"microtask/internal/contract"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

// Service applies the reporting rules.
type Service struct {
	store       Store
	tasks       Tasks
	submissions Submissions
	users       Users
	messages    Messages
	contracts   Contracts
	notify      Notifier
	log         *slog.Logger
	now         func() time.Time
	newID       func() string
	admins      adminlog.Recorder
}

// Deps is what a Service is built with.
type Deps struct {
	Store       Store
	Tasks       Tasks
	Submissions Submissions
	Users       Users
	Messages    Messages
	Contracts   Contracts // disputed milestones
	Notify      Notifier
	Admins      adminlog.Recorder // records admins' decisions
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, tasks: d.Tasks, submissions: d.Submissions, users: d.Users, messages: d.Messages, contracts: d.Contracts, notify: d.Notify, log: d.Log, now: now,
		newID: idgen.New, admins: d.Admins}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Create files a report. Tasks may be reported by anyone signed in (a scam
// task); a submission only by its worker (disputing a rejection) or its buyer
// (a bad submission); a user by anyone but themselves. One open report per
// reporter and target.
func (s *Service) Create(ctx context.Context, p auth.Principal, typ TargetType, targetID, reason string) (Report, error) {
	reason = strings.TrimSpace(reason)
	if err := checkReport(typ, reason); err != nil {
		return Report{}, err
	}
	if err := s.checkTarget(ctx, p, typ, targetID); err != nil {
		return Report{}, err
	}
	reporter, err := s.users.Name(ctx, p.UserID)
	if err != nil {
		return Report{}, err
	}
	r := Report{
		ID: s.newID(), Reporter: task.Party{ID: p.UserID, Name: reporter}, TargetType: typ, TargetID: targetID,
		Reason: reason, Status: StatusOpen, CreatedAt: s.clock(),
	}
	if err := s.store.Insert(ctx, r); err != nil {
		return Report{}, fmt.Errorf("insert report %s: %w", r.ID, err)
	}
	s.log.InfoContext(ctx, "report filed", "report_id", r.ID, "target_type", string(typ), "target_id", targetID)
	return r, nil
}

func (s *Service) checkTarget(ctx context.Context, p auth.Principal, typ TargetType, id string) error {
	var err error
	switch typ {
	case TargetTask:
		_, err = s.tasks.Get(ctx, id)
	case TargetSubmission:
		var sub submission.Submission
		// A submission's ID derives from its task's and worker's, both
		// public: to anyone else, one exists no more than a missing one.
		if sub, err = s.submissions.Get(ctx, id); err == nil && p.UserID != sub.Worker.ID && p.UserID != sub.Buyer.ID {
			return ErrTargetNotFound
		}
	case TargetUser:
		if id == p.UserID {
			return ErrSelf
		}
		var ok bool
		if ok, err = s.users.Exists(ctx, id); err == nil && !ok {
			return ErrTargetNotFound
		}
	case TargetMessage:
		var m chat.Message
		if m, err = s.messages.Reportable(ctx, p, id); err == nil && m.From == p.UserID {
			return ErrSelf // one's own message: report the other's
		}
	default:
		return apperr.InvalidFields(apperr.FieldError{Field: "target_type", Message: "must be one of: task, submission, user, message"})
	}
	if errors.Is(err, task.ErrNotFound) || errors.Is(err, submission.ErrNotFound) || errors.Is(err, chat.ErrMessageNotFound) {
		return ErrTargetNotFound
	}
	if err != nil {
		return fmt.Errorf("read the %s reported, %s: %w", typ, id, err)
	}
	return nil
}

// Mine returns a page of the caller's reports, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Report], error) {
	items, total, err := s.store.ListByReporter(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Report]{}, fmt.Errorf("list reports of user %s: %w", p.UserID, err)
	}
	return page.Of[Report]{Items: items, Request: r, Total: total}, nil
}

// List returns a page of reports for the admins, open ones oldest first.
func (s *Service) List(ctx context.Context, p auth.Principal, status Status, r page.Request) (page.Of[Report], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Report]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.List(ctx, status, r)
	if err != nil {
		return page.Of[Report]{}, fmt.Errorf("list reports: %w", err)
	}
	return page.Of[Report]{Items: items, Request: r, Total: total}, nil
}

// Get returns one report, to its reporter or an admin; to anyone else it
// does not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Report, error) {
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("read report %s: %w", id, err)
	}
	if r.Reporter.ID != p.UserID && !p.Is(auth.RoleAdmin) {
		return Report{}, ErrNotFound
	}
	return r, nil
}

// WithTarget returns a report with its target as it is now (admins only).
func (s *Service) WithTarget(ctx context.Context, p auth.Principal, id string) (Report, Target, error) {
	if !p.Is(auth.RoleAdmin) {
		return Report{}, Target{}, auth.ErrWrongRole
	}
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Report{}, Target{}, fmt.Errorf("read report %s: %w", id, err)
	}
	var t Target
	switch r.TargetType {
	case TargetTask:
		tk, e := s.tasks.ByID(ctx, r.TargetID)
		t.Task, err = found(tk, e, task.ErrNotFound)
	case TargetSubmission:
		sub, e := s.submissions.Get(ctx, r.TargetID)
		t.Submission, err = found(sub, e, submission.ErrNotFound)
	case TargetUser:
		u, e := s.users.Get(ctx, r.TargetID)
		t.User, err = found(u, e, user.ErrNotFound)
	case TargetMessage:
		ev, e := s.messages.Evidence(ctx, r.TargetID)
		t.Message, err = found(ev, e, chat.ErrMessageNotFound)
	case TargetMilestone:
		t, err = s.dispute(ctx, r.TargetID)
	}
	if err != nil {
		return r, t, fmt.Errorf("read the %s of report %s: %w", r.TargetType, id, err)
	}
	return r, t, nil
}

// dispute is a disputed milestone with its contract and the parties'
// latest messages.
func (s *Service) dispute(ctx context.Context, itemID string) (Target, error) {
	c, it, err := s.contracts.Case(ctx, itemID)
	if errors.Is(err, contract.ErrItemNotFound) {
		return Target{}, nil
	}
	if err != nil {
		return Target{}, err
	}
	ms, err := s.messages.Between(ctx, c.Buyer.ID, c.Worker.ID, ConversationContext)
	if err != nil {
		return Target{}, err
	}
	return Target{Contract: &c, Milestone: &it, Conversation: ms}, nil
}

// found turns a read into a pointer: nil, and no error, if it found nothing.
func found[T any](v T, err, notFound error) (*T, error) {
	switch {
	case errors.Is(err, notFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &v, nil
}

// Decide resolves or dismisses an open report (admins only), first taking
// the action, if any: when the action fails (a rejection neither escrow nor
// buyer can pay for) the report stays open. The reporter is told.
func (s *Service) Decide(ctx context.Context, p auth.Principal, id string, st Status, note string, action Action) (Report, error) {
	return s.DecideWith(ctx, p, id, Verdict{Status: st, Note: note, Action: action})
}

// DecideWith is Decide with the whole verdict: the rework action takes a
// deadline.
func (s *Service) DecideWith(ctx context.Context, p auth.Principal, id string, v Verdict) (Report, error) {
	if !p.Is(auth.RoleAdmin) {
		return Report{}, auth.ErrWrongRole
	}
	st, action := v.Status, v.Action
	note := strings.TrimSpace(v.Note)
	if err := checkDecision(st, note, action, v.Deadline, v.WorkerCoins); err != nil {
		return Report{}, err
	}
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("read report %s: %w", id, err)
	}
	if r.Status != StatusOpen {
		return Report{}, ErrClosed
	}
	if err := s.act(ctx, p, r, v); err != nil {
		return Report{}, fmt.Errorf("take action %s on report %s: %w", action, id, err)
	}
	ok, err := s.store.Decide(ctx, Decision{ID: id, Status: st, Note: note, Action: action, At: s.clock()})
	if err != nil {
		return Report{}, fmt.Errorf("decide report %s: %w", id, err)
	}
	if !ok {
		return Report{}, ErrClosed // decided concurrently; its action, like this one's, ran at most once
	}
	kind, summary := adminlog.ReportDismissed, "dismissed"
	if st == StatusResolved {
		kind, summary = adminlog.ReportResolved, "resolved"
	}
	if action != ActionNone {
		summary += " with " + string(action)
	}
	// The report's one decision names the entry. A crash right before it
	// loses the entry (the decision is one write, not an operation); the
	// action's own entry is kept by its operation.
	if err := s.admins.Record(ctx, adminlog.Entry{ID: "report:" + id, AdminID: p.UserID, Kind: kind, TargetType: "report",
		TargetID: id, Summary: summary, Reason: note}); err != nil {
		s.log.ErrorContext(ctx, "record admin action", "report_id", id, "err", err)
	}
	msg := fmt.Sprintf("Your report about a %s was %s.", r.TargetType, st)
	if note != "" {
		msg = fmt.Sprintf("Your report about a %s was %s: %s", r.TargetType, st, note)
	}
	if err := s.notify.Send(ctx, notification.Notification{ID: "report:" + id, UserID: r.Reporter.ID,
		Type: notification.ReportDecided, Page: notification.MyReports, Message: msg}); err != nil {
		s.log.ErrorContext(ctx, "notify reporter", "report_id", id, "err", err)
	}
	s.log.InfoContext(ctx, "report decided", "report_id", id, "status", string(st), "action", string(action))
	return s.store.ByID(ctx, id)
}

func errAction(msg string) error {
	return apperr.InvalidFields(apperr.FieldError{Field: "action", Message: msg})
}

// act takes a report's action. Each action is idempotent, so deciding the
// same report twice at once acts once.
func (s *Service) act(ctx context.Context, p auth.Principal, r Report, v Verdict) error {
	action, deadline := v.Action, v.Deadline
	if r.TargetType == TargetMilestone {
		return s.settle(ctx, p, r, v)
	}
	switch action {
	case ActionNone:
		return nil
	case ActionRelease, ActionRefund, ActionSplit:
		return errAction(string(action) + " needs a dispute of a milestone")
	case ActionRework:
		if r.TargetType != TargetSubmission {
			return errAction("rework needs a report about a submission")
		}
		_, err := s.submissions.Rework(ctx, p, r.TargetID, deadline)
		if errors.Is(err, submission.ErrAlreadyReviewed) {
			return nil // sent back by a concurrent decision
		}
		if errors.Is(err, submission.ErrNotRejected) {
			// Sent back since it was reported, by a decision of another
			// report about it, and not reviewed again yet: what this
			// report asked.
			if sub, gerr := s.submissions.Get(ctx, r.TargetID); gerr == nil && sub.Reworks > 0 &&
				(sub.Status == submission.StatusRevision || sub.Status == submission.StatusPending) {
				return nil
			}
		}
		return err
	case ActionOverturnRejection:
		if r.TargetType != TargetSubmission {
			return errAction("overturn_rejection needs a report about a submission")
		}
		_, err := s.submissions.Overturn(ctx, p, r.TargetID)
		if errors.Is(err, submission.ErrAlreadyReviewed) {
			return nil // overturned by a concurrent decision
		}
		if errors.Is(err, submission.ErrNotRejected) {
			// Approved since it was reported: overturned by a decision of
			// another report about it, perhaps a moment ago. The worker is
			// paid, which is what the report asked.
			if sub, gerr := s.submissions.Get(ctx, r.TargetID); gerr == nil && sub.Status == submission.StatusApproved {
				return nil
			}
		}
		return err
	case ActionSuspendUser:
		who, err := s.culprit(ctx, r)
		if err != nil {
			return err
		}
		return s.users.SetStatus(ctx, p, who, user.StatusSuspended, "on report "+r.ID)
	case ActionDeleteTask:
		id := r.TargetID
		switch r.TargetType {
		case TargetSubmission:
			sub, err := s.submissions.Get(ctx, r.TargetID)
			if err != nil {
				return err
			}
			id = sub.TaskID
		case TargetUser, TargetMessage:
			return errAction("delete_task needs a report about a task or a submission")
		}
		_, err := s.tasks.Remove(ctx, p, id)
		if errors.Is(err, task.ErrNotFound) {
			return nil // removed already
		}
		return err
	}
	return errAction("must be one of: overturn_rejection, rework, suspend_user, delete_task")
}

// settle decides a disputed milestone: its report resolves with one of
// release, refund, split or rework, carried out by the contract (one
// operation, which records itself in the admin log); it closes without
// one only once its dispute was decided. The same decision of
// the same dispute, made twice at once or again after a crash kept the
// report open, acts once; another decision of a dispute decided already
// is contract.ErrNotDisputed.
func (s *Service) settle(ctx context.Context, p auth.Principal, r Report, v Verdict) error {
	var res contract.Resolution
	switch v.Action {
	case ActionRelease, ActionRefund, ActionSplit, ActionRework:
		res = contract.Resolution(v.Action)
	case ActionNone:
		// Only a report whose dispute was decided already (a crash
		// left it open) closes without an action.
		if _, it, err := s.contracts.Case(ctx, r.TargetID); err == nil && (it.DisputeID != r.ID || it.Resolution != "") {
			return nil
		}
		return errAction("a dispute of a milestone is settled by one of: release, refund, split, rework")
	default:
		return errAction("a dispute of a milestone is settled by one of: release, refund, split, rework")
	}
	_, err := s.contracts.Decide(ctx, p, r.TargetID, contract.Ruling{DisputeID: r.ID, Action: res, WorkerCoins: v.WorkerCoins,
		Deadline: v.Deadline, Note: v.Note})
	if errors.Is(err, contract.ErrNotDisputed) {
		if _, it, gerr := s.contracts.Case(ctx, r.TargetID); gerr == nil && it.DisputeID == r.ID && it.Resolution == res {
			return nil // decided so by a concurrent decision, or before a crash
		}
	}
	return err
}

// culprit is the user a report accuses: the reported user, the task's buyer
// (also when the task has been deleted since), the submission's worker, or
// the message's sender.
func (s *Service) culprit(ctx context.Context, r Report) (string, error) {
	switch r.TargetType {
	case TargetTask:
		t, err := s.tasks.ByID(ctx, r.TargetID)
		return t.Buyer.ID, err
	case TargetSubmission:
		sub, err := s.submissions.Get(ctx, r.TargetID)
		return sub.Worker.ID, err
	case TargetMessage:
		ev, err := s.messages.Evidence(ctx, r.TargetID)
		return ev.Message.From, err
	}
	return r.TargetID, nil
}
