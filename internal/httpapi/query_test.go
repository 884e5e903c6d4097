package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestQueryNotUTF8: a query parameter that is not UTF-8 text is refused
// with 422 naming it, on every endpoint that reads parameters, instead of
// reaching the database (whose driver refuses it: a 500). Issue 20.
func TestQueryNotUTF8(t *testing.T) {
	a := newAPI(t)
	buyer, worker, admin := a.register(t, "buyer"), a.register(t, "worker"), a.admin(t)
	tests := []struct {
		name, path, token, field string
	}{
		{"task search", "/api/tasks?q=%ff%fe", "", "q"},
		{"task search, signed in", "/api/tasks?q=%ff%fe", worker.Token, "q"},
		{"available tasks", "/api/tasks/available?q=ok&tag=%ff", worker.Token, "tag"},
		{"an enum", "/api/tasks?sort=%ff", "", "sort"},
		{"a number", "/api/tasks?page=%ff", "", "page"},
		{"a parameter nobody reads", "/api/tasks?x=%c3%28", "", "x"},
		{"admin user search", "/api/admin/users?q=%ff%fe", admin.Token, "q"},
		{"admin task search", "/api/admin/tasks?q=%ff%fe", admin.Token, "q"},
		{"admin submissions", "/api/admin/submissions?worker_id=%ff", admin.Token, "worker_id"},
		{"admin actions", "/api/admin/actions?kind=%ff", admin.Token, "kind"},
		{"a buyer's tasks", "/api/tasks/my?page=1&q=%ed%a0%80", buyer.Token, "q"},
		{"notifications", "/api/notifications?limit=%ff", worker.Token, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.do(t, request{method: http.MethodGet, path: tt.path, token: tt.token})
			p := wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields")
			wantFieldError(t, p, tt.field)
		})
	}

	// The stream would stay open: it gets a deadline, so that a stream
	// opened fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/notifications/stream?last_event_id=%ff", nil)
	req.Header.Set("Authorization", "Bearer "+worker.Token)
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	wantFieldError(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), "last_event_id")

	// A buyer asking an admin's endpoint is refused for who they are,
	// whatever the parameters.
	wantProblem(t, a.do(t, request{method: http.MethodGet, path: "/api/admin/users?q=%ff%fe", token: buyer.Token}),
		http.StatusForbidden, "wrong_role")
}
