// Package webhook tells requesters' own systems what happens to their work:
// endpoints (URLs) that subscribe to events, and deliveries of each event
// to each endpoint, signed like Stripe's webhooks.
//
// A delivery is stored in an outbox in the database by the step of the
// operation that makes the change (its Settle), with an id derived from
// the operation's, so that it is never lost on a crash, never stored
// twice, and never stored for a change that did not happen. A loop in
// every instance sends what is due: it claims a delivery (one conditional
// write, which also waits for the disk, so that what it sends is durable),
// posts it, and marks the outcome; failures are retried with growing
// delays for 24 hours, and an endpoint that failed all that time is
// disabled and its owner told by email.
//
// Delivery is at least once: a process that dies after a post and before
// its mark posts it again once its claim expires, with the same event id
// and body, as a receiver that failed gets it again. Receivers keep the
// ids they have handled (Stripe asks the same).
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/user"
)

// EventType is a kind of event an endpoint may subscribe to.
type EventType string

// The events. contract.milestone_submitted and message.received join them
// with the contracts and the conversations that make them.
const (
	SubmissionCreated  EventType = "submission.created"
	SubmissionRevised  EventType = "submission.revised"
	SubmissionApproved EventType = "submission.approved"
	SubmissionRejected EventType = "submission.rejected"
	TaskFull           EventType = "task.full"
	TaskClosed         EventType = "task.closed"
	TaskExpired        EventType = "task.expired"
	BatchCompleted     EventType = "batch.completed"
	PaymentCompleted   EventType = "payment.completed"
	MessageReceived    EventType = "message.received"
	// MilestoneSubmitted tells a contract's buyer that its worker
	// submitted a milestone for review.
	MilestoneSubmitted EventType = "contract.milestone_submitted"
	// TimesheetSubmitted tells an hourly contract's buyer that its worker
	// logged a week's hours. Not contract.milestone_submitted: a
	// timesheet carries hours, a week and what approving it pays, is
	// approved elsewhere (PUT /timesheets/{id}/approve) and on another
	// clock (5 days, not MILESTONE_AUTO_RELEASE); a consumer of milestones
	// would read it wrong.
	TimesheetSubmitted EventType = "contract.timesheet_submitted"
	// Test is the event POST /webhooks/{id}/test sends; no endpoint
	// subscribes to it.
	Test EventType = "webhook.test"
)

// Events lists the events endpoints may subscribe to.
var Events = []EventType{SubmissionCreated, SubmissionRevised, SubmissionApproved, SubmissionRejected, TaskFull, TaskClosed, TaskExpired,
	BatchCompleted, PaymentCompleted, MessageReceived, MilestoneSubmitted, TimesheetSubmitted}

// Endpoint is a URL of a user's that events are posted to.
type Endpoint struct {
	ID     string
	UserID string
	URL    string
	Events []EventType
	// Secret signs the deliveries (Sign); shown to the user once, when the
	// endpoint is made.
	Secret  string
	Enabled bool
	// Failures counts the failed attempts since the last delivered one.
	Failures       int
	LastSuccessAt  time.Time
	DisabledAt     time.Time // zero while enabled
	DisabledReason string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscribes reports whether the endpoint takes events of type t.
func (e Endpoint) Subscribes(t EventType) bool {
	for _, s := range e.Events {
		if s == t {
			return true
		}
	}
	return false
}

// Status is where a delivery is.
type Status string

// The statuses of a delivery.
const (
	Pending   Status = "pending"   // due at NextAt (or being sent)
	Delivered Status = "delivered" // the endpoint answered 2xx
	Failed    Status = "failed"    // given up: past its deadline, or its endpoint disabled or deleted
)

// Delivery is one event for one endpoint.
type Delivery struct {
	ID         string
	EndpointID string
	UserID     string
	EventID    string
	Type       EventType
	Body       []byte // the JSON posted, the same at every attempt
	Status     Status
	Attempts   int
	NextAt     time.Time // while pending
	Deadline   time.Time // no retry is due after it
	LastCode   int       // the HTTP status of the last answer; 0: none came
	LastError  string
	CreatedAt  time.Time
	FinishedAt time.Time // when delivered or given up
}

// Event is one thing that happened, as delivered: Data is one of the
// *Data types of this package.
type Event struct {
	ID   string
	Type EventType
	At   time.Time
	Data any
}

// SubmissionData is the data of the submission.* events.
type SubmissionData struct {
	ID         string
	TaskID     string
	TaskTitle  string
	WorkerID   string
	Status     string
	Details    string
	Reason     string
	Pay        money.Coins
	CreatedAt  time.Time
	ReviewedAt time.Time // zero while not reviewed
}

// TaskData is the data of the task.* events.
type TaskData struct {
	ID             string
	Title          string
	Status         string
	BatchID        string
	OpenSlots      int
	Pending        int // submissions awaiting review
	Pay            money.Coins
	CompletionDate time.Time
}

// BatchData is the data of batch.completed.
type BatchData struct {
	ID          string
	Name        string
	Tasks       int
	Approved    int64
	Rejected    int64
	Paid        money.Coins
	Refunded    money.Coins
	CompletedAt time.Time
}

// PaymentData is the data of payment.completed.
type PaymentData struct {
	ID     string
	Coins  money.Coins
	Amount money.Cents
	PaidAt time.Time
}

// MessageData is the data of message.received: a chat message to the
// endpoint's owner.
type MessageData struct {
	ID             string
	ConversationID string
	FromID         string
	Text           string
	AboutType      string // "" when it is about nothing
	AboutID        string
	Attachments    []string
	CreatedAt      time.Time
}

// MilestoneData is the data of contract.milestone_submitted.
type MilestoneData struct {
	ID          string
	ContractID  string
	JobTitle    string
	Title       string
	Coins       money.Coins
	Status      string
	Message     string
	Attachments []string
	WorkerID    string
	SubmittedAt time.Time
}

// TimesheetData is the data of contract.timesheet_submitted: a week's
// timesheet in its buyer's review.
type TimesheetData struct {
	ID          string // the week's (PUT /timesheets/{id}/approve)
	ContractID  string
	JobTitle    string
	WeekStart   time.Time
	Hours       int
	Memo        string
	Pay         money.Coins // what approving it pays the worker: hours × rate
	WeekCoins   money.Coins // what the week holds in escrow; the rest goes back to the buyer
	WorkerID    string
	SubmittedAt time.Time
	ApproveAt   time.Time // when the job approves it if the buyer does nothing
}

// TestData is the data of webhook.test.
type TestData struct {
	EndpointID string
}

// Limits.
const (
	MaxPerUser = 5
	MaxURLLen  = 2048
	// RetryFor is how long a delivery is retried.
	RetryFor = 24 * time.Hour
	// claimFor keeps a claimed delivery out of Due while it is posted:
	// longer than a round of posts may take (10 s each, a few at a time).
	claimFor = 5 * time.Minute
	// keepFor is how long a delivered or failed delivery stays in the
	// history.
	keepFor = 30 * 24 * time.Hour
)

// Backoff is the wait after the n-th failed attempt: 30 s, doubling, at
// most 4 h; about 14 attempts in RetryFor.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 4*time.Hour; i++ {
		d *= 2
	}
	return min(d, 4*time.Hour)
}

// Errors.
var (
	ErrNotFound         = apperr.New(apperr.NotFound, "webhook_not_found", "no such webhook endpoint among yours")
	ErrDeliveryNotFound = apperr.New(apperr.NotFound, "webhook_delivery_not_found", "no such webhook delivery among yours")
	ErrTooMany          = apperr.New(apperr.Conflict, "too_many_webhooks", "you have 5 webhook endpoints already; delete one first")
	ErrDisabled         = apperr.New(apperr.Conflict, "webhook_disabled",
		"the webhook endpoint is disabled; enable it (PATCH {\"enabled\": true}) first")
)

// SignatureHeader is the header that carries a delivery's signature.
const SignatureHeader = "Microtask-Signature"

// Sign returns the signature header of body sent at t with secret:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the
// secret>", as Stripe signs its webhooks.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ErrBadSignature is what Verify returns for a signature that does not
// hold.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a signature header as a receiver should: one of its v1
// values is the HMAC of its t and the body, and t is within tolerance of
// now (against replays).
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance", ErrBadSignature)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// Store persists endpoints and deliveries. storage.WebhookStore implements
// it.
type Store interface {
	InsertEndpoint(ctx context.Context, e Endpoint) error
	// Endpoint returns an endpoint. ErrNotFound if none.
	Endpoint(ctx context.Context, id string) (Endpoint, error)
	// Endpoints returns a page of the user's endpoints, newest first.
	Endpoints(ctx context.Context, userID string, p page.Request) ([]Endpoint, int64, error)
	// Enabled returns the user's enabled endpoints.
	Enabled(ctx context.Context, userID string) ([]Endpoint, error)
	// Owners returns the ids of the users with an enabled endpoint, each
	// once.
	Owners(ctx context.Context) ([]string, error)
	CountEndpoints(ctx context.Context, userID string) (int64, error)
	// UpdateEndpoint stores the URL, events and enabled state of e (with
	// its failures and disabled fields). ErrNotFound if none.
	UpdateEndpoint(ctx context.Context, e Endpoint) error
	// DeleteEndpoint deletes the user's endpoint with its deliveries.
	// False if the user has no such endpoint.
	DeleteEndpoint(ctx context.Context, userID, id string) (bool, error)
	// Succeeded records a delivered attempt: no failures since, at.
	Succeeded(ctx context.Context, endpointID string, at time.Time) error
	// FailedAttempt counts a failed attempt.
	FailedAttempt(ctx context.Context, endpointID string) error
	// Disable disables an enabled endpoint. False if it was not enabled.
	Disable(ctx context.Context, endpointID, reason string, at time.Time) (bool, error)

	// Enqueue stores deliveries; one whose ID is stored already is left
	// as it is.
	Enqueue(ctx context.Context, ds []Delivery) error
	// Delivery returns a delivery. ErrDeliveryNotFound if none.
	Delivery(ctx context.Context, id string) (Delivery, error)
	// Deliveries returns a page of an endpoint's deliveries, newest first.
	Deliveries(ctx context.Context, endpointID string, p page.Request) ([]Delivery, int64, error)
	// Due returns up to limit pending deliveries due at now, the oldest
	// due first.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// Claim takes attempt attempts+1 of a pending delivery still at
	// attempts, due again only at until. False if another took it.
	Claim(ctx context.Context, id string, attempts int, until time.Time) (bool, error)
	// Finish ends a delivery's attempt: delivered, or failed for good,
	// with the last answer's status and error, at.
	Finish(ctx context.Context, id string, to Status, code int, lastError string, at time.Time) error
	// Retry records a failed attempt of a pending delivery, due again at
	// next.
	Retry(ctx context.Context, id string, next time.Time, code int, lastError string) error
	// Resend makes a delivery pending again, due at now, retried until
	// deadline.
	Resend(ctx context.Context, id string, now, deadline time.Time) error
	// FailPending gives up the endpoint's pending deliveries, with reason.
	FailPending(ctx context.Context, endpointID, reason string, at time.Time) error
	// Forget deletes the deliveries delivered or failed before.
	Forget(ctx context.Context, before time.Time) (int64, error)
}

// Encoder turns an event into the JSON body posted; httpapi's EventEncoder
// implements it, beside the API's other JSON.
type Encoder interface {
	Encode(e Event) ([]byte, error)
}

// Sender checks endpoint URLs and posts to them (safehttp, through the
// wiring). Check's error message is shown to the user.
type Sender interface {
	Check(ctx context.Context, url string) error
	// Post posts body and returns the answer's status; an error when no
	// answer came.
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error)
}

// Mailer queues the email that tells an owner their endpoint was
// disabled, once per id; mail.Outbox implements it.
type Mailer interface {
	MailOnce(ctx context.Context, id, to, subject, text string) error
}

// Users reads users, for their email; user.Service implements it.
type Users interface {
	Get(ctx context.Context, id string) (user.User, error)
}
