package notification

import (
	"errors"
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
