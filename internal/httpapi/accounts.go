package httpapi

import (
	"net/http"
)

type tokenRequest struct {
	Token string `json:"token" validate:"required,max=200"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password" validate:"required,max=1024"`
	NewPassword     string `json:"new_password" validate:"required,max=1024"`
}

type resetRequest struct {
	Email string `json:"email" validate:"required,max=254"`
}

type resetConfirmRequest struct {
	Token       string `json:"token" validate:"required,max=200"`
	NewPassword string `json:"new_password" validate:"required,max=1024"`
}

// handleVerifyEmail handles POST /api/auth/verify-email.
func (s *Server) handleVerifyEmail(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if err := s.users.VerifyEmail(r.Context(), req.Token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleVerifyEmailResend handles POST /api/auth/verify-email/resend.
func (s *Server) handleVerifyEmailResend(w http.ResponseWriter, r *http.Request) error {
	if err := s.users.ResendVerification(r.Context(), principal(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// handlePasswordChange handles PUT /api/auth/password: the answer is a new
// session, since every other token of the user stops working.
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sess, err := s.users.ChangePassword(r.Context(), principal(r), req.CurrentPassword, req.NewPassword)
	if err != nil {
		return err
	}
	return writeSession(w, http.StatusOK, sess)
}

// handlePasswordReset handles POST /api/auth/password-reset: 202 whether or
// not the email has an account.
func (s *Server) handlePasswordReset(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if err := s.users.RequestPasswordReset(r.Context(), req.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// handlePasswordResetConfirm handles POST /api/auth/password-reset/confirm.
func (s *Server) handlePasswordResetConfirm(w http.ResponseWriter, r *http.Request) error {
	var req resetConfirmRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if err := s.users.ResetPassword(r.Context(), req.Token, req.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLogout handles POST /api/auth/logout: the token presented stops
// working.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	token, _ := bearerToken(r) // authenticate has checked it
	if err := s.users.Logout(r.Context(), token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLogoutAll handles POST /api/auth/logout-all: every token of the
// caller stops working.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	if err := s.users.LogoutAll(r.Context(), principal(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
