package task

import (
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of a task's fields. The service checks them; the API's request
// validation (httpapi's createTaskRequest, taskEditRequest and
// addSlotsRequest tags) repeats them for the contract, and a test there
// requires the two to accept and refuse the same values with the same field
// errors. Lengths are in characters.
const (
	MaxTitleLen          = 200
	MaxDetailLen         = 5000
	MaxSubmissionInfoLen = 1000
	MaxImageURLLen       = 2048
	// MaxPay is the most a task may pay for one slot.
	MaxPay money.Coins = 10000
)

// MaxCompletionAhead is how far in the future a completion date may be.
const MaxCompletionAhead = 366 * 24 * time.Hour

// Check is check, for the batches, which make tasks by the same rules.
func (in *NewTask) Check(now time.Time) error { return in.check(now) }

// check trims a new task's text, fills in the defaults of its category and
// allotted time, normalizes its tags (NormalizeTags), and checks every
// field against the bounds, at now: an Invalid error lists every bad one.
func (in *NewTask) check(now time.Time) error {
	var errs apperr.Fields
	in.Title, in.Detail = strings.TrimSpace(in.Title), strings.TrimSpace(in.Detail)
	in.SubmissionInfo, in.ImageURL = strings.TrimSpace(in.SubmissionInfo), strings.TrimSpace(in.ImageURL)
	errs.Text("task_title", in.Title, MaxTitleLen)
	errs.Text("task_detail", in.Detail, MaxDetailLen)
	errs.Text("submission_info", in.SubmissionInfo, MaxSubmissionInfoLen)
	errs.URL("task_image_url", in.ImageURL, MaxImageURLLen)
	errs.Count("required_workers", int64(in.Workers), MaxSlots)
	errs.Count("payable_amount", int64(in.Pay), int64(MaxPay))
	switch {
	case !in.CompletionDate.After(now):
		errs.Add("completion_date", "must be in the future")
	case in.CompletionDate.After(now.Add(MaxCompletionAhead)):
		errs.Add("completion_date", "must be within a year")
	}
	if in.Category == "" {
		in.Category = CategoryOther
	}
	errs.AddFrom(CheckCategory(in.Category))
	if tags, err := NormalizeTags(in.Tags); err != nil {
		errs.AddFrom(err)
	} else {
		in.Tags = tags
	}
	switch {
	case in.TimeAllotted == 0:
		in.TimeAllotted = DefaultTimeAllotted
	case in.TimeAllotted < MinTimeAllotted:
		errs.Add("time_allotted_minutes", "must be at least %d", int(MinTimeAllotted/time.Minute))
	case in.TimeAllotted > MaxTimeAllotted:
		errs.Add("time_allotted_minutes", "must be at most %d", int(MaxTimeAllotted/time.Minute))
	}
	in.Requirements.check(&errs)
	return errs.Err()
}

// check trims the edit's text, normalizes its tags and checks every field
// it sets against the bounds: an Invalid error lists every bad one. The
// fields a task must have cannot be cleared.
func (e *TextEdit) check() error {
	for _, v := range []**string{&e.Title, &e.Detail, &e.SubmissionInfo, &e.ImageURL} {
		if *v != nil {
			trimmed := strings.TrimSpace(**v)
			*v = &trimmed // not through the caller's pointer
		}
	}
	var errs apperr.Fields
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"task_title", e.Title, MaxTitleLen},
		{"task_detail", e.Detail, MaxDetailLen},
		{"submission_info", e.SubmissionInfo, MaxSubmissionInfoLen},
	} {
		switch {
		case f.v == nil:
		case *f.v == "":
			errs.Add(f.name, "cannot be cleared; leave it out to keep it")
		default:
			errs.MaxText(f.name, *f.v, f.max)
		}
	}
	if e.ImageURL != nil {
		errs.URL("task_image_url", *e.ImageURL, MaxImageURLLen)
	}
	switch {
	case e.Category == nil:
	case *e.Category == "":
		errs.Add("category", "cannot be cleared; leave it out to keep it")
	default:
		errs.AddFrom(CheckCategory(*e.Category))
	}
	if e.Tags != nil {
		if tags, err := NormalizeTags(*e.Tags); err != nil {
			errs.AddFrom(err)
		} else {
			e.Tags = &tags
		}
	}
	e.RequirementsEdit.Check(&errs)
	return errs.Err()
}

// Check checks the requirements e changes against their bounds, adding a
// field error per bad one, and normalizes the countries it sets: the
// bounds of tasks' requirements, which jobs share.
func (e *RequirementsEdit) Check(errs *apperr.Fields) {
	var r Requirements
	if e.MinLevel != nil {
		r.MinLevel = *e.MinLevel
	}
	if e.MinRating != nil {
		r.MinRating = *e.MinRating
	}
	if e.Countries != nil {
		r.Countries = *e.Countries
	}
	if e.Qualifications != nil {
		r.Qualifications = *e.Qualifications
	}
	r.check(errs)
	if e.Countries != nil {
		e.Countries = &r.Countries // normalized
	}
}

// checkSlots checks the count of slots to add to a task.
func checkSlots(count int) error {
	var errs apperr.Fields
	errs.Count("count", int64(count), MaxSlots)
	return errs.Err()
}
