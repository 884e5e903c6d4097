package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"microtask/internal/idempotency"
	"microtask/internal/platform/clocktest"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func newKeys(t *testing.T) (*idempotency.Keys, *clocktest.Clock) {
	t.Helper()
	c := clocktest.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	return idempotency.NewKeys(storage.NewIdempotencyStore(storagetest.NewDB(t)), c.Now), c
}

// begin is Keys.Begin, told apart by its outcome.
func begin(t *testing.T, k *idempotency.Keys, user, key, fp string) (string, idempotency.Response) {
	t.Helper()
	res, replay, err := k.Begin(context.Background(), user, key, fp)
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		return "reused", res
	case errors.Is(err, idempotency.ErrInProgress):
		return "in progress", res
	case err != nil:
		t.Fatal(err)
	case replay:
		return "replay", res
	}
	return "run", res
}

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	k, clock := newKeys(t)
	answer := idempotency.Response{Status: http.StatusCreated, Header: map[string]string{"Location": "/api/tasks/1"}, Body: []byte(`{"id":"1"}`)}

	steps := []struct {
		name     string
		user, fp string
		advance  time.Duration
		then     func() error
		want     string
	}{
		{name: "first request runs", user: "u1", fp: "a", want: "run"},
		{name: "a retry waits while it runs", user: "u1", fp: "a", want: "in progress"},
		{name: "another body is refused even while it runs", user: "u1", fp: "b", want: "reused"},
		{name: "another user's key is theirs", user: "u2", fp: "b", want: "run"},
		{name: "still waits just before the lease ends", user: "u1", fp: "a", advance: idempotency.Lease - time.Millisecond, want: "in progress"},
		{name: "a retry takes over a claim whose lease ran out", user: "u1", fp: "a", advance: time.Millisecond, want: "run",
			then: func() error { return k.Finish(ctx, "u1", "key", answer) }},
		{name: "then retries get the answer", user: "u1", fp: "a", want: "replay"},
		{name: "another body is still refused", user: "u1", fp: "b", want: "reused"},
		{name: "a day later the answer is still kept", user: "u1", fp: "a", advance: idempotency.Keep - idempotency.Lease, want: "replay"},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		got, res := begin(t, k, s.user, "key", s.fp)
		if got != s.want {
			t.Fatalf("%s: %s, want %s", s.name, got, s.want)
		}
		if got == "replay" && (res.Status != answer.Status || string(res.Body) != string(answer.Body) || res.Header["Location"] != "/api/tasks/1") {
			t.Fatalf("%s: replayed %+v", s.name, res)
		}
		if s.then != nil {
			if err := s.then(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Sweeping forgets only what is older than Keep.
	clock.Advance(time.Millisecond)
	if got, _ := begin(t, k, "u1", "fresh", "a"); got != "run" {
		t.Fatal(got)
	}
	n, err := k.Sweep(ctx)
	if err != nil || n != 2 { // u1's and u2's "key"
		t.Fatalf("Sweep() = %d, %v; want 2", n, err)
	}
	if got, _ := begin(t, k, "u1", "fresh", "a"); got != "in progress" {
		t.Errorf("the fresh key after the sweep: %s", got)
	}
	if got, _ := begin(t, k, "u1", "key", "b"); got != "run" {
		t.Errorf("a swept key: %s, want run", got)
	}
}

func TestReleasedKeyRunsAgain(t *testing.T) {
	k, _ := newKeys(t)
	begin(t, k, "u", "k", "a")
	if err := k.Release(context.Background(), "u", "k"); err != nil {
		t.Fatal(err)
	}
	if got, _ := begin(t, k, "u", "k", "a"); got != "run" {
		t.Errorf("after release: %s, want run", got)
	}
}

func TestOneOfSimultaneousClaimsRuns(t *testing.T) {
	k, clock := newKeys(t)
	for round, advance := range []time.Duration{0, idempotency.Lease} {
		clock.Advance(advance) // the second round takes over an expired claim
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				o, _ := begin(t, k, "u", "k", "a")
				mu.Lock()
				got[o]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if got["run"] != 1 || got["in progress"] != 7 {
			t.Errorf("round %d: outcomes %v, want one run", round, got)
		}
	}
}
