package httpapi

import "net/http"

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
}

// handleConfig handles GET /api/config.
func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) error {
	worker, buyer := s.users.SignupBonuses()
	min, rate := s.withdrawals.Terms()
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, configResponse{
		Packages: s.packages(), SignupBonusWorker: int64(worker), SignupBonusBuyer: int64(buyer),
		WithdrawalMinCoins: int64(min), WithdrawalCoinsPerUSD: rate, WithdrawalMethods: s.withdrawals.Systems(),
		AutoApproveAfterHours: s.tasks.AutoApproveAfter().Hours(), PaymentProvider: s.payments.Provider(),
	})
}
