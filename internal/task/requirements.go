package task

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"microtask/internal/apperr"
	"microtask/internal/reputation"
	"microtask/internal/user"
)

// Requirements are what a task asks of the workers who take it (and a job
// of those who propose, package job): their level and rating, the country of their profile, and their scores on
// qualification types. A requirement the buyer sets nothing for asks
// nothing; all that are set must hold.
type Requirements struct {
	MinLevel  int     // 0 to reputation.MaxLevel; 0 asks nothing
	MinRating float64 // MinRequiredRating to reputation.MaxStars; 0 asks nothing
	// Countries are ISO 3166-1 alpha-2 codes, upper case, no repeats: the
	// worker's profile must be in one of them. None asks nothing.
	Countries []string
	// Qualifications are at most MaxQualificationRequirements scores the
	// worker must (or, CompareNotExists, must not) hold, all of them.
	Qualifications []QualificationRequirement
}

// Bounds of requirements.
const (
	MaxQualificationRequirements = 5
	MaxCountries                 = 50
	MaxScore                     = 100 // a qualification score is 0 to 100 (qualification.MaxValue)
)

// Comparator says how a qualification requirement compares the worker's
// score with its value.
type Comparator string

// The comparators. CompareExists and CompareNotExists take no value: a
// type held as an allowlist or a blocklist.
const (
	CompareExists    Comparator = "exists"     // holds a score, whatever it is
	CompareNotExists Comparator = "not_exists" // holds no score
	CompareGTE       Comparator = "gte"        // holds a score of at least the value
	CompareLTE       Comparator = "lte"        // holds a score of at most the value
	CompareEQ        Comparator = "eq"         // holds a score of exactly the value
)

// Comparators lists every comparator.
var Comparators = []Comparator{CompareExists, CompareNotExists, CompareGTE, CompareLTE, CompareEQ}

// QualificationRequirement asks the worker for a score on a qualification
// type.
type QualificationRequirement struct {
	QualificationID string
	Comparator      Comparator
	Value           *int // 0 to MaxScore for gte, lte and eq; nil for exists and not_exists
}

// Range is the scores the requirement admits, from lo to hi, when it asks
// for a score (every comparator but CompareNotExists): what the store keeps
// for its filter.
func (q QualificationRequirement) Range() (lo, hi int) {
	v := 0
	if q.Value != nil {
		v = *q.Value
	}
	switch q.Comparator {
	case CompareGTE:
		return v, MaxScore
	case CompareLTE:
		return 0, v
	case CompareEQ:
		return v, v
	}
	return 0, MaxScore
}

// admits says whether a worker holding score (held) meets the requirement.
func (q QualificationRequirement) admits(score int, held bool) bool {
	if q.Comparator == CompareNotExists {
		return !held
	}
	lo, hi := q.Range()
	return held && lo <= score && score <= hi
}

// String says what the requirement asks, for the refusal.
func (q QualificationRequirement) String() string {
	switch q.Comparator {
	case CompareNotExists:
		return fmt.Sprintf("no score on qualification %s", q.QualificationID)
	case CompareExists:
		return fmt.Sprintf("a score on qualification %s", q.QualificationID)
	}
	word := map[Comparator]string{CompareGTE: "at least", CompareLTE: "at most", CompareEQ: "exactly"}[q.Comparator]
	lo, hi := q.Range()
	v := lo
	if q.Comparator == CompareLTE {
		v = hi
	}
	return fmt.Sprintf("a score of %s %d on qualification %s", word, v, q.QualificationID)
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
	Level   int
	Rating  float64 // the average of the stars of the reviews about them; 0 before any
	Country string  // of their profile, ISO 3166-1 alpha-2; "" for none
	// Scores are their scores by qualification type, the copy kept with
	// the user (user.User.Qualifications).
	Scores map[string]int
}

// ErrRequirementsNotMet refuses a reservation or a submission of a worker
// who does not meet the task's requirements; its message says which one.
var ErrRequirementsNotMet = apperr.New(apperr.Forbidden, "requirements_not_met",
	"you do not meet this task's requirements")

// Admits says whether the candidate meets the requirements: nil, or
// ErrRequirementsNotMet saying the first one they miss. It is the one rule
// of who may take a task, which reservations and submissions ask, and of
// who may propose for a job (package job, in its own words through
// Missed); the store applies the same rule as a filter to a worker's list
// of available tasks (Filter.NotBy) and of jobs open to them, in the same
// query, and a test runs every combination through all of them and
// requires the same answer.
func (r Requirements) Admits(c Candidate) error {
	if missed := r.Missed(c); missed != "" {
		return ErrRequirementsNotMet.WithMessage("this task %s", missed)
	}
	return nil
}

// Missed says the first requirement the candidate misses, as the end of a
// sentence about the work ("asks for a worker level of at least 2"), or ""
// if they meet them all: Admits's rule, for a refusal worded for another
// kind of work.
func (r Requirements) Missed(c Candidate) string {
	switch {
	case c.Level < r.MinLevel:
		return fmt.Sprintf("asks for a worker level of at least %d", r.MinLevel)
	case c.Rating < r.MinRating:
		return fmt.Sprintf("asks for a rating of at least %g", r.MinRating)
	case len(r.Countries) > 0 && !slices.Contains(r.Countries, c.Country):
		return fmt.Sprintf("is open to workers whose profile is in %s only", strings.Join(r.Countries, ", "))
	}
	for _, q := range r.Qualifications {
		score, held := c.Scores[q.QualificationID]
		if !q.admits(score, held) {
			return fmt.Sprintf("asks for %s", q)
		}
	}
	return ""
}

// QualificationIDs are the types the requirements name, each once, in
// order.
func (r Requirements) QualificationIDs() []string {
	var ids []string
	for _, q := range r.Qualifications {
		if !slices.Contains(ids, q.QualificationID) {
			ids = append(ids, q.QualificationID)
		}
	}
	return ids
}

// Check checks the requirements against their bounds, adding a field
// error per bad one, and normalizes the countries: the bounds of tasks'
// requirements, which jobs share (package job).
func (r *Requirements) Check(errs *apperr.Fields) { r.check(errs) }

// check checks the requirements against their bounds, and normalizes the
// countries (upper case, no repeats).
func (r *Requirements) check(errs *apperr.Fields) {
	if r.MinLevel < 0 || r.MinLevel > reputation.MaxLevel {
		errs.Add("min_level", "must be from 0 to %d", reputation.MaxLevel)
	}
	if r.MinRating != 0 && (r.MinRating < MinRequiredRating || r.MinRating > reputation.MaxStars) {
		errs.Add("min_rating", "must be from %g to %d, or 0 for none", MinRequiredRating, reputation.MaxStars)
	}
	var countries []string // nil for none, as the store reads them back
	for i, c := range r.Countries {
		code, ok := user.NormalizeCountry(c)
		if !ok {
			errs.Add(fmt.Sprintf("countries[%d]", i), "must be an ISO 3166-1 alpha-2 country code, e.g. DE")
			continue
		}
		if !slices.Contains(countries, code) {
			countries = append(countries, code)
		}
	}
	if len(countries) > MaxCountries {
		errs.Add("countries", "at most %d", MaxCountries)
	}
	r.Countries = countries
	if len(r.Qualifications) > MaxQualificationRequirements {
		errs.Add("requirements", "at most %d", MaxQualificationRequirements)
	}
	for i, q := range r.Qualifications {
		field := fmt.Sprintf("requirements[%d]", i)
		if strings.TrimSpace(q.QualificationID) == "" {
			errs.Add(field+".qualification_id", "is required")
		}
		switch q.Comparator {
		case CompareExists, CompareNotExists:
			if q.Value != nil {
				errs.Add(field+".value", "must be left out for the comparator %s", q.Comparator)
			}
		case CompareGTE, CompareLTE, CompareEQ:
			switch {
			case q.Value == nil:
				errs.Add(field+".value", "is required for the comparator %s", q.Comparator)
			case *q.Value < 0 || *q.Value > MaxScore:
				errs.Add(field+".value", "must be from 0 to %d", MaxScore)
			}
		default:
			errs.Add(field+".comparator", "must be one of: exists, not_exists, gte, lte, eq")
		}
	}
}

// Candidates tells what workers bring to the requirements of tasks; the
// wiring implements it over user.Service.
type Candidates interface {
	Candidate(ctx context.Context, workerID string) (Candidate, error)
}

// QualificationTypes tells whether a buyer may require a qualification
// type; qualification.Service implements it.
type QualificationTypes interface {
	// Requirable is nil if the buyer may require the type: their own, or
	// another buyer's public one (which workers can earn themselves).
	// Otherwise an error of kind NotFound, whose message says why.
	Requirable(ctx context.Context, buyerID, typeID string) error
}

// CheckRequirable adds a field error for each qualification type the
// requirements name that the buyer may not require (types.Requirable);
// other errors are returned. Tasks and jobs check their requirements with
// it.
func CheckRequirable(ctx context.Context, types QualificationTypes, buyerID string, r Requirements, errs *apperr.Fields) error {
	for i, q := range r.Qualifications {
		if strings.TrimSpace(q.QualificationID) == "" {
			continue
		}
		err := types.Requirable(ctx, buyerID, q.QualificationID)
		var e *apperr.Error
		switch {
		case err == nil:
		case errors.As(err, &e) && e.Kind == apperr.NotFound:
			errs.Add(fmt.Sprintf("requirements[%d].qualification_id", i), "%s", e.Message)
		default:
			return fmt.Errorf("check qualification %s: %w", q.QualificationID, err)
		}
	}
	return nil
}
