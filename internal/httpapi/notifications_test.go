package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNotifications(t *testing.T) {
	a := newAPI(t)
	adm, w, other := a.admin(t), a.register(t, "worker"), a.register(t, "worker")
	for i := range 3 {
		rec := a.call(t, http.MethodPost, "/api/notifications", adm.Token, map[string]string{
			"to_user_id": w.User.ID, "message": "Welcome " + string(rune('A'+i)), "action_route": "/dashboard",
		})
		n := decode[notificationBody](t, rec, http.StatusCreated)
		if n.Read || n.ActionRoute != "/dashboard" {
			t.Errorf("announced = %+v", n)
		}
		a.clock.Advance(time.Second)
	}
	unread := func(tok string) int64 {
		t.Helper()
		return decode[struct{ Count int64 }](t, a.call(t, http.MethodGet, "/api/notifications/unread/count", tok, nil), http.StatusOK).Count
	}
	if n := unread(w.Token); n != 3 {
		t.Fatalf("unread = %d, want 3", n)
	}
	page := decode[pageOf[notificationBody]](t, a.call(t, http.MethodGet, "/api/notifications?limit=2", w.Token, nil), http.StatusOK)
	if page.Total != 3 || len(page.Items) != 2 || page.Items[0].Message != "Welcome C" {
		t.Fatalf("first page = %+v, want the newest two of three", page)
	}
	newest := page.Items[0].ID

	// Someone else's notification is not found, whatever they do.
	wantProblem(t, a.call(t, http.MethodPut, "/api/notifications/"+newest, other.Token, nil), http.StatusNotFound, "notification_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/notifications/"+newest, other.Token, nil), http.StatusNotFound, "notification_not_found")
	if rec := a.call(t, http.MethodPut, "/api/notifications/"+newest, w.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("mark read = %d", rec.Code)
	}
	if n := unread(w.Token); n != 2 {
		t.Errorf("unread after one read = %d", n)
	}
	if rec := a.call(t, http.MethodDelete, "/api/notifications/"+newest, w.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d", rec.Code)
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/notifications/"+newest, w.Token, nil), http.StatusNotFound, "notification_not_found")
	if rec := a.call(t, http.MethodPut, "/api/notifications/read-all", w.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("read all = %d", rec.Code)
	}
	if n := unread(w.Token); n != 0 {
		t.Errorf("unread after read-all = %d", n)
	}

	tests := []struct {
		name   string
		token  string
		body   any
		status int
		code   string
	}{
		{"a worker", w.Token, map[string]string{"to_user_id": other.User.ID, "message": "hi"}, 403, "wrong_role"},
		{"unknown user", adm.Token, map[string]string{"to_user_id": "nobody", "message": "hi"}, 404, "user_not_found"},
		{"no message", adm.Token, map[string]string{"to_user_id": other.User.ID}, 422, "invalid_fields"},
		{"route not a path", adm.Token, map[string]string{"to_user_id": other.User.ID, "message": "hi", "action_route": "https://evil.example"}, 422, "invalid_fields"},
		{"long message", adm.Token, map[string]string{"to_user_id": other.User.ID, "message": strings.Repeat("m", 501)}, 422, "invalid_fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/notifications", tt.token, tt.body), tt.status, tt.code)
		})
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/notifications", "", nil), http.StatusUnauthorized, "missing_token")
	if n := unread(other.Token); n != 0 {
		t.Errorf("refused announcements reached the user: %d", n)
	}
}

// readEvent reads one server-sent event with data (skipping comments and
// retry blocks) within d.
func readEvent(t *testing.T, sc *bufio.Scanner, d time.Duration) map[string]string {
	t.Helper()
	got := make(chan map[string]string, 1)
	go func() {
		ev := map[string]string{}
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev["data"] != "" {
					got <- ev
					return
				}
				ev = map[string]string{} // a block without data (retry:) is no event
				continue
			}
			if strings.HasPrefix(line, ":") {
				continue
			}
			k, v, _ := strings.Cut(line, ": ")
			ev[k] = v
		}
		close(got)
	}()
	select {
	case ev, ok := <-got:
		if !ok {
			t.Fatal("stream ended before an event")
		}
		return ev
	case <-time.After(d):
		t.Fatal("no event within", d)
		return nil
	}
}

func TestNotificationStream(t *testing.T) {
	a := newAPI(t)
	srv := httptest.NewServer(a.srv)
	defer srv.Close()
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 1, 10)
	sub := a.submit(t, worker.Token, tk.ID)

	ticket := decode[struct {
		Ticket    string `json:"ticket"`
		ExpiresAt string `json:"expires_at"`
	}](t, a.call(t, http.MethodPost, "/api/notifications/stream-ticket", worker.Token, nil), http.StatusOK)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/notifications/stream?ticket="+ticket.Ticket, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)

	// The buyer approves: the worker's open stream gets the notification.
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
	ev := readEvent(t, sc, 5*time.Second)
	var n notificationBody
	if err := json.Unmarshal([]byte(ev["data"]), &n); err != nil {
		t.Fatalf("event data %q: %v", ev["data"], err)
	}
	if ev["event"] != "notification" || ev["id"] != n.ID || !strings.Contains(n.Message, "approved") || n.Read {
		t.Errorf("event = %v", ev)
	}

	// Closing streams (as at shutdown) ends the response.
	a.srv.CloseStreams()
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("stream still open after CloseStreams")
	}
}

func TestNotificationStreamAuth(t *testing.T) {
	a := newAPI(t)
	w := a.register(t, "worker")
	ticket := decode[struct{ Ticket string }](t, a.call(t, http.MethodPost, "/api/notifications/stream-ticket", w.Token, nil), http.StatusOK).Ticket

	wantProblem(t, a.get(t, "/api/notifications/stream"), http.StatusUnauthorized, "missing_token")
	wantProblem(t, a.get(t, "/api/notifications/stream?ticket=garbage"), http.StatusUnauthorized, "invalid_token")
	// An access token is not a ticket, and a ticket is not an access token.
	wantProblem(t, a.get(t, "/api/notifications/stream?ticket="+w.Token), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", ticket, nil), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, a.call(t, http.MethodPost, "/api/notifications/stream-ticket", "", nil), http.StatusUnauthorized, "missing_token")
}

// Notification ids contain ':', which encodeURIComponent, openapi-fetch and
// Postman send as %3A: the API must find the same notification either way.
func TestNotificationIDsArriveEscaped(t *testing.T) {
	a := newAPI(t)
	// Each submission tells the buyer, in a notification named for it.
	buyer := a.register(t, "buyer")
	tk := a.postTask(t, buyer.Token, 2, 10)
	for range 2 {
		a.submit(t, a.register(t, "worker").Token, tk.ID)
		a.clock.Advance(time.Second)
	}
	w := buyer
	items := decode[pageOf[notificationBody]](t, a.call(t, http.MethodGet, "/api/notifications", w.Token, nil), http.StatusOK).Items
	if len(items) != 2 || !strings.Contains(items[0].ID, ":") {
		t.Fatalf("notifications = %+v, want two with ':' in their ids", items)
	}
	path := func(id string) string { return "/api/notifications/" + strings.ReplaceAll(id, ":", "%3A") }

	if rec := a.call(t, http.MethodPut, path(items[0].ID), w.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("PUT %s = %d %s", path(items[0].ID), rec.Code, rec.Body)
	}
	if n := decode[struct{ Count int64 }](t, a.call(t, http.MethodGet, "/api/notifications/unread/count", w.Token, nil), http.StatusOK).Count; n != 1 {
		t.Errorf("unread = %d, want 1", n)
	}
	for _, id := range []string{items[0].ID, items[1].ID} {
		if rec := a.call(t, http.MethodDelete, path(id), w.Token, nil); rec.Code != http.StatusNoContent {
			t.Fatalf("DELETE %s = %d %s", path(id), rec.Code, rec.Body)
		}
	}
	// Gone, escaped or not.
	wantProblem(t, a.call(t, http.MethodDelete, "/api/notifications/"+items[0].ID, w.Token, nil), http.StatusNotFound, "notification_not_found")
	wantProblem(t, a.call(t, http.MethodPut, path(items[1].ID), w.Token, nil), http.StatusNotFound, "notification_not_found")
}

// TestNotificationTypes: each notification says what it is about and which
// page of the app it opens.
func TestNotificationTypes(t *testing.T) {
	a := newAPI(t)
	adm, buyer, w1, w2 := a.admin(t), a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, w1.User.ID, 400)
	tk := a.postTask(t, buyer.Token, 2, 10)
	s1, s2 := a.submit(t, w1.Token, tk.ID), a.submit(t, w2.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "Blurry photo, cannot read it."}), http.StatusOK)
	wd := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", w1.Token, withdrawalRequest(200)), http.StatusCreated)
	decode[withdrawalBody](t, a.call(t, http.MethodPut, "/api/withdrawals/"+wd.ID+"/approve", adm.Token, nil), http.StatusOK)
	a.clock.Advance(time.Second)
	a.call(t, http.MethodPost, "/api/notifications", adm.Token, map[string]string{"to_user_id": w2.User.ID, "message": "Welcome!", "action_route": "/help"})

	type seen struct{ typ, route string }
	for _, tt := range []struct {
		who  sessionBody
		want []seen // newest first
	}{
		{buyer, []seen{{"submission_received", "/dashboard/task-to-review"}, {"submission_received", "/dashboard/task-to-review"}}},
		{w1, []seen{{"withdrawal_paid", "/dashboard/withdrawals"}, {"submission_approved", "/dashboard/my-submissions"}}},
		{w2, []seen{{"announcement", "/help"}, {"submission_rejected", "/dashboard/my-submissions"}}},
	} {
		var got []seen
		for _, n := range a.notificationsOf(t, tt.who.Token) {
			got = append(got, seen{n.Type, n.ActionRoute})
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s's notifications = %v, want %v", tt.who.User.Role, got, tt.want)
		}
	}
}
