package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/page"
	"microtask/internal/payment"
)

type packageResponse struct {
	Coins      int64 `json:"coins"`
	PriceCents int64 `json:"price_cents"`
}

type createPaymentRequest struct {
	Coins int64 `json:"coins" validate:"required"`
}

type checkoutResponse struct {
	PaymentID   string `json:"payment_id"`
	Provider    string `json:"provider"`
	CheckoutURL string `json:"checkout_url"`
	Status      string `json:"status"`
}

type paymentResponse struct {
	ID                     string     `json:"id"`
	Coins                  int64      `json:"coins"`
	AmountCents            int64      `json:"amount_cents"`
	Currency               string     `json:"currency"`
	Provider               string     `json:"provider"`
	SessionID              string     `json:"session_id"`
	Status                 string     `json:"status"`
	CreatedAt              time.Time  `json:"created_at"`
	PaidAt                 *time.Time `json:"paid_at"`
	RefundedCents          int64      `json:"refunded_cents"`
	ClawedBackCoins        int64      `json:"clawed_back_coins"`
	ClawbackShortfallCoins int64      `json:"clawback_shortfall_coins"`
}

func toPaymentResponse(p payment.Payment) paymentResponse {
	res := paymentResponse{ID: p.ID, Coins: int64(p.Coins), AmountCents: int64(p.Amount), Currency: p.Currency,
		Provider: p.Provider, SessionID: p.SessionID, Status: string(p.Status), CreatedAt: p.CreatedAt.UTC(),
		RefundedCents: int64(p.Reversal.Refunded), ClawedBackCoins: int64(p.Reversal.Taken),
		ClawbackShortfallCoins: int64(p.Reversal.Shortfall)}
	if !p.PaidAt.IsZero() {
		at := p.PaidAt.UTC()
		res.PaidAt = &at
	}
	return res
}

// handlePaymentPackages handles GET /api/payments/packages.
func (s *Server) handlePaymentPackages(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, s.packages())
}

// packages are the coin packages on sale, as the API shows them.
func (s *Server) packages() []packageResponse {
	pkgs := s.payments.Packages()
	out := make([]packageResponse, len(pkgs))
	for i, p := range pkgs {
		out[i] = packageResponse{Coins: int64(p.Coins), PriceCents: int64(p.Price)}
	}
	return out
}

// handlePaymentCreate handles POST /api/payments/create.
func (s *Server) handlePaymentCreate(w http.ResponseWriter, r *http.Request) error {
	var req createPaymentRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	// The key, checked by s.idempotent, also names the purchase.
	p, err := s.payments.Create(r.Context(), principal(r), req.Coins, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/payments/"+p.ID)
	return writeJSON(w, http.StatusCreated, checkoutResponse{PaymentID: p.ID, Provider: p.Provider, CheckoutURL: p.CheckoutURL, Status: string(p.Status)})
}

// handlePaymentConfirm handles POST /api/payments/{id}/confirm.
func (s *Server) handlePaymentConfirm(w http.ResponseWriter, r *http.Request) error {
	p, err := s.payments.Confirm(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPaymentResponse(p))
}

// handlePaymentGet handles GET /api/payments/{id}.
func (s *Server) handlePaymentGet(w http.ResponseWriter, r *http.Request) error {
	p, err := s.payments.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPaymentResponse(p))
}

// handlePaymentHistory handles GET /api/payments/history.
func (s *Server) handlePaymentHistory(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[payment.Payment], error) {
		return s.payments.History(r.Context(), principal(r), p)
	}, toPaymentResponse)
}

type webhookResponse struct {
	Received bool `json:"received"`
}

// handlePaymentWebhook handles POST /api/payments/webhook: Stripe's
// deliveries, verified by their signature over the raw body.
func (s *Server) handlePaymentWebhook(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.payments.HandleWebhook(r.Context(), body, r.Header.Get("Stripe-Signature")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookResponse{Received: true})
}

type purchaseBlockResponse struct {
	UserID    string    `json:"user_id"`
	PaymentID string    `json:"payment_id"`
	Reason    string    `json:"reason"`
	BlockedAt time.Time `json:"blocked_at"`
}

func toPurchaseBlockResponse(b payment.Block) purchaseBlockResponse {
	return purchaseBlockResponse{UserID: b.UserID, PaymentID: b.PaymentID, Reason: string(b.Reason), BlockedAt: b.At.UTC()}
}

// handleAdminPurchaseBlocks handles GET /api/admin/purchase-blocks: the
// buyers whose purchases a refund or a dispute blocked.
func (s *Server) handleAdminPurchaseBlocks(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[payment.Block], error) {
		return s.payments.Blocks(r.Context(), principal(r), p)
	}, toPurchaseBlockResponse)
}

// handleAdminPurchaseBlockClear handles DELETE
// /api/admin/users/{id}/purchase-block.
func (s *Server) handleAdminPurchaseBlockClear(w http.ResponseWriter, r *http.Request) error {
	if err := s.payments.ClearBlock(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
