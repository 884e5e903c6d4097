package task

import (
	"context"

	"microtask/internal/apperr"
	"microtask/internal/reputation"
)

// Requirements are what a task asks of the workers who take it: their
// level and rating. A requirement the buyer sets nothing for asks nothing.
type Requirements struct {
	MinLevel  int     // 0 to reputation.MaxLevel; 0 asks nothing
	MinRating float64 // MinRequiredRating to reputation.MaxStars; 0 asks nothing
}

// MinRequiredRating is the lowest rating a task may require: a rating is an
// average of 1 to 5 stars.
const MinRequiredRating = 1.0

// Candidate is what a worker brings to the requirements of tasks: what
// Requirements.Admits reads, and nothing else. The wiring fills it in from
// the worker's user, read through the authentication cache, so that asking
// costs no command. A new kind of requirement adds what it reads here, its
// clause to Admits and to the store's filter, and a dimension to
// TestRequirementsAreOneRule.
type Candidate struct {
	Level  int
	Rating float64 // the average of the stars of the reviews about them; 0 before any
}

// ErrRequirementsNotMet refuses a reservation or a submission of a worker
// below the task's requirements.
var ErrRequirementsNotMet = apperr.New(apperr.Forbidden, "requirements_not_met",
	"this task asks for a higher level or rating than yours")

// Admits says whether the candidate meets the requirements: nil, or
// ErrRequirementsNotMet. It is the one rule of who may take a task, which
// reservations and submissions ask; the store applies the same rule as a
// filter to a worker's list of available tasks (Filter.NotBy), in the same
// query, and a test runs every combination through the three and requires
// the same answer.
func (r Requirements) Admits(c Candidate) error {
	if c.Level < r.MinLevel || c.Rating < r.MinRating {
		return ErrRequirementsNotMet
	}
	return nil
}

// Check checks the requirements against their bounds, adding a field
// error per bad one: the bounds of tasks' requirements, which jobs share
// (package job).
func (r Requirements) Check(errs *apperr.Fields) { r.check(errs) }

// check checks the requirements against their bounds.
func (r Requirements) check(errs *apperr.Fields) {
	if r.MinLevel < 0 || r.MinLevel > reputation.MaxLevel {
		errs.Add("min_level", "must be from 0 to %d", reputation.MaxLevel)
	}
	if r.MinRating != 0 && (r.MinRating < MinRequiredRating || r.MinRating > reputation.MaxStars) {
		errs.Add("min_rating", "must be from %g to %d, or 0 for none", MinRequiredRating, reputation.MaxStars)
	}
}

// Candidates tells what workers bring to the requirements of tasks; the
// wiring implements it over user.Service.
type Candidates interface {
	Candidate(ctx context.Context, workerID string) (Candidate, error)
}
