package httpapi_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
)

// ticket returns a fresh stream ticket of the token's user.
func (a *testAPI) ticket(t *testing.T, token string) string {
	t.Helper()
	return decode[struct{ Ticket string }](t, a.call(t, http.MethodPost, "/api/notifications/stream-ticket", token, nil), http.StatusOK).Ticket
}

// stream opens a notification stream on srv with a fresh ticket and
// lastID as Last-Event-ID (unless empty); the test closes it at its end.
func (a *testAPI) stream(t *testing.T, srv *httptest.Server, token, lastID string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/notifications/stream?ticket="+url.QueryEscape(a.ticket(t, token)), nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream = %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	// Wait for the greeting, so that the stream is subscribed.
	for sc.Scan() && sc.Text() != ": connected" {
	}
	return sc
}

// wantStreamEnds fails unless the stream ends within a few seconds.
func wantStreamEnds(t *testing.T, sc *bufio.Scanner, why string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("stream still open after %s", why)
	}
}

func TestStreamTicketIsSingleUse(t *testing.T) {
	a := newAPI(t)
	srv := streamServer(t, a)
	w := a.register(t, "worker")
	ticket := a.ticket(t, w.Token)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/notifications/stream?ticket="+url.QueryEscape(ticket), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first use: %v %v", resp, err)
	}
	cancel()
	resp.Body.Close()
	wantProblem(t, a.get(t, "/api/notifications/stream?ticket="+url.QueryEscape(ticket)), http.StatusUnauthorized, "ticket_used")
}

func TestStreamLimits(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, services: func(c *app.Config) { c.StreamsPerUser, c.StreamsMax = 2, 3 }})
	srv := streamServer(t, a)
	w1, w2, w3 := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.stream(t, srv, w1.Token, "")
	a.stream(t, srv, w1.Token, "")
	rec := a.get(t, "/api/notifications/stream?ticket="+url.QueryEscape(a.ticket(t, w1.Token)))
	wantProblem(t, rec, http.StatusTooManyRequests, "too_many_streams")
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	a.stream(t, srv, w2.Token, "")
	wantProblem(t, a.get(t, "/api/notifications/stream?ticket="+url.QueryEscape(a.ticket(t, w3.Token))), http.StatusTooManyRequests, "streams_full")
	if n := a.env.Notifications.OpenStreams(); n != 3 {
		t.Errorf("open streams = %d, want 3", n)
	}
}

func TestStreamsCloseWhenTokensAreRevoked(t *testing.T) {
	a := newAPI(t)
	srv := streamServer(t, a)
	adm := a.admin(t)

	for _, tt := range []struct {
		name   string
		revoke func(s sessionBody)
	}{
		{"logout", func(s sessionBody) { a.call(t, http.MethodPost, "/api/auth/logout", s.Token, nil) }},
		{"logout-all", func(s sessionBody) { a.call(t, http.MethodPost, "/api/auth/logout-all", s.Token, nil) }},
		{"password change", func(s sessionBody) {
			a.call(t, http.MethodPut, "/api/auth/password", s.Token, map[string]string{"current_password": "Passw0rd!", "new_password": "N3wPassword"})
		}},
		{"suspension", func(s sessionBody) {
			a.call(t, http.MethodPut, "/api/admin/users/"+s.User.ID, adm.Token, map[string]string{"status": "suspended"})
		}},
		{"role change", func(s sessionBody) {
			a.call(t, http.MethodPut, "/api/admin/users/"+s.User.ID, adm.Token, map[string]string{"role": "buyer"})
		}},
		{"deletion", func(s sessionBody) { a.call(t, http.MethodDelete, "/api/admin/users/"+s.User.ID, adm.Token, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := a.register(t, "worker")
			sc := a.stream(t, srv, s.Token, "")
			tt.revoke(s)
			wantStreamEnds(t, sc, tt.name)
			if n := a.env.Notifications.OpenStreams(); n != 0 {
				t.Errorf("open streams = %d after %s", n, tt.name)
			}
		})
	}
}

func TestStreamReplaysMissedNotifications(t *testing.T) {
	a := newAPI(t)
	srv := streamServer(t, a)
	adm, w := a.admin(t), a.register(t, "worker")
	for _, m := range []string{"one", "two", "three"} {
		a.call(t, http.MethodPost, "/api/notifications", adm.Token, map[string]string{"to_user_id": w.User.ID, "message": m})
		a.clock.Advance(time.Second)
	}
	ns := a.notificationsOf(t, w.Token) // newest first
	if len(ns) != 3 {
		t.Fatalf("notifications = %+v", ns)
	}
	sc := a.stream(t, srv, w.Token, ns[2].ID)
	for _, want := range []string{ns[1].ID, ns[0].ID} {
		if ev := readEvent(t, sc, 5*time.Second); ev["id"] != want {
			t.Fatalf("replayed %v, want id %s", ev, want)
		}
	}
	// Then live ones.
	a.call(t, http.MethodPost, "/api/notifications", adm.Token, map[string]string{"to_user_id": w.User.ID, "message": "four"})
	if ev := readEvent(t, sc, 5*time.Second); ev["id"] == ns[0].ID || ev["id"] == "" {
		t.Errorf("live event %v", ev)
	}
	// An unknown Last-Event-ID replays nothing; the stream still opens.
	a.stream(t, srv, w.Token, "no-such-id")
}

// streamServer serves a over HTTP until the test ends, after its streams
// are closed (Close waits for them).
func streamServer(t *testing.T, a *testAPI) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(a.srv)
	t.Cleanup(srv.Close)
	return srv
}
