package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"microtask/internal/ledger"
	"microtask/internal/money"
)

// LedgerStore keeps the ledger's accounts, transfers and entries. It
// implements ledger.Store.
type LedgerStore struct {
	accounts  collection
	transfers collection
	entries   collection
}

// NewLedgerStore returns the ledger's store on d.
func NewLedgerStore(d *DB) *LedgerStore {
	return &LedgerStore{
		accounts:  d.collection("accounts"),
		transfers: d.collection("transfers"),
		entries:   d.collection("entries"),
	}
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
	ID         string            `bson:"_id"`
	Postings   []postingDoc      `bson:"postings"`
	Meta       map[string]string `bson:"meta,omitempty"`
	State      string            `bson:"state"`
	Open       bool              `bson:"open"`
	Hooked     bool              `bson:"hooked"`
	LeaseUntil time.Time         `bson:"lease_until"`
	CreatedAt  time.Time         `bson:"created_at"`
	UpdatedAt  time.Time         `bson:"updated_at"`
}

type entryDoc struct {
	ID        bson.ObjectID `bson:"_id,omitempty"`
	Op        string        `bson:"op"`
	Account   string        `bson:"account"`
	Amount    int64         `bson:"amount"`
	CreatedAt time.Time     `bson:"created_at"`
}

func transferToDoc(t ledger.Transfer) transferDoc {
	ps := make([]postingDoc, len(t.Postings))
	for i, p := range t.Postings {
		ps[i] = postingDoc{Account: p.Account, Amount: int64(p.Amount)}
	}
	return transferDoc{ID: t.ID, Postings: ps, Meta: t.Meta, State: string(t.State), Open: t.Open, Hooked: t.Hooked,
		LeaseUntil: t.LeaseUntil, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func transferFromDoc(d transferDoc) ledger.Transfer {
	ps := make([]ledger.Posting, len(d.Postings))
	for i, p := range d.Postings {
		ps[i] = ledger.Posting{Account: p.Account, Amount: money.Coins(p.Amount)}
	}
	return ledger.Transfer{ID: d.ID, Postings: ps, Meta: d.Meta, State: ledger.State(d.State), Open: d.Open,
		Hooked: d.Hooked, LeaseUntil: d.LeaseUntil, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func accountFromDoc(d accountDoc) ledger.Account {
	return ledger.Account{Name: d.ID, Balance: money.Coins(d.Balance), Pending: d.Pending}
}

// InsertTransfer implements ledger.Store.
func (s *LedgerStore) InsertTransfer(ctx context.Context, t ledger.Transfer) error {
	err := s.transfers.insertOne(ctx, transferToDoc(t))
	if isDuplicate(err) {
		return ledger.ErrTransferExists
	}
	return err
}

// TransferByID implements ledger.Store.
func (s *LedgerStore) TransferByID(ctx context.Context, id string) (ledger.Transfer, error) {
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

// SetTransferState implements ledger.Store.
func (s *LedgerStore) SetTransferState(ctx context.Context, id string, from, to ledger.State, open bool, now time.Time) (bool, error) {
	n, err := s.transfers.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(from)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: string(to)}, {Key: "open", Value: open}, {Key: "updated_at", Value: now}}}},
		false)
	return n == 1, err
}

// RenewLease implements ledger.Store.
func (s *LedgerStore) RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error) {
	n, err := s.transfers.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "open", Value: true}, {Key: "lease_until", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: to}}}},
		false)
	return n == 1, err
}

// CloseTransfer implements ledger.Store.
func (s *LedgerStore) CloseTransfer(ctx context.Context, id string, now time.Time) error {
	_, err := s.transfers.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "open", Value: true}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "open", Value: false}, {Key: "updated_at", Value: now}}}},
		false)
	return err
}

// OpenTransfers implements ledger.Store.
func (s *LedgerStore) OpenTransfers(ctx context.Context, leaseBefore time.Time, limit int) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	err := each(ctx, s.transfers,
		bson.D{{Key: "open", Value: true}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: leaseBefore}}}},
		options.Find().SetSort(bson.D{{Key: "lease_until", Value: 1}}).SetLimit(int64(limit)),
		func(d transferDoc) error {
			out = append(out, transferFromDoc(d))
			return nil
		})
	return out, err
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

// InsertEntries implements ledger.Store.
func (s *LedgerStore) InsertEntries(ctx context.Context, entries []ledger.Entry) error {
	docs := make([]any, len(entries))
	for i, e := range entries {
		docs[i] = entryDoc{Op: e.Op, Account: e.Account, Amount: int64(e.Amount), CreatedAt: e.CreatedAt}
	}
	err := s.entries.insertMany(ctx, docs, false)
	if onlyDuplicates(err) {
		return nil
	}
	return err
}

// onlyDuplicates reports whether a bulk insert failed only because some
// documents already existed.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// ClearPending implements ledger.Store.
func (s *LedgerStore) ClearPending(ctx context.Context, op, account string) error {
	_, err := s.accounts.updateOne(ctx,
		bson.D{{Key: "_id", Value: account}, {Key: "pending", Value: op}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: op}}}}, false)
	return err
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
	var out []ledger.Account
	err := each(ctx, s.accounts, filter, nil, func(d accountDoc) error {
		out = append(out, accountFromDoc(d))
		return nil
	})
	return out, err
}

// EachAccount implements ledger.Store.
func (s *LedgerStore) EachAccount(ctx context.Context, fn func(ledger.Account) error) error {
	return each(ctx, s.accounts, bson.D{}, nil, func(d accountDoc) error { return fn(accountFromDoc(d)) })
}

// EachEntry implements ledger.Store.
func (s *LedgerStore) EachEntry(ctx context.Context, fn func(ledger.Entry) error) error {
	return each(ctx, s.entries, bson.D{}, nil, func(d entryDoc) error {
		return fn(ledger.Entry{Op: d.Op, Account: d.Account, Amount: money.Coins(d.Amount), CreatedAt: d.CreatedAt})
	})
}

// EachTransfer implements ledger.Store.
func (s *LedgerStore) EachTransfer(ctx context.Context, fn func(ledger.Transfer) error) error {
	return each(ctx, s.transfers, bson.D{}, nil, func(d transferDoc) error { return fn(transferFromDoc(d)) })
}
