package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/chat"
	"microtask/internal/page"
)

// cardResponse is what others see of a user beside a conversation or a
// friendship.
type cardResponse struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PhotoURL string `json:"photo_url"`
	Role     string `json:"role"`
}

func toCardResponse(c chat.Card) cardResponse {
	return cardResponse{ID: c.ID, Name: c.Name, PhotoURL: c.PhotoURL, Role: string(c.Role)}
}

// aboutRequest names what a message is about: one of its fields.
type aboutRequest struct {
	TaskID       string `json:"task_id" validate:"omitempty,max=64"`
	SubmissionID string `json:"submission_id" validate:"omitempty,max=64"`
	JobID        string `json:"job_id" validate:"omitempty,max=64"`
	ContractID   string `json:"contract_id" validate:"omitempty,max=64"`
	UserID       string `json:"user_id" validate:"omitempty,max=64"`
}

// sendMessageRequest is the body of POST /api/chats/{user_id}; its tags
// repeat the chat service's bounds for the contract.
type sendMessageRequest struct {
	Text        string        `json:"text" validate:"required,max=5000"`
	About       *aboutRequest `json:"about"`
	Attachments []string      `json:"attachments" validate:"max=5,dive,max=2048"`
}

func (r *sendMessageRequest) trim() { r.Text = strings.TrimSpace(r.Text) }

// draft is the message the request asks for; an about naming none or more
// than one thing is refused.
func (r sendMessageRequest) draft() (chat.Draft, error) {
	d := chat.Draft{Text: r.Text, Attachments: r.Attachments}
	if r.About == nil {
		return d, nil
	}
	var refs []chat.Ref
	for _, ref := range []chat.Ref{{Type: chat.AboutTask, ID: r.About.TaskID}, {Type: chat.AboutSubmission, ID: r.About.SubmissionID},
		{Type: chat.AboutJob, ID: r.About.JobID}, {Type: chat.AboutContract, ID: r.About.ContractID}, {Type: chat.AboutUser, ID: r.About.UserID}} {
		if strings.TrimSpace(ref.ID) != "" {
			refs = append(refs, ref)
		}
	}
	if len(refs) != 1 {
		return d, apperr.InvalidFields(apperr.FieldError{Field: "about", Message: "must name exactly one of: task_id, submission_id, job_id, contract_id, user_id"})
	}
	d.About = refs[0]
	return d, nil
}

// subjectResponse is what a message is about, as it is now.
type subjectResponse struct {
	Type   string  `json:"type"`
	ID     string  `json:"id"`
	Title  *string `json:"title"`  // null once gone
	Status *string `json:"status"` // null once gone
	Gone   bool    `json:"gone"`
}

type messageResponse struct {
	ID          string           `json:"id"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	Text        string           `json:"text"`
	About       *subjectResponse `json:"about"`
	Attachments []string         `json:"attachments"`
	CreatedAt   time.Time        `json:"created_at"`
}

func toMessageResponse(m chat.Message) messageResponse {
	res := messageResponse{ID: m.ID, From: m.From, To: m.To, Text: m.Text, Attachments: m.Attachments, CreatedAt: m.CreatedAt.UTC()}
	if res.Attachments == nil {
		res.Attachments = []string{}
	}
	if !m.About.IsZero() {
		a := &subjectResponse{Type: string(m.About.Type), ID: m.About.ID, Gone: m.Subject.Gone}
		if !m.Subject.Gone && m.Subject.Ref == m.About {
			title, status := m.Subject.Title, m.Subject.Status
			a.Title, a.Status = &title, &status
		}
		res.About = a
	}
	return res
}

type lastMessageResponse struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

type conversationResponse struct {
	User        cardResponse        `json:"user"`
	LastMessage lastMessageResponse `json:"last_message"`
	Unread      int64               `json:"unread"`
}

func toConversationResponse(s chat.Summary) conversationResponse {
	return conversationResponse{User: toCardResponse(s.With), Unread: s.Unread,
		LastMessage: lastMessageResponse{ID: s.LastID, From: s.LastFrom, Text: s.LastText, CreatedAt: s.LastAt.UTC()}}
}

// threadResponse is a page of a conversation's history: paged by the
// cursor next_before, never by skipping.
type threadResponse struct {
	Items         []messageResponse `json:"items"`
	Limit         int               `json:"limit"`
	NextBefore    *string           `json:"next_before"`
	TheirReadUpTo *string           `json:"their_read_up_to"`
}

type readRequest struct {
	UpTo string `json:"up_to" validate:"required,max=64"`
}

// handleChatSend handles POST /api/chats/{user_id}.
func (s *Server) handleChatSend(w http.ResponseWriter, r *http.Request) error {
	var req sendMessageRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	d, err := req.draft()
	if err != nil {
		return err
	}
	m, err := s.chat.Send(r.Context(), principal(r), param(r, "user_id"), d)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/messages/"+m.ID)
	return writeJSON(w, http.StatusCreated, toMessageResponse(m))
}

// handleChatList handles GET /api/chats.
func (s *Server) handleChatList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[chat.Summary], error) {
		return s.chat.List(r.Context(), principal(r), p)
	}, toConversationResponse)
}

// handleChatHistory handles GET /api/chats/{user_id}: newest first, older
// pages by ?before=next_before.
func (s *Server) handleChatHistory(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	before := q.text("before", 64)
	limit := q.int("limit", 30, 1, page.MaxLimit)
	if err := q.err(); err != nil {
		return err
	}
	th, err := s.chat.History(r.Context(), principal(r), param(r, "user_id"), before, limit)
	if err != nil {
		return err
	}
	res := threadResponse{Items: make([]messageResponse, len(th.Messages)), Limit: limit}
	for i, m := range th.Messages {
		res.Items[i] = toMessageResponse(m)
	}
	if th.NextBefore != "" {
		res.NextBefore = &th.NextBefore
	}
	if th.TheirReadUpTo != "" {
		res.TheirReadUpTo = &th.TheirReadUpTo
	}
	return writeJSON(w, http.StatusOK, res)
}

// handleChatRead handles PUT /api/chats/{user_id}/read.
func (s *Server) handleChatRead(w http.ResponseWriter, r *http.Request) error {
	var req readRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	if err := s.chat.MarkRead(r.Context(), principal(r), param(r, "user_id"), strings.TrimSpace(req.UpTo)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleChatUnreadCount handles GET /api/chats/unread-count.
func (s *Server) handleChatUnreadCount(w http.ResponseWriter, r *http.Request) error {
	n, err := s.chat.UnreadCount(r.Context(), principal(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, countResponse{Count: n})
}

// handleMessageGet handles GET /api/messages/{id}: its sender or its
// recipient.
func (s *Server) handleMessageGet(w http.ResponseWriter, r *http.Request) error {
	m, err := s.chat.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMessageResponse(m))
}
