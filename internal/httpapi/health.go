package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

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

// handleOpenAPI handles GET and HEAD /api/openapi.yaml: the API's contract.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	serveBytes(w, r, api.Spec, "application/yaml; charset=utf-8", "public, max-age=300")
	return nil
}

// serveBytes answers with data, or on HEAD with its headers only.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, ctype, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cacheControl)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(data)
}
