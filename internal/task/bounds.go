package task

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of a task's fields. The service checks them; the API's request
// validation (httpapi's createTaskRequest, taskEditRequest and
// addSlotsRequest tags) repeats them for the contract, and a test there
// requires the two to refuse the same requests with the same field errors.
// Lengths are in characters.
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

// fieldErrors collects the bad fields of one request, named as the API
// spells them, so that one answer lists them all.
type fieldErrors []apperr.FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// addFrom adds the bad fields of an Invalid error.
func (f *fieldErrors) addFrom(err error) {
	*f = append(*f, fieldsOf(err)...)
}

// fieldsOf returns the field errors of an Invalid error.
func fieldsOf(err error) []apperr.FieldError {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// err is an Invalid error listing the bad fields, or nil if there is none.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return apperr.InvalidFields(f...)
}

// text checks a text field a task must have: not empty, at most max
// characters.
func (f *fieldErrors) text(field, v string, max int) {
	switch {
	case v == "":
		f.add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		f.add(field, "must be at most %d characters", max)
	}
}

// keptText checks an edit of a text field a task must have: left out, or
// not empty and at most max characters.
func (f *fieldErrors) keptText(field string, v *string, max int) {
	switch {
	case v == nil:
	case *v == "":
		f.add(field, "cannot be cleared; leave it out to keep it")
	default:
		f.text(field, *v, max)
	}
}

// imageURL checks an image URL: none, or an http or https URL of at most
// MaxImageURLLen characters.
func (f *fieldErrors) imageURL(v string) {
	switch {
	case v == "":
	case utf8.RuneCountInString(v) > MaxImageURLLen:
		f.add("task_image_url", "must be at most %d characters", MaxImageURLLen)
	case !isHTTPURL(v):
		f.add("task_image_url", "must be an http or https URL")
	}
}

// isHTTPURL reports whether v is an absolute http or https URL with a host.
func isHTTPURL(v string) bool {
	u, err := url.Parse(strings.ToLower(v))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// count checks a number of slots or coins: at least 1, at most max.
func (f *fieldErrors) count(field string, n, max int64) {
	switch {
	case n == 0:
		f.add(field, "is required")
	case n < 1:
		f.add(field, "must be at least 1")
	case n > max:
		f.add(field, "must be at most %d", max)
	}
}

// trim trims the text's fields: text that is only spaces is no text.
func (t *Text) trim() {
	t.Title, t.Detail = strings.TrimSpace(t.Title), strings.TrimSpace(t.Detail)
	t.SubmissionInfo, t.ImageURL = strings.TrimSpace(t.SubmissionInfo), strings.TrimSpace(t.ImageURL)
}

// check trims a new task's text, fills in the defaults of its category and
// allotted time, normalizes its tags (NormalizeTags), and checks every
// field against the bounds, at now: an Invalid error lists every bad one.
func (in *NewTask) check(now time.Time) error {
	var errs fieldErrors
	in.trim()
	errs.text("task_title", in.Title, MaxTitleLen)
	errs.text("task_detail", in.Detail, MaxDetailLen)
	errs.text("submission_info", in.SubmissionInfo, MaxSubmissionInfoLen)
	errs.imageURL(in.ImageURL)
	errs.count("required_workers", int64(in.Workers), MaxSlots)
	errs.count("payable_amount", int64(in.Pay), int64(MaxPay))
	switch {
	case !in.CompletionDate.After(now):
		errs.add("completion_date", "must be in the future")
	case in.CompletionDate.After(now.Add(MaxCompletionAhead)):
		errs.add("completion_date", "must be within a year")
	}
	if in.Category == "" {
		in.Category = CategoryOther
	}
	if err := CheckCategory(in.Category); err != nil {
		errs.addFrom(err)
	}
	if tags, err := NormalizeTags(in.Tags); err != nil {
		errs.addFrom(err)
	} else {
		in.Tags = tags
	}
	switch {
	case in.TimeAllotted == 0:
		in.TimeAllotted = DefaultTimeAllotted
	case in.TimeAllotted < MinTimeAllotted:
		errs.add("time_allotted_minutes", "must be at least %d", int(MinTimeAllotted/time.Minute))
	case in.TimeAllotted > MaxTimeAllotted:
		errs.add("time_allotted_minutes", "must be at most %d", int(MaxTimeAllotted/time.Minute))
	}
	return errs.err()
}

// check trims the edit's text, normalizes its tags and checks every field
// it sets against the bounds: an Invalid error lists every bad one.
func (e *TextEdit) check() error {
	for _, v := range []**string{&e.Title, &e.Detail, &e.SubmissionInfo, &e.ImageURL} {
		if *v != nil {
			trimmed := strings.TrimSpace(**v)
			*v = &trimmed // not through the caller's pointer
		}
	}
	var errs fieldErrors
	errs.keptText("task_title", e.Title, MaxTitleLen)
	errs.keptText("task_detail", e.Detail, MaxDetailLen)
	errs.keptText("submission_info", e.SubmissionInfo, MaxSubmissionInfoLen)
	if e.ImageURL != nil {
		errs.imageURL(*e.ImageURL)
	}
	switch {
	case e.Category == nil:
	case *e.Category == "":
		errs.add("category", "cannot be cleared; leave it out to keep it")
	default:
		if err := CheckCategory(*e.Category); err != nil {
			errs.addFrom(err)
		}
	}
	if e.Tags != nil {
		if tags, err := NormalizeTags(*e.Tags); err != nil {
			errs.addFrom(err)
		} else {
			e.Tags = &tags
		}
	}
	return errs.err()
}

// checkSlots checks the count of slots to add to a task.
func checkSlots(count int) error {
	var errs fieldErrors
	errs.count("count", int64(count), MaxSlots)
	return errs.err()
}
