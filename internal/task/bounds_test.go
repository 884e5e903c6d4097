package task_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/task"
)

// fieldsOf returns the field errors of an Invalid error, and nil for any
// other.
func fieldsOf(err error) []apperr.FieldError {
	var e *apperr.Error
	if errors.As(err, &e) && e.Kind == apperr.Invalid {
		return e.Fields
	}
	return nil
}

// TestCreateChecksBounds: the bounds of a task are the service's, so a
// caller of the service cannot post a task the API would refuse; each bad
// field is named as the API spells it, all in one answer, and a refused
// task takes no coins.
func TestCreateChecksBounds(t *testing.T) {
	t.Parallel()
	fe := func(field, msg string) apperr.FieldError { return apperr.FieldError{Field: field, Message: msg} }
	tests := []struct {
		name   string
		change func(in *task.NewTask)
		want   []apperr.FieldError // nil: accepted
	}{
		{name: "at every upper bound", change: func(in *task.NewTask) {
			// Characters, not bytes: "é" is two bytes.
			in.Title, in.Detail = strings.Repeat("é", task.MaxTitleLen), strings.Repeat("é", task.MaxDetailLen)
			in.SubmissionInfo = strings.Repeat("é", task.MaxSubmissionInfoLen)
			in.ImageURL = "https://example.com/" + strings.Repeat("a", task.MaxImageURLLen-len("https://example.com/"))
			in.Workers, in.Pay = 1, task.MaxPay
			in.TimeAllotted = task.MaxTimeAllotted
		}},
		{name: "at every lower bound", change: func(in *task.NewTask) {
			in.Title, in.Detail, in.SubmissionInfo, in.Workers, in.Pay = "T", "D", "S", 1, 1
			in.TimeAllotted = task.MinTimeAllotted
		}},
		{name: "text of spaces only", change: func(in *task.NewTask) { in.Title, in.Detail, in.SubmissionInfo = " ", "\t", "\n " },
			want: []apperr.FieldError{fe("task_title", "is required"), fe("task_detail", "is required"), fe("submission_info", "is required")}},
		{name: "text too long", change: func(in *task.NewTask) {
			in.Title, in.Detail = strings.Repeat("é", task.MaxTitleLen+1), strings.Repeat("a", task.MaxDetailLen+1)
			in.SubmissionInfo = strings.Repeat("a", task.MaxSubmissionInfoLen+1)
		}, want: []apperr.FieldError{fe("task_title", "must be at most 200 characters"), fe("task_detail", "must be at most 5000 characters"),
			fe("submission_info", "must be at most 1000 characters")}},
		{name: "image not an http URL", change: func(in *task.NewTask) { in.ImageURL = "ftp://example.com/i.png" },
			want: []apperr.FieldError{fe("task_image_url", "must be an http or https URL")}},
		{name: "image without a host", change: func(in *task.NewTask) { in.ImageURL = "https:///i.png" },
			want: []apperr.FieldError{fe("task_image_url", "must be an http or https URL")}},
		{name: "image URL too long", change: func(in *task.NewTask) {
			in.ImageURL = "https://example.com/" + strings.Repeat("a", task.MaxImageURLLen)
		},
			want: []apperr.FieldError{fe("task_image_url", "must be at most 2048 characters")}},
		{name: "no workers, no pay", change: func(in *task.NewTask) { in.Workers, in.Pay = 0, 0 },
			want: []apperr.FieldError{fe("required_workers", "is required"), fe("payable_amount", "is required")}},
		{name: "negative workers and pay", change: func(in *task.NewTask) { in.Workers, in.Pay = -1, -10 },
			want: []apperr.FieldError{fe("required_workers", "must be at least 1"), fe("payable_amount", "must be at least 1")}},
		{name: "too many workers, too much pay", change: func(in *task.NewTask) { in.Workers, in.Pay = task.MaxSlots+1, task.MaxPay+1 },
			want: []apperr.FieldError{fe("required_workers", "must be at most 10000"), fe("payable_amount", "must be at most 10000")}},
		{name: "time allotted too short", change: func(in *task.NewTask) { in.TimeAllotted = task.MinTimeAllotted - time.Minute },
			want: []apperr.FieldError{fe("time_allotted_minutes", "must be at least 5")}},
		{name: "negative time allotted", change: func(in *task.NewTask) { in.TimeAllotted = -5 * time.Minute },
			want: []apperr.FieldError{fe("time_allotted_minutes", "must be at least 5")}},
		{name: "time allotted too long", change: func(in *task.NewTask) { in.TimeAllotted = task.MaxTimeAllotted + time.Minute },
			want: []apperr.FieldError{fe("time_allotted_minutes", "must be at most 1440")}},
		{name: "every field bad at once", change: func(in *task.NewTask) {
			*in = task.NewTask{Text: task.Text{ImageURL: "example.com"}, Workers: -1, CompletionDate: time.Time{}, Category: "games",
				Tags: []string{"two words"}, TimeAllotted: time.Minute}
		}, want: []apperr.FieldError{
			fe("task_title", "is required"), fe("task_detail", "is required"), fe("submission_info", "is required"),
			fe("task_image_url", "must be an http or https URL"), fe("required_workers", "must be at least 1"),
			fe("payable_amount", "is required"), fe("completion_date", "must be in the future"),
			fe("category", "must be one of: "+strings.Join(task.Categories, ", ")),
			fe("tags", "each tag must be a word of 1 to 24 lower-case letters, digits or inner hyphens"),
			fe("time_allotted_minutes", "must be at least 5"),
		}},
	}
	ctx := context.Background()
	e := apptest.New(t) // shared; no case moves the clock
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buyer := e.User(t, auth.RoleBuyer)
			const coins = 1 << 30
			e.Give(t, buyer.UserID, coins)
			in := newTask("Label photos", slots, pay, e.Clock.Now().Add(dueIn))
			tt.change(&in)
			_, err := e.Tasks.Create(ctx, buyer, in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Create() error = %v, want none", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
				t.Errorf("Create() error = %v; field errors (-want +got):\n%s", err, diff)
			}
			if c := e.Coins(t, buyer.UserID); c != coins {
				t.Errorf("after a refused Create, coins = %d, want %d", c, coins)
			}
			if mine, err := e.Tasks.Mine(ctx, buyer, firstPage); err != nil || mine.Total != 0 {
				t.Errorf("after a refused Create, Mine() = %d tasks, %v; want none", mine.Total, err)
			}
		})
	}
}

// TestCreateTrimsText: the text of a task is kept trimmed, as the API
// would have sent it.
func TestCreateTrimsText(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, grant)
	in := newTask(" Label photos\n", slots, pay, e.Clock.Now().Add(dueIn))
	in.Detail, in.SubmissionInfo, in.ImageURL = "\tDetail ", " a screenshot ", " https://example.com/i.png "
	got := post(t, e, buyer, in)
	want := task.Text{Title: "Label photos", Detail: "Detail", SubmissionInfo: "a screenshot", ImageURL: "https://example.com/i.png"}
	if diff := cmp.Diff(want, task.Text{Title: got.Title, Detail: got.Detail, SubmissionInfo: got.SubmissionInfo, ImageURL: got.ImageURL}); diff != "" {
		t.Errorf("Create() text (-want +got):\n%s", diff)
	}
}

// TestUpdateTextChecksBounds: an edit is held to the bounds of a new task,
// and the fields a task must have cannot be cleared; a refused edit changes
// nothing.
func TestUpdateTextChecksBounds(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	fe := func(field, msg string) apperr.FieldError { return apperr.FieldError{Field: field, Message: msg} }
	tests := []struct {
		name string
		edit task.TextEdit
		want []apperr.FieldError
	}{
		{name: "at the bounds", edit: task.TextEdit{Title: str(strings.Repeat("é", task.MaxTitleLen)), ImageURL: str("")}},
		{name: "cleared", edit: task.TextEdit{Title: str(""), Detail: str("  "), SubmissionInfo: str(""), Category: str("")},
			want: []apperr.FieldError{fe("task_title", "cannot be cleared; leave it out to keep it"),
				fe("task_detail", "cannot be cleared; leave it out to keep it"),
				fe("submission_info", "cannot be cleared; leave it out to keep it"),
				fe("category", "cannot be cleared; leave it out to keep it")}},
		{name: "too long", edit: task.TextEdit{Title: str(strings.Repeat("é", task.MaxTitleLen+1)),
			Detail: str(strings.Repeat("a", task.MaxDetailLen+1)), SubmissionInfo: str(strings.Repeat("a", task.MaxSubmissionInfoLen+1))},
			want: []apperr.FieldError{fe("task_title", "must be at most 200 characters"), fe("task_detail", "must be at most 5000 characters"),
				fe("submission_info", "must be at most 1000 characters")}},
		{name: "image not an http URL", edit: task.TextEdit{ImageURL: str("javascript:alert(1)")},
			want: []apperr.FieldError{fe("task_image_url", "must be an http or https URL")}},
		{name: "bad labels", edit: task.TextEdit{Category: str("games"), Tags: &[]string{"a", "b", "c", "d", "e", "f"}},
			want: []apperr.FieldError{fe("category", "must be one of: "+strings.Join(task.Categories, ", ")), fe("tags", "at most 5 tags")}},
	}
	ctx := context.Background()
	e := apptest.New(t) // shared: see fixtureOn
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixtureOn(t, e)
			before := f.task(t)
			_, err := e.Tasks.UpdateText(ctx, f.buyer, f.taskID, tt.edit)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("UpdateText() error = %v, want none", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
				t.Errorf("UpdateText() error = %v; field errors (-want +got):\n%s", err, diff)
			}
			if diff := cmp.Diff(before, f.task(t)); diff != "" {
				t.Errorf("a refused edit changed the task (-before +after):\n%s", diff)
			}
		})
	}
}

// TestAddSlotsChecksCount: slots are added one at least, MaxSlots at most,
// as the API says; a refused count moves no coins.
func TestAddSlotsChecksCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.New(t)
	f := fixtureOn(t, e)
	for _, tt := range []struct {
		count int
		want  string
	}{
		{0, "is required"},
		{-1, "must be at least 1"},
		{task.MaxSlots + 1, "must be at most 10000"},
	} {
		_, err := e.Tasks.AddSlots(ctx, f.buyer, f.taskID, tt.count, "")
		if diff := cmp.Diff([]apperr.FieldError{{Field: "count", Message: tt.want}}, fieldsOf(err)); diff != "" {
			t.Errorf("AddSlots(%d) error = %v; field errors (-want +got):\n%s", tt.count, err, diff)
		}
	}
	f.wantMoney(t, posted, slots*pay)
}
