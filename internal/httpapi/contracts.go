package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/contract"
	"microtask/internal/job"
	"microtask/internal/money"
	"microtask/internal/page"
)

// milestoneRequest is a milestone of a hire, or one added to a contract;
// its tags repeat the contract service's bounds (contract.NewMilestone).
type milestoneRequest struct {
	Title   string `json:"title" validate:"required,max=200"`
	Coins   int64  `json:"coins" validate:"required,min=1,max=1000000"`
	DueDate string `json:"due_date"` // RFC 3339; left out or "": none
}

func (r *milestoneRequest) trim() { r.Title = strings.TrimSpace(r.Title) }

func (r milestoneRequest) milestone(field string) (contract.NewMilestone, error) {
	due, err := parseDate(field, r.DueDate)
	return contract.NewMilestone{Title: r.Title, Coins: money.Coins(r.Coins), DueDate: due}, err
}

// parseDate reads an optional RFC 3339 date of field: "" is none.
func parseDate(field, v string) (time.Time, error) {
	d, err := parseDeadline(v)
	if err != nil {
		return time.Time{}, apperr.InvalidFields(apperr.FieldError{Field: field,
			Message: "must be an RFC 3339 date and time, e.g. 2026-12-31T23:59:00Z"})
	}
	return d, nil
}

// hireRequest is the body of POST (or PUT) /api/jobs/{id}/hire.
type hireRequest struct {
	ProposalID string `json:"proposal_id" validate:"required,max=64"`
	// Milestones are checked by the contract service only, which names
	// each bad field by its place (milestones[0].title).
	Milestones []milestoneRequest `json:"milestones" validate:"max=20"`
}

type submitMilestoneRequest struct {
	Message     string   `json:"message" validate:"required,max=5000"`
	Attachments []string `json:"attachments" validate:"max=5"`
}

func (r *submitMilestoneRequest) trim() { r.Message = strings.TrimSpace(r.Message) }

type changesRequest struct {
	Reason string `json:"reason" validate:"required,min=10,max=1000"`
}

func (r *changesRequest) trim() { r.Reason = strings.TrimSpace(r.Reason) }

type endContractRequest struct {
	Reason string `json:"reason" validate:"max=1000"`
}

func (r *endContractRequest) trim() { r.Reason = strings.TrimSpace(r.Reason) }

// paymentRequest is the body of POST /api/contracts/{id}/payment, the
// specification's path of funding a milestone.
type paymentRequest struct {
	MilestoneID string `json:"milestone_id" validate:"required,max=64"`
}

// disputeRequest is the body of POST /api/contracts/{id}/disputes; its
// tags repeat the contract service's bounds (contract.MinDisputeReasonLen).
// Exactly one of milestone_id and timesheet_id: the service checks that.
type disputeRequest struct {
	MilestoneID string `json:"milestone_id" validate:"max=64"`
	TimesheetID string `json:"timesheet_id" validate:"max=64"`
	Reason      string `json:"reason" validate:"max=1000"` // required, 10 to 1,000: the service checks it with the ids, listing all
}

func (r *disputeRequest) trim() {
	r.MilestoneID, r.TimesheetID, r.Reason = strings.TrimSpace(r.MilestoneID), strings.TrimSpace(r.TimesheetID), strings.TrimSpace(r.Reason)
}

// timesheetRequest is the body of POST /api/contracts/{id}/timesheets;
// the service checks the hours against the contract's weekly limit.
type timesheetRequest struct {
	WeekStart string `json:"week_start" validate:"required"` // a Monday, YYYY-MM-DD
	Hours     *int   `json:"hours" validate:"required,min=0,max=60"`
	Memo      string `json:"memo" validate:"max=1000"`
}

func (r *timesheetRequest) trim() {
	r.WeekStart, r.Memo = strings.TrimSpace(r.WeekStart), strings.TrimSpace(r.Memo)
}

func (r timesheetRequest) timesheet() (contract.Timesheet, error) {
	start, err := time.Parse(time.DateOnly, r.WeekStart)
	if err != nil {
		return contract.Timesheet{}, apperr.InvalidFields(apperr.FieldError{Field: "week_start",
			Message: "must be a date, YYYY-MM-DD: the week's Monday"})
	}
	return contract.Timesheet{WeekStart: start, Hours: *r.Hours, Memo: r.Memo}, nil
}

// disputeResponse is a dispute filed: its id is the report's in the
// admins' queue (GET /api/reports/{id} to the party who filed it).
type disputeResponse struct {
	ID          string        `json:"id"`
	ContractID  string        `json:"contract_id"`
	MilestoneID string        `json:"milestone_id"`
	By          partyResponse `json:"by"`
	Reason      string        `json:"reason"`
	CreatedAt   time.Time     `json:"created_at"`
}

type milestoneResponse struct {
	ID          string     `json:"id"`
	ContractID  string     `json:"contract_id"`
	Kind        string     `json:"kind"`
	Seq         int        `json:"seq"`
	Title       string     `json:"title"`
	Coins       int64      `json:"coins"`
	DueDate     *time.Time `json:"due_date"`
	WeekStart   *time.Time `json:"week_start"`
	Hours       *int       `json:"hours"` // a week's timesheet, once logged
	Status      string     `json:"status"`
	Message     string     `json:"message"`
	Attachments []string   `json:"attachments"`
	SubmittedAt *time.Time `json:"submitted_at"`
	AutoRelease *time.Time `json:"auto_release_at"`
	Submissions int        `json:"submissions"`
	Changes     int        `json:"changes_requested"`
	ChangeNote  string     `json:"change_note"`
	ReleasedAt  *time.Time `json:"released_at"`
	ReleasedBy  *string    `json:"released_by"`
	// Disputes: how often it was disputed; DisputeID the latest dispute
	// (a report), Resolution the admin's decision of it ("" while
	// undecided), WorkerCoins what the worker was paid of it.
	Disputes       int        `json:"disputes"`
	DisputeID      *string    `json:"dispute_id"`
	Resolution     string     `json:"resolution"`
	WorkerCoins    int64      `json:"worker_coins"`
	ReworkDeadline *time.Time `json:"rework_deadline"`
	CreatedAt      time.Time  `json:"created_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) milestoneResponse(it contract.Item) milestoneResponse {
	res := milestoneResponse{ID: it.ID, ContractID: it.ContractID, Kind: string(it.Kind), Seq: it.Seq, Title: it.Title,
		Coins: int64(it.Coins), DueDate: timePtr(it.DueDate), WeekStart: timePtr(it.WeekStart), Status: string(it.Status),
		Message: it.Message, Attachments: nonNilStrings(it.Attachments), SubmittedAt: timePtr(it.SubmittedAt),
		Submissions: it.Submissions, Changes: it.Changes, ChangeNote: it.ChangeNote, ReleasedAt: timePtr(it.ReleasedAt),
		Disputes: it.Disputes, Resolution: string(it.Resolution), WorkerCoins: int64(it.WorkerCoins),
		ReworkDeadline: timePtr(it.ReworkDeadline), CreatedAt: it.CreatedAt.UTC()}
	if it.DisputeID != "" {
		res.DisputeID = &it.DisputeID
	}
	if it.Kind == contract.KindWeek && it.Submissions > 0 {
		res.Hours = &it.Hours
	}
	if it.Status == contract.ItemSubmitted {
		res.AutoRelease = timePtr(it.SubmittedAt.Add(s.contracts.AutoRelease()))
	}
	if it.Status == contract.ItemReleased {
		by := "buyer"
		switch {
		case it.AutoRelease:
			by = "auto"
		case it.Resolution == contract.ResolveRelease:
			by = "admin"
		}
		res.ReleasedBy = &by
	}
	return res
}

type contractResponse struct {
	ID              string              `json:"id"`
	JobID           string              `json:"job_id"`
	JobTitle        string              `json:"job_title"`
	ProposalID      string              `json:"proposal_id"`
	Type            string              `json:"type"`
	Buyer           partyResponse       `json:"buyer"`
	Worker          partyResponse       `json:"worker"`
	Price           *int64              `json:"price_coins"`
	Raised          *int64              `json:"raised_coins"` // a fixed contract's: what the worker's accepted changes added to the price
	Rate            *int64              `json:"hourly_rate_coins"`
	WeeklyHourLimit *int                `json:"weekly_hour_limit"`
	Status          string              `json:"status"`
	Escrow          int64               `json:"escrow_coins"`
	Paid            int64               `json:"paid_coins"`
	Refunded        int64               `json:"refunded_coins"`
	NextWeek        *time.Time          `json:"next_week"` // an hourly contract's, while active
	Paused          bool                `json:"paused"`
	CreatedAt       time.Time           `json:"created_at"`
	EndedAt         *time.Time          `json:"ended_at"`
	EndedBy         *string             `json:"ended_by"`
	EndReason       string              `json:"end_reason"`
	Milestones      []milestoneResponse `json:"milestones,omitempty"` // only when read alone
}

func toContractResponse(c contract.Contract) contractResponse {
	res := contractResponse{ID: c.ID, JobID: c.JobID, JobTitle: c.JobTitle, ProposalID: c.ProposalID, Type: string(c.Type),
		Buyer: partyResponse(c.Buyer), Worker: partyResponse(c.Worker), Status: string(c.Status), Escrow: int64(c.Holding),
		Paid: int64(c.Paid), Refunded: int64(c.Refunded), CreatedAt: c.CreatedAt.UTC(), EndedAt: timePtr(c.EndedAt),
		EndReason: c.EndReason, Paused: c.Paused}
	if c.Type == job.TypeHourly && c.Status == contract.StatusActive {
		res.NextWeek = timePtr(c.NextWeek)
	}
	if c.Type == job.TypeHourly {
		rate, limit := int64(c.Rate), c.WeeklyHourLimit
		res.Rate, res.WeeklyHourLimit = &rate, &limit
	} else {
		price, raised := int64(c.Price), int64(c.Raised)
		res.Price, res.Raised = &price, &raised
	}
	if c.EndedBy != "" {
		res.EndedBy = &c.EndedBy
	}
	return res
}

func (s *Server) contractDetail(d contract.Detail) contractResponse {
	res := toContractResponse(d.Contract)
	res.Milestones = make([]milestoneResponse, len(d.Items))
	for i, it := range d.Items {
		res.Milestones[i] = s.milestoneResponse(it)
	}
	return res
}

// handleHire handles POST and PUT /api/jobs/{id}/hire.
func (s *Server) handleHire(w http.ResponseWriter, r *http.Request) error {
	var req hireRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	ms := make([]contract.NewMilestone, len(req.Milestones))
	for i, m := range req.Milestones {
		var err error
		if ms[i], err = m.milestone("milestones[" + strconv.Itoa(i) + "].due_date"); err != nil {
			return err
		}
	}
	d, err := s.contracts.Hire(r.Context(), principal(r), param(r, "id"), req.ProposalID, ms)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/contracts/"+d.ID)
	return writeJSON(w, http.StatusCreated, s.contractDetail(d))
}

// handleContractGet handles GET /api/contracts/{id}.
func (s *Server) handleContractGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.contracts.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.contractDetail(d))
}

// handleContractMine handles GET /api/contracts/my.
func (s *Server) handleContractMine(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	status := contract.Status(q.oneOf("status", "", string(contract.StatusActive), string(contract.StatusEnded)))
	return writePage(w, q, func(p page.Request) (page.Of[contract.Contract], error) {
		return s.contracts.Mine(r.Context(), principal(r), status, p)
	}, toContractResponse)
}

// handleMilestoneAdd handles POST /api/contracts/{id}/milestones.
func (s *Server) handleMilestoneAdd(w http.ResponseWriter, r *http.Request) error {
	var req milestoneRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	m, err := req.milestone("due_date")
	if err != nil {
		return err
	}
	it, err := s.contracts.AddMilestone(r.Context(), principal(r), param(r, "id"), m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/contracts/"+it.ContractID+"/milestones/"+it.ID)
	return writeJSON(w, http.StatusCreated, s.milestoneResponse(it))
}

// handleMilestoneGet handles GET /api/contracts/{id}/milestones/{mid}.
func (s *Server) handleMilestoneGet(w http.ResponseWriter, r *http.Request) error {
	it, err := s.contracts.Item(r.Context(), principal(r), param(r, "id"), param(r, "mid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.milestoneResponse(it))
}

// handleMilestoneFund handles POST /api/contracts/{id}/milestones/{mid}/fund.
func (s *Server) handleMilestoneFund(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.Fund(r.Context(), principal(r), param(r, "id"), param(r, "mid")))
}

// handleContractPayment handles POST /api/contracts/{id}/payment, the
// specification's path of funding a milestone.
func (s *Server) handleContractPayment(w http.ResponseWriter, r *http.Request) error {
	var req paymentRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	return s.writeMilestone(w)(s.contracts.Fund(r.Context(), principal(r), param(r, "id"), req.MilestoneID))
}

// handleMilestoneSubmit handles POST /api/contracts/{id}/milestones/{mid}/submit.
func (s *Server) handleMilestoneSubmit(w http.ResponseWriter, r *http.Request) error {
	var req submitMilestoneRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	return s.writeMilestone(w)(s.contracts.Submit(r.Context(), principal(r), param(r, "id"), param(r, "mid"),
		contract.Submission{Message: req.Message, Attachments: req.Attachments}))
}

// handleMilestoneApprove handles POST /api/contracts/{id}/milestones/{mid}/approve.
func (s *Server) handleMilestoneApprove(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.Approve(r.Context(), principal(r), param(r, "id"), param(r, "mid")))
}

// handleMilestoneChanges handles POST /api/contracts/{id}/milestones/{mid}/request-changes.
func (s *Server) handleMilestoneChanges(w http.ResponseWriter, r *http.Request) error {
	var req changesRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	return s.writeMilestone(w)(s.contracts.RequestChanges(r.Context(), principal(r), param(r, "id"), param(r, "mid"), req.Reason))
}

// handleMilestoneAccept handles POST /api/contracts/{id}/milestones/{mid}/accept:
// the worker accepts a milestone proposed beyond the agreed price.
func (s *Server) handleMilestoneAccept(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.Accept(r.Context(), principal(r), param(r, "id"), param(r, "mid")))
}

// handleMilestoneDecline handles POST /api/contracts/{id}/milestones/{mid}/decline.
func (s *Server) handleMilestoneDecline(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.Decline(r.Context(), principal(r), param(r, "id"), param(r, "mid")))
}

// writeMilestone answers with the milestone a service call returned.
func (s *Server) writeMilestone(w http.ResponseWriter) func(contract.Item, error) error {
	return func(it contract.Item, err error) error {
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, s.milestoneResponse(it))
	}
}

// handleContractEnd handles POST /api/contracts/{id}/end.
func (s *Server) handleContractEnd(w http.ResponseWriter, r *http.Request) error {
	var req endContractRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	c, err := s.contracts.End(r.Context(), principal(r), param(r, "id"), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContractResponse(c))
}

// handleDisputeCreate handles POST /api/contracts/{id}/disputes (either
// party): 201 with the dispute, Location its report.
func (s *Server) handleDisputeCreate(w http.ResponseWriter, r *http.Request) error {
	var req disputeRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	d, err := s.contracts.DisputeOf(r.Context(), principal(r), param(r, "id"), req.MilestoneID, req.TimesheetID, req.Reason)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/reports/"+d.ID)
	return writeJSON(w, http.StatusCreated, disputeResponse{ID: d.ID, ContractID: d.ContractID, MilestoneID: d.ItemID,
		By: partyResponse(d.By), Reason: d.Reason, CreatedAt: d.At.UTC()})
}

// handleMilestoneRefund handles POST /api/contracts/{id}/milestones/{mid}/refund:
// the buyer's refund of a rework whose deadline passed.
func (s *Server) handleMilestoneRefund(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.RefundMissed(r.Context(), principal(r), param(r, "id"), param(r, "mid")))
}

// handleTimesheetCreate handles POST /api/contracts/{id}/timesheets (its
// worker): 201 the week, submitted with its hours.
func (s *Server) handleTimesheetCreate(w http.ResponseWriter, r *http.Request) error {
	var req timesheetRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	ts, err := req.timesheet()
	if err != nil {
		return err
	}
	it, err := s.contracts.LogTime(r.Context(), principal(r), param(r, "id"), ts)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/contracts/"+it.ContractID+"/milestones/"+it.ID)
	return writeJSON(w, http.StatusCreated, s.milestoneResponse(it))
}

// handleTimesheets handles GET /api/contracts/{id}/timesheets: the weeks
// of an hourly contract, the latest first, paged.
func (s *Server) handleTimesheets(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[contract.Item], error) {
		return s.contracts.Timesheets(r.Context(), principal(r), param(r, "id"), p)
	}, s.milestoneResponse)
}

// handleTimesheetApprove handles PUT /api/timesheets/{id}/approve (the
// buyer).
func (s *Server) handleTimesheetApprove(w http.ResponseWriter, r *http.Request) error {
	return s.writeMilestone(w)(s.contracts.ApproveTimesheet(r.Context(), principal(r), param(r, "id")))
}

// handleContractResume handles POST /api/contracts/{id}/resume (the
// buyer of a paused hourly contract): the week then current is funded.
func (s *Server) handleContractResume(w http.ResponseWriter, r *http.Request) error {
	d, err := s.contracts.Resume(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.contractDetail(d))
}
