package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/payment"
)

// PaymentStore keeps the payments collection. It implements payment.Store.
type PaymentStore struct {
	payments docdb.Collection
}

// NewPaymentStore returns the payments store on d.
func NewPaymentStore(d *docdb.DB) *PaymentStore {
	return &PaymentStore{payments: d.Collection("payments")}
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
	// The reversal, absent until a refund or a dispute.
	RefundedCents int64  `bson:"refunded_cents,omitempty"`
	Disputed      bool   `bson:"disputed,omitempty"`
	ClawedBack    int64  `bson:"clawed_back_coins,omitempty"`
	Shortfall     int64  `bson:"clawback_shortfall_coins,omitempty"`
	ClawbackOp    string `bson:"clawback_op,omitempty"`
}

func paymentFromDoc(d paymentDoc) payment.Payment {
	p := payment.Payment{
		ID: d.ID, UserID: d.UserID, Coins: money.Coins(d.Coins), Amount: money.Cents(d.Amount), Currency: d.Currency,
		Provider: d.Provider, SessionID: d.SessionID, PaymentIntentID: d.PaymentIntent, CheckoutURL: d.CheckoutURL,
		IdempotencyKey: d.IdempotencyKey, Status: payment.Status(d.Status), CreatedAt: d.CreatedAt,
		Reversal: payment.Reversal{Refunded: money.Cents(d.RefundedCents), Disputed: d.Disputed,
			Taken: money.Coins(d.ClawedBack), Shortfall: money.Coins(d.Shortfall)},
		ClawbackOp: d.ClawbackOp,
	}
	if d.PaidAt != nil {
		p.PaidAt = *d.PaidAt
	}
	return p
}

// Insert implements payment.Store.
func (s *PaymentStore) Insert(ctx context.Context, p payment.Payment) error {
	err := s.payments.InsertOne(ctx, paymentDoc{
		ID: p.ID, UserID: p.UserID, Coins: int64(p.Coins), Amount: int64(p.Amount), Currency: p.Currency,
		Provider: p.Provider, IdempotencyKey: p.IdempotencyKey, Status: string(p.Status), CreatedAt: p.CreatedAt, Ops: []string{},
	})
	if docdb.IsDuplicate(err) {
		return payment.ErrKeyTaken
	}
	return err
}

func (s *PaymentStore) one(ctx context.Context, q bson.D) (payment.Payment, error) {
	var d paymentDoc
	err := s.payments.FindOne(ctx, q, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
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
	_, err := s.payments.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "session_id", Value: sess.ID}, {Key: "checkout_url", Value: sess.URL}}}}, false)
	return err
}

// MarkPaid implements payment.Store.
func (s *PaymentStore) MarkPaid(ctx context.Context, id, op string, p payment.Paid) (bool, error) {
	set := bson.D{{Key: "status", Value: string(payment.StatusPaid)}, {Key: "paid_at", Value: p.At}, {Key: "session_id", Value: p.SessionID}}
	if p.PaymentIntentID != "" {
		set = append(set, bson.E{Key: "payment_intent_id", Value: p.PaymentIntentID})
	}
	return docdb.CommitOnce(ctx, s.payments, id,
		bson.D{{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}, {Key: "status", Value: string(payment.StatusPending)}},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d paymentDoc) bool { return slices.Contains(d.Ops, op) })
}

// BeginClawback implements payment.Store. The condition on the refunds and
// the dispute is what makes a clawback worked out from a stale read cancel:
// each clawback changes one of them.
func (s *PaymentStore) BeginClawback(ctx context.Context, id, op string, from payment.Reversal) (bool, error) {
	credited := bson.A{string(payment.StatusPaid), string(payment.StatusRefunded), string(payment.StatusDisputed)}
	return docdb.CommitOnce(ctx, s.payments, id,
		bson.D{
			{Key: "_id", Value: id}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}},
			{Key: "status", Value: bson.D{{Key: "$in", Value: credited}}},
			{Key: "clawback_op", Value: nil},
			orMissing("refunded_cents", int64(from.Refunded), 0),
			orMissing("disputed", from.Disputed, false),
		},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "clawback_op", Value: op}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
		},
		func(d paymentDoc) bool { return slices.Contains(d.Ops, op) })
}

// orMissing is the condition that field is v, where a missing field counts
// as zero, the value its document leaves out (omitempty).
func orMissing[T comparable](field string, v, zero T) bson.E {
	if v == zero {
		return bson.E{Key: field, Value: bson.D{{Key: "$in", Value: bson.A{v, nil}}}}
	}
	return bson.E{Key: field, Value: v}
}

// EndClawback implements payment.Store.
func (s *PaymentStore) EndClawback(ctx context.Context, id, op string, to payment.Reversal, status payment.Status, paymentIntentID string) error {
	set := bson.D{
		{Key: "status", Value: string(status)}, {Key: "refunded_cents", Value: int64(to.Refunded)},
		{Key: "disputed", Value: to.Disputed}, {Key: "clawed_back_coins", Value: int64(to.Taken)},
		{Key: "clawback_shortfall_coins", Value: int64(to.Shortfall)},
	}
	if paymentIntentID != "" {
		set = append(set, bson.E{Key: "payment_intent_id", Value: paymentIntentID})
	}
	_, err := s.payments.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "clawback_op", Value: op}},
		bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "clawback_op", Value: ""}}}}, false)
	return err
}

// DropClawback implements payment.Store.
func (s *PaymentStore) DropClawback(ctx context.Context, id, op string) error {
	_, err := s.payments.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "clawback_op", Value: op}},
		bson.D{
			{Key: "$unset", Value: bson.D{{Key: "clawback_op", Value: ""}}},
			{Key: "$pull", Value: bson.D{{Key: "ops", Value: op}}},
		}, false)
	return err
}

// MarkFailed implements payment.Store.
func (s *PaymentStore) MarkFailed(ctx context.Context, id string) error {
	_, err := s.payments.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(payment.StatusPending)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(payment.StatusFailed)}}}}, false)
	return err
}

// Reopen implements payment.Store.
func (s *PaymentStore) Reopen(ctx context.Context, id string) (bool, error) {
	n, err := s.payments.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: string(payment.StatusFailed)}, {Key: "session_id", Value: ""}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(payment.StatusPending)}}}}, false)
	return n == 1, err
}

// List implements payment.Store: one find and one count.
func (s *PaymentStore) List(ctx context.Context, userID string, p page.Request) ([]payment.Payment, int64, error) {
	return docdb.FindPage(ctx, s.payments, bson.D{{Key: "user_id", Value: userID}}, newestFirst, p, paymentFromDoc)
}

// Purchasers implements withdrawal.Purchases: the buyers with a paid
// purchase through a real gateway.
func (s *PaymentStore) Purchasers(ctx context.Context, buyerIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := docdb.Each(ctx, s.payments, bson.D{
		{Key: "user_id", Value: bson.D{{Key: "$in", Value: buyerIDs}}},
		{Key: "status", Value: string(payment.StatusPaid)},
		{Key: "provider", Value: bson.D{{Key: "$ne", Value: payment.DummyProvider}}},
	}, docdb.Query{}, func(d paymentDoc) error {
		out[d.UserID] = true
		return nil
	})
	return out, err
}
