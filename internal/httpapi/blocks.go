package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/block"
	"microtask/internal/page"
)

type blockResponse struct {
	Worker    partyResponse `json:"worker"`
	CreatedAt time.Time     `json:"created_at"`
}

func toBlockResponse(b block.Block) blockResponse {
	return blockResponse{Worker: partyResponse{ID: b.WorkerID, Name: b.WorkerName}, CreatedAt: b.At.UTC()}
}

// handleBlockCreate handles POST /api/users/{id}/blocks: the buyer blocks
// the worker {id}. Blocking again answers the same block.
func (s *Server) handleBlockCreate(w http.ResponseWriter, r *http.Request) error {
	b, err := s.blocks.Block(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toBlockResponse(b))
}

// handleBlockDelete handles DELETE /api/users/{id}/blocks.
func (s *Server) handleBlockDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.blocks.Unblock(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleBlockList handles GET /api/users/blocks.
func (s *Server) handleBlockList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[block.Block], error) {
		return s.blocks.Mine(r.Context(), principal(r), p)
	}, toBlockResponse)
}
