package httpapi

import (
	"fmt"
	"net/http"

	"microtask/api"
	"microtask/internal/apperr"
)

type statusResponse struct {
	Status string `json:"status"`
}

// handleHealth handles GET /api/health: the process is up.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, statusResponse{Status: "ok"})
}

var errShuttingDown = apperr.New(apperr.Unavailable, "shutting_down", "this instance is shutting down; send requests elsewhere")

// Drain makes readiness fail from now on, so that load balancers stop
// sending requests before the listener closes. Call it first on shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// handleReady handles GET /api/ready: the database answers a read and takes
// a write in time, so requests can be served; otherwise 503 with the reason.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		return errShuttingDown
	}
	if err := s.db.Ready(r.Context()); err != nil {
		return fmt.Errorf("readiness: %w", err) // writeError logs it, cause included
	}
	return writeJSON(w, http.StatusOK, statusResponse{Status: "ready"})
}

// handleOpenAPI handles GET /api/openapi.yaml: the API's contract.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(api.Spec)
	return nil
}
