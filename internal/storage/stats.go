package storage

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/money"
	"microtask/internal/payment"
	"microtask/internal/stats"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/withdrawal"
)

// StatsStore counts and sums across collections for the admins' stats. It
// implements stats.Store; each figure is one indexed count or sum.
type StatsStore struct {
	users       *UserStore
	reports     *ReportStore
	accounts    docdb.Collection
	payments    docdb.Collection
	withdrawals docdb.Collection
	tasks       docdb.Collection
	submissions docdb.Collection
}

// NewStatsStore returns the stats store on d.
func NewStatsStore(d *docdb.DB) *StatsStore {
	return &StatsStore{
		users: NewUserStore(d), reports: NewReportStore(d),
		accounts: d.Collection("accounts"), payments: d.Collection("payments"), withdrawals: d.Collection("withdrawals"),
		tasks: d.Collection("tasks"), submissions: d.Collection("submissions"),
	}
}

var _ stats.Store = (*StatsStore)(nil)

// CountUsers implements stats.Store.
func (s *StatsStore) CountUsers(ctx context.Context, role auth.Role) (int64, error) {
	return s.users.CountByRole(ctx, role)
}

// SumUserCoins implements stats.Store.
func (s *StatsStore) SumUserCoins(ctx context.Context) (money.Coins, error) {
	n, err := s.accounts.Sum(ctx, bson.D{{Key: "kind", Value: "user"}}, "balance")
	return money.Coins(n), err
}

// SumPaidPayments implements stats.Store: the prices of the purchases paid
// or refunded in part, less their refunds, in three sums.
func (s *StatsStore) SumPaidPayments(ctx context.Context) (real, dummy money.Cents, err error) {
	sum := func(statuses []payment.Status, provider bson.D, field string) (money.Cents, error) {
		in := make(bson.A, len(statuses))
		for i, st := range statuses {
			in[i] = string(st)
		}
		n, err := s.payments.Sum(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: in}}}, {Key: "provider", Value: provider}}, field)
		return money.Cents(n), err
	}
	kept := []payment.Status{payment.StatusPaid, payment.StatusRefunded}
	notDummy := bson.D{{Key: "$ne", Value: payment.DummyProvider}}
	if real, err = sum(kept, notDummy, "amount_cents"); err != nil {
		return 0, 0, err
	}
	refunds, err := sum([]payment.Status{payment.StatusRefunded}, notDummy, "refunded_cents")
	if err != nil {
		return 0, 0, err
	}
	// The dummy gateway has no refunds.
	dummy, err = sum([]payment.Status{payment.StatusPaid}, bson.D{{Key: "$eq", Value: payment.DummyProvider}}, "amount_cents")
	return real - refunds, dummy, err
}

// SumPaidOut implements stats.Store.
func (s *StatsStore) SumPaidOut(ctx context.Context) (money.Cents, error) {
	n, err := s.withdrawals.Sum(ctx, bson.D{{Key: "status", Value: string(withdrawal.StatusApproved)}}, "withdrawal_amount_cents")
	return money.Cents(n), err
}

// CountPendingWithdrawals implements stats.Store.
func (s *StatsStore) CountPendingWithdrawals(ctx context.Context) (int64, error) {
	return s.withdrawals.Count(ctx, bson.D{{Key: "status", Value: string(withdrawal.StatusPending)}})
}

// CountOpenTasks implements stats.Store.
func (s *StatsStore) CountOpenTasks(ctx context.Context) (int64, error) {
	return s.tasks.Count(ctx, bson.D{{Key: "status", Value: string(task.StatusOpen)}})
}

// CountPendingSubmissions implements stats.Store.
func (s *StatsStore) CountPendingSubmissions(ctx context.Context) (int64, error) {
	return s.submissions.Count(ctx, bson.D{{Key: "status", Value: string(submission.StatusPending)}})
}

// CountOpenReports implements stats.Store.
func (s *StatsStore) CountOpenReports(ctx context.Context) (int64, error) {
	return s.reports.CountOpen(ctx)
}
