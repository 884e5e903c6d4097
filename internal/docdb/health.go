package docdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"microtask/internal/apperr"
)

// The deadlines of the write path.
const (
	// commandTimeout bounds each write command. A write does not follow its
	// request's context (a client hanging up must not cut a write off
	// midway, leaving unknown what the database holds), so this is what
	// keeps a command that never returns from holding the gate for good.
	commandTimeout = 10 * time.Second
	// gateWait bounds how long a write waits for the gate: past it, the
	// request is answered 503 rather than left to its client's timeout.
	gateWait = 15 * time.Second
	// readyTimeout bounds the read and the write of a readiness check.
	readyTimeout = 2 * time.Second
	// retryAfter is what a refused client is told to wait.
	retryAfter = 5 * time.Second
)

// ErrUnavailable is what a request meets when the database cannot take it
// now: a write that did not return in time, a full disk, a gate held past
// its deadline. Its errors carry a Retry-After.
var ErrUnavailable = apperr.New(apperr.Unavailable, "database_unavailable",
	"the database cannot serve this request right now; retry after the time in Retry-After")

// unavailable is an ErrUnavailable with its reason and cause.
type unavailable struct {
	reason string // for readiness and the log, e.g. "the disk is full"
	cause  error  // nil when the reason says it all
}

func (e *unavailable) Error() string {
	if e.cause == nil {
		return ErrUnavailable.Code + ": " + e.reason
	}
	return ErrUnavailable.Code + ": " + e.reason + ": " + e.cause.Error()
}

// Unwrap gives the ErrUnavailable the client sees, naming the reason, and
// the cause.
func (e *unavailable) Unwrap() []error {
	return []error{ErrUnavailable.WithMessage("the database cannot serve this request right now (%s); retry after the time in Retry-After", e.reason), e.cause}
}

// RetryAfter is the wait the client is told, as Retry-After.
func (e *unavailable) RetryAfter() time.Duration { return retryAfter }

// health is what the database's answers said lately: why it is not fit to
// serve (a write that timed out, a full disk), until a later write
// succeeds. It is shared by every handle on one server (Sibling).
type health struct {
	mu      sync.Mutex
	problem string // "" when the last write that mattered succeeded
	fenced  string // why every write is refused for good (the writer lease was lost); "" when not
	probing atomic.Bool
}

// fence refuses every later write, for reason.
func (h *health) fence(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fenced = reason
}

// command runs one write command with its deadline and learns from its
// outcome: a timeout or a full disk marks the database unfit and becomes an
// ErrUnavailable; a success clears what an earlier failure marked.
func (h *health) command(ctx context.Context, send func(context.Context) error) error {
	if reason := h.fencedFor(); reason != "" {
		return &unavailable{reason: reason}
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	err := send(cctx)
	reason := failureReason(err)
	if h == nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.problem = ""
	case reason != "":
		h.problem = reason
		return &unavailable{reason: reason, cause: err}
	}
	return err
}

func (h *health) fencedFor() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fenced
}

func (h *health) current() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return cmp.Or(h.fenced, h.problem)
}

// failureReason says why err makes the database unfit to serve, or "" when
// it does not (a conflict, a duplicate key: the database answered).
func failureReason(err error) string {
	switch {
	case err == nil:
		return ""
	case isDiskFull(err):
		return "the disk under the database is full"
	case mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("a write did not return within %s", commandTimeout)
	}
	return ""
}

// isDiskFull reports whether err says the disk is full: SQLite's
// SQLITE_FULL ("database or disk is full (13)", as FerretDB passes it on),
// ENOSPC, or MongoDB's OutOfDiskSpace (14031).
func isDiskFull(err error) bool {
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code == 14031 {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "no space left on device")
}

// Ready reports whether the database can serve requests, and why not: it
// answers 503 (ErrUnavailable with the reason) when the write gate has been
// held past the deadline of a command, when the last write failed for want
// of disk or time, or when a cheap read by _id and a cheap write do not
// both succeed within a short deadline. It recovers by itself: the probe's
// write that succeeds clears the failure of an earlier one.
func (d *DB) Ready(ctx context.Context) error {
	g := d.gate
	if d.mem != nil {
		g = d.mem.gate
	}
	if held := g.heldFor(); held > commandTimeout {
		return &unavailable{reason: fmt.Sprintf("the write gate has been held for %s", held.Round(time.Second))}
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := d.probeRead(ctx); err != nil {
		return &unavailable{reason: "the database does not answer a read", cause: err}
	}
	if err := d.probeWrite(ctx); err != nil {
		var u *unavailable
		if errors.As(err, &u) {
			return u
		}
		if reason := d.health.current(); reason != "" {
			return &unavailable{reason: reason, cause: err}
		}
		return &unavailable{reason: "the database does not take a write", cause: err}
	}
	return nil
}

// probeRead reads the readiness document by _id from the server, or from
// the embedded database's file (its copy in memory would prove nothing).
func (d *DB) probeRead(ctx context.Context) error {
	if d.mem != nil {
		raw, err := bson.Marshal(bson.D{{Key: "_id", Value: readinessDoc}})
		if err != nil {
			return err
		}
		_, err = d.mem.file.hasDocument(ctx, LeasesCollection, bson.Raw(raw).Lookup("_id"))
		return err
	}
	err := d.db.Collection(LeasesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: readinessDoc}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	return err
}

// readinessDoc is the lease document readiness probes write.
const readinessDoc = "readiness"

// probeWrite writes the readiness document through the gate, as every
// write goes, and waits for it until ctx ends. A write already under way
// is not doubled: the probe reports it still pending.
func (d *DB) probeWrite(ctx context.Context) error {
	if !d.health.probing.CompareAndSwap(false, true) {
		return errors.New("the previous readiness write has not returned")
	}
	done := make(chan error, 1)
	go func() {
		// The write is not cut off when the probe gives up: it ends within
		// its own deadline, and its outcome still tells the health.
		_, err := d.Collection(LeasesCollection).UpdateOne(context.WithoutCancel(ctx),
			bson.D{{Key: "_id", Value: readinessDoc}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().UTC()}}}}, true)
		// Free for the next probe before this one answers, so that a probe
		// right after it does not find it still running.
		d.health.probing.Store(false)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer to a write within %s", readyTimeout)
	}
}
