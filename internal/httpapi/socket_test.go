package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/httpapi"
	"microtask/internal/platform/config"
)

// socketEventBody is one event of a socket.
type socketEventBody struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// socket opens a WebSocket to srv with a fresh ticket of the token's user;
// the test closes it at its end.
func (a *testAPI) socket(t *testing.T, srv *httptest.Server, token string) *websocket.Conn {
	t.Helper()
	return dialSocket(t, srv, a.ticket(t, token))
}

func dialSocket(t *testing.T, srv *httptest.Server, ticket string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws?ticket="+url.QueryEscape(ticket), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// next reads the socket's next event of the type, skipping others, within
// a few seconds.
func next(t *testing.T, c *websocket.Conn, typ string) socketEventBody {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var ev socketEventBody
		if err := wsjson.Read(ctx, c, &ev); err != nil {
			t.Fatalf("no %s event: %v", typ, err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}

func TestSocketDeliversMessagesReadsTypingAndNotifications(t *testing.T) {
	a := newAPI(t)
	srv := streamServer(t, a)
	adm, x, y := a.admin(t), a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	cx, cy := a.socket(t, srv, x.Token), a.socket(t, srv, y.Token)

	m := a.sent(t, x.Token, y.User.ID, "over the socket")
	for _, c := range []*websocket.Conn{cy, cx} { // the recipient's, and the sender's other devices
		var got messageBody
		if err := json.Unmarshal(next(t, c, "message").Data, &got); err != nil || got.ID != m.ID || got.Text != "over the socket" {
			t.Errorf("message event = %+v, %v", got, err)
		}
	}

	a.call(t, http.MethodPut, "/api/chats/"+x.User.ID+"/read", y.Token, map[string]string{"up_to": m.ID})
	var read struct{ UserID, UpTo string }
	if err := json.Unmarshal(next(t, cx, "read").Data, &struct {
		UserID *string `json:"user_id"`
		UpTo   *string `json:"up_to"`
	}{&read.UserID, &read.UpTo}); err != nil || read.UserID != y.User.ID || read.UpTo != m.ID {
		t.Errorf("read event = %+v, %v", read, err)
	}

	ctx := t.Context()
	if err := wsjson.Write(ctx, cy, map[string]string{"type": "typing", "to": x.User.ID}); err != nil {
		t.Fatal(err)
	}
	var typing struct {
		UserID string `json:"user_id"`
	}
	if err := json.Unmarshal(next(t, cx, "typing").Data, &typing); err != nil || typing.UserID != y.User.ID {
		t.Errorf("typing event = %+v, %v", typing, err)
	}

	a.call(t, http.MethodPost, "/api/notifications", adm.Token, map[string]string{"to_user_id": x.User.ID, "message": "hello from the platform"})
	var n notificationBody
	if err := json.Unmarshal(next(t, cx, "notification").Data, &n); err != nil || n.Message != "hello from the platform" {
		t.Errorf("notification event = %+v, %v", n, err)
	}

	// Signing out closes the socket.
	a.call(t, http.MethodPost, "/api/auth/logout-all", x.Token, nil)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var ev socketEventBody
		err := wsjson.Read(rctx, cx, &ev)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("socket ended with %v, want a close 1008", err)
		}
		break
	}
}

func TestSocketRefusals(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, services: func(c *app.Config) { c.StreamsPerUser = 1 }})
	srv := streamServer(t, a)
	x := a.register(t, "worker")
	ticket := a.ticket(t, x.Token)
	// Not a WebSocket handshake: refused before the ticket is used.
	wantProblem(t, a.get(t, "/api/ws?ticket="+url.QueryEscape(ticket)), http.StatusBadRequest, "websocket_required")
	dialSocket(t, srv, ticket)
	ctx := t.Context()
	for _, tt := range []struct {
		name, ticket string
		status       int
	}{
		{"a ticket used", ticket, http.StatusUnauthorized},
		{"no ticket", "", http.StatusUnauthorized},
		{"a socket over the limit", a.ticket(t, x.Token), http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws?ticket="+url.QueryEscape(tt.ticket), nil)
			if err == nil || resp == nil || resp.StatusCode != tt.status {
				t.Errorf("dial = %v, %v; want %d", resp, err, tt.status)
			}
		})
	}
}

// TestStreamCarriesMessages: the server-sent event stream has message
// events beside notifications.
func TestStreamCarriesMessages(t *testing.T) {
	a := newAPI(t)
	srv := streamServer(t, a)
	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	sc := a.stream(t, srv, y.Token, "")
	m := a.sent(t, x.Token, y.User.ID, "over the stream")
	for {
		ev := readEvent(t, sc, 10*time.Second)
		if ev["event"] != "message" {
			continue // the friendship's notification
		}
		var got messageBody
		if err := json.Unmarshal([]byte(ev["data"]), &got); err != nil || got.ID != m.ID || ev["id"] != "" {
			t.Errorf("message event %v: %+v, %v", ev, got, err)
		}
		break
	}
}

// TestMessageReachesASocketOfAnotherInstance: two instances on one
// database server, as on MongoDB; a message sent through one reaches a
// socket the other holds, through its tail of the messages.
func TestMessageReachesASocketOfAnotherInstance(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, asOnMongoDB: true})
	if a.db.SoleWriter() {
		t.Fatal("the database is its process's alone: no second instance could share it")
	}
	other := apptest.Build(t, a.db, a.clock, func(c *app.Config) {
		c.Tokens = auth.NewTokens(testSecret, time.Hour, nil)
	})
	srv2 := httptest.NewServer(httpapi.NewServer(other.ServerOptions(config.Config{})))
	t.Cleanup(srv2.Close)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); other.Chat.Tail(ctx, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	c := a.socket(t, srv2, y.Token) // held by the second instance
	m := a.sent(t, x.Token, y.User.ID, "through the first instance")
	var got messageBody
	if err := json.Unmarshal(next(t, c, "message").Data, &got); err != nil || got.ID != m.ID || got.Text != m.Text {
		t.Errorf("the other instance's socket got %+v, %v", got, err)
	}
}

// TestSocketInChromium opens a socket in headless Chromium, from a page the
// test serves on the API's origin, and requires that a message sent through
// the API reaches it. Without a browser it skips, unless
// MICROTASK_BROWSER_TESTS=1 (CI) makes that a failure.
func TestSocketInChromium(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		if os.Getenv("MICROTASK_BROWSER_TESTS") == "1" {
			t.Fatal("MICROTASK_BROWSER_TESTS=1 but no chromium found on PATH")
		}
		t.Skip("no chromium on PATH (apt-get install chromium); CI runs this with MICROTASK_BROWSER_TESTS=1")
	}
	a := newAPI(t)
	x, y := a.register(t, "worker"), a.register(t, "worker")
	a.befriend(t, x, y)
	mux := http.NewServeMux()
	mux.Handle("/", a.srv)
	// The page an app would be: a ticket with the bearer token, then the
	// socket; what arrives is kept for the test to read.
	mux.HandleFunc("/chat-test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>chat</title><script>
window.events = []; window.state = "starting";
fetch("/api/notifications/stream-ticket", {method: "POST", headers: {Authorization: "Bearer %s"}})
  .then(r => r.json())
  .then(({ticket}) => {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws?ticket=" + encodeURIComponent(ticket));
    ws.onopen = () => { window.state = "open"; };
    ws.onmessage = (e) => { window.events.push(JSON.parse(e.data)); };
    ws.onclose = (e) => { window.state = "closed " + e.code; };
  })
  .catch(e => { window.state = "failed " + e; });
</script>`, y.Token)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute) // a bound, not a timing assertion
	t.Cleanup(cancel)
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			problems = append(problems, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/chat-test")); err != nil {
		t.Fatalf("load the page in %s: %v", browser, err)
	}
	waitFor := func(js, what string) {
		t.Helper()
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			if err != nil {
				t.Fatalf("evaluate %s: %v", js, err)
			}
			if ok {
				return
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.state`))
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("the page never %s (state %q; %v)", what, state, problems)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(`window.state === "open"`, "opened its socket")
	m := a.sent(t, x.Token, y.User.ID, "hello, browser")
	waitFor(fmt.Sprintf(`window.events.some(e => e.type === "message" && e.data.id === %q && e.data.text === "hello, browser")`, m.ID),
		"received the message")
}
