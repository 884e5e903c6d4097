package httpapi_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"microtask/internal/submission"
	"microtask/internal/task"
)

type batchDetailBody struct {
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	Rows        int            `json:"rows"`
	Columns     []string       `json:"columns"`
	Tasks       map[string]int `json:"tasks"`
	Submissions map[string]int `json:"submissions"`
	Coins       struct {
		Funded   int64 `json:"funded"`
		Escrowed int64 `json:"escrowed"`
		Paid     int64 `json:"paid"`
		Refunded int64 `json:"refunded"`
	} `json:"coins"`
}

func batchTemplate(a *testAPI, workers, pay int) string {
	return fmt.Sprintf(`{"task_title": "Find the phone number of {{company}}", "task_detail": "Search the web for {{ company }} in {{city}}.",
		"submission_info": "The number, and the page it is on", "required_workers": %d, "payable_amount": %d, "completion_date": %q}`,
		workers, pay, a.clock.Now().Add(7*24*time.Hour).Format(time.RFC3339))
}

func (a *testAPI) postBatch(t testing.TB, token, key, template, items string) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := form(t, textField("template", template), part{name: "items", filename: "items.csv", contentType: "text/csv", data: []byte(items)})
	h := http.Header{"Content-Type": {ct}}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	return a.do(t, request{method: http.MethodPost, path: "/api/batches", body: body, token: token, header: h})
}

func TestBatchOfTasksFromACSVFile(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 100)
	items := "company,city\nAcme,Berlin\nGlobex,Lyon\n"
	rec := a.postBatch(t, buyer.Token, "batch-1", batchTemplate(a, 2, 3), items)
	b := decode[batchDetailBody](t, rec, http.StatusCreated)
	if rec.Header().Get("Location") != "/api/batches/"+b.ID || b.Status != "open" || b.Rows != 2 || b.Tasks["open"] != 2 ||
		b.Coins.Funded != 12 || b.Coins.Escrowed != 12 {
		t.Fatalf("created %+v at %q", b, rec.Header().Get("Location"))
	}
	// The same key and body: the first answer again, nothing moves again.
	again := a.postBatch(t, buyer.Token, "batch-1", batchTemplate(a, 2, 3), items)
	if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" || a.coins(t, buyer.User.ID) != 88+50 {
		t.Errorf("again: %d, replayed %q, buyer %d", again.Code, again.Header().Get("Idempotent-Replayed"), a.coins(t, buyer.User.ID))
	}
	mine := decode[pageOf[taskBody]](t, a.call(t, http.MethodGet, "/api/tasks/my", buyer.Token, nil), http.StatusOK)
	if mine.Total != 2 || !strings.Contains(mine.Items[0].Title+mine.Items[1].Title, "Globex") {
		t.Errorf("the buyer's tasks = %+v", mine.Items)
	}
	sub := a.submit(t, worker.Token, mine.Items[0].ID)
	a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/approve", buyer.Token, nil)
	closed := decode[batchDetailBody](t, a.call(t, http.MethodPost, "/api/batches/"+b.ID+"/close", buyer.Token, nil), http.StatusOK)
	if closed.Status != "closed" || closed.Tasks["closed"] != 2 || closed.Submissions["approved"] != 1 || closed.Coins.Paid != 3 ||
		closed.Coins.Refunded != 9 || closed.Coins.Escrowed != 0 {
		t.Errorf("closed %+v", closed)
	}
	list := decode[pageOf[batchDetailBody]](t, a.call(t, http.MethodGet, "/api/batches", buyer.Token, nil), http.StatusOK)
	if list.Total != 1 || list.Items[0].ID != b.ID {
		t.Errorf("list = %+v", list)
	}
	rec = a.call(t, http.MethodGet, "/api/batches/"+b.ID+"/results.csv", buyer.Token, nil)
	records, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || rec.Code != http.StatusOK || len(records) != 2 || records[1][0] == "" || records[1][5] != "approved" {
		t.Errorf("results (%d, %v):\n%s", rec.Code, err, rec.Body)
	}
}

func TestBatchUnhappyPaths(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 1000)
	b := decode[batchDetailBody](t, a.postBatch(t, buyer.Token, "", batchTemplate(a, 1, 1), "company,city\nA,B\n"), http.StatusCreated)
	a.call(t, http.MethodPost, "/api/batches/"+b.ID+"/close", buyer.Token, nil)

	p := wantProblem(t, a.postBatch(t, buyer.Token, "", strings.Replace(batchTemplate(a, 1, 1), "{{city}}", "{{town}}", 1),
		"company,city\nAcme,Berlin\n,Lyon\nInitech\n"), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"template.task_detail", "items[2].company", "items[3]"} {
		wantFieldError(t, p, f)
	}
	wantProblem(t, a.postBatch(t, other.Token, "", batchTemplate(a, 100, 100), "company,city\nA,B\n"), http.StatusConflict, "insufficient_coins")
	wantProblem(t, a.postBatch(t, worker.Token, "", batchTemplate(a, 1, 1), "company,city\nA,B\n"), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.postBatch(t, buyer.Token, "", "{not json", "company,city\nA,B\n"), http.StatusUnprocessableEntity, "invalid_fields")
	body, ct := form(t, textField("items", "a\nb\n"), textField("extra", "x"))
	p = wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/batches", body: body, token: buyer.Token, header: http.Header{"Content-Type": {ct}}}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, p, "template")
	wantFieldError(t, p, "extra")
	wantProblem(t, a.call(t, http.MethodPost, "/api/batches", buyer.Token, map[string]string{"template": "{}"}), http.StatusUnsupportedMediaType, "unsupported_media_type")
	wantProblem(t, a.call(t, http.MethodGet, "/api/batches/"+b.ID, other.Token, nil), http.StatusNotFound, "batch_not_found")
	wantProblem(t, a.call(t, http.MethodGet, "/api/batches/"+b.ID+"/results.csv", other.Token, nil), http.StatusNotFound, "batch_not_found")
	wantProblem(t, a.call(t, http.MethodPost, "/api/batches/"+b.ID+"/close", other.Token, nil), http.StatusNotFound, "batch_not_found")
	wantProblem(t, a.call(t, http.MethodPost, "/api/batches/"+b.ID+"/close", buyer.Token, nil), http.StatusConflict, "batch_not_open")
	wantProblem(t, a.call(t, http.MethodGet, "/api/batches", worker.Token, nil), http.StatusForbidden, "wrong_role")

	with, without := a.newKey(t, buyer.Token, "batches").Key, a.newKey(t, buyer.Token, "tasks:write").Key
	if rec := a.postBatch(t, with, "", batchTemplate(a, 1, 1), "company,city\nA,B\n"); rec.Code != http.StatusCreated {
		t.Errorf("a key with the scope: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.postBatch(t, without, "", batchTemplate(a, 1, 1), "company,city\nA,B\n"), http.StatusForbidden, "insufficient_scope")
}

// TestBatchResultsStreamTenThousandLines: a batch of 1,000 tasks with ten
// submissions each; the results come as CSV that encoding/csv parses, with
// proof text that needs quoting, flushed as they are written.
func TestBatchResultsStreamTenThousandLines(t *testing.T) {
	a := newAPI(t)
	buyer := a.register(t, "buyer")
	a.grant(t, buyer.User.ID, 10_000)
	var items strings.Builder
	items.WriteString("company,city\n")
	for i := range 1000 {
		fmt.Fprintf(&items, "Company %d,\"City, %d\"\n", i, i)
	}
	b := decode[batchDetailBody](t, a.postBatch(t, buyer.Token, "", batchTemplate(a, 10, 1), items.String()), http.StatusCreated)
	if b.Tasks["open"] != 1000 {
		t.Fatalf("batch %+v", b.Tasks)
	}
	// Rejected work, written straight to the store: it holds no slot and
	// no escrow, so the ledger stays as the batch left it.
	var tasks []task.Task
	if err := a.tasks.EachOfBatch(context.Background(), b.ID, func(tk task.Task) error { tasks = append(tasks, tk); return nil }); err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now()
	var subs []submission.Submission
	for i, tk := range tasks {
		for w := range 10 {
			worker := fmt.Sprintf("w%d", w)
			subs = append(subs, submission.Submission{ID: submission.ID(tk.ID, worker), TaskID: tk.ID, TaskTitle: tk.Title, Pay: tk.Pay,
				Worker: task.Party{ID: worker, Name: worker}, Buyer: tk.Buyer, Details: fmt.Sprintf("line %d, \"quoted\"\nand more", i*10+w),
				Status: submission.StatusRejected, Reason: "no", CreatedAt: now, ReviewedAt: now.Add(time.Minute)})
		}
	}
	for chunk := range slices.Chunk(subs, 500) {
		if err := a.env.Stores.Submissions.InsertMany(context.Background(), chunk); err != nil {
			t.Fatal(err)
		}
	}
	rec := a.call(t, http.MethodGet, "/api/batches/"+b.ID+"/results.csv", buyer.Token, nil)
	if rec.Code != http.StatusOK || !rec.Flushed || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("results: %d, flushed %v, %s", rec.Code, rec.Flushed, rec.Header().Get("Content-Type"))
	}
	records, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"company", "city", "task_id", "submission_id", "worker_id", "status", "submitted_at", "decided_at", "proof"}
	if len(records) != 10_001 || !slices.Equal(records[0], want) {
		t.Fatalf("%d records, header %v", len(records), records[0])
	}
	if r := records[10_000]; r[0] != "Company 999" || r[1] != "City, 999" || r[5] != "rejected" || !strings.Contains(r[8], "\"quoted\"\nand more") {
		t.Errorf("last line = %q", r)
	}
}
