package submission

import (
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of what workers and buyers write and pay. The service checks them;
// the API's request validation (httpapi's submission request tags) repeats
// them for the contract, and a test there requires the two to accept and
// refuse the same values with the same field errors. Lengths are in
// characters.
const (
	// MaxDetailsLen is the longest proof of work a submission carries.
	MaxDetailsLen = 5000
	// MinRejectReason is the shortest reason a rejection or a request for
	// a revision takes: the worker is told why their work was not paid.
	MinRejectReason = 10
	// MaxReasonLen is the longest reason of a review or a bonus.
	MaxReasonLen = 500
	// MaxBonus is the most one bonus pays.
	MaxBonus money.Coins = 10000
	// MaxBulkReview is how many submissions one bulk review decides.
	MaxBulkReview = 100
)

// checkDetails checks a submission's proof of work, trimmed.
func checkDetails(details string) error {
	var errs apperr.Fields
	errs.Text("submission_details", details, MaxDetailsLen)
	return errs.Err()
}

// rejectReason checks the reason of a rejection or of a request for a
// revision, trimmed.
func rejectReason(errs *apperr.Fields, reason string) {
	switch {
	case reason == "":
		errs.Add("reason", "is required")
	case utf8.RuneCountInString(reason) < MinRejectReason:
		errs.Add("reason", "must be at least %d characters: the worker is told why", MinRejectReason)
	default:
		errs.MaxText("reason", reason, MaxReasonLen)
	}
}

func checkRejectReason(reason string) error {
	var errs apperr.Fields
	rejectReason(&errs, reason)
	return errs.Err()
}

// checkBonus checks a bonus's coins and its reason, trimmed.
func checkBonus(coins money.Coins, reason string) error {
	var errs apperr.Fields
	errs.Count("coins", int64(coins), int64(MaxBonus))
	errs.MaxText("reason", reason, MaxReasonLen)
	return errs.Err()
}

// checkBulkReview checks the submissions a bulk review decides (1 to
// MaxBulkReview, none twice) and its reason, which a rejection needs.
func checkBulkReview(ids []string, approve bool, reason string) error {
	var errs apperr.Fields
	switch {
	case ids == nil:
		errs.Add("ids", "is required")
	case len(ids) == 0:
		errs.Add("ids", "must be at least 1")
	case len(ids) > MaxBulkReview:
		errs.Add("ids", "must be at most %d", MaxBulkReview)
	case repeats(ids):
		errs.Add("ids", "must not repeat a value")
	}
	if approve {
		errs.MaxText("reason", reason, MaxReasonLen)
	} else {
		rejectReason(&errs, reason)
	}
	return errs.Err()
}

func repeats(ids []string) bool {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}
