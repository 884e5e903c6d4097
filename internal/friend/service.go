package friend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"microtask/internal/auth"
	"microtask/internal/chat"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/user"
)

// Service applies the friendship rules.
type Service struct {
	store  Store
	users  Users
	blocks Blocks
	notify Notifier
	log    *slog.Logger
	now    func() time.Time
}

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Users  Users
	Blocks Blocks
	Notify Notifier
	Log    *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, users: d.Users, blocks: d.Blocks, notify: d.Notify, log: d.Log, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Friends reports whether two users are friends: one read by the pair.
func (s *Service) Friends(ctx context.Context, a, b string) (bool, error) {
	r, err := s.store.ByPair(ctx, a, b)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read friendship of %s and %s: %w", a, b, err)
	}
	return r.Status == StatusAccepted, nil
}

// Ask asks the user to be the caller's friend and tells them. A request to
// a user who already asked the caller accepts theirs (created is then
// false). A user who does not exist, or who blocked the caller or was
// blocked by them, is not found.
func (s *Service) Ask(ctx context.Context, p auth.Principal, to string) (f Friendship, created bool, err error) {
	if to == p.UserID {
		return Friendship{}, false, ErrSelf
	}
	them, err := s.user(ctx, to)
	if err != nil {
		return Friendship{}, false, err
	}
	blocked, err := s.blocks.EitherBlocked(ctx, p.UserID, to)
	if err != nil {
		return Friendship{}, false, fmt.Errorf("read blocks of %s and %s: %w", p.UserID, to, err)
	}
	if blocked {
		return Friendship{}, false, ErrNoUser
	}
	for range 2 { // once more if a request of the pair appeared meanwhile
		r, err := s.store.ByPair(ctx, p.UserID, to)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Friendship{}, false, fmt.Errorf("read friendship of %s and %s: %w", p.UserID, to, err)
		case r.Status == StatusAccepted:
			return Friendship{}, false, ErrAlreadyFriends
		case r.From == p.UserID:
			return Friendship{}, false, ErrPending
		default: // they asked first: this is a yes
			f, err := s.Accept(ctx, p, r.ID)
			return f, false, err
		}
		if err := s.checkRoom(ctx, p.UserID, true); err != nil {
			return Friendship{}, false, err
		}
		r = Request{ID: idgen.New(), From: p.UserID, To: to, Status: StatusPending, CreatedAt: s.clock()}
		switch err := s.store.Insert(ctx, r); {
		case errors.Is(err, ErrExists):
			continue
		case err != nil:
			return Friendship{}, false, fmt.Errorf("insert friend request %s: %w", r.ID, err)
		}
		s.tell(ctx, notification.Notification{ID: "friend-request:" + r.ID, UserID: to, Type: notification.FriendRequest,
			Page: notification.Friends, Message: s.name(ctx, p.UserID) + " wants to be your friend."})
		return Friendship{Request: r, With: chat.CardOf(them)}, true, nil
	}
	return Friendship{}, false, ErrPending
}

// checkRoom refuses a user who has as many friends as allowed, or (asking)
// as many requests waiting.
func (s *Service) checkRoom(ctx context.Context, userID string, asking bool) error {
	if asking {
		n, err := s.store.CountOutgoing(ctx, userID)
		if err != nil {
			return fmt.Errorf("count friend requests of %s: %w", userID, err)
		}
		if n >= MaxOutgoing {
			return ErrTooManyRequests
		}
	}
	n, err := s.store.CountFriends(ctx, userID)
	if err != nil {
		return fmt.Errorf("count friends of %s: %w", userID, err)
	}
	if n >= MaxFriends {
		return ErrTooManyFriends
	}
	return nil
}

// user reads an active user, or ErrNoUser.
func (s *Service) user(ctx context.Context, id string) (user.User, error) {
	us, err := s.users.Public(ctx, []string{id})
	if err != nil {
		return user.User{}, fmt.Errorf("read user %s: %w", id, err)
	}
	if len(us) == 0 || us[0].Status != user.StatusActive {
		return user.User{}, ErrNoUser
	}
	return us[0], nil
}

func (s *Service) name(ctx context.Context, id string) string {
	us, err := s.users.Public(ctx, []string{id})
	if err != nil || len(us) == 0 {
		return "Someone"
	}
	return us[0].Name
}

func (s *Service) tell(ctx context.Context, n notification.Notification) {
	if err := s.notify.Send(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "notify", "notification_id", n.ID, "err", err)
	}
}

// mine reads a request of the caller's: one they sent or received; any
// other is not found.
func (s *Service) mine(ctx context.Context, p auth.Principal, id string) (Request, error) {
	r, err := s.store.ByID(ctx, id)
	if err != nil {
		return Request{}, fmt.Errorf("read friend request %s: %w", id, err)
	}
	if r.From != p.UserID && r.To != p.UserID {
		return Request{}, ErrNotFound
	}
	return r, nil
}

// Get returns one of the caller's requests or friendships.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Friendship, error) {
	r, err := s.mine(ctx, p, id)
	if err != nil {
		return Friendship{}, err
	}
	return s.withCard(ctx, p, r)
}

func (s *Service) withCard(ctx context.Context, p auth.Principal, r Request) (Friendship, error) {
	page, err := s.withCards(ctx, p, []Request{r})
	if err != nil {
		return Friendship{}, err
	}
	return page[0], nil
}

// withCards gives each request the other user's card, in one read.
func (s *Service) withCards(ctx context.Context, p auth.Principal, rs []Request) ([]Friendship, error) {
	out := make([]Friendship, len(rs))
	if len(rs) == 0 {
		return out, nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.Other(p.UserID)
	}
	us, err := s.users.Public(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids), err)
	}
	cards := map[string]chat.Card{}
	for _, u := range us {
		cards[u.ID] = chat.CardOf(u)
	}
	for i, r := range rs {
		c, ok := cards[ids[i]]
		if !ok {
			c = chat.Card{ID: ids[i], Name: chat.DeletedName}
		}
		out[i] = Friendship{Request: r, With: c}
	}
	return out, nil
}

// Accept accepts a request the caller received, and tells its sender. An
// accepted one is answered as it is.
func (s *Service) Accept(ctx context.Context, p auth.Principal, id string) (Friendship, error) {
	r, err := s.mine(ctx, p, id)
	if err != nil {
		return Friendship{}, err
	}
	if r.To != p.UserID {
		return Friendship{}, ErrNotFound // the sender cannot accept their own
	}
	if r.Status == StatusPending {
		for _, u := range []string{r.From, r.To} {
			if err := s.checkRoom(ctx, u, false); err != nil {
				return Friendship{}, err
			}
		}
		at := s.clock()
		ok, err := s.store.Accept(ctx, id, at)
		if err != nil {
			return Friendship{}, fmt.Errorf("accept friend request %s: %w", id, err)
		}
		if !ok {
			return Friendship{}, ErrNotFound // withdrawn meanwhile
		}
		r.Status, r.AcceptedAt = StatusAccepted, at
		s.tell(ctx, notification.Notification{ID: "friend-accepted:" + r.ID, UserID: r.From, Type: notification.FriendAccepted,
			Page: notification.Friends, Message: s.name(ctx, p.UserID) + " accepted your friend request."})
	}
	return s.withCard(ctx, p, r)
}

// Decline declines a pending request the caller received.
func (s *Service) Decline(ctx context.Context, p auth.Principal, id string) error {
	return s.drop(ctx, p, id, func(r Request) bool { return r.To == p.UserID })
}

// Withdraw withdraws a pending request the caller sent.
func (s *Service) Withdraw(ctx context.Context, p auth.Principal, id string) error {
	return s.drop(ctx, p, id, func(r Request) bool { return r.From == p.UserID })
}

func (s *Service) drop(ctx context.Context, p auth.Principal, id string, may func(Request) bool) error {
	r, err := s.mine(ctx, p, id)
	if err != nil {
		return err
	}
	if !may(r) || r.Status != StatusPending {
		return ErrNotFound
	}
	ok, err := s.store.Delete(ctx, id, StatusPending)
	if err != nil {
		return fmt.Errorf("delete friend request %s: %w", id, err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// Requests returns a page of the caller's pending requests, received
// (incoming) or sent, newest first.
func (s *Service) Requests(ctx context.Context, p auth.Principal, incoming bool, r page.Request) (page.Of[Friendship], error) {
	rs, total, err := s.store.Pending(ctx, p.UserID, incoming, r)
	if err != nil {
		return page.Of[Friendship]{}, fmt.Errorf("list friend requests of %s: %w", p.UserID, err)
	}
	fs, err := s.withCards(ctx, p, rs)
	return page.Of[Friendship]{Items: fs, Request: r, Total: total}, err
}

// List returns a page of the caller's friends, the latest first.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Friendship], error) {
	rs, total, err := s.store.Friends(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Friendship]{}, fmt.Errorf("list friends of %s: %w", p.UserID, err)
	}
	fs, err := s.withCards(ctx, p, rs)
	return page.Of[Friendship]{Items: fs, Request: r, Total: total}, err
}

// Unfriend ends the caller's friendship with the user.
func (s *Service) Unfriend(ctx context.Context, p auth.Principal, with string) error {
	ok, err := s.store.DeletePair(ctx, p.UserID, with)
	if err != nil {
		return fmt.Errorf("unfriend %s and %s: %w", p.UserID, with, err)
	}
	if !ok {
		return ErrNotFriends
	}
	return nil
}
