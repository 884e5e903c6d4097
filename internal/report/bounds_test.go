package report_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/apperr"
	"microtask/internal/page"
	"microtask/internal/report"
)

// TestBoundsAreTheService: a report and its decision are held to their
// bounds by the service, so that a caller of the service cannot file or
// decide what the API would refuse; each bad field is named as the API
// spells it, all in one answer, and a refused call changes nothing.
func TestBoundsAreTheService(t *testing.T) {
	t.Parallel()
	m := newMarket(t)
	open := m.report(t, m.worker, report.TargetTask, m.task.ID)
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	fe := func(field, msg string) apperr.FieldError { return apperr.FieldError{Field: field, Message: msg} }
	for _, tt := range []struct {
		name string
		call func() error
		want []apperr.FieldError
	}{
		{"no type, no reason", func() error {
			_, err := m.e.Reports.Create(t.Context(), m.buyer, "", m.task.ID, "  ")
			return err
		}, []apperr.FieldError{fe("target_type", "is required"), fe("reason", "is required")}},
		{"a reason too short", func() error {
			_, err := m.e.Reports.Create(t.Context(), m.buyer, report.TargetTask, m.task.ID, " Scam! ")
			return err
		}, []apperr.FieldError{fe("reason", "must be at least 10 characters")}},
		{"a reason too long, of an unknown type", func() error {
			_, err := m.e.Reports.Create(t.Context(), m.buyer, "payment", m.task.ID, long(report.MaxReasonLen+1))
			return err
		}, []apperr.FieldError{fe("target_type", "must be one of: task, submission, user, message"), fe("reason", "must be at most 1000 characters")}},
		{"no status", func() error {
			_, err := m.e.Reports.Decide(t.Context(), m.admin, open.ID, "", "", report.ActionNone)
			return err
		}, []apperr.FieldError{fe("status", "is required")}},
		{"a note too long, an unknown action", func() error {
			_, err := m.e.Reports.Decide(t.Context(), m.admin, open.ID, report.StatusResolved, long(report.MaxNoteLen+1), "ban")
			return err
		}, []apperr.FieldError{fe("note", "must be at most 1000 characters"),
			fe("action", "must be one of: overturn_rejection, rework, suspend_user, delete_task, release, refund, split")}},
		{"an action with a dismissal", func() error {
			_, err := m.e.Reports.Decide(t.Context(), m.admin, open.ID, report.StatusDismissed, "", report.ActionDeleteTask)
			return err
		}, []apperr.FieldError{fe("action", "an action resolves a report; a dismissal takes none")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *apperr.Error
			var got []apperr.FieldError
			if errors.As(err, &e) && e.Kind == apperr.Invalid {
				got = e.Fields
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error = %v; field errors (-want +got):\n%s", err, diff)
			}
		})
	}
	// Nothing was filed or decided: the one report is still open, and the
	// task was not removed.
	if got, err := m.e.Reports.List(t.Context(), m.admin, report.StatusOpen, page.Request{Number: 1, Limit: 10}); err != nil ||
		got.Total != 1 || got.Items[0].ID != open.ID {
		t.Errorf("open reports = %+v, %v; want only %s", got.Items, err, open.ID)
	}
	if _, err := m.e.Tasks.Get(t.Context(), m.task.ID); err != nil {
		t.Errorf("the reported task: %v", err)
	}
}
