// Package reputation keeps each user's track record, both ways: a worker's
// approved, rejected and revised work, shown to the buyers who review it,
// and a buyer's tasks posted, approvals and review times, shown to the
// workers on every task; the stars of the reviews others wrote about the
// user (their rating); and a worker's level, worked out of all of it.
//
// A record is counters on one document per user, added to by the
// operations that review work and post tasks, in their settle steps, and
// by the counting of reviews once they are visible: a page of 100 tasks or
// submissions reads the records of its users in one command, whatever
// their number. Settle steps may run again after a crash, so each addition
// is recorded with its operation (a bounded list of the latest, see
// Store.Add) and made once.
//
// A worker's standing (level, rating, approved work) is worked out after
// the counters change, in the background (Service.Refresh): an addition
// that changes it marks the record in the same write, so that an approval
// costs no more commands than before, and the marks survive a crash. The
// standing is then copied where lists filter on it (Members.SetStanding).
package reputation

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// ReviewBounds are the upper bounds of the buckets of the review-time
// histogram: a review that took d falls in the first bucket whose bound is
// at least d, or in the last one, past the final bound. Fixed buckets keep
// a buyer's record the same size however many reviews they make; the
// median is known to its bucket.
var ReviewBounds = []time.Duration{
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 96 * time.Hour, 168 * time.Hour,
}

// Buckets is the number of buckets of the histogram: one per bound, and
// one past the last.
const Buckets = 13

// Bucket returns the bucket of a review that took d.
func Bucket(d time.Duration) int {
	for i, b := range ReviewBounds {
		if d <= b {
			return i
		}
	}
	return Buckets - 1
}

// Record is a user's track record.
type Record struct {
	UserID string
	// As a worker: their reviewed submissions.
	Approved, Rejected, Revisions int64
	// As a buyer: their tasks, the submissions they (or the auto-approval)
	// reviewed, and how long each review took, as a histogram.
	TasksPosted                  int64
	BuyerApproved, BuyerRejected int64
	ReviewTimes                  [Buckets]int64
	// Stars counts the reviews about the user that count in their rating
	// (visible, not removed), by stars: Stars[0] those of one star.
	Stars [MaxStars]int64
	// Level is the worker's level (0 to len(Levels)) as Refresh last worked
	// it out; 0 for everyone else.
	Level int
}

// MaxStars is the most stars a review gives; the fewest is one.
const MaxStars = 5

// Rating is the average of the stars counted and their number; ok is false
// before any review counts.
func (r Record) Rating() (average float64, count int64, ok bool) {
	var sum int64
	for i, n := range r.Stars {
		count += n
		sum += int64(i+1) * n
	}
	if count <= 0 {
		return 0, 0, false
	}
	return float64(sum) / float64(count), count, true
}

// ApprovalRate is the share of the worker's reviewed submissions that were
// approved; false before any was reviewed.
func (r Record) ApprovalRate() (float64, bool) { return rate(r.Approved, r.Rejected) }

// BuyerApprovalRate is the share of the submissions to the buyer's tasks
// that were approved once reviewed; false before any was.
func (r Record) BuyerApprovalRate() (float64, bool) { return rate(r.BuyerApproved, r.BuyerRejected) }

func rate(approved, rejected int64) (float64, bool) {
	if approved+rejected <= 0 {
		return 0, false
	}
	return float64(approved) / float64(approved+rejected), true
}

// MedianReviewTime is the bound of the histogram bucket holding the
// buyer's median review time: half of their reviews took at most this
// long. Past the last bound it is that bound (a week or more). False
// before any review.
func (r Record) MedianReviewTime() (time.Duration, bool) {
	var n int64
	for _, c := range r.ReviewTimes {
		n += c
	}
	if n <= 0 {
		return 0, false
	}
	var seen int64
	for i, c := range r.ReviewTimes {
		if seen += c; 2*seen >= n {
			return ReviewBounds[min(i, len(ReviewBounds)-1)], true
		}
	}
	return ReviewBounds[len(ReviewBounds)-1], true
}

// Change is what an operation adds to one record.
type Change struct {
	Approved, Rejected, Revisions             int64
	TasksPosted, BuyerApproved, BuyerRejected int64
	ReviewBucket                              int // the bucket of a review time to count, or -1
	// Stars counts a review of that many stars in the rating (1 to
	// MaxStars), or takes one out (-1 to -MaxStars); 0 for none.
	Stars int
}

// Work says whether c changes the worker's reviewed work, from which a level
// may rise.
func (c Change) Work() bool { return c.Approved != 0 || c.Rejected != 0 }

// Standing says whether c changes what a standing is worked out of: the
// reviewed work and the rating.
func (c Change) Standing() bool { return c.Work() || c.Stars != 0 }

// Store keeps the records. storage.RecordStore implements it.
type Store interface {
	// Add adds c to the user's record once for operation op: adding again
	// for the same op changes nothing while op is among the record's latest
	// operations, which is at least the last 128.
	Add(ctx context.Context, op, userID string, c Change) error
	// ByIDs returns the records of those users that have one.
	ByIDs(ctx context.Context, ids []string) ([]Record, error)
	// TopApproved returns up to limit records with approved work, the most
	// first.
	TopApproved(ctx context.Context, limit int) ([]Record, error)
	// Changed returns up to limit records whose standing is to be worked
	// out again: an addition that changed it (Change.Standing) marked them,
	// in the same write.
	Changed(ctx context.Context, limit int) ([]Changed, error)
	// SetLevel records the level worked out of the record as it was at
	// seq, and that its standing is worked out. False, and nothing
	// written, if the record changed since.
	SetLevel(ctx context.Context, userID string, seq int64, level int) (bool, error)
}

// Changed is a record whose standing is to be worked out again.
type Changed struct {
	Record
	Seq  int64 // counts the record's additions: SetLevel's guard
	Work bool  // reviewed work changed since the standing was last worked out, not only the rating
}

// Standing is what lists of tasks and of workers filter and sort on, kept
// with the user (Members.SetStanding): the worker's level, rating and
// approved work.
type Standing struct {
	Level    int
	Rating   float64 // the average of the stars; 0 before any review counts
	Reviews  int64   // how many reviews the rating counts
	Approved int64
}

// Member is what the records need to know of a user.
type Member struct {
	Since  time.Time // when the account was created
	Worker bool      // only workers have levels
}

// Members tells about the users behind records and keeps a copy of their
// standing with them; user.Service implements it, through the wiring.
type Members interface {
	// Members returns those of ids that are users.
	Members(ctx context.Context, ids []string) (map[string]Member, error)
	// SetStanding gives the user st, worked out of their record as it was
	// at seq, unless they have one worked out of a later state.
	SetStanding(ctx context.Context, userID string, st Standing, seq int64) error
}

// Service keeps the records.
type Service struct {
	store   Store
	members Members
	log     *slog.Logger
	now     func() time.Time
	// changed wakes RunRefresh when this process changed a standing.
	changed chan struct{}
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Members Members
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, members: d.Members, log: d.Log, now: now, changed: make(chan struct{}, 1)}
}

// Reviewed counts a review by operation op: the worker's submission
// approved or rejected, and on the buyer's side too, with the time from
// submission to review.
func (s *Service) Reviewed(ctx context.Context, op, workerID, buyerID string, approved bool, took time.Duration) error {
	w, b := Change{ReviewBucket: -1}, Change{ReviewBucket: Bucket(took)}
	if approved {
		w.Approved, b.BuyerApproved = 1, 1
	} else {
		w.Rejected, b.BuyerRejected = 1, 1
	}
	if err := s.add(ctx, op, workerID, w); err != nil {
		return err
	}
	return s.add(ctx, op, buyerID, b)
}

// Overturned counts a rejection overturned on a dispute as an approval:
// its review time was counted when it was rejected.
func (s *Service) Overturned(ctx context.Context, op, workerID, buyerID string) error {
	if err := s.add(ctx, op, workerID, Change{Approved: 1, Rejected: -1, ReviewBucket: -1}); err != nil {
		return err
	}
	return s.add(ctx, op, buyerID, Change{BuyerApproved: 1, BuyerRejected: -1, ReviewBucket: -1})
}

// RevisionRequested counts a revision the buyer asked of the worker, named
// by op (the submission's one request).
func (s *Service) RevisionRequested(ctx context.Context, op, workerID string) error {
	return s.add(ctx, op, workerID, Change{Revisions: 1, ReviewBucket: -1})
}

// TaskPosted counts a buyer's new task, posted by operation op.
func (s *Service) TaskPosted(ctx context.Context, op, buyerID string) error {
	return s.add(ctx, op, buyerID, Change{TasksPosted: 1, ReviewBucket: -1})
}

// Rated counts a review of stars (1 to MaxStars) about the user in their
// rating, by operation op (the review's counting).
func (s *Service) Rated(ctx context.Context, op, userID string, stars int) error {
	if stars < 1 || stars > MaxStars {
		return fmt.Errorf("count a review of %d stars: out of range", stars)
	}
	return s.add(ctx, op, userID, Change{Stars: stars, ReviewBucket: -1})
}

// Unrated takes a review of stars counted before out of the user's rating,
// by operation op (the review's removal).
func (s *Service) Unrated(ctx context.Context, op, userID string, stars int) error {
	if stars < 1 || stars > MaxStars {
		return fmt.Errorf("take out a review of %d stars: out of range", stars)
	}
	return s.add(ctx, op, userID, Change{Stars: -stars, ReviewBucket: -1})
}

// TasksPosted counts n new tasks of a buyer, posted together by operation
// op (a batch), once.
func (s *Service) TasksPosted(ctx context.Context, op, buyerID string, n int) error {
	return s.add(ctx, op, buyerID, Change{TasksPosted: int64(n), ReviewBucket: -1})
}

// add counts c, by operation op, in the record of the user.
func (s *Service) add(ctx context.Context, op, userID string, c Change) error {
	if err := s.store.Add(ctx, op, userID, c); err != nil {
		return fmt.Errorf("count %s in the record of user %s: %w", op, userID, err)
	}
	if c.Standing() {
		select { // wake RunRefresh, unless a wake-up is pending already
		case s.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// Records returns the records of the users, by id, in one read; a user
// without one has an empty record.
func (s *Service) Records(ctx context.Context, ids []string) (map[string]Record, error) {
	out := make(map[string]Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recs, err := s.store.ByIDs(ctx, dedup(ids))
	if err != nil {
		return nil, fmt.Errorf("read the records of %d users: %w", len(ids), err)
	}
	for _, r := range recs {
		out[r.UserID] = r
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = Record{UserID: id}
		}
	}
	return out, nil
}

// TopApproved returns the ids of up to limit users with the most approved
// work, the most first.
func (s *Service) TopApproved(ctx context.Context, limit int) ([]string, error) {
	recs, err := s.store.TopApproved(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("read the %d records with most approved work: %w", limit, err)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.UserID
	}
	return ids, nil
}

func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
