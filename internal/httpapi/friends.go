package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/auth"
	"microtask/internal/friend"
	"microtask/internal/page"
)

type friendRequestBody struct {
	UserID string `json:"user_id" validate:"required,max=64"`
}

func (r *friendRequestBody) trim() { r.UserID = strings.TrimSpace(r.UserID) }

// friendRequestResponse is a friend request (or, accepted, a friendship)
// as one of its users sees it.
type friendRequestResponse struct {
	ID         string       `json:"id"`
	User       cardResponse `json:"user"`      // the other user
	Direction  string       `json:"direction"` // incoming: the other asked
	Status     string       `json:"status"`
	CreatedAt  time.Time    `json:"created_at"`
	AcceptedAt *time.Time   `json:"accepted_at"`
}

func toFriendRequestResponse(p auth.Principal) func(friend.Friendship) friendRequestResponse {
	return func(f friend.Friendship) friendRequestResponse {
		res := friendRequestResponse{ID: f.ID, User: toCardResponse(f.With), Direction: "incoming", Status: string(f.Status),
			CreatedAt: f.CreatedAt.UTC()}
		if f.From == p.UserID {
			res.Direction = "outgoing"
		}
		if !f.AcceptedAt.IsZero() {
			at := f.AcceptedAt.UTC()
			res.AcceptedAt = &at
		}
		return res
	}
}

// friendResponse is a friend's card and since when they are friends.
type friendResponse struct {
	cardResponse
	Since time.Time `json:"since"`
}

func toFriendResponse(f friend.Friendship) friendResponse {
	return friendResponse{cardResponse: toCardResponse(f.With), Since: f.AcceptedAt.UTC()}
}

// handleFriendAsk handles POST /api/users/friend-request: 201 for a new
// request, 200 when it accepted the other user's.
func (s *Server) handleFriendAsk(w http.ResponseWriter, r *http.Request) error {
	var req friendRequestBody
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	p := principal(r)
	f, created, err := s.friends.Ask(r.Context(), p, req.UserID)
	if err != nil {
		return err
	}
	if !created {
		return writeJSON(w, http.StatusOK, toFriendRequestResponse(p)(f))
	}
	w.Header().Set("Location", "/api/users/friend-request/"+f.ID)
	return writeJSON(w, http.StatusCreated, toFriendRequestResponse(p)(f))
}

// handleFriendRequestGet handles GET /api/users/friend-request/{id}.
func (s *Server) handleFriendRequestGet(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	f, err := s.friends.Get(r.Context(), p, param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toFriendRequestResponse(p)(f))
}

// handleFriendAccept handles PUT /api/users/friend-request/{id}/accept.
func (s *Server) handleFriendAccept(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	f, err := s.friends.Accept(r.Context(), p, param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toFriendRequestResponse(p)(f))
}

// handleFriendDecline handles PUT /api/users/friend-request/{id}/decline.
func (s *Server) handleFriendDecline(w http.ResponseWriter, r *http.Request) error {
	if err := s.friends.Decline(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleFriendWithdraw handles DELETE /api/users/friend-request/{id}.
func (s *Server) handleFriendWithdraw(w http.ResponseWriter, r *http.Request) error {
	if err := s.friends.Withdraw(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleFriendRequests handles GET /api/users/friend-requests.
func (s *Server) handleFriendRequests(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	incoming := q.oneOf("direction", "incoming", "incoming", "outgoing") == "incoming"
	p := principal(r)
	return writePage(w, q, func(pr page.Request) (page.Of[friend.Friendship], error) {
		return s.friends.Requests(r.Context(), p, incoming, pr)
	}, toFriendRequestResponse(p))
}

// handleFriendList handles GET /api/users/friends.
func (s *Server) handleFriendList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[friend.Friendship], error) {
		return s.friends.List(r.Context(), principal(r), p)
	}, toFriendResponse)
}

// handleUnfriend handles DELETE /api/users/friends/{user_id}.
func (s *Server) handleUnfriend(w http.ResponseWriter, r *http.Request) error {
	if err := s.friends.Unfriend(r.Context(), principal(r), param(r, "user_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
