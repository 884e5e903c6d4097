package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/announcement"
)

// announcementRequest is the body of POST /api/admin/announcements; its
// tags repeat the announcement service's bounds for the contract.
type announcementRequest struct {
	Audience string `json:"audience" validate:"required,oneof=all workers buyers"`
	Title    string `json:"title" validate:"required,max=200"`
	Body     string `json:"body" validate:"required,max=5000"`
	Email    bool   `json:"email"`
}

func (r *announcementRequest) trim() {
	r.Audience, r.Title, r.Body = strings.TrimSpace(r.Audience), strings.TrimSpace(r.Title), strings.TrimSpace(r.Body)
}

type announcementResponse struct {
	ID         string     `json:"id"`
	Audience   string     `json:"audience"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	Email      bool       `json:"email"`
	Recipients int64      `json:"recipients"`
	Delivered  int64      `json:"delivered"`
	Emailed    int64      `json:"emailed"`
	Done       bool       `json:"done"`
	CreatedAt  time.Time  `json:"created_at"`
	DoneAt     *time.Time `json:"done_at"`
}

func toAnnouncementResponse(a announcement.Announcement) announcementResponse {
	res := announcementResponse{ID: a.ID, Audience: string(a.Audience), Title: a.Title, Body: a.Body, Email: a.Email,
		Recipients: a.Recipients, Delivered: a.Delivered, Emailed: a.Emailed, Done: a.Done, CreatedAt: a.CreatedAt.UTC()}
	if !a.DoneAt.IsZero() {
		at := a.DoneAt.UTC()
		res.DoneAt = &at
	}
	return res
}

// handleAnnouncementCreate handles POST /api/admin/announcements: 202, the
// delivery runs in the background.
func (s *Server) handleAnnouncementCreate(w http.ResponseWriter, r *http.Request) error {
	var req announcementRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	a, err := s.announcements.Create(r.Context(), principal(r), announcement.Draft{Audience: announcement.Audience(req.Audience),
		Title: req.Title, Body: req.Body, Email: req.Email})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/admin/announcements/"+a.ID)
	return writeJSON(w, http.StatusAccepted, toAnnouncementResponse(a))
}

// handleAnnouncementGet handles GET /api/admin/announcements/{id}: its
// progress.
func (s *Server) handleAnnouncementGet(w http.ResponseWriter, r *http.Request) error {
	a, err := s.announcements.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAnnouncementResponse(a))
}
