package tail

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// TestEveryReadsFromTheNewestSeen: each round reads from Behind before the
// newest record the rounds before returned; a round that fails or finds
// nothing leaves that time as it was.
func TestEveryReadsFromTheNewestSeen(t *testing.T) {
	start := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	answers := []struct {
		newest time.Time
		err    error
	}{
		{start.Add(time.Minute), nil},
		{time.Time{}, errors.New("read failed")},
		{time.Time{}, nil},
		{start.Add(30 * time.Second), nil}, // older than seen: ignored
		{start.Add(2 * time.Minute), nil},
	}
	want := []time.Time{start, start.Add(time.Minute), start.Add(time.Minute), start.Add(time.Minute), start.Add(time.Minute),
		start.Add(2 * time.Minute)}
	var got []time.Time
	ctx, cancel := context.WithCancel(context.Background())
	Every(ctx, time.Millisecond, start, slog.New(slog.DiscardHandler), "records", func(_ context.Context, since time.Time) (time.Time, error) {
		got = append(got, since.Add(Behind))
		if len(got) > len(answers) {
			cancel()
			return time.Time{}, nil
		}
		a := answers[len(got)-1]
		return a.newest, a.err
	})
	if len(got) != len(want) {
		t.Fatalf("%d rounds, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("round %d read from %v, want %v", i+1, got[i].Add(-Behind), want[i].Add(-Behind))
		}
	}
}
