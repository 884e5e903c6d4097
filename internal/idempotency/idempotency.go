// Package idempotency remembers the answers to requests sent with an
// Idempotency-Key, so that a client retrying a request that moves coins gets
// the first answer again instead of a second effect.
//
// A key is claimed before the request runs and holds the request's
// fingerprint; the answer is kept once it is known. A retry with the same
// fingerprint gets that answer, one with another fingerprint is refused, and
// one that arrives while the first still runs is told to wait. A claim whose
// request died with its process is taken over once its lease runs out: the
// request runs again, which is why the services derive what they create
// from the key as well (see idgen.Derive), so that a second run finds what
// the first made.
package idempotency

import (
	"context"
	"fmt"
	"time"

	"microtask/internal/apperr"
)

// Response is an answer as it was sent.
type Response struct {
	Status int
	Header map[string]string // the headers worth sending again: Content-Type, Location
	Body   []byte
}

// Record is one user's key.
type Record struct {
	UserID      string
	Key         string
	Fingerprint string // what the request said, hashed
	Done        bool   // Response is the answer; otherwise the request is running
	Response    Response
	CreatedAt   time.Time
	LeaseUntil  time.Time // while running: until when the claim is the first request's
}

// Store keeps the records.
type Store interface {
	// Claim inserts rec unless the user's key is recorded already; then it
	// returns the recorded one and false.
	Claim(ctx context.Context, rec Record) (Record, bool, error)
	// TakeOver gives a running record whose lease ended at or before now a
	// new lease until until, and reports whether it did (false when the
	// record finished, or another retry took it over first).
	TakeOver(ctx context.Context, userID, key string, now, until time.Time) (bool, error)
	// Finish records the answer.
	Finish(ctx context.Context, userID, key string, res Response) error
	// Release forgets a key, so that the request can run again.
	Release(ctx context.Context, userID, key string) error
	// DeleteBefore forgets the keys claimed before t and returns how many.
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
}

// Errors Begin returns.
var (
	ErrKeyReused = apperr.New(apperr.Conflict, "idempotency_key_reused",
		"this Idempotency-Key was already used for a different request")
	ErrInProgress = apperr.New(apperr.Conflict, "idempotency_key_in_progress",
		"a request with this Idempotency-Key is still being processed; retry in a moment")
)

// Defaults for Keys.
const (
	// Keep is how long an answer is kept: retries come within minutes, and
	// clients are promised a day.
	Keep = 24 * time.Hour
	// Lease is how long a claim stays the first request's before a retry
	// may take it over. Requests end well within it: every database write
	// has 30 s.
	Lease = 2 * time.Minute
)

// Keys claims, answers and forgets keys.
type Keys struct {
	store Store
	now   func() time.Time
}

// NewKeys returns Keys on store. now may be nil for time.Now.
func NewKeys(store Store, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: store, now: now}
}

// Begin claims the user's key for a request with this fingerprint. When it
// returns replay true, res is the first answer to send again; otherwise the
// caller runs the request and then calls Finish or Release.
func (k *Keys) Begin(ctx context.Context, userID, key, fingerprint string) (res Response, replay bool, err error) {
	now := k.now().UTC().Truncate(time.Millisecond)
	rec := Record{UserID: userID, Key: key, Fingerprint: fingerprint, CreatedAt: now, LeaseUntil: now.Add(Lease)}
	prev, claimed, err := k.store.Claim(ctx, rec)
	switch {
	case err != nil:
		return Response{}, false, fmt.Errorf("claim idempotency key of user %s: %w", userID, err)
	case claimed:
		return Response{}, false, nil
	case prev.Fingerprint != fingerprint:
		return Response{}, false, ErrKeyReused
	case prev.Done:
		return prev.Response, true, nil
	case prev.LeaseUntil.After(now):
		return Response{}, false, ErrInProgress
	}
	// The first request's process died before it answered.
	took, err := k.store.TakeOver(ctx, userID, key, now, now.Add(Lease))
	if err != nil {
		return Response{}, false, fmt.Errorf("take over idempotency key of user %s: %w", userID, err)
	}
	if !took {
		return Response{}, false, ErrInProgress // another retry did, or the first just finished
	}
	return Response{}, false, nil
}

// Finish keeps the answer to a request Begin let run.
func (k *Keys) Finish(ctx context.Context, userID, key string, res Response) error {
	if err := k.store.Finish(ctx, userID, key, res); err != nil {
		return fmt.Errorf("keep the answer to idempotency key of user %s: %w", userID, err)
	}
	return nil
}

// Release forgets the key of a request that failed in a way worth retrying
// (a server error or an outage): the retry runs it again.
func (k *Keys) Release(ctx context.Context, userID, key string) error {
	if err := k.store.Release(ctx, userID, key); err != nil {
		return fmt.Errorf("release idempotency key of user %s: %w", userID, err)
	}
	return nil
}

// Sweep forgets the keys older than Keep and returns how many.
func (k *Keys) Sweep(ctx context.Context) (int64, error) {
	return k.store.DeleteBefore(ctx, k.now().Add(-Keep))
}
