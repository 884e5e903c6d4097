package submission_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/apperr"
	"microtask/internal/submission"
)

// invalidFields returns the field errors of an Invalid error, and nil for
// any other.
func invalidFields(err error) []apperr.FieldError {
	var e *apperr.Error
	if errors.As(err, &e) && e.Kind == apperr.Invalid {
		return e.Fields
	}
	return nil
}

// TestBoundsAreTheService: what workers and buyers write and pay is held to
// its bounds by the service, so that a caller of the service cannot do what
// the API would refuse: each bad field is named as the API spells it, and
// a refused call changes nothing.
func TestBoundsAreTheService(t *testing.T) {
	m := newMarket(t)
	tk := m.newTask(t, 3, 10)
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	fe := func(field, msg string) []apperr.FieldError { return []apperr.FieldError{{Field: field, Message: msg}} }

	// At the bounds: accepted.
	sub, err := m.Submissions.Submit(m.ctx, m.worker, tk.ID, " "+long(submission.MaxDetailsLen)+"\n")
	if err != nil {
		t.Fatalf("Submit() at the bound: %v", err)
	}
	if sub.Details != long(submission.MaxDetailsLen) {
		t.Errorf("Submit() kept %d characters of details, want them trimmed", len([]rune(sub.Details)))
	}
	m.approve(t, sub.ID)
	m.Give(t, m.buyer.UserID, submission.MaxBonus)
	if _, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, submission.MaxBonus, long(submission.MaxReasonLen), ""); err != nil {
		t.Fatalf("Bonus() at the bounds: %v", err)
	}
	buyerCoins, workerCoins := m.Coins(t, m.buyer.UserID), m.Coins(t, m.worker.UserID)

	other := m.fresh(t).worker
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("x", i+1)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		call func() error
		want []apperr.FieldError
	}{
		{"submit no details", func() error { _, err := m.Submissions.Submit(m.ctx, other, tk.ID, " \t "); return err },
			fe("submission_details", "is required")},
		{"submit details too long", func() error {
			_, err := m.Submissions.Submit(m.ctx, other, tk.ID, long(submission.MaxDetailsLen+1))
			return err
		}, fe("submission_details", "must be at most 5000 characters")},
		{"resubmit details too long", func() error {
			_, err := m.Submissions.Resubmit(m.ctx, m.worker, sub.ID, long(submission.MaxDetailsLen+1))
			return err
		}, fe("submission_details", "must be at most 5000 characters")},
		{"reject without a reason", func() error { _, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, " "); return err },
			fe("reason", "is required")},
		{"reject with a short reason", func() error { _, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, "too short"); return err },
			fe("reason", "must be at least 10 characters: the worker is told why")},
		{"reject with a long reason", func() error {
			_, err := m.Submissions.Reject(m.ctx, m.buyer, sub.ID, long(submission.MaxReasonLen+1))
			return err
		}, fe("reason", "must be at most 500 characters")},
		{"revision with a long reason", func() error {
			_, err := m.Submissions.RequestRevision(m.ctx, m.buyer, sub.ID, long(submission.MaxReasonLen+1))
			return err
		}, fe("reason", "must be at most 500 characters")},
		{"bonus of nothing", func() error { _, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, 0, "", ""); return err },
			fe("coins", "is required")},
		// Negative coins would move them from the worker to the buyer.
		{"negative bonus", func() error { _, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, -5, "", ""); return err },
			fe("coins", "must be at least 1")},
		{"bonus too large, with a long reason", func() error {
			_, err := m.Submissions.Bonus(m.ctx, m.buyer, sub.ID, submission.MaxBonus+1, long(submission.MaxReasonLen+1), "")
			return err
		}, append(fe("coins", "must be at most 10000"), fe("reason", "must be at most 500 characters")...)},
		{"bulk review of none", func() error { _, err := m.Submissions.ReviewMany(m.ctx, m.buyer, nil, true, ""); return err },
			fe("ids", "is required")},
		{"bulk review of an empty list", func() error { _, err := m.Submissions.ReviewMany(m.ctx, m.buyer, []string{}, true, ""); return err },
			fe("ids", "must be at least 1")},
		{"bulk review of too many", func() error {
			_, err := m.Submissions.ReviewMany(m.ctx, m.buyer, ids(submission.MaxBulkReview+1), true, "")
			return err
		}, fe("ids", "must be at most 100")},
		{"bulk review naming one twice, rejecting for a short reason", func() error {
			_, err := m.Submissions.ReviewMany(m.ctx, m.buyer, []string{sub.ID, sub.ID}, false, "short")
			return err
		}, append(fe("ids", "must not repeat a value"), fe("reason", "must be at least 10 characters: the worker is told why")...)},
		{"bulk approval with a long reason", func() error {
			_, err := m.Submissions.ReviewMany(m.ctx, m.buyer, []string{sub.ID}, true, long(submission.MaxReasonLen+1))
			return err
		}, fe("reason", "must be at most 500 characters")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if diff := cmp.Diff(tt.want, invalidFields(err)); diff != "" {
				t.Errorf("error = %v; field errors (-want +got):\n%s", err, diff)
			}
		})
	}

	// Nothing changed: the submission is as approved, no coins moved, and
	// the other worker took no slot.
	if got, err := m.Submissions.Get(m.ctx, sub.ID); err != nil || got.Status != submission.StatusApproved || got.Bonus != submission.MaxBonus {
		t.Errorf("after refused calls, the submission = %+v, %v", got, err)
	}
	if b, w := m.Coins(t, m.buyer.UserID), m.Coins(t, m.worker.UserID); b != buyerCoins || w != workerCoins {
		t.Errorf("after refused calls, coins = %d and %d, want %d and %d", b, w, buyerCoins, workerCoins)
	}
	if got, err := m.Tasks.ByID(m.ctx, tk.ID); err != nil || got.OpenSlots != 2 {
		t.Errorf("after refused calls, the task has %d open slots (%v), want 2", got.OpenSlots, err)
	}
}
