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

func TestRating(t *testing.T) {
	var r reputation.Record
	if _, _, ok := r.Rating(); ok {
		t.Errorf("Rating() of no reviews is known")
	}
	r.Stars = [reputation.MaxStars]int64{1, 0, 0, 1, 2} // 1, 4, 5, 5
	if avg, n, ok := r.Rating(); !ok || avg != 3.75 || n != 4 {
		t.Errorf("Rating() = %v, %d, %v; want 3.75, 4", avg, n, ok)
	}
}

// TestLevelOf: the highest level whose every bound the record meets, each
// bound missed by one.
func TestLevelOf(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rec := func(approved, rejected int64, stars ...int64) reputation.Record {
		r := reputation.Record{Approved: approved, Rejected: rejected}
		copy(r.Stars[:], stars)
		return r
	}
	for _, tt := range []struct {
		name string
		r    reputation.Record
		age  time.Duration
		want int
	}{
		{"nothing", rec(0, 0), 0, 0},
		{"9 approved", rec(9, 0), 0, 0},
		{"10 approved", rec(10, 0), 0, 1},
		{"10 approved at 80%", rec(12, 3), 0, 1},
		{"10 approved under 80%", rec(12, 4), 0, 0},
		{"level 2", rec(100, 10, 0, 0, 0, 5, 0), 30 * day, 2},
		{"level 2 a day too young", rec(100, 10, 0, 0, 0, 5, 0), 29 * day, 1},
		{"level 2 with 4 reviews", rec(100, 10, 0, 0, 0, 4, 0), 30 * day, 1},
		{"level 2 rated under 4", rec(100, 10, 0, 0, 1, 4, 0), 30 * day, 1},
		{"level 2 under 90%", rec(100, 12, 0, 0, 0, 5, 0), 30 * day, 1},
		{"level 3", rec(500, 25, 0, 0, 0, 10, 10), 90 * day, 3},
		{"level 3 rated under 4.5", rec(500, 25, 0, 0, 0, 11, 9), 90 * day, 2},
		{"level 3 with 19 reviews", rec(500, 25, 0, 0, 0, 9, 10), 90 * day, 2},
		{"level 3 too young", rec(500, 25, 0, 0, 0, 10, 10), 89 * day, 2},
	} {
		if got := reputation.LevelOf(tt.r, since, since.Add(tt.age)); got != tt.want {
			t.Errorf("%s: LevelOf() = %d, want %d", tt.name, got, tt.want)
		}
	}
	for i, u := range reputation.Levels {
		if u.Level != i+1 || (u.MinRating > 0 && u.MinReviews < 1) {
			t.Errorf("Levels[%d] = %+v: levels go up by one, and a rating bound needs reviews", i, u)
		}
	}
	if reputation.Levels[len(reputation.Levels)-1].Level != reputation.MaxLevel {
		t.Errorf("the last level is not MaxLevel")
	}
}
