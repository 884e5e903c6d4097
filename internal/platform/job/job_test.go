package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"microtask/internal/platform/logging"
)

type leaser struct {
	grant bool
	asked atomic.Int64
}

func (l *leaser) Acquire(context.Context, string, string, time.Time) (bool, error) {
	l.asked.Add(1)
	return l.grant, nil
}

func TestEveryRunsOnlyWithTheLease(t *testing.T) {
	for _, grant := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		l := &leaser{grant: grant}
		var rounds atomic.Int64
		done := make(chan struct{})
		go func() {
			Every(ctx, logging.Discard(), l, "me", "test", time.Millisecond, func(context.Context) error {
				rounds.Add(1)
				return nil
			})
			close(done)
		}()
		// Wait for three rounds of asking for the lease, however slow the machine.
		for deadline := time.Now().Add(10 * time.Second); l.asked.Load() < 3; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("Every did not keep asking for the lease")
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Every did not stop when its context ended")
		}
		if got := rounds.Load(); grant && got < 3 || !grant && got != 0 {
			t.Errorf("lease granted %v: %d rounds of work for %d lease requests", grant, got, l.asked.Load())
		}
	}
}

func TestEach(t *testing.T) {
	changed := errors.New("changed meanwhile")
	broken := errors.New("broken")
	results := map[string]error{"a": nil, "b": changed, "c": broken, "d": nil, "e": fmt.Errorf("wrapped: %w", changed)}
	var done []string
	n, err := Each([]string{"a", "b", "c", "d", "e"}, func(s string) string { return "item " + s },
		func(s string) error { done = append(done, s); return results[s] }, changed)
	if n != 2 || len(done) != 5 {
		t.Errorf("Each() did %d of %v, want 2 of all 5", n, done)
	}
	if !errors.Is(err, broken) || errors.Is(err, changed) || !strings.Contains(err.Error(), "item c: broken") {
		t.Errorf("Each() error = %v, want only item c's, named", err)
	}
}
