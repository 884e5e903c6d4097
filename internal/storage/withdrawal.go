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
	"microtask/internal/withdrawal"
)

// WithdrawalStore keeps the withdrawals collection. It implements
// withdrawal.Store.
type WithdrawalStore struct {
	withdrawals docdb.Collection
}

// NewWithdrawalStore returns the withdrawals store on d.
func NewWithdrawalStore(d *docdb.DB) *WithdrawalStore {
	return &WithdrawalStore{withdrawals: d.Collection("withdrawals")}
}

var _ withdrawal.Store = (*WithdrawalStore)(nil)

type withdrawalDoc struct {
	ID            string     `bson:"_id"`
	WorkerID      string     `bson:"worker_id"`
	WorkerName    string     `bson:"worker_name"`
	WorkerEmail   string     `bson:"worker_email"`
	Coins         int64      `bson:"withdrawal_coin"`
	Amount        int64      `bson:"withdrawal_amount_cents"`
	System        string     `bson:"payment_system"`
	AccountNumber string     `bson:"account_number"`
	Status        string     `bson:"status"`
	Reason        string     `bson:"reason"`
	CreatedAt     time.Time  `bson:"created_at"`
	DecidedAt     *time.Time `bson:"decided_at,omitempty"`
	DecidedBy     string     `bson:"decided_by,omitempty"`
	Risk          *riskDoc   `bson:"risk,omitempty"`
	RiskScore     *int       `bson:"risk_score,omitempty"` // risk.score, at the top level for the in-memory copy's sort
	Ops           []string   `bson:"ops"`
}

// riskDoc is a withdrawal's risk as measured when it was requested.
type riskDoc struct {
	AccountAgeSeconds int64    `bson:"account_age_seconds"`
	Earned            int64    `bson:"earned"`
	Unfunded          int64    `bson:"unfunded"`
	PayingBuyers      int      `bson:"paying_buyers"`
	EmailVerified     bool     `bson:"email_verified,omitempty"`
	Score             int      `bson:"score"`
	Reasons           []string `bson:"reasons"`
}

func toRiskDoc(r *withdrawal.Risk) *riskDoc {
	if r == nil {
		return nil
	}
	return &riskDoc{AccountAgeSeconds: int64(r.AccountAge / time.Second), Earned: int64(r.Earned), Unfunded: int64(r.Unfunded),
		PayingBuyers: r.PayingBuyers, EmailVerified: r.EmailVerified, Score: r.Score, Reasons: r.Reasons}
}

func (d *riskDoc) risk() *withdrawal.Risk {
	if d == nil {
		return nil
	}
	return &withdrawal.Risk{AccountAge: time.Duration(d.AccountAgeSeconds) * time.Second, Earned: money.Coins(d.Earned),
		Unfunded: money.Coins(d.Unfunded), PayingBuyers: d.PayingBuyers, EmailVerified: d.EmailVerified, Score: d.Score, Reasons: d.Reasons}
}

func withdrawalFromDoc(d withdrawalDoc) withdrawal.Withdrawal {
	w := withdrawal.Withdrawal{
		ID: d.ID, Worker: withdrawal.Worker{ID: d.WorkerID, Name: d.WorkerName, Email: d.WorkerEmail},
		Coins: money.Coins(d.Coins), Amount: money.Cents(d.Amount), System: d.System, AccountNumber: d.AccountNumber,
		Status: withdrawal.Status(d.Status), Reason: d.Reason, CreatedAt: d.CreatedAt, Risk: d.Risk.risk(), DecidedBy: d.DecidedBy,
	}
	if d.DecidedAt != nil {
		w.DecidedAt = *d.DecidedAt
	}
	return w
}

// Insert implements withdrawal.Store.
func (s *WithdrawalStore) Insert(ctx context.Context, w withdrawal.Withdrawal) error {
	doc := withdrawalDoc{
		ID: w.ID, WorkerID: w.Worker.ID, WorkerName: w.Worker.Name, WorkerEmail: w.Worker.Email,
		Coins: int64(w.Coins), Amount: int64(w.Amount), System: w.System, AccountNumber: w.AccountNumber,
		Status: string(w.Status), CreatedAt: w.CreatedAt, Risk: toRiskDoc(w.Risk), Ops: []string{},
	}
	if w.Risk != nil {
		doc.RiskScore = &w.Risk.Score
	}
	err := s.withdrawals.InsertOne(ctx, doc)
	if docdb.IsDuplicate(err) {
		return nil // inserted by an earlier attempt of the same operation
	}
	return err
}

// ByID implements withdrawal.Store.
func (s *WithdrawalStore) ByID(ctx context.Context, id string) (withdrawal.Withdrawal, error) {
	var d withdrawalDoc
	err := s.withdrawals.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return withdrawal.Withdrawal{}, withdrawal.ErrNotFound
	}
	return withdrawalFromDoc(d), err
}

// ListByWorker implements withdrawal.Store: one find and one count.
// List implements withdrawal.Store.
func (s *WithdrawalStore) List(ctx context.Context, f withdrawal.Filter, p page.Request) ([]withdrawal.Withdrawal, int64, error) {
	q := bson.D{}
	if f.WorkerID != "" {
		q = append(q, bson.E{Key: "worker_id", Value: f.WorkerID})
	}
	if f.Status != "" {
		q = append(q, bson.E{Key: "status", Value: string(f.Status)})
	}
	return docdb.FindPage(ctx, s.withdrawals, q, newestFirst, p, withdrawalFromDoc)
}

// ListByWorker implements withdrawal.Store.
func (s *WithdrawalStore) ListByWorker(ctx context.Context, workerID string, p page.Request) ([]withdrawal.Withdrawal, int64, error) {
	return docdb.FindPage(ctx, s.withdrawals, bson.D{{Key: "worker_id", Value: workerID}}, newestFirst, p, withdrawalFromDoc)
}

// ListPending implements withdrawal.Store: one find and one count.
func (s *WithdrawalStore) ListPending(ctx context.Context, order withdrawal.Order, p page.Request) ([]withdrawal.Withdrawal, int64, error) {
	sort := bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}
	if order == withdrawal.RiskFirst {
		// Withdrawals from before risk was measured have none: they sort last.
		sort = slices.Insert(sort, 0, bson.E{Key: "risk_score", Value: -1})
	}
	return docdb.FindPage(ctx, s.withdrawals, bson.D{{Key: "status", Value: string(withdrawal.StatusPending)}}, sort, p, withdrawalFromDoc)
}

// Decide implements withdrawal.Store.
func (s *WithdrawalStore) Decide(ctx context.Context, dec withdrawal.Decision) (bool, error) {
	return docdb.CommitOnce(ctx, s.withdrawals, dec.ID,
		bson.D{{Key: "_id", Value: dec.ID}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: dec.Op}}}, {Key: "status", Value: string(withdrawal.StatusPending)}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: string(dec.To)}, {Key: "reason", Value: dec.Reason}, {Key: "decided_at", Value: dec.At}, {Key: "decided_by", Value: dec.By}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: dec.Op}}},
		},
		func(d withdrawalDoc) bool { return slices.Contains(d.Ops, dec.Op) })
}

// HeldCoins implements user.Holds: the coins of the users' pending
// withdrawals, in one read (through the worker_id index).
func (s *WithdrawalStore) HeldCoins(ctx context.Context, userIDs []string) (map[string]money.Coins, error) {
	held := make(map[string]money.Coins, len(userIDs))
	err := docdb.Each(ctx, s.withdrawals, bson.D{
		{Key: "worker_id", Value: bson.D{{Key: "$in", Value: userIDs}}},
		{Key: "status", Value: string(withdrawal.StatusPending)},
	}, docdb.Query{}, func(d withdrawalDoc) error {
		held[d.WorkerID] += money.Coins(d.Coins)
		return nil
	})
	return held, err
}
