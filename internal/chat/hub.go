package chat

import (
	"sync"
	"time"
)

// EventType names a real-time event of conversations.
type EventType string

// The events.
const (
	EventMessage EventType = "message" // a message to or from the user
	EventRead    EventType = "read"    // User read the conversation up to UpTo
	EventTyping  EventType = "typing"  // User is typing to the subscriber; never stored
)

// Event is one real-time event for one user.
type Event struct {
	Type    EventType
	Message Message // EventMessage
	User    string  // EventRead: who read; EventTyping: who types
	UpTo    string  // EventRead
}

// Hub fans events out to the sockets and streams open in this process. It
// sets no limits of its own: every subscriber also holds a subscription of
// the notification hub, which bounds them per user and in all.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[*hubSub]struct{}
	// The keys published in the last minute, so that a message published
	// both by the instance that stored it and by the tail is sent once.
	recent map[string]struct{}
	order  []published
}

type published struct {
	key string
	at  time.Time
}

type hubSub struct{ ch chan Event }

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{subs: map[string]map[*hubSub]struct{}{}, recent: map[string]struct{}{}}
}

// Subscription is one socket's or stream's view of the hub.
type Subscription struct {
	Events <-chan Event
	Cancel func() // call it when the socket or stream ends
}

// hubBuffer is how many events a slow subscriber may fall behind before it
// misses some (it can always read the history).
const hubBuffer = 32

// Subscribe opens a subscription to the user's events.
func (h *Hub) Subscribe(userID string) Subscription {
	s := &hubSub{ch: make(chan Event, hubBuffer)}
	h.mu.Lock()
	if h.subs[userID] == nil {
		h.subs[userID] = map[*hubSub]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return Subscription{Events: s.ch, Cancel: func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs[userID], s)
			if len(h.subs[userID]) == 0 {
				delete(h.subs, userID)
			}
		})
	}}
}

// Publish sends e to the user's subscribers, once per key (empty: always),
// and never blocks: a full subscriber skips it.
func (h *Hub) Publish(userID, key string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if key != "" {
		now := time.Now()
		for len(h.order) > 0 && (now.Sub(h.order[0].at) > time.Minute || len(h.order) >= 100_000) {
			delete(h.recent, h.order[0].key)
			h.order = h.order[1:]
		}
		if _, seen := h.recent[key]; seen {
			return
		}
		h.recent[key] = struct{}{}
		h.order = append(h.order, published{key, now})
	}
	for s := range h.subs[userID] {
		select {
		case s.ch <- e:
		default:
		}
	}
}
