package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"microtask/internal/mail"
	"microtask/internal/mail/mailtest"
	"microtask/internal/platform/clocktest"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func newOutbox(t *testing.T) (*mail.Outbox, *storage.MailStore, *mailtest.Server, *clocktest.Clock) {
	t.Helper()
	srv := mailtest.New(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{URL: srv.URL(), From: "Microtask <no-reply@example.com>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store := storage.NewMailStore(storagetest.NewDB(t))
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return mail.NewOutbox(store, sender, logging.Discard(), clock.Now), store, srv, clock
}

func TestOutboxDelivers(t *testing.T) {
	ctx := context.Background()
	o, store, srv, _ := newOutbox(t)
	text := "Follow https://app.example.com/verify-email?token=abc_DEF-123 " + strings.Repeat("to check that long lines survive ", 5)
	if err := o.Enqueue(ctx, mail.Message{To: "ana@example.com", Subject: "Verify your email", Text: text}); err != nil {
		t.Fatal(err)
	}
	if n, err := o.Deliver(ctx); n != 1 || err != nil {
		t.Fatalf("Deliver() = %d, %v; want 1", n, err)
	}
	got := srv.Wait(t, "ana@example.com", "Verify")
	if got.Text != text+"\r\n" && strings.TrimRight(got.Text, "\r\n") != text {
		t.Errorf("text = %q, want %q", got.Text, text)
	}
	if tok := mailtest.Token(t, got); tok != "abc_DEF-123" {
		t.Errorf("Token() = %q", tok)
	}
	if left, _ := store.All(ctx); len(left) != 0 {
		t.Errorf("outbox keeps %d messages after sending", len(left))
	}
}

func TestOutboxRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	o, store, srv, clock := newOutbox(t)
	srv.FailNext(2)
	if err := o.Enqueue(ctx, mail.Message{To: "bo@example.com", Subject: "Hello", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if n, err := o.Deliver(ctx); n != 0 || err != nil {
			t.Fatalf("attempt %d: Deliver() = %d, %v; want 0 sent", attempt, n, err)
		}
		q, _ := store.All(ctx)
		if len(q) != 1 || q[0].Attempts != attempt || q[0].LastError == "" || !q[0].NextAt.Equal(clock.Now().Add(mail.Backoff(attempt))) {
			t.Fatalf("after attempt %d the outbox holds %+v", attempt, q)
		}
		// Not due before its delay.
		if n, _ := o.Deliver(ctx); n != 0 {
			t.Fatalf("sent before the back-off")
		}
		clock.Advance(mail.Backoff(attempt))
	}
	if n, err := o.Deliver(ctx); n != 1 || err != nil {
		t.Fatalf("Deliver() = %d, %v; want 1", n, err)
	}
	if srv.Count("bo@example.com") != 1 {
		t.Errorf("received %d messages, want 1", srv.Count("bo@example.com"))
	}
}

func TestOutboxGivesUp(t *testing.T) {
	ctx := context.Background()
	o, store, srv, clock := newOutbox(t)
	srv.FailNext(mail.MaxAttempts)
	if err := o.Enqueue(ctx, mail.Message{To: "cy@example.com", Subject: "Hello", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	for range mail.MaxAttempts {
		if _, err := o.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(9 * time.Hour)
	}
	q, _ := store.All(ctx)
	if len(q) != 1 || !q[0].NextAt.IsZero() || q[0].Attempts != mail.MaxAttempts {
		t.Fatalf("outbox %+v, want the message kept, never due again", q)
	}
	if n, _ := o.Deliver(ctx); n != 0 {
		t.Errorf("a message given up on was sent")
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 11: 8 * time.Hour, 30: 8 * time.Hour} {
		if got := mail.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tt := range []struct {
		in, wantErr string
	}{
		{"smtp://user:pass@mail.example.com:587", ""},
		{"smtps://mail.example.com", ""},
		{"http://mail.example.com", "must start with smtp:// or smtps://"},
		{"smtp://", "must name a host"},
		{"smtp://h:99999", "has a bad port"},
	} {
		_, err := mail.ParseSMTPURL(tt.in)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseSMTPURL(%q) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLogSenderWritesTheMessage(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	if err := (mail.Log{Log: log}).Send(context.Background(), mail.Message{To: "dev@example.com", Subject: "Verify your email", Text: "http://localhost:5173/verify-email?token=abc"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"level":"INFO"`, `"to":"dev@example.com"`, `verify-email?token=abc`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %s lacks %s", buf.String(), want)
		}
	}
}
