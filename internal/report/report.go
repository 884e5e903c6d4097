// Package report lets users report problems (a scam task, a bad submission,
// a user, an abusive message) and dispute rejections, and lets admins resolve them, optionally
// acting: overturning a rejection, suspending a user, removing a task.
package report

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/chat"
	"microtask/internal/contract"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
)

// TargetType is what a report is about.
type TargetType string

// The target types.
const (
	TargetTask       TargetType = "task"
	TargetSubmission TargetType = "submission"
	TargetUser       TargetType = "user"
	TargetMessage    TargetType = "message" // by its sender or its recipient
	// TargetMilestone is a contract's disputed milestone: filed by a
	// party through the contract (POST /contracts/{id}/disputes), never
	// through POST /reports, and decided by one of the actions release,
	// refund, split or rework.
	TargetMilestone TargetType = "milestone"
)

// Status is where a report is.
type Status string

// The statuses.
const (
	StatusOpen      Status = "open"
	StatusResolved  Status = "resolved"
	StatusDismissed Status = "dismissed"
)

// Action is what an admin does about a report when resolving it.
type Action string

// The actions.
const (
	ActionNone              Action = ""
	ActionOverturnRejection Action = "overturn_rejection" // the reported (rejected) submission becomes approved and paid
	ActionSuspendUser       Action = "suspend_user"       // the reported user, the task's buyer, or the submission's worker
	ActionDeleteTask        Action = "delete_task"        // the reported task, or the submission's task
	// ActionRework sends the reported (rejected) submission back to its
	// worker, to revise by a deadline (Verdict.Deadline).
	ActionRework Action = "rework"
	// The decisions of a disputed milestone (with ActionRework, which
	// sends it back to the worker by Verdict.Deadline).
	ActionRelease Action = "release" // its coins to the worker
	ActionRefund  Action = "refund"  // its coins back to the buyer
	ActionSplit   Action = "split"   // Verdict.WorkerCoins to the worker, the rest to the buyer
)

// Verdict is an admin's decision of a report: its status, the note to the
// reporter, and the action taken, with the action's deadline (rework).
type Verdict struct {
	Status      Status
	Note        string
	Action      Action
	Deadline    time.Time   // ActionRework only
	WorkerCoins money.Coins // ActionSplit only
}

// Report is one report.
type Report struct {
	ID         string
	Reporter   task.Party
	TargetType TargetType
	TargetID   string
	Reason     string
	Status     Status
	Note       string // the admin's note to the reporter
	Action     Action
	CreatedAt  time.Time
	DecidedAt  time.Time // zero while open
}

// Target is what a report is about, as it is now, for the admins who decide
// it: the field of its type is set, or none if it no longer exists.
type Target struct {
	Task       *task.Task // deleted tasks too
	Submission *submission.Submission
	User       *user.User
	Message    *chat.Evidence // the message with its conversation's context
	// A disputed milestone: its contract, the milestone with the
	// worker's latest submission, and the parties' latest messages to
	// each other (up to ConversationContext, oldest first).
	Contract     *contract.Contract
	Milestone    *contract.Item
	Conversation []chat.Message
}

// ConversationContext is how many of the parties' latest messages a
// dispute is shown with.
const ConversationContext = 20

// Decision is an admin's closing of a report.
type Decision struct {
	ID     string
	Status Status
	Note   string
	Action Action
	At     time.Time
}

// Errors.
var (
	ErrNotFound        = apperr.New(apperr.NotFound, "report_not_found", "no such report")
	ErrAlreadyReported = apperr.New(apperr.Conflict, "already_reported", "you already have an open report about this")
	ErrClosed          = apperr.New(apperr.Conflict, "report_closed", "the report was already resolved or dismissed")
	ErrTargetNotFound  = apperr.New(apperr.NotFound, "target_not_found", "what the report is about does not exist")
	ErrSelf            = apperr.New(apperr.Conflict, "self_report", "you cannot report yourself")
)

// Store persists reports. storage.ReportStore implements it.
type Store interface {
	// Insert adds r. ErrAlreadyReported if the reporter has an open report
	// about the same target.
	Insert(ctx context.Context, r Report) error
	// ByID returns a report. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Report, error)
	// ListByReporter returns a page of a user's reports, newest first.
	ListByReporter(ctx context.Context, reporterID string, p page.Request) ([]Report, int64, error)
	// List returns a page of reports of a status (any when empty), open ones
	// first and oldest first.
	List(ctx context.Context, status Status, p page.Request) ([]Report, int64, error)
	// Decide closes an open report. False if it is no longer open.
	Decide(ctx context.Context, d Decision) (bool, error)
}

// Tasks finds tasks and removes them; task.Service implements it.
type Tasks interface {
	Get(ctx context.Context, id string) (task.Task, error)
	ByID(ctx context.Context, id string) (task.Task, error) // deleted ones too
	Remove(ctx context.Context, p auth.Principal, id string) (money.Coins, error)
}

// Submissions finds submissions and overturns rejections;
// submission.Service implements it.
type Submissions interface {
	Get(ctx context.Context, id string) (submission.Submission, error)
	Overturn(ctx context.Context, p auth.Principal, id string) (submission.Submission, error)
	Rework(ctx context.Context, p auth.Principal, id string, deadline time.Time) (submission.Submission, error)
}

// Users finds users and suspends them; user.Service implements it.
type Users interface {
	Get(ctx context.Context, id string) (user.User, error) // not deleted ones
	Name(ctx context.Context, id string) (string, error)
	Exists(ctx context.Context, id string) (bool, error)
	SetStatus(ctx context.Context, p auth.Principal, id string, st user.Status, reason string) error
}

// Messages finds messages for reports; chat.Service implements it.
type Messages interface {
	// Reportable returns a message the caller sent or received;
	// chat.ErrMessageNotFound for any other.
	Reportable(ctx context.Context, p auth.Principal, id string) (chat.Message, error)
	// Evidence returns a message with its context, for admins.
	Evidence(ctx context.Context, id string) (chat.Evidence, error)
	// Between returns the latest messages (up to limit) between two
	// users, oldest first, for admins.
	Between(ctx context.Context, a, b string, limit int) ([]chat.Message, error)
}

// Contracts reads and decides disputed milestones; contract.Service
// implements it.
type Contracts interface {
	Case(ctx context.Context, itemID string) (contract.Contract, contract.Item, error)
	Decide(ctx context.Context, p auth.Principal, itemID string, r contract.Ruling) (contract.Item, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}
