package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/reputation"
	"microtask/internal/task"
	"microtask/internal/user"
)

type statsResponse struct {
	TotalWorkers        int64     `json:"total_workers"`
	TotalBuyers         int64     `json:"total_buyers"`
	TotalCoins          int64     `json:"total_coins"`
	TotalPaymentsCents  int64     `json:"total_payments_cents"`
	DummyPaymentsCents  int64     `json:"dummy_payments_cents"`
	TotalPayoutsCents   int64     `json:"total_payouts_cents"`
	PlatformMarginCents int64     `json:"platform_margin_cents"`
	PendingWithdrawals  int64     `json:"pending_withdrawals"`
	OpenTasks           int64     `json:"open_tasks"`
	PendingSubmissions  int64     `json:"pending_submissions"`
	OpenReports         int64     `json:"open_reports"`
	ComputedAt          time.Time `json:"computed_at"`
}

// handleAdminStats handles GET /api/admin/stats.
func (s *Server) handleAdminStats(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	fresh := q.oneOf("fresh", "false", "true", "false") == "true"
	if err := q.err(); err != nil {
		return err
	}
	st, err := s.stats.Platform(r.Context(), principal(r), fresh)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, statsResponse{
		TotalWorkers: st.Workers, TotalBuyers: st.Buyers, TotalCoins: int64(st.Coins),
		TotalPaymentsCents: int64(st.Payments), DummyPaymentsCents: int64(st.DummyPayments), TotalPayoutsCents: int64(st.Payouts), PlatformMarginCents: int64(st.Margin),
		PendingWithdrawals: st.PendingWithdrawals, OpenTasks: st.OpenTasks, PendingSubmissions: st.PendingSubmissions,
		OpenReports: st.OpenReports, ComputedAt: st.ComputedAt,
	})
}

// handleAdminUsers handles GET /api/admin/users.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := user.Filter{
		Query:  q.text("q", 100),
		Role:   auth.Role(q.oneOf("role", "", "worker", "buyer", "admin")),
		Status: user.Status(q.oneOf("status", "", "active", "suspended", "deleted")),
	}
	return writePage(w, q, func(p page.Request) (page.Of[user.User], error) {
		return s.users.List(r.Context(), principal(r), f, p)
	}, toUserResponse)
}

type accountRequest struct {
	Role   *string `json:"role" validate:"omitempty,oneof=worker buyer admin"`
	Status *string `json:"status" validate:"omitempty,oneof=active suspended"`
	Reason string  `json:"reason" validate:"max=500"` // kept in the admin action log
}

var errNothingToChange = apperr.InvalidFields(apperr.FieldError{Field: "role", Message: "send a role, a status, or both"})

// handleAdminUserUpdate handles PUT /api/admin/users/{id}: role and/or status.
func (s *Server) handleAdminUserUpdate(w http.ResponseWriter, r *http.Request) error {
	var req accountRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if req.Role == nil && req.Status == nil {
		return errNothingToChange
	}
	id, p := param(r, "id"), principal(r)
	if req.Status != nil {
		if err := s.users.SetStatus(r.Context(), p, id, user.Status(*req.Status), req.Reason); err != nil {
			return err
		}
	}
	if req.Role != nil {
		if err := s.users.SetRole(r.Context(), p, id, auth.Role(*req.Role), req.Reason); err != nil {
			return err
		}
	}
	u, err := s.users.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toUserResponse(u))
}

// handleAdminTasks handles GET /api/admin/tasks.
func (s *Server) handleAdminTasks(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := task.AdminFilter{Query: q.text("q", 100), BuyerID: q.text("buyer_id", 64)}
	var recs map[string]reputation.Record
	return writePage(w, q, s.withBuyerRecords(r.Context(), func(p page.Request) (page.Of[task.Task], error) {
		return s.tasks.AdminList(r.Context(), principal(r), f, p)
	}, &recs), func(t task.Task) taskResponse { return s.taskResponse(t, recs) })
}

// handleAdminTaskDelete handles DELETE /api/admin/tasks/{id}.
func (s *Server) handleAdminTaskDelete(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	refunded, err := s.tasks.Remove(r.Context(), principal(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deleteTaskResponse{ID: id, Refunded: int64(refunded)})
}

type auditResponse struct {
	Balanced          bool  `json:"balanced"`
	Accounts          int   `json:"accounts"`
	Movements         int   `json:"movements"`           // operations that move coins
	MovementsInFlight int   `json:"movements_in_flight"` // of which started and not yet ended
	InFlightSum       int64 `json:"in_flight_sum"`
	Uncleared         int   `json:"uncleared"`
	Sum               int64 `json:"sum"`
	// Transfers and PendingTransfers are Movements and MovementsInFlight
	// under the names they had before the ledger's transfers became
	// operations (migration 0006); deprecated, kept for existing clients.
	Transfers        int      `json:"transfers"`
	PendingTransfers int      `json:"pending_transfers"`
	Problems         []string `json:"problems"`
}

// handleAdminAudit handles GET /api/admin/audit: the ledger audit.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.ledger.Audit(r.Context())
	if err != nil {
		return err
	}
	problems := rep.Problems
	if problems == nil {
		problems = []string{}
	}
	return writeJSON(w, http.StatusOK, auditResponse{Balanced: rep.Balanced, Accounts: rep.Accounts, Movements: rep.Movements,
		MovementsInFlight: rep.InFlight, InFlightSum: int64(rep.InFlightSum), Uncleared: rep.Uncleared, Sum: int64(rep.Sum),
		Transfers: rep.Movements, PendingTransfers: rep.InFlight, Problems: problems})
}

type adminActionResponse struct {
	ID         string    `json:"id"`
	AdminID    string    `json:"admin_id"`
	Kind       string    `json:"kind"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	Summary    string    `json:"summary"`
	Reason     string    `json:"reason"`
	CreatedAt  time.Time `json:"created_at"`
}

func toAdminActionResponse(e adminlog.Entry) adminActionResponse {
	return adminActionResponse{ID: e.ID, AdminID: e.AdminID, Kind: string(e.Kind), TargetType: e.TargetType,
		TargetID: e.TargetID, Summary: e.Summary, Reason: e.Reason, CreatedAt: e.At.UTC()}
}

// handleAdminActions handles GET /api/admin/actions: what admins did to
// money, roles and statuses, newest first.
func (s *Server) handleAdminActions(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := adminlog.Filter{AdminID: q.text("admin_id", 64), TargetID: q.text("target_id", 64), Kind: adminlog.Kind(q.text("kind", 64))}
	return writePage(w, q, func(p page.Request) (page.Of[adminlog.Entry], error) {
		return s.adminLog.List(r.Context(), principal(r), f, p)
	}, toAdminActionResponse)
}
