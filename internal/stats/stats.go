// Package stats gathers the platform's figures for its administrators.
package stats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"microtask/internal/auth"
	"microtask/internal/money"
)

// Platform is the platform's figures.
type Platform struct {
	Workers            int64       // workers who are not deleted
	Buyers             int64       // buyers who are not deleted
	Coins              money.Coins // coins in users' accounts
	Payments           money.Cents // coin purchases through a real gateway, less refunds and disputes
	DummyPayments      money.Cents // "paid" through the dummy gateway: their buyers confirmed them, no money came in
	Payouts            money.Cents // approved withdrawals
	Margin             money.Cents // Payments - Payouts: what the platform holds
	PendingWithdrawals int64
	OpenTasks          int64
	PendingSubmissions int64
	OpenReports        int64
	ComputedAt         time.Time
}

// Store counts and sums what the figures need. storage.StatsStore
// implements it with indexed counts and sums.
type Store interface {
	CountUsers(ctx context.Context, role auth.Role) (int64, error)
	SumUserCoins(ctx context.Context) (money.Coins, error)
	// SumPaidPayments sums what the platform kept of the purchases: through
	// a real gateway (paid ones, and refunded ones less their refunds; a
	// disputed one counts nothing, the bank holds its money), and through
	// the dummy one.
	SumPaidPayments(ctx context.Context) (real, dummy money.Cents, err error)
	// SumPaidOut sums the approved withdrawals, each at the rate it was
	// asked for.
	SumPaidOut(ctx context.Context) (money.Cents, error)
	CountPendingWithdrawals(ctx context.Context) (int64, error)
	CountOpenTasks(ctx context.Context) (int64, error)
	CountPendingSubmissions(ctx context.Context) (int64, error)
	CountOpenReports(ctx context.Context) (int64, error)
}

// TTL is how long computed figures are served before they are computed
// again. The counts come from indexes, but the sums (coins in users'
// accounts, paid purchases) read every matching record; computing them at
// most this often keeps the endpoint's cost flat however often admins look
// and however large the platform grows. The figures carry their time.
const TTL = 30 * time.Second

// Service computes the figures.
type Service struct {
	figures Store
	now     func() time.Time

	mu     sync.Mutex
	cached Platform
}

// NewService returns a Service. now may be nil for time.Now.
func NewService(f Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{figures: f, now: now}
}

// Platform returns the platform's figures (admins only), computed at most
// TTL ago unless fresh.
func (s *Service) Platform(ctx context.Context, p auth.Principal, fresh bool) (Platform, error) {
	if !p.Is(auth.RoleAdmin) {
		return Platform{}, auth.ErrWrongRole
	}
	s.mu.Lock()
	defer s.mu.Unlock() // one computation at a time; the others wait for its result
	now := s.now().UTC()
	if !fresh && !s.cached.ComputedAt.IsZero() && now.Sub(s.cached.ComputedAt) < TTL {
		return s.cached, nil
	}
	st := Platform{ComputedAt: now.Truncate(time.Second)}
	var errs [9]error
	st.Workers, errs[0] = s.figures.CountUsers(ctx, auth.RoleWorker)
	st.Buyers, errs[1] = s.figures.CountUsers(ctx, auth.RoleBuyer)
	st.Coins, errs[2] = s.figures.SumUserCoins(ctx)
	st.Payments, st.DummyPayments, errs[3] = s.figures.SumPaidPayments(ctx)
	st.Payouts, errs[4] = s.figures.SumPaidOut(ctx)
	st.PendingWithdrawals, errs[5] = s.figures.CountPendingWithdrawals(ctx)
	st.OpenTasks, errs[6] = s.figures.CountOpenTasks(ctx)
	st.PendingSubmissions, errs[7] = s.figures.CountPendingSubmissions(ctx)
	st.OpenReports, errs[8] = s.figures.CountOpenReports(ctx)
	if err := errors.Join(errs[:]...); err != nil {
		return Platform{}, fmt.Errorf("compute platform figures: %w", err)
	}
	st.Margin = st.Payments - st.Payouts
	s.cached = st
	return st, nil
}
