package contract

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/money"
)

// Bounds of a contract's fields. The service checks them; the API's
// request types repeat them in their tags for the contract. Lengths are in
// characters.
const (
	MaxMilestones      = 20
	MaxMilestoneTitle  = 200
	MaxMilestoneCoins  = money.Coins(1_000_000)
	MaxMessageLen      = 5000
	MaxAttachments     = 5
	MaxAttachmentLen   = 2048
	MinChangeNoteLen   = 10
	MaxChangeNoteLen   = 1000
	MaxEndReasonLen    = 1000
	MaxDueDateAhead    = 2 * 366 * 24 * time.Hour
	milestonesFieldKey = "milestones"
)

func invalidMilestones(msg string) error {
	return apperr.InvalidFields(apperr.FieldError{Field: milestonesFieldKey, Message: msg})
}

// check trims the milestone's title and checks its fields at now, naming
// them with prefix (milestones[i]. at a hire): an Invalid error lists
// every bad one.
func (m *NewMilestone) check(prefix string, now time.Time) error {
	var errs apperr.Fields
	m.collect(&errs, prefix, now)
	return errs.Err()
}

func (m *NewMilestone) collect(errs *apperr.Fields, prefix string, now time.Time) {
	m.Title = strings.TrimSpace(m.Title)
	errs.Text(prefix+"title", m.Title, MaxMilestoneTitle)
	errs.Count(prefix+"coins", int64(m.Coins), int64(MaxMilestoneCoins))
	switch {
	case m.DueDate.IsZero():
	case !m.DueDate.After(now):
		errs.Add(prefix+"due_date", "must be in the future")
	case m.DueDate.After(now.Add(MaxDueDateAhead)):
		errs.Add(prefix+"due_date", "must be within two years")
	}
}

// checkMilestones checks a hire's milestones: 1 to MaxMilestones, each
// within its bounds, adding up to at most the accepted bid.
func checkMilestones(ms []NewMilestone, bid money.Coins, now time.Time) error {
	var errs apperr.Fields
	switch {
	case len(ms) == 0:
		errs.Add(milestonesFieldKey, "a fixed contract needs at least one milestone; the first is funded at once")
	case len(ms) > MaxMilestones:
		errs.Add(milestonesFieldKey, "at most %d", MaxMilestones)
	}
	var sum money.Coins
	for i := range ms {
		ms[i].DueDate = ms[i].DueDate.UTC().Truncate(time.Millisecond)
		ms[i].collect(&errs, fmt.Sprintf("milestones[%d].", i), now)
		sum += ms[i].Coins
	}
	if len(errs) == 0 && sum > bid {
		errs.Add(milestonesFieldKey, "must add up to at most the accepted bid of %d coins, not %d", bid, sum)
	}
	return errs.Err()
}

// Submission is a worker's submission of a milestone.
type Submission struct {
	Message     string
	Attachments []string // links to the work: http or https URLs
}

func (sub *Submission) check() error {
	var errs apperr.Fields
	sub.Attachments = slices.Clone(sub.Attachments) // trimmed here, not through the caller's
	sub.Message = strings.TrimSpace(sub.Message)
	errs.Text("message", sub.Message, MaxMessageLen)
	if len(sub.Attachments) > MaxAttachments {
		errs.Add("attachments", "at most %d", MaxAttachments)
	}
	for i, a := range sub.Attachments {
		a = strings.TrimSpace(a)
		sub.Attachments[i] = a
		if a == "" {
			errs.Add("attachments", "each must be an http or https URL")
			break
		}
		before := len(errs)
		errs.URL("attachments", a, MaxAttachmentLen)
		if len(errs) > before {
			break
		}
	}
	if sub.Attachments == nil {
		sub.Attachments = []string{}
	}
	return errs.Err()
}

// checkNote trims a request for changes and checks its length.
func checkNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	var errs apperr.Fields
	if n := utf8.RuneCountInString(note); n < MinChangeNoteLen || n > MaxChangeNoteLen {
		errs.Add("reason", "must be %d to %d characters", MinChangeNoteLen, MaxChangeNoteLen)
	}
	return note, errs.Err()
}

// checkReason trims the reason of an end and checks its length.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	var errs apperr.Fields
	errs.MaxText("reason", reason, MaxEndReasonLen)
	return reason, errs.Err()
}
