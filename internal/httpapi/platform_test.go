package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"microtask/api"
	"microtask/internal/docdb"
	"microtask/internal/httpapi"
	"microtask/internal/platform/logging"
	"microtask/internal/storage/storagetest"
)

func TestHealthAndReady(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/api/health", "/api/ready"} {
		rec := a.get(t, path)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", path, rec.Code, rec.Body)
		}
	}
}

func TestReadyWhenDatabaseIsDown(t *testing.T) {
	ctx := context.Background()
	db, err := docdb.Open(ctx, storagetest.URI(t), "down", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, func(o *httpapi.Options) { o.DB = db })
	wantProblem(t, a.get(t, "/api/ready"), http.StatusServiceUnavailable, "database_unavailable")
	if rec := a.get(t, "/api/health"); rec.Code != http.StatusOK {
		t.Errorf("GET /api/health with the database down = %d, want 200 (liveness ignores the database)", rec.Code)
	}
	// An outage is an error, logged as one with its cause.
	if n := countLogLines(t, a.logs.String(), "ERROR", "database_unavailable"); n != 1 {
		t.Errorf("%d error lines about database_unavailable, want 1:\n%s", n, a.logs)
	}
}

// TestExpectedUnavailableIsNoError: a 503 that says what the instance is
// doing (draining) or how it is configured (no payment gateway) is an
// answer, not a failure: the access log has it, and no ERROR line is
// written for it on every readiness probe (issue 20).
func TestExpectedUnavailableIsNoError(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: 4, noGateway: true})
	buyer := a.register(t, "buyer")
	wantProblem(t, a.call(t, http.MethodPost, "/api/payments/create", buyer.Token, map[string]int{"coins": 10}),
		http.StatusServiceUnavailable, "payments_not_configured")
	a.srv.Drain()
	for range 3 {
		wantProblem(t, a.get(t, "/api/ready"), http.StatusServiceUnavailable, "shutting_down")
	}
	for _, code := range []string{"shutting_down", "payments_not_configured"} {
		if n := countLogLines(t, a.logs.String(), "ERROR", code); n != 0 {
			t.Errorf("%d error lines about %s, want none:\n%s", n, code, a.logs)
		}
	}
}

// countLogLines counts the JSON log lines at level that mention text.
func countLogLines(t *testing.T, logs, level, text string) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if line["level"] == level && strings.Contains(sc.Text(), text) {
			n++
		}
	}
	return n
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	a := newAPI(t)
	p := wantProblem(t, a.get(t, "/api/no-such-thing"), http.StatusNotFound, "route_not_found")
	if p.Instance != "/api/no-such-thing" || p.Type != "about:blank" || p.Title != "Not Found" || p.RequestID == "" {
		t.Errorf("problem = %+v, want instance, type, title and request_id filled", p)
	}
	wantProblem(t, a.get(t, "/"), http.StatusNotFound, "route_not_found")

	// A path no route has is a 404 before anything else: before the token
	// and the role are checked, whatever the method.
	buyer := a.register(t, "buyer")
	for _, tt := range []struct {
		method, path, token string
	}{
		{http.MethodGet, "/api/users/a/b/c", ""},
		{http.MethodGet, "/api/users/a/b/c", buyer.Token},
		{http.MethodPost, "/api/admin/nothing", buyer.Token},
		{http.MethodPost, "/api/admin/nothing", ""},
		{http.MethodGet, "/api/submissions/a/b/c", ""},
		{http.MethodDelete, "/api/tasks/a/b", buyer.Token},
		{http.MethodGet, "/api/notifications/a/b/c", ""},
		{http.MethodGet, "/api/docs/a/b", ""},
		{http.MethodGet, "/uploads/a/b", ""},
		{http.MethodPut, "/api", ""},
	} {
		rec := a.do(t, request{method: tt.method, path: tt.path, token: tt.token})
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s (token %t) = %d %s, want 404", tt.method, tt.path, tt.token != "", rec.Code, rec.Body)
			continue
		}
		wantProblem(t, rec, http.StatusNotFound, "route_not_found")
	}

	// A path that exists without the method is a 405, also before the
	// token is checked, with one Allow line listing the path's methods.
	for _, tt := range []struct {
		method, path, token string
		allow               string
	}{
		{http.MethodDelete, "/api/health", "", "GET, HEAD"},
		{http.MethodGet, "/api/withdrawals", "", "POST"},
		{http.MethodPost, "/api/tasks/abc", "", "DELETE, GET, PATCH, PUT"},
		{http.MethodPost, "/api/notifications/abc", "", "DELETE, GET, PUT"},
		{http.MethodDelete, "/api/admin/stats", "", "GET"},
		{http.MethodDelete, "/api/admin/stats", buyer.Token, "GET"},
		{http.MethodPatch, "/api/tasks/", "", "GET, POST"},
	} {
		rec := a.do(t, request{method: tt.method, path: tt.path, token: tt.token})
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s (token %t) = %d %s, want 405", tt.method, tt.path, tt.token != "", rec.Code, rec.Body)
			continue
		}
		wantProblem(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
		if allow := rec.Header().Values("Allow"); !slices.Equal(allow, []string{tt.allow}) {
			t.Errorf("%s %s: Allow = %q, want one line %q", tt.method, tt.path, allow, tt.allow)
		}
	}
}

func TestRequestIDIsEchoed(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"none sent", "", false},
		{"plain id kept", "req-123.abc:7", true},
		{"unsafe id replaced", "bad id\r\nX-Evil: 1", false},
		{"overlong id replaced", strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sent != "" {
				h.Set("X-Request-Id", tt.sent)
			}
			rec := a.do(t, request{method: http.MethodGet, path: "/api/no-such-thing", header: h})
			got := rec.Header().Get("X-Request-Id")
			if got == "" || (got == tt.sent) != tt.echoed {
				t.Errorf("X-Request-Id = %q for %q, want echoed=%v", got, tt.sent, tt.echoed)
			}
			var p problemBody
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			if p.RequestID != got {
				t.Errorf("problem request_id = %q, want the header's %q", p.RequestID, got)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	rec := newAPI(t).get(t, "/api/health")
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestCORS(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		name     string
		method   string
		origin   string
		wantACAO string
	}{
		{"preflight from the SPA", http.MethodOptions, "http://localhost:5173", "http://localhost:5173"},
		{"preflight from elsewhere", http.MethodOptions, "https://evil.example", ""},
		{"simple request from the SPA", http.MethodGet, "http://localhost:5173", "http://localhost:5173"},
		{"simple request from elsewhere", http.MethodGet, "https://evil.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Origin": {tt.origin}}
			if tt.method == http.MethodOptions {
				h.Set("Access-Control-Request-Method", http.MethodPost)
				h.Set("Access-Control-Request-Headers", "authorization,content-type")
			}
			req := request{method: tt.method, path: "/api/health", header: h}
			var got string
			if tt.method == http.MethodOptions {
				// Preflights are answered by the middleware, outside the contract.
				rec := serveRaw(a, req)
				got = rec.Header().Get("Access-Control-Allow-Origin")
				if tt.wantACAO != "" && (rec.Code >= 300 || !strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "authorization")) {
					t.Errorf("preflight = %d, Allow-Headers %q; want 2xx allowing Authorization",
						rec.Code, rec.Header().Get("Access-Control-Allow-Headers"))
				}
			} else {
				got = a.do(t, req).Header().Get("Access-Control-Allow-Origin")
			}
			if got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantACAO)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	a := newAPI(t)
	big := strings.NewReader(strings.Repeat("x", httpapi.MaxBodyBytes+1))
	rec := a.do(t, request{method: http.MethodPost, path: "/api/health", body: big,
		header: http.Header{"Content-Type": {"application/json"}}})
	wantProblem(t, rec, http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestOpenAPIIsServedAndCoversEveryRoute(t *testing.T) {
	a := newAPI(t)
	rec := a.get(t, "/api/openapi.yaml")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/yaml") {
		t.Fatalf("GET /api/openapi.yaml = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(api.Spec) {
		t.Errorf("served document differs from api/openapi.yaml")
	}

	routes, err := a.srv.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		method, pattern, _ := strings.Cut(r, " ")
		if pattern == "/uploads/{name}" {
			continue // the images' own URLs; the contract's /api/uploads/{name} serves the same
		}
		got = append(got, method+" "+chiPattern(pattern))
	}
	slices.Sort(got)
	got = slices.Compact(got)
	if diff := cmp.Diff(specRoutes(t), got); diff != "" {
		t.Errorf("routes differ from api/openapi.yaml (-spec +router):\n%s", diff)
	}
}

func TestAccessLog(t *testing.T) {
	a := newAPI(t)
	w := a.register(t, "worker")
	a.do(t, request{method: http.MethodGet, path: "/api/health"}) // a probe: at debug, not the line below
	rec := a.do(t, request{method: http.MethodGet, path: "/api/notifications/unread/count", token: w.Token,
		header: http.Header{"X-Request-Id": {"log-test-1"}, "User-Agent": {"probe-test/1.0"}}})
	if rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if !strings.Contains(a.logs.String(), `"level":"DEBUG","msg":"http request","method":"GET","path":"/api/health"`) {
		t.Errorf("the health probe was not logged at debug:\n%s", a.logs)
	}
	sc := bufio.NewScanner(strings.NewReader(a.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if line["msg"] != "http request" || line["request_id"] != "log-test-1" {
			continue
		}
		want := map[string]any{"level": slog.LevelInfo.String(), "method": "GET", "path": "/api/notifications/unread/count",
			"route": "/api/notifications/unread/count", "status": float64(200), "request_id": "log-test-1", "ip": "192.0.2.1",
			"user_id": w.User.ID, "user_agent": "probe-test/1.0"}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("access log %s = %v, want %v", k, line[k], v)
			}
		}
		if _, ok := line["duration_ms"].(float64); !ok {
			t.Errorf("access log has no duration_ms: %v", line)
		}
		return
	}
	t.Errorf("no access log line in:\n%s", a.logs)
}

// serveRaw serves a request without the contract check, for answers the
// middleware gives on its own (CORS preflights).
func serveRaw(a *testAPI, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), r.method, r.path, r.body)
	req.Header = r.header
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	return rec
}

// TestConfig: the numbers the app would otherwise hard-code, as configured.
func TestConfig(t *testing.T) {
	for _, h := range []harness{{bcryptCost: 4}, {bcryptCost: 4, noGateway: true}} {
		a := buildAPI(t, h)
		rec := a.get(t, "/api/config")
		got := decode[map[string]any](t, rec, http.StatusOK)
		want := map[string]any{
			"packages": []any{
				map[string]any{"coins": 10.0, "price_cents": 100.0}, map[string]any{"coins": 150.0, "price_cents": 1000.0},
				map[string]any{"coins": 500.0, "price_cents": 2000.0}, map[string]any{"coins": 1000.0, "price_cents": 3500.0},
			},
			"signup_bonus_worker": 10.0, "signup_bonus_buyer": 50.0, "withdrawal_min_coins": 200.0, "withdrawal_coins_per_dollar": 20.0,
			"withdrawal_methods": []any{"stripe", "bkash", "rocket", "nagad"}, "auto_approve_after_hours": 72.0, "payment_provider": "dummy",
			"levels": []any{
				map[string]any{"level": 1.0, "min_approved": 10.0, "min_approval_rate": 0.8, "min_rating": nil, "min_reviews": 0.0, "min_account_days": 0.0},
				map[string]any{"level": 2.0, "min_approved": 100.0, "min_approval_rate": 0.9, "min_rating": 4.0, "min_reviews": 5.0, "min_account_days": 30.0},
				map[string]any{"level": 3.0, "min_approved": 500.0, "min_approval_rate": 0.95, "min_rating": 4.5, "min_reviews": 20.0, "min_account_days": 90.0},
			},
		}
		if h.noGateway {
			want["payment_provider"] = "none"
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("config =\n%v\nwant\n%v", got, want)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("Cache-Control = %q", cc)
		}
	}
}

// TestHTTPDetails: HEAD on the probes, readiness failing once draining,
// private answers never cached, 401s saying how to authenticate.
func TestHTTPDetails(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/api/health", "/api/ready"} {
		if rec := a.do(t, request{method: http.MethodHead, path: path}); rec.Code != http.StatusOK {
			t.Errorf("HEAD %s = %d", path, rec.Code)
		}
	}
	w := a.register(t, "worker")
	for _, rec := range []*httptest.ResponseRecorder{
		a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil),
		a.call(t, http.MethodGet, "/api/notifications", w.Token, nil),
		a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": w.User.Email, "password": "Passw0rd!"}),
	} {
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q on a private answer (%d %s)", cc, rec.Code, rec.Body)
		}
	}
	rec := a.call(t, http.MethodGet, "/api/auth/me", "", nil)
	if got := rec.Header().Get("WWW-Authenticate"); rec.Code != http.StatusUnauthorized || !strings.HasPrefix(got, "Bearer") {
		t.Errorf("401 WWW-Authenticate = %q", got)
	}

	a.srv.Drain()
	wantProblem(t, a.get(t, "/api/ready"), http.StatusServiceUnavailable, "shutting_down")
	if rec := a.get(t, "/api/health"); rec.Code != http.StatusOK {
		t.Errorf("health while draining = %d, want 200", rec.Code)
	}
}
