package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

type announcementBody struct {
	ID         string  `json:"id"`
	Audience   string  `json:"audience"`
	Recipients int64   `json:"recipients"`
	Delivered  int64   `json:"delivered"`
	Emailed    int64   `json:"emailed"`
	Done       bool    `json:"done"`
	DoneAt     *string `json:"done_at"`
}

func TestAnnouncementsToEveryone(t *testing.T) {
	a := newAPI(t)
	adm, w, b := a.admin(t), a.register(t, "worker"), a.register(t, "buyer")
	rec := a.call(t, http.MethodPost, "/api/admin/announcements", adm.Token,
		map[string]any{"audience": "workers", "title": "New tasks", "body": "Many surveys this week.", "email": true})
	got := decode[announcementBody](t, rec, http.StatusAccepted)
	if rec.Header().Get("Location") != "/api/admin/announcements/"+got.ID || got.Recipients != 1 || got.Done || got.Delivered != 0 {
		t.Fatalf("announcement = %+v, Location %q", got, rec.Header().Get("Location"))
	}
	// Delivered in the background: a round of the job.
	if _, err := a.env.Announcements.Deliver(t.Context()); err != nil {
		t.Fatal(err)
	}
	got = decode[announcementBody](t, a.call(t, http.MethodGet, "/api/admin/announcements/"+got.ID, adm.Token, nil), http.StatusOK)
	if !got.Done || got.Delivered != 1 || got.Emailed != 0 || got.DoneAt == nil { // the worker's email is not verified
		t.Errorf("after delivery = %+v", got)
	}
	if ns := a.notificationsOf(t, w.Token); len(ns) != 1 || ns[0].Type != "announcement" || !strings.HasPrefix(ns[0].Message, "New tasks") {
		t.Errorf("the worker's notifications = %+v", ns)
	}
	if ns := a.notificationsOf(t, b.Token); len(ns) != 0 {
		t.Errorf("a buyer got %+v", ns)
	}

	for _, tt := range []struct {
		name   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"a worker", w.Token, map[string]any{"audience": "all", "title": "x", "body": "y"}, http.StatusForbidden, "wrong_role", ""},
		{"signed out", "", map[string]any{"audience": "all", "title": "x", "body": "y"}, http.StatusUnauthorized, "missing_token", ""},
		{"an unknown audience", adm.Token, map[string]any{"audience": "admins", "title": "x", "body": "y"}, http.StatusUnprocessableEntity, "invalid_fields", "audience"},
		{"no title", adm.Token, map[string]any{"audience": "all", "title": " ", "body": "y"}, http.StatusUnprocessableEntity, "invalid_fields", "title"},
		{"a body too long", adm.Token, map[string]any{"audience": "all", "title": "x", "body": strings.Repeat("y", 5001)}, http.StatusUnprocessableEntity, "invalid_fields", "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/admin/announcements", tt.token, tt.body), tt.status, tt.code)
			if tt.field != "" {
				wantFieldError(t, p, tt.field)
			}
		})
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/announcements/nope", adm.Token, nil), http.StatusNotFound, "announcement_not_found")
	wantProblem(t, a.call(t, http.MethodGet, "/api/admin/announcements/"+got.ID, w.Token, nil), http.StatusForbidden, "wrong_role")
}
