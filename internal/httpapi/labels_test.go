package httpapi_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"
)

// labelledTask posts a task with the given labels merged into the usual
// request, and returns the response.
func (a *testAPI) labelledTask(t testing.TB, token string, pay int64, labels map[string]any) taskBody {
	t.Helper()
	body := taskRequest(a, 1, pay)
	maps.Copy(body, labels)
	return decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", token, body), http.StatusCreated)
}

func TestTaskCategoriesAndTags(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)

	// Left out: category other, no tags, an hour.
	plain := a.postTask(t, buyer.Token, 1, 10)
	if plain.Category != "other" || plain.Tags == nil || len(plain.Tags) != 0 || plain.TimeAllotted != 60 {
		t.Errorf("defaults = %q %v %d; want other [] 60", plain.Category, plain.Tags, plain.TimeAllotted)
	}
	// Tags are trimmed, lower-cased and deduplicated.
	survey := a.labelledTask(t, buyer.Token, 12, map[string]any{
		"category": "survey", "tags": []string{" Quick ", "quick", "mobile", "en-us"}, "time_allotted_minutes": 6,
	})
	if survey.Category != "survey" || !slices.Equal(survey.Tags, []string{"quick", "mobile", "en-us"}) || survey.TimeAllotted != 6 {
		t.Errorf("labels = %q %v %d", survey.Category, survey.Tags, survey.TimeAllotted)
	}
	writing := a.labelledTask(t, buyer.Token, 30, map[string]any{"category": "writing", "tags": []string{"english"}, "time_allotted_minutes": 120})

	t.Run("invalid labels", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			labels map[string]any
			field  string
		}{
			{"unknown category", map[string]any{"category": "gaming"}, "category"},
			{"six tags", map[string]any{"tags": []string{"a", "b", "c", "d", "e", "f"}}, "tags"},
			{"a tag with a space", map[string]any{"tags": []string{"two words"}}, "tags"},
			{"an empty tag", map[string]any{"tags": []string{" "}}, "tags"},
			{"a long tag", map[string]any{"tags": []string{"abcdefghijklmnopqrstuvwxyz"}}, "tags"},
			{"too little time", map[string]any{"time_allotted_minutes": 4}, "time_allotted_minutes"},
			{"too much time", map[string]any{"time_allotted_minutes": 1441}, "time_allotted_minutes"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body := taskRequest(a, 1, 10)
				maps.Copy(body, tt.labels)
				p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body), http.StatusUnprocessableEntity, "invalid_fields")
				wantFieldError(t, p, tt.field)
			})
		}
	})

	t.Run("filters and the effective-pay sort", func(t *testing.T) {
		ids := func(path string) []string {
			t.Helper()
			var out []string
			for _, tk := range decode[pageOf[taskBody]](t, a.get(t, path), http.StatusOK).Items {
				out = append(out, tk.ID)
			}
			return out
		}
		for _, tt := range []struct {
			path string
			want []string
		}{
			{"/api/tasks?category=survey", []string{survey.ID}},
			{"/api/tasks/available?category=other", []string{plain.ID}},
			{"/api/tasks?tag=QUICK", []string{survey.ID}},
			{"/api/tasks/available?tag=english&category=writing", []string{writing.ID}},
			{"/api/tasks?tag=english&category=survey", nil},
			// 12/6 = 2 a minute, 10/60, 30/120 = 0.25
			{"/api/tasks/available?sort=effective_pay", []string{survey.ID, writing.ID, plain.ID}},
			{"/api/tasks?sort=pay", []string{writing.ID, survey.ID, plain.ID}},
		} {
			if got := ids(tt.path); !slices.Equal(got, tt.want) {
				t.Errorf("GET %s = %v, want %v", tt.path, got, tt.want)
			}
		}
		wantProblem(t, a.get(t, "/api/tasks?category=gaming"), http.StatusUnprocessableEntity, "invalid_fields")
		wantProblem(t, a.get(t, "/api/tasks/available?sort=cheapest"), http.StatusUnprocessableEntity, "invalid_fields")
	})

	t.Run("edits", func(t *testing.T) {
		path := "/api/tasks/" + survey.ID
		// A field left out stays.
		got := decode[taskBody](t, a.call(t, http.MethodPatch, path, buyer.Token, map[string]any{"task_title": "Short survey"}), http.StatusOK)
		if got.Category != "survey" || len(got.Tags) != 3 {
			t.Errorf("after a title edit: %q %v", got.Category, got.Tags)
		}
		got = decode[taskBody](t, a.call(t, http.MethodPut, path, buyer.Token, map[string]any{"category": "research", "tags": []string{"Academic", "academic"}}), http.StatusOK)
		if got.Category != "research" || !slices.Equal(got.Tags, []string{"academic"}) || got.Title != "Short survey" {
			t.Errorf("after a label edit: %q %v %q", got.Category, got.Tags, got.Title)
		}
		// null removes the tags; the category cannot be removed.
		got = decode[taskBody](t, a.call(t, http.MethodPatch, path, buyer.Token, map[string]any{"tags": nil}), http.StatusOK)
		if got.Tags == nil || len(got.Tags) != 0 {
			t.Errorf("tags after null = %v, want []", got.Tags)
		}
		for _, tt := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"null category", map[string]any{"category": nil}, "category"},
			{"unknown category", map[string]any{"category": "gaming"}, "category"},
			{"bad tag", map[string]any{"tags": []string{"no_underscores"}}, "tags"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := wantProblem(t, a.call(t, http.MethodPatch, path, buyer.Token, tt.body), http.StatusUnprocessableEntity, "invalid_fields")
				wantFieldError(t, p, tt.field)
			})
		}
		// Someone else's task is not found; a worker may not edit.
		wantProblem(t, a.call(t, http.MethodPatch, path, other.Token, map[string]any{"category": "testing"}), http.StatusNotFound, "task_not_found")
		wantProblem(t, a.call(t, http.MethodPatch, path, worker.Token, map[string]any{"category": "testing"}), http.StatusForbidden, "wrong_role")
		// The allotted time is not an edit.
		p := wantProblem(t, a.call(t, http.MethodPatch, path, buyer.Token, map[string]any{"time_allotted_minutes": 30}), http.StatusUnprocessableEntity, "invalid_fields")
		wantFieldError(t, p, "time_allotted_minutes")
	})
}
