package job

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/task"
)

// Bounds of a job's and a proposal's fields. The service checks them; the
// API's request types repeat them in their tags for the contract. Lengths
// are in characters.
const (
	MaxTitleLen       = 200
	MaxDescriptionLen = 10000
	MaxSkills         = 10
	MaxSkillLen       = 40
	// MaxBudget is the most a fixed job, or a fixed bid, may be worth.
	MaxBudget money.Coins = 1_000_000
	// MaxHourlyRate is the most an hour may be paid.
	MaxHourlyRate money.Coins = 10_000
	// MaxWeeklyHours is the most hours a week an hourly job may take.
	MaxWeeklyHours      = 60
	MaxCoverLetterLen   = 5000
	MaxEstimatedDays    = 365
	MaxDeclineReasonLen = 1000
	// MaxDeadlineAhead is how far in the future a deadline may be.
	MaxDeadlineAhead = 366 * 24 * time.Hour
)

// NewJob is a buyer's new job.
type NewJob struct {
	Title           string
	Description     string
	Category        string // empty: CategoryOther
	Skills          []string
	Type            Type
	Budget          money.Coins // fixed
	HourlyRate      money.Coins // hourly
	WeeklyHourLimit int         // hourly
	Deadline        time.Time   // zero: none
	// Requirements are what the job asks of the workers who propose, as
	// a task of those who take it; none if zero.
	Requirements task.Requirements
}

// check trims the new job's text, fills in its default category,
// normalizes its skills and checks every field at now: an Invalid error
// lists every bad one. The money fields of the other type must be left
// out, so that a client never believes a field it sent was taken.
func (in *NewJob) check(now time.Time) error {
	var errs apperr.Fields
	in.Title, in.Description = strings.TrimSpace(in.Title), strings.TrimSpace(in.Description)
	errs.Text("title", in.Title, MaxTitleLen)
	errs.Text("description", in.Description, MaxDescriptionLen)
	if in.Category == "" {
		in.Category = CategoryOther
	}
	checkCategory(&errs, in.Category)
	in.Skills = normalizeSkills(&errs, in.Skills)
	switch in.Type {
	case TypeFixed:
		errs.Count("budget_coins", int64(in.Budget), int64(MaxBudget))
		if in.HourlyRate != 0 {
			errs.Add("hourly_rate_coins", "only for an hourly job")
		}
		if in.WeeklyHourLimit != 0 {
			errs.Add("weekly_hour_limit", "only for an hourly job")
		}
	case TypeHourly:
		errs.Count("hourly_rate_coins", int64(in.HourlyRate), int64(MaxHourlyRate))
		errs.Count("weekly_hour_limit", int64(in.WeeklyHourLimit), MaxWeeklyHours)
		if in.Budget != 0 {
			errs.Add("budget_coins", "only for a fixed job")
		}
	default:
		errs.Add("type", "must be one of: fixed, hourly")
	}
	checkDeadline(&errs, in.Deadline, now)
	in.Requirements.Check(&errs) // normalizes the countries
	return errs.Err()
}

// checkDeadline checks a deadline: none, or in the future within a year.
func checkDeadline(errs *apperr.Fields, d, now time.Time) {
	switch {
	case d.IsZero():
	case !d.After(now):
		errs.Add("deadline", "must be in the future")
	case d.After(now.Add(MaxDeadlineAhead)):
		errs.Add("deadline", "must be within a year")
	}
}

// normalizeSkills trims skills and drops repeats that differ only in
// case, the first written staying, as the workers' skills are kept
// (package user), so that a job's skill and a worker's compare alike.
func normalizeSkills(errs *apperr.Fields, in []string) []string {
	out := make([]string, 0, len(in))
	var keys []string
	bad := false
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" || utf8.RuneCountInString(v) > MaxSkillLen {
			bad = true
			continue
		}
		if k := SkillKey(v); !slices.Contains(keys, k) {
			keys = append(keys, k)
			out = append(out, v)
		}
	}
	switch {
	case bad:
		errs.Add("skills", "each must be 1 to %d characters", MaxSkillLen)
	case len(out) > MaxSkills:
		errs.Add("skills", "at most %d", MaxSkills)
	}
	return out
}

// SkillKey is a skill as filters compare it: trimmed, lower case.
func SkillKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// check trims the edit's text and checks every field it sets, for a job
// of type t at now: an Invalid error lists every bad one.
func (e *Edit) check(t Type, now time.Time) error {
	var errs apperr.Fields
	for _, f := range []struct {
		name string
		v    **string
		max  int
	}{{"title", &e.Title, MaxTitleLen}, {"description", &e.Description, MaxDescriptionLen}} {
		if *f.v == nil {
			continue
		}
		v := strings.TrimSpace(**f.v)
		*f.v = &v
		if v == "" {
			errs.Add(f.name, "cannot be cleared; leave it out to keep it")
		} else {
			errs.MaxText(f.name, v, f.max)
		}
	}
	if e.Category != nil {
		checkCategory(&errs, *e.Category)
	}
	if e.Skills != nil {
		skills := normalizeSkills(&errs, *e.Skills)
		e.Skills = &skills
	}
	money := func(name string, v *money.Coins, max money.Coins, of Type) {
		switch {
		case v == nil:
		case t != of:
			errs.Add(name, "only for a %s job", of)
		default:
			errs.Count(name, int64(*v), int64(max))
		}
	}
	money("budget_coins", e.Budget, MaxBudget, TypeFixed)
	money("hourly_rate_coins", e.HourlyRate, MaxHourlyRate, TypeHourly)
	switch {
	case e.WeeklyHourLimit == nil:
	case t != TypeHourly:
		errs.Add("weekly_hour_limit", "only for an hourly job")
	default:
		errs.Count("weekly_hour_limit", int64(*e.WeeklyHourLimit), MaxWeeklyHours)
	}
	if e.Deadline != nil {
		checkDeadline(&errs, *e.Deadline, now)
	}
	e.RequirementsEdit.Check(&errs)
	return errs.Err()
}

// NewProposal is a worker's proposal for a job.
type NewProposal struct {
	CoverLetter   string
	Bid           money.Coins // a fixed job's bid_coins
	HourlyRate    money.Coins // an hourly job's hourly_rate_coins
	EstimatedDays int
}

// check trims the proposal's letter and checks every field for a job of
// type t: an Invalid error lists every bad one. It returns the bid: the
// price or the rate, whichever the job's type asks for.
func (in *NewProposal) check(t Type) (money.Coins, error) {
	var errs apperr.Fields
	in.CoverLetter = strings.TrimSpace(in.CoverLetter)
	errs.Text("cover_letter", in.CoverLetter, MaxCoverLetterLen)
	errs.Count("estimated_days", int64(in.EstimatedDays), MaxEstimatedDays)
	bid := in.Bid
	if t == TypeFixed {
		errs.Count("bid_coins", int64(in.Bid), int64(MaxBudget))
		if in.HourlyRate != 0 {
			errs.Add("hourly_rate_coins", "only for an hourly job")
		}
	} else {
		bid = in.HourlyRate
		errs.Count("hourly_rate_coins", int64(in.HourlyRate), int64(MaxHourlyRate))
		if in.Bid != 0 {
			errs.Add("bid_coins", "only for a fixed job")
		}
	}
	return bid, errs.Err()
}
