package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/page"
	"microtask/internal/reservation"
)

type reservationResponse struct {
	ID        string     `json:"id"`
	TaskID    string     `json:"task_id"`
	TaskTitle string     `json:"task_title"`
	Status    string     `json:"status"`
	ExpiresAt time.Time  `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	EndedAt   *time.Time `json:"ended_at"`
}

func toReservationResponse(r reservation.Reservation) reservationResponse {
	res := reservationResponse{ID: r.ID, TaskID: r.TaskID, TaskTitle: r.TaskTitle, Status: string(r.Status),
		ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
	if !r.EndedAt.IsZero() {
		at := r.EndedAt.UTC()
		res.EndedAt = &at
	}
	return res
}

// handleReservationCreate handles POST /api/tasks/{id}/reservations.
func (s *Server) handleReservationCreate(w http.ResponseWriter, r *http.Request) error {
	res, err := s.reservations.Reserve(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/reservations/"+res.ID)
	return writeJSON(w, http.StatusCreated, toReservationResponse(res))
}

// handleReservationMine handles GET /api/reservations/my.
func (s *Server) handleReservationMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[reservation.Reservation], error) {
		return s.reservations.Mine(r.Context(), principal(r), p)
	}, toReservationResponse)
}

// handleReservationGet handles GET /api/reservations/{id}.
func (s *Server) handleReservationGet(w http.ResponseWriter, r *http.Request) error {
	res, err := s.reservations.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toReservationResponse(res))
}

// handleReservationDelete handles DELETE /api/reservations/{id}.
func (s *Server) handleReservationDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.reservations.Release(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
