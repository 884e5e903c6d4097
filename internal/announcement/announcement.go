// Package announcement sends an admin's announcement to everyone (all
// active users, or the workers, or the buyers): a notification each and,
// if asked, an email to those who did not turn announcements off. Delivery
// runs in the background in bounded batches, each remembered as it is made,
// so that a restart midway goes on where it stopped without sending
// anything twice, and requests go on meanwhile.
package announcement

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/mail"
	"microtask/internal/notification"
	"microtask/internal/user"
)

// Audience is whom an announcement is for.
type Audience string

// The audiences.
const (
	AudienceAll     Audience = "all"
	AudienceWorkers Audience = "workers"
	AudienceBuyers  Audience = "buyers"
)

// Roles are the roles of the audience's users.
func (a Audience) Roles() []auth.Role {
	switch a {
	case AudienceWorkers:
		return []auth.Role{auth.RoleWorker}
	case AudienceBuyers:
		return []auth.Role{auth.RoleBuyer}
	}
	return []auth.Role{auth.RoleWorker, auth.RoleBuyer, auth.RoleAdmin}
}

// Announcement is one announcement and how far its delivery is.
type Announcement struct {
	ID         string
	By         string // the admin
	Audience   Audience
	Title      string
	Body       string
	Email      bool
	Recipients int64  // the audience when it was made: active users who signed up before it
	Delivered  int64  // notified so far
	Emailed    int64  // mailed so far
	Cursor     string // the ID of the last user reached; users are reached in the order of their IDs
	Done       bool
	CreatedAt  time.Time
	DoneAt     time.Time // zero until done
}

// Draft is an announcement as the admin writes it.
type Draft struct {
	Audience Audience
	Title    string
	Body     string
	Email    bool
}

// Errors.
var ErrNotFound = apperr.New(apperr.NotFound, "announcement_not_found", "no such announcement")

// Store keeps announcements. storage.AnnouncementStore implements it.
type Store interface {
	Insert(ctx context.Context, a Announcement) error
	// ByID returns an announcement. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Announcement, error)
	// Undone returns up to limit announcements not done, oldest first.
	Undone(ctx context.Context, limit int) ([]Announcement, error)
	// Advance records a batch: the cursor moves from `from` to `to`, the
	// counts grow by delivered and emailed, and done is set (with at) if
	// done. False if the cursor is no longer at from (another round
	// recorded the batch).
	Advance(ctx context.Context, id, from, to string, delivered, emailed int64, done bool, at time.Time) (bool, error)
}

// Users lists the audience; user.Service implements it.
type Users interface {
	CountAudience(ctx context.Context, roles []auth.Role, t time.Time) (int64, error)
	Audience(ctx context.Context, roles []auth.Role, t time.Time, after string, limit int) ([]user.User, error)
}

// Notifier sends many notifications at once; notification.Service
// implements it.
type Notifier interface {
	SendAll(ctx context.Context, ns []notification.Notification) error
}

// Mailer queues many messages at once; mail.Outbox implements it.
type Mailer interface {
	MailAllOnce(ctx context.Context, ms []mail.Once) error
}
