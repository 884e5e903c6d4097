package withdrawal

import (
	"slices"
	"testing"
	"time"
)

func TestRiskScore(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name        string
		risk        Risk
		wantScore   int
		wantLevel   string
		wantReasons int
	}{
		{"established, paid by many funded buyers", Risk{AccountAge: 90 * day, Earned: 1000, PayingBuyers: 12}, 0, "low", 0},
		{"everything from buyers who never bought", Risk{AccountAge: 90 * day, Earned: 200, Unfunded: 200, PayingBuyers: 8}, 60, "high", 1},
		{"half of it", Risk{AccountAge: 90 * day, Earned: 200, Unfunded: 100, PayingBuyers: 8}, 30, "medium", 1},
		{"a little of it is not worth a reason", Risk{AccountAge: 90 * day, Earned: 200, Unfunded: 19, PayingBuyers: 8}, 0, "low", 0},
		{"an account of hours", Risk{AccountAge: 5 * time.Hour, Earned: 500, PayingBuyers: 5}, 25, "low", 1},
		{"an account of a week", Risk{AccountAge: 7 * day, Earned: 500, PayingBuyers: 5}, 10, "low", 1},
		{"paid by two buyers", Risk{AccountAge: 90 * day, Earned: 500, PayingBuyers: 2}, 15, "low", 1},
		{"never paid at all", Risk{AccountAge: 90 * day}, 0, "low", 0},
		// The scheme of the issue: four throwaway buyers' bonuses to a new worker.
		{"throwaway buyers' bonuses", Risk{AccountAge: time.Hour, Earned: 200, Unfunded: 200, PayingBuyers: 4}, 85, "high", 2},
		{"all at once, capped", Risk{AccountAge: time.Hour, Earned: 200, Unfunded: 200, PayingBuyers: 1}, 100, "high", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.risk
			r.score()
			if r.Score != tt.wantScore || r.Level() != tt.wantLevel || len(r.Reasons) != tt.wantReasons {
				t.Errorf("score %d %s, reasons %q; want %d %s with %d reasons", r.Score, r.Level(), r.Reasons, tt.wantScore, tt.wantLevel, tt.wantReasons)
			}
			if slices.Contains(r.Reasons, "") {
				t.Errorf("an empty reason in %q", r.Reasons)
			}
		})
	}
}
