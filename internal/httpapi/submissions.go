package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/submission"
)

// The submission request types' tags repeat the submission service's
// bounds (submission.MaxDetailsLen and the others) for the contract;
// TestSubmissionBoundsAreTheService holds the two together.
type createSubmissionRequest struct {
	TaskID  string `json:"task_id" validate:"required,max=64"`
	Details string `json:"submission_details" validate:"required,max=5000"`
}

func (r *createSubmissionRequest) trim() {
	r.TaskID, r.Details = strings.TrimSpace(r.TaskID), strings.TrimSpace(r.Details)
}

type rejectRequest struct {
	Reason string `json:"reason" validate:"required,max=500"` // at least submission.MinRejectReason characters, which the service checks
}

type submissionResponse struct {
	ID         string        `json:"id"`
	TaskID     string        `json:"task_id"`
	TaskTitle  string        `json:"task_title"`
	Pay        int64         `json:"payable_amount"`
	Worker     partyResponse `json:"worker"`
	Buyer      partyResponse `json:"buyer"`
	Details    string        `json:"submission_details"`
	Status     string        `json:"status"`
	Reason     string        `json:"reason"`
	CreatedAt  time.Time     `json:"created_at"`
	ReviewedAt *time.Time    `json:"reviewed_at"`
	// AutoApproveAt is when a pending submission is approved unless its
	// buyer reviews it first; null once reviewed.
	AutoApproveAt *time.Time `json:"auto_approve_at"`
	Bonus         int64      `json:"bonus"` // bonuses paid for it, in all
	// The buyer's one revision request: its reason ("" if none), and the
	// deadline while the submission waits for the worker's revision.
	RevisionReason   string     `json:"revision_reason"`
	RevisionDeadline *time.Time `json:"revision_deadline"`
	// WorkerRecord is the worker's track record, in the lists a buyer
	// reviews from.
	WorkerRecord *workerRecordResponse `json:"worker_record,omitempty"`
}

func toSubmissionResponse(s submission.Submission) submissionResponse {
	res := submissionResponse{
		ID: s.ID, TaskID: s.TaskID, TaskTitle: s.TaskTitle, Pay: int64(s.Pay), Worker: partyResponse(s.Worker),
		Buyer: partyResponse(s.Buyer), Details: s.Details, Status: string(s.Status), Reason: s.Reason,
		CreatedAt: s.CreatedAt.UTC(), Bonus: int64(s.Bonus), RevisionReason: s.RevisionReason,
	}
	if s.Status == submission.StatusRevision {
		at := s.RevisionDeadline.UTC()
		res.RevisionDeadline = &at
	}
	if !s.ReviewedAt.IsZero() {
		at := s.ReviewedAt.UTC()
		res.ReviewedAt = &at
	}
	if s.Status == submission.StatusPending && !s.AutoApproveAt.IsZero() {
		at := s.AutoApproveAt.UTC()
		res.AutoApproveAt = &at
	}
	return res
}

// statusFilter reads the status filter of submission lists: any status the
// schema lists.
func statusFilter(q *query) submission.Status {
	all := make([]string, len(submission.Statuses))
	for i, st := range submission.Statuses {
		all[i] = string(st)
	}
	return submission.Status(q.oneOf("status", "", all...))
}

// handleSubmissionCreate handles POST /api/submissions.
func (s *Server) handleSubmissionCreate(w http.ResponseWriter, r *http.Request) error {
	var req createSubmissionRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sub, err := s.submissions.Submit(r.Context(), principal(r), req.TaskID, req.Details)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/submissions/"+sub.ID)
	return writeJSON(w, http.StatusCreated, toSubmissionResponse(sub))
}

// handleSubmissionMine handles GET /api/submissions/my.
func (s *Server) handleSubmissionMine(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	status := statusFilter(q)
	return writePage(w, q, func(p page.Request) (page.Of[submission.Submission], error) {
		return s.submissions.Mine(r.Context(), principal(r), status, p)
	}, toSubmissionResponse)
}

// handleSubmissionApproved handles GET /api/submissions/approved.
func (s *Server) handleSubmissionApproved(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[submission.Submission], error) {
		return s.submissions.Mine(r.Context(), principal(r), submission.StatusApproved, p)
	}, toSubmissionResponse)
}

// handleSubmissionToReview handles GET /api/submissions/to-review.
func (s *Server) handleSubmissionToReview(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	oldest := q.oneOf("sort", "newest", "newest", "oldest") == "oldest"
	list, conv := s.reviewPage(r.Context(), func(p page.Request) (page.Of[submission.Submission], error) {
		return s.submissions.ToReview(r.Context(), principal(r), oldest, p)
	})
	return writePage(w, q, list, conv)
}

// handleSubmissionGet handles GET /api/submissions/{id}.
func (s *Server) handleSubmissionGet(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.submissions.View(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}

// handleTaskSubmissions handles GET /api/tasks/{id}/submissions.
func (s *Server) handleTaskSubmissions(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	status := statusFilter(q)
	list, conv := s.reviewPage(r.Context(), func(p page.Request) (page.Of[submission.Submission], error) {
		return s.submissions.OfTask(r.Context(), principal(r), param(r, "id"), status, p)
	})
	return writePage(w, q, list, conv)
}

// handleAdminSubmissions handles GET /api/admin/submissions.
func (s *Server) handleAdminSubmissions(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := submission.Filter{Status: statusFilter(q), TaskID: q.text("task_id", 64), WorkerID: q.text("worker_id", 64), BuyerID: q.text("buyer_id", 64)}
	return writePage(w, q, func(p page.Request) (page.Of[submission.Submission], error) {
		return s.submissions.AdminList(r.Context(), principal(r), f, p)
	}, toSubmissionResponse)
}

// handleSubmissionApprove handles PUT /api/submissions/{id}/approve.
func (s *Server) handleSubmissionApprove(w http.ResponseWriter, r *http.Request) error {
	sub, err := s.submissions.Approve(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}

// handleSubmissionReject handles PUT /api/submissions/{id}/reject. The body,
// {reason}, may be left out.
func (s *Server) handleSubmissionReject(w http.ResponseWriter, r *http.Request) error {
	var req rejectRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sub, err := s.submissions.Reject(r.Context(), principal(r), param(r, "id"), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}

type bonusRequest struct {
	Coins  int64  `json:"coins" validate:"required,min=1,max=10000"`
	Reason string `json:"reason" validate:"max=500"`
}

func (r *bonusRequest) trim() { r.Reason = strings.TrimSpace(r.Reason) }

// handleSubmissionBonus handles POST /api/submissions/{id}/bonus.
func (s *Server) handleSubmissionBonus(w http.ResponseWriter, r *http.Request) error {
	var req bonusRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sub, err := s.submissions.Bonus(r.Context(), principal(r), param(r, "id"), money.Coins(req.Coins), req.Reason,
		r.Header.Get("Idempotency-Key")) // checked by s.idempotent
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}

type bulkReviewRequest struct {
	IDs      []string `json:"ids" validate:"required,min=1,max=100,unique,dive,required,max=64"`
	Decision string   `json:"decision" validate:"required,oneof=approve reject"`
	Reason   string   `json:"reason" validate:"max=500"` // required to reject, which the service checks
}

type bulkReviewResult struct {
	ID         string              `json:"id"`
	Status     int                 `json:"status"`         // what the single review would have answered
	Code       string              `json:"code,omitempty"` // and its problem's code and detail, if it failed
	Detail     string              `json:"detail,omitempty"`
	Submission *submissionResponse `json:"submission,omitempty"`
}

// handleSubmissionReviews handles POST /api/submissions/reviews: up to 100
// approvals or rejections, each answered as its single review would be.
func (s *Server) handleSubmissionReviews(w http.ResponseWriter, r *http.Request) error {
	var req bulkReviewRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	outcomes, err := s.submissions.ReviewMany(r.Context(), principal(r), req.IDs, req.Decision == "approve", req.Reason)
	if err != nil {
		return err
	}
	results := make([]bulkReviewResult, len(outcomes))
	for i, o := range outcomes {
		results[i] = bulkReviewResult{ID: o.ID, Status: http.StatusOK}
		if o.Err != nil {
			ae := s.clientError(r, o.Err)
			results[i].Status, results[i].Code, results[i].Detail = statusOf(ae.Kind), ae.Code, ae.Message
			continue
		}
		res := toSubmissionResponse(o.Submission)
		results[i].Submission = &res
	}
	return writeJSON(w, http.StatusOK, struct {
		Results []bulkReviewResult `json:"results"`
	}{results})
}

// handleSubmissionRequestRevision handles PUT
// /api/submissions/{id}/request-revision.
func (s *Server) handleSubmissionRequestRevision(w http.ResponseWriter, r *http.Request) error {
	var req rejectRequest // the same reason, with the same rules
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sub, err := s.submissions.RequestRevision(r.Context(), principal(r), param(r, "id"), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}

type resubmitRequest struct {
	Details string `json:"submission_details" validate:"required,max=5000"`
}

func (r *resubmitRequest) trim() { r.Details = strings.TrimSpace(r.Details) }

// handleSubmissionResubmit handles PUT /api/submissions/{id}: the worker's
// revision.
func (s *Server) handleSubmissionResubmit(w http.ResponseWriter, r *http.Request) error {
	var req resubmitRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sub, err := s.submissions.Resubmit(r.Context(), principal(r), param(r, "id"), req.Details)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSubmissionResponse(sub))
}
