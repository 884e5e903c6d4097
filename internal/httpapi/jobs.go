package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/reputation"
)

// createJobRequest is the body of POST /api/jobs. The bounds are the job
// service's (job.NewJob), which checks them all, also which money fields
// each type takes; the tags repeat them for the contract.
type createJobRequest struct {
	Title           string   `json:"title" validate:"required,max=200"`
	Description     string   `json:"description" validate:"required,max=10000"`
	Category        string   `json:"category"`
	Skills          []string `json:"skills" validate:"max=10"`
	Type            string   `json:"type" validate:"required,oneof=fixed hourly"`
	Budget          int64    `json:"budget_coins" validate:"omitempty,min=1,max=1000000"`
	HourlyRate      int64    `json:"hourly_rate_coins" validate:"omitempty,min=1,max=10000"`
	WeeklyHourLimit int      `json:"weekly_hour_limit" validate:"omitempty,min=1,max=60"`
	Deadline        string   `json:"deadline"` // RFC 3339; left out or "": none
	// Requirements, checked by the job service only (as a task's); left
	// out, none.
	MinLevel     int                        `json:"min_level"`
	MinRating    float64                    `json:"min_rating"`
	Countries    []string                   `json:"countries"`
	Requirements []qualificationRequirement `json:"requirements"`
}

func (r *createJobRequest) trim() {
	r.Title, r.Description, r.Category = strings.TrimSpace(r.Title), strings.TrimSpace(r.Description), strings.TrimSpace(r.Category)
}

// editJobRequest is the body of PATCH /api/jobs/{id}: the fields it has
// change, the others stay; a null deadline removes it.
type editJobRequest struct {
	Title           optional[string]   `json:"title" validate:"omitnil,kept,max=200"`
	Description     optional[string]   `json:"description" validate:"omitnil,kept,max=10000"`
	Category        optional[string]   `json:"category" validate:"omitnil,kept"`
	Skills          optional[[]string] `json:"skills"`
	Budget          optional[int64]    `json:"budget_coins"`
	HourlyRate      optional[int64]    `json:"hourly_rate_coins"`
	WeeklyHourLimit optional[int]      `json:"weekly_hour_limit"`
	Deadline        optional[string]   `json:"deadline"`
	MinLevel        optional[int]      `json:"min_level"`
	MinRating       optional[float64]  `json:"min_rating"`
	// Countries and requirements replace the job's; null or [] asks
	// nothing.
	Countries    optional[[]string]                   `json:"countries"`
	Requirements optional[[]qualificationRequirement] `json:"requirements"`
}

func (r *editJobRequest) trim() {
	r.Title, r.Description, r.Category = trimmed(r.Title), trimmed(r.Description), trimmed(r.Category)
}

func (r editJobRequest) edit() (job.Edit, error) {
	e := job.Edit{Title: r.Title.ptr(), Description: r.Description.ptr(), Category: r.Category.ptr(), Skills: r.Skills.ptr(),
		WeeklyHourLimit: r.WeeklyHourLimit.ptr(), RequirementsEdit: requirementsEdit(r.MinLevel, r.MinRating, r.Countries, r.Requirements)}
	coins := func(o optional[int64]) *money.Coins {
		if !o.Set {
			return nil
		}
		c := money.Coins(o.Value)
		return &c
	}
	e.Budget, e.HourlyRate = coins(r.Budget), coins(r.HourlyRate)
	if r.Deadline.Set {
		d, err := parseDeadline(r.Deadline.Value)
		if err != nil {
			return job.Edit{}, err
		}
		e.Deadline = &d
	}
	return e, nil
}

// parseDeadline reads an optional RFC 3339 deadline: "" is none.
func parseDeadline(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.InvalidFields(apperr.FieldError{Field: "deadline",
			Message: "must be an RFC 3339 date and time, e.g. 2026-12-31T23:59:00Z"})
	}
	return d, nil
}

type jobResponse struct {
	ID              string                     `json:"id"`
	Title           string                     `json:"title"`
	Description     string                     `json:"description"`
	Category        string                     `json:"category"`
	Skills          []string                   `json:"skills"`
	Type            string                     `json:"type"`
	Budget          *int64                     `json:"budget_coins"`      // fixed; null for hourly
	HourlyRate      *int64                     `json:"hourly_rate_coins"` // hourly; null for fixed
	WeeklyHourLimit *int                       `json:"weekly_hour_limit"` // hourly; null for fixed
	Deadline        *time.Time                 `json:"deadline"`
	MinLevel        int                        `json:"min_level"`
	MinRating       *float64                   `json:"min_rating"`
	Countries       []string                   `json:"countries"`    // [] for any
	Requirements    []qualificationRequirement `json:"requirements"` // [] for none
	Buyer           partyResponse              `json:"buyer"`
	Status          string                     `json:"status"`
	ContractID      *string                    `json:"contract_id"`
	CreatedAt       time.Time                  `json:"created_at"`
	// Only when the job is read alone.
	ProposalCount *int64            `json:"proposal_count,omitempty"`
	MyProposal    *proposalResponse `json:"my_proposal,omitempty"`
}

func toJobResponse(j job.Job) jobResponse {
	res := jobResponse{ID: j.ID, Title: j.Title, Description: j.Description, Category: j.Category, Skills: nonNilStrings(j.Skills),
		Type: string(j.Type), MinLevel: j.Requirements.MinLevel, MinRating: nonZero(j.Requirements.MinRating),
		Countries: nonNilStrings(j.Requirements.Countries), Requirements: fromQualifications(j.Requirements.Qualifications),
		Buyer: partyResponse(j.Buyer), Status: string(j.Status), CreatedAt: j.CreatedAt.UTC()}
	if j.Type == job.TypeHourly {
		rate, limit := int64(j.HourlyRate), j.WeeklyHourLimit
		res.HourlyRate, res.WeeklyHourLimit = &rate, &limit
	} else {
		budget := int64(j.Budget)
		res.Budget = &budget
	}
	if !j.Deadline.IsZero() {
		d := j.Deadline.UTC()
		res.Deadline = &d
	}
	if j.ContractID != "" {
		res.ContractID = &j.ContractID
	}
	return res
}

// handleJobCreate handles POST /api/jobs.
func (s *Server) handleJobCreate(w http.ResponseWriter, r *http.Request) error {
	var req createJobRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	deadline, err := parseDeadline(req.Deadline)
	if err != nil {
		return err
	}
	j, err := s.jobs.Create(r.Context(), principal(r), job.NewJob{Title: req.Title, Description: req.Description,
		Category: req.Category, Skills: req.Skills, Type: job.Type(req.Type), Budget: money.Coins(req.Budget),
		HourlyRate: money.Coins(req.HourlyRate), WeeklyHourLimit: req.WeeklyHourLimit, Deadline: deadline,
		Requirements: requirements(req.MinLevel, req.MinRating, req.Countries, req.Requirements)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/jobs/"+j.ID)
	return writeJSON(w, http.StatusCreated, toJobResponse(j))
}

// handleJobList handles GET /api/jobs. With eligible=true a signed-in
// worker's list leaves out the jobs whose requirements they do not meet;
// anyone else asking so is refused, rather than shown jobs as if they were
// open to them.
func (s *Server) handleJobList(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	eligible := q.oneOf("eligible", "false", "true", "false") == "true"
	f := job.Filter{
		Query:     q.text("q", 100),
		Category:  q.oneOf("category", "", job.Categories...),
		Skill:     q.text("skill", job.MaxSkillLen),
		Type:      job.Type(q.oneOf("type", "", string(job.TypeFixed), string(job.TypeHourly))),
		MinBudget: money.Coins(q.int("min_budget", 0, 0, 100_000_000)),
		MaxBudget: money.Coins(q.int("max_budget", 0, 0, 100_000_000)),
		Sort:      q.oneOf("sort", job.SortNewest, job.SortNewest, job.SortBudget, job.SortDeadline),
	}
	if eligible {
		p, ok := auth.PrincipalFrom(r.Context())
		switch {
		case !ok:
			return auth.ErrMissingToken
		case !p.Is(auth.RoleWorker):
			return auth.ErrWrongRole
		}
		f.EligibleFor = p.UserID
	}
	return writePage(w, q, func(p page.Request) (page.Of[job.Job], error) {
		return s.jobs.List(r.Context(), f, p)
	}, toJobResponse)
}

// handleJobMine handles GET /api/jobs/my.
func (s *Server) handleJobMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[job.Job], error) {
		return s.jobs.Mine(r.Context(), principal(r), p)
	}, toJobResponse)
}

// handleJobGet handles GET /api/jobs/{id}.
func (s *Server) handleJobGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.jobs.Detail(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	res := toJobResponse(d.Job)
	res.ProposalCount = &d.Proposals
	if d.MyProposal != nil {
		mine := toProposalResponse(*d.MyProposal, nil)
		res.MyProposal = &mine
	}
	return writeJSON(w, http.StatusOK, res)
}

// handleJobUpdate handles PATCH /api/jobs/{id}.
func (s *Server) handleJobUpdate(w http.ResponseWriter, r *http.Request) error {
	var req editJobRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	e, err := req.edit()
	if err != nil {
		return err
	}
	j, err := s.jobs.Update(r.Context(), principal(r), param(r, "id"), e)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toJobResponse(j))
}

// handleJobClose handles POST /api/jobs/{id}/close.
func (s *Server) handleJobClose(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobs.Close(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toJobResponse(j))
}

// createProposalRequest is the body of POST /api/jobs/{id}/proposals (and
// /bid); its tags repeat the job service's bounds (job.NewProposal).
type createProposalRequest struct {
	CoverLetter   string `json:"cover_letter" validate:"required,max=5000"`
	Bid           int64  `json:"bid_coins" validate:"omitempty,min=1,max=1000000"`
	HourlyRate    int64  `json:"hourly_rate_coins" validate:"omitempty,min=1,max=10000"`
	EstimatedDays int    `json:"estimated_days" validate:"required,min=1,max=365"`
}

func (r *createProposalRequest) trim() { r.CoverLetter = strings.TrimSpace(r.CoverLetter) }

type declineRequest struct {
	Reason string `json:"reason" validate:"max=1000"`
}

func (r *declineRequest) trim() { r.Reason = strings.TrimSpace(r.Reason) }

// proposalWorkerResponse is the worker of a proposal as its buyer sees
// them: their card, as the worker search shows it (record, rating, level).
type proposalWorkerResponse struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	WorkerRecord *workerRecordResponse `json:"worker_record,omitempty"`
	Rating       *ratingResponse       `json:"rating,omitempty"`
	Level        *int                  `json:"level,omitempty"`
}

type proposalResponse struct {
	ID            string                 `json:"id"`
	JobID         string                 `json:"job_id"`
	JobTitle      string                 `json:"job_title"`
	JobType       string                 `json:"job_type"`
	Worker        proposalWorkerResponse `json:"worker"`
	Bid           *int64                 `json:"bid_coins"`         // fixed; null for hourly
	HourlyRate    *int64                 `json:"hourly_rate_coins"` // hourly; null for fixed
	CoverLetter   string                 `json:"cover_letter"`
	EstimatedDays int                    `json:"estimated_days"`
	Status        string                 `json:"status"`
	DeclineReason string                 `json:"decline_reason"`
	CreatedAt     time.Time              `json:"created_at"`
	DecidedAt     *time.Time             `json:"decided_at"`
}

// toProposalResponse is a proposal; with recs (the records of workers),
// its worker's card too.
func toProposalResponse(p job.Proposal, recs map[string]reputation.Record) proposalResponse {
	res := proposalResponse{ID: p.ID, JobID: p.JobID, JobTitle: p.JobTitle, JobType: string(p.JobType),
		Worker: proposalWorkerResponse{ID: p.Worker.ID, Name: p.Worker.Name}, CoverLetter: p.CoverLetter,
		EstimatedDays: p.EstimatedDays, Status: string(p.Status), DeclineReason: p.DeclineReason, CreatedAt: p.CreatedAt.UTC()}
	bid := int64(p.Bid)
	if p.JobType == job.TypeHourly {
		res.HourlyRate = &bid
	} else {
		res.Bid = &bid
	}
	if !p.DecidedAt.IsZero() {
		d := p.DecidedAt.UTC()
		res.DecidedAt = &d
	}
	if recs != nil {
		rec := recs[p.Worker.ID]
		rating, level := toRating(rec), rec.Level
		res.Worker.WorkerRecord, res.Worker.Rating, res.Worker.Level = toWorkerRecord(rec), &rating, &level
	}
	return res
}

// handleProposalCreate handles POST /api/jobs/{id}/proposals and its
// alias POST /api/jobs/{id}/bid.
func (s *Server) handleProposalCreate(w http.ResponseWriter, r *http.Request) error {
	var req createProposalRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	p, err := s.jobs.Propose(r.Context(), principal(r), param(r, "id"), job.NewProposal{CoverLetter: req.CoverLetter,
		Bid: money.Coins(req.Bid), HourlyRate: money.Coins(req.HourlyRate), EstimatedDays: req.EstimatedDays})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/proposals/"+p.ID)
	return writeJSON(w, http.StatusCreated, toProposalResponse(p, nil))
}

// handleJobProposals handles GET /api/jobs/{id}/proposals: one find and
// one count of the proposals, one find of their workers' records.
func (s *Server) handleJobProposals(w http.ResponseWriter, r *http.Request) error {
	var recs map[string]reputation.Record
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[job.Proposal], error) {
		res, err := s.jobs.Proposals(r.Context(), principal(r), param(r, "id"), p)
		if err != nil {
			return res, err
		}
		ids := make([]string, len(res.Items))
		for i, pr := range res.Items {
			ids[i] = pr.Worker.ID
		}
		recs, err = s.records(r.Context(), ids)
		return res, err
	}, func(p job.Proposal) proposalResponse { return toProposalResponse(p, recs) })
}

// handleProposalMine handles GET /api/proposals/my.
func (s *Server) handleProposalMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[job.Proposal], error) {
		return s.jobs.MyProposals(r.Context(), principal(r), p)
	}, func(p job.Proposal) proposalResponse { return toProposalResponse(p, nil) })
}

// handleProposalGet handles GET /api/proposals/{id}.
func (s *Server) handleProposalGet(w http.ResponseWriter, r *http.Request) error {
	p, err := s.jobs.Proposal(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toProposalResponse(p, nil))
}

// handleProposalWithdraw handles DELETE /api/proposals/{id}.
func (s *Server) handleProposalWithdraw(w http.ResponseWriter, r *http.Request) error {
	p, err := s.jobs.Withdraw(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toProposalResponse(p, nil))
}

// handleProposalDecline handles PUT /api/proposals/{id}/decline.
func (s *Server) handleProposalDecline(w http.ResponseWriter, r *http.Request) error {
	var req declineRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	p, err := s.jobs.Decline(r.Context(), principal(r), param(r, "id"), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toProposalResponse(p, nil))
}
