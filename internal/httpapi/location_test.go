package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestCreatedResourcesAreWhereLocationSays: every 201 names in Location where
// its resource is read (checkResponse checks that there is one), and that
// read answers the creator with the same resource, and anyone else who is
// not an admin with the 404 of a missing one.
func TestCreatedResourcesAreWhereLocationSays(t *testing.T) {
	a := newAPI(t)
	adm, buyer, worker, other := a.admin(t), a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, worker.User.ID, 300)
	tk := a.postTask(t, buyer.Token, 2, 5)
	jb := a.postJob(t, buyer.Token, fixedJob(100))
	hiring := a.postJob(t, buyer.Token, fixedJob(100))
	offer := a.propose(t, worker.Token, hiring.ID, bid(30))

	tests := []struct {
		name     string
		creator  string
		path     string
		body     any
		outsider string // gets a 404; "" if the resource is public
		notFound string
	}{
		{"task", buyer.Token, "/api/tasks", taskRequest(a, 1, 5), "", ""},
		{"submission", worker.Token, "/api/submissions", map[string]string{"task_id": tk.ID, "submission_details": "proof"}, other.Token, "submission_not_found"},
		{"withdrawal", worker.Token, "/api/withdrawals", withdrawalRequest(200), other.Token, "withdrawal_not_found"},
		{"payment", buyer.Token, "/api/payments/create", map[string]int{"coins": 150}, other.Token, "payment_not_found"},
		{"report", other.Token, "/api/reports", reportRequest("task", tk.ID), worker.Token, "report_not_found"},
		{"announcement", adm.Token, "/api/notifications", map[string]string{"to_user_id": worker.User.ID, "message": "Hello"}, other.Token, "notification_not_found"},
		{"job", buyer.Token, "/api/jobs", fixedJob(100), "", ""},
		{"proposal", worker.Token, "/api/jobs/" + jb.ID + "/proposals", bid(90), other.Token, "proposal_not_found"},
		{"contract", buyer.Token, "/api/jobs/" + hiring.ID + "/hire", hireBody(offer.ID, 10), other.Token, "contract_not_found"},
		{"portfolio item", worker.Token, "/api/users/" + worker.User.ID + "/portfolio", map[string]string{"title": "Catalogue"}, "", ""},
		// Before the other party reviews, a review is its author's (and
		// admins') alone: the public is told it does not exist.
		{"review", other.Token, "/api/reviews", map[string]any{"submission_id": a.decided(t, buyer, other).ID, "rating": 5}, buyer.Token,
			"review_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.call(t, http.MethodPost, tt.path, tt.creator, tt.body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("POST %s = %d %s", tt.path, rec.Code, rec.Body)
			}
			created := idOf(t, rec.Body.Bytes())
			loc := rec.Header().Get("Location")
			for _, reader := range []string{tt.creator, adm.Token} {
				read := a.call(t, http.MethodGet, loc, reader, nil)
				if read.Code != http.StatusOK || idOf(t, read.Body.Bytes()) != created {
					t.Errorf("GET %s = %d %s, want the created %s", loc, read.Code, read.Body, created)
				}
			}
			if tt.outsider != "" {
				wantProblem(t, a.call(t, http.MethodGet, loc, tt.outsider, nil), http.StatusNotFound, tt.notFound)
				if tt.name == "review" { // public once visible: no token needed to ask
					wantProblem(t, a.call(t, http.MethodGet, loc, "", nil), http.StatusNotFound, tt.notFound)
				} else {
					wantProblem(t, a.call(t, http.MethodGet, loc, "", nil), http.StatusUnauthorized, "missing_token")
				}
			}
		})
	}
	for _, path := range []string{"/api/withdrawals/nope", "/api/reports/nope", "/api/notifications/nope"} {
		if rec := a.call(t, http.MethodGet, path, adm.Token, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}

// idOf reads the id of a created resource: "id", or a checkout's
// "payment_id".
func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		ID        string `json:"id"`
		PaymentID string `json:"payment_id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if v.ID != "" {
		return v.ID
	}
	return v.PaymentID
}
