package withdrawal

import (
	"context"
	"fmt"
	"slices"
	"time"

	"microtask/internal/money"
)

// Risk is what an admin weighs before paying a withdrawal out, measured
// when the worker asked. Sign-up bonuses are free coins: a few throwaway
// buyers can pay them to one worker for trivial tasks, who then cashes
// them out. What gives that away is where the worker's earnings came from.
type Risk struct {
	AccountAge   time.Duration
	Earned       money.Coins // paid to the worker by approved submissions
	Unfunded     money.Coins // of Earned, paid by buyers who never paid real money for coins (bonuses, the dummy gateway)
	PayingBuyers int         // distinct buyers who paid the worker
	// EmailVerified says the worker had proved their email when they asked:
	// shown to the admin, not scored (accounts from before verification
	// existed have not).
	EmailVerified bool
	Score         int      // 0 (nothing stands out) to 100
	Reasons       []string // what raised the score, for the admin
}

// Level names a score's band.
func (r Risk) Level() string {
	switch {
	case r.Score >= 60:
		return "high"
	case r.Score >= 30:
		return "medium"
	}
	return "low"
}

// UnfundedShare is the percentage of the earnings that buyers who never
// paid real money for coins paid.
func (r Risk) UnfundedShare() int {
	if r.Earned <= 0 {
		return 0
	}
	return int(r.Unfunded * 100 / r.Earned)
}

// Earnings tells who paid a worker; storage.SubmissionStore implements it.
type Earnings interface {
	// PaidBy returns the coins the worker's approved submissions earned,
	// by buyer.
	PaidBy(ctx context.Context, workerID string) (map[string]money.Coins, error)
}

// Purchases tells which buyers bought coins; storage.PaymentStore
// implements it.
type Purchases interface {
	// Purchasers returns those of the buyers with a paid purchase through a
	// real gateway (the dummy gateway's coins were never paid for).
	Purchasers(ctx context.Context, buyerIDs []string) (map[string]bool, error)
}

// The weights of the score. Every part is explained by a reason; the
// thresholds are where a throwaway-account scheme sits, not a model.
const (
	unfundedWeight   = 60 // times the unfunded share
	youngAccount     = 3 * 24 * time.Hour
	newAccount       = 14 * 24 * time.Hour
	fewPayingBuyers  = 2
	youngWeight      = 25
	newWeight        = 10
	fewBuyersWeight  = 15
	reasonShareFloor = 10 // an unfunded share below this percentage is not worth a reason
)

// assess computes the risk of a withdrawal by a worker whose account was
// created at since.
func (s *Service) assess(ctx context.Context, workerID string, since time.Time) (Risk, error) {
	paid, err := s.earnings.PaidBy(ctx, workerID)
	if err != nil {
		return Risk{}, fmt.Errorf("earnings of %s: %w", workerID, err)
	}
	buyers := make([]string, 0, len(paid))
	for b := range paid {
		buyers = append(buyers, b)
	}
	slices.Sort(buyers)
	funded := map[string]bool{}
	if len(buyers) > 0 {
		if funded, err = s.purchases.Purchasers(ctx, buyers); err != nil {
			return Risk{}, fmt.Errorf("purchasers: %w", err)
		}
	}
	r := Risk{AccountAge: s.clock().Sub(since), PayingBuyers: len(buyers)}
	for _, b := range buyers {
		r.Earned += paid[b]
		if !funded[b] {
			r.Unfunded += paid[b]
		}
	}
	r.score()
	return r, nil
}

// score sets r's score and reasons from its measures.
func (r *Risk) score() {
	r.Score, r.Reasons = 0, []string{}
	add := func(points int, reason string, args ...any) {
		r.Score += points
		r.Reasons = append(r.Reasons, fmt.Sprintf(reason, args...))
	}
	if share := r.UnfundedShare(); share >= reasonShareFloor {
		// Not "never bought coins": a buyer may have bought them through the
		// dummy gateway, which takes no money.
		add(unfundedWeight*share/100, "%d%% of the worker's earnings came from buyers who never paid real money for coins "+
			"(they had only sign-up bonuses, or coins from the dummy gateway)", share)
	}
	switch {
	case r.AccountAge < youngAccount:
		add(youngWeight, "the account is %s old", age(r.AccountAge))
	case r.AccountAge < newAccount:
		add(newWeight, "the account is %s old", age(r.AccountAge))
	}
	if r.Earned > 0 && r.PayingBuyers <= fewPayingBuyers {
		add(fewBuyersWeight, "the worker was paid by %d buyer(s) only", r.PayingBuyers)
	}
	r.Score = min(r.Score, 100)
}

// age says how old an account is, to the day, or in hours within its first.
func age(d time.Duration) string {
	switch h := int(d.Hours()); {
	case h < 1:
		return "less than an hour"
	case h == 1:
		return "1 hour"
	case h < 24:
		return fmt.Sprintf("%d hours", h)
	case h < 48:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", h/24)
	}
}
