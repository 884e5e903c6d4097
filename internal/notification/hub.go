package notification

import (
	"sync"
	"time"

	"microtask/internal/apperr"
)

// Hub fans new notifications out to the streams open in this process, and
// bounds them: each stream holds a connection and a goroutine, so a few per
// user and a total cap keep one user (or a ticket passed around) from
// using up the process's descriptors.
type Hub struct {
	perUser, max int // 0: no limit

	mu    sync.Mutex
	subs  map[string]map[*sub]struct{}
	total int
	// The IDs published in the last recentFor, so that a repeat is
	// dropped: a set, and the same IDs oldest first, whose front is
	// forgotten as it ages, at a constant cost per publish however many
	// notifications a minute brings.
	recent map[string]struct{}
	order  []published
}

type published struct {
	id string
	at time.Time
}

// How long, and up to how many, published IDs are remembered.
const (
	recentFor = time.Minute
	recentMax = 100_000
)

type sub struct {
	ch     chan Notification
	closed chan struct{} // closed when the hub ends the stream
}

// NewHub returns an empty Hub allowing perUser streams per user and max in
// all (0: no limit).
func NewHub(perUser, max int) *Hub {
	return &Hub{perUser: perUser, max: max, subs: map[string]map[*sub]struct{}{}, recent: map[string]struct{}{}}
}

// Errors of Subscribe.
var (
	ErrTooManyStreams = apperr.New(apperr.RateLimited, "too_many_streams",
		"you have as many notification streams open as allowed; close one (another tab?) and retry")
	ErrStreamsFull = apperr.New(apperr.RateLimited, "streams_full",
		"this server has as many notification streams open as it allows; retry later, or list notifications meanwhile")
)

// StreamRetryAfter is what a refused stream is told to wait.
const StreamRetryAfter = 30 * time.Second

type streamLimit struct{ err *apperr.Error }

func (e streamLimit) Error() string             { return e.err.Error() }
func (e streamLimit) Unwrap() error             { return e.err }
func (e streamLimit) RetryAfter() time.Duration { return StreamRetryAfter }

// streamBuffer is how many notifications a slow stream may fall behind before
// it misses some (it can always list them).
const streamBuffer = 16

// Subscription is one open stream's view of the hub.
type Subscription struct {
	Events <-chan Notification
	// Closed is closed when the hub ends the stream: the user's tokens
	// were revoked (sign-out, password change, suspension, deletion, new
	// role).
	Closed <-chan struct{}
	// Cancel ends the subscription; call it when the stream ends.
	Cancel func()
}

// Subscribe opens a subscription to the user's new notifications, or
// refuses with ErrTooManyStreams or ErrStreamsFull (which know their
// Retry-After).
func (h *Hub) Subscribe(userID string) (Subscription, error) {
	s := &sub{ch: make(chan Notification, streamBuffer), closed: make(chan struct{})}
	h.mu.Lock()
	switch {
	case h.perUser > 0 && len(h.subs[userID]) >= h.perUser:
		h.mu.Unlock()
		return Subscription{}, streamLimit{ErrTooManyStreams}
	case h.max > 0 && h.total >= h.max:
		h.mu.Unlock()
		return Subscription{}, streamLimit{ErrStreamsFull}
	}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*sub]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	h.total++
	h.mu.Unlock()
	var once sync.Once
	return Subscription{Events: s.ch, Closed: s.closed, Cancel: func() {
		once.Do(func() {
			h.mu.Lock()
			h.remove(userID, s)
			h.mu.Unlock()
		})
	}}, nil
}

// remove drops s; h.mu is held.
func (h *Hub) remove(userID string, s *sub) {
	if _, ok := h.subs[userID][s]; !ok {
		return
	}
	delete(h.subs[userID], s)
	h.total--
	if len(h.subs[userID]) == 0 {
		delete(h.subs, userID)
	}
}

// Close ends every stream of the user.
func (h *Hub) Close(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[userID] {
		close(s.closed)
		h.remove(userID, s)
	}
}

// Connected reports whether the user has a stream or a socket open.
func (h *Hub) Connected(userID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[userID]) > 0
}

// Open returns how many streams are open, for tests and metrics.
func (h *Hub) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Publish sends n to the user's subscribers, once per notification ID, and
// never blocks: a full stream skips it.
func (h *Hub) Publish(n Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for len(h.order) > 0 && (now.Sub(h.order[0].at) > recentFor || len(h.order) >= recentMax) {
		delete(h.recent, h.order[0].id)
		h.order = h.order[1:]
	}
	if _, seen := h.recent[n.ID]; seen {
		return
	}
	h.recent[n.ID] = struct{}{}
	h.order = append(h.order, published{n.ID, now})
	for s := range h.subs[n.UserID] {
		select {
		case s.ch <- n:
		default:
		}
	}
}
