package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

type qualificationBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Test *struct {
		Questions []struct {
			Prompt  string   `json:"prompt"`
			Choices []string `json:"choices"`
			Answer  *int     `json:"answer"`
		} `json:"questions"`
	} `json:"test"`
}

type grantBody struct {
	QualificationID string `json:"qualification_id"`
	Worker          struct {
		ID string `json:"id"`
	} `json:"worker"`
	Value  int    `json:"value"`
	Source string `json:"source"`
}

type attemptBody struct {
	Score   int        `json:"score"`
	Passed  bool       `json:"passed"`
	Granted *grantBody `json:"granted"`
	RetryAt string     `json:"retry_at"`
}

func quizRequest() map[string]any {
	return map[string]any{
		"name": "Image labelling", "description": "Knows our guide.",
		"test": map[string]any{
			"questions": []map[string]any{
				{"prompt": "Cat on a sofa?", "choices": []string{"animal", "furniture", "both"}, "answer": 2},
				{"prompt": "Empty room?", "choices": []string{"animal", "furniture"}, "answer": 1},
			},
			"pass_score": 100, "retry_after_hours": 24,
		},
	}
}

func TestQualificationTestAnswersStayWithTheOwner(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	rec := a.call(t, http.MethodPost, "/api/qualifications", buyer.Token, quizRequest())
	q := decode[qualificationBody](t, rec, http.StatusCreated)
	if rec.Header().Get("Location") != "/api/qualifications/"+q.ID || q.Test.Questions[0].Answer == nil {
		t.Fatalf("created %+v at %q, want the owner to see the answers", q, rec.Header().Get("Location"))
	}
	seen := decode[qualificationBody](t, a.call(t, http.MethodGet, "/api/qualifications/"+q.ID, worker.Token, nil), http.StatusOK)
	list := decode[pageOf[qualificationBody]](t, a.call(t, http.MethodGet, "/api/qualifications?q=LABEL", worker.Token, nil), http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].ID != q.ID {
		t.Fatalf("public list = %+v, want the type", list.Items)
	}
	for _, b := range []qualificationBody{seen, list.Items[0]} {
		for _, qu := range b.Test.Questions {
			if qu.Answer != nil {
				t.Errorf("a worker sees the answer of %q", qu.Prompt)
			}
		}
	}
	if strings.Contains(a.call(t, http.MethodGet, "/api/qualifications/"+q.ID, worker.Token, nil).Body.String(), `"answer"`) {
		t.Error("the answer key is in a worker's body")
	}

	// Wrong first: 50, not passed; again before the day is over: 429.
	at := decode[attemptBody](t, a.call(t, http.MethodPost, "/api/qualifications/"+q.ID+"/attempts", worker.Token,
		map[string]any{"answers": []int{2, 0}}), http.StatusOK)
	if at.Score != 50 || at.Passed || at.Granted != nil {
		t.Errorf("attempt = %+v, want 50 and nothing granted", at)
	}
	rec = a.call(t, http.MethodPost, "/api/qualifications/"+q.ID+"/attempts", worker.Token, map[string]any{"answers": []int{2, 1}})
	wantProblem(t, rec, http.StatusTooManyRequests, "retry_later")
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want the seconds left", ra)
	}
	a.clock.Advance(24 * time.Hour)
	at = decode[attemptBody](t, a.call(t, http.MethodPost, "/api/qualifications/"+q.ID+"/attempts", worker.Token,
		map[string]any{"answers": []int{2, 1}}), http.StatusOK)
	if !at.Passed || at.Granted == nil || at.Granted.Value != 100 || at.Granted.Source != "test" {
		t.Errorf("attempt = %+v, want 100 granted", at)
	}
	mine := decode[pageOf[grantBody]](t, a.call(t, http.MethodGet, "/api/qualifications/my", worker.Token, nil), http.StatusOK)
	if mine.Total != 1 || mine.Items[0].QualificationID != q.ID {
		t.Errorf("my scores = %+v", mine)
	}
}

func TestQualificationOwnership(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")
	q := decode[qualificationBody](t, a.call(t, http.MethodPost, "/api/qualifications", buyer.Token, map[string]any{"name": "Trusted"}), http.StatusCreated)
	base := "/api/qualifications/" + q.ID

	g := decode[grantBody](t, a.call(t, http.MethodPost, base+"/grants", buyer.Token, map[string]any{"worker_id": worker.User.ID, "value": 80}), http.StatusOK)
	if g.Value != 80 || g.Source != "owner" {
		t.Errorf("grant = %+v", g)
	}
	if got := decode[pageOf[grantBody]](t, a.call(t, http.MethodGet, base+"/grants", buyer.Token, nil), http.StatusOK); got.Total != 1 {
		t.Errorf("grants = %+v", got)
	}
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"a worker makes one", http.MethodPost, "/api/qualifications", worker.Token, map[string]any{"name": "x"}, http.StatusForbidden, "wrong_role"},
		{"a worker's own list", http.MethodGet, "/api/qualifications?owner=me", worker.Token, nil, http.StatusForbidden, "wrong_role"},
		{"a buyer's scores", http.MethodGet, "/api/qualifications/my", buyer.Token, nil, http.StatusForbidden, "wrong_role"},
		{"bad owner filter", http.MethodGet, "/api/qualifications?owner=them", buyer.Token, nil, http.StatusUnprocessableEntity, "invalid_fields"},
		{"invalid fields", http.MethodPost, "/api/qualifications", buyer.Token, map[string]any{"name": "", "auto_grant_value": 500},
			http.StatusUnprocessableEntity, "invalid_fields"},
		{"another's update", http.MethodPatch, base, other.Token, map[string]any{"name": "Mine"}, http.StatusNotFound, "qualification_not_found"},
		{"another's delete", http.MethodDelete, base, other.Token, nil, http.StatusNotFound, "qualification_not_found"},
		{"another's grant", http.MethodPost, base + "/grants", other.Token, map[string]any{"worker_id": worker.User.ID, "value": 1},
			http.StatusNotFound, "qualification_not_found"},
		{"another's grants", http.MethodGet, base + "/grants", other.Token, nil, http.StatusNotFound, "qualification_not_found"},
		{"another's revoke", http.MethodDelete, base + "/grants/" + worker.User.ID, other.Token, nil, http.StatusNotFound, "qualification_not_found"},
		{"grant to a buyer", http.MethodPost, base + "/grants", buyer.Token, map[string]any{"worker_id": other.User.ID, "value": 1},
			http.StatusNotFound, "user_not_found"},
		{"value out of range", http.MethodPost, base + "/grants", buyer.Token, map[string]any{"worker_id": worker.User.ID, "value": 101},
			http.StatusUnprocessableEntity, "invalid_fields"},
		{"not requestable", http.MethodPost, base + "/attempts", worker.Token, map[string]any{}, http.StatusConflict, "qualification_not_requestable"},
		{"a buyer takes it", http.MethodPost, base + "/attempts", buyer.Token, map[string]any{}, http.StatusForbidden, "wrong_role"},
		{"missing", http.MethodGet, "/api/qualifications/nope", worker.Token, nil, http.StatusNotFound, "qualification_not_found"},
		{"no token", http.MethodGet, "/api/qualifications", "", nil, http.StatusUnauthorized, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}

	// The owner changes it: null removes what may be removed.
	upd := decode[qualificationBody](t, a.call(t, http.MethodPatch, base, buyer.Token, map[string]any{"name": "Very trusted", "test": nil}), http.StatusOK)
	if upd.Name != "Very trusted" || upd.Test != nil {
		t.Errorf("updated = %+v", upd)
	}
	if rec := a.call(t, http.MethodDelete, base+"/grants/"+worker.User.ID, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodDelete, base+"/grants/"+worker.User.ID, buyer.Token, nil), http.StatusNotFound, "grant_not_found")
	if rec := a.call(t, http.MethodDelete, base, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	mine := decode[pageOf[qualificationBody]](t, a.call(t, http.MethodGet, "/api/qualifications?owner=me", buyer.Token, nil), http.StatusOK)
	if mine.Total != 0 {
		t.Errorf("own types after deleting = %+v", mine.Items)
	}
}

func TestQualificationsTakeAKeyWithTheScope(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	with, without := a.newKey(t, buyer.Token, "qualifications").Key, a.newKey(t, buyer.Token, "tasks:read").Key
	if rec := a.call(t, http.MethodPost, "/api/qualifications", with, map[string]any{"name": "By key"}); rec.Code != http.StatusCreated {
		t.Errorf("with the scope: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/qualifications", without, nil), http.StatusForbidden, "insufficient_scope")
}
