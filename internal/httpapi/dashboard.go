package httpapi

import (
	"net/http"

	"microtask/internal/auth"
)

// The two answers of GET /api/dashboard/stats carry the caller's role, which
// the contract's discriminator names, so that a generated client gets the
// right type without a cast.
type workerStatsResponse struct {
	Role               string `json:"role"` // worker
	TotalSubmissions   int64  `json:"total_submissions"`
	PendingSubmissions int64  `json:"pending_submissions"`
	TotalEarnings      int64  `json:"total_earnings"`
}

type buyerStatsResponse struct {
	Role         string `json:"role"` // buyer
	TotalTasks   int64  `json:"total_tasks"`
	PendingSlots int64  `json:"pending_slots"`
	TotalPaid    int64  `json:"total_paid"`
}

// handleDashboardStats handles GET /api/dashboard/stats: the figures of the
// caller's role.
func (s *Server) handleDashboardStats(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	switch p.Role {
	case auth.RoleWorker:
		st, err := s.submissions.WorkerStats(r.Context(), p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, workerStatsResponse{"worker", st.TotalSubmissions, st.PendingSubmissions, int64(st.TotalEarnings)})
	case auth.RoleBuyer:
		st, err := s.submissions.BuyerStats(r.Context(), p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, buyerStatsResponse{"buyer", st.TotalTasks, st.PendingSlots, int64(st.TotalPaid)})
	}
	return auth.ErrWrongRole
}
