package httpapi

import (
	"net/http"

	"microtask/internal/reputation"
)

// configResponse is what the app renders with and would otherwise have to
// hard-code: prices, bonuses, the withdrawal terms and the review delay.
type configResponse struct {
	Packages              []packageResponse `json:"packages"`
	SignupBonusWorker     int64             `json:"signup_bonus_worker"`
	SignupBonusBuyer      int64             `json:"signup_bonus_buyer"`
	WithdrawalMinCoins    int64             `json:"withdrawal_min_coins"`
	WithdrawalCoinsPerUSD int64             `json:"withdrawal_coins_per_dollar"`
	WithdrawalMethods     []string          `json:"withdrawal_methods"`
	AutoApproveAfterHours float64           `json:"auto_approve_after_hours"`
	PaymentProvider       string            `json:"payment_provider"`
	Levels                []levelResponse   `json:"levels"`
}

// levelResponse is what a worker needs for a level (reputation.Rule).
type levelResponse struct {
	Level           int      `json:"level"`
	MinApproved     int64    `json:"min_approved"`
	MinApprovalRate float64  `json:"min_approval_rate"`
	MinRating       *float64 `json:"min_rating"` // null: none
	MinReviews      int64    `json:"min_reviews"`
	MinAccountDays  int      `json:"min_account_days"`
}

func levels() []levelResponse {
	out := make([]levelResponse, len(reputation.Levels))
	for i, u := range reputation.Levels {
		out[i] = levelResponse{Level: u.Level, MinApproved: u.MinApproved, MinApprovalRate: u.MinApprovalRate,
			MinRating: nonZero(u.MinRating), MinReviews: u.MinReviews, MinAccountDays: int(u.MinAge.Hours() / 24)}
	}
	return out
}

// handleConfig handles GET /api/config.
func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) error {
	worker, buyer := s.users.SignupBonuses()
	min, rate := s.withdrawals.Terms()
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, configResponse{
		Packages: s.packages(), SignupBonusWorker: int64(worker), SignupBonusBuyer: int64(buyer),
		WithdrawalMinCoins: int64(min), WithdrawalCoinsPerUSD: rate, WithdrawalMethods: s.withdrawals.Systems(),
		AutoApproveAfterHours: s.tasks.AutoApproveAfter().Hours(), PaymentProvider: s.payments.Provider(), Levels: levels(),
	})
}
