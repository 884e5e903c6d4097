package storage

import (
	"context"
	"testing"
	"time"
)

func TestLeaseStore(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewLeaseStore(db)
	s.now = func() time.Time { return now }

	steps := []struct {
		owner string
		until time.Duration
		want  bool
	}{
		{"a", time.Minute, true},     // free: a takes it
		{"b", time.Minute, false},    // held by a
		{"a", 2 * time.Minute, true}, // a renews
		{"b", time.Minute, false},    // still a's
	}
	for i, st := range steps {
		got, err := s.Acquire(ctx, "job", st.owner, now.Add(st.until))
		if err != nil || got != st.want {
			t.Fatalf("step %d: Acquire(%s) = %v, %v; want %v", i, st.owner, got, err, st.want)
		}
	}
	now = now.Add(3 * time.Minute) // a's lease has run out
	if got, err := s.Acquire(ctx, "job", "b", now.Add(time.Minute)); err != nil || !got {
		t.Fatalf("Acquire(b) after expiry = %v, %v; want true", got, err)
	}
	if got, _ := s.Acquire(ctx, "job", "a", now.Add(time.Minute)); got {
		t.Errorf("a took b's live lease")
	}
	if got, _ := s.Acquire(ctx, "other-job", "a", now.Add(time.Minute)); !got {
		t.Errorf("leases of different names interfere")
	}
}
