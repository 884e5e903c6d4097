package httpapi

import (
	"net/http"

	"microtask/internal/notification"
	"microtask/internal/user"
)

// emailPreferences says, per kind of notification, whether it is mailed as
// well. In a request, a kind left out stays as it was.
type emailPreferences struct {
	SubmissionApproved *bool `json:"submission_approved"`
	SubmissionRejected *bool `json:"submission_rejected"`
	WithdrawalPaid     *bool `json:"withdrawal_paid"`
	ReportDecided      *bool `json:"report_decided"`
	Messages           *bool `json:"messages"`      // on unless turned off
	Announcements      *bool `json:"announcements"` // on unless turned off
}

// fields pairs each field with the kind it stands for.
func (p *emailPreferences) fields() map[notification.Type]**bool {
	return map[notification.Type]**bool{
		notification.SubmissionApproved: &p.SubmissionApproved,
		notification.SubmissionRejected: &p.SubmissionRejected,
		notification.WithdrawalPaid:     &p.WithdrawalPaid,
		notification.ReportDecided:      &p.ReportDecided,
		notification.MessagesMail:       &p.Messages,
		notification.AnnouncementsMail:  &p.Announcements,
	}
}

type preferencesRequest struct {
	Email *emailPreferences `json:"email" validate:"required"`
}

type preferencesResponse struct {
	Email emailPreferences `json:"email"`
}

func toPreferencesResponse(u user.User) preferencesResponse {
	var r preferencesResponse
	for kind, f := range r.Email.fields() {
		on := u.WantsEmail(string(kind))
		*f = &on
	}
	return r
}

// handlePreferencesGet handles GET /api/users/{id}/preferences.
func (s *Server) handlePreferencesGet(w http.ResponseWriter, r *http.Request) error {
	u, err := s.users.Preferences(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPreferencesResponse(u))
}

// handlePreferencesUpdate handles PUT /api/users/{id}/preferences.
func (s *Server) handlePreferencesUpdate(w http.ResponseWriter, r *http.Request) error {
	var req preferencesRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	change := map[string]bool{}
	for kind, f := range req.Email.fields() {
		if *f != nil {
			change[string(kind)] = **f
		}
	}
	u, err := s.users.SetEmailOptIns(r.Context(), principal(r), param(r, "id"), change)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPreferencesResponse(u))
}
