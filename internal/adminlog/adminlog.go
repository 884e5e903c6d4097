// Package adminlog records what admins do to money, roles, statuses and
// reviews (who, what, to whom, when, why) and lists it for the admins
// themselves: the trail a platform that moves other people's money owes
// them.
//
// An entry's ID names the action it records, so recording it again (a
// retried request, an operation finished by recovery) keeps one entry.
package adminlog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
)

// Kind is what an admin did.
type Kind string

// The kinds of action.
const (
	UserSuspended        Kind = "user.suspended"
	UserReinstated       Kind = "user.reinstated"
	UserDeleted          Kind = "user.deleted"
	UserRoleChanged      Kind = "user.role_changed"
	PurchasesUnblocked   Kind = "user.purchases_unblocked"
	WithdrawalApproved   Kind = "withdrawal.approved"
	WithdrawalRejected   Kind = "withdrawal.rejected"
	SubmissionOverturned Kind = "submission.overturned"
	SubmissionReworked   Kind = "submission.reworked"
	TaskRemoved          Kind = "task.removed"
	ReportResolved       Kind = "report.resolved"
	ReportDismissed      Kind = "report.dismissed"
	ReviewRemoved        Kind = "review.removed"
	DisputeDecided       Kind = "contract.dispute_decided" // a disputed milestone released, refunded, split or sent back
)

// Kinds are every kind, for the list's filter.
var Kinds = []Kind{UserSuspended, UserReinstated, UserDeleted, UserRoleChanged, PurchasesUnblocked, WithdrawalApproved, WithdrawalRejected,
	SubmissionOverturned, SubmissionReworked, TaskRemoved, ReportResolved, ReportDismissed, ReviewRemoved,
	DisputeDecided}

// Entry is one action.
type Entry struct {
	ID         string // names the action, e.g. the operation that carried it out
	AdminID    string
	Kind       Kind
	TargetType string // user, withdrawal, submission, task, report, review or milestone
	TargetID   string
	Summary    string // what changed, in words: "role worker → buyer", "200 coins paid out"
	Reason     string // why, as the admin gave it; may be empty
	At         time.Time
}

// Filter selects entries; empty fields select all.
type Filter struct {
	AdminID  string
	TargetID string
	Kind     Kind
}

// Store keeps the entries; storage.AdminLogStore implements it.
type Store interface {
	// Insert adds e; an entry with e's ID already there stays as it is.
	Insert(ctx context.Context, e Entry) error
	// List returns a page of the entries matching f, newest first.
	List(ctx context.Context, f Filter, p page.Request) ([]Entry, int64, error)
}

// Recorder records admins' actions: what the services that carry them out
// are given. Log implements it.
type Recorder interface {
	Record(ctx context.Context, e Entry) error
}

// Log records and lists admins' actions.
type Log struct {
	store Store
	now   func() time.Time
}

// New returns a Log on store. now may be nil for time.Now.
func New(store Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, now: now}
}

// Record keeps e, stamped now unless it has a time. It is recorded once the
// action is done; an action carried out by an operation is recorded by the
// operation's last step, which recovery finishes after a crash.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = l.now().UTC().Truncate(time.Millisecond)
	}
	e.Reason = strings.TrimSpace(e.Reason)
	if err := l.store.Insert(ctx, e); err != nil {
		return fmt.Errorf("record admin action %s: %w", e.ID, err)
	}
	return nil
}

// List returns a page of the entries matching f, newest first (admins).
func (l *Log) List(ctx context.Context, p auth.Principal, f Filter, r page.Request) (page.Of[Entry], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[Entry]{}, auth.ErrWrongRole
	}
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		return page.Of[Entry]{}, apperr.InvalidFields(apperr.FieldError{Field: "kind", Message: "must be one of: " + kindList()})
	}
	items, total, err := l.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Entry]{}, fmt.Errorf("list admin actions: %w", err)
	}
	return page.Of[Entry]{Items: items, Request: r, Total: total}, nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
