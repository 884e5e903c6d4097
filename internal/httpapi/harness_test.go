package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"microtask/internal/httpapi"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAPI is the real Server over real services on a database of the test's
// own.
type testAPI struct {
	db   *storage.DB
	srv  *httpapi.Server
	logs *syncBuffer
}

func newAPI(t testing.TB, configure ...func(*httpapi.Options)) *testAPI {
	t.Helper()
	a := &testAPI{db: storagetest.NewDB(t), logs: &syncBuffer{}}
	o := httpapi.Options{
		Log:                 logging.New(a.logs, slog.LevelDebug),
		DB:                  a.db,
		CORSOrigins:         []string{"http://localhost:5173"},
		AuthRateLimitPerMin: 0,
	}
	for _, f := range configure {
		f(&o)
	}
	a.srv = httpapi.NewServer(o)
	return a
}

// request is one call to the API.
type request struct {
	method string
	path   string
	body   io.Reader
	header http.Header
}

// do serves req and checks the response against api/openapi.yaml.
func (a *testAPI) do(t testing.TB, r request) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), r.method, r.path, r.body)
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	checkResponse(t, req, rec)
	return rec
}

func (a *testAPI) get(t testing.TB, path string) *httptest.ResponseRecorder {
	t.Helper()
	return a.do(t, request{method: http.MethodGet, path: path})
}

type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem fails the test unless rec is a problem with this status and
// code, and returns it.
func wantProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) problemBody {
	t.Helper()
	var p problemBody
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if rec.Code != status || p.Status != status || p.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", rec.Code, p.Code, p.Detail, status, code)
	}
	return p
}
