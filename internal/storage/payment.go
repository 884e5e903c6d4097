package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/payment"
)

// PaymentStore keeps the payments collection. It implements payment.Store.
type PaymentStore struct {
	payments collection
}

// NewPaymentStore returns the payments store on d.
func NewPaymentStore(d *DB) *PaymentStore {
	return &PaymentStore{payments: d.collection("payments")}
}

var _ payment.Store = (*PaymentStore)(nil)

type paymentDoc struct {
	ID             string     `bson:"_id"`
	UserID         string     `bson:"user_id"`
	Coins          int64      `bson:"coins"`
	Amount         int64      `bson:"amount_cents"`
	Currency       string     `bson:"currency"`
	Provider       string     `bson:"provider"`
	SessionID      string     `bson:"session_id"`
	PaymentIntent  string     `bson:"payment_intent_id,omitempty"`
	CheckoutURL    string     `bson:"checkout_url"`
	IdempotencyKey string     `bson:"idempotency_key"`
	Status         string     `bson:"status"`
	CreatedAt      time.Time  `bson:"created_at"`
	PaidAt         *time.Time `bson:"paid_at,omitempty"`
	Ops            []string   `bson:"ops"`
}

func paymentFromDoc(d paymentDoc) payment.Payment {
	p := payment.Payment{
		ID: d.ID, UserID: d.UserID, Coins: money.Coins(d.Coins), Amount: money.Cents(d.Amount), Currency: d.Currency,
		Provider: d.Provider, SessionID: d.SessionID, PaymentIntentID: d.PaymentIntent, CheckoutURL: d.CheckoutURL,
		IdempotencyKey: d.IdempotencyKey, Status: payment.Status(d.Status), CreatedAt: d.CreatedAt,
	}
	if d.PaidAt != nil {
		p.PaidAt = *d.PaidAt
	}
	return p
}

// Insert implements payment.Store.
func (s *PaymentStore) Insert(ctx context.Context, p payment.Payment) error {
	err := s.payments.insertOne(ctx, paymentDoc{
		ID: p.ID, UserID: p.UserID, Coins: int64(p.Coins), Amount: int64(p.Amount), Currency: p.Currency,
		Provider: p.Provider, IdempotencyKey: p.IdempotencyKey, Status: string(p.Status), CreatedAt: p.CreatedAt, Ops: []string{},
	})
	if isDuplicate(err) {
		return payment.ErrKeyTaken
	}
	return err
}

func (s *PaymentStore) one(ctx context.Context, q bson.D) (payment.Payment, error) {
	var d paymentDoc
	err := s.payments.findOne(ctx, q, &d)
	if errors.Is(err, errNoDocument) {
		return payment.Payment{}, payment.ErrNotFound
	}
	return paymentFromDoc(d), err
}

// ByID implements payment.Store.
func (s *PaymentStore) ByID(ctx context.Context, id string) (payment.Payment, error) {
	return s.one(ctx, bson.D{{Key: "_id", Value: id}})
}

// ByKey implements payment.Store.
func (s *PaymentStore) ByKey(ctx context.Context, userID, key string) (payment.Payment, error) {
	return s.one(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "idempotency_key", Value: key}})
}

// BySession implements payment.Store.
func (s *PaymentStore) BySession(ctx context.Context, sessionID string) (payment.Payment, error) {
	if sessionID == "" {
		return payment.Payment{}, payment.ErrNotFound
	}
	return s.one(ctx, bson.D{{Key: "session_id", Value: sessionID}})
}

// ByPaymentIntent implements payment.Store.
func (s *PaymentStore) ByPaymentIntent(ctx context.Context, paymentIntentID string) (payment.Payment, error) {
	if paymentIntentID == "" {
		return payment.Payment{}, payment.ErrNotFound
	}
	return s.one(ctx, bson.D{{Key: "payment_intent_id", Value: paymentIntentID}})
}

// SetSession implements payment.Store.
func (s *PaymentStore) SetSession(ctx context.Context, id string, sess payment.Session) error {
	_, err := s.payments.updateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "session_id", Value: sess.ID}, {Key: "checkout_url", Value: sess.URL}}}}, false)
	return err
}

// MarkPaid implements payment.Store.
func (s *PaymentStore) MarkPaid(ctx context.Context, id, op string, p payment.Paid) (bool, error) {
	set := bson.D{{Key: "status", Value: string(payment.StatusPaid)}, {Key: "paid_at", Value: p.At}, {Key: "session_id", Value: p.SessionID}}
	if p.PaymentIntentID != "" {
		set = append(set, bson.E{Key: "payment_intent_id", Value: p.PaymentIntentID})
	}
	return commitOnce(ctx, s.payments, id,
		bson.D{{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}, {Key: "status", Value: string(payment.StatusPending)}},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d paymentDoc) bool { return slices.Contains(d.Ops, op) })
}

// MarkFailed implements payment.Store.
func (s *PaymentStore) MarkFailed(ctx context.Context, id string) error {
	_, err := s.payments.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(payment.StatusPending)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(payment.StatusFailed)}}}}, false)
	return err
}

// Reopen implements payment.Store.
func (s *PaymentStore) Reopen(ctx context.Context, id string) (bool, error) {
	n, err := s.payments.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(payment.StatusFailed)}, {Key: "session_id", Value: ""}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(payment.StatusPending)}}}}, false)
	return n == 1, err
}

// List implements payment.Store: one find and one count.
func (s *PaymentStore) List(ctx context.Context, userID string, p page.Request) ([]payment.Payment, int64, error) {
	return findPage(ctx, s.payments, bson.D{{Key: "user_id", Value: userID}}, newestFirst, p, paymentFromDoc)
}
