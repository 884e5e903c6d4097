package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/apperr"
	"microtask/internal/platform/logging"
)

type sampleRequest struct {
	Email string `json:"email" validate:"required,email"`
	Name  string `json:"name" validate:"required,min=1,max=5"`
	Role  string `json:"role" validate:"omitempty,oneof=worker buyer"`
	Count int    `json:"count" validate:"gte=1,lte=10"`
	Photo string `json:"photo_url" validate:"omitempty,http_url"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        io.Reader
		wantKind    apperr.Kind
		wantCode    string
		wantField   string
	}{
		{"valid", "application/json", strings.NewReader(`{"email":"a@b.c","name":"x","count":1}`), 0, "", ""},
		{"no content type is fine", "", strings.NewReader(`{"name":"x"}`), 0, "", ""},
		{"problem+json style type is fine", "application/merge-patch+json", strings.NewReader(`{}`), 0, "", ""},
		{"form encoded", "application/x-www-form-urlencoded", strings.NewReader(`name=x`), apperr.Unsupported, "unsupported_media_type", ""},
		{"empty", "application/json", strings.NewReader(``), apperr.Malformed, "empty_body", ""},
		{"syntax error", "application/json", strings.NewReader(`{"name": }`), apperr.Malformed, "malformed_json", ""},
		{"truncated", "application/json", strings.NewReader(`{"name": "x"`), apperr.Malformed, "malformed_json", ""},
		{"two objects", "application/json", strings.NewReader(`{"name":"x"} {"name":"y"}`), apperr.Malformed, "malformed_json", ""},
		{"array instead of object", "application/json", strings.NewReader(`[1,2]`), apperr.Malformed, "malformed_json", ""},
		{"unknown field", "application/json", strings.NewReader(`{"name":"x","coins":1000}`), apperr.Invalid, "invalid_fields", "coins"},
		{"operator object where a string belongs", "application/json", strings.NewReader(`{"email":{"$gt":""}}`), apperr.Invalid, "invalid_fields", "email"},
		{"string where a number belongs", "application/json", strings.NewReader(`{"count":"7"}`), apperr.Invalid, "invalid_fields", "count"},
		{"too large", "application/json", bytes.NewReader(append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 2000)...)), apperr.TooLarge, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", tt.body)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1000)
			var dst sampleRequest
			err := decodeJSON(r, &dst)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("decodeJSON() error = %v", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != tt.wantKind || ae.Code != tt.wantCode {
				t.Fatalf("decodeJSON() error = %v, want kind %v code %s", err, tt.wantKind, tt.wantCode)
			}
			if tt.wantField != "" && (len(ae.Fields) != 1 || ae.Fields[0].Field != tt.wantField) {
				t.Errorf("decodeJSON() fields = %+v, want one for %s", ae.Fields, tt.wantField)
			}
		})
	}
}

func TestValidateNamesFieldsAsSent(t *testing.T) {
	s := &Server{validator: newValidator()}
	err := s.validate(sampleRequest{Email: "nope", Name: "toolong", Role: "admin", Count: 11, Photo: "ftp://x"})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
		t.Fatalf("validate() error = %v, want Invalid", err)
	}
	want := []apperr.FieldError{
		{Field: "email", Message: "must be a valid email address"},
		{Field: "name", Message: "must be at most 5 characters"},
		{Field: "role", Message: "must be one of: worker, buyer"},
		{Field: "count", Message: "must be at most 10"},
		{Field: "photo_url", Message: "must be an http or https URL"},
	}
	if diff := cmp.Diff(want, ae.Fields); diff != "" {
		t.Errorf("validate() fields (-want +got):\n%s", diff)
	}
	if err := s.validate(sampleRequest{Email: "a@b.co", Name: "ok", Count: 3}); err != nil {
		t.Errorf("validate(valid) error = %v", err)
	}
}

func newTestServer(t *testing.T) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	return &Server{log: logging.New(&logs, nil), validator: newValidator()}, &logs
}

func TestInternalErrorsHideDetails(t *testing.T) {
	s, logs := newTestServer(t)
	h := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("dial tcp 10.0.0.5:27017: password=hunter2")
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "10.0.0.5") {
		t.Errorf("response leaks internals: %s", rec.Body)
	}
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != "internal_error" || p.Detail != "internal error" {
		t.Errorf("problem = %+v, %v; want internal_error", p, err)
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	s, logs := newTestServer(t)
	h := s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("after a panic: %d %s, want a 500 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(logs.String(), `"panic":"boom"`) || !strings.Contains(logs.String(), "stack") {
		t.Errorf("panic not logged with its stack: %s", logs)
	}
}

func TestRateLimitByIP(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := clientIP(0)(rateLimitByIP(3)(ok))
	call := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/auth/login", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "203.0.113.9") // not trusted: must not change the key
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for i := range 3 {
		if rec := call("198.51.100.1:1000"); rec.Code != http.StatusNoContent {
			t.Fatalf("call %d = %d, want it allowed", i+1, rec.Code)
		}
	}
	rec := call("198.51.100.1:2000")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("4th call = %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Retry-After is the time left until the window resets, not the window.
	reset, _ := strconv.ParseInt(rec.Header().Get("X-RateLimit-Reset"), 10, 64)
	after, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
	if left := time.Until(time.Unix(reset, 0)).Seconds(); after < 1 || float64(after) > left+1 {
		t.Errorf("Retry-After = %d with %0.fs left until X-RateLimit-Reset", after, left)
	}
	if rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(rec.Body.String(), `"rate_limited"`) {
		t.Errorf("4th call body = %s, want a rate_limited problem", rec.Body)
	}
	if rec := call("198.51.100.2:1000"); rec.Code != http.StatusNoContent {
		t.Errorf("another IP = %d, want it allowed", rec.Code)
	}

	h = clientIP(0)(rateLimitByIP(0)(ok)) // 0 disables the limit
	for i := range 50 {
		if rec := call("198.51.100.1:1000"); rec.Code != http.StatusNoContent {
			t.Fatalf("call %d with the limit off = %d, want it allowed", i+1, rec.Code)
		}
	}
}

func TestRateLimitTrustsProxiesOnlyWhenTold(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := clientIP(1)(rateLimitByIP(1)(ok))
	call := func(client string) int {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = "10.0.0.1:1000" // the proxy
		r.Header.Set("X-Forwarded-For", client)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if a, b := call("203.0.113.1"), call("203.0.113.2"); a != http.StatusNoContent || b != http.StatusNoContent {
		t.Errorf("two clients behind one proxy = %d, %d; want both allowed", a, b)
	}
	if c := call("203.0.113.1"); c != http.StatusTooManyRequests {
		t.Errorf("first client again = %d, want 429", c)
	}
}
