package notification

import (
	"errors"
	"fmt"
	"testing"
)

func TestHubLimitsAndClose(t *testing.T) {
	h := NewHub(2, 3)
	var subs []Subscription
	for _, u := range []string{"ann", "ann", "bob"} {
		s, err := h.Subscribe(u)
		if err != nil {
			t.Fatalf("Subscribe(%s) = %v", u, err)
		}
		subs = append(subs, s)
	}
	if _, err := h.Subscribe("ann"); !errors.Is(err, ErrTooManyStreams) {
		t.Errorf("third stream of ann: %v, want ErrTooManyStreams", err)
	}
	if _, err := h.Subscribe("cy"); !errors.Is(err, ErrStreamsFull) {
		t.Errorf("fourth stream in all: %v, want ErrStreamsFull", err)
	}

	h.Close("ann")
	for _, s := range subs[:2] {
		select {
		case <-s.Closed:
		default:
			t.Error("ann's stream not closed")
		}
		s.Cancel() // after Close: counts nothing twice
	}
	select {
	case <-subs[2].Closed:
		t.Error("bob's stream closed with ann's")
	default:
	}
	if n := h.Open(); n != 1 {
		t.Errorf("Open() = %d, want 1", n)
	}
	h.Publish(Notification{ID: "n1", UserID: "bob"})
	if n := <-subs[2].Events; n.ID != "n1" {
		t.Errorf("bob got %+v", n)
	}
	subs[2].Cancel()
	if n := h.Open(); n != 0 {
		t.Errorf("Open() = %d after every cancel", n)
	}
}

// TestHubPublishesEachNotificationOnce: a notification published again
// (a retried operation's follow-up) reaches the stream once, and the IDs
// remembered for that stay bounded however many are published.
func TestHubPublishesEachNotificationOnce(t *testing.T) {
	h := NewHub(0, 0)
	s, err := h.Subscribe("u")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Cancel()
	for range 2 {
		h.Publish(Notification{ID: "n1", UserID: "u"})
	}
	if got := len(s.Events); got != 1 {
		t.Errorf("stream holds %d after publishing n1 twice, want 1", got)
	}
	for i := range recentMax + 10 {
		h.Publish(Notification{ID: fmt.Sprint("x", i), UserID: "other"})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recent) > recentMax || len(h.order) > recentMax {
		t.Errorf("%d IDs remembered (%d in order), want at most %d", len(h.recent), len(h.order), recentMax)
	}
}

// BenchmarkHubPublish publishes with the last minute's IDs remembered, as a
// busy marketplace has them: 50,000. Each publish must cost the same
// whatever that number (it once scanned them all).
func BenchmarkHubPublish(b *testing.B) {
	h := NewHub(0, 0)
	for i := range 50_000 {
		h.Publish(Notification{ID: fmt.Sprint("seed", i), UserID: "u"})
	}
	b.ResetTimer()
	for i := range b.N {
		h.Publish(Notification{ID: fmt.Sprint("n", i), UserID: "u"})
	}
}
