package reservation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"microtask/internal/auth"
	"microtask/internal/block"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/job"
	"microtask/internal/task"
)

// Service applies the reservation rules.
type Service struct {
	store     Store
	tasks     Tasks
	subs      Submissions
	blocks    Blocks
	workers   task.Candidates
	ops       operation.Runner
	log       *slog.Logger
	now       func() time.Time
	perWorker int

	reserve operation.Kind[Reservation]
	release operation.Kind[ending]
}

// ending is the data of the operation that ends a live reservation.
type ending struct {
	Reservation Reservation
	To          Status // released or expired
}

// Deps is what a Service is built with.
type Deps struct {
	Store       Store
	Tasks       Tasks
	Submissions Submissions
	Blocks      Blocks          // refuses reservations of tasks whose buyer blocked the worker
	Workers     task.Candidates // refuses reservations of workers below a task's requirements
	Ops         operation.Runner
	PerWorker   int // live reservations a worker may hold; 0: DefaultPerWorker
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	perWorker := d.PerWorker
	if perWorker <= 0 {
		perWorker = DefaultPerWorker
	}
	s := &Service{store: d.Store, tasks: d.Tasks, subs: d.Submissions, blocks: d.Blocks, workers: d.Workers, ops: d.Ops, log: d.Log, now: now,
		perWorker: perWorker}
	// Reserving and releasing move no coins (a held slot's pay stays in
	// escrow); they are operations so that the task's slots and the
	// reservation change together even across a crash. Each id is the kind
	// and the held slot.
	//
	// reserve holds a free slot, then records the reservation.
	s.reserve = operation.Kind[Reservation]{Name: "reserve", Commit: s.commitReserve, Settle: s.settleReserve}
	// reservation-end frees the held slot, then ends the reservation.
	s.release = operation.Kind[ending]{Name: "reservation-end", Commit: s.commitEnd, Settle: s.settleEnd}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.reserve.Define(), s.release.Define()}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Reserve holds one free slot of a task for the worker, for the time its
// buyer allotted (at most until the task's completion date). The task must
// take submissions (the error says why not); the worker may hold a few
// reservations at once, one per task, and none for a task they submitted
// to.
func (s *Service) Reserve(ctx context.Context, p auth.Principal, taskID string) (Reservation, error) {
	if !p.Is(auth.RoleWorker) {
		return Reservation{}, auth.ErrWrongRole
	}
	now := s.clock()
	t, err := s.tasks.Get(ctx, taskID)
	if err != nil {
		return Reservation{}, fmt.Errorf("read task %s: %w", taskID, err)
	}
	id := ID(t.ID, p.UserID)
	seq := 1
	switch prev, err := s.store.ByID(ctx, id); {
	case err == nil && prev.Status == StatusLive:
		return Reservation{}, ErrAlreadyReserved
	case err == nil:
		seq = prev.Seq + 1
	case !errors.Is(err, ErrNotFound):
		return Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	if err := s.refuse(ctx, p.UserID, t, now); err != nil {
		return Reservation{}, err
	}
	expires := now.Add(t.TimeAllotted)
	if t.CompletionDate.Before(expires) {
		expires = t.CompletionDate
	}
	r := Reservation{ID: id, Seq: seq, TaskID: t.ID, TaskTitle: t.Title, WorkerID: p.UserID, Status: StatusLive,
		ExpiresAt: expires, CreatedAt: now}
	res, err := s.reserve.Run(ctx, s.ops, r.HeldID(), nil, r)
	switch {
	case errors.Is(err, operation.ErrCancelled):
		// The slot was gone by the time it was to be held: say why.
		if t, err := s.tasks.Get(ctx, taskID); err == nil {
			if err := s.refuse(ctx, p.UserID, t, s.clock()); err != nil {
				return Reservation{}, err
			}
		}
		return Reservation{}, task.ErrFull
	case err != nil:
		return Reservation{}, err
	case res.Replayed:
		return Reservation{}, ErrAlreadyReserved // reserved simultaneously
	}
	// Reservations made at the same moment may each have counted the
	// others out; the ones over the limit give their slot back.
	if n, err := s.store.CountLive(ctx, p.UserID); err != nil {
		return Reservation{}, fmt.Errorf("count live reservations of worker %s: %w", p.UserID, err)
	} else if n > int64(s.perWorker) {
		if err := s.end(ctx, r, StatusReleased); err != nil {
			return Reservation{}, fmt.Errorf("give back slot %s over the limit: %w", r.HeldID(), err)
		}
		return Reservation{}, ErrTooMany
	}
	s.log.InfoContext(ctx, "slot reserved", "task_id", t.ID, "reservation_id", r.ID, "expires_at", r.ExpiresAt)
	return r, nil
}

// refuse says why the worker may not reserve a slot of t now, if so.
func (s *Service) refuse(ctx context.Context, workerID string, t task.Task, now time.Time) error {
	switch blocked, err := s.blocks.Blocked(ctx, t.Buyer.ID, workerID); {
	case err != nil:
		return err
	case blocked:
		return block.ErrBlocked
	}
	switch done, err := s.subs.Submitted(ctx, t.ID, workerID); {
	case err != nil:
		return err
	case done:
		return ErrSubmitted
	}
	if err := t.TakesSubmissions(now); err != nil {
		return err
	}
	c, err := s.workers.Candidate(ctx, workerID)
	if err != nil {
		return fmt.Errorf("read what worker %s brings to requirements: %w", workerID, err)
	}
	if err := t.Requirements.Admits(c); err != nil {
		return err
	}
	n, err := s.store.CountLive(ctx, workerID)
	if err != nil {
		return fmt.Errorf("count live reservations of worker %s: %w", workerID, err)
	}
	if n >= int64(s.perWorker) {
		return ErrTooMany
	}
	return nil
}

func (s *Service) commitReserve(ctx context.Context, op operation.Op[Reservation]) (bool, error) {
	r := op.Data
	return s.tasks.HoldSlot(ctx, r.TaskID, r.HeldID(), r.WorkerID, r.CreatedAt)
}

// settleReserve records the reservation as live, unless the task's refund
// took its slot in the meantime: the refund cancels the reservations of the
// slots it took (CancelHeld), and this one, recorded after that, ends as
// they did.
func (s *Service) settleReserve(ctx context.Context, op operation.Op[Reservation]) error {
	r := op.Data
	if err := s.store.Start(ctx, r); err != nil {
		return fmt.Errorf("record reservation %s: %w", r.HeldID(), err)
	}
	t, err := s.tasks.ByID(ctx, r.TaskID)
	if err != nil {
		return fmt.Errorf("read task %s: %w", r.TaskID, err)
	}
	if t.Status == task.StatusOpen || slices.Contains(t.Held, r.HeldID()) {
		// Held still, or used by the worker's submission, which ends it as
		// used.
		return s.tasks.NoteSlotTaken(ctx, t.Buyer.ID, t.ID)
	}
	_, err = s.store.End(ctx, r.ID, r.Seq, []Status{StatusLive}, StatusCancelled, op.At)
	if err != nil {
		return fmt.Errorf("cancel reservation %s: %w", r.HeldID(), err)
	}
	return nil
}

// CancelHeld ends as cancelled, at, the live reservations that held these
// slots (Reservation.HeldID): their task's refund (closing early, deletion
// or expiry) took the slots, so the reservations end with it, and no longer
// count toward their workers' limit. The refund's operation calls it among
// its follow-ups; each reservation ends with one conditional update, so it
// is safe to repeat.
func (s *Service) CancelHeld(ctx context.Context, held []string, at time.Time) error {
	for _, h := range held {
		id, seq, ok := ParseHeldID(h)
		if !ok {
			// Not one of ours: nothing to end, and no reason to stop the refund.
			s.log.WarnContext(ctx, "held slot names no reservation", "held", h)
			continue
		}
		if _, err := s.store.End(ctx, id, seq, []Status{StatusLive}, StatusCancelled, at); err != nil {
			return fmt.Errorf("cancel reservation %s: %w", h, err)
		}
	}
	return nil
}

// Get returns one of the worker's reservations; anyone else's is not found.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Reservation, error) {
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	if r.WorkerID != p.UserID {
		return Reservation{}, ErrNotFound
	}
	return r, nil
}

// Mine returns a page of the worker's live reservations, soonest to expire
// first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Reservation], error) {
	items, total, err := s.store.Live(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Reservation]{}, fmt.Errorf("list live reservations of worker %s: %w", p.UserID, err)
	}
	return page.Of[Reservation]{Items: items, Request: r, Total: total}, nil
}

// ReservedTasks returns the tasks the worker reserved lately (the latest
// 200), in any status: the buyers of those tasks and the worker may write
// to each other (package chat).
func (s *Service) ReservedTasks(ctx context.Context, workerID string) ([]string, error) {
	ids, err := s.store.TaskIDs(ctx, workerID, 200)
	if err != nil {
		return nil, fmt.Errorf("list reserved tasks of worker %s: %w", workerID, err)
	}
	return ids, nil
}

// Release gives the slot of one of the worker's live reservations back.
func (s *Service) Release(ctx context.Context, p auth.Principal, id string) error {
	r, err := s.Get(ctx, p, id)
	if err != nil {
		return err
	}
	if r.Status != StatusLive {
		return ErrEnded
	}
	return s.end(ctx, r, StatusReleased)
}

// end runs the operation that frees r's slot and ends r as to. If the slot
// is no longer held (the worker submitted with it, or a refund of its task
// took it), r ends as that says.
func (s *Service) end(ctx context.Context, r Reservation, to Status) error {
	_, err := s.release.Run(ctx, s.ops, r.HeldID(), nil, ending{Reservation: r, To: to})
	if errors.Is(err, operation.ErrCancelled) {
		// Nothing to free. A submission with the slot marks it used (even
		// after this); else its task's refund took it.
		_, err := s.store.End(ctx, r.ID, r.Seq, []Status{StatusLive}, StatusCancelled, s.clock())
		if err != nil {
			return fmt.Errorf("end reservation %s as cancelled: %w", r.HeldID(), err)
		}
		return nil
	}
	return err
}

func (s *Service) commitEnd(ctx context.Context, op operation.Op[ending]) (bool, error) {
	r := op.Data.Reservation
	return s.tasks.ReleaseHeld(ctx, r.TaskID, r.HeldID(), op.ID)
}

func (s *Service) settleEnd(ctx context.Context, op operation.Op[ending]) error {
	r := op.Data.Reservation
	_, err := s.store.End(ctx, r.ID, r.Seq, []Status{StatusLive}, op.Data.To, op.At)
	if err != nil {
		return fmt.Errorf("end reservation %s as %s: %w", r.HeldID(), op.Data.To, err)
	}
	return nil
}

// Held returns the slot the worker holds on t, for a submission to use, or
// "". It reads the task's list of held slots, which the submission has read
// anyway, rather than the reservation.
func (s *Service) Held(t task.Task, workerID string) string {
	prefix := ID(t.ID, workerID) + ":"
	for _, h := range t.Held {
		if strings.HasPrefix(h, prefix) {
			return h
		}
	}
	return ""
}

// Used records that a submission took the held slot: its reservation ends
// as used, even if a late release had marked it cancelled.
func (s *Service) Used(ctx context.Context, taskID, workerID, held string) error {
	r, err := s.store.ByID(ctx, ID(taskID, workerID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read reservation %s: %w", ID(taskID, workerID), err)
	}
	if r.HeldID() != held {
		return nil // a later reservation of the pair: this one ended before
	}
	_, err = s.store.End(ctx, r.ID, r.Seq, []Status{StatusLive, StatusCancelled}, StatusUsed, s.clock())
	if err != nil {
		return fmt.Errorf("end reservation %s as used: %w", r.HeldID(), err)
	}
	return nil
}

// ExpireDue gives back the slots of the reservations whose time ran out and
// returns how many it ended. Safe to run anywhere, any number of times.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, s.clock(), 100)
	if err != nil {
		return 0, fmt.Errorf("find expired reservations: %w", err)
	}
	return job.Each(due, func(r Reservation) string { return "expire reservation " + r.HeldID() },
		func(r Reservation) error { return s.end(ctx, r, StatusExpired) },
		operation.ErrInProgress) // being ended meanwhile
}
