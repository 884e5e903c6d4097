package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"microtask/internal/page"
	"microtask/internal/webhook"
)

// createWebhookRequest is the body of POST /api/webhooks; the webhook
// service checks it, every field at once.
type createWebhookRequest struct {
	URL    string              `json:"url"`
	Events []webhook.EventType `json:"events"`
}

// editWebhookRequest is the body of PATCH /api/webhooks/{id}: the fields
// it has change.
type editWebhookRequest struct {
	URL     *string              `json:"url"`
	Events  *[]webhook.EventType `json:"events"`
	Enabled *bool                `json:"enabled"`
}

type endpointResponse struct {
	ID             string              `json:"id"`
	URL            string              `json:"url"`
	Events         []webhook.EventType `json:"events"`
	Enabled        bool                `json:"enabled"`
	Failures       int                 `json:"failures"`
	DisabledAt     *time.Time          `json:"disabled_at"`
	DisabledReason string              `json:"disabled_reason"`
	CreatedAt      time.Time           `json:"created_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
}

// createdEndpointResponse is a new endpoint, with its signing secret: the
// only time it is shown.
type createdEndpointResponse struct {
	endpointResponse
	Secret string `json:"secret"`
}

func toEndpointResponse(e webhook.Endpoint) endpointResponse {
	res := endpointResponse{ID: e.ID, URL: e.URL, Events: e.Events, Enabled: e.Enabled, Failures: e.Failures,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if res.Events == nil {
		res.Events = []webhook.EventType{}
	}
	if !e.DisabledAt.IsZero() {
		at := e.DisabledAt.UTC()
		res.DisabledAt = &at
	}
	return res
}

type deliveryResponse struct {
	ID         string          `json:"id"`
	EndpointID string          `json:"endpoint_id"`
	EventID    string          `json:"event_id"`
	Type       string          `json:"type"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	LastCode   *int            `json:"response_code"`
	LastError  string          `json:"last_error"`
	NextTryAt  *time.Time      `json:"next_try_at"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Payload    json.RawMessage `json:"payload"`
}

func toDeliveryResponse(d webhook.Delivery) deliveryResponse {
	res := deliveryResponse{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, Type: string(d.Type), Status: string(d.Status),
		Attempts: d.Attempts, LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(), Payload: json.RawMessage(d.Body)}
	if d.LastCode != 0 {
		code := d.LastCode
		res.LastCode = &code
	}
	if d.Status == webhook.Pending && !d.NextAt.IsZero() {
		at := d.NextAt.UTC()
		res.NextTryAt = &at
	}
	if !d.FinishedAt.IsZero() {
		at := d.FinishedAt.UTC()
		res.FinishedAt = &at
	}
	return res
}

// handleWebhookCreate handles POST /api/webhooks.
func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	var req createWebhookRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	e, err := s.webhooks.Create(r.Context(), principal(r), webhook.NewEndpoint{URL: req.URL, Events: req.Events})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/webhooks/"+e.ID)
	return writeJSON(w, http.StatusCreated, createdEndpointResponse{endpointResponse: toEndpointResponse(e), Secret: e.Secret})
}

// handleWebhookList handles GET /api/webhooks.
func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[webhook.Endpoint], error) {
		return s.webhooks.List(r.Context(), principal(r), p)
	}, toEndpointResponse)
}

// handleWebhookGet handles GET /api/webhooks/{id}.
func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request) error {
	e, err := s.webhooks.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toEndpointResponse(e))
}

// handleWebhookUpdate handles PATCH /api/webhooks/{id}.
func (s *Server) handleWebhookUpdate(w http.ResponseWriter, r *http.Request) error {
	var req editWebhookRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	e, err := s.webhooks.Update(r.Context(), principal(r), param(r, "id"), webhook.Edit{URL: req.URL, Events: req.Events, Enabled: req.Enabled})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toEndpointResponse(e))
}

// handleWebhookDelete handles DELETE /api/webhooks/{id}.
func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooks.Delete(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleWebhookTest handles POST /api/webhooks/{id}/test: 202, the
// delivery queued.
func (s *Server) handleWebhookTest(w http.ResponseWriter, r *http.Request) error {
	d, err := s.webhooks.Test(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, toDeliveryResponse(d))
}

// handleWebhookDeliveries handles GET /api/webhooks/{id}/deliveries.
func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[webhook.Delivery], error) {
		return s.webhooks.Deliveries(r.Context(), principal(r), param(r, "id"), p)
	}, toDeliveryResponse)
}

// handleWebhookRetry handles POST /api/webhook-deliveries/{id}/retry: 202,
// the delivery due again at once.
func (s *Server) handleWebhookRetry(w http.ResponseWriter, r *http.Request) error {
	d, err := s.webhooks.Retry(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, toDeliveryResponse(d))
}

// EventEncoder writes webhook events as the JSON their endpoints receive:
// {id, type, created_at, data}, data shaped by the event's type as
// api/openapi.yaml's webhooks say. webhook.Service stores what it writes.
type EventEncoder struct{}

type eventBody struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      any       `json:"data"`
}

type submissionEventData struct {
	ID            string     `json:"id"`
	TaskID        string     `json:"task_id"`
	TaskTitle     string     `json:"task_title"`
	WorkerID      string     `json:"worker_id"`
	Status        string     `json:"status"`
	Details       string     `json:"submission_details"`
	Reason        string     `json:"reason"`
	PayableAmount int64      `json:"payable_amount"`
	CreatedAt     time.Time  `json:"created_at"`
	ReviewedAt    *time.Time `json:"reviewed_at"`
}

type taskEventData struct {
	ID                 string    `json:"id"`
	Title              string    `json:"task_title"`
	Status             string    `json:"status"`
	BatchID            *string   `json:"batch_id"`
	RequiredWorkers    int       `json:"required_workers"`
	PendingSubmissions int       `json:"pending_submissions"`
	PayableAmount      int64     `json:"payable_amount"`
	CompletionDate     time.Time `json:"completion_date"`
}

type batchEventData struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Tasks         int       `json:"tasks"`
	Approved      int64     `json:"approved"`
	Rejected      int64     `json:"rejected"`
	CoinsPaid     int64     `json:"coins_paid"`
	CoinsRefunded int64     `json:"coins_refunded"`
	CompletedAt   time.Time `json:"completed_at"`
}

type paymentEventData struct {
	ID          string    `json:"id"`
	Coins       int64     `json:"coins"`
	AmountCents int64     `json:"amount_cents"`
	PaidAt      time.Time `json:"paid_at"`
}

type messageEventData struct {
	ID             string           `json:"id"`
	ConversationID string           `json:"conversation_id"`
	FromID         string           `json:"from_id"`
	Text           string           `json:"text"`
	About          *messageAboutRef `json:"about"`
	Attachments    []string         `json:"attachments"`
	CreatedAt      time.Time        `json:"created_at"`
}

type messageAboutRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type milestoneEventData struct {
	ID          string    `json:"id"`
	ContractID  string    `json:"contract_id"`
	JobTitle    string    `json:"job_title"`
	Title       string    `json:"title"`
	Coins       int64     `json:"coins"`
	Status      string    `json:"status"`
	Message     string    `json:"message"`
	Attachments []string  `json:"attachments"`
	WorkerID    string    `json:"worker_id"`
	SubmittedAt time.Time `json:"submitted_at"`
}

type timesheetEventData struct {
	ID          string    `json:"id"`
	ContractID  string    `json:"contract_id"`
	JobTitle    string    `json:"job_title"`
	WeekStart   string    `json:"week_start"` // YYYY-MM-DD, as logged
	Hours       int       `json:"hours"`
	Memo        string    `json:"memo"`
	PayCoins    int64     `json:"pay_coins"`
	WeekCoins   int64     `json:"week_coins"`
	WorkerID    string    `json:"worker_id"`
	SubmittedAt time.Time `json:"submitted_at"`
	ApproveAt   time.Time `json:"auto_approve_at"`
}

type testEventData struct {
	EndpointID string `json:"endpoint_id"`
	Message    string `json:"message"`
}

// Encode implements webhook.Encoder.
func (EventEncoder) Encode(e webhook.Event) ([]byte, error) {
	body := eventBody{ID: e.ID, Type: string(e.Type), CreatedAt: e.At.UTC()}
	switch d := e.Data.(type) {
	case webhook.SubmissionData:
		data := submissionEventData{ID: d.ID, TaskID: d.TaskID, TaskTitle: d.TaskTitle, WorkerID: d.WorkerID, Status: d.Status,
			Details: d.Details, Reason: d.Reason, PayableAmount: int64(d.Pay), CreatedAt: d.CreatedAt.UTC()}
		if !d.ReviewedAt.IsZero() {
			at := d.ReviewedAt.UTC()
			data.ReviewedAt = &at
		}
		body.Data = data
	case webhook.TaskData:
		data := taskEventData{ID: d.ID, Title: d.Title, Status: d.Status, RequiredWorkers: d.OpenSlots, PendingSubmissions: d.Pending,
			PayableAmount: int64(d.Pay), CompletionDate: d.CompletionDate.UTC()}
		if d.BatchID != "" {
			data.BatchID = &d.BatchID
		}
		body.Data = data
	case webhook.BatchData:
		body.Data = batchEventData{ID: d.ID, Name: d.Name, Tasks: d.Tasks, Approved: d.Approved, Rejected: d.Rejected,
			CoinsPaid: int64(d.Paid), CoinsRefunded: int64(d.Refunded), CompletedAt: d.CompletedAt.UTC()}
	case webhook.PaymentData:
		body.Data = paymentEventData{ID: d.ID, Coins: int64(d.Coins), AmountCents: int64(d.Amount), PaidAt: d.PaidAt.UTC()}
	case webhook.MessageData:
		data := messageEventData{ID: d.ID, ConversationID: d.ConversationID, FromID: d.FromID, Text: d.Text,
			Attachments: nonNilStrings(d.Attachments), CreatedAt: d.CreatedAt.UTC()}
		if d.AboutType != "" {
			data.About = &messageAboutRef{Type: d.AboutType, ID: d.AboutID}
		}
		body.Data = data
	case webhook.MilestoneData:
		body.Data = milestoneEventData{ID: d.ID, ContractID: d.ContractID, JobTitle: d.JobTitle, Title: d.Title, Coins: int64(d.Coins),
			Status: d.Status, Message: d.Message, Attachments: nonNilStrings(d.Attachments), WorkerID: d.WorkerID, SubmittedAt: d.SubmittedAt.UTC()}
	case webhook.TimesheetData:
		body.Data = timesheetEventData{ID: d.ID, ContractID: d.ContractID, JobTitle: d.JobTitle, WeekStart: d.WeekStart.UTC().Format(time.DateOnly),
			Hours: d.Hours, Memo: d.Memo, PayCoins: int64(d.Pay), WeekCoins: int64(d.WeekCoins), WorkerID: d.WorkerID,
			SubmittedAt: d.SubmittedAt.UTC(), ApproveAt: d.ApproveAt.UTC()}
	case webhook.TestData:
		body.Data = testEventData{EndpointID: d.EndpointID, Message: "A test event: your endpoint receives and verifies Microtask's webhooks."}
	default:
		return nil, fmt.Errorf("no JSON for the data of %s events (%T)", e.Type, e.Data)
	}
	return json.Marshal(body)
}
