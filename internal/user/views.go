package user

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// ViewWindow is how far back a profile's views count: its owner sees how
// many distinct signed-in users viewed it in the last 30 days.
const ViewWindow = 30 * 24 * time.Hour

// View is a signed-in user's view of a profile, on a day (midnight UTC):
// one a day per viewer counts.
type View struct {
	ProfileID string
	ViewerID  string
	Day       time.Time
}

// ViewStore keeps the latest view of each profile by each viewer;
// storage.ProfileViewStore implements it.
type ViewStore interface {
	// Record records each view as its viewer's latest of its profile,
	// one write each.
	Record(ctx context.Context, views []View) error
	// CountSince counts the viewers of the profile whose latest view is
	// on or after day.
	CountSince(ctx context.Context, profileID string, day time.Time) (int64, error)
}

// viewDay is the day of a view at t.
func viewDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// Bounds of what views keep in memory between flushes: beyond them a view
// is dropped (and the drop logged), rather than memory growing with a
// flood of views; views are a figure for the owner, not money.
const (
	maxPendingViews = 10_000
	maxSeenViews    = 100_000
	viewFlushBatch  = 500
)

// viewBook holds the views of this process not yet written, and the
// viewers already noted today, so that a viewer reading a profile a
// hundred times a day costs one write.
type viewBook struct {
	mu      sync.Mutex
	day     time.Time
	seen    map[View]bool   // noted today
	pending map[View]bool   // to write
	stale   map[string]bool // profiles whose count is old
	dropped int
}

func newViewBook() *viewBook {
	return &viewBook{seen: map[View]bool{}, pending: map[View]bool{}, stale: map[string]bool{}}
}

// note notes a view of the profile by the viewer at now.
func (b *viewBook) note(profileID, viewerID string, now time.Time) {
	v := View{ProfileID: profileID, ViewerID: viewerID, Day: viewDay(now)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !v.Day.Equal(b.day) || len(b.seen) >= maxSeenViews {
		b.day, b.seen = v.Day, map[View]bool{}
	}
	switch {
	case b.seen[v]:
	case len(b.pending) >= maxPendingViews:
		b.dropped++
	default:
		b.seen[v], b.pending[v] = true, true
	}
}

// recount asks for the profile's count of viewers to be worked out again.
func (b *viewBook) recount(profileID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.stale) < maxPendingViews {
		b.stale[profileID] = true
	}
}

// take takes up to n views to write and the profiles to count again.
func (b *viewBook) take(n int) (views []View, profiles []string, dropped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for v := range b.pending {
		if len(views) == n {
			break
		}
		views = append(views, v)
		delete(b.pending, v)
	}
	for p := range b.stale {
		if len(profiles) == n {
			break
		}
		profiles = append(profiles, p)
		delete(b.stale, p)
	}
	dropped, b.dropped = b.dropped, 0
	return views, profiles, dropped
}

// putBack returns views a flush could not write, while there is room.
func (b *viewBook) putBack(views []View) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, v := range views {
		if len(b.pending) < maxPendingViews {
			b.pending[v] = true
		}
	}
}

// FlushViews writes the views this process noted (up to a batch), then
// works out again the count of viewers of each profile they are of, and of
// those whose count is old, and keeps it with the user. It returns how many
// views it wrote. Views a crash catches in memory are lost: a figure for
// the profile's owner, not worth a write on every read.
func (s *Service) FlushViews(ctx context.Context) (int, error) {
	views, profiles, dropped := s.views.take(viewFlushBatch)
	if dropped > 0 {
		s.log.WarnContext(ctx, "profile views dropped: too many between flushes", "count", dropped)
	}
	if len(views) > 0 {
		if err := s.viewStore.Record(ctx, views); err != nil {
			s.views.putBack(views)
			return 0, fmt.Errorf("record %d profile views: %w", len(views), err)
		}
	}
	counts := map[string]bool{}
	for _, v := range views {
		counts[v.ProfileID] = true
	}
	for _, p := range profiles {
		counts[p] = true
	}
	today := viewDay(s.now())
	since := today.Add(-ViewWindow + 24*time.Hour) // the last 30 days, today included
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		n, err := s.viewStore.CountSince(ctx, id, since)
		if err == nil {
			err = s.store.SetProfileViews(ctx, id, n, today)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("count the viewers of user %s: %w", id, err))
		}
	}
	return len(views), errors.Join(errs...)
}

// RunViews flushes the views this process noted every interval until ctx
// is done, and once more then. Every instance runs it for its own views.
func (s *Service) RunViews(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := s.FlushViews(last); err != nil {
				s.log.ErrorContext(last, "flush profile views", "err", err)
			}
			return
		case <-t.C:
		}
		if _, err := s.FlushViews(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "flush profile views", "err", err)
		}
	}
}
