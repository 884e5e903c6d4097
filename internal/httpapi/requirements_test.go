package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"microtask/internal/user"
)

var standingSeq atomic.Int64

// standing gives a user a standing, as package reputation would work it
// out of their record, later than any worked out before.
func (a *testAPI) standing(t testing.TB, userID string, st user.Standing) {
	t.Helper()
	if err := a.users.SetStanding(context.Background(), userID, st, 1<<40+standingSeq.Add(1)); err != nil {
		t.Fatal(err)
	}
}

func availableIDs(t *testing.T, a *testAPI, token string) []string {
	t.Helper()
	var ids []string
	for _, tk := range decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/available?limit=100", token, nil), http.StatusOK).Items {
		ids = append(ids, tk.ID)
	}
	return ids
}

// TestTaskRequirements: a buyer sets min_level and min_rating at creation
// and by PATCH; a worker below them is refused a reservation and a
// submission (403 requirements_not_met) and does not see the task among
// their available tasks; one who meets them takes it.
func TestTaskRequirements(t *testing.T) {
	a := newAPI(t)
	buyer, novice, expert := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	a.standing(t, expert.User.ID, user.Standing{Level: 2, Rating: 4.6, Reviews: 12, Approved: 150})

	body := taskRequest(a, 3, 10)
	body["min_level"], body["min_rating"] = 2, 4.5
	tk := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	if tk.MinLevel != 2 || tk.MinRating == nil || *tk.MinRating != 4.5 {
		t.Fatalf("task requires level %d, rating %v; want 2 and 4.5", tk.MinLevel, tk.MinRating)
	}
	open := a.postTask(t, buyer.Token, 3, 10)
	if open.MinLevel != 0 || open.MinRating != nil {
		t.Errorf("a task without requirements asks level %d, rating %v; want 0 and null", open.MinLevel, open.MinRating)
	}

	// The list leaves it out for the novice only, in one query.
	if ids := availableIDs(t, a, novice.Token); slices.Contains(ids, tk.ID) || !slices.Contains(ids, open.ID) {
		t.Errorf("the novice's available tasks = %v; want %s and not %s", ids, open.ID, tk.ID)
	}
	for _, token := range []string{expert.Token, ""} {
		if ids := availableIDs(t, a, token); !slices.Contains(ids, tk.ID) {
			t.Errorf("available tasks = %v, want %s among them", ids, tk.ID)
		}
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", novice.Token, nil), http.StatusForbidden, "requirements_not_met")
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", novice.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "https://prnt.sc/proof"}), http.StatusForbidden, "requirements_not_met")
	decode[map[string]any](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", expert.Token, nil), http.StatusCreated)
	a.submit(t, expert.Token, tk.ID)

	// The buyer lowers the bar by PATCH: the rating goes, the level
	// drops to one the novice does not meet either, then to none.
	tk = decode[taskBody](t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_rating": nil, "min_level": 1}), http.StatusOK)
	if tk.MinLevel != 1 || tk.MinRating != nil {
		t.Fatalf("after PATCH: level %d, rating %v; want 1 and null", tk.MinLevel, tk.MinRating)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", novice.Token, nil), http.StatusForbidden, "requirements_not_met")
	tk = decode[taskBody](t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_level": 0}), http.StatusOK)
	if ids := availableIDs(t, a, novice.Token); !slices.Contains(ids, tk.ID) {
		t.Errorf("the novice's available tasks = %v, want %s once it asks nothing", ids, tk.ID)
	}
	a.submit(t, novice.Token, tk.ID)

	// Out of bounds: every bad field at once, at creation and by PATCH.
	body = taskRequest(a, 1, 10)
	body["min_level"], body["min_rating"] = 4, 0.5
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "min_level")
	wantFieldError(t, p, "min_rating")
	p = wantProblem(t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"min_level": -1, "min_rating": 5.5}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "min_level")
	wantFieldError(t, p, "min_rating")
	// Another buyer's task: 404, as for none.
	other := a.register(t, "buyer")
	wantProblem(t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, other.Token, map[string]any{"min_level": 3}), http.StatusNotFound, "task_not_found")
}

// TestLevelEarnedByWork: ten approvals make a worker level 1, worked out
// in the background after the last one, on their profile and in the tasks
// open to them.
func TestLevelEarnedByWork(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	body := taskRequest(a, 1, 10)
	body["min_level"] = 1
	levelled := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	refresh := func() {
		t.Helper()
		if _, err := a.env.Records.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		tk := a.postTask(t, buyer.Token, 1, 10)
		sub := a.submit(t, worker.Token, tk.ID)
		decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil), http.StatusOK)
		if i == 8 {
			refresh()
			if p := a.profile(t, worker.User.ID, ""); *p.Level != 0 || slices.Contains(availableIDs(t, a, worker.Token), levelled.ID) {
				t.Fatalf("after 9 approvals: level %d", *p.Level)
			}
		}
	}
	refresh()
	if p := a.profile(t, worker.User.ID, ""); *p.Level != 1 || p.WorkerRecord.Approved != 10 {
		t.Fatalf("after 10 approvals: level %d, %d approved; want 1", *p.Level, p.WorkerRecord.Approved)
	}
	if !slices.Contains(availableIDs(t, a, worker.Token), levelled.ID) {
		t.Errorf("the level-1 task is not among the worker's available tasks")
	}
	a.submit(t, worker.Token, levelled.ID)
}

type requirementBody struct {
	QualificationID string `json:"qualification_id"`
	Comparator      string `json:"comparator"`
	Value           *int   `json:"value,omitempty"`
}

// qualificationOf makes a qualification type of the buyer's: private (granted
// by its owner only) or public (granted on request at 50).
func (a *testAPI) qualificationOf(t *testing.T, token string, public bool) string {
	t.Helper()
	body := map[string]any{"name": "Q", "description": "D"}
	if public {
		body["auto_grant_value"] = 50
	}
	return decode[qualificationBody](t, a.call(t, http.MethodPost, "/api/qualifications", token, body), http.StatusCreated).ID
}

// TestTaskQualificationsAndCountries: a task requires qualification scores
// and countries beside level and rating; workers who miss one are refused
// a reservation and a submission (403 requirements_not_met saying which)
// and do not see it among their available tasks; bad requirements are a
// 422 listing each; a type an open task requires cannot be deleted (409).
func TestTaskQualificationsAndCountries(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	fit, foreign, unqualified, low := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	q := a.qualificationOf(t, buyer.Token, false)
	for _, w := range []struct {
		token, id, country string
		score              int
	}{{fit.Token, fit.User.ID, "de", 80}, {foreign.Token, foreign.User.ID, "US", 80}, {unqualified.Token, unqualified.User.ID, "FR", -1},
		{low.Token, low.User.ID, "DE", 20}} {
		decode[map[string]any](t, a.call(t, http.MethodPatch, "/api/users/"+w.id, w.token, map[string]any{"country": w.country}), http.StatusOK)
		if w.score >= 0 {
			decode[grantBody](t, a.call(t, http.MethodPost, "/api/qualifications/"+q+"/grants", buyer.Token,
				map[string]any{"worker_id": w.id, "value": w.score}), http.StatusOK)
		}
	}

	body := taskRequest(a, 3, 10)
	body["countries"] = []string{"de", "FR", "De"}
	body["requirements"] = []map[string]any{{"qualification_id": q, "comparator": "gte", "value": 50}}
	tk := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	if !slices.Equal(tk.Countries, []string{"DE", "FR"}) || len(tk.Requirements) != 1 || tk.Requirements[0].QualificationID != q ||
		tk.Requirements[0].Comparator != "gte" || tk.Requirements[0].Value == nil || *tk.Requirements[0].Value != 50 {
		t.Fatalf("task requires countries %v and %+v", tk.Countries, tk.Requirements)
	}
	if plain := a.postTask(t, buyer.Token, 1, 10); plain.Countries == nil || len(plain.Countries) != 0 || plain.Requirements == nil ||
		len(plain.Requirements) != 0 {
		t.Errorf("a task without requirements: countries %v, requirements %v; want [] and []", plain.Countries, plain.Requirements)
	}

	for _, tt := range []struct {
		name   string
		token  string
		admits bool
		detail string // in the refusal
	}{
		{"fit", fit.Token, true, ""},
		{"foreign", foreign.Token, false, "DE, FR"},
		{"unqualified", unqualified.Token, false, "a score of at least 50 on qualification " + q},
		{"low score", low.Token, false, "a score of at least 50 on qualification " + q},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if listed := slices.Contains(availableIDs(t, a, tt.token), tk.ID); listed != tt.admits {
				t.Errorf("in the available list = %v, want %v", listed, tt.admits)
			}
			if tt.admits {
				decode[map[string]any](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", tt.token, nil), http.StatusCreated)
				a.submit(t, tt.token, tk.ID)
				return
			}
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", tt.token, nil), http.StatusForbidden,
				"requirements_not_met")
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("refusal says %q, want it to name %q", p.Detail, tt.detail)
			}
			wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", tt.token,
				map[string]string{"task_id": tk.ID, "submission_details": "https://prnt.sc/proof"}), http.StatusForbidden, "requirements_not_met")
		})
	}

	// A blocklist: not_exists keeps the holders out, lets the others in.
	body = taskRequest(a, 3, 10)
	body["requirements"] = []map[string]any{{"qualification_id": q, "comparator": "not_exists"}}
	blocked := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)
	if slices.Contains(availableIDs(t, a, low.Token), blocked.ID) || !slices.Contains(availableIDs(t, a, unqualified.Token), blocked.ID) {
		t.Errorf("a blocklist task is available to a holder, or not to a worker without the type")
	}
	// A score granted later lets the worker in at once; revoked, out again.
	decode[grantBody](t, a.call(t, http.MethodPost, "/api/qualifications/"+q+"/grants", buyer.Token,
		map[string]any{"worker_id": low.User.ID, "value": 50}), http.StatusOK)
	if !slices.Contains(availableIDs(t, a, low.Token), tk.ID) {
		t.Errorf("after a grant of 50 the task is still not available")
	}
	a.call(t, http.MethodDelete, "/api/qualifications/"+q+"/grants/"+low.User.ID, buyer.Token, nil)
	if slices.Contains(availableIDs(t, a, low.Token), tk.ID) {
		t.Errorf("after the revocation the task is still available")
	}

	// Another buyer's public type may be required; their private one is
	// not found, as a missing one.
	public, private := a.qualificationOf(t, other.Token, true), a.qualificationOf(t, other.Token, false)
	body = taskRequest(a, 1, 10)
	body["requirements"] = []map[string]any{{"qualification_id": public, "comparator": "exists"}}
	decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusCreated)

	// Invalid: every bad field at once, at creation, by PATCH and in a
	// batch's template.
	bad := []map[string]any{
		{"qualification_id": private, "comparator": "exists"},
		{"qualification_id": "nope", "comparator": "exists"},
		{"qualification_id": q, "comparator": "gt", "value": 5},
		{"qualification_id": q, "comparator": "eq"},
		{"qualification_id": q, "comparator": "exists", "value": 5},
	}
	wantFields := []string{"requirements[0].qualification_id", "requirements[1].qualification_id", "requirements[2].comparator",
		"requirements[3].value", "requirements[4].value", "countries[1]"}
	body = taskRequest(a, 1, 10)
	body["requirements"], body["countries"] = bad, []string{"DE", "XX"}
	p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range wantFields {
		wantFieldError(t, p, f)
	}
	p = wantProblem(t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"requirements": bad, "countries": []string{"DE", "XX"}}),
		http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range wantFields {
		wantFieldError(t, p, f)
	}
	body = taskRequest(a, 1, 10)
	body["requirements"] = []map[string]any{{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "exists"},
		{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "exists"},
		{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "exists"}}
	body["requirements"] = append(body["requirements"].([]map[string]any)[:5], map[string]any{"qualification_id": q, "comparator": "gte", "value": 101})
	p = wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "requirements")
	wantFieldError(t, p, "requirements[5].value")

	// A type an open task requires stays; once no open task does, it goes.
	wantProblem(t, a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil), http.StatusConflict, "qualification_required")
	decode[taskBody](t, a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, map[string]any{"requirements": nil, "countries": []string{}}),
		http.StatusOK)
	if !slices.Contains(availableIDs(t, a, unqualified.Token), tk.ID) {
		t.Errorf("the task asks nothing now, and is still not available to every worker")
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil), http.StatusConflict, "qualification_required")
	a.call(t, http.MethodDelete, "/api/tasks/"+blocked.ID, buyer.Token, nil)
	if rec := a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE the type no open task requires = %d %s", rec.Code, rec.Body)
	}
}

// TestBatchTemplateRequirements: a batch's template takes the requirements
// of a task, which every task of it gets; bad ones are named in the 422.
func TestBatchTemplateRequirements(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 100)
	q := a.qualificationOf(t, buyer.Token, false)
	tpl := strings.TrimSuffix(batchTemplate(a, 1, 3), "}") +
		fmt.Sprintf(`, "min_level": 0, "countries": ["ch"], "requirements": [{"qualification_id": %q, "comparator": "lte", "value": 70}]}`, q)
	items := "company,city\nAcme,Berlin\nGlobex,Lyon\n"
	b := decode[struct {
		ID       string `json:"id"`
		Template struct {
			Countries    []string          `json:"countries"`
			Requirements []requirementBody `json:"requirements"`
		} `json:"template"`
	}](t, a.postBatch(t, buyer.Token, "", tpl, items), http.StatusCreated)
	if !slices.Equal(b.Template.Countries, []string{"CH"}) || len(b.Template.Requirements) != 1 || *b.Template.Requirements[0].Value != 70 {
		t.Fatalf("template = %+v", b.Template)
	}
	mine := decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/my", buyer.Token, nil), http.StatusOK)
	for _, tk := range mine.Items {
		if !slices.Equal(tk.Countries, []string{"CH"}) || len(tk.Requirements) != 1 || tk.Requirements[0].Comparator != "lte" {
			t.Errorf("task %s of the batch requires %v and %+v", tk.ID, tk.Countries, tk.Requirements)
		}
	}
	if ids := availableIDs(t, a, worker.Token); len(ids) != 0 {
		t.Errorf("a worker of no country sees %v", ids)
	}
	bad := strings.TrimSuffix(batchTemplate(a, 1, 3), "}") + `, "countries": ["XX"], "requirements": [{"qualification_id": "nope", "comparator": "gte"}]}`
	p := wantProblem(t, a.postBatch(t, buyer.Token, "", bad, items), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"template.countries[0]", "template.requirements[0].qualification_id", "template.requirements[0].value"} {
		wantFieldError(t, p, f)
	}
}
