package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/chat"
	"microtask/internal/safehttp"
)

type endpointBody struct {
	ID       string   `json:"id"`
	URL      string   `json:"url"`
	Events   []string `json:"events"`
	Enabled  bool     `json:"enabled"`
	Secret   string   `json:"secret"`
	Failures int      `json:"failures"`
}

type deliveryBody struct {
	ID           string          `json:"id"`
	EventID      string          `json:"event_id"`
	Type         string          `json:"type"`
	Status       string          `json:"status"`
	Attempts     int             `json:"attempts"`
	ResponseCode *int            `json:"response_code"`
	Payload      json.RawMessage `json:"payload"`
}

func (a *testAPI) endpoint(t testing.TB, token string, r *apptest.Receiver, events ...string) endpointBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/webhooks", token, map[string]any{"url": r.URL, "events": events})
	e := decode[endpointBody](t, rec, http.StatusCreated)
	r.SetSecret(e.Secret)
	return e
}

func (a *testAPI) deliverWebhooks(t testing.TB) {
	t.Helper()
	if _, err := a.env.Webhooks.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// wantEventInContract fails unless body is an event as api/openapi.yaml's
// webhooks describe it.
func wantEventInContract(t testing.TB, body []byte) {
	t.Helper()
	var ev struct {
		Type string `json:"type"`
	}
	var v any
	if err := json.Unmarshal(body, &ev); err != nil || json.Unmarshal(body, &v) != nil {
		t.Fatalf("event %s: %v", body, err)
	}
	item := mustContract(t).doc.Webhooks[ev.Type]
	if item == nil || item.Post == nil {
		t.Fatalf("api/openapi.yaml has no webhook %q", ev.Type)
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(v); err != nil {
		t.Errorf("%s event does not match api/openapi.yaml: %v\n%s", ev.Type, err, body)
	}
}

func TestWebhookEventsMatchTheContract(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 500)
	r := apptest.NewReceiver(t, a.clock.Now)
	ep := a.endpoint(t, buyer.Token, r, "submission.created", "submission.revised", "submission.approved", "submission.rejected",
		"task.full", "task.closed", "task.expired", "batch.completed", "payment.completed", "message.received", "contract.milestone_submitted",
		"contract.timesheet_submitted")
	tk := a.postTask(t, buyer.Token, 1, 10)
	sub := a.submit(t, worker.Token, tk.ID)
	a.sent(t, worker.Token, buyer.User.ID, "Which page did you mean?")
	a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/request-revision", buyer.Token, map[string]string{"reason": "Please crop the screenshot."})
	a.call(t, http.MethodPut, "/api/submissions/"+sub.ID, worker.Token, map[string]string{"submission_details": "https://prnt.sc/cropped"})
	a.call(t, http.MethodPut, "/api/submissions/"+sub.ID+"/reject", buyer.Token, map[string]string{"reason": "Still not the right page."})
	closing := a.postTask(t, buyer.Token, 2, 10)
	a.call(t, http.MethodPost, "/api/tasks/"+closing.ID+"/close", buyer.Token, nil)
	pay := decode[struct {
		PaymentID string `json:"payment_id"`
	}](t, a.call(t, http.MethodPost, "/api/payments/create", buyer.Token, map[string]int{"coins": 150}), http.StatusCreated)
	a.call(t, http.MethodPost, "/api/payments/"+pay.PaymentID+"/confirm", buyer.Token, nil)
	c := a.contracted(t, buyer, worker)
	decode[milestoneBody](t, a.call(t, http.MethodPost, milestonePath(c, 0, "/submit"), worker.Token,
		map[string]any{"message": "Done.", "attachments": []string{"https://example.com/d.png"}}), http.StatusOK)
	hc := a.hourlyContracted(t, buyer, worker)
	decode[weekBody](t, a.call(t, http.MethodPost, "/api/contracts/"+hc.ID+"/timesheets", worker.Token,
		map[string]any{"week_start": hc.Weeks[0].WeekStart.Format(time.DateOnly), "hours": 4, "memo": "Mail."}), http.StatusCreated)
	decode[deliveryBody](t, a.call(t, http.MethodPost, "/api/webhooks/"+ep.ID+"/test", buyer.Token, nil), http.StatusAccepted)
	a.deliverWebhooks(t)

	seen := map[string]bool{}
	for _, g := range r.Got() {
		if !g.Valid || g.Status != http.StatusOK {
			t.Errorf("%s: valid %v, status %d", g.Type, g.Valid, g.Status)
		}
		wantEventInContract(t, g.Body)
		seen[g.Type] = true
	}
	for _, typ := range []string{"submission.created", "submission.revised", "submission.rejected", "task.full", "task.closed",
		"payment.completed", "message.received", "contract.milestone_submitted", "contract.timesheet_submitted", "webhook.test"} {
		if !seen[typ] {
			t.Errorf("no %s event received (got %v)", typ, seen)
		}
	}
	list := decode[pageOf[deliveryBody]](t, a.call(t, http.MethodGet, "/api/webhooks/"+ep.ID+"/deliveries", buyer.Token, nil), http.StatusOK)
	if list.Total != int64(len(r.Got())) {
		t.Errorf("%d deliveries listed, %d received", list.Total, len(r.Got()))
	}
	for _, d := range list.Items {
		if d.Status != "delivered" || d.Attempts != 1 || d.ResponseCode == nil || *d.ResponseCode != 200 {
			t.Errorf("delivery %+v", d)
		}
		wantEventInContract(t, d.Payload)
	}
}

func TestWebhookEndpoints(t *testing.T) {
	a := newAPI(t)
	buyer, other, worker, admin := a.register(t, "buyer"), a.register(t, "buyer"), a.register(t, "worker"), a.admin(t)
	r := apptest.NewReceiver(t, a.clock.Now)
	rec := a.call(t, http.MethodPost, "/api/webhooks", buyer.Token, map[string]any{"url": r.URL, "events": []string{"task.full"}})
	ep := decode[endpointBody](t, rec, http.StatusCreated)
	if !strings.HasPrefix(ep.Secret, "whsec_") || rec.Header().Get("Location") != "/api/webhooks/"+ep.ID || !ep.Enabled {
		t.Fatalf("created %+v at %q", ep, rec.Header().Get("Location"))
	}
	got := decode[endpointBody](t, a.call(t, http.MethodGet, "/api/webhooks/"+ep.ID, buyer.Token, nil), http.StatusOK)
	if got.Secret != "" || strings.Contains(a.call(t, http.MethodGet, "/api/webhooks", buyer.Token, nil).Body.String(), ep.Secret) {
		t.Error("the secret is shown again")
	}
	upd := decode[endpointBody](t, a.call(t, http.MethodPatch, "/api/webhooks/"+ep.ID, buyer.Token,
		map[string]any{"events": []string{"task.full", "batch.completed"}, "enabled": false}), http.StatusOK)
	if upd.Enabled || len(upd.Events) != 2 || upd.URL != r.URL {
		t.Errorf("updated %+v", upd)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/webhooks/"+ep.ID+"/test", buyer.Token, nil), http.StatusConflict, "webhook_disabled")
	a.endpoint(t, worker.Token, r, "payment.completed") // a worker may have endpoints too

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"an admin", http.MethodPost, "/api/webhooks", admin.Token, map[string]any{"url": r.URL, "events": []string{"task.full"}},
			http.StatusForbidden, "wrong_role"},
		{"bad fields", http.MethodPost, "/api/webhooks", buyer.Token, map[string]any{"url": "ftp://example.com/x", "events": []string{"message.sent"}},
			http.StatusUnprocessableEntity, "invalid_fields"},
		{"no events", http.MethodPatch, "/api/webhooks/" + ep.ID, buyer.Token, map[string]any{"events": []string{}},
			http.StatusUnprocessableEntity, "invalid_fields"},
		{"another's", http.MethodGet, "/api/webhooks/" + ep.ID, other.Token, nil, http.StatusNotFound, "webhook_not_found"},
		{"another's change", http.MethodPatch, "/api/webhooks/" + ep.ID, other.Token, map[string]any{"enabled": true},
			http.StatusNotFound, "webhook_not_found"},
		{"another's deliveries", http.MethodGet, "/api/webhooks/" + ep.ID + "/deliveries", other.Token, nil, http.StatusNotFound, "webhook_not_found"},
		{"another's test", http.MethodPost, "/api/webhooks/" + ep.ID + "/test", other.Token, nil, http.StatusNotFound, "webhook_not_found"},
		{"another's delete", http.MethodDelete, "/api/webhooks/" + ep.ID, other.Token, nil, http.StatusNotFound, "webhook_not_found"},
		{"missing delivery", http.MethodPost, "/api/webhook-deliveries/nope/retry", buyer.Token, nil, http.StatusNotFound, "webhook_delivery_not_found"},
		{"no token", http.MethodGet, "/api/webhooks", "", nil, http.StatusUnauthorized, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.code)
		})
	}
	for range 4 {
		a.endpoint(t, buyer.Token, r, "task.full")
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/webhooks", buyer.Token, map[string]any{"url": r.URL, "events": []string{"task.full"}}),
		http.StatusConflict, "too_many_webhooks")
	if rec := a.call(t, http.MethodDelete, "/api/webhooks/"+ep.ID, buyer.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d", rec.Code)
	}
	a.endpoint(t, buyer.Token, r, "task.full") // room again

	// Keys: with the scope, and without it.
	with, without := a.newKey(t, buyer.Token, "webhooks").Key, a.newKey(t, buyer.Token, "batches").Key
	if rec := a.call(t, http.MethodGet, "/api/webhooks", with, nil); rec.Code != http.StatusOK {
		t.Errorf("key with the scope: %d", rec.Code)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/webhooks", without, nil), http.StatusForbidden, "insufficient_scope")
}

func TestWebhookDeliveryRetry(t *testing.T) {
	a := newAPI(t)
	buyer, other := a.register(t, "buyer"), a.register(t, "buyer")
	r := apptest.NewReceiver(t, a.clock.Now)
	r.FailWith(func(_ string, attempt int) int {
		if attempt == 1 {
			return http.StatusBadGateway
		}
		return 0
	})
	ep := a.endpoint(t, buyer.Token, r, "task.full")
	d := decode[deliveryBody](t, a.call(t, http.MethodPost, "/api/webhooks/"+ep.ID+"/test", buyer.Token, nil), http.StatusAccepted)
	a.deliverWebhooks(t)
	list := decode[pageOf[deliveryBody]](t, a.call(t, http.MethodGet, "/api/webhooks/"+ep.ID+"/deliveries", buyer.Token, nil), http.StatusOK)
	if got := list.Items[0]; got.Status != "pending" || got.Attempts != 1 || got.ResponseCode == nil || *got.ResponseCode != http.StatusBadGateway {
		t.Errorf("after a failed attempt: %+v", got)
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/webhook-deliveries/"+d.ID+"/retry", other.Token, nil), http.StatusNotFound, "webhook_delivery_not_found")
	decode[deliveryBody](t, a.call(t, http.MethodPost, "/api/webhook-deliveries/"+d.ID+"/retry", buyer.Token, nil), http.StatusAccepted)
	a.deliverWebhooks(t)
	list = decode[pageOf[deliveryBody]](t, a.call(t, http.MethodGet, "/api/webhooks/"+ep.ID+"/deliveries", buyer.Token, nil), http.StatusOK)
	if got := list.Items[0]; got.Status != "delivered" || got.Attempts != 2 {
		t.Errorf("after the retry: %+v", got)
	}
}

// TestWebhookURLsAreSafeByDefault: without WEBHOOKS_ALLOW_PRIVATE an
// endpoint must be https on a public address.
func TestWebhookURLsAreSafeByDefault(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, services: func(c *app.Config) { c.HookClient = safehttp.New(safehttp.Config{}) }})
	buyer := a.register(t, "buyer")
	for _, url := range []string{"http://hooks.example.com/x", "https://127.0.0.1:8443/x", "https://169.254.169.254/latest", "https://[fd00::1]/x"} {
		p := wantProblem(t, a.call(t, http.MethodPost, "/api/webhooks", buyer.Token, map[string]any{"url": url, "events": []string{"task.full"}}),
			http.StatusUnprocessableEntity, "invalid_fields")
		wantFieldError(t, p, "url")
	}
}

// TestMessageReceivedEvent: a chat message to a user whose endpoint takes
// message.received is delivered to it once, signed; the sender's own
// endpoint gets nothing. A message whose process died after storing it and
// before its event (the mark written with the message stays) gets its
// event from the background round, once however often the round runs.
func TestMessageReceivedEvent(t *testing.T) {
	a := newAPI(t)
	buyer, worker := a.register(t, "buyer"), a.register(t, "worker")
	a.grant(t, buyer.User.ID, 100)
	r, mine := apptest.NewReceiver(t, a.clock.Now), apptest.NewReceiver(t, a.clock.Now)
	a.endpoint(t, buyer.Token, r, "message.received")
	a.endpoint(t, worker.Token, mine, "message.received")
	tk := a.postTask(t, buyer.Token, 1, 10)
	a.submit(t, worker.Token, tk.ID)
	m := a.sent(t, worker.Token, buyer.User.ID, "Which page did you mean?")
	a.deliverWebhooks(t)
	got := r.Got()
	if len(got) != 1 || !got[0].Valid || got[0].Type != "message.received" || !strings.Contains(string(got[0].Body), m.ID) ||
		!strings.Contains(string(got[0].Body), "Which page did you mean?") {
		t.Fatalf("received %+v, want one signed message.received of %s", got, m.ID)
	}
	wantEventInContract(t, got[0].Body)
	if n := len(mine.Got()); n != 0 {
		t.Errorf("the sender's endpoint got %d events", n)
	}

	// The process died between the message and its event.
	ctx := context.Background()
	now := a.clock.Now().UTC().Truncate(time.Millisecond)
	lost := chat.Message{ID: "0000000000000000000000aa", ConversationID: chat.PairID(buyer.User.ID, worker.User.ID), From: worker.User.ID,
		To: buyer.User.ID, Text: "Sent before the crash", CreatedAt: now, EventPending: true}
	if err := a.env.Stores.Chat.InsertMessage(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if n, err := a.env.Chat.EmitPending(ctx); err != nil || n != 0 {
		t.Fatalf("EmitPending() within the grace = %d, %v; want 0 (Send stores it itself)", n, err)
	}
	a.clock.Advance(chat.EventGrace + time.Second)
	for _, want := range []int{1, 0} { // the round again finds nothing owed
		if n, err := a.env.Chat.EmitPending(ctx); err != nil || n != want {
			t.Fatalf("EmitPending() = %d, %v; want %d", n, err, want)
		}
	}
	a.deliverWebhooks(t)
	ids := map[string]int{}
	for _, g := range r.Got() {
		if !g.Valid {
			t.Errorf("invalid signature on %s", g.Body)
		}
		ids[g.EventID]++
	}
	if len(r.Got()) != 2 || !strings.Contains(string(r.Got()[1].Body), lost.ID) {
		t.Errorf("received %d events (%v), want the lost message's once more", len(r.Got()), ids)
	}
}
