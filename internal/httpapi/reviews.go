package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/review"
)

// createReviewRequest is the body of POST /api/reviews: about a
// submission or a contract, one of the two. The review service checks
// every other field.
type createReviewRequest struct {
	SubmissionID string `json:"submission_id"`
	ContractID   string `json:"contract_id"`
	Rating       int    `json:"rating"`
	Comment      string `json:"comment"`
}

// subject is what the review is about: a contract if contract_id is set,
// and a submission otherwise (as before contracts); both is a 422.
func (r createReviewRequest) subject() (review.Ref, error) {
	switch {
	case r.ContractID != "" && r.SubmissionID != "":
		return review.Ref{}, apperr.InvalidFields(apperr.FieldError{Field: "contract_id", Message: "give submission_id or contract_id, not both"})
	case r.ContractID != "":
		return review.Ref{Type: review.SubjectContract, ID: r.ContractID}, nil
	}
	return review.Ref{Type: review.SubjectSubmission, ID: r.SubmissionID}, nil
}

type reviewSubjectResponse struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Title string `json:"title"`
}

type reviewerResponse struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Role auth.Role `json:"role"`
}

type replyResponse struct {
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

type removalResponse struct {
	Reason    string    `json:"reason"`
	RemovedBy string    `json:"removed_by"`
	RemovedAt time.Time `json:"removed_at"`
}

// reviewResponse is a review as those who may see it see it; Removal only
// for admins, who alone see a removed review.
type reviewResponse struct {
	ID         string                `json:"id"`
	About      reviewSubjectResponse `json:"about"`
	Reviewer   reviewerResponse      `json:"reviewer"`
	RevieweeID string                `json:"reviewee_id"`
	Rating     int                   `json:"rating"`
	Comment    string                `json:"comment"`
	Status     review.Status         `json:"status"`
	CreatedAt  time.Time             `json:"created_at"`
	VisibleAt  time.Time             `json:"visible_at"`
	Reply      *replyResponse        `json:"reply"`
	Removal    *removalResponse      `json:"removal,omitempty"`
}

func (s *Server) reviewResponse(r review.Review) reviewResponse {
	res := reviewResponse{ID: r.ID, About: reviewSubjectResponse{Type: string(r.Subject.Type), ID: r.Subject.ID, Title: r.SubjectTitle},
		Reviewer: reviewerResponse{ID: r.Author.ID, Name: r.Author.Name, Role: r.AuthorRole}, RevieweeID: r.RevieweeID,
		Rating: r.Rating, Comment: r.Comment, Status: s.reviews.StatusNow(r), CreatedAt: r.CreatedAt.UTC(), VisibleAt: r.VisibleAt.UTC()}
	if !r.RepliedAt.IsZero() {
		res.Reply = &replyResponse{Text: r.Reply, CreatedAt: r.RepliedAt.UTC()}
	}
	if r.Removed {
		res.Removal = &removalResponse{Reason: r.RemovalReason, RemovedBy: r.RemovedBy, RemovedAt: r.RemovedAt.UTC()}
	}
	return res
}

// handleReviewCreate handles POST /api/reviews.
func (s *Server) handleReviewCreate(w http.ResponseWriter, r *http.Request) error {
	var req createReviewRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	ref, err := req.subject()
	if err != nil {
		return err
	}
	rv, err := s.reviews.Post(r.Context(), principal(r), review.New{Subject: ref, Rating: req.Rating, Comment: req.Comment})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/reviews/"+rv.ID)
	return writeJSON(w, http.StatusCreated, s.reviewResponse(rv))
}

// handleReviewGet handles GET /api/reviews/{id}.
func (s *Server) handleReviewGet(w http.ResponseWriter, r *http.Request) error {
	rv, err := s.reviews.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.reviewResponse(rv))
}

type replyRequest struct {
	Text string `json:"text"`
}

// handleReviewReply handles POST /api/reviews/{id}/reply.
func (s *Server) handleReviewReply(w http.ResponseWriter, r *http.Request) error {
	var req replyRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	rv, err := s.reviews.Reply(r.Context(), principal(r), param(r, "id"), req.Text)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.reviewResponse(rv))
}

// handleUserReviews handles GET /api/users/{id}/reviews: the visible
// reviews about the user, newest first; one read of the user, one find
// and one count.
func (s *Server) handleUserReviews(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	rating := q.int("rating", 0, review.MinRating, review.MaxRating)
	return writePage(w, q, func(p page.Request) (page.Of[review.Review], error) {
		return s.reviews.About(r.Context(), param(r, "id"), rating, p)
	}, s.reviewResponse)
}

type removeReviewRequest struct {
	Reason string `json:"reason"`
}

// handleAdminReviewDelete handles DELETE /api/admin/reviews/{id}.
func (s *Server) handleAdminReviewDelete(w http.ResponseWriter, r *http.Request) error {
	var req removeReviewRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if err := s.reviews.Remove(r.Context(), principal(r), param(r, "id"), req.Reason); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
