package reputation_test

import (
	"testing"
	"time"

	"microtask/internal/reputation"
)

func TestBucket(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {15 * time.Minute, 0}, {15*time.Minute + time.Second, 1}, {time.Hour, 2},
		{72 * time.Hour, 9}, {168 * time.Hour, 11}, {169 * time.Hour, 12}, {-time.Minute, 0},
	} {
		if got := reputation.Bucket(tt.d); got != tt.want {
			t.Errorf("Bucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	if len(reputation.ReviewBounds)+1 != reputation.Buckets {
		t.Errorf("%d bounds for %d buckets", len(reputation.ReviewBounds), reputation.Buckets)
	}
}

func TestRates(t *testing.T) {
	var r reputation.Record
	if _, ok := r.ApprovalRate(); ok {
		t.Errorf("ApprovalRate() of no reviews is known")
	}
	if _, ok := r.MedianReviewTime(); ok {
		t.Errorf("MedianReviewTime() of no reviews is known")
	}
	r = reputation.Record{Approved: 3, Rejected: 1, BuyerApproved: 1, BuyerRejected: 1}
	if got, ok := r.ApprovalRate(); !ok || got != 0.75 {
		t.Errorf("ApprovalRate() = %v, %v; want 0.75", got, ok)
	}
	if got, ok := r.BuyerApprovalRate(); !ok || got != 0.5 {
		t.Errorf("BuyerApprovalRate() = %v, %v; want 0.5", got, ok)
	}
	for _, tt := range []struct {
		counts map[int]int64
		want   time.Duration
	}{
		{map[int]int64{2: 1}, time.Hour},
		{map[int]int64{0: 1, 5: 1}, 15 * time.Minute},               // the lower median of two
		{map[int]int64{0: 1, 5: 1, 9: 1}, 8 * time.Hour},            // the middle one
		{map[int]int64{0: 2, 12: 5}, 168 * time.Hour},               // past the last bound: a week or more
		{map[int]int64{1: 10, 3: 3, 7: 3, 10: 3}, 30 * time.Minute}, // most are quick
		{map[int]int64{1: 3, 3: 3, 7: 10, 10: 3}, 24 * time.Hour},   // most take a day
	} {
		var r reputation.Record
		for b, n := range tt.counts {
			r.ReviewTimes[b] = n
		}
		if got, ok := r.MedianReviewTime(); !ok || got != tt.want {
			t.Errorf("MedianReviewTime() of %v = %v, want %v", tt.counts, got, tt.want)
		}
	}
}
