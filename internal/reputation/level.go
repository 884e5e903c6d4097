package reputation

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rule is what a worker needs for a level: every bound at once.
type Rule struct {
	Level           int
	MinApproved     int64   // approved submissions
	MinApprovalRate float64 // of the reviewed ones, 0 to 1
	MinRating       float64 // the average of the stars; 0: none
	MinReviews      int64   // reviews counted in the rating
	MinAge          time.Duration
}

// Levels are the rules of the levels above 0, lowest first; GET /api/config
// publishes them. Each asks more than the one below, so a worker's level is
// the highest whose rule they meet. Level 1 is earned by work alone; above
// it, buyers' reviews must agree (at least 5, then 20, of 4.0 and 4.5 stars
// on average) and the account must be a month, then three, old.
var Levels = []Rule{
	{Level: 1, MinApproved: 10, MinApprovalRate: 0.80},
	{Level: 2, MinApproved: 100, MinApprovalRate: 0.90, MinRating: 4.0, MinReviews: 5, MinAge: 30 * 24 * time.Hour},
	{Level: 3, MinApproved: 500, MinApprovalRate: 0.95, MinRating: 4.5, MinReviews: 20, MinAge: 90 * 24 * time.Hour},
}

// MaxLevel is the highest level.
const MaxLevel = 3

// Meets says whether the record of a worker whose account was created at
// since meets the rule at now.
func (u Rule) Meets(r Record, since, now time.Time) bool {
	rate, _ := r.ApprovalRate() // 0 before any review: below any bound but none
	avg, n, _ := r.Rating()     // likewise
	return r.Approved >= u.MinApproved && rate >= u.MinApprovalRate && n >= u.MinReviews && avg >= u.MinRating &&
		!now.Before(since.Add(u.MinAge))
}

// LevelOf is the level the record of a worker whose account was created at
// since earns at now: the highest whose rule it meets, or 0.
func LevelOf(r Record, since, now time.Time) int {
	level := 0
	for _, u := range Levels {
		if u.Meets(r, since, now) {
			level = u.Level
		}
	}
	return level
}

// nextLevel is the level a worker has once their record changed: the one
// the record earns when their reviewed work changed, and otherwise (only
// the rating changed) never more than the level they had: a level never
// goes up from reviews alone, though reviews may take it down.
func nextLevel(c Changed, since, now time.Time) int {
	earned := LevelOf(c.Record, since, now)
	if !c.Work && earned > c.Level {
		return c.Level
	}
	return earned
}

// refreshBatch is how many records a round of Refresh works out at once.
const refreshBatch = 100

// Refresh works out the standing of the users whose records changed since
// it was last worked out (Store.Changed): a worker's level (nextLevel), and
// for everyone the copy lists filter on (Members.SetStanding). It returns
// how many it worked out. Safe to run anywhere, any number of times: a
// record that changes meanwhile stays marked for the next round.
func (s *Service) Refresh(ctx context.Context) (int, error) {
	done := 0
	for range 10 { // bounded per round: the next round goes on
		recs, err := s.store.Changed(ctx, refreshBatch)
		if err != nil {
			return done, fmt.Errorf("find records to work out: %w", err)
		}
		if len(recs) == 0 {
			return done, nil
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.UserID
		}
		members, err := s.members.Members(ctx, ids)
		if err != nil {
			return done, fmt.Errorf("read the users of %d records: %w", len(ids), err)
		}
		var errs []error
		for _, r := range recs {
			if err := s.refresh(ctx, r, members); err != nil {
				errs = append(errs, fmt.Errorf("work out the standing of user %s: %w", r.UserID, err))
				continue
			}
			done++
		}
		if len(errs) > 0 || len(recs) < refreshBatch {
			return done, errors.Join(errs...)
		}
	}
	return done, nil
}

// refresh works out one record's standing: the copy goes to the user first,
// then the record's level and mark, so that a crash in between leaves the
// record marked for the next round.
func (s *Service) refresh(ctx context.Context, r Changed, members map[string]Member) error {
	level := 0
	m, ok := members[r.UserID]
	if ok && m.Worker {
		level = nextLevel(r, m.Since, s.now().UTC())
	}
	if ok {
		avg, n, _ := r.Rating()
		st := Standing{Level: level, Rating: avg, Reviews: n, Approved: r.Approved}
		if err := s.members.SetStanding(ctx, r.UserID, st, r.Seq); err != nil {
			return err
		}
	}
	if _, err := s.store.SetLevel(ctx, r.UserID, r.Seq, level); err != nil {
		return err
	}
	if level != r.Level {
		s.log.InfoContext(ctx, "level changed", "target_user_id", r.UserID, "level", level, "was", r.Level)
	}
	return nil
}

// RunRefresh runs Refresh now, then every interval, and soon after this
// process changed a standing, until ctx is done: a worker who earned a
// level sees the tasks that ask for it within a moment. Every instance may
// run it; what another instance changed is worked out at the next interval.
func (s *Service) RunRefresh(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// Every record marked, those a crash or a migration left too.
		if _, err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "refresh standings", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.changed:
			// Let the other additions of the same operation land first.
			select {
			case <-ctx.Done():
				return
			case <-time.After(refreshDelay):
			}
		}
	}
}

// refreshDelay is how long RunRefresh waits after a change before it works
// the standings out.
const refreshDelay = 200 * time.Millisecond
