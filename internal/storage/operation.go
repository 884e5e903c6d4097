package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/operation"
)

const operationsCollection = "operations"

// OperationStore keeps the records of operations, in flight and ended. It
// implements operation.Store.
type OperationStore struct {
	db         *docdb.DB
	operations docdb.Collection
}

// NewOperationStore returns the operations store on d.
func NewOperationStore(d *docdb.DB) *OperationStore {
	return &OperationStore{db: d, operations: d.Collection(operationsCollection)}
}

// Deferred implements operation.Store: see docdb.DB.Deferred.
func (s *OperationStore) Deferred(ctx context.Context) (context.Context, func() error) {
	return s.db.Deferred(ctx)
}

var _ operation.Store = (*OperationStore)(nil)

// operationDoc is an operation as stored. Its data, the kind's own type
// encoded as a document, is there while the operation is in flight.
type operationDoc struct {
	ID         string       `bson:"_id"`
	Postings   []postingDoc `bson:"postings"`
	Data       bson.Raw     `bson:"data,omitempty"`
	State      string       `bson:"state"`
	LeaseUntil *time.Time   `bson:"lease_until,omitempty"`
	CreatedAt  time.Time    `bson:"created_at"`
	UpdatedAt  time.Time    `bson:"updated_at"`
}

// newOperationDoc is operationDoc as inserted, with the kind's data as is.
type newOperationDoc struct {
	ID         string       `bson:"_id"`
	Postings   []postingDoc `bson:"postings"`
	Data       any          `bson:"data"`
	State      string       `bson:"state"`
	LeaseUntil time.Time    `bson:"lease_until"`
	CreatedAt  time.Time    `bson:"created_at"`
	UpdatedAt  time.Time    `bson:"updated_at"`
}

// payload is a kind's data as read back.
type payload bson.Raw

func (p payload) Decode(v any) error { return bson.Unmarshal(p, v) }

var openStates = bson.A{string(operation.Pending), string(operation.Failing)}

func operationFromDoc(d operationDoc) operation.Record {
	r := operation.Record{ID: d.ID, Postings: postingsFromDocs(d.Postings), State: operation.State(d.State),
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Data != nil {
		r.Data = payload(d.Data)
	}
	if d.LeaseUntil != nil {
		r.LeaseUntil = *d.LeaseUntil
	}
	return r
}

// Insert implements operation.Store.
func (s *OperationStore) Insert(ctx context.Context, r operation.Record, data any) error {
	err := s.operations.InsertOne(ctx, newOperationDoc{ID: r.ID, Postings: postingsToDocs(r.Postings), Data: data,
		State: string(r.State), LeaseUntil: r.LeaseUntil, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt})
	if docdb.IsDuplicate(err) {
		return operation.ErrExists
	}
	return err
}

// InsertEnded adds the records of operations that have ended (posted or
// failed: no data, no lease) in one command, with no run of the engine
// behind them: operations made outside it (the load generator's seed),
// whose postings the caller must have applied to the accounts (LedgerStore.
// InsertAccounts) for the audit to balance. An open record is refused, as
// recovery would run it; a duplicate stops the insert, those before it stay.
func (s *OperationStore) InsertEnded(ctx context.Context, recs []operation.Record) error {
	docs := make([]any, len(recs))
	for i, r := range recs {
		if r.State.Open() {
			return fmt.Errorf("operation %s is %s, not ended", r.ID, r.State)
		}
		docs[i] = operationDoc{ID: r.ID, Postings: postingsToDocs(r.Postings), State: string(r.State),
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return s.operations.InsertMany(ctx, docs, true)
}

// Get implements operation.Store.
func (s *OperationStore) Get(ctx context.Context, id string) (operation.Record, error) {
	var d operationDoc
	err := s.operations.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return operation.Record{}, operation.ErrNotFound
	}
	if err != nil {
		return operation.Record{}, err
	}
	return operationFromDoc(d), nil
}

// SetState implements operation.Store.
func (s *OperationStore) SetState(ctx context.Context, id string, from, to operation.State, lease, now time.Time) (bool, error) {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: string(to)}, {Key: "updated_at", Value: now}}}}
	if !to.Open() {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "data", Value: ""}, {Key: "lease_until", Value: ""}}})
	}
	n, err := s.operations.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(from)}, {Key: "lease_until", Value: lease}},
		update, false)
	return n == 1, err
}

// RenewLease implements operation.Store.
func (s *OperationStore) RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error) {
	n, err := s.operations.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "lease_until", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: to}}}},
		false)
	return n == 1, err
}

// Delete implements operation.Store.
func (s *OperationStore) Delete(ctx context.Context, id string, lease time.Time) error {
	_, err := s.operations.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(operation.Pending)}, {Key: "lease_until", Value: lease}})
	return err
}

// Reopen implements operation.Store.
func (s *OperationStore) Reopen(ctx context.Context, r operation.Record, data any) (bool, error) {
	n, err := s.operations.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: r.ID}, {Key: "state", Value: string(operation.Failed)}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "postings", Value: postingsToDocs(r.Postings)}, {Key: "data", Value: data}, {Key: "state", Value: string(r.State)},
			{Key: "lease_until", Value: r.LeaseUntil}, {Key: "created_at", Value: r.CreatedAt}, {Key: "updated_at", Value: r.UpdatedAt},
		}}}, false)
	return n == 1, err
}

// Expired implements operation.Store.
func (s *OperationStore) Expired(ctx context.Context, leaseBefore time.Time, limit int) ([]operation.Record, error) {
	return docdb.FindAll(ctx, s.operations,
		bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: openStates}}}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: leaseBefore}}}},
		docdb.Query{Sort: bson.D{{Key: "lease_until", Value: 1}}, Limit: int64(limit)},
		operationFromDoc)
}
