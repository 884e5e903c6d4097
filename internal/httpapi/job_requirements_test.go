package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// eligibleJobIDs is the worker's list of the open jobs whose requirements
// they meet.
func eligibleJobIDs(t *testing.T, a *testAPI, token string) []string {
	t.Helper()
	return jobIDs(decode[pageOf[jobBody]](t, a.call(t, http.MethodGet, "/api/jobs?eligible=true&limit=100", token, nil), http.StatusOK).Items)
}

// TestJobRequirements: a job takes countries and qualification
// requirements beside level and rating, as a task does; a worker who
// misses one cannot propose (403 requirements_not_met saying which) and
// does not see the job in their GET /jobs?eligible=true; bad requirements
// are a 422 listing each, at creation and by PATCH; a type an open job
// requires cannot be deleted (409).
func TestJobRequirements(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	fit, foreign, unqualified, low := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
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

	body := fixedJob(100)
	body["countries"] = []string{"de", "FR", "De"}
	body["requirements"] = []map[string]any{{"qualification_id": q, "comparator": "gte", "value": 50}}
	jb := a.postJob(t, buyer.Token, body)
	if !slices.Equal(jb.Countries, []string{"DE", "FR"}) || len(jb.Requirements) != 1 || jb.Requirements[0].QualificationID != q ||
		jb.Requirements[0].Comparator != "gte" || jb.Requirements[0].Value == nil || *jb.Requirements[0].Value != 50 {
		t.Fatalf("job requires countries %v and %+v", jb.Countries, jb.Requirements)
	}
	got := decode[jobBody](t, a.get(t, "/api/jobs/"+jb.ID), http.StatusOK)
	if !slices.Equal(got.Countries, jb.Countries) || len(got.Requirements) != 1 {
		t.Errorf("GET /jobs/{id} shows countries %v and %+v", got.Countries, got.Requirements)
	}
	plain := a.postJob(t, buyer.Token, fixedJob(50))
	if plain.Countries == nil || len(plain.Countries) != 0 || plain.Requirements == nil || len(plain.Requirements) != 0 {
		t.Errorf("a job without requirements: countries %v, requirements %v; want [] and []", plain.Countries, plain.Requirements)
	}

	for _, tt := range []struct {
		name   string
		token  string
		admits bool
		detail string // in the refusal
	}{
		{"fit", fit.Token, true, ""},
		{"foreign", foreign.Token, false, "this job is open to workers whose profile is in DE, FR only"},
		{"unqualified", unqualified.Token, false, "this job asks for a score of at least 50 on qualification " + q},
		{"low score", low.Token, false, "this job asks for a score of at least 50 on qualification " + q},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ids := eligibleJobIDs(t, a, tt.token)
			if listed := slices.Contains(ids, jb.ID); listed != tt.admits {
				t.Errorf("in the eligible list = %v, want %v", listed, tt.admits)
			}
			if !slices.Contains(ids, plain.ID) {
				t.Errorf("the job that asks nothing is not in the eligible list %v", ids)
			}
			if tt.admits {
				a.propose(t, tt.token, jb.ID, bid(90))
				return
			}
			for _, path := range []string{"/proposals", "/bid"} {
				p := wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+jb.ID+path, tt.token, bid(90)), http.StatusForbidden,
					"requirements_not_met")
				if !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("refusal says %q, want it to name %q", p.Detail, tt.detail)
				}
			}
		})
	}
	// Everyone's public list still shows every open job.
	if ids := jobIDs(decode[pageOf[jobBody]](t, a.call(t, http.MethodGet, "/api/jobs", foreign.Token, nil), http.StatusOK).Items); !slices.Contains(ids, jb.ID) {
		t.Errorf("GET /jobs without eligible = %v, want %s among them", ids, jb.ID)
	}

	// eligible=true is a signed-in worker's: not anyone else's.
	for _, tt := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"anonymous", "", "eligible=true", http.StatusUnauthorized, "missing_token"},
		{"a buyer", buyer.Token, "eligible=true", http.StatusForbidden, "wrong_role"},
		{"a bad token", "nope", "eligible=true", http.StatusUnauthorized, "invalid_token"},
		{"not a boolean", fit.Token, "eligible=yes", http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodGet, "/api/jobs?"+tt.query, tt.token, nil), tt.status, tt.code)
		})
	}

	// A blocklist: not_exists keeps the holders out, lets the others in.
	body = fixedJob(100)
	body["requirements"] = []map[string]any{{"qualification_id": q, "comparator": "not_exists"}}
	blocked := a.postJob(t, buyer.Token, body)
	if slices.Contains(eligibleJobIDs(t, a, low.Token), blocked.ID) || !slices.Contains(eligibleJobIDs(t, a, unqualified.Token), blocked.ID) {
		t.Errorf("a blocklist job is eligible to a holder, or not to a worker without the type")
	}
	a.propose(t, unqualified.Token, blocked.ID, bid(80))
	wantProblem(t, a.call(t, http.MethodPost, "/api/jobs/"+blocked.ID+"/proposals", low.Token, bid(80)), http.StatusForbidden, "requirements_not_met")

	// Another buyer's public type may be required; their private one is
	// not found, as a missing one.
	public, private := a.qualificationOf(t, other.Token, true), a.qualificationOf(t, other.Token, false)
	body = fixedJob(100)
	body["requirements"] = []map[string]any{{"qualification_id": public, "comparator": "exists"}}
	a.postJob(t, buyer.Token, body)

	// Invalid: every bad field at once, at creation and by PATCH.
	bad := []map[string]any{
		{"qualification_id": private, "comparator": "exists"},
		{"qualification_id": "nope", "comparator": "exists"},
		{"qualification_id": q, "comparator": "gt", "value": 5},
		{"qualification_id": q, "comparator": "eq"},
		{"qualification_id": q, "comparator": "exists", "value": 5},
	}
	wantFields := []string{"requirements[0].qualification_id", "requirements[1].qualification_id", "requirements[2].comparator",
		"requirements[3].value", "requirements[4].value", "countries[1]"}
	for _, tt := range []struct {
		name   string
		method string
		path   string
		body   map[string]any
		want   []string
	}{
		{"create", http.MethodPost, "/api/jobs", func() map[string]any {
			b := fixedJob(100)
			b["requirements"], b["countries"] = bad, []string{"DE", "XX"}
			return b
		}(), wantFields},
		{"edit", http.MethodPatch, "/api/jobs/" + jb.ID, map[string]any{"requirements": bad, "countries": []string{"DE", "XX"}}, wantFields},
		{"too many", http.MethodPatch, "/api/jobs/" + jb.ID, map[string]any{"requirements": []map[string]any{
			{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "exists"},
			{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "exists"},
			{"qualification_id": q, "comparator": "exists"}, {"qualification_id": q, "comparator": "gte", "value": 101}},
			"min_level": 4}, []string{"requirements", "requirements[5].value", "min_level"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, tt.method, tt.path, buyer.Token, tt.body), http.StatusUnprocessableEntity, "invalid_fields")
			for _, f := range tt.want {
				wantFieldError(t, p, f)
			}
			if len(p.Errors) != len(tt.want) {
				t.Errorf("errors = %+v, want exactly %v", p.Errors, tt.want)
			}
		})
	}
	// Another buyer's job: 404, as for none; a worker may not edit.
	wantProblem(t, a.call(t, http.MethodPatch, "/api/jobs/"+jb.ID, other.Token, map[string]any{"countries": []string{"DE"}}),
		http.StatusNotFound, "job_not_found")
	wantProblem(t, a.call(t, http.MethodPatch, "/api/jobs/"+jb.ID, fit.Token, map[string]any{"countries": []string{"DE"}}),
		http.StatusForbidden, "wrong_role")

	// A type an open job requires stays, even once no task requires it;
	// the buyer lowers the bar by PATCH and the foreign worker proposes.
	wantProblem(t, a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil), http.StatusConflict, "qualification_required")
	jb = decode[jobBody](t, a.call(t, http.MethodPatch, "/api/jobs/"+jb.ID, buyer.Token, map[string]any{"requirements": nil, "countries": []string{}}),
		http.StatusOK)
	if len(jb.Countries) != 0 || len(jb.Requirements) != 0 {
		t.Fatalf("after PATCH the job requires %v and %+v", jb.Countries, jb.Requirements)
	}
	if !slices.Contains(eligibleJobIDs(t, a, foreign.Token), jb.ID) {
		t.Errorf("the job asks nothing now, and is still not eligible to every worker")
	}
	a.propose(t, foreign.Token, jb.ID, bid(95))
	wantProblem(t, a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil), http.StatusConflict, "qualification_required")
	decode[jobBody](t, a.call(t, http.MethodPost, "/api/jobs/"+blocked.ID+"/close", buyer.Token, nil), http.StatusOK)
	if rec := a.call(t, http.MethodDelete, "/api/qualifications/"+q, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE the type no open job requires = %d %s", rec.Code, rec.Body)
	}
}
