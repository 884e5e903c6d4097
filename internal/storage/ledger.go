package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
)

// LedgerStore keeps the ledger's accounts (balances and the operations
// pending on each). It implements ledger.Store; the movements it reads for
// the audit are the operations OperationStore keeps.
type LedgerStore struct {
	accounts   docdb.Collection
	operations docdb.Collection
}

// NewLedgerStore returns the ledger's store on d.
func NewLedgerStore(d *docdb.DB) *LedgerStore {
	return &LedgerStore{accounts: d.Collection("accounts"), operations: d.Collection(operationsCollection)}
}

var _ ledger.Store = (*LedgerStore)(nil)

type accountDoc struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Balance   int64     `bson:"balance"`
	Pending   []string  `bson:"pending"`
	CreatedAt time.Time `bson:"created_at"`
	Board     string    `bson:"board,omitempty"`     // the ranking it is on, if any
	BoardSeq  *int64    `bson:"board_seq,omitempty"` // the number of the board's last change
}

type postingDoc struct {
	Account string `bson:"account"`
	Amount  int64  `bson:"amount"`
}

func postingsToDocs(ps []ledger.Posting) []postingDoc {
	out := make([]postingDoc, len(ps))
	for i, p := range ps {
		out[i] = postingDoc{Account: p.Account, Amount: int64(p.Amount)}
	}
	return out
}

func postingsFromDocs(ds []postingDoc) []ledger.Posting {
	out := make([]ledger.Posting, len(ds))
	for i, p := range ds {
		out[i] = ledger.Posting{Account: p.Account, Amount: money.Coins(p.Amount)}
	}
	return out
}

func accountFromDoc(d accountDoc) ledger.Account {
	return ledger.Account{Name: d.ID, Balance: money.Coins(d.Balance), Pending: d.Pending}
}

// InsertAccounts adds accounts that do not exist yet, created at, each
// with its balance and nothing pending, in one command: accounts made
// outside the ledger's operations (the load generator's seed), whose
// balances the caller must back with posted operations
// (OperationStore.InsertEnded) for the audit to balance. A duplicate stops
// it; those before it stay.
func (s *LedgerStore) InsertAccounts(ctx context.Context, accounts []ledger.Account, at time.Time) error {
	docs := make([]any, len(accounts))
	for i, a := range accounts {
		docs[i] = accountDoc{ID: a.Name, Kind: ledger.AccountKind(a.Name), Balance: int64(a.Balance), Pending: []string{}, CreatedAt: at}
	}
	return s.accounts.InsertMany(ctx, docs, true)
}

// ApplyPosting implements ledger.Store.
func (s *LedgerStore) ApplyPosting(ctx context.Context, op string, p ledger.Posting, allowNegative bool, now time.Time) (ledger.PostingResult, error) {
	filter := bson.D{{Key: "_id", Value: p.Account}, {Key: "pending", Value: bson.D{{Key: "$ne", Value: op}}}}
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(p.Amount)}}},
		{Key: "$push", Value: bson.D{{Key: "pending", Value: op}}},
	}
	// Credits (and the mint's debits) create the account on first use; a
	// guarded debit needs the balance to cover it.
	upsert := p.Amount > 0 || allowNegative
	if upsert {
		update = append(update, bson.E{Key: "$setOnInsert", Value: bson.D{
			{Key: "kind", Value: ledger.AccountKind(p.Account)}, {Key: "created_at", Value: now}}})
	} else {
		filter = append(filter, bson.E{Key: "balance", Value: bson.D{{Key: "$gte", Value: -int64(p.Amount)}}})
	}
	// An upsert whose filter misses because op is already pending tries to
	// insert a second document with the same _id and gets a duplicate key
	// error; on MongoDB two concurrent first credits can collide the same way.
	// Either way, reading the account tells which case it was.
	for range 3 {
		n, err := s.accounts.UpdateOne(ctx, filter, update, upsert)
		if err != nil && !docdb.IsDuplicate(err) {
			return 0, err
		}
		if err == nil && n == 1 {
			return ledger.Applied, nil
		}
		var a accountDoc
		err = s.accounts.FindOne(ctx, bson.D{{Key: "_id", Value: p.Account}}, &a)
		switch {
		case errors.Is(err, docdb.ErrNoDocument) && upsert:
			continue
		case errors.Is(err, docdb.ErrNoDocument):
			return ledger.Short, nil
		case err != nil:
			return 0, err
		case slices.Contains(a.Pending, op):
			return ledger.AlreadyApplied, nil
		case !upsert:
			return ledger.Short, nil
		}
	}
	return 0, fmt.Errorf("apply %s to %s: account keeps changing under the update", op, p.Account)
}

// UndoPosting implements ledger.Store.
func (s *LedgerStore) UndoPosting(ctx context.Context, op string, p ledger.Posting) error {
	_, err := s.accounts.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: p.Account}, {Key: "pending", Value: op}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "balance", Value: -int64(p.Amount)}}},
			{Key: "$pull", Value: bson.D{{Key: "pending", Value: op}}},
		}, false)
	return err
}

// ClearPending implements ledger.Store.
func (s *LedgerStore) ClearPending(ctx context.Context, op string, accounts []string) error {
	_, err := s.accounts.UpdateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: accounts}}}, {Key: "pending", Value: op}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: op}}}})
	return err
}

// WithPending implements ledger.Store. {pending: {$gt: ""}} matches a
// document with any string in the list, which an index on pending serves
// without reading the accounts whose list is empty.
func (s *LedgerStore) WithPending(ctx context.Context, limit int) ([]ledger.Account, error) {
	return docdb.FindAll(ctx, s.accounts, bson.D{{Key: "pending", Value: bson.D{{Key: "$gt", Value: ""}}}},
		docdb.Query{Limit: int64(limit)}, accountFromDoc)
}

// Accounts implements ledger.Store.
func (s *LedgerStore) Accounts(ctx context.Context, names []string) ([]ledger.Account, error) {
	var filter bson.D
	if len(names) == 1 {
		// FerretDB serves an exact _id match faster than $in.
		filter = bson.D{{Key: "_id", Value: names[0]}}
	} else {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: names}}}}
	}
	return docdb.FindAll(ctx, s.accounts, filter, docdb.Query{}, accountFromDoc)
}

// SetBoard implements ledger.Store: a guarded update of the account, which
// exists in the common case (a sign-up's bonus created it); else it is
// created, empty, and updated again.
func (s *LedgerStore) SetBoard(ctx context.Context, account, board string, seq int64, now time.Time) error {
	filter := bson.D{{Key: "_id", Value: account}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "board_seq", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "board_seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
	}}}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "board", Value: board}, {Key: "board_seq", Value: seq}}}}
	if board == "" {
		update = bson.D{
			{Key: "$set", Value: bson.D{{Key: "board_seq", Value: seq}}},
			{Key: "$unset", Value: bson.D{{Key: "board", Value: ""}}},
		}
	}
	n, err := s.accounts.UpdateOne(ctx, filter, update, false)
	if err != nil || n == 1 || board == "" {
		return err // n == 0: a later change is there, or nothing to take off
	}
	// An upsert with the guard in its filter would try to insert a second
	// account when the guard fails; create the account on its own.
	_, err = s.accounts.UpdateOne(ctx, bson.D{{Key: "_id", Value: account}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "kind", Value: ledger.AccountKind(account)},
			{Key: "balance", Value: int64(0)}, {Key: "pending", Value: bson.A{}}, {Key: "created_at", Value: now}}}}, true)
	if err != nil && !docdb.IsDuplicate(err) { // a duplicate: created concurrently by a posting
		return err
	}
	_, err = s.accounts.UpdateOne(ctx, filter, update, false)
	return err
}

// Leaders implements ledger.Store, from the index on board, balance and _id.
func (s *LedgerStore) Leaders(ctx context.Context, board string, limit int) ([]ledger.Account, error) {
	return docdb.FindAll(ctx, s.accounts, bson.D{{Key: "board", Value: board}},
		docdb.Query{Sort: bson.D{{Key: "balance", Value: -1}, {Key: "_id", Value: 1}}, Limit: int64(limit)},
		accountFromDoc)
}

// EachAccount implements ledger.Store.
func (s *LedgerStore) EachAccount(ctx context.Context, fn func(ledger.Account) error) error {
	return docdb.Each(ctx, s.accounts, bson.D{}, docdb.Query{}, func(d accountDoc) error { return fn(accountFromDoc(d)) })
}

// EachMovement implements ledger.Store: every operation that moves coins.
func (s *LedgerStore) EachMovement(ctx context.Context, fn func(ledger.Movement) error) error {
	return docdb.Each(ctx, s.operations, bson.D{}, docdb.Query{}, func(d operationDoc) error {
		if len(d.Postings) == 0 {
			return nil
		}
		m := ledger.Movement{Op: d.ID, Postings: postingsFromDocs(d.Postings), State: ledger.MovementState(d.State)}
		if operation.State(d.State).Open() {
			m.State = ledger.InFlight
		}
		return fn(m)
	})
}
