package httpapi_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/report"
	"microtask/internal/task"
	"microtask/internal/user"
	"microtask/internal/withdrawal"
)

// TestTaskBoundsAreTheService: the bounds of a task are the task service's;
// the request types' tags repeat them for the contract (api/openapi.yaml,
// whose figures this test spells out). At each bound, the API and the
// service both accept; past it, the API refuses, and the service, called
// with the same values, refuses too, naming the same fields with the same
// messages.
func TestTaskBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	a.grant(t, buyer.User.ID, 100_000)
	p := auth.Principal{UserID: buyer.User.ID, Role: auth.RoleBuyer}
	tk := a.postTask(t, buyer.Token, 1, 10)
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	url := func(n int) string { return "https://example.com/" + strings.Repeat("a", n-len("https://example.com/")) }
	later := func(d time.Duration) string { return a.clock.Now().Add(d).Format(time.RFC3339) }
	const year = 366 * 24 * time.Hour

	t.Run("create", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			fields map[string]any
			ok     bool
		}{
			{"at the upper bounds", map[string]any{"task_title": long(200), "task_detail": long(5000), "submission_info": long(1000),
				"task_image_url": url(2048), "required_workers": 10000, "payable_amount": 1, "time_allotted_minutes": 1440,
				"completion_date": later(year), "tags": []string{"a", "b", "c", "d", strings.Repeat("e", 24)}}, true},
			{"at the lower bounds", map[string]any{"task_title": "T", "task_detail": "D", "submission_info": "S",
				"required_workers": 1, "payable_amount": 10000, "time_allotted_minutes": 5, "completion_date": later(time.Second)}, true},
			{"the highest requirements", map[string]any{"min_level": 3, "min_rating": 5.0}, true},
			{"the lowest rating required", map[string]any{"min_level": 0, "min_rating": 1.0}, true},
			{"a level too high", map[string]any{"min_level": 4}, false},
			{"a negative level", map[string]any{"min_level": -1}, false},
			{"a rating too low", map[string]any{"min_rating": 0.9}, false},
			{"a rating too high", map[string]any{"min_rating": 5.01}, false},
			{"no title", map[string]any{"task_title": ""}, false},
			{"a title of spaces", map[string]any{"task_title": "   "}, false},
			{"a title too long", map[string]any{"task_title": long(201)}, false},
			{"a detail too long", map[string]any{"task_detail": long(5001)}, false},
			{"no submission info", map[string]any{"submission_info": "\t"}, false},
			{"submission info too long", map[string]any{"submission_info": long(1001)}, false},
			{"an ftp image", map[string]any{"task_image_url": "ftp://example.com/i.png"}, false},
			{"an image without a host", map[string]any{"task_image_url": "https:///i.png"}, false},
			{"an image URL too long", map[string]any{"task_image_url": url(2049)}, false},
			{"no workers", map[string]any{"required_workers": 0}, false},
			{"negative workers", map[string]any{"required_workers": -1}, false},
			{"too many workers", map[string]any{"required_workers": 10001}, false},
			{"no pay", map[string]any{"payable_amount": 0}, false},
			{"negative pay", map[string]any{"payable_amount": -5}, false},
			{"too much pay", map[string]any{"payable_amount": 10001}, false},
			{"too little time", map[string]any{"time_allotted_minutes": 4}, false},
			{"negative time", map[string]any{"time_allotted_minutes": -5}, false},
			{"too much time", map[string]any{"time_allotted_minutes": 1441}, false},
			{"due now", map[string]any{"completion_date": later(0)}, false},
			{"due too far ahead", map[string]any{"completion_date": later(year + time.Second)}, false},
			{"an unknown category", map[string]any{"category": "games"}, false},
			{"bad tags", map[string]any{"tags": []string{"two words"}}, false},
			{"six tags", map[string]any{"tags": []string{"a", "b", "c", "d", "e", "f"}}, false},
			{"several bad fields", map[string]any{"task_title": "", "payable_amount": 0, "required_workers": -2,
				"task_image_url": "example.com", "time_allotted_minutes": 2000}, false},
			{"several bad labels and a date", map[string]any{"category": "games", "tags": []string{"-"}, "completion_date": later(-time.Hour)}, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body := taskRequest(a, 1, 10)
				maps.Copy(body, tt.fields)
				rec := a.call(t, http.MethodPost, "/api/tasks", buyer.Token, body)
				_, err := a.tasks.Create(ctx, p, newTaskOf(t, body))
				if tt.ok {
					decode[taskBody](t, rec, http.StatusCreated)
					if err != nil {
						t.Errorf("Create() error = %v, want none", err)
					}
					return
				}
				wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
			})
		}
	})

	t.Run("edit", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			body map[string]any
			ok   bool
		}{
			{"at the upper bounds", map[string]any{"task_title": long(200), "task_detail": long(5000), "submission_info": long(1000),
				"task_image_url": url(2048), "category": "survey", "tags": []string{"a", "b", "c", "d", "e"}}, true},
			{"the image removed", map[string]any{"task_image_url": nil, "tags": nil}, true},
			{"requirements set", map[string]any{"min_level": 3, "min_rating": 4.5}, true},
			{"requirements removed", map[string]any{"min_level": nil, "min_rating": nil}, true},
			{"a level too high", map[string]any{"min_level": 4}, false},
			{"a negative rating", map[string]any{"min_rating": -1.0}, false},
			{"a cleared title", map[string]any{"task_title": ""}, false},
			{"a title of spaces", map[string]any{"task_title": "  "}, false},
			{"a cleared detail", map[string]any{"task_detail": nil}, false},
			{"a cleared submission info", map[string]any{"submission_info": ""}, false},
			{"a title too long", map[string]any{"task_title": long(201)}, false},
			{"a detail too long", map[string]any{"task_detail": long(5001)}, false},
			{"submission info too long", map[string]any{"submission_info": long(1001)}, false},
			{"a bad image", map[string]any{"task_image_url": "mailto:a@example.com"}, false},
			{"an image URL too long", map[string]any{"task_image_url": url(2049)}, false},
			{"a cleared category", map[string]any{"category": ""}, false},
			{"an unknown category", map[string]any{"category": "games"}, false},
			{"six tags", map[string]any{"tags": []string{"a", "b", "c", "d", "e", "f"}}, false},
			{"several bad fields", map[string]any{"task_title": "", "task_detail": long(5001), "task_image_url": "x"}, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := a.call(t, http.MethodPatch, "/api/tasks/"+tk.ID, buyer.Token, tt.body)
				_, err := a.tasks.UpdateText(ctx, p, tk.ID, textEditOf(tt.body))
				if tt.ok {
					decode[taskBody](t, rec, http.StatusOK)
					if err != nil {
						t.Errorf("UpdateText() error = %v, want none", err)
					}
					return
				}
				wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
			})
		}
	})

	t.Run("add slots", func(t *testing.T) {
		for _, count := range []int{0, -1, 10001} {
			rec := a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/slots", buyer.Token, map[string]any{"count": count})
			_, err := a.tasks.AddSlots(ctx, p, tk.ID, count, "")
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		}
		// 10000 is a count both take, which the task's one open slot
		// leaves no room for.
		wantProblem(t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/slots", buyer.Token, map[string]any{"count": 10000}),
			http.StatusConflict, "too_many_slots")
		if _, err := a.tasks.AddSlots(ctx, p, tk.ID, 10000, ""); !errors.Is(err, task.ErrTooManySlots) {
			t.Errorf("AddSlots(10000) error = %v, want %v", err, task.ErrTooManySlots)
		}
	})
}

// wantSameFields fails the test unless err is an Invalid error naming the
// fields of the API's problem with the same messages.
func wantSameFields(t *testing.T, api problemBody, err error) {
	t.Helper()
	var want []apperr.FieldError
	for _, e := range api.Errors {
		want = append(want, apperr.FieldError{Field: e.Field, Message: e.Message})
	}
	var got []apperr.FieldError
	if e := (*apperr.Error)(nil); errors.As(err, &e) && e.Kind == apperr.Invalid {
		got = e.Fields
	}
	byField := cmpopts.SortSlices(func(a, b apperr.FieldError) bool { return a.Field < b.Field })
	if diff := cmp.Diff(want, got, byField); diff != "" {
		t.Errorf("the service's error = %v; field errors (-API +service):\n%s", err, diff)
	}
}

// newTaskOf is the task.NewTask the handler makes of a create request's
// fields, before the request's own validation.
func newTaskOf(t *testing.T, body map[string]any) task.NewTask {
	t.Helper()
	str := func(k string) string { s, _ := body[k].(string); return s }
	num := func(k string) int {
		switch n := body[k].(type) {
		case int:
			return n
		case int64:
			return int(n)
		}
		return 0
	}
	due, err := time.Parse(time.RFC3339, str("completion_date"))
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := body["tags"].([]string)
	rating, _ := body["min_rating"].(float64)
	return task.NewTask{
		Text:    task.Text{Title: str("task_title"), Detail: str("task_detail"), SubmissionInfo: str("submission_info"), ImageURL: str("task_image_url")},
		Workers: num("required_workers"), Pay: money.Coins(num("payable_amount")), CompletionDate: due,
		TimeAllotted: time.Duration(num("time_allotted_minutes")) * time.Minute, Category: str("category"), Tags: tags, Requirements: task.Requirements{MinLevel: num("min_level"), MinRating: rating},
	}
}

// textEditOf is the task.TextEdit the handler makes of an edit request's
// fields: a key left out stays, null is "".
func textEditOf(body map[string]any) task.TextEdit {
	str := func(k string) *string {
		v, ok := body[k]
		if !ok {
			return nil
		}
		s, _ := v.(string)
		return &s
	}
	e := task.TextEdit{Title: str("task_title"), Detail: str("task_detail"), SubmissionInfo: str("submission_info"),
		ImageURL: str("task_image_url"), Category: str("category")}
	if v, ok := body["tags"]; ok {
		tags, _ := v.([]string)
		e.Tags = &tags
	}
	if v, ok := body["min_level"]; ok {
		n, _ := v.(int)
		e.MinLevel = &n
	}
	if v, ok := body["min_rating"]; ok {
		r, _ := v.(float64)
		e.MinRating = &r
	}
	return e
}

// TestSubmissionBoundsAreTheService: as TestTaskBoundsAreTheService, for
// what workers and buyers write and pay about submissions. The values are
// checked before the submission or task is looked for, by the API and the
// service alike, so a made-up id serves: at a bound, both answer that it
// does not exist; past it, both refuse the value.
func TestSubmissionBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	worker, buyer := a.register(t, "worker"), a.register(t, "buyer")
	w := auth.Principal{UserID: worker.User.ID, Role: auth.RoleWorker}
	b := auth.Principal{UserID: buyer.User.ID, Role: auth.RoleBuyer}
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("é", n) }
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("x", i%64+1) + strings.Repeat("y", i/64)
		}
		return out
	}
	const none = "no-such-id"
	for _, tt := range []struct {
		name    string
		method  string
		path    string
		token   string
		body    map[string]any
		service func() error
		ok      bool // the bounds take the values: the id is not found
	}{
		{"submit at the bound", http.MethodPost, "/api/submissions", worker.Token,
			map[string]any{"task_id": none, "submission_details": long(5000)},
			func() error { _, err := a.submissions.Submit(ctx, w, none, long(5000)); return err }, true},
		{"submit no details", http.MethodPost, "/api/submissions", worker.Token,
			map[string]any{"task_id": none, "submission_details": " "},
			func() error { _, err := a.submissions.Submit(ctx, w, none, " "); return err }, false},
		{"submit details too long", http.MethodPost, "/api/submissions", worker.Token,
			map[string]any{"task_id": none, "submission_details": long(5001)},
			func() error { _, err := a.submissions.Submit(ctx, w, none, long(5001)); return err }, false},
		{"resubmit details too long", http.MethodPut, "/api/submissions/" + none, worker.Token,
			map[string]any{"submission_details": long(5001)},
			func() error { _, err := a.submissions.Resubmit(ctx, w, none, long(5001)); return err }, false},
		{"reject at the bounds", http.MethodPut, "/api/submissions/" + none + "/reject", buyer.Token,
			map[string]any{"reason": long(500)},
			func() error { _, err := a.submissions.Reject(ctx, b, none, long(500)); return err }, true},
		{"reject with a short reason", http.MethodPut, "/api/submissions/" + none + "/reject", buyer.Token,
			map[string]any{"reason": "too short"},
			func() error { _, err := a.submissions.Reject(ctx, b, none, "too short"); return err }, false},
		{"reject without a reason", http.MethodPut, "/api/submissions/" + none + "/reject", buyer.Token,
			map[string]any{"reason": ""},
			func() error { _, err := a.submissions.Reject(ctx, b, none, ""); return err }, false},
		{"revision with a long reason", http.MethodPut, "/api/submissions/" + none + "/request-revision", buyer.Token,
			map[string]any{"reason": long(501)},
			func() error { _, err := a.submissions.RequestRevision(ctx, b, none, long(501)); return err }, false},
		{"bonus at the bounds", http.MethodPost, "/api/submissions/" + none + "/bonus", buyer.Token,
			map[string]any{"coins": 10000, "reason": long(500)},
			func() error { _, err := a.submissions.Bonus(ctx, b, none, 10000, long(500), ""); return err }, true},
		{"bonus of nothing", http.MethodPost, "/api/submissions/" + none + "/bonus", buyer.Token,
			map[string]any{"coins": 0},
			func() error { _, err := a.submissions.Bonus(ctx, b, none, 0, "", ""); return err }, false},
		{"negative bonus", http.MethodPost, "/api/submissions/" + none + "/bonus", buyer.Token,
			map[string]any{"coins": -5},
			func() error { _, err := a.submissions.Bonus(ctx, b, none, -5, "", ""); return err }, false},
		{"bonus too large, with a long reason", http.MethodPost, "/api/submissions/" + none + "/bonus", buyer.Token,
			map[string]any{"coins": 10001, "reason": long(501)},
			func() error { _, err := a.submissions.Bonus(ctx, b, none, 10001, long(501), ""); return err }, false},
		{"bulk review of none", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"decision": "approve"},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, nil, true, ""); return err }, false},
		{"bulk review of an empty list", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": []string{}, "decision": "approve"},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, []string{}, true, ""); return err }, false},
		{"bulk review of too many", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": ids(101), "decision": "approve"},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, ids(101), true, ""); return err }, false},
		{"bulk review naming one twice", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": []string{"a", "a"}, "decision": "approve"},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, []string{"a", "a"}, true, ""); return err }, false},
		{"bulk rejection for a short reason", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": []string{"a"}, "decision": "reject", "reason": "short"},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, []string{"a"}, false, "short"); return err }, false},
		{"bulk review at the bound", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": ids(100), "decision": "reject", "reason": long(500)},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, ids(100), false, long(500)); return err }, true},
		{"bulk approval with a long reason", http.MethodPost, "/api/submissions/reviews", buyer.Token,
			map[string]any{"ids": []string{"a"}, "decision": "approve", "reason": long(501)},
			func() error { _, err := a.submissions.ReviewMany(ctx, b, []string{"a"}, true, long(501)); return err }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.call(t, tt.method, tt.path, tt.token, tt.body)
			err := tt.service()
			if tt.ok {
				if rec.Code == http.StatusUnprocessableEntity || apperr.KindOf(err) == apperr.Invalid {
					t.Errorf("at the bounds: API %d %s, service %v; want neither to refuse a field", rec.Code, rec.Body, err)
				}
				return
			}
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		})
	}
}

// TestUserBoundsAreTheService: as TestTaskBoundsAreTheService, for what
// people write about themselves (the email's form aside, which only the API
// checks).
func TestUserBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("é", n) }
	url := func(n int) string { return "https://example.com/" + strings.Repeat("a", n-len("https://example.com/")) }

	t.Run("sign-up", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			fields map[string]any
			ok     bool
		}{
			{"at the bounds", map[string]any{"name": long(80), "photo_url": url(2048)}, true},
			{"no name", map[string]any{"name": "  "}, false},
			{"a name too long", map[string]any{"name": long(81)}, false},
			{"a photo URL too long", map[string]any{"photo_url": url(2049)}, false},
			{"a photo not on the web", map[string]any{"photo_url": "file:///etc/passwd"}, false},
			{"no password", map[string]any{"password": ""}, false},
			{"a weak password", map[string]any{"password": "password"}, false},
			{"no role", map[string]any{"role": ""}, false},
			{"the admin role", map[string]any{"role": "admin"}, false},
			{"several bad fields", map[string]any{"name": "", "password": "short", "role": "admin", "photo_url": "x"}, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body := map[string]any{"name": "Ray", "password": "Passw0rd!", "role": "worker"}
				maps.Copy(body, tt.fields)
				body["email"] = uniqueEmail("bounds")
				rec := a.call(t, http.MethodPost, "/api/auth/register", "", body)
				str := func(k string) string { s, _ := body[k].(string); return s }
				reg := user.Registration{Name: str("name"), Email: uniqueEmail("bounds"), Password: str("password"),
					PhotoURL: str("photo_url"), Role: auth.Role(str("role"))}
				_, err := a.users.Register(ctx, reg)
				if tt.ok {
					decode[sessionBody](t, rec, http.StatusCreated)
					if err != nil {
						t.Errorf("Register() error = %v, want none", err)
					}
					return
				}
				wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
			})
		}
	})

	t.Run("profile", func(t *testing.T) {
		me := a.register(t, "worker")
		p := auth.Principal{UserID: me.User.ID, Role: auth.RoleWorker}
		for _, tt := range []struct {
			name string
			body map[string]any
			ok   bool
		}{
			{"at the bounds", map[string]any{"name": long(80), "photo_url": url(2048)}, true},
			{"the photo removed", map[string]any{"photo_url": nil}, true},
			{"a cleared name", map[string]any{"name": ""}, false},
			{"a name of spaces", map[string]any{"name": " "}, false},
			{"a name too long", map[string]any{"name": long(81)}, false},
			{"a photo not on the web", map[string]any{"photo_url": "ftp://example.com/a.png"}, false},
			{"both bad", map[string]any{"name": nil, "photo_url": url(2049)}, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := a.call(t, http.MethodPatch, "/api/users/"+me.User.ID, me.Token, tt.body)
				var pr user.Profile
				for k, v := range tt.body {
					s, _ := v.(string)
					switch k {
					case "name":
						pr.Name = &s
					case "photo_url":
						pr.PhotoURL = &s
					}
				}
				_, err := a.users.UpdateProfile(ctx, p, me.User.ID, pr)
				if tt.ok {
					decode[userBody](t, rec, http.StatusOK)
					if err != nil {
						t.Errorf("UpdateProfile() error = %v, want none", err)
					}
					return
				}
				wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
			})
		}
	})
}

// TestWithdrawalBoundsAreTheService: as TestTaskBoundsAreTheService, for a
// withdrawal request; the minimum and the payment systems are the
// service's alone.
func TestWithdrawalBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	worker := a.register(t, "worker")
	a.grant(t, worker.User.ID, 1000)
	p := auth.Principal{UserID: worker.User.ID, Role: auth.RoleWorker}
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		fields map[string]any
		status int // 0: refused for its fields
	}{
		{"at the lower bounds", map[string]any{"account_number": "1234"}, http.StatusCreated},
		{"at the upper bounds", map[string]any{"account_number": strings.Repeat("~", 40)}, http.StatusCreated},
		{"the most coins, more than the worker has", map[string]any{"withdrawal_coin": 100_000_000}, http.StatusConflict},
		{"no coins", map[string]any{"withdrawal_coin": 0}, 0},
		{"negative coins", map[string]any{"withdrawal_coin": -1}, 0},
		{"below the minimum", map[string]any{"withdrawal_coin": 199}, 0},
		{"too many coins", map[string]any{"withdrawal_coin": 100_000_001}, 0},
		{"no system", map[string]any{"payment_system": " "}, 0},
		{"a system name too long", map[string]any{"payment_system": strings.Repeat("b", 41)}, 0},
		{"an unknown system", map[string]any{"payment_system": "cash"}, 0},
		{"no account", map[string]any{"account_number": ""}, 0},
		{"an account too short", map[string]any{"account_number": "123"}, 0},
		{"an account too long", map[string]any{"account_number": strings.Repeat("1", 41)}, 0},
		{"an account not in printable ASCII", map[string]any{"account_number": "0190é0000"}, 0},
		{"every field wrong", map[string]any{"withdrawal_coin": 0, "payment_system": "", "account_number": "12"}, 0},
		{"below the minimum, to an unknown system", map[string]any{"withdrawal_coin": 100, "payment_system": "cash"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"withdrawal_coin": 200, "payment_system": "bkash", "account_number": "01700000000"}
			maps.Copy(body, tt.fields)
			rec := a.call(t, http.MethodPost, "/api/withdrawals", worker.Token, body)
			str := func(k string) string { s, _ := body[k].(string); return s }
			_, err := a.env.Withdrawals.Request(ctx, p, withdrawal.Request{Coins: money.Coins(body["withdrawal_coin"].(int)),
				System: str("payment_system"), AccountNumber: str("account_number")})
			if tt.status != 0 {
				if rec.Code != tt.status || apperr.KindOf(err) == apperr.Invalid {
					t.Errorf("at the bounds: API %d %s, service %v; want %d, and the service to refuse no field", rec.Code, rec.Body, err, tt.status)
				}
				return
			}
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		})
	}
}

// TestReportBoundsAreTheService: as TestSubmissionBoundsAreTheService, for
// a report and an admin's decision of it.
func TestReportBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	worker, admin := a.register(t, "worker"), a.admin(t)
	w := auth.Principal{UserID: worker.User.ID, Role: auth.RoleWorker}
	ad := auth.Principal{UserID: admin.User.ID, Role: auth.RoleAdmin}
	ctx := context.Background()
	long := func(n int) string { return strings.Repeat("é", n) }
	const none = "no-such-id"
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, tt := range []struct {
		name string
		body map[string]any
		ok   bool
	}{
		{"at the bounds", map[string]any{"reason": long(1000)}, true},
		{"at the lower bound", map[string]any{"reason": long(10)}, true},
		{"no reason", map[string]any{"reason": " "}, false},
		{"a reason too short", map[string]any{"reason": long(9)}, false},
		{"a reason too long", map[string]any{"reason": long(1001)}, false},
		{"no type", map[string]any{"target_type": ""}, false},
		{"an unknown type", map[string]any{"target_type": "payment"}, false},
		{"both bad", map[string]any{"target_type": "payment", "reason": "short"}, false},
	} {
		t.Run("report: "+tt.name, func(t *testing.T) {
			body := map[string]any{"target_type": "task", "target_id": none, "reason": "Something is wrong here."}
			maps.Copy(body, tt.body)
			rec := a.call(t, http.MethodPost, "/api/reports", worker.Token, body)
			_, err := a.env.Reports.Create(ctx, w, report.TargetType(str(body, "target_type")), none, str(body, "reason"))
			if tt.ok {
				if rec.Code != http.StatusNotFound || !errors.Is(err, report.ErrTargetNotFound) {
					t.Errorf("at the bounds: API %d %s, service %v; want both to find no target", rec.Code, rec.Body, err)
				}
				return
			}
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		})
	}
	for _, tt := range []struct {
		name string
		body map[string]any
		ok   bool
	}{
		{"at the bound", map[string]any{"status": "resolved", "note": long(1000), "action": "suspend_user"}, true},
		{"no status", map[string]any{"status": ""}, false},
		{"an unknown status", map[string]any{"status": "open"}, false},
		{"a note too long", map[string]any{"status": "dismissed", "note": long(1001)}, false},
		{"an unknown action", map[string]any{"status": "resolved", "action": "ban"}, false},
		{"an action with a dismissal", map[string]any{"status": "dismissed", "action": "delete_task"}, false},
		{"a rework with its deadline", map[string]any{"status": "resolved", "action": "rework", "deadline": "2030-01-01T00:00:00Z"}, true},
		{"a rework without a deadline", map[string]any{"status": "resolved", "action": "rework"}, false},
		{"a deadline without a rework", map[string]any{"status": "resolved", "action": "suspend_user", "deadline": "2030-01-01T00:00:00Z"}, false},
	} {
		t.Run("decision: "+tt.name, func(t *testing.T) {
			rec := a.call(t, http.MethodPut, "/api/admin/reports/"+none, admin.Token, tt.body)
			v := report.Verdict{Status: report.Status(str(tt.body, "status")), Note: str(tt.body, "note"), Action: report.Action(str(tt.body, "action"))}
			if d := str(tt.body, "deadline"); d != "" {
				v.Deadline, _ = time.Parse(time.RFC3339, d)
			}
			_, err := a.env.Reports.DecideWith(ctx, ad, none, v)
			if tt.ok {
				if rec.Code != http.StatusNotFound || apperr.KindOf(err) != apperr.NotFound {
					t.Errorf("at the bounds: API %d %s, service %v; want both to find no report", rec.Code, rec.Body, err)
				}
				return
			}
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		})
	}
}

// TestAnnouncementBoundsAreTheService: as TestSubmissionBoundsAreTheService,
// for an admin's announcement.
func TestAnnouncementBoundsAreTheService(t *testing.T) {
	a := newAPI(t)
	admin := a.admin(t)
	ad := auth.Principal{UserID: admin.User.ID, Role: auth.RoleAdmin}
	long := func(n int) string { return strings.Repeat("é", n) }
	const none = "no-such-user"
	for _, tt := range []struct {
		name    string
		message string
		route   string
		ok      bool
	}{
		{"at the bounds", long(500), "/" + long(199), true},
		{"no message", "  ", "", false},
		{"a message too long", long(501), "", false},
		{"a route too long", "Hello", "/" + long(200), false},
		{"a route to another site", "Hello", "https://example.com/", false},
		{"both bad", "", "tasks", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.call(t, http.MethodPost, "/api/notifications", admin.Token,
				map[string]any{"to_user_id": none, "message": tt.message, "action_route": tt.route})
			_, err := a.env.Notifications.Announce(context.Background(), ad, none, tt.message, tt.route)
			if tt.ok {
				if rec.Code != http.StatusNotFound || apperr.KindOf(err) != apperr.NotFound {
					t.Errorf("at the bounds: API %d %s, service %v; want both to find no user", rec.Code, rec.Body, err)
				}
				return
			}
			wantSameFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity, "invalid_fields"), err)
		})
	}
}
