package notification

import (
	"sync"
	"time"
)

// Hub fans new notifications out to the streams open in this process.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[chan Notification]struct{}
	recent map[string]time.Time // IDs published lately, so a repeat is dropped
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{subs: map[string]map[chan Notification]struct{}{}, recent: map[string]time.Time{}}
}

// streamBuffer is how many notifications a slow stream may fall behind before
// it misses some (it can always list them).
const streamBuffer = 16

// Subscribe returns a channel of the user's new notifications and a function
// that ends the subscription.
func (h *Hub) Subscribe(userID string) (<-chan Notification, func()) {
	ch := make(chan Notification, streamBuffer)
	h.mu.Lock()
	if h.subs[userID] == nil {
		h.subs[userID] = map[chan Notification]struct{}{}
	}
	h.subs[userID][ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[userID], ch)
			if len(h.subs[userID]) == 0 {
				delete(h.subs, userID)
			}
			h.mu.Unlock()
		})
	}
}

// Publish sends n to the user's subscribers, once per notification ID, and
// never blocks: a full stream skips it.
func (h *Hub) Publish(n Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if _, seen := h.recent[n.ID]; seen {
		return
	}
	h.recent[n.ID] = now
	if len(h.recent) > 10_000 {
		for id, at := range h.recent {
			if now.Sub(at) > time.Minute {
				delete(h.recent, id)
			}
		}
	}
	for ch := range h.subs[n.UserID] {
		select {
		case ch <- n:
		default:
		}
	}
}
