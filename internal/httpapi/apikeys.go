package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/apikey"
	"microtask/internal/auth"
	"microtask/internal/page"
)

// createAPIKeyRequest is the body of POST /api/api-keys. The key service
// checks its bounds (apikey.NewKey), every field at once.
type createAPIKeyRequest struct {
	Name   string       `json:"name"`
	Scopes []auth.Scope `json:"scopes"`
}

func (r *createAPIKeyRequest) trim() { r.Name = strings.TrimSpace(r.Name) }

type apiKeyResponse struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Prefix     string       `json:"prefix"`
	Scopes     []auth.Scope `json:"scopes"`
	CreatedAt  time.Time    `json:"created_at"`
	LastUsedAt *time.Time   `json:"last_used_at"`
}

// createdAPIKeyResponse is a new key, with the key itself: the only time
// it is shown.
type createdAPIKeyResponse struct {
	apiKeyResponse
	Key string `json:"key"`
}

func toAPIKeyResponse(k apikey.Key) apiKeyResponse {
	res := apiKeyResponse{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes.List(), CreatedAt: k.CreatedAt.UTC()}
	if !k.LastUsedAt.IsZero() {
		at := k.LastUsedAt.UTC()
		res.LastUsedAt = &at
	}
	return res
}

// handleAPIKeyCreate handles POST /api/api-keys.
func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) error {
	var req createAPIKeyRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	k, secret, err := s.apiKeys.Create(r.Context(), principal(r), apikey.NewKey{Name: req.Name, Scopes: req.Scopes})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/api-keys/"+k.ID)
	return writeJSON(w, http.StatusCreated, createdAPIKeyResponse{apiKeyResponse: toAPIKeyResponse(k), Key: secret})
}

// handleAPIKeyList handles GET /api/api-keys.
func (s *Server) handleAPIKeyList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[apikey.Key], error) {
		return s.apiKeys.List(r.Context(), principal(r), p)
	}, toAPIKeyResponse)
}

// handleAPIKeyGet handles GET /api/api-keys/{id}.
func (s *Server) handleAPIKeyGet(w http.ResponseWriter, r *http.Request) error {
	k, err := s.apiKeys.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAPIKeyResponse(k))
}

// handleAPIKeyDelete handles DELETE /api/api-keys/{id}.
func (s *Server) handleAPIKeyDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.apiKeys.Delete(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
