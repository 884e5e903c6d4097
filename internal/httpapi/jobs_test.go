package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"microtask/internal/user"
)

type jobBody struct {
	ID              string            `json:"id"`
	Title           string            `json:"title"`
	Description     string            `json:"description"`
	Category        string            `json:"category"`
	Skills          []string          `json:"skills"`
	Type            string            `json:"type"`
	Budget          *int64            `json:"budget_coins"`
	HourlyRate      *int64            `json:"hourly_rate_coins"`
	WeeklyHourLimit *int              `json:"weekly_hour_limit"`
	Deadline        *time.Time        `json:"deadline"`
	MinLevel        int               `json:"min_level"`
	MinRating       *float64          `json:"min_rating"`
	Countries       []string          `json:"countries"`
	Requirements    []requirementBody `json:"requirements"`
	Buyer           struct {
		ID string `json:"id"`
	} `json:"buyer"`
	Status        string        `json:"status"`
	ContractID    *string       `json:"contract_id"`
	ProposalCount *int64        `json:"proposal_count"`
	MyProposal    *proposalBody `json:"my_proposal"`
}

type proposalBody struct {
	ID      string `json:"id"`
	JobID   string `json:"job_id"`
	JobType string `json:"job_type"`
	Worker  struct {
		ID           string          `json:"id"`
		Name         string          `json:"name"`
		WorkerRecord *map[string]any `json:"worker_record"`
		Level        *int            `json:"level"`
	} `json:"worker"`
	Bid           *int64 `json:"bid_coins"`
	HourlyRate    *int64 `json:"hourly_rate_coins"`
	Status        string `json:"status"`
	DeclineReason string `json:"decline_reason"`
}

func fixedJob(budget int64) map[string]any {
	return map[string]any{"title": "Build a landing page", "description": "One page from our design.", "type": "fixed",
		"budget_coins": budget, "skills": []string{"HTML", " css ", "CSS"}, "category": "development"}
}

func hourlyJob(rate int64, hours int) map[string]any {
	return map[string]any{"title": "Support our shop", "description": "Answer customers' mail.", "type": "hourly",
		"hourly_rate_coins": rate, "weekly_hour_limit": hours}
}

func (a *testAPI) postJob(t testing.TB, token string, body map[string]any) jobBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/jobs", token, body)
	j := decode[jobBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/jobs/"+j.ID {
		t.Errorf("Location = %q", loc)
	}
	return j
}

func (a *testAPI) propose(t testing.TB, token, jobID string, body map[string]any) proposalBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/jobs/"+jobID+"/proposals", token, body)
	p := decode[proposalBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/proposals/"+p.ID {
		t.Errorf("Location = %q", loc)
	}
	return p
}

func bid(coins int64) map[string]any {
	return map[string]any{"cover_letter": "I can do it well.", "bid_coins": coins, "estimated_days": 5}
}

func jobIDs(jobs []jobBody) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// TestJobs: a buyer posts fixed and hourly jobs; the public list filters
// and sorts them; the buyer edits an open job, lists their own and closes
// one, which leaves the public list.
func TestJobs(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	soon := a.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)

	fixed := fixedJob(3000)
	fixed["deadline"] = soon
	fj := a.postJob(t, buyer.Token, fixed)
	if fj.Type != "fixed" || fj.Budget == nil || *fj.Budget != 3000 || fj.HourlyRate != nil || fj.Status != "open" ||
		!slices.Equal(fj.Skills, []string{"HTML", "css"}) || fj.Deadline == nil || fj.ContractID != nil {
		t.Errorf("fixed job = %+v", fj)
	}
	a.clock.Advance(time.Second)
	hj := a.postJob(t, buyer.Token, hourlyJob(20, 10)) // a week: 200
	if hj.Type != "hourly" || hj.Budget != nil || *hj.HourlyRate != 20 || *hj.WeeklyHourLimit != 10 || hj.Category != "other" || hj.Deadline != nil {
		t.Errorf("hourly job = %+v", hj)
	}

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{hj.ID, fj.ID}},
		{"?sort=budget", []string{fj.ID, hj.ID}},
		{"?sort=deadline", []string{fj.ID, hj.ID}},
		{"?type=hourly", []string{hj.ID}},
		{"?skill=CSS", []string{fj.ID}},
		{"?category=development", []string{fj.ID}},
		{"?min_budget=201", []string{fj.ID}},
		{"?max_budget=200", []string{hj.ID}},
		{"?q=landing", []string{fj.ID}},
		{"?q=nothing+like+it", []string{}},
	} {
		got := jobIDs(decode[pageOf[jobBody]](t, a.get(t, "/api/jobs"+tt.query), http.StatusOK).Items)
		if !slices.Equal(got, tt.want) {
			t.Errorf("GET /api/jobs%s = %v, want %v", tt.query, got, tt.want)
		}
	}
	p := wantProblem(t, a.get(t, "/api/jobs?sort=cheapest&type=weekly"), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "sort")
	wantFieldError(t, p, "type")

	// Edit while open: the budget key follows.
	edited := decode[jobBody](t, a.call(t, http.MethodPatch, "/api/jobs/"+hj.ID, buyer.Token,
		map[string]any{"weekly_hour_limit": 40, "title": "Support our web shop"}), http.StatusOK)
	if *edited.WeeklyHourLimit != 40 || edited.Title != "Support our web shop" {
		t.Errorf("edited = %+v", edited)
	}
	if got := jobIDs(decode[pageOf[jobBody]](t, a.get(t, "/api/jobs?sort=budget"), http.StatusOK).Items); !slices.Equal(got, []string{fj.ID, hj.ID}) {
		t.Errorf("by budget after the edit = %v", got) // 3000 > 800
	}
	noDeadline := decode[jobBody](t, a.call(t, http.MethodPatch, "/api/jobs/"+fj.ID, buyer.Token, map[string]any{"deadline": nil}), http.StatusOK)
	if noDeadline.Deadline != nil {
		t.Errorf("deadline after null = %v", noDeadline.Deadline)
	}

	mine := decode[pageOf[jobBody]](t, a.call(t, http.MethodGet, "/api/jobs/my", buyer.Token, nil), http.StatusOK)
	if mine.Total != 2 {
		t.Errorf("my jobs = %d, want 2", mine.Total)
	}
	closed := decode[jobBody](t, a.call(t, http.MethodPost, "/api/jobs/"+hj.ID+"/close", buyer.Token, nil), http.StatusOK)
	if closed.Status != "closed" {
		t.Errorf("closed job status = %q", closed.Status)
	}
	if got := jobIDs(decode[pageOf[jobBody]](t, a.get(t, "/api/jobs"), http.StatusOK).Items); !slices.Equal(got, []string{fj.ID}) {
		t.Errorf("open jobs after closing = %v", got)
	}
	if got := decode[jobBody](t, a.get(t, "/api/jobs/"+hj.ID), http.StatusOK); got.Status != "closed" {
		t.Errorf("a closed job reads %q", got.Status)
	}

	// Unhappy paths.
	other := a.register(t, "buyer")
	for _, tt := range []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"a worker posts", http.MethodPost, "/api/jobs", worker.Token, fixedJob(10), http.StatusForbidden, "wrong_role"},
		{"no token", http.MethodPost, "/api/jobs", "", fixedJob(10), http.StatusUnauthorized, "missing_token"},
		{"another buyer edits", http.MethodPatch, "/api/jobs/" + fj.ID, other.Token, map[string]any{"title": "Mine"}, http.StatusNotFound, "job_not_found"},
		{"another buyer closes", http.MethodPost, "/api/jobs/" + fj.ID + "/close", other.Token, nil, http.StatusNotFound, "job_not_found"},
		{"a missing job", http.MethodGet, "/api/jobs/nope", "", nil, http.StatusNotFound, "job_not_found"},
		{"edit a closed job", http.MethodPatch, "/api/jobs/" + hj.ID, buyer.Token, map[string]any{"title": "Again"}, http.StatusConflict, "job_not_open"},
		{"close a closed job", http.MethodPost, "/api/jobs/" + hj.ID + "/close", buyer.Token, nil, http.StatusConflict, "job_not_open"},
		{"a worker's own-jobs list", http.MethodGet, "/api/jobs/my", worker.Token, nil, http.StatusForbidden, "wrong_role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
}

// TestJobFieldsInvalid: every bad field of a new job or an edit is named
// at once, the money fields of the other type included.
func TestJobFieldsInvalid(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	past := a.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"fixed without a budget", map[string]any{"title": "T", "description": "D", "type": "fixed"}, []string{"budget_coins"}},
		{"fixed with an hourly rate", map[string]any{"title": "T", "description": "D", "type": "fixed", "budget_coins": 10,
			"hourly_rate_coins": 5, "weekly_hour_limit": 3}, []string{"hourly_rate_coins", "weekly_hour_limit"}},
		{"hourly over 60 hours", map[string]any{"title": "T", "description": "D", "type": "hourly", "hourly_rate_coins": 5,
			"weekly_hour_limit": 61}, []string{"weekly_hour_limit"}},
		{"hourly with a budget", map[string]any{"title": "T", "description": "D", "type": "hourly", "hourly_rate_coins": 5,
			"weekly_hour_limit": 6, "budget_coins": 9}, []string{"budget_coins"}},
		{"everything wrong", map[string]any{"title": "", "description": "", "type": "weekly", "category": "gardening",
			"deadline": past, "min_level": 9}, []string{"title", "description", "type"}},
		{"in the service", map[string]any{"title": "T", "description": "D", "type": "fixed", "budget_coins": 5, "category": "gardening",
			"deadline": past, "min_level": 9, "skills": []string{" "}}, []string{"category", "deadline", "min_level", "skills"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/jobs", buyer.Token, tt.body), http.StatusUnprocessableEntity, "invalid_fields")
			for _, f := range tt.fields {
				wantFieldError(t, p, f)
			}
		})
	}
	j := a.postJob(t, buyer.Token, fixedJob(100))
	p := wantProblem(t, a.call(t, http.MethodPatch, "/api/jobs/"+j.ID, buyer.Token,
		map[string]any{"hourly_rate_coins": 5, "budget_coins": 0, "weekly_hour_limit": 3}), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"hourly_rate_coins", "budget_coins", "weekly_hour_limit"} {
		wantFieldError(t, p, f)
	}
}

// TestProposals: workers propose once each, by either path; the buyer is
// notified, lists them with each worker's card, and declines one; the
// worker sees theirs on the job and in their list, withdraws it, and
// cannot propose again; requirements and closed jobs refuse proposals.
func TestProposals(t *testing.T) {
	a := newAPI(t)
	buyer, w1, w2, w3 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.standing(t, w1.User.ID, user.Standing{Level: 2, Rating: 4.8, Reviews: 5, Approved: 60})
	j := a.postJob(t, buyer.Token, fixedJob(3000))

	p1 := a.propose(t, w1.Token, j.ID, bid(2800))
	if p1.Status != "pending" || *p1.Bid != 2800 || p1.HourlyRate != nil || p1.JobType != "fixed" || p1.Worker.ID != w1.User.ID {
		t.Errorf("proposal = %+v", p1)
	}
	a.clock.Advance(time.Second)
	rec := a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/bid", w2.Token, bid(2500))
	p2 := decode[proposalBody](t, rec, http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/proposals", w1.Token, bid(2000)), http.StatusConflict, "already_proposed")

	notes := decode[pageOf[notificationBody]](t, a.call(t, http.MethodGet, "/api/notifications", buyer.Token, nil), http.StatusOK)
	received := 0
	for _, n := range notes.Items {
		if n.Type == "proposal_received" {
			received++
		}
	}
	if received != 2 {
		t.Errorf("the buyer got %d proposal_received notifications, want 2", received)
	}

	list := decode[pageOf[proposalBody]](t, a.call(t, http.MethodGet, "/api/jobs/"+j.ID+"/proposals", buyer.Token, nil), http.StatusOK)
	if list.Total != 2 || list.Items[0].ID != p1.ID || list.Items[0].Worker.Level == nil ||
		list.Items[0].Worker.WorkerRecord == nil {
		t.Errorf("the job's proposals = %+v", list)
	}
	detail := decode[jobBody](t, a.call(t, http.MethodGet, "/api/jobs/"+j.ID, w1.Token, nil), http.StatusOK)
	if detail.ProposalCount == nil || *detail.ProposalCount != 2 || detail.MyProposal == nil || detail.MyProposal.ID != p1.ID {
		t.Errorf("the job as w1 reads it = %+v", detail)
	}
	if anon := decode[jobBody](t, a.get(t, "/api/jobs/"+j.ID), http.StatusOK); anon.MyProposal != nil || *anon.ProposalCount != 2 {
		t.Errorf("the job as anyone reads it = %+v", anon)
	}

	declined := decode[proposalBody](t, a.call(t, http.MethodPut, "/api/proposals/"+p2.ID+"/decline", buyer.Token,
		map[string]any{"reason": "Too early for us."}), http.StatusOK)
	if declined.Status != "declined" || declined.DeclineReason != "Too early for us." {
		t.Errorf("declined = %+v", declined)
	}
	wantProblem(t, a.call(t, http.MethodPut, "/api/proposals/"+p2.ID+"/decline", buyer.Token, map[string]any{}), http.StatusConflict, "proposal_not_pending")
	withdrawn := decode[proposalBody](t, a.call(t, http.MethodDelete, "/api/proposals/"+p1.ID, w1.Token, nil), http.StatusOK)
	if withdrawn.Status != "withdrawn" {
		t.Errorf("withdrawn = %+v", withdrawn)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+j.ID+"/proposals", w1.Token, bid(2000)), http.StatusConflict, "already_proposed")
	if n := *decode[jobBody](t, a.get(t, "/api/jobs/"+j.ID), http.StatusOK).ProposalCount; n != 1 {
		t.Errorf("proposal_count after a withdrawal = %d, want 1", n)
	}
	mine := decode[pageOf[proposalBody]](t, a.call(t, http.MethodGet, "/api/proposals/my", w2.Token, nil), http.StatusOK)
	if mine.Total != 1 || mine.Items[0].ID != p2.ID {
		t.Errorf("w2's proposals = %+v", mine)
	}

	// Requirements: the tasks' rule.
	picky := fixedJob(500)
	picky["min_level"], picky["min_rating"] = 2, 4.5
	pj := a.postJob(t, buyer.Token, picky)
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+pj.ID+"/proposals", w3.Token, bid(400)), http.StatusForbidden, "requirements_not_met")
	a.propose(t, w1.Token, pj.ID, bid(400))

	// An hourly job takes a rate, not a bid.
	hj := a.postJob(t, buyer.Token, hourlyJob(20, 10))
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+hj.ID+"/proposals", w3.Token, bid(400)), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "bid_coins")
	wantFieldError(t, p, "hourly_rate_coins")
	hp := a.propose(t, w3.Token, hj.ID, map[string]any{"cover_letter": "Hi.", "hourly_rate_coins": 18, "estimated_days": 30})
	if hp.HourlyRate == nil || *hp.HourlyRate != 18 || hp.Bid != nil {
		t.Errorf("hourly proposal = %+v", hp)
	}

	// Closing a job declines its pending proposals.
	decode[jobBody](t, a.call(t, http.MethodPost, "/api/jobs/"+hj.ID+"/close", buyer.Token, nil), http.StatusOK)
	if got := decode[proposalBody](t, a.call(t, http.MethodGet, "/api/proposals/"+hp.ID, w3.Token, nil), http.StatusOK); got.Status != "declined" {
		t.Errorf("a proposal of a closed job is %q, want declined", got.Status)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+hj.ID+"/proposals", w2.Token,
		map[string]any{"cover_letter": "Hi.", "hourly_rate_coins": 18, "estimated_days": 30}), http.StatusConflict, "job_not_open")

	// Unhappy paths.
	other := a.register(t, "buyer")
	for _, tt := range []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"a buyer proposes", http.MethodPost, "/api/jobs/" + j.ID + "/proposals", other.Token, bid(10), http.StatusForbidden, "wrong_role"},
		{"to a missing job", http.MethodPost, "/api/jobs/nope/proposals", w3.Token, bid(10), http.StatusNotFound, "job_not_found"},
		{"another buyer lists", http.MethodGet, "/api/jobs/" + j.ID + "/proposals", other.Token, nil, http.StatusNotFound, "job_not_found"},
		{"a worker lists a job's", http.MethodGet, "/api/jobs/" + j.ID + "/proposals", w2.Token, nil, http.StatusForbidden, "wrong_role"},
		{"another buyer declines", http.MethodPut, "/api/proposals/" + hp.ID + "/decline", other.Token, map[string]any{}, http.StatusNotFound, "proposal_not_found"},
		{"another worker withdraws", http.MethodDelete, "/api/proposals/" + p2.ID, w3.Token, nil, http.StatusNotFound, "proposal_not_found"},
		{"another worker reads", http.MethodGet, "/api/proposals/" + p2.ID, w3.Token, nil, http.StatusNotFound, "proposal_not_found"},
		{"withdraw a declined one", http.MethodDelete, "/api/proposals/" + p2.ID, w2.Token, nil, http.StatusConflict, "proposal_not_pending"},
		{"a long letter", http.MethodPost, "/api/jobs/" + pj.ID + "/proposals", w2.Token,
			map[string]any{"cover_letter": string(make([]byte, 5001)), "bid_coins": 1, "estimated_days": 0}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"a long reason", http.MethodPut, "/api/proposals/" + hp.ID + "/decline", buyer.Token,
			map[string]any{"reason": string(make([]byte, 1001))}, http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
}
