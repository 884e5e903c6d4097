package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/safehttp"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/webhook"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var firstPage = page.Request{Number: 1, Limit: 100}

// subscribe makes an endpoint of the user's at the receiver for events.
func subscribe(t *testing.T, e *apptest.Env, p auth.Principal, r *apptest.Receiver, events ...webhook.EventType) webhook.Endpoint {
	t.Helper()
	ep, err := e.Webhooks.Create(context.Background(), p, webhook.NewEndpoint{URL: r.URL, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	r.SetSecret(ep.Secret)
	return ep
}

func newTask(t *testing.T, e *apptest.Env, buyer auth.Principal, slots int) task.Task {
	t.Helper()
	tk, err := e.Tasks.Create(context.Background(), buyer, task.NewTask{Text: task.Text{Title: "Label photos", Detail: "D", SubmissionInfo: "S"},
		Workers: slots, Pay: 5, CompletionDate: e.Clock.Now().Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func deliverAll(t *testing.T, e *apptest.Env) {
	t.Helper()
	if _, err := e.Webhooks.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// types lists the types of the events received, in order of the events' ids.
func types(got []apptest.Received) []string {
	var out []string
	for _, g := range got {
		out = append(out, g.Type)
	}
	sort.Strings(out)
	return out
}

// TestEveryEventReachesTheReceiverSigned runs the marketplace through every
// event there is and requires each at the receiver once, signed with the
// endpoint's secret, shaped as the contract says.
func TestEveryEventReachesTheReceiverSigned(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 200)
	r := apptest.NewReceiver(t, e.Clock.Now)
	subscribe(t, e, buyer, r, webhook.Events...)
	silent := apptest.NewReceiver(t, e.Clock.Now) // subscribes to nothing that happens
	subscribe(t, e, buyer, silent, webhook.BatchCompleted)

	full := newTask(t, e, buyer, 1)
	sub, err := e.Submissions.Submit(ctx, worker, full.ID, "https://prnt.sc/1") // submission.created, task.full
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.RequestRevision(ctx, buyer, sub.ID, "Crop the screenshot, please."); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Resubmit(ctx, worker, sub.ID, "https://prnt.sc/2"); err != nil { // submission.revised
		t.Fatal(err)
	}
	if _, err := e.Submissions.Approve(ctx, buyer, sub.ID); err != nil { // submission.approved
		t.Fatal(err)
	}
	closing := newTask(t, e, buyer, 2)
	sub2, err := e.Submissions.Submit(ctx, other, closing.ID, "https://prnt.sc/3") // submission.created
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Reject(ctx, buyer, sub2.ID, "This is not the right page."); err != nil { // submission.rejected
		t.Fatal(err)
	}
	if _, err := e.Tasks.CloseEarly(ctx, buyer, closing.ID); err != nil { // task.closed
		t.Fatal(err)
	}
	newTask(t, e, buyer, 1)
	pay, err := e.Payments.Create(ctx, buyer, 150, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Payments.Confirm(ctx, buyer, pay.ID); err != nil { // payment.completed
		t.Fatal(err)
	}
	e.Clock.Advance(73 * time.Hour)
	// task.expired twice: the open task, and the full one, whose one slot
	// was used (the closed one has no slot to refund).
	if n, err := e.Tasks.ExpireDue(ctx); err != nil || n != 2 {
		t.Fatalf("ExpireDue() = %d, %v", n, err)
	}
	deliverAll(t, e)

	got := r.Got()
	want := []string{"payment.completed", "submission.approved", "submission.created", "submission.created", "submission.rejected",
		"submission.revised", "task.closed", "task.expired", "task.expired", "task.full"}
	if diff := cmp.Diff(want, types(got)); diff != "" {
		t.Errorf("events received (-want +got):\n%s", diff)
	}
	for _, g := range got {
		if !g.Valid || g.Status != http.StatusOK {
			t.Errorf("%s: signature valid %v, answered %d", g.Type, g.Valid, g.Status)
		}
		var body struct {
			ID        string          `json:"id"`
			Type      string          `json:"type"`
			CreatedAt time.Time       `json:"created_at"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(g.Body, &body); err != nil || body.ID == "" || body.CreatedAt.IsZero() || len(body.Data) < 2 {
			t.Errorf("%s body %s: %v", g.Type, g.Body, err)
		}
	}
	if s := r.Succeeded(); len(s) != len(want) {
		t.Errorf("%d distinct events succeeded, want %d: %v", len(s), len(want), s)
	}
	if n := len(silent.Got()); n != 0 {
		t.Errorf("an endpoint subscribed to batch.completed only got %d events", n)
	}
}

// TestACrashBetweenSendAndMark: a sender that dies after a post and before
// marking it delivered posts it again once its claim expires, with the same
// event id and body: at least once, and a duplicate only where that
// happened (or the receiver failed), which a receiver that keeps ids
// handles once. Every other event arrives exactly once.
func TestACrashBetweenSendAndMark(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	r := apptest.NewReceiver(t, e.Clock.Now)
	subscribe(t, e, buyer, r, webhook.SubmissionCreated, webhook.SubmissionApproved)
	for range 3 {
		tk := newTask(t, e, buyer, 1)
		sub, err := e.Submissions.Submit(ctx, worker, tk.ID, "proof")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Submissions.Approve(ctx, buyer, sub.ID); err != nil {
			t.Fatal(err)
		}
	}
	crash := errors.New("killed between send and mark")
	var sent atomic.Int32
	e.Webhooks.InjectFailures(func(step string) error {
		if step == "sent" && sent.Add(1) == 2 {
			return crash // the second post reached the receiver; its mark never happens
		}
		return nil
	})
	if _, err := e.Webhooks.Deliver(ctx); !errors.Is(err, crash) {
		t.Fatalf("Deliver() = %v, want the crash", err)
	}
	// A new process on the same database, once the claim has expired.
	e2 := apptest.Build(t, e.DB, e.Clock)
	e.Clock.Advance(6 * time.Minute)
	deliverAll(t, e2)
	e.Clock.Advance(6 * time.Minute)
	deliverAll(t, e2) // nothing is left

	got := r.Got()
	if len(got) != 7 {
		t.Fatalf("%d requests, want the 6 events and the one interrupted sent again", len(got))
	}
	dup := map[string][][]byte{}
	for _, g := range got {
		if !g.Valid {
			t.Errorf("%s: bad signature", g.Type)
		}
		dup[g.EventID] = append(dup[g.EventID], g.Body)
	}
	again := 0
	for id, bodies := range dup {
		if len(bodies) == 2 {
			again++
			if string(bodies[0]) != string(bodies[1]) {
				t.Errorf("event %s sent again with another body:\n%s\n%s", id, bodies[0], bodies[1])
			}
		}
	}
	if len(dup) != 6 || again != 1 {
		t.Errorf("%d events, %d of them twice; want 6 and only the interrupted one", len(dup), again)
	}
	ds, err := storage.NewWebhookStore(e.DB).Due(ctx, e.Clock.Now().Add(48*time.Hour), 100)
	if err != nil || len(ds) != 0 {
		t.Errorf("deliveries still pending: %v, %v", ds, err)
	}
}

// TestFailuresAreRetriedThenTheEndpointIsDisabled: a receiver that fails
// gets the event again with growing delays; one that fails every attempt
// for 24 hours has its endpoint disabled, and its owner is mailed.
func TestFailuresAreRetriedThenTheEndpointIsDisabled(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	flaky, down := apptest.NewReceiver(t, e.Clock.Now), apptest.NewReceiver(t, e.Clock.Now)
	flaky.FailWith(func(_ string, attempt int) int {
		if attempt <= 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	down.FailWith(func(string, int) int { return http.StatusInternalServerError })
	subscribe(t, e, buyer, flaky, webhook.SubmissionCreated)
	gone := subscribe(t, e, buyer, down, webhook.SubmissionCreated)

	tk := newTask(t, e, buyer, 2)
	if _, err := e.Submissions.Submit(ctx, worker, tk.ID, "proof"); err != nil {
		t.Fatal(err)
	}
	var at []time.Duration // when the flaky receiver was reached, after the first
	start := e.Clock.Now()
	for range 24 * 60 * 2 { // every 30 s for a day and a bit
		deliverAll(t, e)
		e.Clock.Advance(30 * time.Second)
	}
	for _, g := range flaky.Got() {
		at = append(at, g.ReceivedAt.Sub(start))
	}
	if want := []time.Duration{0, 30 * time.Second, 90 * time.Second}; !slices.Equal(at, want) {
		t.Errorf("flaky receiver reached at %v, want %v (30 s, then 60 s later)", at, want)
	}
	if s := flaky.Succeeded(); len(s) != 1 {
		t.Errorf("flaky receiver succeeded with %v", s)
	}
	tries := len(down.Got())
	last := down.Got()[tries-1].ReceivedAt.Sub(start)
	if tries < 10 || tries > 16 || last > webhook.RetryFor || last < 20*time.Hour {
		t.Errorf("the receiver that is down was tried %d times, the last %v after the first; want about 14 over 24 hours", tries, last)
	}
	ep, err := e.Webhooks.Get(ctx, buyer, gone.ID)
	if err != nil || ep.Enabled || ep.DisabledReason == "" {
		t.Errorf("endpoint = %+v, %v; want disabled with a reason", ep, err)
	}
	mails, err := e.Stores.Mail.All(ctx)
	if err != nil || len(mails) != 1 || mails[0].Message.To != buyer.UserID+"@example.com" {
		t.Errorf("mail = %+v, %v; want one to the buyer", mails, err)
	}
	// Disabled, it gets nothing more; enabled again, it does.
	if _, err := e.Submissions.Submit(ctx, e.User(t, auth.RoleWorker), tk.ID, "proof 2"); err != nil {
		t.Fatal(err)
	}
	deliverAll(t, e)
	if len(down.Got()) != tries {
		t.Error("a disabled endpoint got an event")
	}
	if _, err := e.Webhooks.Retry(ctx, buyer, firstDelivery(t, e, buyer, gone.ID).ID); !errors.Is(err, webhook.ErrDisabled) {
		t.Errorf("retry on a disabled endpoint: %v, want webhook_disabled", err)
	}
	on := true
	if ep, err := e.Webhooks.Update(ctx, buyer, gone.ID, webhook.Edit{Enabled: &on}); err != nil || !ep.Enabled || ep.Failures != 0 {
		t.Fatalf("enable = %+v, %v", ep, err)
	}
	down.FailWith(nil)
	d, err := e.Webhooks.Retry(ctx, buyer, firstDelivery(t, e, buyer, gone.ID).ID)
	if err != nil || d.Status != webhook.Pending {
		t.Fatalf("Retry() = %+v, %v", d, err)
	}
	deliverAll(t, e)
	if got := down.Got(); got[len(got)-1].Status != http.StatusOK {
		t.Errorf("the retried delivery was answered %d", got[len(got)-1].Status)
	}
}

func firstDelivery(t *testing.T, e *apptest.Env, p auth.Principal, endpointID string) webhook.Delivery {
	t.Helper()
	ds, err := e.Webhooks.Deliveries(context.Background(), p, endpointID, firstPage)
	if err != nil || len(ds.Items) == 0 {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
	return ds.Items[len(ds.Items)-1]
}

// TestSafeByDefault: without WEBHOOKS_ALLOW_PRIVATE an endpoint must be
// https on a public address.
func TestSafeByDefault(t *testing.T) {
	e := apptest.New(t, func(c *app.Config) { c.HookClient = safehttp.New(safehttp.Config{}) })
	buyer := e.User(t, auth.RoleBuyer)
	for _, url := range []string{"http://hooks.example.com/in", "https://127.0.0.1/in", "https://[::1]/in", "https://169.254.169.254/latest",
		"https://10.0.0.8/in", "https://localhost/in"} {
		_, err := e.Webhooks.Create(context.Background(), buyer, webhook.NewEndpoint{URL: url, Events: []webhook.EventType{webhook.TaskFull}})
		if err == nil {
			t.Errorf("endpoint %s was accepted", url)
		}
	}
}

func TestEndpointRules(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, other := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer)
	r := apptest.NewReceiver(t, e.Clock.Now)
	_, err := e.Webhooks.Create(ctx, buyer, webhook.NewEndpoint{URL: "", Events: []webhook.EventType{"message.sent"}})
	if !apperrFields(err, "url", "events") {
		t.Errorf("bad endpoint: %v, want url and events named", err)
	}
	var eps []webhook.Endpoint
	for range webhook.MaxPerUser {
		eps = append(eps, subscribe(t, e, buyer, r, webhook.TaskFull))
	}
	if _, err := e.Webhooks.Create(ctx, buyer, webhook.NewEndpoint{URL: r.URL, Events: []webhook.EventType{webhook.TaskFull}}); !errors.Is(err, webhook.ErrTooMany) {
		t.Errorf("a sixth endpoint: %v, want too_many_webhooks", err)
	}
	if _, err := e.Webhooks.Get(ctx, other, eps[0].ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("another's endpoint: %v, want not found", err)
	}
	if _, err := e.Webhooks.Create(ctx, e.User(t, auth.RoleAdmin), webhook.NewEndpoint{URL: r.URL, Events: webhook.Events}); !errors.Is(err, auth.ErrWrongRole) {
		t.Errorf("an admin's endpoint: %v, want wrong_role", err)
	}
	r.SetSecret(eps[0].Secret)
	d, err := e.Webhooks.Test(ctx, buyer, eps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	deliverAll(t, e)
	if got := r.Got(); len(got) != 1 || got[0].Type != "webhook.test" || !got[0].Valid || got[0].Delivery != d.ID {
		t.Errorf("test delivery = %+v", got)
	}
	if err := e.Webhooks.Delete(ctx, buyer, eps[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Webhooks.Delete(ctx, buyer, eps[0].ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("deleted twice: %v, want not found", err)
	}
}

func apperrFields(err error, fields ...string) bool {
	var ae interface{ Error() string }
	if !errors.As(err, &ae) {
		return false
	}
	for _, f := range fields {
		if !containsField(err, f) {
			return false
		}
	}
	return true
}

// TestTaskFullOncePerFilling: the last free slot reserved fills the task
// (task.full); the worker then submitting into the slot they hold fills
// nothing new; a slot given back and taken again fills it again.
func TestTaskFullOncePerFilling(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	buyer, w1, w2 := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	r := apptest.NewReceiver(t, e.Clock.Now)
	subscribe(t, e, buyer, r, webhook.TaskFull)
	tk := newTask(t, e, buyer, 1)
	if _, err := e.Reservations.Reserve(ctx, w1, tk.ID); err != nil {
		t.Fatal(err)
	}
	sub, err := e.Submissions.Submit(ctx, w1, tk.ID, "proof")
	if err != nil {
		t.Fatal(err)
	}
	deliverAll(t, e)
	if n := len(r.Got()); n != 1 {
		t.Fatalf("%d task.full events after reserving and submitting into the reserved slot, want 1", n)
	}
	if _, err := e.Submissions.Reject(ctx, buyer, sub.ID, "This is not the right page."); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submissions.Submit(ctx, w2, tk.ID, "proof"); err != nil {
		t.Fatal(err)
	}
	deliverAll(t, e)
	if n := len(r.Got()); n != 2 {
		t.Errorf("%d task.full events after the slot was taken again, want 2", n)
	}
}

// TestEndpointsMadeElsewhereAreSeenWithinTheTTL: where other processes
// write (MongoDB), an instance remembers for CacheTTL which users have
// endpoints, so that events to everyone else cost no read; an endpoint made
// through another instance gets this one's events once that time is past.
func TestEndpointsMadeElsewhereAreSeenWithinTheTTL(t *testing.T) {
	shared := func(c *app.Config) { c.SoleWriter = false }
	e := apptest.New(t, shared)
	other := apptest.Build(t, e.DB, e.Clock, shared)
	ctx := context.Background()
	buyer, worker := e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)
	e.Give(t, buyer.UserID, 100)
	submit := func() submission.Submission {
		t.Helper()
		sub, err := e.Submissions.Submit(ctx, worker, newTask(t, e, buyer, 1).ID, "proof")
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	submit() // e learns that the buyer has no endpoint
	r := apptest.NewReceiver(t, e.Clock.Now)
	subscribe(t, other, buyer, r, webhook.SubmissionCreated)
	e.Clock.Advance(webhook.CacheTTL + time.Millisecond)
	sub := submit()
	deliverAll(t, e)

	got := r.Got()
	if len(got) != 1 || !strings.Contains(string(got[0].Body), sub.ID) {
		t.Fatalf("received %d events (%v), want the one of %s", len(got), types(got), sub.ID)
	}
}
