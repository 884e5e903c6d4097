package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"microtask/internal/ledger"
	"microtask/internal/money"
)

type taskBody struct {
	ID              string `json:"id"`
	Title           string `json:"task_title"`
	Detail          string `json:"task_detail"`
	RequiredWorkers int    `json:"required_workers"`
	PayableAmount   int64  `json:"payable_amount"`
	CompletionDate  string `json:"completion_date"`
	SubmissionInfo  string `json:"submission_info"`
	ImageURL        string `json:"task_image_url"`
	Buyer           struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"buyer"`
	Status       string            `json:"status"`
	Category     string            `json:"category"`
	Tags         []string          `json:"tags"`
	CreatedAt    string            `json:"created_at"`
	TimeAllotted int               `json:"time_allotted_minutes"`
	MinLevel     int               `json:"min_level"`
	MinRating    *float64          `json:"min_rating"`
	Countries    []string          `json:"countries"`
	Requirements []requirementBody `json:"requirements"`
	BuyerRating  ratingBody        `json:"buyer_rating"`
	MySubmission *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"my_submission"`
}

type ratingBody struct {
	Average *float64         `json:"average"`
	Count   int64            `json:"count"`
	Stars   map[string]int64 `json:"stars"`
}

type submissionBody struct {
	ID               string  `json:"id"`
	TaskID           string  `json:"task_id"`
	TaskTitle        string  `json:"task_title"`
	Pay              int64   `json:"payable_amount"`
	Details          string  `json:"submission_details"`
	Status           string  `json:"status"`
	Reason           string  `json:"reason"`
	ReviewedAt       *string `json:"reviewed_at"`
	AutoApprove      *string `json:"auto_approve_at"`
	Bonus            int64   `json:"bonus"`
	RevisionReason   string  `json:"revision_reason"`
	RevisionDeadline *string `json:"revision_deadline"`
	Worker           struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"worker"`
	Buyer struct {
		ID string `json:"id"`
	} `json:"buyer"`
}

type pageOf[T any] struct {
	Items []T   `json:"items"`
	Page  int   `json:"page"`
	Limit int   `json:"limit"`
	Total int64 `json:"total"`
}

type notificationBody struct {
	ID          string `json:"id"`
	Message     string `json:"message"`
	Type        string `json:"type"`
	ActionRoute string `json:"action_route"`
	Read        bool   `json:"read"`
}

// grant gives a user coins from the mint, as a purchase would.
func (a *testAPI) grant(t testing.TB, userID string, coins money.Coins) {
	t.Helper()
	a.env.Give(t, userID, coins)
}

// balance is a ledger account's balance.
func (a *testAPI) balance(t testing.TB, account string) int64 {
	t.Helper()
	b, err := a.ledger.Balance(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return int64(b)
}

// coins is a user's balance.
func (a *testAPI) coins(t testing.TB, userID string) int64 {
	t.Helper()
	return a.balance(t, ledger.UserAccount(userID))
}

func (a *testAPI) escrow(t testing.TB, taskID string) int64 {
	t.Helper()
	return a.balance(t, ledger.EscrowAccount(taskID))
}

func taskRequest(a *testAPI, workers int, pay int64) map[string]any {
	return map[string]any{
		"task_title": "Watch a video", "task_detail": "Watch it to the end and like it.",
		"submission_info": "A screenshot of the like", "task_image_url": "https://i.ibb.co/x/v.png",
		"required_workers": workers, "payable_amount": pay,
		"completion_date": a.clock.Now().Add(7 * 24 * time.Hour).Format(time.RFC3339),
	}
}

// postTask creates a task for the buyer and returns it.
func (a *testAPI) postTask(t testing.TB, buyerToken string, workers int, pay int64) taskBody {
	t.Helper()
	return decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyerToken, taskRequest(a, workers, pay)), http.StatusCreated)
}

func (a *testAPI) submit(t testing.TB, workerToken, taskID string) submissionBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/submissions", workerToken,
		map[string]string{"task_id": taskID, "submission_details": "https://prnt.sc/proof"})
	return decode[submissionBody](t, rec, http.StatusCreated)
}

func (a *testAPI) notificationsOf(t testing.TB, token string) []notificationBody {
	t.Helper()
	return decode[pageOf[notificationBody]](t, a.call(t, http.MethodGet, "/api/notifications?limit=100", token, nil), http.StatusOK).Items
}

func TestMarketplaceFlowKeepsExactBalances(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer") // 50 coins
	var workers []sessionBody
	for range 4 {
		workers = append(workers, a.register(t, "worker")) // 10 coins each
	}
	w1, w2, w3, w4 := workers[0], workers[1], workers[2], workers[3]

	tk := a.postTask(t, buyer.Token, 3, 10)
	if tk.RequiredWorkers != 3 || tk.Status != "open" || tk.Buyer.ID != buyer.User.ID || tk.Buyer.Name != "Test buyer" {
		t.Fatalf("created task = %+v", tk)
	}
	if got := a.coins(t, buyer.User.ID); got != 20 {
		t.Fatalf("buyer after posting = %d, want 50 - 3×10 = 20", got)
	}
	if got := a.escrow(t, tk.ID); got != 30 {
		t.Fatalf("escrow = %d, want 30", got)
	}

	s1, s2, s3 := a.submit(t, w1.Token, tk.ID), a.submit(t, w2.Token, tk.ID), a.submit(t, w3.Token, tk.ID)
	if s1.Status != "pending" || s1.Pay != 10 || s1.TaskTitle != "Watch a video" || s1.Worker.ID != w1.User.ID || s1.ReviewedAt != nil {
		t.Errorf("submission = %+v", s1)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", w4.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "late"}), http.StatusConflict, "task_full")
	got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	if got.RequiredWorkers != 0 {
		t.Errorf("open slots after 3 submissions = %d", got.RequiredWorkers)
	}

	// Approve s1: w1 is paid from escrow.
	ap := decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	if ap.Status != "approved" || ap.ReviewedAt == nil {
		t.Errorf("approved = %+v", ap)
	}
	if a.coins(t, w1.User.ID) != 20 || a.escrow(t, tk.ID) != 20 {
		t.Errorf("after approval: w1 %d (want 20), escrow %d (want 20)", a.coins(t, w1.User.ID), a.escrow(t, tk.ID))
	}
	wantProblem(t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusConflict, "already_reviewed")
	wantProblem(t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}), http.StatusConflict, "already_reviewed")

	// Reject s2: its slot reopens and w4 can take it.
	rj := decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token,
		map[string]string{"reason": "The screenshot does not show the like."}), http.StatusOK)
	if rj.Status != "rejected" || rj.Reason != "The screenshot does not show the like." {
		t.Errorf("rejected = %+v", rj)
	}
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK); got.RequiredWorkers != 1 {
		t.Errorf("open slots after a rejection = %d, want 1", got.RequiredWorkers)
	}
	if a.coins(t, w2.User.ID) != 10 || a.escrow(t, tk.ID) != 20 {
		t.Errorf("after rejection: w2 %d (want 10), escrow %d (want 20)", a.coins(t, w2.User.ID), a.escrow(t, tk.ID))
	}
	s4 := a.submit(t, w4.Token, tk.ID)

	// No deletion while s3 and s4 wait.
	wantProblem(t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, buyer.Token, nil), http.StatusConflict, "pending_submissions")
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s3.ID+"/approve", buyer.Token, nil), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s4.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}), http.StatusOK)

	// One open slot left: deleting refunds its 10 coins.
	del := decode[struct {
		ID       string `json:"id"`
		Refunded int64  `json:"refunded"`
	}](t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, buyer.Token, nil), http.StatusOK)
	if del.Refunded != 10 {
		t.Errorf("refunded = %d, want 10", del.Refunded)
	}
	want := map[string]int64{buyer.User.ID: 30, w1.User.ID: 20, w2.User.ID: 10, w3.User.ID: 20, w4.User.ID: 10}
	for id, w := range want {
		if got := a.coins(t, id); got != w {
			t.Errorf("balance of %s = %d, want %d", id, got, w)
		}
	}
	if got := a.escrow(t, tk.ID); got != 0 {
		t.Errorf("escrow after deletion = %d", got)
	}
	wantProblem(t, a.get(t, "/api/tasks/"+tk.ID), http.StatusNotFound, "task_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, buyer.Token, nil), http.StatusNotFound, "task_not_found")

	// Everyone was told.
	buyerNotes := a.notificationsOf(t, buyer.Token)
	if len(buyerNotes) != 5 { // four submissions and the deletion
		t.Errorf("buyer notifications = %+v, want 5", buyerNotes)
	}
	w2Notes := a.notificationsOf(t, w2.Token)
	if len(w2Notes) != 1 || !strings.Contains(w2Notes[0].Message, "does not show the like") || w2Notes[0].ActionRoute != "/dashboard/my-submissions" {
		t.Errorf("w2 notifications = %+v", w2Notes)
	}
	if n := a.notificationsOf(t, w1.Token); len(n) != 1 || !strings.Contains(n[0].Message, "approved") {
		t.Errorf("w1 notifications = %+v", n)
	}
}

func TestCreateTaskRefusesBadInput(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	worker := a.register(t, "worker")
	with := func(change func(map[string]any)) map[string]any {
		r := taskRequest(a, 2, 5)
		change(r)
		return r
	}
	tests := []struct {
		name   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"no token", "", taskRequest(a, 1, 1), 401, "missing_token", ""},
		{"worker", worker.Token, taskRequest(a, 1, 1), 403, "wrong_role", ""},
		{"no workers", buyer.Token, with(func(r map[string]any) { r["required_workers"] = 0 }), 422, "invalid_fields", "required_workers"},
		{"too many workers", buyer.Token, with(func(r map[string]any) { r["required_workers"] = 10001 }), 422, "invalid_fields", "required_workers"},
		{"fractional workers", buyer.Token, with(func(r map[string]any) { r["required_workers"] = 1.5 }), 422, "invalid_fields", "required_workers"},
		{"no pay", buyer.Token, with(func(r map[string]any) { r["payable_amount"] = 0 }), 422, "invalid_fields", "payable_amount"},
		{"negative pay", buyer.Token, with(func(r map[string]any) { r["payable_amount"] = -5 }), 422, "invalid_fields", "payable_amount"},
		{"pay as text", buyer.Token, with(func(r map[string]any) { r["payable_amount"] = "5" }), 422, "invalid_fields", "payable_amount"},
		{"past date", buyer.Token, with(func(r map[string]any) { r["completion_date"] = a.clock.Now().Add(-time.Hour).Format(time.RFC3339) }), 422, "invalid_fields", "completion_date"},
		{"far date", buyer.Token, with(func(r map[string]any) { r["completion_date"] = a.clock.Now().AddDate(2, 0, 0).Format(time.RFC3339) }), 422, "invalid_fields", "completion_date"},
		{"date without zone", buyer.Token, with(func(r map[string]any) { r["completion_date"] = "2030-01-01 10:00" }), 422, "invalid_fields", "completion_date"},
		{"no title", buyer.Token, with(func(r map[string]any) { delete(r, "task_title") }), 422, "invalid_fields", "task_title"},
		{"blank detail", buyer.Token, with(func(r map[string]any) { r["task_detail"] = "   " }), 422, "invalid_fields", "task_detail"},
		{"long title", buyer.Token, with(func(r map[string]any) { r["task_title"] = strings.Repeat("t", 201) }), 422, "invalid_fields", "task_title"},
		{"bad image", buyer.Token, with(func(r map[string]any) { r["task_image_url"] = "file:///etc/passwd" }), 422, "invalid_fields", "task_image_url"},
		{"smuggled status", buyer.Token, with(func(r map[string]any) { r["status"] = "open" }), 422, "invalid_fields", "status"},
		{"operator for title", buyer.Token, with(func(r map[string]any) { r["task_title"] = map[string]any{"$ne": ""} }), 422, "invalid_fields", "task_title"},
		{"costs more than the balance", buyer.Token, taskRequest(a, 6, 10), 409, "insufficient_coins", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", tt.token, tt.body), tt.status, tt.code)
			if tt.field != "" {
				wantFieldError(t, p, tt.field)
			}
		})
	}
	// Nothing was created and no coins moved.
	mine := decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/my", buyer.Token, nil), http.StatusOK)
	if mine.Total != 0 || a.coins(t, buyer.User.ID) != 50 {
		t.Errorf("after refused tasks: %d tasks, %d coins; want 0 and 50", mine.Total, a.coins(t, buyer.User.ID))
	}
}

func TestTaskListsSearchAndPages(t *testing.T) {
	a := newAPI(t)
	b1, b2 := a.register(t, "buyer"), a.register(t, "buyer")
	a.grant(t, b1.User.ID, 1000)
	a.grant(t, b2.User.ID, 1000)
	create := func(tok, title string, workers int, pay int64, days int) taskBody {
		r := taskRequest(a, workers, pay)
		r["task_title"], r["completion_date"] = title, a.clock.Now().Add(time.Duration(days)*24*time.Hour).Format(time.RFC3339)
		a.clock.Advance(time.Second) // distinct creation times
		return decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", tok, r), http.StatusCreated)
	}
	follow := create(b1.Token, "Follow our page", 2, 5, 3)
	review := create(b1.Token, "Review an app (5 stars)", 1, 20, 10)
	signup := create(b2.Token, "Sign up for a newsletter", 3, 8, 1)
	full := create(b2.Token, "Follow our other page", 1, 7, 5)
	w := a.register(t, "worker")
	a.submit(t, w.Token, full.ID)

	ids := func(p pageOf[taskBody]) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return out
	}
	list := func(path string) pageOf[taskBody] {
		t.Helper()
		return decode[pageOf[taskBody]](t, a.get(t, path), http.StatusOK)
	}
	tests := []struct {
		path  string
		want  []string
		total int64
	}{
		{"/api/tasks", []string{full.ID, signup.ID, review.ID, follow.ID}, 4},
		{"/api/tasks/available", []string{signup.ID, review.ID, follow.ID}, 3},
		{"/api/tasks?q=FOLLOW", []string{full.ID, follow.ID}, 2},
		{"/api/tasks?q=" + url.QueryEscape("(5 stars)"), []string{review.ID}, 1},
		{"/api/tasks?q=" + url.QueryEscape(".*"), nil, 0},
		{"/api/tasks?min_pay=8", []string{signup.ID, review.ID}, 2},
		{"/api/tasks?sort=pay", []string{review.ID, signup.ID, full.ID, follow.ID}, 4},
		{"/api/tasks?sort=deadline", []string{signup.ID, follow.ID, full.ID, review.ID}, 4},
		{"/api/tasks?sort=newest&limit=2", []string{full.ID, signup.ID}, 4},
		{"/api/tasks?limit=2&page=2", []string{review.ID, follow.ID}, 4},
		{"/api/tasks?limit=2&page=3", nil, 4},
		{"/api/tasks/available?sort=pay&min_pay=6&q=page", []string{follow.ID}[:0], 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := list(tt.path)
			if !slices.Equal(ids(p), tt.want) || p.Total != tt.total {
				t.Errorf("%s = %v (total %d), want %v (total %d)", tt.path, ids(p), p.Total, tt.want, tt.total)
			}
		})
	}
	if p := list("/api/tasks?limit=2&page=2"); p.Page != 2 || p.Limit != 2 {
		t.Errorf("page info = %d/%d", p.Page, p.Limit)
	}

	bad := []string{"page=0", "page=x", "limit=101", "limit=0", "min_pay=-1", "sort=random", "q=" + strings.Repeat("q", 101)}
	for _, q := range bad {
		wantProblem(t, a.get(t, "/api/tasks?"+q), http.StatusUnprocessableEntity, "invalid_fields")
	}

	// The buyer's own list includes expired tasks; the public ones do not.
	a.clock.Advance(2 * 24 * time.Hour) // signup is past its completion date
	if _, err := a.tasks.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/my", b2.Token, nil), http.StatusOK)); !slices.Equal(got, []string{full.ID, signup.ID}) {
		t.Errorf("b2's tasks = %v", got)
	}
	if got := ids(list("/api/tasks")); slices.Contains(got, signup.ID) {
		t.Errorf("expired task still listed: %v", got)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/my", w.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/my?limit=500", b1.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
}

func TestTaskUpdate(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 5)
	// Each edit changes exactly the fields its body has; null or "" clears
	// the image, the one optional field. The steps run in order.
	img := "https://example.com/task.png"
	steps := []struct {
		name   string
		method string
		body   string
		want   [4]string // title, detail, submission info, image
	}{
		{"everything", http.MethodPut, `{"task_title":"T1","task_detail":"D1","submission_info":"S1","task_image_url":"` + img + `"}`,
			[4]string{"T1", "D1", "S1", img}},
		// The specification's update form has no image: the image stays.
		{"the update form", http.MethodPut, `{"task_title":" T2 ","task_detail":"D2","submission_info":"S2"}`,
			[4]string{"T2", "D2", "S2", img}},
		{"the title alone", http.MethodPatch, `{"task_title":"T3"}`, [4]string{"T3", "D2", "S2", img}},
		{"nothing", http.MethodPatch, `{}`, [4]string{"T3", "D2", "S2", img}},
		{"image cleared by null", http.MethodPatch, `{"task_image_url":null}`, [4]string{"T3", "D2", "S2", ""}},
		{"image set again", http.MethodPut, `{"task_image_url":"` + img + `"}`, [4]string{"T3", "D2", "S2", img}},
		{"image cleared by empty text", http.MethodPut, `{"task_image_url":""}`, [4]string{"T3", "D2", "S2", ""}},
	}
	for _, st := range steps {
		got := decode[taskBody](t, a.call(t, st.method, "/api/tasks/"+tk.ID, buyer.Token, st.body), http.StatusOK)
		read := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
		for _, tb := range []taskBody{got, read} {
			if have := [4]string{tb.Title, tb.Detail, tb.SubmissionInfo, tb.ImageURL}; have != st.want || tb.RequiredWorkers != 2 || tb.PayableAmount != 5 {
				t.Fatalf("%s: task = %+v, want text %q", st.name, tb, st.want)
			}
		}
	}
	tests := []struct {
		name   string
		token  string
		path   string
		body   string
		status int
		code   string
	}{
		{"another buyer", other.Token, "/api/tasks/" + tk.ID, `{"task_title":"x","task_detail":"x","submission_info":"x"}`, 404, "task_not_found"},
		{"a worker", worker.Token, "/api/tasks/" + tk.ID, `{"task_title":"x","task_detail":"x","submission_info":"x"}`, 403, "wrong_role"},
		{"money field", buyer.Token, "/api/tasks/" + tk.ID, `{"task_title":"x","task_detail":"x","submission_info":"x","payable_amount":1}`, 422, "invalid_fields"},
		{"slots field", buyer.Token, "/api/tasks/" + tk.ID, `{"task_title":"x","task_detail":"x","submission_info":"x","required_workers":99}`, 422, "invalid_fields"},
		{"empty title", buyer.Token, "/api/tasks/" + tk.ID, `{"task_title":"","task_detail":"x","submission_info":"x"}`, 422, "invalid_fields"},
		{"blank detail", buyer.Token, "/api/tasks/" + tk.ID, `{"task_detail":"   "}`, 422, "invalid_fields"},
		{"null submission info", buyer.Token, "/api/tasks/" + tk.ID, `{"submission_info":null}`, 422, "invalid_fields"},
		{"title not text", buyer.Token, "/api/tasks/" + tk.ID, `{"task_title":5}`, 422, "invalid_fields"},
		{"long title", buyer.Token, "/api/tasks/" + tk.ID, `{"task_title":"` + strings.Repeat("t", 201) + `"}`, 422, "invalid_fields"},
		{"image not a URL", buyer.Token, "/api/tasks/" + tk.ID, `{"task_image_url":"javascript:alert(1)"}`, 422, "invalid_fields"},
		{"unknown task", buyer.Token, "/api/tasks/nope", `{"task_title":"x","task_detail":"x","submission_info":"x"}`, 404, "task_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPut, http.MethodPatch} {
				wantProblem(t, a.call(t, method, tt.path, tt.token, tt.body), tt.status, tt.code)
			}
		})
	}
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK); got.Title != "T3" || got.Detail != "D2" || got.SubmissionInfo != "S2" {
		t.Errorf("after refused edits, task = %+v", got)
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, other.Token, nil), http.StatusNotFound, "task_not_found")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/tasks/"+tk.ID, worker.Token, nil), http.StatusForbidden, "wrong_role")
}

// TestWorkersOwnSubmissions: a signed-in worker reading tasks sees their own
// submission to each, and their available tasks leave out those they
// submitted to, even once a rejection reopened the slot for others.
func TestWorkersOwnSubmissions(t *testing.T) {
	a := newAPI(t)
	buyer, w1, w2 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	t1, t2 := a.postTask(t, buyer.Token, 2, 5), a.postTask(t, buyer.Token, 2, 5)
	s1 := a.submit(t, w1.Token, t1.ID)
	if rec := a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/reject", buyer.Token, map[string]string{"reason": "the screenshot is blurred"}); rec.Code != http.StatusOK {
		t.Fatalf("reject = %d %s", rec.Code, rec.Body)
	}

	listed := func(token, path string) map[string]string { // task id -> own submission status, "-" for none
		t.Helper()
		out := map[string]string{}
		for _, tk := range decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, path, token, nil), http.StatusOK).Items {
			out[tk.ID] = "-"
			if tk.MySubmission != nil {
				out[tk.ID] = tk.MySubmission.Status
			}
		}
		return out
	}
	tests := []struct {
		name, token, path string
		want              map[string]string
	}{
		{"available to the worker who submitted", w1.Token, "/api/tasks/available", map[string]string{t2.ID: "-"}},
		{"available to another worker", w2.Token, "/api/tasks/available", map[string]string{t1.ID: "-", t2.ID: "-"}},
		{"available to anyone", "", "/api/tasks/available", map[string]string{t1.ID: "-", t2.ID: "-"}},
		{"every live task, to the worker who submitted", w1.Token, "/api/tasks", map[string]string{t1.ID: "rejected", t2.ID: "-"}},
		{"every live task, to the buyer", buyer.Token, "/api/tasks", map[string]string{t1.ID: "-", t2.ID: "-"}},
	}
	for _, tt := range tests {
		if got := listed(tt.token, tt.path); !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	one := func(token, id string) *string {
		t.Helper()
		tk := decode[taskBody](t, a.call(t, http.MethodGet, "/api/tasks/"+id, token, nil), http.StatusOK)
		if tk.MySubmission == nil {
			return nil
		}
		if tk.MySubmission.ID != s1.ID {
			t.Errorf("my_submission.id = %q, want %q", tk.MySubmission.ID, s1.ID)
		}
		return &tk.MySubmission.Status
	}
	if got := one(w1.Token, t1.ID); got == nil || *got != "rejected" {
		t.Errorf("the task read by its worker: my_submission status = %v, want rejected", got)
	}
	for name, token := range map[string]string{"anyone": "", "another worker": w2.Token, "the buyer": buyer.Token} {
		if got := one(token, t1.ID); got != nil {
			t.Errorf("the task read by %s carries my_submission %q", name, *got)
		}
	}
	if got := one(w1.Token, t2.ID); got != nil {
		t.Errorf("a task the worker did not submit to carries my_submission %q", *got)
	}
	// A public read with a bad token is refused, not served anonymously.
	wantProblem(t, a.call(t, http.MethodGet, "/api/tasks/available", "not-a-token", nil), http.StatusUnauthorized, "invalid_token")
}

// TestTaskStatusSaysWhyItTakesNoWork: a task tells readers it is closed
// while its buyer cannot run it (suspended, or no longer a buyer), and
// expired once its date passed, before the expiry job has run.
func TestTaskStatusSaysWhyItTakesNoWork(t *testing.T) {
	a := newAPI(t)
	buyer, worker, adm := a.register(t, "buyer"), a.register(t, "worker"), a.admin(t)
	tk := a.postTask(t, buyer.Token, 2, 5)
	short := taskRequest(a, 1, 5)
	short["completion_date"] = a.clock.Now().Add(time.Hour).Format(time.RFC3339)
	soon := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, short), http.StatusCreated)

	status := func(id string) string {
		t.Helper()
		return decode[taskBody](t, a.get(t, "/api/tasks/"+id), http.StatusOK).Status
	}
	available := func() []string {
		t.Helper()
		var ids []string
		for _, it := range decode[pageOf[taskBody]](t, a.get(t, "/api/tasks/available"), http.StatusOK).Items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	admin := func(body string) {
		t.Helper()
		if rec := a.call(t, http.MethodPut, "/api/admin/users/"+buyer.User.ID, adm.Token, body); rec.Code != http.StatusOK {
			t.Fatalf("admin update %s = %d %s", body, rec.Code, rec.Body)
		}
	}
	steps := []struct {
		name       string
		do         func()
		wantStatus string
		listed     bool
		submitCode string // "" when a submission is taken
	}{
		{"demoted to worker", func() { admin(`{"role":"worker"}`) }, "closed", false, "task_closed"},
		{"a buyer again", func() { admin(`{"role":"buyer"}`) }, "open", true, ""},
		{"suspended", func() { admin(`{"status":"suspended"}`) }, "closed", false, "task_closed"},
		{"reinstated", func() { admin(`{"status":"active"}`) }, "open", true, "already_submitted"},
	}
	for _, st := range steps {
		st.do()
		if got := status(tk.ID); got != st.wantStatus {
			t.Errorf("%s: status = %q, want %q", st.name, got, st.wantStatus)
		}
		if got := slices.Contains(available(), tk.ID); got != st.listed {
			t.Errorf("%s: listed as available = %v, want %v", st.name, got, st.listed)
		}
		rec := a.call(t, http.MethodPost, "/api/submissions", worker.Token, map[string]string{"task_id": tk.ID, "submission_details": "proof"})
		if st.submitCode == "" {
			decode[submissionBody](t, rec, http.StatusCreated)
		} else {
			wantProblem(t, rec, http.StatusConflict, st.submitCode)
		}
	}

	// Past its date, a task says so before the expiry job runs.
	if got := status(soon.ID); got != "open" {
		t.Fatalf("status before the date = %q", got)
	}
	a.clock.Advance(2 * time.Hour)
	if got := status(soon.ID); got != "expired" {
		t.Errorf("status past the date = %q, want expired", got)
	}
}

func TestSubmissionRules(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	w1, w2 := a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 3, 5)
	s1 := a.submit(t, w1.Token, tk.ID)

	tests := []struct {
		name   string
		token  string
		body   string
		status int
		code   string
	}{
		{"twice", w1.Token, `{"task_id":"` + tk.ID + `","submission_details":"again"}`, 409, "already_submitted"},
		{"unknown task", w2.Token, `{"task_id":"nope","submission_details":"x"}`, 404, "task_not_found"},
		{"no details", w2.Token, `{"task_id":"` + tk.ID + `"}`, 422, "invalid_fields"},
		{"long details", w2.Token, `{"task_id":"` + tk.ID + `","submission_details":"` + strings.Repeat("d", 5001) + `"}`, 422, "invalid_fields"},
		{"smuggled status", w2.Token, `{"task_id":"` + tk.ID + `","submission_details":"x","status":"approved"}`, 422, "invalid_fields"},
		{"a buyer", buyer.Token, `{"task_id":"` + tk.ID + `","submission_details":"x"}`, 403, "wrong_role"},
		{"no token", "", `{"task_id":"` + tk.ID + `","submission_details":"x"}`, 401, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", tt.token, tt.body), tt.status, tt.code)
		})
	}
	reviews := []struct {
		name   string
		token  string
		path   string
		body   any
		status int
		code   string
	}{
		{"another buyer approves", other.Token, "/api/submissions/" + s1.ID + "/approve", nil, 404, "submission_not_found"},
		{"another buyer rejects", other.Token, "/api/submissions/" + s1.ID + "/reject", map[string]string{"reason": "The proof does not show the task."}, 404, "submission_not_found"},
		{"reject without a reason", buyer.Token, "/api/submissions/" + s1.ID + "/reject", nil, 400, "empty_body"},
		{"reject with an empty reason", buyer.Token, "/api/submissions/" + s1.ID + "/reject", map[string]string{"reason": ""}, 422, "invalid_fields"},
		{"reject with a short reason", buyer.Token, "/api/submissions/" + s1.ID + "/reject", map[string]string{"reason": "  blurry  "}, 422, "invalid_fields"},
		{"the worker approves", w1.Token, "/api/submissions/" + s1.ID + "/approve", nil, 403, "wrong_role"},
		{"unknown submission", buyer.Token, "/api/submissions/nope/approve", nil, 404, "submission_not_found"},
		{"long reason", buyer.Token, "/api/submissions/" + s1.ID + "/reject", map[string]string{"reason": strings.Repeat("r", 501)}, 422, "invalid_fields"},
		{"unknown field", buyer.Token, "/api/submissions/" + s1.ID + "/reject", map[string]string{"why": "x"}, 422, "invalid_fields"},
	}
	for _, tt := range reviews {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPut, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	// Nothing moved.
	if a.coins(t, w1.User.ID) != 10 || a.escrow(t, tk.ID) != 15 {
		t.Errorf("after refused calls: w1 %d, escrow %d", a.coins(t, w1.User.ID), a.escrow(t, tk.ID))
	}

	// Lists by role.
	mine := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/my", w1.Token, nil), http.StatusOK)
	if mine.Total != 1 || mine.Items[0].ID != s1.ID {
		t.Errorf("w1's submissions = %+v", mine)
	}
	review := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK)
	if review.Total != 1 || review.Items[0].ID != s1.ID {
		t.Errorf("buyer's to-review = %+v", review)
	}
	if n := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", other.Token, nil), http.StatusOK).Total; n != 0 {
		t.Errorf("another buyer sees %d submissions to review", n)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/my", buyer.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/to-review", w1.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/my?status=lost", w1.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
	// Every bad parameter is named at once.
	both := wantProblem(t, a.call(t, http.MethodGet, "/api/submissions/my?status=lost&limit=0", w1.Token, nil), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, both, "status")
	wantFieldError(t, both, "limit")

	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	s2 := a.submit(t, w2.Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}), http.StatusOK)
	approved := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/approved", w1.Token, nil), http.StatusOK)
	rejected := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/my?status=rejected", w2.Token, nil), http.StatusOK)
	if approved.Total != 1 || rejected.Total != 1 || rejected.Items[0].Reason != "The proof does not show the task." {
		t.Errorf("approved %+v, rejected %+v", approved, rejected)
	}

	// A task past its completion date takes no more work.
	a.clock.Advance(8 * 24 * time.Hour)
	w3 := a.register(t, "worker")
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", w3.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "x"}), http.StatusConflict, "task_expired")
}

func TestConcurrentSubmissionsFillExactlyTheSlots(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	tk := a.postTask(t, buyer.Token, 5, 10)
	var workers []sessionBody
	for range 12 {
		workers = append(workers, a.register(t, "worker"))
	}
	codes := make([]int, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			codes[i] = a.call(t, http.MethodPost, "/api/submissions", w.Token,
				map[string]string{"task_id": tk.ID, "submission_details": "proof"}).Code
		})
	}
	wg.Wait()
	if n := countOf(codes, http.StatusCreated); n != 5 || countOf(codes, http.StatusConflict) != 7 {
		t.Errorf("statuses = %v, want five 201 and seven 409", codes)
	}
	got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	review := decode[pageOf[submissionBody]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK)
	if got.RequiredWorkers != 0 || review.Total != 5 || a.escrow(t, tk.ID) != 50 {
		t.Errorf("open slots %d, pending %d, escrow %d; want 0, 5, 50", got.RequiredWorkers, review.Total, a.escrow(t, tk.ID))
	}
}

func TestConcurrentSubmissionsOfOneWorker(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 3, 10)
	codes := make([]int, 6)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			codes[i] = a.call(t, http.MethodPost, "/api/submissions", worker.Token,
				map[string]string{"task_id": tk.ID, "submission_details": "proof"}).Code
		})
	}
	wg.Wait()
	if countOf(codes, http.StatusCreated) != 1 || countOf(codes, http.StatusConflict) != 5 {
		t.Errorf("statuses = %v, want one 201 and five 409", codes)
	}
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK); got.RequiredWorkers != 2 {
		t.Errorf("open slots = %d, want 2: one taken", got.RequiredWorkers)
	}
}

func TestConcurrentTasksNeverOverspend(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer") // 50 coins
	codes := make([]int, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i] = a.call(t, http.MethodPost, "/api/tasks", buyer.Token, taskRequest(a, 1, 10)).Code })
	}
	wg.Wait()
	if countOf(codes, http.StatusCreated) != 5 || countOf(codes, http.StatusConflict) != 5 {
		t.Errorf("statuses = %v, want five 201 and five 409", codes)
	}
	mine := decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/my", buyer.Token, nil), http.StatusOK)
	if mine.Total != 5 || a.coins(t, buyer.User.ID) != 0 {
		t.Errorf("%d tasks and %d coins, want 5 and 0", mine.Total, a.coins(t, buyer.User.ID))
	}
}

func TestConcurrentReviewsPayOnce(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 10)
	sub := a.submit(t, worker.Token, tk.ID)

	codes := make([]int, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			codes[i] = a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil).Code
		})
	}
	wg.Wait()
	if countOf(codes, http.StatusOK) != 1 || countOf(codes, http.StatusConflict) != 7 {
		t.Errorf("statuses = %v, want one 200 and seven 409", codes)
	}
	if got := a.coins(t, worker.User.ID); got != 20 {
		t.Errorf("worker = %d coins, want 10 + one payment of 10", got)
	}

	// Approve and reject racing on another submission: exactly one wins.
	w2 := a.register(t, "worker")
	s2 := a.submit(t, w2.Token, tk.ID)
	var approve, reject int
	wg.Go(func() {
		approve = a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/approve", buyer.Token, nil).Code
	})
	wg.Go(func() {
		reject = a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}).Code
	})
	wg.Wait()
	if (approve == http.StatusOK) == (reject == http.StatusOK) {
		t.Fatalf("approve %d, reject %d: want exactly one 200", approve, reject)
	}
	wantCoins, wantSlots := int64(10), 1
	if approve == http.StatusOK {
		wantCoins, wantSlots = 20, 0
	}
	got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	if a.coins(t, w2.User.ID) != wantCoins || got.RequiredWorkers != wantSlots {
		t.Errorf("w2 %d coins, %d open slots; want %d and %d", a.coins(t, w2.User.ID), got.RequiredWorkers, wantCoins, wantSlots)
	}
}

func countOf(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

func TestAutoApprovalAndExpiry(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	buyer, w1, w2, w3 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 4, 5) // due in 7 days, reviews due in 72 h
	s1 := a.submit(t, w1.Token, tk.ID)
	a.clock.Advance(24 * time.Hour)
	s2 := a.submit(t, w2.Token, tk.ID)

	// 72 h after s1, only s1 is due.
	a.clock.Advance(48*time.Hour + time.Minute)
	if n, err := a.submissions.AutoApproveDue(ctx); err != nil || n != 1 {
		t.Fatalf("AutoApproveDue() = %d, %v; want 1", n, err)
	}
	if n, err := a.submissions.AutoApproveDue(ctx); err != nil || n != 0 {
		t.Fatalf("second AutoApproveDue() = %d, %v; want 0", n, err)
	}
	if a.coins(t, w1.User.ID) != 15 || a.coins(t, w2.User.ID) != 10 {
		t.Errorf("after auto-approval: w1 %d (want 15), w2 %d (want 10)", a.coins(t, w1.User.ID), a.coins(t, w2.User.ID))
	}
	if n := a.notificationsOf(t, w1.Token); len(n) != 1 || !strings.Contains(n[0].Message, "automatically") {
		t.Errorf("w1 notifications = %+v", n)
	}
	_ = s1

	// Past the completion date: the 2 open slots are refunded, the task
	// leaves the lists, s2 can still be reviewed.
	a.clock.Advance(5 * 24 * time.Hour)
	if n, err := a.tasks.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue() = %d, %v; want 1", n, err)
	}
	if n, err := a.tasks.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("second ExpireDue() = %d, %v; want 0", n, err)
	}
	got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK)
	if got.Status != "expired" || got.RequiredWorkers != 0 {
		t.Errorf("expired task = %+v", got)
	}
	if a.coins(t, buyer.User.ID) != 50-20+10 || a.escrow(t, tk.ID) != 5 {
		t.Errorf("after expiry: buyer %d (want 40), escrow %d (want 5 for s2)", a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", w3.Token,
		map[string]string{"task_id": tk.ID, "submission_details": "x"}), http.StatusConflict, "task_expired")
	if n := a.notificationsOf(t, buyer.Token); !strings.Contains(n[0].Message, "completion date") {
		t.Errorf("buyer's newest notification = %+v", n[0])
	}

	// Rejecting s2 after expiry reopens a slot that nobody can take; the next
	// round refunds it.
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}), http.StatusOK)
	if n, err := a.tasks.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue() after a late rejection = %d, %v; want 1", n, err)
	}
	if a.coins(t, buyer.User.ID) != 45 || a.escrow(t, tk.ID) != 0 {
		t.Errorf("finally: buyer %d (want 45), escrow %d (want 0)", a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}
}

func TestDashboardStats(t *testing.T) {
	a := newAPI(t)
	buyer, w1, w2 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 100)
	t1 := a.postTask(t, buyer.Token, 3, 10)
	a.postTask(t, buyer.Token, 2, 7)
	s1 := a.submit(t, w1.Token, t1.ID)
	a.submit(t, w2.Token, t1.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)

	type stats = map[string]any // numbers decode as float64; role is the discriminator
	got := decode[stats](t, a.call(t, http.MethodGet, "/api/dashboard/stats", w1.Token, nil), http.StatusOK)
	if want := (stats{"role": "worker", "total_submissions": 1.0, "pending_submissions": 0.0, "total_earnings": 10.0}); !maps.Equal(got, want) {
		t.Errorf("worker stats = %v, want %v", got, want)
	}
	got = decode[stats](t, a.call(t, http.MethodGet, "/api/dashboard/stats", w2.Token, nil), http.StatusOK)
	if want := (stats{"role": "worker", "total_submissions": 1.0, "pending_submissions": 1.0, "total_earnings": 0.0}); !maps.Equal(got, want) {
		t.Errorf("worker stats = %v, want %v", got, want)
	}
	got = decode[stats](t, a.call(t, http.MethodGet, "/api/dashboard/stats", buyer.Token, nil), http.StatusOK)
	if want := (stats{"role": "buyer", "total_tasks": 2.0, "pending_slots": 1.0 + 2, "total_paid": 10.0}); !maps.Equal(got, want) {
		t.Errorf("buyer stats = %v, want %v", got, want)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/dashboard/stats", a.admin(t).Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodGet, "/api/dashboard/stats", "", nil), http.StatusUnauthorized, "missing_token")
}

// TestBuyerControls: a buyer adds slots (paid into escrow first), extends,
// pauses, resumes and closes their task early; every refusal changes
// nothing, and the audit (checked when the test ends) balances.
func TestBuyerControls(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker, w2 := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 100) // 150 coins
	tk := a.postTask(t, buyer.Token, 2, 10)
	path := "/api/tasks/" + tk.ID
	read := func() taskBody {
		t.Helper()
		return decode[taskBody](t, a.call(t, http.MethodGet, path, buyer.Token, nil), http.StatusOK)
	}

	// More slots: paid from the buyer into escrow.
	got := decode[taskBody](t, a.call(t, http.MethodPost, path+"/slots", buyer.Token, map[string]int{"count": 3}), http.StatusOK)
	if got.RequiredWorkers != 5 || a.coins(t, buyer.User.ID) != 100 || a.escrow(t, tk.ID) != 50 {
		t.Errorf("after adding 3 slots: task %+v, buyer %d, escrow %d", got, a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}
	later := a.clock.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	got = decode[taskBody](t, a.call(t, http.MethodPut, path+"/completion-date", buyer.Token, map[string]string{"completion_date": later.Format(time.RFC3339)}), http.StatusOK)
	if got.CompletionDate != later.Format(time.RFC3339) {
		t.Errorf("extended completion date = %s, want %s", got.CompletionDate, later.Format(time.RFC3339))
	}

	refused := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code                      string
	}{
		{"slots beyond the buyer's coins", buyer.Token, http.MethodPost, path + "/slots", map[string]int{"count": 11}, 409, "insufficient_coins"},
		{"slots beyond the maximum", buyer.Token, http.MethodPost, path + "/slots", map[string]int{"count": 9999}, 409, "too_many_slots"},
		{"no slots", buyer.Token, http.MethodPost, path + "/slots", map[string]int{"count": 0}, 422, "invalid_fields"},
		{"slots as text", buyer.Token, http.MethodPost, path + "/slots", map[string]string{"count": "2"}, 422, "invalid_fields"},
		{"slots on another buyer's task", other.Token, http.MethodPost, path + "/slots", map[string]int{"count": 1}, 404, "task_not_found"},
		{"slots by a worker", worker.Token, http.MethodPost, path + "/slots", map[string]int{"count": 1}, 403, "wrong_role"},
		{"slots on no task", buyer.Token, http.MethodPost, "/api/tasks/nope/slots", map[string]int{"count": 1}, 404, "task_not_found"},
		{"an earlier date", buyer.Token, http.MethodPut, path + "/completion-date", map[string]string{"completion_date": later.Add(-time.Hour).Format(time.RFC3339)}, 409, "not_later"},
		{"a date beyond a year", buyer.Token, http.MethodPut, path + "/completion-date", map[string]string{"completion_date": a.clock.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)}, 422, "invalid_fields"},
		{"a date that is no date", buyer.Token, http.MethodPut, path + "/completion-date", map[string]string{"completion_date": "next week"}, 422, "invalid_fields"},
		{"another buyer's date", other.Token, http.MethodPut, path + "/completion-date", map[string]string{"completion_date": later.Add(time.Hour).Format(time.RFC3339)}, 404, "task_not_found"},
		{"another buyer pauses", other.Token, http.MethodPost, path + "/pause", nil, 404, "task_not_found"},
		{"another buyer closes", other.Token, http.MethodPost, path + "/close", nil, 404, "task_not_found"},
		{"a worker closes", worker.Token, http.MethodPost, path + "/close", nil, 403, "wrong_role"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	if got := read(); got.RequiredWorkers != 5 || got.CompletionDate != later.Format(time.RFC3339) || a.coins(t, buyer.User.ID) != 100 || a.escrow(t, tk.ID) != 50 {
		t.Errorf("after refusals: task %+v, buyer %d, escrow %d", got, a.coins(t, buyer.User.ID), a.escrow(t, tk.ID))
	}

	// Paused, the task takes no work and leaves the available list.
	if got := decode[taskBody](t, a.call(t, http.MethodPost, path+"/pause", buyer.Token, nil), http.StatusOK); got.Status != "paused" {
		t.Errorf("paused task status = %q", got.Status)
	}
	for _, it := range decode[pageOf[taskBody]](t, a.get(t, "/api/tasks/available"), http.StatusOK).Items {
		if it.ID == tk.ID {
			t.Error("a paused task is listed as available")
		}
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", worker.Token, map[string]string{"task_id": tk.ID, "submission_details": "proof"}),
		http.StatusConflict, "task_paused")
	if got := decode[taskBody](t, a.call(t, http.MethodPost, path+"/resume", buyer.Token, nil), http.StatusOK); got.Status != "open" {
		t.Errorf("resumed task status = %q", got.Status)
	}
	s1 := a.submit(t, worker.Token, tk.ID)
	s2 := a.submit(t, w2.Token, tk.ID)

	// Closed early: the open slots' pay comes back at once; work already
	// submitted is still reviewed, and a slot a rejection reopens is
	// refunded by the expiry job.
	closed := decode[struct{ Refunded int64 }](t, a.call(t, http.MethodPost, path+"/close", buyer.Token, nil), http.StatusOK)
	if closed.Refunded != 30 || a.coins(t, buyer.User.ID) != 130 || a.escrow(t, tk.ID) != 20 || read().Status != "closed" {
		t.Errorf("closed early: refunded %d, buyer %d, escrow %d, status %s", closed.Refunded, a.coins(t, buyer.User.ID), a.escrow(t, tk.ID), read().Status)
	}
	for _, tt := range []struct{ method, path string }{
		{http.MethodPost, path + "/close"}, {http.MethodPost, path + "/pause"}, {http.MethodPost, path + "/resume"},
	} {
		wantProblem(t, a.call(t, tt.method, tt.path, buyer.Token, nil), http.StatusConflict, "task_not_open")
	}
	wantProblem(t, a.call(t, http.MethodPost, path+"/slots", buyer.Token, map[string]int{"count": 1}), http.StatusConflict, "task_not_open")
	wantProblem(t, a.call(t, http.MethodPut, path+"/completion-date", buyer.Token, map[string]string{"completion_date": later.Add(time.Hour).Format(time.RFC3339)}),
		http.StatusConflict, "not_later")
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", a.register(t, "worker").Token, map[string]string{"task_id": tk.ID, "submission_details": "proof"}),
		http.StatusConflict, "task_closed")
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s2.ID+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."}), http.StatusOK)
	if n, err := a.env.Tasks.ExpireDue(context.Background()); err != nil || n != 1 {
		t.Errorf("ExpireDue() = %d, %v; want the reopened slot refunded", n, err)
	}
	if got := read(); got.Status != "closed" || got.RequiredWorkers != 0 || a.escrow(t, tk.ID) != 0 || a.coins(t, buyer.User.ID) != 140 {
		t.Errorf("after the review: task %+v, escrow %d, buyer %d", got, a.escrow(t, tk.ID), a.coins(t, buyer.User.ID))
	}
}

// TestBonus: a buyer pays the worker of an approved submission a bonus from
// their balance; the worker is told; every refusal moves nothing.
func TestBonus(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 10) // the buyer keeps 30
	approved, pending := a.submit(t, worker.Token, tk.ID), a.submit(t, a.register(t, "worker").Token, tk.ID)
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+approved.ID+"/approve", buyer.Token, nil), http.StatusOK)
	path := "/api/submissions/" + approved.ID + "/bonus"

	refused := []struct {
		name, token, path string
		body              any
		status            int
		code              string
	}{
		{"more than the buyer has", buyer.Token, path, map[string]any{"coins": 31}, 409, "insufficient_coins"},
		{"a pending submission", buyer.Token, "/api/submissions/" + pending.ID + "/bonus", map[string]any{"coins": 1}, 409, "not_approved"},
		{"another buyer", other.Token, path, map[string]any{"coins": 1}, 404, "submission_not_found"},
		{"the worker", worker.Token, path, map[string]any{"coins": 1}, 403, "wrong_role"},
		{"no such submission", buyer.Token, "/api/submissions/nope/bonus", map[string]any{"coins": 1}, 404, "submission_not_found"},
		{"no coins", buyer.Token, path, map[string]any{"coins": 0}, 422, "invalid_fields"},
		{"negative coins", buyer.Token, path, map[string]any{"coins": -5}, 422, "invalid_fields"},
		{"coins as text", buyer.Token, path, map[string]any{"coins": "5"}, 422, "invalid_fields"},
		{"a long reason", buyer.Token, path, map[string]any{"coins": 1, "reason": strings.Repeat("r", 501)}, 422, "invalid_fields"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	if a.coins(t, buyer.User.ID) != 30 || a.coins(t, worker.User.ID) != 20 {
		t.Fatalf("after refusals: buyer %d, worker %d", a.coins(t, buyer.User.ID), a.coins(t, worker.User.ID))
	}

	// Two bonuses without a key are two bonuses.
	for range 2 {
		decode[submissionBody](t, a.call(t, http.MethodPost, path, buyer.Token, map[string]any{"coins": 5, "reason": "Fast and neat"}), http.StatusOK)
	}
	got := decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+approved.ID, worker.Token, nil), http.StatusOK)
	if got.Bonus != 10 || a.coins(t, buyer.User.ID) != 20 || a.coins(t, worker.User.ID) != 30 {
		t.Errorf("after two bonuses: submission bonus %d, buyer %d, worker %d", got.Bonus, a.coins(t, buyer.User.ID), a.coins(t, worker.User.ID))
	}
	var told int
	for _, n := range a.notificationsOf(t, worker.Token) {
		if n.Type == "bonus_paid" && strings.Contains(n.Message, "Fast and neat") {
			told++
		}
	}
	if told != 2 {
		t.Errorf("the worker was told of %d bonuses, want 2", told)
	}
}

// TestBulkReview: a buyer approves or rejects up to 100 submissions at once,
// each answered as its single review would be.
func TestBulkReview(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	a.grant(t, buyer.User.ID, 1000)
	tk := a.postTask(t, buyer.Token, 20, 5)
	var subs []submissionBody
	for range 3 {
		subs = append(subs, a.submit(t, a.register(t, "worker").Token, tk.ID))
	}
	theirs := a.submit(t, a.register(t, "worker").Token, a.postTask(t, other.Token, 1, 5).ID)
	type results struct {
		Results []struct {
			ID         string          `json:"id"`
			Status     int             `json:"status"`
			Code       string          `json:"code"`
			Submission *submissionBody `json:"submission"`
		} `json:"results"`
	}
	review := func(body any) results {
		t.Helper()
		return decode[results](t, a.call(t, http.MethodPost, "/api/submissions/reviews", buyer.Token, body), http.StatusOK)
	}
	summary := func(r results) []string {
		var out []string
		for _, it := range r.Results {
			s := fmt.Sprintf("%d %s", it.Status, it.Code)
			if it.Submission != nil {
				s += it.Submission.Status
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out
	}
	got := review(map[string]any{"ids": []string{subs[0].ID, subs[1].ID, theirs.ID, "nope"}, "decision": "approve"})
	if want := []string{"200 approved", "200 approved", "404 submission_not_found", "404 submission_not_found"}; !slices.Equal(summary(got), want) {
		t.Errorf("bulk approval = %v, want %v", summary(got), want)
	}
	got = review(map[string]any{"ids": []string{subs[1].ID, subs[2].ID}, "decision": "reject", "reason": "The proof does not show the task."})
	if want := []string{"409 already_reviewed", "200 rejected"}; !slices.Equal(summary(got), want) {
		t.Errorf("bulk rejection = %v, want %v", summary(got), want)
	}
	if a.escrow(t, tk.ID) != 18*5 {
		t.Errorf("escrow = %d, want the 18 open slots' pay", a.escrow(t, tk.ID))
	}

	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("id-%d", i)
	}
	refused := []struct {
		name, token string
		body        any
		status      int
		code        string
	}{
		{"no ids", buyer.Token, map[string]any{"ids": []string{}, "decision": "approve"}, 422, "invalid_fields"},
		{"101 ids", buyer.Token, map[string]any{"ids": many, "decision": "approve"}, 422, "invalid_fields"},
		{"a repeated id", buyer.Token, map[string]any{"ids": []string{"a", "a"}, "decision": "approve"}, 422, "invalid_fields"},
		{"an empty id", buyer.Token, map[string]any{"ids": []string{""}, "decision": "approve"}, 422, "invalid_fields"},
		{"no decision", buyer.Token, map[string]any{"ids": []string{"a"}}, 422, "invalid_fields"},
		{"another decision", buyer.Token, map[string]any{"ids": []string{"a"}, "decision": "maybe"}, 422, "invalid_fields"},
		{"a rejection without a reason", buyer.Token, map[string]any{"ids": []string{subs[0].ID}, "decision": "reject"}, 422, "invalid_fields"},
		{"a worker", a.register(t, "worker").Token, map[string]any{"ids": []string{"a"}, "decision": "approve"}, 403, "wrong_role"},
		{"no token", "", map[string]any{"ids": []string{"a"}, "decision": "approve"}, 401, "missing_token"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/submissions/reviews", tt.token, tt.body), tt.status, tt.code)
		})
	}
}

// TestBulkReviewRacesSingleReviews: a bulk approval and single rejections
// of the same submissions at once review each exactly once; the audit,
// checked when the test ends, balances.
func TestBulkReviewRacesSingleReviews(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	a.grant(t, buyer.User.ID, 1000)
	tk := a.postTask(t, buyer.Token, 10, 5)
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = a.submit(t, a.register(t, "worker").Token, tk.ID).ID
	}
	var (
		wg       sync.WaitGroup
		bulk     *httptest.ResponseRecorder
		rejected atomic.Int64
	)
	wg.Go(func() {
		bulk = a.call(t, http.MethodPost, "/api/submissions/reviews", buyer.Token, map[string]any{"ids": ids, "decision": "approve"})
	})
	for _, id := range ids {
		wg.Go(func() {
			rec := a.call(t, http.MethodPut, "/api/submissions/"+id+"/reject", buyer.Token, map[string]string{"reason": "The proof does not show the task."})
			if rec.Code == http.StatusOK {
				rejected.Add(1)
			}
		})
	}
	wg.Wait()
	var approved int64
	for _, r := range decode[struct {
		Results []struct{ Status int } `json:"results"`
	}](t, bulk, http.StatusOK).Results {
		if r.Status == http.StatusOK {
			approved++
		}
	}
	if approved+rejected.Load() != 10 {
		t.Errorf("approved %d + rejected %d, want each of the 10 reviewed once", approved, rejected.Load())
	}
	// Each approval used a slot; each rejection reopened one.
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers; int64(got) != rejected.Load() {
		t.Errorf("open slots = %d, want %d", got, rejected.Load())
	}
}

type reservationBody struct {
	ID        string  `json:"id"`
	TaskID    string  `json:"task_id"`
	Status    string  `json:"status"`
	ExpiresAt string  `json:"expires_at"`
	EndedAt   *string `json:"ended_at"`
}

// TestReservations: a worker holds a free slot while working and submits
// into it even once the task has no free slot; releasing or expiring gives
// it back; every refusal changes nothing; the audit (checked when the test
// ends) balances with slots held.
func TestReservations(t *testing.T) {
	a := newAPI(t)
	buyer, w1, w2, w3 := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	req := taskRequest(a, 2, 10)
	for _, minutes := range []any{4, 1441, "30", 30.5} {
		req["time_allotted_minutes"] = minutes
		wantProblem(t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, req), http.StatusUnprocessableEntity, "invalid_fields")
	}
	if got := a.postTask(t, buyer.Token, 1, 1); got.TimeAllotted != 60 {
		t.Errorf("time allotted by default = %d minutes, want 60", got.TimeAllotted)
	}
	req["time_allotted_minutes"] = 30
	tk := decode[taskBody](t, a.call(t, http.MethodPost, "/api/tasks", buyer.Token, req), http.StatusCreated)
	reserve := func(token, taskID string) *httptest.ResponseRecorder {
		t.Helper()
		return a.call(t, http.MethodPost, "/api/tasks/"+taskID+"/reservations", token, nil)
	}
	free := func() int {
		t.Helper()
		return decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers
	}

	r1 := decode[reservationBody](t, reserve(w1.Token, tk.ID), http.StatusCreated)
	if want := a.clock.Now().Add(30 * time.Minute).UTC().Format("2006-01-02T15:04:05"); r1.Status != "live" || !strings.HasPrefix(r1.ExpiresAt, want) {
		t.Errorf("reservation = %+v, want live until %s", r1, want)
	}
	decode[reservationBody](t, reserve(w2.Token, tk.ID), http.StatusCreated)
	if free() != 0 || a.escrow(t, tk.ID) != 20 {
		t.Errorf("with both slots held: %d free, escrow %d", free(), a.escrow(t, tk.ID))
	}
	// Held slots are not free: a third worker can neither reserve nor submit.
	wantProblem(t, reserve(w3.Token, tk.ID), http.StatusConflict, "task_full")
	wantProblem(t, a.call(t, http.MethodPost, "/api/submissions", w3.Token, map[string]string{"task_id": tk.ID, "submission_details": "proof"}),
		http.StatusConflict, "task_full")
	// The worker holding one submits into it.
	a.submit(t, w1.Token, tk.ID)
	if got := decode[reservationBody](t, a.call(t, http.MethodGet, "/api/reservations/"+r1.ID, w1.Token, nil), http.StatusOK); got.Status != "used" || got.EndedAt == nil {
		t.Errorf("reservation after the submission = %+v, want used", got)
	}

	refused := []struct {
		name, token, method, path string
		status                    int
		code                      string
	}{
		{"twice", w2.Token, http.MethodPost, "/api/tasks/" + tk.ID + "/reservations", 409, "already_reserved"},
		{"after submitting", w1.Token, http.MethodPost, "/api/tasks/" + tk.ID + "/reservations", 409, "already_submitted"},
		{"a buyer", buyer.Token, http.MethodPost, "/api/tasks/" + tk.ID + "/reservations", 403, "wrong_role"},
		{"no task", w3.Token, http.MethodPost, "/api/tasks/nope/reservations", 404, "task_not_found"},
		{"someone else's", w3.Token, http.MethodGet, "/api/reservations/" + r1.ID, 404, "reservation_not_found"},
		{"release someone else's", w3.Token, http.MethodDelete, "/api/reservations/" + r1.ID, 404, "reservation_not_found"},
		{"release a used one", w1.Token, http.MethodDelete, "/api/reservations/" + r1.ID, 409, "reservation_ended"},
		{"a buyer's list", buyer.Token, http.MethodGet, "/api/reservations/my", 403, "wrong_role"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, nil), tt.status, tt.code)
		})
	}

	// Released, the slot is free again; the list shows only live ones.
	mine := decode[pageOf[reservationBody]](t, a.call(t, http.MethodGet, "/api/reservations/my", w2.Token, nil), http.StatusOK)
	if mine.Total != 1 || mine.Items[0].TaskID != tk.ID {
		t.Fatalf("w2's reservations = %+v", mine)
	}
	if rec := a.call(t, http.MethodDelete, "/api/reservations/"+mine.Items[0].ID, w2.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("release = %d %s", rec.Code, rec.Body)
	}
	if free() != 1 || decode[pageOf[reservationBody]](t, a.call(t, http.MethodGet, "/api/reservations/my", w2.Token, nil), http.StatusOK).Total != 0 {
		t.Errorf("after the release: %d free", free())
	}

	// A reservation whose time ran out gives its slot back, and the worker
	// may reserve again.
	r3 := decode[reservationBody](t, reserve(w3.Token, tk.ID), http.StatusCreated)
	a.clock.Advance(31 * time.Minute)
	if n, err := a.env.Reservations.ExpireDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("ExpireDue() = %d, %v", n, err)
	}
	if got := decode[reservationBody](t, a.call(t, http.MethodGet, "/api/reservations/"+r3.ID, w3.Token, nil), http.StatusOK); got.Status != "expired" || free() != 1 {
		t.Errorf("after expiry: %+v, %d free", got, free())
	}
	again := decode[reservationBody](t, reserve(w3.Token, tk.ID), http.StatusCreated)
	if again.ID != r3.ID || again.Status != "live" {
		t.Errorf("reserved again = %+v", again)
	}

	// Closing the task refunds held slots too, and cancels their
	// reservations at once.
	closed := decode[struct{ Refunded int64 }](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/close", buyer.Token, nil), http.StatusOK)
	if closed.Refunded != 10 || a.escrow(t, tk.ID) != 10 { // the held slot; the pending submission's pay stays
		t.Errorf("closed: refunded %d, escrow %d", closed.Refunded, a.escrow(t, tk.ID))
	}
	if got := decode[reservationBody](t, a.call(t, http.MethodGet, "/api/reservations/"+again.ID, w3.Token, nil), http.StatusOK); got.Status != "cancelled" || got.EndedAt == nil {
		t.Errorf("reservation of a closed task = %+v, want cancelled", got)
	}
	if mine := decode[pageOf[reservationBody]](t, a.call(t, http.MethodGet, "/api/reservations/my", w3.Token, nil), http.StatusOK); mine.Total != 0 {
		t.Errorf("w3's live reservations after the close = %+v, want none", mine)
	}
	wantProblem(t, a.call(t, http.MethodDelete, "/api/reservations/"+again.ID, w3.Token, nil), http.StatusConflict, "reservation_ended")
}

// TestReservationLimit: a worker holds at most RESERVATIONS_PER_WORKER (3)
// live reservations, even when asking for many at once.
func TestReservationLimit(t *testing.T) {
	a := newAPI(t)
	buyer, w := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	var wg sync.WaitGroup
	var made atomic.Int64
	for range 8 {
		tk := a.postTask(t, buyer.Token, 1, 5)
		wg.Go(func() {
			if a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", w.Token, nil).Code == http.StatusCreated {
				made.Add(1)
			}
		})
	}
	wg.Wait()
	live := decode[pageOf[reservationBody]](t, a.call(t, http.MethodGet, "/api/reservations/my", w.Token, nil), http.StatusOK).Total
	if live > 3 || live != made.Load() || live == 0 {
		t.Errorf("live reservations %d, made %d; want at most 3, as many as answered 201", live, made.Load())
	}
}

// TestLastFreeSlotReservedOnce: many workers reserve the last free slot at
// once; one holds it.
func TestLastFreeSlotReservedOnce(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	tk := a.postTask(t, buyer.Token, 1, 10)
	var wg sync.WaitGroup
	var won, full atomic.Int64
	for range 12 {
		w := a.register(t, "worker")
		wg.Go(func() {
			switch rec := a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", w.Token, nil); rec.Code {
			case http.StatusCreated:
				won.Add(1)
			case http.StatusConflict:
				full.Add(1)
			default:
				t.Errorf("reserve = %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || full.Load() != 11 {
		t.Errorf("%d reservations made, %d refused; want 1 and 11", won.Load(), full.Load())
	}
	if got := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers; got != 0 || a.escrow(t, tk.ID) != 10 {
		t.Errorf("free slots %d, escrow %d", got, a.escrow(t, tk.ID))
	}
}

// TestTaskWithNoFreeSlotReadsFull: a task whose slots are all taken, by a
// submission or a reservation (a reserved slot is not free), reads full
// wherever it is shown; a slot given back makes it open again.
func TestTaskWithNoFreeSlotReadsFull(t *testing.T) {
	a := newAPI(t)
	buyer, w1, w2, adm := a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker"), a.admin(t)
	tk := a.postTask(t, buyer.Token, 2, 10)
	a.submit(t, w1.Token, tk.ID)
	held := decode[reservationBody](t, a.call(t, http.MethodPost, "/api/tasks/"+tk.ID+"/reservations", w2.Token, nil), http.StatusCreated)
	views := []struct{ name, path, token string }{
		{"details", "/api/tasks/" + tk.ID, ""},
		{"list", "/api/tasks", ""},
		{"a worker's list", "/api/tasks", w1.Token},
		{"the buyer's list", "/api/tasks/my", buyer.Token},
		{"the admins' list", "/api/admin/tasks", adm.Token},
	}
	status := func(t *testing.T, path, token string) string {
		t.Helper()
		rec := a.call(t, http.MethodGet, path, token, nil)
		if path == "/api/tasks/"+tk.ID {
			return decode[taskBody](t, rec, http.StatusOK).Status
		}
		for _, it := range decode[pageOf[taskBody]](t, rec, http.StatusOK).Items {
			if it.ID == tk.ID {
				return it.Status
			}
		}
		return "not listed"
	}
	for _, step := range []struct {
		name string
		do   func()
		want string
	}{
		{"one slot submitted to, the other reserved", func() {}, "full"},
		{"the reservation released", func() {
			if rec := a.call(t, http.MethodDelete, "/api/reservations/"+held.ID, w2.Token, nil); rec.Code != http.StatusNoContent {
				t.Fatalf("release = %d %s", rec.Code, rec.Body)
			}
		}, "open"},
	} {
		step.do()
		for _, v := range views {
			t.Run(step.name+"/"+v.name, func(t *testing.T) {
				if got := status(t, v.path, v.token); got != step.want {
					t.Errorf("status = %q, want %q", got, step.want)
				}
			})
		}
	}
}

// TestRevisions: a buyer sends a pending submission back once; the worker
// revises it before the deadline, or a missed deadline rejects it and
// reopens its slot; the slot and its pay stay with the submission meanwhile.
func TestRevisions(t *testing.T) {
	a := newAPI(t)
	buyer, other, w1, w2 := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker"), a.register(t, "worker")
	tk := a.postTask(t, buyer.Token, 2, 10)
	s1, s2 := a.submit(t, w1.Token, tk.ID), a.submit(t, w2.Token, tk.ID)
	ask := func(token, id string, body any) *httptest.ResponseRecorder {
		t.Helper()
		return a.call(t, http.MethodPut, "/api/submissions/"+id+"/request-revision", token, body)
	}
	revise := func(token, id, details string) *httptest.ResponseRecorder {
		t.Helper()
		return a.call(t, http.MethodPut, "/api/submissions/"+id, token, map[string]string{"submission_details": details})
	}
	reason := map[string]string{"reason": "Please show the whole page."}

	refusedBefore := []struct {
		name   string
		rec    func() *httptest.ResponseRecorder
		status int
		code   string
	}{
		{"another buyer asks", func() *httptest.ResponseRecorder { return ask(other.Token, s1.ID, reason) }, 404, "submission_not_found"},
		{"the worker asks", func() *httptest.ResponseRecorder { return ask(w1.Token, s1.ID, reason) }, 403, "wrong_role"},
		{"a short reason", func() *httptest.ResponseRecorder { return ask(buyer.Token, s1.ID, map[string]string{"reason": "redo"}) }, 422, "invalid_fields"},
		{"no reason", func() *httptest.ResponseRecorder { return ask(buyer.Token, s1.ID, map[string]string{}) }, 422, "invalid_fields"},
		{"revise unasked", func() *httptest.ResponseRecorder { return revise(w1.Token, s1.ID, "new proof") }, 409, "not_in_revision"},
	}
	for _, tt := range refusedBefore {
		wantProblem(t, tt.rec(), tt.status, tt.code)
	}

	got := decode[submissionBody](t, ask(buyer.Token, s1.ID, reason), http.StatusOK)
	if got.Status != "revision_requested" || got.RevisionReason != "Please show the whole page." || got.RevisionDeadline == nil || got.AutoApprove != nil {
		t.Errorf("sent back = %+v", got)
	}
	decode[submissionBody](t, ask(buyer.Token, s2.ID, reason), http.StatusOK)
	if n := a.notificationsOf(t, w1.Token); len(n) != 1 || n[0].Type != "revision_requested" || !strings.Contains(n[0].Message, "whole page") {
		t.Errorf("worker's notifications = %+v", n)
	}
	// While it waits: no review, no second request; someone else cannot revise it.
	wantProblem(t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusConflict, "revision_requested")
	wantProblem(t, ask(buyer.Token, s1.ID, reason), http.StatusConflict, "revision_requested")
	wantProblem(t, revise(w2.Token, s1.ID, "mine now"), http.StatusNotFound, "submission_not_found")
	wantProblem(t, revise(w1.Token, s1.ID, ""), http.StatusUnprocessableEntity, "invalid_fields")

	got = decode[submissionBody](t, revise(w1.Token, s1.ID, "https://prnt.sc/whole-page"), http.StatusOK)
	if got.Status != "pending" || got.Details != "https://prnt.sc/whole-page" || got.RevisionDeadline != nil || got.AutoApprove == nil {
		t.Errorf("revised = %+v", got)
	}
	wantProblem(t, ask(buyer.Token, s1.ID, reason), http.StatusConflict, "revision_used")
	// The revision counts in the worker's track record, once.
	seen := false
	for _, it := range decode[pageOf[struct {
		ID     string `json:"id"`
		Record struct {
			Revisions int `json:"revisions"`
		} `json:"worker_record"`
	}]](t, a.call(t, http.MethodGet, "/api/submissions/to-review", buyer.Token, nil), http.StatusOK).Items {
		if it.ID == s1.ID {
			seen = true
			if it.Record.Revisions != 1 {
				t.Errorf("the worker's record counts %d revisions, want 1", it.Record.Revisions)
			}
		}
	}
	if !seen {
		t.Error("the revised submission is not in the buyer's list to review")
	}
	decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+s1.ID+"/approve", buyer.Token, nil), http.StatusOK)

	// s2's deadline passes: it counts as a rejection, and its slot reopens.
	a.clock.Advance(49 * time.Hour)
	wantProblem(t, revise(w2.Token, s2.ID, "too late"), http.StatusConflict, "not_in_revision")
	if n, err := a.env.Submissions.RejectOverdue(context.Background()); err != nil || n != 1 {
		t.Fatalf("RejectOverdue() = %d, %v", n, err)
	}
	got = decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+s2.ID, w2.Token, nil), http.StatusOK)
	if got.Status != "rejected" || !strings.Contains(got.Reason, "deadline") {
		t.Errorf("overdue = %+v", got)
	}
	if free := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers; free != 1 || a.escrow(t, tk.ID) != 10 {
		t.Errorf("after the overdue rejection: %d free, escrow %d", free, a.escrow(t, tk.ID))
	}
}

// TestRevisionRacesItsDeadline: a revision sent just as the deadline job
// runs is either taken or rejected, never both.
func TestRevisionRacesItsDeadline(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	a.grant(t, buyer.User.ID, 500)
	tk := a.postTask(t, buyer.Token, 10, 5)
	type pair struct{ token, id string }
	var subs []pair
	for range 10 {
		w := a.register(t, "worker")
		sub := a.submit(t, w.Token, tk.ID)
		decode[submissionBody](t, a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/request-revision", buyer.Token,
			map[string]string{"reason": "Please show the whole page."}), http.StatusOK)
		subs = append(subs, pair{w.Token, sub.ID})
	}
	// The deadline is 48 hours away: move the clock to just before it, so
	// that revisions are still in time while the job runs as if past it.
	a.clock.Advance(48*time.Hour - time.Millisecond)
	var wg sync.WaitGroup
	var revised atomic.Int64
	for _, p := range subs {
		wg.Go(func() {
			rec := a.call(t, http.MethodPut, "/api/submissions/"+p.id, p.token, map[string]string{"submission_details": "whole page"})
			if rec.Code == http.StatusOK {
				revised.Add(1)
			}
		})
	}
	wg.Go(func() {
		a.clock.Advance(2 * time.Millisecond)
		if _, err := a.env.Submissions.RejectOverdue(context.Background()); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	var pending, rejected int64
	for _, p := range subs {
		switch decode[submissionBody](t, a.call(t, http.MethodGet, "/api/submissions/"+p.id, p.token, nil), http.StatusOK).Status {
		case "pending":
			pending++
		case "rejected":
			rejected++
		}
	}
	if pending != revised.Load() || pending+rejected != 10 {
		t.Errorf("pending %d (revised %d), rejected %d; want each either revised or rejected", pending, revised.Load(), rejected)
	}
	if free := decode[taskBody](t, a.get(t, "/api/tasks/"+tk.ID), http.StatusOK).RequiredWorkers; int64(free) != rejected {
		t.Errorf("free slots %d, want one per rejection (%d)", free, rejected)
	}
}
