// Package friend lets users befriend each other: requests, accepted,
// declined or withdrawn, the list of friends and unfriending, with their
// limits and notifications. Friends may message each other, which is how
// they share tasks and recommend workers (package chat).
package friend

import (
	"context"
	"errors"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/chat"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/user"
)

// Limits of a user's friendships.
const (
	MaxFriends  = 1000 // friends a user may have
	MaxOutgoing = 50   // pending requests a user may have sent
)

// Status is where a friendship is.
type Status string

// The statuses: a request waits for its recipient, who accepts it (a
// friendship) or declines it (gone, as a withdrawn request or an
// unfriending).
const (
	StatusPending  Status = "pending"
	StatusAccepted Status = "accepted"
)

// Request is a friend request, and once accepted the friendship.
type Request struct {
	ID         string
	From, To   string // who asked, and whom
	Status     Status
	CreatedAt  time.Time
	AcceptedAt time.Time // zero while pending
}

// Other is the user of the request who is not userID.
func (r Request) Other(userID string) string {
	if r.From == userID {
		return r.To
	}
	return r.From
}

// Friendship is a request as one of its users sees it: with the other
// user's card.
type Friendship struct {
	Request
	With chat.Card
}

// Errors.
var (
	ErrNotFound        = apperr.New(apperr.NotFound, "friend_request_not_found", "no such friend request of yours")
	ErrNotFriends      = apperr.New(apperr.NotFound, "friend_not_found", "this user is not your friend")
	ErrNoUser          = apperr.New(apperr.NotFound, "user_not_found", "no such user")
	ErrAlreadyFriends  = apperr.New(apperr.Conflict, "already_friends", "you are friends already")
	ErrPending         = apperr.New(apperr.Conflict, "request_pending", "you asked this user already; wait for an answer, or withdraw it")
	ErrSelf            = apperr.New(apperr.Conflict, "self_friend_request", "you cannot befriend yourself")
	ErrTooManyFriends  = apperr.New(apperr.Conflict, "too_many_friends", "a user may have at most 1000 friends")
	ErrTooManyRequests = apperr.New(apperr.Conflict, "too_many_friend_requests",
		"you have 50 friend requests waiting for an answer; withdraw one first")
	// ErrExists is returned by Store.Insert when the pair has a request or a
	// friendship already.
	ErrExists = errors.New("friendship exists")
)

// Store keeps requests and friendships. storage.FriendStore implements it.
type Store interface {
	// Insert adds r. ErrExists if its pair has one.
	Insert(ctx context.Context, r Request) error
	// ByID returns a request. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Request, error)
	// ByPair returns the pair's request or friendship. ErrNotFound if none.
	ByPair(ctx context.Context, a, b string) (Request, error)
	// Accept makes a pending request a friendship. False if it is not
	// pending.
	Accept(ctx context.Context, id string, at time.Time) (bool, error)
	// Delete removes the request of this status. False if there is none.
	Delete(ctx context.Context, id string, st Status) (bool, error)
	// DeletePair removes the pair's friendship. False if there is none.
	DeletePair(ctx context.Context, a, b string) (bool, error)
	// Pending returns a page of the user's pending requests received
	// (incoming) or sent, newest first, and their count.
	Pending(ctx context.Context, userID string, incoming bool, p page.Request) ([]Request, int64, error)
	// Friends returns a page of the user's friendships, the latest first,
	// and their count.
	Friends(ctx context.Context, userID string, p page.Request) ([]Request, int64, error)
	// CountFriends counts the user's friends.
	CountFriends(ctx context.Context, userID string) (int64, error)
	// CountOutgoing counts the user's pending requests sent.
	CountOutgoing(ctx context.Context, userID string) (int64, error)
}

// Users finds users; user.Service implements it.
type Users interface {
	Public(ctx context.Context, ids []string) ([]user.User, error)
}

// Blocks tells whether either of two users blocked the other;
// block.Service implements it.
type Blocks interface {
	EitherBlocked(ctx context.Context, a, b string) (bool, error)
}

// Notifier sends notifications; notification.Service implements it.
type Notifier interface {
	Send(ctx context.Context, n notification.Notification) error
}
