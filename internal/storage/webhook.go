package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/webhook"
)

// WebhookStore keeps webhook endpoints (collection webhook_endpoints) and
// the outbox of their deliveries (webhook_deliveries). It implements
// webhook.Store.
type WebhookStore struct {
	endpoints  docdb.Collection
	deliveries docdb.Collection
}

// NewWebhookStore returns the webhook store on d.
func NewWebhookStore(d *docdb.DB) *WebhookStore {
	return &WebhookStore{endpoints: d.Collection("webhook_endpoints"), deliveries: d.Collection("webhook_deliveries")}
}

var _ webhook.Store = (*WebhookStore)(nil)

type endpointDoc struct {
	ID             string     `bson:"_id"`
	UserID         string     `bson:"user_id"`
	URL            string     `bson:"url"`
	Events         []string   `bson:"events"`
	Secret         string     `bson:"secret"` // needed to sign: kept as it is, like Stripe's
	Enabled        bool       `bson:"enabled"`
	Failures       int        `bson:"failures"`
	LastSuccessAt  *time.Time `bson:"last_success_at,omitempty"`
	DisabledAt     *time.Time `bson:"disabled_at,omitempty"`
	DisabledReason string     `bson:"disabled_reason,omitempty"`
	CreatedAt      time.Time  `bson:"created_at"`
	UpdatedAt      time.Time  `bson:"updated_at"`
}

func endpointToDoc(e webhook.Endpoint) endpointDoc {
	d := endpointDoc{ID: e.ID, UserID: e.UserID, URL: e.URL, Secret: e.Secret, Enabled: e.Enabled, Failures: e.Failures,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Events: []string{}}
	for _, ev := range e.Events {
		d.Events = append(d.Events, string(ev))
	}
	if !e.LastSuccessAt.IsZero() {
		d.LastSuccessAt = &e.LastSuccessAt
	}
	if !e.DisabledAt.IsZero() {
		d.DisabledAt = &e.DisabledAt
	}
	return d
}

func endpointFromDoc(d endpointDoc) webhook.Endpoint {
	e := webhook.Endpoint{ID: d.ID, UserID: d.UserID, URL: d.URL, Secret: d.Secret, Enabled: d.Enabled, Failures: d.Failures,
		DisabledReason: d.DisabledReason, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	for _, ev := range d.Events {
		e.Events = append(e.Events, webhook.EventType(ev))
	}
	if d.LastSuccessAt != nil {
		e.LastSuccessAt = *d.LastSuccessAt
	}
	if d.DisabledAt != nil {
		e.DisabledAt = *d.DisabledAt
	}
	return e
}

type deliveryDoc struct {
	ID         string     `bson:"_id"`
	EndpointID string     `bson:"endpoint_id"`
	UserID     string     `bson:"user_id"`
	EventID    string     `bson:"event_id"`
	Type       string     `bson:"type"`
	Body       string     `bson:"body"` // the bytes posted, which the signature covers: kept exactly
	Status     string     `bson:"status"`
	Attempts   int        `bson:"attempts"`
	NextAt     *time.Time `bson:"next_at,omitempty"` // while pending: the outbox's index
	Deadline   time.Time  `bson:"deadline"`
	LastCode   int        `bson:"last_code"`
	LastError  string     `bson:"last_error,omitempty"`
	CreatedAt  time.Time  `bson:"created_at"`
	FinishedAt *time.Time `bson:"finished_at,omitempty"`
}

func deliveryFromDoc(d deliveryDoc) webhook.Delivery {
	out := webhook.Delivery{ID: d.ID, EndpointID: d.EndpointID, UserID: d.UserID, EventID: d.EventID, Type: webhook.EventType(d.Type),
		Body: []byte(d.Body), Status: webhook.Status(d.Status), Attempts: d.Attempts, Deadline: d.Deadline, LastCode: d.LastCode,
		LastError: d.LastError, CreatedAt: d.CreatedAt}
	if d.NextAt != nil {
		out.NextAt = *d.NextAt
	}
	if d.FinishedAt != nil {
		out.FinishedAt = *d.FinishedAt
	}
	return out
}

// InsertEndpoint implements webhook.Store.
func (s *WebhookStore) InsertEndpoint(ctx context.Context, e webhook.Endpoint) error {
	return s.endpoints.InsertOne(ctx, endpointToDoc(e))
}

// Endpoint implements webhook.Store.
func (s *WebhookStore) Endpoint(ctx context.Context, id string) (webhook.Endpoint, error) {
	var d endpointDoc
	err := s.endpoints.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return webhook.Endpoint{}, webhook.ErrNotFound
	}
	return endpointFromDoc(d), err
}

// Endpoints implements webhook.Store: one find and one count.
func (s *WebhookStore) Endpoints(ctx context.Context, userID string, p page.Request) ([]webhook.Endpoint, int64, error) {
	return docdb.FindPage(ctx, s.endpoints, bson.D{{Key: "user_id", Value: userID}}, newestFirst, p, endpointFromDoc)
}

// Enabled implements webhook.Store.
func (s *WebhookStore) Enabled(ctx context.Context, userID string) ([]webhook.Endpoint, error) {
	return docdb.FindAll(ctx, s.endpoints, bson.D{{Key: "user_id", Value: userID}, {Key: "enabled", Value: true}}, docdb.Query{},
		endpointFromDoc)
}

// Owners implements webhook.Store.
func (s *WebhookStore) Owners(ctx context.Context) ([]string, error) {
	ids, err := docdb.FindAll(ctx, s.endpoints, bson.D{{Key: "enabled", Value: true}}, docdb.Query{},
		func(d endpointDoc) string { return d.UserID })
	slices.Sort(ids)
	return slices.Compact(ids), err
}

// CountEndpoints implements webhook.Store.
func (s *WebhookStore) CountEndpoints(ctx context.Context, userID string) (int64, error) {
	return s.endpoints.Count(ctx, bson.D{{Key: "user_id", Value: userID}})
}

// UpdateEndpoint implements webhook.Store.
func (s *WebhookStore) UpdateEndpoint(ctx context.Context, e webhook.Endpoint) error {
	d := endpointToDoc(e)
	set := bson.D{{Key: "url", Value: d.URL}, {Key: "events", Value: d.Events}, {Key: "enabled", Value: d.Enabled},
		{Key: "failures", Value: d.Failures}, {Key: "disabled_reason", Value: d.DisabledReason}, {Key: "updated_at", Value: d.UpdatedAt}}
	update := bson.D{{Key: "$set", Value: set}}
	if d.DisabledAt != nil {
		update[0].Value = append(set, bson.E{Key: "disabled_at", Value: *d.DisabledAt})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "disabled_at", Value: ""}}})
	}
	n, err := s.endpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, update, false)
	if err == nil && n == 0 {
		return webhook.ErrNotFound
	}
	return err
}

// DeleteEndpoint implements webhook.Store: its deliveries first, so that a
// crash midway leaves an endpoint its owner deletes again.
func (s *WebhookStore) DeleteEndpoint(ctx context.Context, userID, id string) (bool, error) {
	var d endpointDoc
	err := s.endpoints.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := s.deliveries.DeleteMany(ctx, bson.D{{Key: "endpoint_id", Value: id}}); err != nil {
		return false, err
	}
	n, err := s.endpoints.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}})
	return n == 1, err
}

// Succeeded implements webhook.Store.
func (s *WebhookStore) Succeeded(ctx context.Context, endpointID string, at time.Time) error {
	_, err := s.endpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: endpointID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "failures", Value: 0}, {Key: "last_success_at", Value: at}}}}, false)
	return err
}

// FailedAttempt implements webhook.Store.
func (s *WebhookStore) FailedAttempt(ctx context.Context, endpointID string) error {
	_, err := s.endpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: endpointID}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "failures", Value: 1}}}}, false)
	return err
}

// Disable implements webhook.Store.
func (s *WebhookStore) Disable(ctx context.Context, endpointID, reason string, at time.Time) (bool, error) {
	n, err := s.endpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: endpointID}, {Key: "enabled", Value: true}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enabled", Value: false}, {Key: "disabled_at", Value: at},
			{Key: "disabled_reason", Value: reason}, {Key: "updated_at", Value: at}}}}, false)
	return n == 1, err
}

// enqueueBatch bounds the documents of one insert command, well under the
// embedded FerretDB's limit on the parts of a command.
const enqueueBatch = 50

// Enqueue implements webhook.Store: unordered inserts, a duplicate (the
// same delivery queued by a step run again) left as it is.
func (s *WebhookStore) Enqueue(ctx context.Context, ds []webhook.Delivery) error {
	for batch := range slices.Chunk(ds, enqueueBatch) {
		docs := make([]any, len(batch))
		for i, d := range batch {
			next := d.NextAt
			docs[i] = deliveryDoc{ID: d.ID, EndpointID: d.EndpointID, UserID: d.UserID, EventID: d.EventID, Type: string(d.Type),
				Body: string(d.Body), Status: string(d.Status), Attempts: d.Attempts, NextAt: &next, Deadline: d.Deadline,
				CreatedAt: d.CreatedAt}
		}
		if err := s.deliveries.InsertMany(ctx, docs, false); err != nil && !docdb.IsDuplicate(err) {
			return err
		}
	}
	return nil
}

// Delivery implements webhook.Store.
func (s *WebhookStore) Delivery(ctx context.Context, id string) (webhook.Delivery, error) {
	var d deliveryDoc
	err := s.deliveries.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return webhook.Delivery{}, webhook.ErrDeliveryNotFound
	}
	return deliveryFromDoc(d), err
}

// Deliveries implements webhook.Store: one find and one count.
func (s *WebhookStore) Deliveries(ctx context.Context, endpointID string, p page.Request) ([]webhook.Delivery, int64, error) {
	return docdb.FindPage(ctx, s.deliveries, bson.D{{Key: "endpoint_id", Value: endpointID}}, newestFirst, p, deliveryFromDoc)
}

// Due implements webhook.Store, through the index on next_at, which only
// pending deliveries have.
func (s *WebhookStore) Due(ctx context.Context, now time.Time, limit int) ([]webhook.Delivery, error) {
	return docdb.FindAll(ctx, s.deliveries, bson.D{{Key: "next_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "next_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, deliveryFromDoc)
}

// Claim implements webhook.Store: one conditional update on the attempts.
func (s *WebhookStore) Claim(ctx context.Context, id string, attempts int, until time.Time) (bool, error) {
	n, err := s.deliveries.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(webhook.Pending)}, {Key: "attempts", Value: attempts}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_at", Value: until}}}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}}, false)
	return n == 1, err
}

// Finish implements webhook.Store.
func (s *WebhookStore) Finish(ctx context.Context, id string, to webhook.Status, code int, lastError string, at time.Time) error {
	_, err := s.deliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: string(to)}, {Key: "last_code", Value: code},
			{Key: "last_error", Value: lastError}, {Key: "finished_at", Value: at}}},
		{Key: "$unset", Value: bson.D{{Key: "next_at", Value: ""}}},
	}, false)
	return err
}

// Retry implements webhook.Store.
func (s *WebhookStore) Retry(ctx context.Context, id string, next time.Time, code int, lastError string) error {
	_, err := s.deliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(webhook.Pending)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_at", Value: next}, {Key: "last_code", Value: code},
			{Key: "last_error", Value: lastError}}}}, false)
	return err
}

// Resend implements webhook.Store.
func (s *WebhookStore) Resend(ctx context.Context, id string, now, deadline time.Time) error {
	_, err := s.deliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: string(webhook.Pending)}, {Key: "next_at", Value: now},
			{Key: "deadline", Value: deadline}}},
		{Key: "$unset", Value: bson.D{{Key: "finished_at", Value: ""}}},
	}, false)
	return err
}

// FailPending implements webhook.Store.
func (s *WebhookStore) FailPending(ctx context.Context, endpointID, reason string, at time.Time) error {
	_, err := s.deliveries.UpdateMany(ctx,
		bson.D{{Key: "endpoint_id", Value: endpointID}, {Key: "status", Value: string(webhook.Pending)}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(webhook.Failed)}, {Key: "last_error", Value: reason},
				{Key: "finished_at", Value: at}}},
			{Key: "$unset", Value: bson.D{{Key: "next_at", Value: ""}}},
		})
	return err
}

// Forget implements webhook.Store.
func (s *WebhookStore) Forget(ctx context.Context, before time.Time) (int64, error) {
	return s.deliveries.DeleteMany(ctx, bson.D{{Key: "finished_at", Value: bson.D{{Key: "$lt", Value: before}}}})
}
