package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/payment"
)

// PurchaseBlockStore keeps the purchase_blocks collection: one document per
// buyer whose purchases were ever blocked, kept when the block is cleared so
// that the operations which blocked them stay recorded. It implements
// payment.BlockStore.
type PurchaseBlockStore struct {
	blocks docdb.Collection
}

// NewPurchaseBlockStore returns the purchase blocks store on d.
func NewPurchaseBlockStore(d *docdb.DB) *PurchaseBlockStore {
	return &PurchaseBlockStore{blocks: d.Collection("purchase_blocks")}
}

var _ payment.BlockStore = (*PurchaseBlockStore)(nil)

type purchaseBlockDoc struct {
	ID        string     `bson:"_id"` // the buyer
	Blocked   bool       `bson:"blocked"`
	PaymentID string     `bson:"payment_id"`
	Reason    string     `bson:"reason"`
	BlockedAt time.Time  `bson:"blocked_at"`
	ClearedBy string     `bson:"cleared_by,omitempty"`
	ClearedAt *time.Time `bson:"cleared_at,omitempty"`
	Ops       []string   `bson:"ops"` // the operations that blocked the buyer
}

func purchaseBlockFromDoc(d purchaseBlockDoc) payment.Block {
	return payment.Block{UserID: d.ID, PaymentID: d.PaymentID, Reason: payment.Reason(d.Reason), At: d.BlockedAt}
}

// Block implements payment.BlockStore, with one upsert.
func (s *PurchaseBlockStore) Block(ctx context.Context, b payment.Block, op string) error {
	filter := bson.D{{Key: "_id", Value: b.UserID}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: op}}}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "blocked", Value: true}, {Key: "payment_id", Value: b.PaymentID},
			{Key: "reason", Value: string(b.Reason)}, {Key: "blocked_at", Value: b.At}}},
		{Key: "$unset", Value: bson.D{{Key: "cleared_by", Value: ""}, {Key: "cleared_at", Value: ""}}},
		{Key: "$push", Value: bson.D{{Key: "ops", Value: op}}},
	}
	// An upsert whose filter misses because op is already recorded tries to
	// insert a second document with the buyer's _id and is refused as a
	// duplicate; so are two concurrent first blocks. Reading the document
	// tells which it was.
	for range 3 {
		_, err := s.blocks.UpdateOne(ctx, filter, update, true)
		if err == nil {
			return nil
		}
		if !docdb.IsDuplicate(err) {
			return err
		}
		var d purchaseBlockDoc
		if err := s.blocks.FindOne(ctx, bson.D{{Key: "_id", Value: b.UserID}}, &d); err != nil && !errors.Is(err, docdb.ErrNoDocument) {
			return err
		}
		if slices.Contains(d.Ops, op) {
			return nil
		}
	}
	return fmt.Errorf("block purchases of %s: the block keeps changing under the update", b.UserID)
}

// Blocked implements payment.BlockStore.
func (s *PurchaseBlockStore) Blocked(ctx context.Context, userID string) (bool, error) {
	var d purchaseBlockDoc
	err := s.blocks.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return d.Blocked, err
}

// Clear implements payment.BlockStore.
func (s *PurchaseBlockStore) Clear(ctx context.Context, userID, by string, at time.Time) (bool, error) {
	n, err := s.blocks.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: userID}, {Key: "blocked", Value: true}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "blocked", Value: false}, {Key: "cleared_by", Value: by}, {Key: "cleared_at", Value: at}}}},
		false)
	return n == 1, err
}

// List implements payment.BlockStore: one find and one count.
func (s *PurchaseBlockStore) List(ctx context.Context, p page.Request) ([]payment.Block, int64, error) {
	return docdb.FindPage(ctx, s.blocks, bson.D{{Key: "blocked", Value: true}},
		bson.D{{Key: "blocked_at", Value: -1}, {Key: "_id", Value: -1}}, p, purchaseBlockFromDoc)
}
