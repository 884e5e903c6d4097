package crashtest_test

import (
	"context"
	"testing"

	"microtask/internal/page"
	"microtask/internal/storage"
	"microtask/internal/submission"
	"microtask/internal/webhook"
)

// subscribed gives the buyer an endpoint taking every event. Nothing posts
// in these scenarios: what counts is the outbox.
func subscribed(t *testing.T, w *world) {
	t.Helper()
	if _, err := w.Webhooks.Create(context.Background(), buyer,
		webhook.NewEndpoint{URL: "http://127.0.0.1:9/hooks", Events: webhook.Events}); err != nil {
		t.Fatal(err)
	}
}

// events fails unless the buyer's endpoint has exactly these deliveries,
// by type: stored by the operation's steps, once however often they ran.
func (w *world) events(t *testing.T, want map[webhook.EventType]int) {
	t.Helper()
	ctx := context.Background()
	eps, err := w.Webhooks.List(ctx, buyer, page.Request{Number: 1, Limit: 10})
	if err != nil || len(eps.Items) != 1 {
		t.Fatalf("endpoints = %+v, %v", eps, err)
	}
	ds, _, err := storage.NewWebhookStore(w.DB).Deliveries(ctx, eps.Items[0].ID, page.Request{Number: 1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[webhook.EventType]int{}
	for _, d := range ds {
		got[d.Type]++
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s deliveries = %d, want %d (all: %v)", typ, got[typ], n, got)
		}
	}
	if len(ds) != sum(want) {
		t.Errorf("deliveries = %v, want %v", got, want)
	}
}

func sum(m map[webhook.EventType]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// webhookScenarios interrupt the operations that tell webhooks at every
// step: each event is in the outbox exactly once after recovery.
var webhookScenarios = []scenario{
	{
		name: "submit and fill the task, told by webhook",
		before: func(t *testing.T, w *world) {
			subscribed(t, w)
			w.newTask(t, 1)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Submit(ctx, worker, w.onlyTaskQuiet(), "proof")
			return err
		},
		check: func(t *testing.T, w *world) {
			w.events(t, map[webhook.EventType]int{webhook.SubmissionCreated: 1, webhook.TaskFull: 1})
		},
	},
	{
		name: "approve, told by webhook",
		before: func(t *testing.T, w *world) {
			submitted(t, w)
			subscribed(t, w)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Approve(ctx, buyer, w.onlySubmissionQuiet())
			return err
		},
		check: func(t *testing.T, w *world) { w.events(t, map[webhook.EventType]int{webhook.SubmissionApproved: 1}) },
	},
	{
		name: "close a task, told by webhook",
		before: func(t *testing.T, w *world) {
			subscribed(t, w)
			w.newTask(t, 2)
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Tasks.CloseEarly(ctx, buyer, w.onlyTaskQuiet())
			return err
		},
		check: func(t *testing.T, w *world) { w.events(t, map[webhook.EventType]int{webhook.TaskClosed: 1}) },
	},
	{
		name: "confirm a purchase, told by webhook",
		before: func(t *testing.T, w *world) {
			subscribed(t, w)
			if _, err := w.Payments.Create(context.Background(), buyer, 150, ""); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Payments.Confirm(ctx, buyer, w.onlyPayment())
			return err
		},
		check: func(t *testing.T, w *world) { w.events(t, map[webhook.EventType]int{webhook.PaymentCompleted: 1}) },
	},
	{
		// A revision is an operation since webhooks tell of it: the
		// submission, its buyer's notification and the event change
		// together.
		name: "revise a submission",
		before: func(t *testing.T, w *world) {
			submitted(t, w)
			subscribed(t, w)
			if _, err := w.Submissions.RequestRevision(context.Background(), buyer, w.onlySubmissionQuiet(), "Crop the screenshot, please."); err != nil {
				t.Fatal(err)
			}
		},
		action: func(ctx context.Context, w *world) error {
			_, err := w.Submissions.Resubmit(ctx, worker, w.onlySubmissionQuiet(), "better proof")
			return err
		},
		check: func(t *testing.T, w *world) {
			sub := w.onlySubmission(t)
			if sub.Status != submission.StatusPending || sub.Details != "better proof" || !sub.RevisionDeadline.IsZero() {
				t.Errorf("submission %+v", sub)
			}
			if w.notified(t, buyer.UserID) != 2 { // the submission, the revision
				t.Errorf("buyer notified %d times, want 2", w.notified(t, buyer.UserID))
			}
			w.events(t, map[webhook.EventType]int{webhook.SubmissionRevised: 1})
		},
	},
}
