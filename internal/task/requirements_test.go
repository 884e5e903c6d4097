package task_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/qualification"
	"microtask/internal/task"
	"microtask/internal/user"
)

// TestRequirementsAreOneRule: who may take a task, and who may propose
// for a job, is one rule, task.Requirements.Admits, which reservations,
// submissions and proposals ask, and which the store applies as a filter
// to a worker's available tasks and to the jobs they are eligible for.
// Every combination of requirements and of what a worker brings (at,
// under and over each bound) goes through the rule, the available list, a
// reservation, a submission, the eligible jobs and a proposal, and all six
// must agree; a refused proposal names the requirement a refused
// reservation names. A new kind of requirement adds its dimension here.
func TestRequirementsAreOneRule(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer := e.User(t, auth.RoleBuyer)
	q1, q2 := mustQualification(t, e, buyer, "Q1"), mustQualification(t, e, buyer, "Q2")
	need := func(id string, c task.Comparator, v ...int) task.QualificationRequirement {
		q := task.QualificationRequirement{QualificationID: id, Comparator: c}
		if len(v) > 0 {
			q.Value = &v[0]
		}
		return q
	}
	type quals = []task.QualificationRequirement
	requirements := []task.Requirements{
		{}, {MinLevel: 1}, {MinLevel: 2}, {MinLevel: 3},
		{MinRating: 1}, {MinRating: 3.5}, {MinRating: 4.5}, {MinRating: 5}, {MinLevel: 2, MinRating: 4},
		{Countries: []string{"DE"}}, {Countries: []string{"DE", "FR"}},
		{Qualifications: quals{need(q1, task.CompareExists)}}, {Qualifications: quals{need(q1, task.CompareNotExists)}},
		{Qualifications: quals{need(q1, task.CompareGTE, 50)}}, {Qualifications: quals{need(q1, task.CompareLTE, 50)}},
		{Qualifications: quals{need(q1, task.CompareEQ, 50)}},
		{Qualifications: quals{need(q1, task.CompareGTE, 50), need(q2, task.CompareExists)}},
		{Qualifications: quals{need(q1, task.CompareGTE, 30), need(q1, task.CompareLTE, 70)}},
		{MinLevel: 1, Countries: []string{"FR"}, Qualifications: quals{need(q2, task.CompareNotExists)}},
	}
	countries := []string{"", "DE", "FR", "US"}
	scores := []map[string]int{{}, {q1: 50}, {q1: 49}, {q1: 100, q2: 0}, {q2: 70}, {q1: 30}, {q1: 71, q2: 5}}
	var candidates []task.Candidate
	for level := range 4 {
		for _, rating := range []float64{0, 3.5, 4.49, 5} {
			n := len(candidates)
			candidates = append(candidates, task.Candidate{Level: level, Rating: rating, Country: countries[n%len(countries)],
				Scores: scores[n%len(scores)]})
		}
	}
	for n := range len(scores) { // every score with every country
		candidates = append(candidates, task.Candidate{Level: 3, Rating: 5, Country: countries[(n+1)%len(countries)], Scores: scores[n]})
	}

	admitted, refused := 0, 0
	e.Give(t, buyer.UserID, money.Coins(len(requirements)*len(candidates)))
	tasks := make([]task.Task, len(requirements))
	for i, r := range requirements {
		tk, err := e.Tasks.Create(ctx, buyer, task.NewTask{Text: task.Text{Title: fmt.Sprintf("T%d", i), Detail: "D", SubmissionInfo: "S"},
			Workers: len(candidates), Pay: 1, CompletionDate: e.Clock.Now().Add(24 * time.Hour), Requirements: r})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, tk.Requirements); diff != "" {
			t.Fatalf("task %d requires (-want +got):\n%s", i, diff)
		}
		tasks[i] = tk
	}
	jobs := make([]job.Job, len(requirements))
	for i, r := range requirements {
		j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: fmt.Sprintf("J%d", i), Description: "D", Type: job.TypeFixed,
			Budget: 100, Requirements: r})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, j.Requirements); diff != "" {
			t.Fatalf("job %d requires (-want +got):\n%s", i, diff)
		}
		jobs[i] = j
	}
	for i, c := range candidates {
		worker := e.User(t, auth.RoleWorker)
		if err := e.Users.SetStanding(ctx, worker.UserID, user.Standing{Level: c.Level, Rating: c.Rating, Reviews: 10}, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Users.UpdateProfile(ctx, worker, worker.UserID, user.Profile{Country: &c.Country}); err != nil {
			t.Fatal(err)
		}
		for q, v := range c.Scores {
			if _, err := e.Qualifications.Grant(ctx, buyer, q, worker.UserID, v); err != nil {
				t.Fatal(err)
			}
		}
		listed := map[string]bool{}
		res, err := e.Tasks.List(ctx, task.Filter{Available: true, NotBy: worker.UserID}, page.Request{Number: 1, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range res.Items {
			listed[tk.ID] = true
		}
		eligible, err := e.Projects.List(ctx, job.Filter{EligibleFor: worker.UserID}, page.Request{Number: 1, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range eligible.Items {
			listed[j.ID] = true
		}
		for j, tk := range tasks {
			name := fmt.Sprintf("%+v for %+v", c, requirements[j])
			want := requirements[j].Admits(c)
			switch {
			case want == nil:
				admitted++
			case errors.Is(want, task.ErrRequirementsNotMet):
				refused++
			default:
				t.Fatalf("%s: Admits() = %v", name, want)
			}
			if listed[tk.ID] != (want == nil) {
				t.Errorf("%s: in the available list = %v, Admits() = %v", name, listed[tk.ID], want)
			}
			r, err := e.Reservations.Reserve(ctx, worker, tk.ID)
			if !errors.Is(err, want) {
				t.Errorf("%s: Reserve() = %v, Admits() = %v", name, err, want)
			}
			if err == nil {
				if err := e.Reservations.Release(ctx, worker, r.ID); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.Submissions.Submit(ctx, worker, tk.ID, "https://example.com/proof"); !errors.Is(err, want) {
				t.Errorf("%s: Submit() = %v, Admits() = %v", name, err, want)
			}
			j := jobs[j]
			if listed[j.ID] != (want == nil) {
				t.Errorf("%s: in the eligible jobs = %v, Admits() = %v", name, listed[j.ID], want)
			}
			_, err = e.Projects.Propose(ctx, worker, j.ID, job.NewProposal{CoverLetter: "C", Bid: 1, EstimatedDays: 1})
			if !errors.Is(err, want) || want != nil && err.Error() != strings.Replace(want.Error(), "this task", "this job", 1) {
				t.Errorf("%s: Propose() = %v, Admits() = %v", name, err, want)
			}
		}
	}
	if admitted == 0 || refused == 0 {
		t.Errorf("%d combinations admitted, %d refused: want some of each", admitted, refused)
	}
	t.Logf("%d combinations admitted, %d refused", admitted, refused)
}

// TestRequirementsRaisedAfterReserving: a worker who reserved a slot, and
// whose task then asks more than they bring, cannot submit into it.
func TestRequirementsRaisedAfterReserving(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 10)
	tk, err := e.Tasks.Create(ctx, buyer, task.NewTask{Text: task.Text{Title: "T", Detail: "D", SubmissionInfo: "S"},
		Workers: 1, Pay: 1, CompletionDate: e.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reservations.Reserve(ctx, worker, tk.ID); err != nil {
		t.Fatal(err)
	}
	level := 1
	if _, err := e.Tasks.UpdateText(ctx, buyer, tk.ID, task.TextEdit{RequirementsEdit: task.RequirementsEdit{MinLevel: &level}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Submit(ctx, worker, tk.ID, "https://example.com/proof"); !errors.Is(err, task.ErrRequirementsNotMet) {
		t.Errorf("Submit() = %v, want %v", err, task.ErrRequirementsNotMet)
	}
	level = 0
	if _, err := e.Tasks.UpdateText(ctx, buyer, tk.ID, task.TextEdit{RequirementsEdit: task.RequirementsEdit{MinLevel: &level}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Submit(ctx, worker, tk.ID, "https://example.com/proof"); err != nil {
		t.Errorf("Submit() once the requirement is gone = %v", err)
	}
}

// mustQualification creates a qualification type of the buyer's.
func mustQualification(t *testing.T, e *apptest.Env, buyer auth.Principal, name string) string {
	t.Helper()
	q, err := e.Qualifications.Create(context.Background(), buyer, qualification.Draft{Name: name, Description: "D"})
	if err != nil {
		t.Fatal(err)
	}
	return q.ID
}

// BenchmarkAvailableList reads a worker's first page of available tasks
// among 1,000 open ones, of which one in ten asks a qualification: the
// list's one find and one count filter every open task in memory, so the
// requirements' clauses are paid per task.
func BenchmarkAvailableList(b *testing.B) {
	e := apptest.New(b)
	ctx := context.Background()
	buyer, worker := e.User(b, auth.RoleBuyer), e.User(b, auth.RoleWorker)
	e.Give(b, buyer.UserID, 10_000)
	q, err := e.Qualifications.Create(ctx, buyer, qualification.Draft{Name: "Careful", Description: "D"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		in := task.NewTask{Text: task.Text{Title: fmt.Sprintf("T%d", i), Detail: "D", SubmissionInfo: "S"},
			Workers: 1, Pay: 5, CompletionDate: e.Clock.Now().Add(72 * time.Hour)}
		if i%10 == 0 {
			in.Requirements.Qualifications = []task.QualificationRequirement{{QualificationID: q.ID, Comparator: task.CompareExists}}
		}
		if _, err := e.Tasks.Create(ctx, buyer, in); err != nil {
			b.Fatal(err)
		}
	}
	f := task.Filter{Available: true, NotBy: worker.UserID}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Tasks.List(ctx, f, page.Request{Number: 1, Limit: 12}); err != nil {
			b.Fatal(err)
		}
	}
}
