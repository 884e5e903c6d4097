package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

type preferencesBody struct {
	Email map[string]bool `json:"email"`
}

func TestPreferences(t *testing.T) {
	a := newAPI(t)
	w, other, adm := a.register(t, "worker"), a.register(t, "worker"), a.admin(t)
	path := "/api/users/" + w.User.ID + "/preferences"

	got := decode[preferencesBody](t, a.call(t, http.MethodGet, path, w.Token, nil), http.StatusOK)
	for k, on := range got.Email {
		// Mail about unread messages and announcements is on until turned
		// off; the rest, off until opted into.
		if want := k == "messages" || k == "announcements"; on != want {
			t.Errorf("%s is %v before any choice, want %v", k, on, want)
		}
	}
	got = decode[preferencesBody](t, a.call(t, http.MethodPut, path, w.Token,
		map[string]any{"email": map[string]bool{"messages": false}}), http.StatusOK)
	if got.Email["messages"] || !got.Email["announcements"] {
		t.Errorf("after turning messages off: %v", got.Email)
	}
	got = decode[preferencesBody](t, a.call(t, http.MethodPut, path, w.Token,
		map[string]any{"email": map[string]bool{"submission_approved": true, "withdrawal_paid": true}}), http.StatusOK)
	if !got.Email["submission_approved"] || !got.Email["withdrawal_paid"] || got.Email["submission_rejected"] || got.Email["report_decided"] {
		t.Errorf("after opting in: %v", got.Email)
	}
	// Kinds left out stay as they were.
	got = decode[preferencesBody](t, a.call(t, http.MethodPut, path, w.Token,
		map[string]any{"email": map[string]bool{"withdrawal_paid": false}}), http.StatusOK)
	if !got.Email["submission_approved"] || got.Email["withdrawal_paid"] {
		t.Errorf("after opting out of one: %v", got.Email)
	}
	// Admins see anyone's.
	if got := decode[preferencesBody](t, a.call(t, http.MethodGet, path, adm.Token, nil), http.StatusOK); !got.Email["submission_approved"] {
		t.Errorf("admin reads %v", got.Email)
	}

	for _, tt := range []struct {
		name, method, token string
		body                any
		status              int
		code                string
	}{
		{"no token", http.MethodGet, "", nil, http.StatusUnauthorized, "missing_token"},
		{"someone else's", http.MethodGet, other.Token, nil, http.StatusNotFound, "user_not_found"},
		{"change someone else's", http.MethodPut, other.Token, map[string]any{"email": map[string]bool{"report_decided": true}}, http.StatusNotFound, "user_not_found"},
		{"malformed", http.MethodPut, w.Token, `{"email":`, http.StatusBadRequest, "malformed_json"},
		{"no email", http.MethodPut, w.Token, map[string]any{}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"unknown kind", http.MethodPut, w.Token, map[string]any{"email": map[string]bool{"task_refunded": true}}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"not a boolean", http.MethodPut, w.Token, map[string]any{"email": map[string]string{"report_decided": "yes"}}, http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/users/nobody/preferences", adm.Token, nil), http.StatusNotFound, "user_not_found")
}

func TestOptedInNotificationsAreMailed(t *testing.T) {
	a := mailAPI(t)
	ctx := context.Background()
	buyer := a.register(t, "buyer")
	email := uniqueEmail("mia")
	w := a.signUp(t, email, "Passw0rd!")
	a.verify(t, email)
	decode[preferencesBody](t, a.call(t, http.MethodPut, "/api/users/"+w.User.ID+"/preferences", w.Token,
		map[string]any{"email": map[string]bool{"submission_approved": true}}), http.StatusOK)
	// A second worker opts in without a verified email: nothing is mailed.
	unverified := uniqueEmail("uma")
	u := a.signUp(t, unverified, "Passw0rd!")
	decode[preferencesBody](t, a.call(t, http.MethodPut, "/api/users/"+u.User.ID+"/preferences", u.Token,
		map[string]any{"email": map[string]bool{"submission_approved": true}}), http.StatusOK)

	tk := a.postTask(t, buyer.Token, 3, 10)
	s1 := a.submit(t, w.Token, tk.ID)
	s2 := a.submit(t, u.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/approve", buyer.Token, nil), http.StatusOK)

	if n, err := a.env.Notifications.MailOptedIn(ctx); n != 1 || err != nil {
		t.Fatalf("MailOptedIn() = %d, %v; want 1 mail", n, err)
	}
	m := a.mail.Wait(t, email, "Your submission was approved")
	if !strings.Contains(m.Text, testAppURL+"/dashboard/my-submissions") {
		t.Errorf("mail %q has no link to the page", m.Text)
	}
	// A second round mails nothing again.
	if n, err := a.env.Notifications.MailOptedIn(ctx); n != 0 || err != nil {
		t.Errorf("second MailOptedIn() = %d, %v; want 0", n, err)
	}
	if n := a.mail.Count(unverified); n != 1 { // the verification link only
		t.Errorf("%d mails to the unverified address, want 1", n)
	}
	if n := a.mail.Count(email); n != 2 {
		t.Errorf("%d mails to %s, want the verification and the approval", n, email)
	}
}
