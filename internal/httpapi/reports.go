package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/chat"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/report"
)

// createReportRequest and decideReportRequest repeat the report service's
// bounds in their tags for the contract; TestReportBoundsAreTheService
// holds the two together.
type createReportRequest struct {
	TargetType string `json:"target_type" validate:"required,oneof=task submission user message"`
	TargetID   string `json:"target_id" validate:"required,max=64"`
	Reason     string `json:"reason" validate:"required,min=10,max=1000"`
}

func (r *createReportRequest) trim() {
	r.TargetType, r.TargetID, r.Reason = strings.TrimSpace(r.TargetType), strings.TrimSpace(r.TargetID), strings.TrimSpace(r.Reason)
}

type decideReportRequest struct {
	Status string `json:"status" validate:"required,oneof=resolved dismissed"`
	Note   string `json:"note" validate:"max=1000"`
	Action string `json:"action" validate:"omitempty,oneof=overturn_rejection rework suspend_user delete_task release refund split"`
	// WorkerCoins is the worker's part of a disputed milestone, for the
	// action split only (the services check that, and its bounds).
	WorkerCoins int64 `json:"worker_coins"`
	// Deadline is when the worker's revision is due, for the action
	// rework only (the report service checks that).
	Deadline string `json:"deadline"`
}

// verdict is the decision for the report service.
func (r decideReportRequest) verdict() (report.Verdict, error) {
	v := report.Verdict{Status: report.Status(r.Status), Note: r.Note, Action: report.Action(r.Action), WorkerCoins: money.Coins(r.WorkerCoins)}
	if d := strings.TrimSpace(r.Deadline); d != "" {
		at, err := time.Parse(time.RFC3339, d)
		if err != nil {
			return report.Verdict{}, apperr.InvalidFields(apperr.FieldError{Field: "deadline",
				Message: "must be an RFC 3339 date and time, e.g. 2026-12-31T23:59:00Z"})
		}
		v.Deadline = at
	}
	return v, nil
}

type reportResponse struct {
	ID         string        `json:"id"`
	Reporter   partyResponse `json:"reporter"`
	TargetType string        `json:"target_type"`
	TargetID   string        `json:"target_id"`
	Reason     string        `json:"reason"`
	Status     string        `json:"status"`
	Note       string        `json:"note"`
	Action     string        `json:"action"`
	CreatedAt  time.Time     `json:"created_at"`
	DecidedAt  *time.Time    `json:"decided_at"`
}

func toReportResponse(rp report.Report) reportResponse {
	res := reportResponse{ID: rp.ID, Reporter: partyResponse(rp.Reporter), TargetType: string(rp.TargetType), TargetID: rp.TargetID,
		Reason: rp.Reason, Status: string(rp.Status), Note: rp.Note, Action: string(rp.Action), CreatedAt: rp.CreatedAt.UTC()}
	if !rp.DecidedAt.IsZero() {
		at := rp.DecidedAt.UTC()
		res.DecidedAt = &at
	}
	return res
}

// reportWithTargetResponse is a report as the admin deciding it sees it.
type reportWithTargetResponse struct {
	reportResponse
	Target *reportTargetResponse `json:"target"` // null: it no longer exists
}

// reportTargetResponse has the one field of the report's target type.
type reportTargetResponse struct {
	Task       *taskResponse        `json:"task,omitempty"`
	Submission *submissionResponse  `json:"submission,omitempty"`
	User       *userResponse        `json:"user,omitempty"`
	Message    *evidenceResponse    `json:"message,omitempty"`
	Dispute    *disputeCaseResponse `json:"dispute,omitempty"`
}

// disputeCaseResponse is a disputed milestone as the admin deciding it
// sees it: the contract, the milestone with the worker's latest
// submission, and the parties' latest messages, oldest first.
type disputeCaseResponse struct {
	Contract     contractResponse  `json:"contract"`
	Milestone    milestoneResponse `json:"milestone"`
	Conversation []messageResponse `json:"conversation"`
}

// evidenceResponse is a reported message with its context: the messages
// before it in its conversation, and both users' cards.
type evidenceResponse struct {
	messageResponse
	FromUser cardResponse      `json:"from_user"`
	ToUser   cardResponse      `json:"to_user"`
	Before   []messageResponse `json:"before"`
}

func toEvidenceResponse(e chat.Evidence) *evidenceResponse {
	res := &evidenceResponse{messageResponse: toMessageResponse(e.Message), FromUser: toCardResponse(e.From), ToUser: toCardResponse(e.To),
		Before: make([]messageResponse, len(e.Before))}
	for i, m := range e.Before {
		res.Before[i] = toMessageResponse(m)
	}
	return res
}

func (s *Server) reportWithTarget(ctx context.Context, rp report.Report, t report.Target) (reportWithTargetResponse, error) {
	var target reportTargetResponse
	switch {
	case t.Task != nil:
		res, err := s.taskWithRecord(ctx, *t.Task)
		if err != nil {
			return reportWithTargetResponse{}, err
		}
		target.Task = &res
	case t.Submission != nil:
		res := toSubmissionResponse(*t.Submission)
		target.Submission = &res
	case t.User != nil:
		res := toUserResponse(*t.User)
		target.User = &res
	case t.Message != nil:
		target.Message = toEvidenceResponse(*t.Message)
	case t.Contract != nil && t.Milestone != nil:
		dc := &disputeCaseResponse{Contract: toContractResponse(*t.Contract), Milestone: s.milestoneResponse(*t.Milestone),
			Conversation: make([]messageResponse, len(t.Conversation))}
		for i, m := range t.Conversation {
			dc.Conversation[i] = toMessageResponse(m)
		}
		target.Dispute = dc
	default:
		return reportWithTargetResponse{reportResponse: toReportResponse(rp)}, nil
	}
	return reportWithTargetResponse{reportResponse: toReportResponse(rp), Target: &target}, nil
}

// handleReportCreate handles POST /api/reports.
func (s *Server) handleReportCreate(w http.ResponseWriter, r *http.Request) error {
	var req createReportRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	rp, err := s.reports.Create(r.Context(), principal(r), report.TargetType(req.TargetType), req.TargetID, req.Reason)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/reports/"+rp.ID)
	return writeJSON(w, http.StatusCreated, toReportResponse(rp))
}

// handleReportGet handles GET /api/reports/{id}: its reporter, or an admin.
func (s *Server) handleReportGet(w http.ResponseWriter, r *http.Request) error {
	rp, err := s.reports.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toReportResponse(rp))
}

// handleReportMine handles GET /api/reports/my.
func (s *Server) handleReportMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[report.Report], error) {
		return s.reports.Mine(r.Context(), principal(r), p)
	}, toReportResponse)
}

// handleAdminReports handles GET /api/admin/reports.
func (s *Server) handleAdminReports(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	status := report.Status(q.oneOf("status", "", "open", "resolved", "dismissed"))
	return writePage(w, q, func(p page.Request) (page.Of[report.Report], error) {
		return s.reports.List(r.Context(), principal(r), status, p)
	}, toReportResponse)
}

// handleAdminReportGet handles GET /api/admin/reports/{id}: the report and
// what it is about, the submission with its proof, the task or the user.
func (s *Server) handleAdminReportGet(w http.ResponseWriter, r *http.Request) error {
	rp, target, err := s.reports.WithTarget(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	res, err := s.reportWithTarget(r.Context(), rp, target)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// handleAdminReportDecide handles PUT /api/admin/reports/{id}.
func (s *Server) handleAdminReportDecide(w http.ResponseWriter, r *http.Request) error {
	var req decideReportRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	v, err := req.verdict()
	if err != nil {
		return err
	}
	rp, err := s.reports.DecideWith(r.Context(), principal(r), param(r, "id"), v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toReportResponse(rp))
}
