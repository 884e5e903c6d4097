package report

import (
	"slices"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of a report and its decision, in characters. The service checks
// them; the API's request validation (httpapi's createReportRequest and
// decideReportRequest tags) repeats them for the contract, and a test there
// requires the two to refuse the same values with the same field errors.
const (
	MinReasonLen = 10
	MaxReasonLen = 1000
	MaxNoteLen   = 1000
)

// checkReport checks what a new report says, its reason trimmed.
func checkReport(typ TargetType, reason string) error {
	var errs apperr.Fields
	switch typ {
	case TargetTask, TargetSubmission, TargetUser, TargetMessage:
	case "":
		errs.Add("target_type", "is required")
	default:
		errs.Add("target_type", "must be one of: task, submission, user, message")
	}
	switch {
	case reason == "":
		errs.Add("reason", "is required")
	case utf8.RuneCountInString(reason) < MinReasonLen:
		errs.Add("reason", "must be at least %d characters", MinReasonLen)
	default:
		errs.MaxText("reason", reason, MaxReasonLen)
	}
	return errs.Err()
}

// actions are the actions a decision may take (ActionNone: none).
var actions = []Action{ActionNone, ActionOverturnRejection, ActionRework, ActionSuspendUser, ActionDeleteTask, ActionRelease,
	ActionRefund, ActionSplit}

const actionsMessage = "must be one of: overturn_rejection, rework, suspend_user, delete_task, release, refund, split"

// checkDecision checks a decision, its note trimmed: an action only
// resolves.
func checkDecision(st Status, note string, action Action, deadline time.Time, workerCoins money.Coins) error {
	var errs apperr.Fields
	switch st {
	case StatusResolved, StatusDismissed:
	case "":
		errs.Add("status", "is required")
	default:
		errs.Add("status", "must be one of: resolved, dismissed")
	}
	errs.MaxText("note", note, MaxNoteLen)
	switch {
	case !slices.Contains(actions, action):
		errs.Add("action", actionsMessage)
	case action != ActionNone && st == StatusDismissed:
		errs.Add("action", "an action resolves a report; a dismissal takes none")
	}
	switch {
	case action == ActionRework && deadline.IsZero():
		errs.Add("deadline", "is required for rework: when the worker's revision is due")
	case action != ActionRework && !deadline.IsZero():
		errs.Add("deadline", "goes with the action rework only")
	}
	switch {
	case action == ActionSplit && workerCoins < 1:
		errs.Add("worker_coins", "is required for split: the worker's part of the milestone's coins, at least 1")
	case action != ActionSplit && workerCoins != 0:
		errs.Add("worker_coins", "goes with the action split only")
	}
	return errs.Err()
}
