package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"microtask/internal/httpapi"
)

type aboutBody struct {
	Type   string  `json:"type"`
	ID     string  `json:"id"`
	Title  *string `json:"title"`
	Status *string `json:"status"`
	Gone   bool    `json:"gone"`
}

type messageBody struct {
	ID          string     `json:"id"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Text        string     `json:"text"`
	About       *aboutBody `json:"about"`
	Attachments []string   `json:"attachments"`
	CreatedAt   string     `json:"created_at"`
}

type threadBody struct {
	Items         []messageBody `json:"items"`
	Limit         int           `json:"limit"`
	NextBefore    *string       `json:"next_before"`
	TheirReadUpTo *string       `json:"their_read_up_to"`
}

type conversationBody struct {
	User struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"user"`
	LastMessage struct {
		ID   string `json:"id"`
		From string `json:"from"`
		Text string `json:"text"`
	} `json:"last_message"`
	Unread int64 `json:"unread"`
}

// write sends a message from the token's user to the user `to`.
func (a *testAPI) write(t testing.TB, token, to string, body any) *httptest.ResponseRecorder {
	t.Helper()
	if text, ok := body.(string); ok {
		body = map[string]any{"text": text}
	}
	return a.call(t, http.MethodPost, "/api/chats/"+to, token, body)
}

// sent sends a message that the rules allow, and returns it.
func (a *testAPI) sent(t testing.TB, token, to, text string) messageBody {
	t.Helper()
	rec := a.write(t, token, to, text)
	m := decode[messageBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/messages/"+m.ID {
		t.Errorf("Location = %q", loc)
	}
	return m
}

func (a *testAPI) thread(t testing.TB, token, with, query string) threadBody {
	t.Helper()
	return decode[threadBody](t, a.call(t, http.MethodGet, "/api/chats/"+with+query, token, nil), http.StatusOK)
}

// befriend makes two users friends.
func (a *testAPI) befriend(t testing.TB, x, y sessionBody) {
	t.Helper()
	req := decode[friendRequestBody](t, a.call(t, http.MethodPost, "/api/users/friend-request", x.Token, map[string]string{"user_id": y.User.ID}), http.StatusCreated)
	decode[friendRequestBody](t, a.call(t, http.MethodPut, "/api/users/friend-request/"+req.ID+"/accept", y.Token, nil), http.StatusOK)
}

// TestWhoMayWriteToWhom runs every case of the rule over HTTP: each pair
// is new to each other, and then made to know each other in one way.
func TestWhoMayWriteToWhom(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	cases := []struct {
		name       string
		from, to   string // roles
		know       func(t *testing.T, from, to sessionBody)
		allowed    bool
		answerBack bool // the other may answer (true whenever allowed, as a conversation exists)
	}{
		{"strangers", "worker", "worker", nil, false, false},
		{"friends", "worker", "worker", func(t *testing.T, x, y sessionBody) { a.befriend(t, x, y) }, true, true},
		{"a worker to a buyer with an open task", "worker", "buyer", func(t *testing.T, _, b sessionBody) {
			a.grant(t, b.User.ID, 100)
			a.postTask(t, b.Token, 2, 10)
		}, true, true},
		{"a buyer to a worker who never came near", "buyer", "worker", func(t *testing.T, b, _ sessionBody) {
			a.grant(t, b.User.ID, 100)
			a.postTask(t, b.Token, 2, 10)
		}, false, false},
		{"a buyer to a worker who submitted", "buyer", "worker", func(t *testing.T, b, w sessionBody) {
			a.grant(t, b.User.ID, 100)
			tk := a.postTask(t, b.Token, 1, 10)
			a.submit(t, w.Token, tk.ID)
			// The task is full now: the relation stays.
		}, true, true},
		{"a buyer to a worker who reserved", "buyer", "worker", func(t *testing.T, b, w sessionBody) {
			a.grant(t, b.User.ID, 100)
			tk := a.postTask(t, b.Token, 1, 10)
			if rec := a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", w.Token, nil); rec.Code != http.StatusCreated {
				t.Fatalf("reserve = %d %s", rec.Code, rec.Body)
			}
		}, true, true},
		{"a buyer to a worker a friend shared the task with", "buyer", "worker", func(t *testing.T, b, w sessionBody) {
			a.grant(t, b.User.ID, 100)
			tk := a.postTask(t, b.Token, 1, 10)
			f := a.register(t, "worker")
			a.befriend(t, f, w)
			decode[messageBody](t, a.write(t, f.Token, w.User.ID, map[string]any{"text": "look", "about": map[string]string{"task_id": tk.ID}}), http.StatusCreated)
		}, true, true},
		{"a buyer to a buyer", "buyer", "buyer", nil, false, false},
		{"an admin to a worker", "admin", "worker", nil, true, true},
		{"a worker to an admin", "worker", "admin", nil, true, true},
		{"a worker to a suspended friend", "worker", "worker", func(t *testing.T, x, y sessionBody) {
			a.befriend(t, x, y)
			a.call(t, http.MethodPut, "/api/admin/users/"+y.User.ID, adm.Token, map[string]string{"status": "suspended"})
		}, false, false},
	}
	session := func(role string) sessionBody {
		if role == "admin" {
			return a.admin(t)
		}
		return a.register(t, role)
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			from, to := session(tt.from), session(tt.to)
			if tt.know != nil {
				tt.know(t, from, to)
			}
			rec := a.write(t, from.Token, to.User.ID, "Hello there")
			if !tt.allowed {
				wantProblem(t, rec, http.StatusForbidden, "cannot_message")
				return
			}
			m := decode[messageBody](t, rec, http.StatusCreated)
			if m.From != from.User.ID || m.To != to.User.ID || m.Text != "Hello there" {
				t.Errorf("message = %+v", m)
			}
			if tt.answerBack && to.User.Role != "" {
				if rec := a.write(t, to.Token, from.User.ID, "Hello back"); rec.Code != http.StatusCreated {
					t.Errorf("the answer = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}

	t.Run("a missing user answers as a stranger", func(t *testing.T) {
		w, stranger := a.register(t, "worker"), a.register(t, "worker")
		missing := wantProblem(t, a.write(t, w.Token, "6565a0b0c0d0e0f0010203ff", "Hello"), http.StatusForbidden, "cannot_message")
		refused := wantProblem(t, a.write(t, w.Token, stranger.User.ID, "Hello"), http.StatusForbidden, "cannot_message")
		if missing.Detail != refused.Detail || missing.Title != refused.Title {
			t.Errorf("a missing user %+v, a stranger %+v: they differ", missing, refused)
		}
		wantProblem(t, a.write(t, w.Token, w.User.ID, "Hello me"), http.StatusForbidden, "cannot_message")
	})

	t.Run("either side may answer in a conversation the other started", func(t *testing.T) {
		// A worker asks a buyer about an open task; the buyer may answer
		// although the worker never reserved nor submitted, even once the
		// task is closed.
		b, w := a.register(t, "buyer"), a.register(t, "worker")
		a.grant(t, b.User.ID, 100)
		tk := a.postTask(t, b.Token, 2, 10)
		wantProblem(t, a.write(t, b.Token, w.User.ID, "Hi"), http.StatusForbidden, "cannot_message")
		a.sent(t, w.Token, b.User.ID, "Is the video long?")
		decode[map[string]any](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/close", b.Token, nil), http.StatusOK)
		a.sent(t, b.Token, w.User.ID, "Two minutes.")
		a.sent(t, w.Token, b.User.ID, "Thanks") // the buyer wrote too now
	})
}

func TestBlocksStopMessagesBothWays(t *testing.T) {
	a := newAPI(t)
	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	a.sent(t, x.Token, y.User.ID, "Hi")
	// A worker blocks: any user may.
	decode[blockBody](t, a.call(t, http.MethodPost, "/api/users/"+x.User.ID+"/blocks", y.Token, nil), http.StatusOK)
	wantProblem(t, a.write(t, x.Token, y.User.ID, "Hi again"), http.StatusForbidden, "cannot_message")
	wantProblem(t, a.write(t, y.Token, x.User.ID, "Go away"), http.StatusForbidden, "cannot_message")
	// Nor a friend request, while blocked.
	a.call(t, http.MethodDelete, "/api/users/friends/"+x.User.ID, y.Token, nil)
	wantProblem(t, a.call(t, http.MethodPost, "/api/users/friend-request", x.Token, map[string]string{"user_id": y.User.ID}), http.StatusNotFound, "user_not_found")
	// An admin's messages are never stopped.
	adm := a.admin(t)
	wantProblem(t, a.call(t, http.MethodPost, "/api/users/"+adm.User.ID+"/blocks", y.Token, nil), http.StatusConflict, "cannot_block_admin")
	a.sent(t, adm.Token, y.User.ID, "About your report")
	// Unblocked, the conversation goes on (x wrote first).
	if rec := a.call(t, http.MethodDelete, "/api/users/"+x.User.ID+"/blocks", y.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("unblock = %d", rec.Code)
	}
	a.sent(t, y.Token, x.User.ID, "Sorry")
}

func TestMessageBounds(t *testing.T) {
	a := newAPI(t)
	x, y, z := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	a.grant(t, x.User.ID, 100)
	tk := a.postTask(t, x.Token, 1, 10)
	theirs := a.submit(t, z.Token, tk.ID) // a submission y is not party to
	img := decode[imageBody](t, a.upload(t, x.Token, pngImage(t, 4, 4)), http.StatusCreated)
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"no text", map[string]any{"text": "   "}, "text"},
		{"text too long", map[string]any{"text": strings.Repeat("x", 5001)}, "text"},
		{"six attachments", map[string]any{"text": "hi", "attachments": []string{img.URL, img.URL, img.URL, img.URL, img.URL, img.URL}}, "attachments"},
		{"an image elsewhere", map[string]any{"text": "hi", "attachments": []string{"https://example.com/cat.png"}}, "attachments"},
		{"about two things", map[string]any{"text": "hi", "about": map[string]string{"task_id": tk.ID, "user_id": y.User.ID}}, "about"},
		{"about nothing", map[string]any{"text": "hi", "about": map[string]string{}}, "about"},
		{"about a missing task", map[string]any{"text": "hi", "about": map[string]string{"task_id": "nope"}}, "about"},
		{"about a missing user", map[string]any{"text": "hi", "about": map[string]string{"user_id": "nope"}}, "about"},
		{"about someone else's submission", map[string]any{"text": "hi", "about": map[string]string{"submission_id": theirs.ID}}, "about"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.write(t, y.Token, x.User.ID, tt.body), http.StatusUnprocessableEntity, "invalid_fields")
			wantFieldError(t, p, tt.field)
		})
	}
	// The longest text, five of this server's images and a reference pass.
	m := decode[messageBody](t, a.write(t, x.Token, y.User.ID, map[string]any{"text": strings.Repeat("é", 5000),
		"attachments": []string{img.URL, img.URL, img.URL, img.URL, img.URL}, "about": map[string]string{"submission_id": theirs.ID}}), http.StatusCreated)
	if len(m.Attachments) != 5 || m.About == nil || m.About.Type != "submission" || *m.About.Title != "Watch a video" || *m.About.Status != "pending" {
		t.Errorf("message = %+v %+v", m.Attachments, m.About)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/chats/"+x.User.ID, y.Token, `{"text": "hi", "at": 1}`), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.call(t, http.MethodPost, "/api/chats/"+x.User.ID, y.Token, `{"text": `), http.StatusBadRequest, "malformed_json")
	wantProblem(t, a.write(t, "", x.User.ID, "hi"), http.StatusUnauthorized, "missing_token")
}

func TestMessageRateLimit(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.MessageRateLimit = 3 })
	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	for range 3 {
		a.sent(t, x.Token, y.User.ID, "hi")
	}
	rec := a.write(t, x.Token, y.User.ID, "hi")
	wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	a.sent(t, y.Token, x.User.ID, "per sender: the other may still write")
}

// TestHistoryPagesByCursor: a reader paging back through a conversation
// while new messages arrive gets every message once, in order.
func TestHistoryPagesByCursor(t *testing.T) {
	a := newAPI(t)
	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	var want []string
	for i := range 25 {
		tok, to := x.Token, y.User.ID
		if i%3 == 0 {
			tok, to = y.Token, x.User.ID
		}
		want = append(want, a.sent(t, tok, to, "message").ID)
	}
	slices.Reverse(want) // newest first
	var got []string
	before := ""
	for page := 0; ; page++ {
		q := "?limit=10"
		if before != "" {
			q += "&before=" + before
		}
		th := a.thread(t, x.Token, y.User.ID, q)
		for _, m := range th.Items {
			got = append(got, m.ID)
		}
		// Messages arrive between the pages.
		a.sent(t, y.Token, x.User.ID, "new")
		a.sent(t, x.Token, y.User.ID, "new")
		if th.NextBefore == nil {
			break
		}
		before = *th.NextBefore
		if page > 5 {
			t.Fatal("too many pages")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged %d messages %v,\nwant the 25 sent before, newest first %v", len(got), got, want)
	}
	// Both users see the one conversation.
	if th := a.thread(t, y.Token, x.User.ID, "?limit=100"); len(th.Items) != 25+6 {
		t.Errorf("the other side's history has %d messages, want 31", len(th.Items))
	}
	p := wantProblem(t, a.call(t, http.MethodGet, "/api/chats/"+y.User.ID+"?before=nope", x.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "before")
	wantProblem(t, a.call(t, http.MethodGet, "/api/chats/"+y.User.ID+"?limit=101", x.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
	// No conversation: an empty page, whether or not the user exists.
	for _, with := range []string{a.register(t, "buyer").User.ID, "nobody"} {
		if th := a.thread(t, x.Token, with, ""); len(th.Items) != 0 || th.NextBefore != nil {
			t.Errorf("history with a stranger = %+v", th)
		}
	}
}

func TestUnreadCountsAndReadReceipts(t *testing.T) {
	a := newAPI(t)
	x, y, z := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	a.befriend(t, z, y)
	var ms []messageBody
	for _, text := range []string{"one", "two", "three"} {
		ms = append(ms, a.sent(t, x.Token, y.User.ID, text))
		a.clock.Advance(time.Second)
	}
	a.sent(t, z.Token, y.User.ID, "from z")
	a.sent(t, y.Token, z.User.ID, "back to z") // the reader's own messages are not unread

	count := func(token string) int64 {
		t.Helper()
		return decode[struct{ Count int64 }](t, a.call(t, http.MethodGet, "/api/chats/unread-count", token, nil), http.StatusOK).Count
	}
	list := func(token string) []conversationBody {
		t.Helper()
		return decode[pageOf[conversationBody]](t, a.call(t, http.MethodGet, "/api/chats", token, nil), http.StatusOK).Items
	}
	if n := count(y.Token); n != 4 {
		t.Errorf("y's unread = %d, want 4", n)
	}
	if n := count(x.Token); n != 0 {
		t.Errorf("x's unread = %d, want 0", n)
	}
	convs := list(y.Token)
	if len(convs) != 2 || convs[0].User.ID != z.User.ID || convs[0].Unread != 1 || convs[0].LastMessage.Text != "back to z" ||
		convs[1].User.ID != x.User.ID || convs[1].Unread != 3 || convs[1].LastMessage.ID != ms[2].ID {
		t.Errorf("y's conversations, most recent first = %+v", convs)
	}

	read := func(token, with, upTo string) *httptest.ResponseRecorder {
		return a.call(t, http.MethodPut, "/api/chats/"+with+"/read", token, map[string]string{"up_to": upTo})
	}
	if rec := read(y.Token, x.User.ID, ms[1].ID); rec.Code != http.StatusNoContent {
		t.Fatalf("read = %d %s", rec.Code, rec.Body)
	}
	if n := count(y.Token); n != 2 {
		t.Errorf("unread after reading two of x's = %d, want 2", n)
	}
	// The receipt: x sees how far y read.
	if th := a.thread(t, x.Token, y.User.ID, ""); th.TheirReadUpTo == nil || *th.TheirReadUpTo != ms[1].ID {
		t.Errorf("their_read_up_to = %v, want %s", th.TheirReadUpTo, ms[1].ID)
	}
	// A pointer only moves forward.
	read(y.Token, x.User.ID, ms[0].ID)
	if th := a.thread(t, x.Token, y.User.ID, ""); *th.TheirReadUpTo != ms[1].ID {
		t.Errorf("reading an older message moved the pointer back to %s", *th.TheirReadUpTo)
	}
	// Past the last message: up to the last.
	read(y.Token, x.User.ID, "ffffffffffffffffffffffff")
	if n := count(y.Token); n != 1 {
		t.Errorf("unread after reading all of x's = %d, want 1 (z's)", n)
	}
	if th := a.thread(t, x.Token, y.User.ID, ""); *th.TheirReadUpTo != ms[2].ID {
		t.Errorf("their_read_up_to = %s, want the last, %s", *th.TheirReadUpTo, ms[2].ID)
	}
	// A new message is unread again.
	a.sent(t, x.Token, y.User.ID, "four")
	if n := count(y.Token); n != 2 {
		t.Errorf("unread after a new one = %d, want 2", n)
	}

	wantProblem(t, read(y.Token, a.register(t, "worker").User.ID, ms[0].ID), http.StatusNotFound, "conversation_not_found")
	p := wantProblem(t, read(y.Token, x.User.ID, "not-an-id"), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "up_to")
	wantProblem(t, a.call(t, http.MethodPut, "/api/chats/"+x.User.ID+"/read", y.Token, map[string]string{}), http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.call(t, http.MethodGet, "/api/chats", "", nil), http.StatusUnauthorized, "missing_token")
}

func TestMessageIsReadByItsUsersOnly(t *testing.T) {
	a := newAPI(t)
	x, y, z := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	m := a.sent(t, x.Token, y.User.ID, "just us")
	for _, s := range []sessionBody{x, y} {
		if got := decode[messageBody](t, a.call(t, http.MethodGet, "/api/messages/"+m.ID, s.Token, nil), http.StatusOK); got.Text != "just us" {
			t.Errorf("message = %+v", got)
		}
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/messages/"+m.ID, z.Token, nil), http.StatusNotFound, "message_not_found")
	wantProblem(t, a.call(t, http.MethodGet, "/api/messages/nope", z.Token, nil), http.StatusNotFound, "message_not_found")
}

// TestSharingShowsTheLiveItem: a friend shares a task and recommends a
// worker; the receiving side sees the task's title and status as they are
// now, and a deleted task as gone.
func TestSharingShowsTheLiveItem(t *testing.T) {
	a := newAPI(t)
	b, x, y, rec := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	a.grant(t, b.User.ID, 100)
	tk := a.postTask(t, b.Token, 1, 10)
	a.sent(t, x.Token, y.User.ID, "plain")
	shared := decode[messageBody](t, a.write(t, x.Token, y.User.ID, map[string]any{"text": "this one", "about": map[string]string{"task_id": tk.ID}}), http.StatusCreated)
	decode[messageBody](t, a.write(t, x.Token, y.User.ID, map[string]any{"text": "hire her", "about": map[string]string{"user_id": rec.User.ID}}), http.StatusCreated)

	about := func() map[string]aboutBody {
		t.Helper()
		out := map[string]aboutBody{}
		for _, m := range a.thread(t, y.Token, x.User.ID, "").Items {
			if m.About != nil {
				out[m.About.Type] = *m.About
			}
		}
		return out
	}
	got := about()
	if task := got["task"]; task.Gone || *task.Title != "Watch a video" || *task.Status != "open" || task.ID != tk.ID {
		t.Errorf("shared task = %+v", task)
	}
	if u := got["user"]; u.Gone || *u.Title != "Test worker" || *u.Status != "active" {
		t.Errorf("recommended user = %+v", u)
	}
	// Live: the title and the status as they are now.
	a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, b.Token, map[string]string{"task_title": "Watch two videos"})
	a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/pause", b.Token, nil)
	if task := about()["task"]; *task.Title != "Watch two videos" || *task.Status != "paused" {
		t.Errorf("shared task after an edit = %+v", task)
	}
	// Deleted: gone, never an error.
	decode[map[string]any](t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, b.Token, nil), http.StatusOK)
	if task := about()["task"]; !task.Gone || task.Title != nil || task.Status != nil {
		t.Errorf("deleted task = %+v", task)
	}
	if got := decode[messageBody](t, a.call(t, http.MethodGet, "/api/messages/"+shared.ID, y.Token, nil), http.StatusOK); got.About == nil || !got.About.Gone {
		t.Errorf("one message about a deleted task = %+v", got.About)
	}
}

func TestMessagesCanBeReported(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	x, y, z := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	a.sent(t, y.Token, x.User.ID, "hi")
	bad := a.sent(t, x.Token, y.User.ID, "send me your password")
	report := func(token string) *httptest.ResponseRecorder {
		return a.call(t, http.MethodPost, "/api/reports", token, map[string]string{"target_type": "message", "target_id": bad.ID, "reason": "Asks for my password."})
	}
	wantProblem(t, report(z.Token), http.StatusNotFound, "target_not_found")
	wantProblem(t, report(x.Token), http.StatusConflict, "self_report")
	rp := decode[reportBody](t, report(y.Token), http.StatusCreated)
	got := decode[struct {
		TargetType string `json:"target_type"`
		Target     struct {
			Message struct {
				ID       string              `json:"id"`
				Text     string              `json:"text"`
				FromUser struct{ ID string } `json:"from_user"`
				Before   []messageBody       `json:"before"`
			} `json:"message"`
		} `json:"target"`
	}](t, a.call(t, http.MethodGet, "/api/admin/reports/"+rp.ID, adm.Token, nil), http.StatusOK)
	if m := got.Target.Message; m.ID != bad.ID || m.FromUser.ID != x.User.ID || len(m.Before) != 1 || m.Before[0].Text != "hi" {
		t.Errorf("the admin sees %+v", got)
	}
	decode[reportBody](t, a.call(t, http.MethodPut, "/api/admin/reports/"+rp.ID, adm.Token,
		map[string]string{"status": "resolved", "action": "suspend_user"}), http.StatusOK)
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", x.Token, nil), http.StatusForbidden, "account_suspended")
}

// TestMessagesAboutProjects: a friend shares a job, and a contract's party
// writes about the contract; each reads with the job's title and the live
// status. A contract that is not the sender's is as missing as none.
func TestMessagesAboutProjects(t *testing.T) {
	a := newAPI(t)
	buyer, worker, friend := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, worker, friend)
	c := a.contracted(t, buyer, worker)
	open := a.postJob(t, buyer.Token, fixedJob(50))

	decode[messageBody](t, a.write(t, worker.Token, friend.User.ID, map[string]any{"text": "one for you", "about": map[string]string{"job_id": open.ID}}), http.StatusCreated)
	sent := decode[messageBody](t, a.write(t, worker.Token, buyer.User.ID, map[string]any{"text": "about our work", "about": map[string]string{"contract_id": c.ID}}), http.StatusCreated)
	if sent.About == nil || sent.About.Type != "contract" || *sent.About.Title != "Build a landing page" || *sent.About.Status != "active" {
		t.Errorf("message about the contract = %+v", sent.About)
	}
	if got := a.thread(t, friend.Token, worker.User.ID, "").Items; len(got) != 1 || got[0].About == nil || got[0].About.Type != "job" ||
		*got[0].About.Title != "Build a landing page" || *got[0].About.Status != "open" {
		t.Errorf("shared job = %+v", got)
	}
	// Live: the contract's status as it is now.
	decode[contractBody](t, a.call(t, http.MethodPost, "/api/contracts/"+c.ID+"/end", buyer.Token, map[string]any{"reason": "Done."}), http.StatusOK)
	if got := a.thread(t, buyer.Token, worker.User.ID, "").Items; len(got) != 1 || *got[0].About.Status != "ended" {
		t.Errorf("contract after its end = %+v", got[0].About)
	}

	refusals := []struct {
		name  string
		token string
		to    string
		about map[string]string
	}{
		{"a missing job", worker.Token, friend.User.ID, map[string]string{"job_id": "nope"}},
		{"a missing contract", worker.Token, buyer.User.ID, map[string]string{"contract_id": "nope"}},
		{"someone else's contract", friend.Token, worker.User.ID, map[string]string{"contract_id": c.ID}},
		{"a job and a contract", worker.Token, buyer.User.ID, map[string]string{"job_id": open.ID, "contract_id": c.ID}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.write(t, tt.token, tt.to, map[string]any{"text": "see", "about": tt.about}), http.StatusUnprocessableEntity, "invalid_fields")
			if len(p.Errors) != 1 || p.Errors[0].Field != "about" {
				t.Errorf("errors = %+v, want about", p.Errors)
			}
		})
	}
}
