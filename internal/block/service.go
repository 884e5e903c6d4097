package block

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/operation"
	"microtask/internal/page"
)

// Service applies the blocking rules.
type Service struct {
	store Store
	tasks Tasks
	users Users
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns a Service. now may be nil for time.Now.
func NewService(store Store, tasks Tasks, users Users, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, tasks: tasks, users: users, log: log, now: now}
}

// Blocked reports whether the buyer has blocked the worker: the check of
// submissions (and reservations), one read by the buyer's id.
func (s *Service) Blocked(ctx context.Context, buyerID, workerID string) (bool, error) {
	l, err := s.store.Get(ctx, buyerID)
	if err != nil {
		return false, fmt.Errorf("read blocks of buyer %s: %w", buyerID, err)
	}
	return l.Has(workerID), nil
}

// EitherBlocked reports whether a blocked b or b blocked a: the check of
// messages and friend requests, one read of both lists.
func (s *Service) EitherBlocked(ctx context.Context, a, b string) (bool, error) {
	ls, err := s.store.GetMany(ctx, []string{a, b})
	if err != nil {
		return false, fmt.Errorf("read blocks of %s and %s: %w", a, b, err)
	}
	for _, l := range ls {
		if (l.BuyerID == a && l.Has(b)) || (l.BuyerID == b && l.Has(a)) {
			return true, nil
		}
	}
	return false, nil
}

// Block blocks a user from messaging the caller, and a buyer's worker from
// their tasks too. Admins cannot be blocked. Blocking a blocked user again
// changes nothing but brings a buyer's tasks up to date with the list,
// which repairs them if an earlier call stopped midway.
func (s *Service) Block(ctx context.Context, p auth.Principal, workerID string) (Block, error) {
	if workerID == p.UserID {
		return Block{}, ErrSelf
	}
	w, err := s.users.Get(ctx, workerID)
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return Block{}, ErrNotAWorker
		}
		return Block{}, fmt.Errorf("read user %s: %w", workerID, err)
	}
	if w.Role == auth.RoleAdmin {
		return Block{}, ErrAdmin
	}
	var b Block
	l, err := s.change(ctx, p, func(l *List) error {
		for _, old := range l.Blocks {
			if old.WorkerID == workerID {
				b = old
				return errUnchanged
			}
		}
		if len(l.Blocks) >= MaxPerBuyer {
			return ErrTooMany
		}
		b = Block{WorkerID: workerID, WorkerName: w.Name, At: s.now().UTC().Truncate(time.Millisecond)}
		l.Blocks = append(l.Blocks, b)
		return nil
	})
	if err != nil {
		return Block{}, err
	}
	s.log.InfoContext(ctx, "user blocked", "user_id", p.UserID, "blocked_id", workerID, "blocks", len(l.Blocks))
	return b, nil
}

// Unblock lifts a block. ErrNotBlocked if the caller has not blocked the
// user.
func (s *Service) Unblock(ctx context.Context, p auth.Principal, workerID string) error {
	_, err := s.change(ctx, p, func(l *List) error {
		i := slices.IndexFunc(l.Blocks, func(b Block) bool { return b.WorkerID == workerID })
		if i < 0 {
			return ErrNotBlocked
		}
		l.Blocks = slices.Delete(l.Blocks, i, i+1)
		return nil
	})
	return err
}

// errUnchanged tells change that the list stays as it is.
var errUnchanged = errors.New("unchanged")

// change applies edit to the user's list and saves it, reading it again
// if it changed meanwhile, then tells a buyer's tasks the list as saved
// (or as it is, when edit left it unchanged).
func (s *Service) change(ctx context.Context, p auth.Principal, edit func(*List) error) (List, error) {
	buyerID := p.UserID
	for range 50 { // each try that loses has lost to another change, which is done
		l, err := s.store.Get(ctx, buyerID)
		if err != nil {
			return List{}, fmt.Errorf("read blocks of buyer %s: %w", buyerID, err)
		}
		l.Blocks = slices.Clone(l.Blocks)
		switch err := edit(&l); {
		case errors.Is(err, errUnchanged):
		case err != nil:
			return List{}, err
		default:
			if l, err = s.store.Save(ctx, l); errors.Is(err, ErrStale) {
				continue
			} else if err != nil {
				return List{}, fmt.Errorf("save blocks of buyer %s: %w", buyerID, err)
			}
		}
		if l.Version > 0 && p.Is(auth.RoleBuyer) {
			if err := s.tasks.SetBlocked(ctx, buyerID, "", l.WorkerIDs(), l.Version); err != nil {
				return List{}, fmt.Errorf("copy blocks of buyer %s to the tasks: %w", buyerID, err)
			}
		}
		return l, nil
	}
	return List{}, operation.ErrInProgress
}

// Mine returns a page of the caller's blocks, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Block], error) {
	l, err := s.store.Get(ctx, p.UserID)
	if err != nil {
		return page.Of[Block]{}, fmt.Errorf("read blocks of buyer %s: %w", p.UserID, err)
	}
	all := slices.Clone(l.Blocks)
	slices.Reverse(all)
	from := min(int(r.Skip()), len(all))
	to := min(from+r.Limit, len(all))
	return page.Of[Block]{Items: all[from:to], Request: r, Total: int64(len(all))}, nil
}

// SyncTask gives a new task its buyer's list of blocked workers. The task
// service calls it once the task is stored: a block saved after this read
// reaches the task through the block's own SetBlocked, which then finds
// it, and the versions keep the later list.
func (s *Service) SyncTask(ctx context.Context, buyerID, taskID string) error {
	l, err := s.store.Get(ctx, buyerID)
	if err != nil {
		return fmt.Errorf("read blocks of buyer %s: %w", buyerID, err)
	}
	if l.Version == 0 {
		return nil
	}
	if err := s.tasks.SetBlocked(ctx, buyerID, taskID, l.WorkerIDs(), l.Version); err != nil {
		return fmt.Errorf("copy blocks of buyer %s to task %s: %w", buyerID, taskID, err)
	}
	return nil
}
