package job_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/page"
	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var firstPage = page.Request{Number: 1, Limit: 10}

func fields(err error) []string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return nil
	}
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Field
	}
	return out
}

// TestCreateChecksEveryField: a job's bounds, each bad field named at
// once; the money fields follow the type.
func TestCreateChecksEveryField(t *testing.T) {
	e := apptest.New(t)
	buyer := e.User(t, auth.RoleBuyer)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		in   job.NewJob
		want []string
	}{
		{"fixed", job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 1}, nil},
		{"hourly", job.NewJob{Title: "T", Description: "D", Type: job.TypeHourly, HourlyRate: 1, WeeklyHourLimit: 60}, nil},
		{"no type", job.NewJob{Title: "T", Description: "D"}, []string{"type"}},
		{"fixed with hourly fields", job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 5, HourlyRate: 1, WeeklyHourLimit: 1},
			[]string{"hourly_rate_coins", "weekly_hour_limit"}},
		{"hourly too long", job.NewJob{Title: "T", Description: "D", Type: job.TypeHourly, HourlyRate: 1, WeeklyHourLimit: 61},
			[]string{"weekly_hour_limit"}},
		{"everything", job.NewJob{Type: job.TypeFixed, Budget: job.MaxBudget + 1, Category: "gardening", Deadline: e.Clock.Now().Add(-time.Hour),
			Skills: []string{"", "Go"}, Requirements: task.Requirements{MinLevel: 4, MinRating: 0.5}},
			[]string{"title", "description", "category", "skills", "budget_coins", "deadline", "min_level", "min_rating"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Projects.Create(ctx, buyer, tt.in)
			if got := fields(err); !slices.Equal(got, tt.want) || (err != nil) != (tt.want != nil) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	_, err := e.Projects.Create(ctx, e.User(t, auth.RoleWorker), job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 1})
	if !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("a worker posts: %v", err)
	}
}

// TestProposalRules: the tasks' requirements, one proposal per worker
// (withdrawn included), only to open jobs; closing declines the pending.
func TestProposalRules(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, novice, expert := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	if err := e.Users.SetStanding(ctx, expert.UserID, user.Standing{Level: 2, Rating: 4.8, Reviews: 4}, 1); err != nil {
		t.Fatal(err)
	}
	j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 100, Requirements: task.Requirements{MinLevel: 2, MinRating: 4.5}})
	if err != nil {
		t.Fatal(err)
	}
	in := job.NewProposal{CoverLetter: "Me.", Bid: 90, EstimatedDays: 2}
	if _, err := e.Projects.Propose(ctx, novice, j.ID, in); !errors.Is(err, job.ErrRequirementsNotMet) {
		t.Errorf("a novice proposes: %v", err)
	}
	p, err := e.Projects.Propose(ctx, expert, j.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Projects.Withdraw(ctx, expert, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Projects.Propose(ctx, expert, j.ID, in); !errors.Is(err, job.ErrAlreadyProposed) {
		t.Errorf("propose again after withdrawing: %v", err)
	}
	open, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 100})
	if err != nil {
		t.Fatal(err)
	}
	q, err := e.Projects.Propose(ctx, novice, open.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Projects.Close(ctx, buyer, open.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Projects.Proposal(ctx, novice, q.ID); got.Status != job.ProposalDeclined {
		t.Errorf("a proposal of a closed job is %s", got.Status)
	}
	if _, err := e.Projects.Propose(ctx, expert, open.ID, in); !errors.Is(err, job.ErrNotOpen) {
		t.Errorf("propose to a closed job: %v", err)
	}
	if d, err := e.Projects.Detail(ctx, novice, open.ID); err != nil || d.Proposals != 1 || d.MyProposal == nil {
		t.Errorf("detail = %+v, %v", d, err)
	}
	if got, _ := e.Projects.MyProposals(ctx, novice, firstPage); got.Total != 1 {
		t.Errorf("the novice's proposals = %d", got.Total)
	}
}

// TestSuspendedBuyersJobsAreHidden: a suspended buyer's jobs leave the
// public list and take no proposals; reinstated, they come back.
func TestSuspendedBuyersJobsAreHidden(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, admin := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleAdmin)
	j, err := e.Projects.Create(ctx, buyer, job.NewJob{Title: "T", Description: "D", Type: job.TypeFixed, Budget: 100})
	if err != nil {
		t.Fatal(err)
	}
	listed := func() int64 {
		got, err := e.Projects.List(ctx, job.Filter{}, firstPage)
		if err != nil {
			t.Fatal(err)
		}
		return got.Total
	}
	if err := e.Users.SetStatus(ctx, admin, buyer.UserID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	if n := listed(); n != 0 {
		t.Errorf("jobs listed while the buyer is suspended = %d", n)
	}
	in := job.NewProposal{CoverLetter: "Me.", Bid: 90, EstimatedDays: 2}
	if _, err := e.Projects.Propose(ctx, worker, j.ID, in); !errors.Is(err, job.ErrNotOpen) {
		t.Errorf("propose to a suspended buyer's job: %v", err)
	}
	if err := e.Users.SetStatus(ctx, admin, buyer.UserID, user.StatusActive, ""); err != nil {
		t.Fatal(err)
	}
	if n := listed(); n != 1 {
		t.Errorf("jobs listed once the buyer is active again = %d", n)
	}
	if _, err := e.Projects.Propose(ctx, worker, j.ID, in); err != nil {
		t.Errorf("propose once the buyer is active again: %v", err)
	}
}
