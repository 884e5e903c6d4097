package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"microtask/internal/ledger"
	"microtask/internal/money"
)

// LedgerStore keeps the ledger's accounts, transfers and entries. It
// implements ledger.Store.
//
// Collections: accounts; transfer_runs (transfers in flight, small and
// updated); transfers (the journal), transfer_outcomes and entries, which grow
// with every operation and are only ever inserted into.
type LedgerStore struct {
	accounts collection
	runs     collection
	journal  collection
	outcomes collection
	entries  collection
}

// NewLedgerStore returns the ledger's store on d.
func NewLedgerStore(d *DB) *LedgerStore {
	return &LedgerStore{
		accounts: d.collection("accounts"),
		runs:     d.collection("transfer_runs"),
		journal:  d.collection("transfers"),
		outcomes: d.collection("transfer_outcomes"),
		entries:  d.collection("entries"),
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

// runDoc is a transfer in flight.
type runDoc struct {
	ID         string            `bson:"_id"`
	Postings   []postingDoc      `bson:"postings"`
	Meta       map[string]string `bson:"meta,omitempty"`
	Private    map[string]string `bson:"private,omitempty"`
	Hooked     bool              `bson:"hooked"`
	State      string            `bson:"state"`
	LeaseUntil time.Time         `bson:"lease_until"`
	CreatedAt  time.Time         `bson:"created_at"`
	UpdatedAt  time.Time         `bson:"updated_at"`
}

// journalDoc is the permanent record of a transfer.
type journalDoc struct {
	ID        string            `bson:"_id"`
	Postings  []postingDoc      `bson:"postings"`
	Meta      map[string]string `bson:"meta,omitempty"`
	Hooked    bool              `bson:"hooked"`
	CreatedAt time.Time         `bson:"created_at"`
}

// outcomeDoc is how a transfer ended.
type outcomeDoc struct {
	ID      string    `bson:"_id"`
	State   string    `bson:"state"`
	EndedAt time.Time `bson:"ended_at"`
}

type entryDoc struct {
	ID        bson.ObjectID `bson:"_id,omitempty"`
	Op        string        `bson:"op"`
	Account   string        `bson:"account"`
	Amount    int64         `bson:"amount"`
	CreatedAt time.Time     `bson:"created_at"`
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

func runFromDoc(d runDoc) ledger.Transfer {
	return ledger.Transfer{ID: d.ID, Postings: postingsFromDocs(d.Postings), Meta: d.Meta, Private: d.Private,
		Hooked: d.Hooked, State: ledger.State(d.State), Open: true, LeaseUntil: d.LeaseUntil, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func finishedFromDocs(j journalDoc, o outcomeDoc) ledger.Transfer {
	return ledger.Transfer{ID: j.ID, Postings: postingsFromDocs(j.Postings), Meta: j.Meta, Hooked: j.Hooked,
		State: ledger.State(o.State), CreatedAt: j.CreatedAt, UpdatedAt: o.EndedAt}
}

func accountFromDoc(d accountDoc) ledger.Account {
	return ledger.Account{Name: d.ID, Balance: money.Coins(d.Balance), Pending: d.Pending}
}

// InsertRun implements ledger.Store.
func (s *LedgerStore) InsertRun(ctx context.Context, t ledger.Transfer) error {
	err := s.runs.insertOne(ctx, runDoc{ID: t.ID, Postings: postingsToDocs(t.Postings), Meta: t.Meta, Private: t.Private, Hooked: t.Hooked,
		State: string(t.State), LeaseUntil: t.LeaseUntil, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
	if isDuplicate(err) {
		return ledger.ErrTransferExists
	}
	return err
}

// Run implements ledger.Store.
func (s *LedgerStore) Run(ctx context.Context, id string) (ledger.Transfer, error) {
	var d runDoc
	err := s.runs.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, errNoDocument) {
		return ledger.Transfer{}, ledger.ErrTransferNotFound
	}
	if err != nil {
		return ledger.Transfer{}, err
	}
	return runFromDoc(d), nil
}

// SetRunState implements ledger.Store.
func (s *LedgerStore) SetRunState(ctx context.Context, id string, from, to ledger.State, now time.Time) (bool, error) {
	n, err := s.runs.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: string(from)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: string(to)}, {Key: "updated_at", Value: now}}}},
		false)
	return n == 1, err
}

// RenewLease implements ledger.Store.
func (s *LedgerStore) RenewLease(ctx context.Context, id string, from, to time.Time) (bool, error) {
	n, err := s.runs.updateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "lease_until", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_until", Value: to}}}},
		false)
	return n == 1, err
}

// DeleteRun implements ledger.Store.
func (s *LedgerStore) DeleteRun(ctx context.Context, id string) error {
	_, err := s.runs.deleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// ExpiredRuns implements ledger.Store.
func (s *LedgerStore) ExpiredRuns(ctx context.Context, leaseBefore time.Time, limit int) ([]ledger.Transfer, error) {
	return findAll(ctx, s.runs,
		bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: leaseBefore}}}},
		query{sort: bson.D{{Key: "lease_until", Value: 1}}, limit: int64(limit)},
		runFromDoc)
}

// InsertJournal implements ledger.Store.
func (s *LedgerStore) InsertJournal(ctx context.Context, t ledger.Transfer) error {
	err := s.journal.insertOne(ctx, journalDoc{ID: t.ID, Postings: postingsToDocs(t.Postings), Meta: t.Meta,
		Hooked: t.Hooked, CreatedAt: t.CreatedAt})
	if isDuplicate(err) {
		return ledger.ErrTransferExists
	}
	return err
}

// DeleteJournal implements ledger.Store.
func (s *LedgerStore) DeleteJournal(ctx context.Context, id string) error {
	_, err := s.journal.deleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// RecordOutcome implements ledger.Store.
func (s *LedgerStore) RecordOutcome(ctx context.Context, id string, state ledger.State, now time.Time) (ledger.State, error) {
	err := s.outcomes.insertOne(ctx, outcomeDoc{ID: id, State: string(state), EndedAt: now})
	if err == nil {
		return state, nil
	}
	if !isDuplicate(err) {
		return "", err
	}
	var d outcomeDoc
	if err := s.outcomes.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return "", err
	}
	return ledger.State(d.State), nil
}

// Finished implements ledger.Store.
func (s *LedgerStore) Finished(ctx context.Context, id string) (ledger.Transfer, error) {
	var o outcomeDoc
	err := s.outcomes.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &o)
	if errors.Is(err, errNoDocument) {
		return ledger.Transfer{}, ledger.ErrTransferNotFound
	}
	if err != nil {
		return ledger.Transfer{}, err
	}
	var j journalDoc
	if err := s.journal.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &j); err != nil {
		return ledger.Transfer{}, fmt.Errorf("journal record of %s: %w", id, err)
	}
	return finishedFromDocs(j, o), nil
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
	if len(entries) == 0 {
		return nil
	}
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

// EachEntry implements ledger.Store.
func (s *LedgerStore) EachEntry(ctx context.Context, fn func(ledger.Entry) error) error {
	return each(ctx, s.entries, bson.D{}, query{}, func(d entryDoc) error {
		return fn(ledger.Entry{Op: d.Op, Account: d.Account, Amount: money.Coins(d.Amount), CreatedAt: d.CreatedAt})
	})
}

// EachTransfer implements ledger.Store. A journal record with neither a run
// nor an outcome (which the protocol never leaves) is passed on with an empty
// State for the audit to report.
func (s *LedgerStore) EachTransfer(ctx context.Context, fn func(ledger.Transfer) error) error {
	runs := map[string]runDoc{}
	if err := each(ctx, s.runs, bson.D{}, query{}, func(d runDoc) error { runs[d.ID] = d; return nil }); err != nil {
		return err
	}
	outcomes := map[string]outcomeDoc{}
	if err := each(ctx, s.outcomes, bson.D{}, query{}, func(d outcomeDoc) error { outcomes[d.ID] = d; return nil }); err != nil {
		return err
	}
	err := each(ctx, s.journal, bson.D{}, query{}, func(j journalDoc) error {
		if o, ok := outcomes[j.ID]; ok {
			return fn(finishedFromDocs(j, o))
		}
		if r, ok := runs[j.ID]; ok {
			delete(runs, j.ID)
			return fn(runFromDoc(r))
		}
		return fn(ledger.Transfer{ID: j.ID, Postings: postingsFromDocs(j.Postings), CreatedAt: j.CreatedAt})
	})
	if err != nil {
		return err
	}
	for _, r := range runs { // started but not yet journaled
		if _, ended := outcomes[r.ID]; !ended {
			if err := fn(runFromDoc(r)); err != nil {
				return err
			}
		}
	}
	return nil
}
