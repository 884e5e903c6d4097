package httpapi

import (
	"errors"
	"microtask/internal/auth"
	"net/http"
	"strings"
	"time"

	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/withdrawal"
)

// createWithdrawalRequest is the body of POST /api/withdrawals. Its tags
// repeat the withdrawal service's bounds for the contract (the minimum and
// the payment systems, configured, are the service's alone);
// TestWithdrawalBoundsAreTheService holds the two together.
type createWithdrawalRequest struct {
	Coins         int64  `json:"withdrawal_coin" validate:"required,gte=1,lte=100000000"`
	System        string `json:"payment_system" validate:"required,max=40"`
	AccountNumber string `json:"account_number" validate:"required,min=4,max=40,printascii"`
}

func (r *createWithdrawalRequest) trim() {
	r.System, r.AccountNumber = strings.TrimSpace(r.System), strings.TrimSpace(r.AccountNumber)
}

type workerResponse struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type withdrawalResponse struct {
	ID            string         `json:"id"`
	Coins         int64          `json:"withdrawal_coin"`
	AmountCents   int64          `json:"withdrawal_amount_cents"`
	System        string         `json:"payment_system"`
	AccountNumber string         `json:"account_number"`
	Status        string         `json:"status"`
	Reason        string         `json:"reason"`
	Worker        workerResponse `json:"worker"`
	CreatedAt     time.Time      `json:"created_at"`
	DecidedAt     *time.Time     `json:"decided_at"`
	DecidedBy     string         `json:"decided_by,omitempty"` // admins only
	Risk          *riskResponse  `json:"risk,omitempty"`       // admins only
}

type riskResponse struct {
	Score            int      `json:"score"`
	Level            string   `json:"level"`
	AccountAgeHours  int64    `json:"account_age_hours"`
	EarnedCoins      int64    `json:"earned_coins"`
	UnfundedCoins    int64    `json:"unfunded_coins"`
	UnfundedSharePct int      `json:"unfunded_share_pct"`
	PayingBuyers     int      `json:"paying_buyers"`
	EmailVerified    bool     `json:"email_verified"`
	Reasons          []string `json:"reasons"`
}

func toWithdrawalResponse(w withdrawal.Withdrawal) withdrawalResponse {
	res := withdrawalResponse{
		ID: w.ID, Coins: int64(w.Coins), AmountCents: int64(w.Amount), System: w.System, AccountNumber: w.AccountNumber,
		Status: string(w.Status), Reason: w.Reason, Worker: workerResponse(w.Worker), CreatedAt: w.CreatedAt.UTC(),
	}
	if !w.DecidedAt.IsZero() {
		at := w.DecidedAt.UTC()
		res.DecidedAt = &at
	}
	return res
}

// toAdminWithdrawalResponse adds what admins judge a withdrawal by, which
// its worker does not see.
func toAdminWithdrawalResponse(w withdrawal.Withdrawal) withdrawalResponse {
	res := toWithdrawalResponse(w)
	res.DecidedBy = w.DecidedBy
	if r := w.Risk; r != nil {
		res.Risk = &riskResponse{Score: r.Score, Level: r.Level(), AccountAgeHours: int64(r.AccountAge.Hours()),
			EarnedCoins: int64(r.Earned), UnfundedCoins: int64(r.Unfunded), UnfundedSharePct: r.UnfundedShare(),
			PayingBuyers: r.PayingBuyers, EmailVerified: r.EmailVerified, Reasons: r.Reasons}
	}
	return res
}

type withdrawalTermsResponse struct {
	MinCoins       int64    `json:"min_coins"`
	CoinsPerDollar int64    `json:"coins_per_dollar"`
	Methods        []string `json:"methods"`
}

// handleWithdrawalTerms handles GET /api/withdrawals/terms.
func (s *Server) handleWithdrawalTerms(w http.ResponseWriter, r *http.Request) error {
	min, rate := s.withdrawals.Terms()
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, withdrawalTermsResponse{MinCoins: int64(min), CoinsPerDollar: rate, Methods: s.withdrawals.Systems()})
}

// handleWithdrawalMethods handles GET /api/withdrawals/methods.
func (s *Server) handleWithdrawalMethods(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, s.withdrawals.Systems())
}

// handleWithdrawalCreate handles POST /api/withdrawals.
func (s *Server) handleWithdrawalCreate(w http.ResponseWriter, r *http.Request) error {
	var req createWithdrawalRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	wd, err := s.withdrawals.Request(r.Context(), principal(r), withdrawal.Request{
		Coins: money.Coins(req.Coins), System: req.System, AccountNumber: req.AccountNumber,
		Key: r.Header.Get("Idempotency-Key"), // checked by s.idempotent
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/withdrawals/"+wd.ID)
	return writeJSON(w, http.StatusCreated, toWithdrawalResponse(wd))
}

// handleWithdrawalGet handles GET /api/withdrawals/{id}: its worker, or an
// admin, who also sees who decided it and its risk.
func (s *Server) handleWithdrawalGet(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	wd, err := s.withdrawals.Get(r.Context(), p, param(r, "id"))
	if err != nil {
		return err
	}
	if p.Is(auth.RoleAdmin) {
		return writeJSON(w, http.StatusOK, toAdminWithdrawalResponse(wd))
	}
	return writeJSON(w, http.StatusOK, toWithdrawalResponse(wd))
}

// handleWithdrawalMine handles GET /api/withdrawals/my.
func (s *Server) handleWithdrawalMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[withdrawal.Withdrawal], error) {
		return s.withdrawals.Mine(r.Context(), principal(r), p)
	}, toWithdrawalResponse)
}

// handleWithdrawalPending handles GET /api/withdrawals/pending.
func (s *Server) handleWithdrawalPending(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	order := withdrawal.Order(q.oneOf("sort", string(withdrawal.OldestFirst), string(withdrawal.OldestFirst), string(withdrawal.RiskFirst)))
	return writePage(w, q, func(p page.Request) (page.Of[withdrawal.Withdrawal], error) {
		return s.withdrawals.Pending(r.Context(), principal(r), order, p)
	}, toAdminWithdrawalResponse)
}

// handleAdminWithdrawals handles GET /api/admin/withdrawals: every
// withdrawal, newest first, with who decided it.
func (s *Server) handleAdminWithdrawals(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := withdrawal.Filter{WorkerID: q.text("worker_id", 64), Status: withdrawal.Status(q.oneOf("status", "",
		string(withdrawal.StatusPending), string(withdrawal.StatusApproved), string(withdrawal.StatusRejected)))}
	return writePage(w, q, func(p page.Request) (page.Of[withdrawal.Withdrawal], error) {
		return s.withdrawals.History(r.Context(), principal(r), f, p)
	}, toAdminWithdrawalResponse)
}

// handleWithdrawalApprove handles PUT /api/withdrawals/{id}/approve.
func (s *Server) handleWithdrawalApprove(w http.ResponseWriter, r *http.Request) error {
	wd, err := s.withdrawals.Approve(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAdminWithdrawalResponse(wd))
}

// handleWithdrawalReject handles PUT /api/withdrawals/{id}/reject; the body,
// {reason}, may be left out.
func (s *Server) handleWithdrawalReject(w http.ResponseWriter, r *http.Request) error {
	var req rejectRequest
	if err := s.readRequest(r, &req); err != nil && !errors.Is(err, errEmptyBody) {
		return err
	}
	wd, err := s.withdrawals.Reject(r.Context(), principal(r), param(r, "id"), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAdminWithdrawalResponse(wd))
}
