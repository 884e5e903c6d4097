package chat

import (
	"context"
	"fmt"

	"microtask/internal/auth"
)

// contact is one reason two users may write to each other. The rule of who
// may write to whom is: an admin and anyone, either way; either side in a
// conversation the other started; otherwise the first of these cases that
// applies, cheapest first. Jobs, proposals and contracts add one case
// each: a contract's parties, and a job's buyer and its proposers. They
// come after the tasks' cases, although each costs one read, so that a
// message about a task (the common case) asks nothing more than it did.
type contact struct {
	name    string
	applies func(ctx context.Context, from, to party) (bool, error)
}

func (s *Service) contacts() []contact {
	return []contact{
		{"friends", s.areFriends},
		{"task", s.workOnTasks},
		{"shared task", s.sharedTask},
		{"contract", s.contracted},
		{"job proposal", s.proposed},
	}
}

// mayWrite applies the rule to a message from `from` to `to` in c, and
// refuses with ErrCannotMessage. A block, by either user, stops messages
// both ways, but never an admin's.
func (s *Service) mayWrite(ctx context.Context, from, to party, c Conversation) error {
	if from.Role == auth.RoleAdmin || to.Role == auth.RoleAdmin {
		return nil
	}
	blocked, err := s.blocks.EitherBlocked(ctx, from.ID, to.ID)
	if err != nil {
		return fmt.Errorf("read blocks of %s and %s: %w", from.ID, to.ID, err)
	}
	if blocked {
		return ErrCannotMessage
	}
	if c.Sides[c.Of(to.ID)].Wrote {
		return nil // an answer in a conversation the other started
	}
	for _, k := range s.contacts() {
		ok, err := k.applies(ctx, from, to)
		if err != nil {
			return fmt.Errorf("check %s of %s and %s: %w", k.name, from.ID, to.ID, err)
		}
		if ok {
			return nil
		}
	}
	return ErrCannotMessage
}

func (s *Service) areFriends(ctx context.Context, from, to party) (bool, error) {
	return s.friends.Friends(ctx, from.ID, to.ID)
}

// buyerAndWorker returns the buyer and the worker of a pair, if it is one.
func buyerAndWorker(a, b party) (buyer, worker string, ok bool) {
	switch {
	case a.Role == auth.RoleBuyer && b.Role == auth.RoleWorker:
		return a.ID, b.ID, true
	case a.Role == auth.RoleWorker && b.Role == auth.RoleBuyer:
		return b.ID, a.ID, true
	}
	return "", "", false
}

// workOnTasks: a task's buyer and a worker who reserved or submitted to
// it, either way; and a worker to the buyer of a task that takes work and
// that the worker may see (a question before starting).
func (s *Service) workOnTasks(ctx context.Context, from, to party) (bool, error) {
	buyer, worker, ok := buyerAndWorker(from, to)
	if !ok {
		return false, nil
	}
	reserved, err := s.reservations.ReservedTasks(ctx, worker)
	if err != nil {
		return false, err
	}
	return s.tasks.Acquainted(ctx, buyer, worker, reserved, from.ID == worker)
}

// sharedTask: a task's buyer and a worker the task was shared with (a
// message about it), either way.
func (s *Service) sharedTask(ctx context.Context, from, to party) (bool, error) {
	buyer, worker, ok := buyerAndWorker(from, to)
	if !ok {
		return false, nil
	}
	return s.store.Received(ctx, worker, buyer)
}

// contracted: a contract's buyer and worker, either way, while it runs and
// after it ended (to settle what is left, to review).
func (s *Service) contracted(ctx context.Context, from, to party) (bool, error) {
	buyer, worker, ok := buyerAndWorker(from, to)
	if !ok {
		return false, nil
	}
	return s.projects.Contracted(ctx, buyer, worker)
}

// proposed: a job's buyer and a worker who sent a proposal for it, either
// way (questions about the proposal, an interview before the hire).
func (s *Service) proposed(ctx context.Context, from, to party) (bool, error) {
	buyer, worker, ok := buyerAndWorker(from, to)
	if !ok {
		return false, nil
	}
	return s.projects.Proposed(ctx, buyer, worker)
}
