package docdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"microtask/internal/apperr"
)

func TestReadyWhileTheGateIsHeld(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready() = %v, want nil", err)
	}
	leave, err := db.mem.gate.enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.mem.gate.since.Store(time.Now().Add(-commandTimeout - time.Second).UnixNano())
	err = db.Ready(ctx)
	leave()
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "write gate has been held for 11s") {
		t.Errorf("Ready() with the gate held 11s = %v, want ErrUnavailable naming the gate", err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Errorf("Ready() once the gate is free = %v, want nil", err)
	}
}

// TestHealthLearnsFromWrites: a write that times out or meets a full disk
// marks the database unfit and answers ErrUnavailable with a Retry-After; a
// write that succeeds later clears it; other failures (the database
// answered) change nothing.
func TestHealthLearnsFromWrites(t *testing.T) {
	diskFull := mongo.CommandError{Code: 1, Message: "[db.go:167 fsql.(*DB).InTransaction] database or disk is full (13)"}
	tests := []struct {
		name       string
		err        error
		wantReason string // "" for an error passed on as it is
	}{
		{"disk full", diskFull, "the disk under the database is full"},
		{"no space", fmt.Errorf("write wal: %w", errors.New("write /data/db/x.sqlite-wal: no space left on device")), "the disk under the database is full"},
		{"MongoDB out of disk", mongo.CommandError{Code: 14031, Message: "OutOfDiskSpace"}, "the disk under the database is full"},
		{"timeout", context.DeadlineExceeded, "a write did not return within 10s"},
		{"duplicate", mongo.CommandError{Code: 11000, Message: "E11000 duplicate key"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &health{}
			err := h.command(context.Background(), func(context.Context) error { return tt.err })
			if got := h.current(); got != tt.wantReason {
				t.Errorf("current() = %q, want %q", got, tt.wantReason)
			}
			var later interface{ RetryAfter() time.Duration }
			if tt.wantReason == "" {
				if err == nil || err.Error() != tt.err.Error() || errors.Is(err, ErrUnavailable) {
					t.Errorf("command() = %v, want %v as it is", err, tt.err)
				}
				return
			}
			if apperr.KindOf(err) != apperr.Unavailable || !errors.Is(err, ErrUnavailable) || !errors.As(err, &later) {
				t.Errorf("command() = %v, want ErrUnavailable with a Retry-After", err)
			}
			if err := h.command(context.Background(), func(context.Context) error { return nil }); err != nil || h.current() != "" {
				t.Errorf("after a write that succeeded: %v, current() = %q; want nil, \"\"", err, h.current())
			}
		})
	}
}
