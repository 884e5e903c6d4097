package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"microtask/internal/notification"
)

// TestLargeWritesLeaveTheDatabaseWritable drives the paths that once wedged
// the embedded database for good (a write command of 100 or more parts):
// the mail round and read-all over 1,000 notifications, and a bulk approval
// of 100 submissions followed by the mail round. After each, a sign-up must
// be answered within 2 s.
func TestLargeWritesLeaveTheDatabaseWritable(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	signUpWithin := func(t *testing.T, after string) {
		t.Helper()
		start := time.Now()
		a.register(t, "worker")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a sign-up after %s took %s, want under 2s", after, d)
		}
	}
	mailRound := func(t *testing.T, want int) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := a.env.Notifications.MailOptedIn(ctx)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("MailOptedIn() error = %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("the mail round did not return within a minute: the database is wedged")
		}
		pending, err := a.env.Stores.Notifications.MailPending(ctx, 2000)
		if err != nil || len(pending) != want {
			t.Fatalf("after the mail round, %d notifications wait for mail (%v), want %d", len(pending), err, want)
		}
	}

	t.Run("1,000 notifications", func(t *testing.T) {
		w := a.register(t, "worker")
		for i := range 1000 {
			if err := a.env.Notifications.Send(ctx, notification.Notification{UserID: w.User.ID, Type: notification.SubmissionApproved,
				Message: fmt.Sprintf("Submission %d was approved.", i)}); err != nil {
				t.Fatal(err)
			}
		}
		mailRound(t, 0)
		signUpWithin(t, "the mail round over 1,000 notifications")
		if rec := a.call(t, http.MethodPut, "/api/notifications/read-all", w.Token, nil); rec.Code != http.StatusNoContent {
			t.Fatalf("read-all = %d %s, want 204", rec.Code, rec.Body)
		}
		unread := decode[struct {
			Count int64 `json:"count"`
		}](t, a.call(t, http.MethodGet, "/api/notifications/unread/count", w.Token, nil), http.StatusOK)
		if unread.Count != 0 {
			t.Errorf("after read-all, %d unread, want 0", unread.Count)
		}
		signUpWithin(t, "read-all over 1,000 notifications")
	})

	t.Run("bulk approval of 100", func(t *testing.T) {
		buyer := a.register(t, "buyer")
		a.grant(t, buyer.User.ID, 100)
		tk := a.postTask(t, buyer.Token, 100, 1)
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = a.submit(t, a.register(t, "worker").Token, tk.ID).ID
		}
		res := decode[struct {
			Results []struct{ Status int } `json:"results"`
		}](t, a.call(t, http.MethodPost, "/api/submissions/reviews", buyer.Token, map[string]any{"ids": ids, "decision": "approve"}), http.StatusOK)
		for i, r := range res.Results {
			if r.Status != http.StatusOK {
				t.Fatalf("result %d: status %d, want 200", i, r.Status)
			}
		}
		mailRound(t, 0)
		signUpWithin(t, "the mail round after a bulk approval of 100")
	})
}
