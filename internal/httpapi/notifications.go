package httpapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"microtask/internal/chat"
	"microtask/internal/notification"
	"microtask/internal/page"
)

type notificationResponse struct {
	ID          string    `json:"id"`
	Message     string    `json:"message"`
	Type        string    `json:"type"`
	ActionRoute string    `json:"action_route"`
	Read        bool      `json:"read"`
	CreatedAt   time.Time `json:"created_at"`
}

func toNotificationResponse(n notification.Notification) notificationResponse {
	return notificationResponse{ID: n.ID, Message: n.Message, Type: string(n.Type), ActionRoute: n.ActionRoute, Read: n.Read,
		CreatedAt: n.CreatedAt.UTC()}
}

// announceRequest is the body of POST /api/notifications; its tags repeat
// the notification service's bounds for the contract
// (TestAnnouncementBoundsAreTheService).
type announceRequest struct {
	ToUserID    string `json:"to_user_id" validate:"required,max=64"`
	Message     string `json:"message" validate:"required,max=500"`
	ActionRoute string `json:"action_route" validate:"omitempty,max=200,startswith=/"`
}

func (r *announceRequest) trim() {
	r.ToUserID, r.Message, r.ActionRoute = strings.TrimSpace(r.ToUserID), strings.TrimSpace(r.Message), strings.TrimSpace(r.ActionRoute)
}

type countResponse struct {
	Count int64 `json:"count"`
}

type ticketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleNotificationList handles GET /api/notifications.
func (s *Server) handleNotificationList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[notification.Notification], error) {
		return s.notifications.List(r.Context(), principal(r), p)
	}, toNotificationResponse)
}

// handleNotificationUnreadCount handles GET /api/notifications/unread/count.
func (s *Server) handleNotificationUnreadCount(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifications.UnreadCount(r.Context(), principal(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, countResponse{Count: n})
}

// handleNotificationRead handles PUT /api/notifications/{id}: mark it read.
func (s *Server) handleNotificationRead(w http.ResponseWriter, r *http.Request) error {
	if err := s.notifications.MarkRead(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleNotificationReadAll handles PUT /api/notifications/read-all.
func (s *Server) handleNotificationReadAll(w http.ResponseWriter, r *http.Request) error {
	if err := s.notifications.MarkAllRead(r.Context(), principal(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleNotificationDelete handles DELETE /api/notifications/{id}.
func (s *Server) handleNotificationDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.notifications.Delete(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleNotificationAnnounce handles POST /api/notifications (admins).
func (s *Server) handleNotificationAnnounce(w http.ResponseWriter, r *http.Request) error {
	var req announceRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	n, err := s.notifications.Announce(r.Context(), principal(r), req.ToUserID, req.Message, req.ActionRoute)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/notifications/"+n.ID)
	return writeJSON(w, http.StatusCreated, toNotificationResponse(n))
}

// handleNotificationGet handles GET /api/notifications/{id}: its user, or an
// admin.
func (s *Server) handleNotificationGet(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifications.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toNotificationResponse(n))
}

// handleStreamTicket handles POST /api/notifications/stream-ticket.
func (s *Server) handleStreamTicket(w http.ResponseWriter, r *http.Request) error {
	ticket, exp, err := s.users.StreamTicket(r.Context(), principal(r))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, ticketResponse{Ticket: ticket, ExpiresAt: exp.UTC().Truncate(time.Second)})
}

// StreamHeartbeat is how often an idle notification stream sends a comment
// line, so that proxies and browsers keep it open.
const StreamHeartbeat = 20 * time.Second

// handleNotificationStream handles GET /api/notifications/stream: new
// notifications as server-sent events. Browsers' EventSource cannot send
// headers, so it takes ?ticket= from POST /api/notifications/stream-ticket;
// other clients may send the usual Authorization header instead.
func (s *Server) handleNotificationStream(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := newQuery(r)
	p, err := s.streamPrincipal(r, q)
	if err != nil {
		return err
	}
	if err := q.err(); err != nil {
		return err
	}
	// Subscribe before reading what was missed, so that nothing falls in
	// between; what arrives twice is skipped by id.
	sub, err := s.notifications.Subscribe(p.UserID)
	if err != nil {
		return err
	}
	defer sub.Cancel()
	msgs := s.chat.Subscribe(p.UserID)
	defer msgs.Cancel()
	var missed []notification.Notification
	if last := cmp.Or(r.Header.Get("Last-Event-ID"), q.values.Get("last_event_id")); last != "" {
		if missed, err = s.notifications.Missed(ctx, p.UserID, last); err != nil {
			return err
		}
	}
	rc := http.NewResponseController(w)
	defer s.metrics.StreamOpened()()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 5000\n: connected\n\n")
	sent := map[string]bool{}
	for _, n := range missed {
		sent[n.ID] = true
		writeEvent(w, n)
	}
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}
	beat := time.NewTicker(StreamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-sub.Closed: // the user's tokens were revoked
			return nil
		case <-beat.C:
			fmt.Fprint(w, ": ping\n\n")
		case n := <-sub.Events:
			if sent[n.ID] {
				continue
			}
			writeEvent(w, n)
		case e := <-msgs.Events:
			if e.Type != chat.EventMessage {
				continue // read receipts and typing go to sockets
			}
			writeMessageEvent(w, e.Message)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// writeEvent writes n as a server-sent event named by its id, which the
// client sends back as Last-Event-ID when it reconnects.
func writeEvent(w http.ResponseWriter, n notification.Notification) {
	data, err := json.Marshal(toNotificationResponse(n))
	if err != nil {
		return
	}
	fmt.Fprintf(w, "id: %s\nevent: notification\ndata: %s\n\n", n.ID, data)
}
