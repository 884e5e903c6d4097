package qualification_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/page"
	"microtask/internal/qualification"
	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var firstPage = page.Request{Number: 1, Limit: 100}

// quiz is a test of three questions whose right answers are 1, 0 and 2.
func quiz(pass int, retry time.Duration) *qualification.Test {
	q := func(answer int) qualification.Question {
		return qualification.Question{Prompt: "Which one?", Choices: []string{"a", "b", "c"}, Answer: answer}
	}
	return &qualification.Test{Questions: []qualification.Question{q(1), q(0), q(2)}, PassScore: pass, RetryAfter: retry}
}

func fieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestDraftBoundsListEveryBadField(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	bad := -1
	long := string(make([]rune, qualification.MaxNameLen+1))
	_, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: long + "x", AutoGrant: &bad, Test: &qualification.Test{
		Questions:  []qualification.Question{{Prompt: "", Choices: []string{"only"}, Answer: 3}},
		PassScore:  101,
		RetryAfter: 90 * time.Minute,
	}})
	want := []string{"name", "auto_grant_value", "auto_grant_value", "test.questions[0].prompt", "test.questions[0].choices",
		"test.questions[0].answer", "test.pass_score", "test.retry_after_hours"}
	if diff := cmp.Diff(want, fieldsOf(err)); diff != "" {
		t.Errorf("bad fields (-want +got):\n%s", diff)
	}
	if _, err := e.Qualifications.Create(ctx, e.User(t, auth.RoleWorker), qualification.Draft{Name: "x"}); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("a worker creates: %v, want wrong_role", err)
	}
}

func TestTestIsGradedAtOnceAndPassingGrantsTheScore(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	qt, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Labelling", Test: quiz(60, 24*time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// One right of three: 33, below 60.
	a, err := e.Qualifications.Take(ctx, worker, qt.ID, []int{1, 2, 0})
	if err != nil || a.Score != 33 || a.Passed || a.Granted != nil {
		t.Fatalf("first attempt = %+v, %v; want 33, failed, nothing granted", a, err)
	}
	if !a.RetryAt.Equal(e.Clock.Now().Add(24 * time.Hour)) {
		t.Errorf("retry at %v, want a day later", a.RetryAt)
	}
	// Before the retry time: refused, saying how long to wait.
	e.Clock.Advance(23 * time.Hour)
	_, err = e.Qualifications.Take(ctx, worker, qt.ID, []int{1, 0, 2})
	var later qualification.RetryLater
	if !errors.As(err, &later) || !errors.Is(err, qualification.ErrRetryLater) || later.RetryAfter() < time.Hour || later.RetryAfter() > time.Hour+time.Second {
		t.Fatalf("second attempt too soon: %v (%v left), want retry_later with an hour left", err, later.Left)
	}
	e.Clock.Advance(time.Hour)
	a, err = e.Qualifications.Take(ctx, worker, qt.ID, []int{1, 0, 2})
	if err != nil || a.Score != 100 || !a.Passed || a.Granted == nil || a.Granted.Value != 100 || a.Granted.Source != qualification.SourceTest {
		t.Fatalf("passing attempt = %+v, %v; want 100 granted", a, err)
	}
	// A later failure keeps the score earned.
	e.Clock.Advance(24 * time.Hour)
	if a, err := e.Qualifications.Take(ctx, worker, qt.ID, []int{0, 1, 0}); err != nil || a.Passed {
		t.Fatalf("failing attempt = %+v, %v", a, err)
	}
	mine, err := e.Qualifications.Mine(ctx, worker, firstPage)
	if err != nil || mine.Total != 1 || mine.Items[0].Value != 100 || mine.Items[0].TypeName != "Labelling" {
		t.Errorf("worker's scores = %+v, %v; want Labelling at 100", mine, err)
	}
	if _, err := e.Qualifications.Take(ctx, worker, qt.ID, []int{1}); fieldsOf(err) == nil {
		t.Errorf("too few answers: %v, want invalid answers", err)
	}
	if _, err := e.Qualifications.Take(ctx, buyer, qt.ID, []int{1, 0, 2}); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("the buyer takes it: %v, want wrong_role", err)
	}
}

func TestAttemptsAtOnceAreOne(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	qt, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Once a day", Test: quiz(100, 24*time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := e.Qualifications.Take(ctx, worker, qt.ID, []int{0, 0, 0})
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, qualification.ErrRetryLater):
			t.Errorf("attempt: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 8 attempts at once were taken, want 1", ok)
	}
}

func TestGrantsByTheOwnerAndOnRequest(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, other, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	listed := 0
	optIn, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Opted in", AutoGrant: &listed})
	if err != nil {
		t.Fatal(err)
	}
	byHand, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Trusted"})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := e.Qualifications.Take(ctx, worker, optIn.ID, nil); err != nil || !a.Passed || a.Granted.Source != qualification.SourceAuto {
		t.Errorf("request = %+v, %v; want granted at once", a, err)
	}
	if _, err := e.Qualifications.Take(ctx, worker, byHand.ID, nil); !errors.Is(err, qualification.ErrNotRequestable) {
		t.Errorf("request without test or auto-grant: %v, want not requestable", err)
	}
	if _, err := e.Qualifications.Grant(ctx, buyer, byHand.ID, worker.UserID, 101); fieldsOf(err) == nil {
		t.Errorf("value 101: %v, want invalid", err)
	}
	if _, err := e.Qualifications.Grant(ctx, buyer, byHand.ID, other.UserID, 80); !errors.Is(err, qualification.ErrNotAWorker) {
		t.Errorf("grant to a buyer: %v, want user_not_found", err)
	}
	if _, err := e.Qualifications.Grant(ctx, other, byHand.ID, worker.UserID, 80); !errors.Is(err, qualification.ErrNotFound) {
		t.Errorf("someone else's type: %v, want not found", err)
	}
	if _, err := e.Qualifications.Grant(ctx, buyer, byHand.ID, worker.UserID, 80); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Qualifications.Grant(ctx, buyer, byHand.ID, worker.UserID, 90); err != nil { // sets it again
		t.Fatal(err)
	}
	grants, err := e.Qualifications.Grants(ctx, buyer, byHand.ID, firstPage)
	if err != nil || grants.Total != 1 || grants.Items[0].Value != 90 || grants.Items[0].Source != qualification.SourceOwner {
		t.Errorf("grants = %+v, %v; want the one at 90", grants, err)
	}
	// A new name reaches the grants.
	name := "Very trusted"
	if _, err := e.Qualifications.Update(ctx, buyer, byHand.ID, qualification.Edit{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.Qualifications.Grants(ctx, buyer, byHand.ID, firstPage); g.Items[0].TypeName != name {
		t.Errorf("grant's type name = %q, want %q", g.Items[0].TypeName, name)
	}
	if err := e.Qualifications.Revoke(ctx, buyer, byHand.ID, worker.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.Qualifications.Revoke(ctx, buyer, byHand.ID, worker.UserID); !errors.Is(err, qualification.ErrGrantNotFound) {
		t.Errorf("revoked twice: %v, want grant_not_found", err)
	}
	// Deleting a type takes its grants with it.
	if err := e.Qualifications.Delete(ctx, buyer, optIn.ID); err != nil {
		t.Fatal(err)
	}
	if mine, _ := e.Qualifications.Mine(ctx, worker, firstPage); mine.Total != 0 {
		t.Errorf("worker's scores after the deletions = %+v, want none", mine.Items)
	}
	if _, err := e.Qualifications.Get(ctx, optIn.ID); !errors.Is(err, qualification.ErrNotFound) {
		t.Errorf("deleted type: %v, want not found", err)
	}
}

func TestUpdateChangesOnlyWhatItSays(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	qt, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Audio", Description: "Transcription", Test: quiz(50, 0)})
	if err != nil {
		t.Fatal(err)
	}
	v := 10
	if _, err := e.Qualifications.Update(ctx, buyer, qt.ID, qualification.Edit{AutoGrant: &v}); fieldsOf(err) == nil {
		t.Errorf("auto-grant beside a test: %v, want invalid", err)
	}
	got, err := e.Qualifications.Update(ctx, buyer, qt.ID, qualification.Edit{ClearTest: true, AutoGrant: &v})
	if err != nil || got.Test != nil || got.AutoGrant == nil || *got.AutoGrant != 10 || got.Description != "Transcription" {
		t.Errorf("update = %+v, %v; want the test gone, auto-grant 10, the description kept", got, err)
	}
	if stored, _ := e.Qualifications.Get(ctx, qt.ID); stored.Test != nil || *stored.AutoGrant != 10 {
		t.Errorf("stored = %+v", stored)
	}
}

// TestScoresAreCopiedOntoTheWorker: every change of a worker's scores (a
// grant by the owner, one earned on request, a revocation, the type's
// deletion) is copied onto their user, where the requirements of tasks
// read it.
func TestScoresAreCopiedOntoTheWorker(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	fifty := 50
	hand, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Hand", Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	asked, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Asked", Description: "D", AutoGrant: &fifty})
	if err != nil {
		t.Fatal(err)
	}
	copied := func(want map[string]int) {
		t.Helper()
		u, err := e.Users.Cached(ctx, worker.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 && len(u.Qualifications) == 0 {
			return
		}
		if diff := cmp.Diff(want, u.Qualifications); diff != "" {
			t.Errorf("the copy with the worker (-want +got):\n%s", diff)
		}
	}
	if _, err := e.Qualifications.Grant(ctx, buyer, hand.ID, worker.UserID, 70); err != nil {
		t.Fatal(err)
	}
	copied(map[string]int{hand.ID: 70})
	if _, err := e.Qualifications.Take(ctx, worker, asked.ID, nil); err != nil {
		t.Fatal(err)
	}
	copied(map[string]int{hand.ID: 70, asked.ID: 50})
	if _, err := e.Qualifications.Grant(ctx, buyer, hand.ID, worker.UserID, 10); err != nil {
		t.Fatal(err)
	}
	copied(map[string]int{hand.ID: 10, asked.ID: 50})
	if err := e.Qualifications.Revoke(ctx, buyer, hand.ID, worker.UserID); err != nil {
		t.Fatal(err)
	}
	copied(map[string]int{asked.ID: 50})
	if err := e.Qualifications.Delete(ctx, buyer, asked.ID); err != nil {
		t.Fatal(err)
	}
	copied(nil)
}

// TestTypeRequiredByAnOpenTaskStays: a type an open task requires cannot
// be deleted; once the task is closed it can. Another buyer's type may be
// required if it is public, never if private.
func TestTypeRequiredByAnOpenTaskStays(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	fifty := 50
	own, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Own", Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	private, err := e.Qualifications.Create(ctx, other, qualification.Draft{Name: "Private", Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	public, err := e.Qualifications.Create(ctx, other, qualification.Draft{Name: "Public", Description: "D", AutoGrant: &fifty})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id   string
		want error
	}{{own.ID, nil}, {public.ID, nil}, {private.ID, qualification.ErrNotFound}, {"nope", qualification.ErrNotFound}} {
		if err := e.Qualifications.Requirable(ctx, buyer.UserID, tt.id); !errors.Is(err, tt.want) {
			t.Errorf("Requirable(%s) = %v, want %v", tt.id, err, tt.want)
		}
	}
	tk, err := e.Tasks.Create(ctx, buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"}, Workers: 1, Pay: 1,
		CompletionDate: e.Clock.Now().Add(time.Hour), Requirements: task.Requirements{
			Qualifications: []task.QualificationRequirement{{QualificationID: own.ID, Comparator: task.CompareExists}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Qualifications.Delete(ctx, buyer, own.ID); !errors.Is(err, qualification.ErrRequired) {
		t.Fatalf("Delete() while an open task requires it = %v, want %v", err, qualification.ErrRequired)
	}
	if _, err := e.Tasks.CloseEarly(ctx, buyer, tk.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Qualifications.Delete(ctx, buyer, own.ID); err != nil {
		t.Errorf("Delete() once the task is closed = %v", err)
	}
}

// TestTypeRequiredByAnOpenJobStays: a type an open job requires cannot be
// deleted, as for a task; once the job is closed, it can. A job may not
// require another buyer's private type.
func TestTypeRequiredByAnOpenJobStays(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	own, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Own", Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	private, err := e.Qualifications.Create(ctx, other, qualification.Draft{Name: "Private", Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	requiring := func(id string) job.NewJob {
		return job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 10, Requirements: task.Requirements{
			Qualifications: []task.QualificationRequirement{{QualificationID: id, Comparator: task.CompareNotExists}}}}
	}
	if _, err := e.Projects.Create(ctx, buyer, requiring(private.ID)); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("Create() requiring another buyer's private type = %v, want Invalid", err)
	}
	j, err := e.Projects.Create(ctx, buyer, requiring(own.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Qualifications.Delete(ctx, buyer, own.ID); !errors.Is(err, qualification.ErrRequired) {
		t.Fatalf("Delete() while an open job requires it = %v, want %v", err, qualification.ErrRequired)
	}
	if _, err := e.Projects.Close(ctx, buyer, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Qualifications.Delete(ctx, buyer, own.ID); err != nil {
		t.Errorf("Delete() once the job is closed = %v", err)
	}
}
