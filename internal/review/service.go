package review

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/job"
)

// Service applies the review rules.
type Service struct {
	store    Store
	subjects Subjects
	ratings  Ratings
	users    Users
	admins   adminlog.Recorder
	log      *slog.Logger
	now      func() time.Time
	// revealed wakes RunCounting when this process revealed a review to
	// count.
	revealed chan struct{}
}

// Deps is what a Service is built with.
type Deps struct {
	Store    Store
	Subjects Subjects
	Ratings  Ratings
	Users    Users
	Admins   adminlog.Recorder // records admins' removals
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, subjects: d.Subjects, ratings: d.Ratings, users: d.Users, admins: d.Admins, log: d.Log, now: now,
		revealed: make(chan struct{}, 1)}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// New is a review to write.
type New struct {
	Subject Ref
	Rating  int
	Comment string
}

// check trims the comment and checks the fields against their bounds.
func (n *New) check() error {
	var errs apperr.Fields
	n.Comment = strings.TrimSpace(n.Comment)
	if n.Subject.ID == "" {
		errs.Add(string(n.Subject.Type)+"_id", "is required")
	}
	if n.Rating < MinRating || n.Rating > MaxRating {
		errs.Add("rating", "must be from %d to %d", MinRating, MaxRating)
	}
	errs.MaxText("comment", n.Comment, MaxCommentLen)
	return errs.Err()
}

// Post writes the caller's review of the other party of a decided piece of
// work, once, within Window of the decision: a buyer reviews the worker, a
// worker the buyer. Hidden until the other party has reviewed too, or
// until BlindFor after the decision; the second review of a pair shows
// both at once. A review visible as it is written counts in the rating at
// once; the other one, revealed, is counted by CountDue, woken at once. At
// most five commands: the work read, the other review revealed, this one
// written, and when it shows, its addition to the rating and its record.
func (s *Service) Post(ctx context.Context, p auth.Principal, in New) (Review, error) {
	if !p.Is(auth.RoleWorker, auth.RoleBuyer) {
		return Review{}, auth.ErrWrongRole
	}
	if err := in.check(); err != nil {
		return Review{}, err
	}
	sub, err := s.subjects.Subject(ctx, in.Subject, p.UserID)
	if err != nil {
		return Review{}, fmt.Errorf("read %s %s: %w", in.Subject.Type, in.Subject.ID, err)
	}
	now := s.clock()
	switch {
	case !sub.Decided:
		return Review{}, ErrNotDecided
	case now.After(sub.DecidedAt.Add(Window)):
		return Review{}, ErrWindowClosed
	}
	r := Review{Subject: sub.Ref, SubjectTitle: sub.Title, Rating: in.Rating, Comment: in.Comment, CreatedAt: now,
		DecidedAt: sub.DecidedAt, VisibleAt: sub.DecidedAt.Add(BlindFor)}
	if p.UserID == sub.Buyer.ID {
		r.Author, r.AuthorRole, r.RevieweeID = sub.Buyer, auth.RoleBuyer, sub.Worker.ID
	} else {
		r.Author, r.AuthorRole, r.RevieweeID = sub.Worker, auth.RoleWorker, sub.Buyer.ID
	}
	r.ID = ID(r.Subject, r.Author.ID)
	theirs := ID(r.Subject, r.RevieweeID)

	blind := now.Before(r.VisibleAt)
	both := false
	if blind {
		// The other party's review, if written (and not counted yet: a
		// counted one showed already), shows from now, and so will this
		// one, which is written visible.
		if both, err = s.store.Reveal(ctx, theirs, now); err != nil {
			return Review{}, fmt.Errorf("reveal review %s: %w", theirs, err)
		}
		if both {
			r.VisibleAt = now
		}
	}
	if err := s.store.Insert(ctx, r); err != nil {
		return Review{}, fmt.Errorf("insert review %s: %w", r.ID, err)
	}
	switch {
	case both:
		s.wake() // theirs is to count too
	case blind:
		// The other party may have written theirs meanwhile, not seeing
		// this one yet: then both show, and CountDue counts them.
		if again, err := s.store.Reveal(ctx, theirs, now); err != nil {
			return Review{}, fmt.Errorf("reveal review %s: %w", theirs, err)
		} else if again {
			if _, err := s.store.Reveal(ctx, r.ID, now); err != nil {
				return Review{}, fmt.Errorf("reveal review %s: %w", r.ID, err)
			}
			r.VisibleAt = now
			s.wake()
		}
		return r, nil
	}
	// Visible as written: it counts now. A crash before its record
	// leaves it to CountDue; the addition is made once per review.
	if err := s.count(ctx, r); err != nil {
		return r, err
	}
	r.Counted = true
	return r, nil
}

// wake wakes RunCounting, unless a wake-up is pending already.
func (s *Service) wake() {
	select {
	case s.revealed <- struct{}{}:
	default:
	}
}

// count counts a visible review in its reviewee's rating, then records it
// counted.
func (s *Service) count(ctx context.Context, r Review) error {
	if err := s.ratings.Rated(ctx, rateOp(r.ID), r.RevieweeID, r.Rating); err != nil {
		return err
	}
	if err := s.store.SetCounted(ctx, []string{r.ID}, false, true); err != nil {
		return fmt.Errorf("record review %s counted: %w", r.ID, err)
	}
	return nil
}

// The operations that count a review in its reviewee's rating, and take it
// out again: one each per review.
func rateOp(id string) string   { return "rate:" + id }
func unrateOp(id string) string { return "unrate:" + id }

// CountDue counts in their reviewees' ratings the reviews that became
// visible by time (BlindFor after the decision) or whose counting a crash
// interrupted, and takes the removed ones out. It returns how many it
// changed. Safe to run anywhere, any number of times.
func (s *Service) CountDue(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find reviews to count: %w", err)
	}
	return job.Each(due, func(r Review) string { return "count review " + r.ID }, func(r Review) error {
		if r.Removed {
			return s.uncount(ctx, r)
		}
		return s.count(ctx, r)
	})
}

// RunCounting runs CountDue now, then every interval and at once when this
// process revealed a review, until ctx is done. Every instance may run it:
// a review counted by two at once is added once (per review, in its
// reviewee's record) and recorded counted once.
func (s *Service) RunCounting(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.CountDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "count reviews", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.revealed:
		}
	}
}

// uncount takes a removed review out of its reviewee's rating.
func (s *Service) uncount(ctx context.Context, r Review) error {
	if err := s.ratings.Unrated(ctx, unrateOp(r.ID), r.RevieweeID, r.Rating); err != nil {
		return err
	}
	return s.store.SetCounted(ctx, []string{r.ID}, true, false)
}

// Get returns a review to whoever may see it: anyone once it is visible;
// its author (as pending_visibility) and admins before; admins only once
// removed. To anyone else it is not found.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Review, error) {
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Review{}, fmt.Errorf("read review %s: %w", id, err)
	}
	switch r.StatusAt(s.clock()) {
	case StatusRemoved:
		if !p.Is(auth.RoleAdmin) {
			return Review{}, ErrNotFound
		}
	case StatusPending:
		if p.UserID != r.Author.ID && !p.Is(auth.RoleAdmin) {
			return Review{}, ErrNotFound
		}
	}
	return r, nil
}

// About returns a page of the reviews about a user that are visible,
// newest first, of rating stars if rating is not 0 (1 to MaxRating). A
// user whose profile is not public (suspended, deleted) has none to show.
func (s *Service) About(ctx context.Context, userID string, rating int, r page.Request) (page.Of[Review], error) {
	if rating != 0 && (rating < MinRating || rating > MaxRating) {
		return page.Of[Review]{}, apperr.InvalidFields(apperr.FieldError{Field: "rating",
			Message: fmt.Sprintf("must be from %d to %d", MinRating, MaxRating)})
	}
	if err := s.users.Shown(ctx, userID); err != nil {
		return page.Of[Review]{}, err
	}
	items, total, err := s.store.About(ctx, userID, rating, s.clock(), r)
	if err != nil {
		return page.Of[Review]{}, fmt.Errorf("list reviews about user %s: %w", userID, err)
	}
	return page.Of[Review]{Items: items, Request: r, Total: total}, nil
}

// Reply records the reviewee's one reply to a visible review about them;
// to anyone else, and before it shows, the review is not found.
func (s *Service) Reply(ctx context.Context, p auth.Principal, id, text string) (Review, error) {
	text = strings.TrimSpace(text)
	var errs apperr.Fields
	errs.Text("text", text, MaxReplyLen)
	if err := errs.Err(); err != nil {
		return Review{}, err
	}
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Review{}, fmt.Errorf("read review %s: %w", id, err)
	}
	now := s.clock()
	if r.RevieweeID != p.UserID || r.StatusAt(now) != StatusVisible {
		return Review{}, ErrNotFound
	}
	if !r.RepliedAt.IsZero() {
		return Review{}, ErrAlreadyReplied
	}
	ok, err := s.store.Reply(ctx, id, p.UserID, text, now)
	if err != nil {
		return Review{}, fmt.Errorf("reply to review %s: %w", id, err)
	}
	if !ok {
		return Review{}, ErrAlreadyReplied // replied at the same moment, or removed meanwhile
	}
	r.Reply, r.RepliedAt = text, now
	return r, nil
}

// Remove removes a review (admins only), for the reason given, which the
// admin log records: no one but admins sees it any more, and it leaves its
// reviewee's rating. The log entry comes first, named by the review: a
// retry after a crash keeps one, and the removal follows; a rating the
// removal could not yet take it out of is left to CountDue.
func (s *Service) Remove(ctx context.Context, p auth.Principal, id, reason string) error {
	if !p.Is(auth.RoleAdmin) {
		return auth.ErrWrongRole
	}
	reason = strings.TrimSpace(reason)
	var errs apperr.Fields
	errs.Text("reason", reason, MaxRemovalReasonLen)
	if err := errs.Err(); err != nil {
		return err
	}
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return fmt.Errorf("read review %s: %w", id, err)
	}
	if r.Removed {
		return ErrRemoved
	}
	now := s.clock()
	if err := s.admins.Record(ctx, adminlog.Entry{ID: "review-removed:" + id, AdminID: p.UserID, Kind: adminlog.ReviewRemoved,
		TargetType: "review", TargetID: id, Reason: reason, At: now,
		Summary: fmt.Sprintf("review of %d stars by %s about user %s removed", r.Rating, r.Author.Name, r.RevieweeID)}); err != nil {
		return err
	}
	ok, err := s.store.Remove(ctx, id, p.UserID, reason, now)
	if err != nil {
		return fmt.Errorf("remove review %s: %w", id, err)
	}
	if !ok {
		return ErrRemoved // removed at the same moment by another admin
	}
	s.log.InfoContext(ctx, "review removed", "review_id", id, "admin_id", p.UserID)
	if r.Counted {
		r.Removed = true
		if err := s.uncount(ctx, r); err != nil && !errors.Is(err, context.Canceled) {
			s.log.ErrorContext(ctx, "take a removed review out of the rating; left to the job", "review_id", id, "err", err)
		}
	}
	return nil
}

// StatusNow is how the review stands now.
func (s *Service) StatusNow(r Review) Status { return r.StatusAt(s.clock()) }
