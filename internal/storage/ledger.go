package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/ledger"
	"microtask/internal/money"
)

// LedgerStore keeps the ledger's accounts and transfers. It implements
// ledger.Store.
//
// Collections: accounts (balances and the operations pending on each) and
// transfers (every transfer, in flight or ended: its postings are the
// ledger's entries once it is posted).
type LedgerStore struct {
	accounts  collection
	transfers collection
}

// NewLedgerStore returns the ledger's store on d.
func NewLedgerStore(d *DB) *LedgerStore {
	return &LedgerStore{accounts: d.collection("accounts"), transfers: d.collection("transfers")}
}

var _ ledger.Store = (*LedgerStore)(nil)

type accountDoc struct {
	ID        string    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Balance   int64     `bson:"balance"`
	Pending   []string  `bson:"pending"`
	CreatedAt time.Time `bson:"created_at"`
}

type postingDoc struct {
	Account string `bson:"account"`
	Amount  int64  `bson:"amount"`
}

type transferDoc struct {
	ID       string            `bson:"_id"`
	Postings []postingDoc      `bson:"postings"`
	Meta     map[string]string `bson:"meta,omitempty"`
	// Private is dropped when the transfer ends.
	Private    map[string]string `bson:"private,omitempty"`
	Hooked     bool              `bson:"hooked"`
	State      string            `bson:"state"`
	LeaseUntil *time.Time        `bson:"lease_until,omitempty"` // while open
	CreatedAt  time.Time         `bson:"created_at"`
	UpdatedAt  time.Time         `bson:"updated_at"`
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

var openStates = bson.A{string(ledger.Pending), string(ledger.Failing)}

func transferFromDoc(d transferDoc) ledger.Transfer {
	t := ledger.Transfer{ID: d.ID, Postings: postingsFromDocs(d.Postings), Meta: d.Meta, Private: d.Private,
		Hooked: d.Hooked, State: ledger.State(d.State), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	t.Open = t.State == ledger.Pending || t.State == ledger.Failing
	if d.LeaseUntil != nil {
		t.LeaseUntil = *d.LeaseUntil
	}
	return t
}

func accountFromDoc(d accountDoc) ledger.Account {
	return ledger.Account{Name: d.ID, Balance: money.Coins(d.Balance), Pending: d.Pending}
}

// Insert implements ledger.Store.
func (s *LedgerStore) Insert(ctx context.Context, t ledger.Transfer) error {
	lease := t.LeaseUntil
	err := s.transfers.insertOne(ctx, transferDoc{ID: t.ID, Postings: postingsToDocs(t.Postings), Meta: t.Meta, Private: t.Private,
		Hooked: t.Hooked, State: string(t.State), LeaseUntil: &lease, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
	if isDuplicate(err) {
		return ledger.ErrTransferExists
	}
	return err
}

// Get implements ledger.Store.
func (s *LedgerStore) Get(ctx context.Context, id string) (ledger.Transfer, error) {
	var d transferDoc
	err := s.transfers.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, errNoDocument) {
		return ledger.Transfer{}, ledger.ErrTransferNotFound
	}
	if err != nil {
		return ledger.Transfer{}, err
	}
	return transferFromDoc(d), nil
}

// SetState implements ledger.Store.
func (s *LedgerStore) SetState(ctx context.Context, id string, from, to ledger.State, lease, now time.Time) (bool, error) {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: string(to)}, {Key: "updated_at", Value: now}}}}
	if to != ledger.Pending && to != ledger.Failing {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "private", Value: ""}, {Key: "lease_until", Value: ""}}})
	}
	n, err := s.transfers.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(from)}, {Key: "lease_until", Value: lease}},
		update, false)
	return n == 1, err
}

// RenewLease implements ledger.Store.
func (s *LedgerStore) RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error) {
	n, err := s.transfers.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "lease_until", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: to}}}},
		false)
	return n == 1, err
}

// Delete implements ledger.Store.
func (s *LedgerStore) Delete(ctx context.Context, id string, lease time.Time) error {
	_, err := s.transfers.deleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(ledger.Pending)}, {Key: "lease_until", Value: lease}})
	return err
}

// Expired implements ledger.Store.
func (s *LedgerStore) Expired(ctx context.Context, leaseBefore time.Time, limit int) ([]ledger.Transfer, error) {
	return findAll(ctx, s.transfers,
		bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: openStates}}}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: leaseBefore}}}},
		query{sort: bson.D{{Key: "lease_until", Value: 1}}, limit: int64(limit)},
		transferFromDoc)
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
		n, err := s.accounts.updateOne(ctx, filter, update, upsert)
		if err != nil && !isDuplicate(err) {
			return 0, err
		}
		if err == nil && n == 1 {
			return ledger.Applied, nil
		}
		var a accountDoc
		err = s.accounts.findOne(ctx, bson.D{{Key: "_id", Value: p.Account}}, &a)
		switch {
		case errors.Is(err, errNoDocument) && upsert:
			continue
		case errors.Is(err, errNoDocument):
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
	_, err := s.accounts.updateOne(ctx,
		bson.D{{Key: "_id", Value: p.Account}, {Key: "pending", Value: op}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "balance", Value: -int64(p.Amount)}}},
			{Key: "$pull", Value: bson.D{{Key: "pending", Value: op}}},
		}, false)
	return err
}

// ClearPending implements ledger.Store.
func (s *LedgerStore) ClearPending(ctx context.Context, op string, accounts []string) error {
	_, err := s.accounts.updateMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: accounts}}}, {Key: "pending", Value: op}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: op}}}})
	return err
}

// WithPending implements ledger.Store. {pending: {$gt: ""}} matches a
// document with any string in the list, which an index on pending serves
// without reading the accounts whose list is empty.
func (s *LedgerStore) WithPending(ctx context.Context, limit int) ([]ledger.Account, error) {
	return findAll(ctx, s.accounts, bson.D{{Key: "pending", Value: bson.D{{Key: "$gt", Value: ""}}}},
		query{limit: int64(limit)}, accountFromDoc)
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
	return findAll(ctx, s.accounts, filter, query{}, accountFromDoc)
}

// Richest implements ledger.Store.
func (s *LedgerStore) Richest(ctx context.Context, kind string, limit int) ([]ledger.Account, error) {
	return findAll(ctx, s.accounts, bson.D{{Key: "kind", Value: kind}},
		query{sort: bson.D{{Key: "balance", Value: -1}, {Key: "_id", Value: 1}}, limit: int64(limit)},
		accountFromDoc)
}

// EachAccount implements ledger.Store.
func (s *LedgerStore) EachAccount(ctx context.Context, fn func(ledger.Account) error) error {
	return each(ctx, s.accounts, bson.D{}, query{}, func(d accountDoc) error { return fn(accountFromDoc(d)) })
}

// EachTransfer implements ledger.Store.
func (s *LedgerStore) EachTransfer(ctx context.Context, fn func(ledger.Transfer) error) error {
	return each(ctx, s.transfers, bson.D{}, query{}, func(d transferDoc) error { return fn(transferFromDoc(d)) })
}
