package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestContextAttributes(t *testing.T) {
	var buf bytes.Buffer
	userID := func(ctx context.Context) []slog.Attr { return []slog.Attr{slog.String("user_id", "u1")} }
	log := New(&buf, slog.LevelInfo, userID).With("component", "test")

	log.InfoContext(WithRequestID(context.Background(), "req-1"), "hello", "n", 1)
	log.DebugContext(context.Background(), "dropped below the level")

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log output %q: %v", buf.String(), err)
	}
	for k, want := range map[string]any{"msg": "hello", "request_id": "req-1", "user_id": "u1", "component": "test", "n": float64(1)} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Errorf("got %q, want exactly one line", buf.String())
	}
}
