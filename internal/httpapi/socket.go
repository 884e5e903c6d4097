package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/chat"
)

// socketEvent is one event a socket delivers: {type, data}.
type socketEvent struct {
	Type string `json:"type"` // message, read, typing or notification
	Data any    `json:"data"`
}

// readEventData says that the user read their conversation with the
// socket's user up to a message.
type readEventData struct {
	UserID string `json:"user_id"`
	UpTo   string `json:"up_to"`
}

// typingEventData says that the user is typing to the socket's user.
type typingEventData struct {
	UserID string `json:"user_id"`
}

// socketCommand is what a client sends on its socket: {type: "typing",
// to: user_id}.
type socketCommand struct {
	Type string `json:"type"`
	To   string `json:"to"`
}

func toSocketEvent(e chat.Event) socketEvent {
	switch e.Type {
	case chat.EventRead:
		return socketEvent{Type: string(e.Type), Data: readEventData{UserID: e.User, UpTo: e.UpTo}}
	case chat.EventTyping:
		return socketEvent{Type: string(e.Type), Data: typingEventData{UserID: e.User}}
	}
	return socketEvent{Type: string(chat.EventMessage), Data: toMessageResponse(e.Message)}
}

// socketOrigins are the host patterns of the browser origins allowed to
// open a socket (CORS_ORIGINS), beside the API's own; any, for "*".
func socketOrigins(origins []string) (patterns []string, any bool) {
	for _, o := range origins {
		if o == "*" {
			return nil, true
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			patterns = append(patterns, u.Host)
		}
	}
	return patterns, false
}

// streamPrincipal authenticates a stream or a socket: by ?ticket= (what a
// browser can send), or the usual bearer token.
func (s *Server) streamPrincipal(r *http.Request, q *query) (auth.Principal, error) {
	if ticket := q.values.Get("ticket"); ticket != "" {
		return s.users.AuthenticateTicket(r.Context(), ticket)
	}
	if token, ok := bearerToken(r); ok && token != "" {
		return s.users.Authenticate(r.Context(), token)
	}
	return auth.Principal{}, auth.ErrMissingToken
}

var errNotSocket = apperr.New(apperr.Malformed, "websocket_required",
	"this endpoint is a WebSocket: open it with a WebSocket client (new WebSocket(url) in a browser)")

// socketWriteTimeout bounds each write to a socket: a client that stops
// reading is dropped rather than holding its goroutine.
const socketWriteTimeout = 10 * time.Second

// handleSocket handles GET /api/ws: a WebSocket that delivers the user's
// messages, read receipts, typing and notifications as JSON events, and
// takes typing from the client. A socket counts as a notification stream
// toward the limits, and closes as one does when the user's tokens are
// revoked.
func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return errNotSocket // before the ticket is used up
	}
	q := newQuery(r)
	p, err := s.streamPrincipal(r, q)
	if err != nil {
		return err
	}
	if err := q.err(); err != nil {
		return err
	}
	notes, err := s.notifications.Subscribe(p.UserID)
	if err != nil {
		return err
	}
	defer notes.Cancel()
	msgs := s.chat.Subscribe(p.UserID)
	defer msgs.Cancel()
	// The server's read timeout is for requests; a socket reads for as long
	// as it lives (the deadline stays on the connection Accept takes).
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.socketOrigins, InsecureSkipVerify: s.anySocketOrigin})
	if err != nil {
		return nil // Accept answered the request
	}
	defer c.CloseNow()
	defer s.metrics.StreamOpened()()
	c.SetReadLimit(4096)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		defer cancel() // the client went away, or sent what no socket takes
		for {
			var cmd socketCommand
			if err := wsjson.Read(ctx, c, &cmd); err != nil {
				return
			}
			if cmd.Type == string(chat.EventTyping) && cmd.To != "" {
				if err := s.chat.Typing(ctx, p, cmd.To); err != nil && ctx.Err() == nil {
					s.log.WarnContext(ctx, "relay typing", "err", err)
				}
			}
		}
	}()
	beat := time.NewTicker(StreamHeartbeat)
	defer beat.Stop()
	for {
		var ev socketEvent
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			c.Close(websocket.StatusGoingAway, "server shutting down")
			return nil
		case <-notes.Closed: // the user's tokens were revoked
			c.Close(websocket.StatusPolicyViolation, "signed out")
			return nil
		case <-beat.C:
			pctx, pcancel := context.WithTimeout(ctx, socketWriteTimeout)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				return nil
			}
			continue
		case n := <-notes.Events:
			ev = socketEvent{Type: "notification", Data: toNotificationResponse(n)}
		case e := <-msgs.Events:
			ev = toSocketEvent(e)
		}
		wctx, wcancel := context.WithTimeout(ctx, socketWriteTimeout)
		err := wsjson.Write(wctx, c, ev)
		wcancel()
		if err != nil {
			return nil
		}
	}
}

// writeMessageEvent writes a message as a server-sent event named message,
// without an id: the stream's ids are the notifications', which a
// reconnecting client sends back.
func writeMessageEvent(w http.ResponseWriter, m chat.Message) {
	data, err := json.Marshal(toMessageResponse(m))
	if err != nil {
		return
	}
	fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
}
