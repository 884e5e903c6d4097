// Package notification tells users about what happened to their work and
// money: stored notifications with read flags, and a per-process hub that
// pushes new ones to open server-sent-event streams.
package notification

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/platform/tail"
)

// Notification is one message to one user.
type Notification struct {
	ID          string // derived from the operation that caused it, so recovery never sends it twice
	UserID      string
	Message     string
	Type        Type
	Page        Page   // the app's page to open; Send turns it into ActionRoute
	ActionRoute string // the single-page app's route to open, e.g. /dashboard/my-submissions
	Read        bool
	CreatedAt   time.Time
	// MailPending marks a notification of a mailable type that the mail
	// round has not looked at yet: stored with the notification, it costs
	// the request that sends it nothing.
	MailPending bool
}

// Errors.
var (
	ErrNotFound = apperr.New(apperr.NotFound, "notification_not_found", "no such notification")
	// ErrExists is returned by Store.Insert for an ID already used.
	ErrExists = errors.New("notification exists")
)

// Store persists notifications. storage.NotificationStore implements it.
type Store interface {
	// Insert adds n. ErrExists if its ID is taken.
	Insert(ctx context.Context, n Notification) error
	// InsertAll adds, in one command, those of ns whose ID is not taken.
	InsertAll(ctx context.Context, ns []Notification) error
	// ByID returns a notification. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Notification, error)
	// List returns a user's notifications, newest first, and their count.
	List(ctx context.Context, userID string, p page.Request) ([]Notification, int64, error)
	// UnreadCount counts a user's unread notifications.
	UnreadCount(ctx context.Context, userID string) (int64, error)
	// MarkRead marks one of the user's notifications read. ErrNotFound if
	// the user has no such notification.
	MarkRead(ctx context.Context, userID, id string) error
	// MarkAllRead marks all the user's notifications read.
	MarkAllRead(ctx context.Context, userID string) error
	// Delete removes one of the user's notifications. ErrNotFound if none.
	Delete(ctx context.Context, userID, id string) error
	// Since returns up to limit notifications created after t, oldest first.
	Since(ctx context.Context, t time.Time, limit int) ([]Notification, error)
	// After returns up to limit of the user's notifications created at or
	// after the one with this id (which it leaves out), oldest first.
	// ErrNotFound if the user has no notification with the id.
	After(ctx context.Context, userID, id string, limit int) ([]Notification, error)
	// MailPending returns up to limit notifications marked MailPending,
	// oldest first.
	MailPending(ctx context.Context, limit int) ([]Notification, error)
	// MailDone clears MailPending on the notifications.
	MailDone(ctx context.Context, ids []string) error
}

// Recipient is a user who may be mailed: active, with a verified email.
type Recipient struct {
	Email  string
	Name   string
	OptIns []Type // the kinds the user wants mailed
}

// Recipients finds whom to mail; the wiring fills it from the users.
type Recipients interface {
	// MailRecipients returns the users among ids who may be mailed.
	MailRecipients(ctx context.Context, ids []string) (map[string]Recipient, error)
}

// Mailer queues a message once per id; mail.Outbox implements it.
type Mailer interface {
	MailOnce(ctx context.Context, id, to, subject, text string) error
}

// UserFinder finds users; user.Service implements it.
type UserFinder interface {
	Exists(ctx context.Context, id string) (bool, error)
}

// Service sends and manages notifications.
type Service struct {
	store Store
	hub   *Hub
	users UserFinder
	log   *slog.Logger
	now   func() time.Time
	memo  *unreadMemo // nil: count every time
	base  string      // where the app's pages live, e.g. /dashboard

	mailer     Mailer
	recipients Recipients
	appURL     string
}

// Deps is what a Service is built with.
type Deps struct {
	Store Store
	Users UserFinder
	// Mailer mails the notifications users opted into, to the Recipients,
	// with links to AppURL's pages.
	Mailer     Mailer
	Recipients Recipients
	AppURL     string
	RouteBase  string // where the app's pages live; "" for DefaultRouteBase
	// StreamsPerUser and StreamsMax are how many streams a user and this
	// process may have open (0: no limit).
	StreamsPerUser, StreamsMax int
	// SoleWriter says that no other process writes to the database (the
	// embedded one), so that users' unread counts may be kept in memory
	// between their changes; see unreadMemo.
	SoleWriter bool
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	base := d.RouteBase
	if base == "" {
		base = DefaultRouteBase
	}
	s := &Service{store: d.Store, hub: NewHub(d.StreamsPerUser, d.StreamsMax), users: d.Users, base: strings.TrimRight(base, "/"),
		log: d.Log, now: now, mailer: d.Mailer, recipients: d.Recipients, appURL: strings.TrimRight(d.AppURL, "/")}
	if d.SoleWriter {
		s.memo = newUnreadMemo()
	}
	return s
}

// changed tells the memo that the user's notifications changed.
func (s *Service) changed(userID string) {
	if s.memo != nil {
		s.memo.changed(userID)
	}
}

// Send stores n and pushes it to the user's open streams. An n whose ID was
// already sent is not sent again; an empty ID gets a fresh one.
func (s *Service) Send(ctx context.Context, n Notification) error {
	if n.ID == "" {
		n.ID = idgen.New()
	}
	n.Read = false
	if n.Page != "" {
		n.ActionRoute = s.base + string(n.Page)
	}
	if n.Type == "" {
		n.Type = Other
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	}
	_, mailable := mailKind(n.Type)
	n.MailPending = mailable
	err := s.store.Insert(ctx, n)
	if errors.Is(err, ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("send notification %s: %w", n.ID, err)
	}
	s.changed(n.UserID)
	s.hub.Publish(n)
	return nil
}

// SendAll stores many notifications in one database write, each once by
// its ID (sent again, as by a round repeated after a crash, they are not
// stored twice), and pushes them to their users' open streams: the bounded
// batches of an announcement to everyone. They are not mailed.
func (s *Service) SendAll(ctx context.Context, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	for i := range ns {
		n := &ns[i]
		n.Read, n.MailPending = false, false
		if n.Page != "" {
			n.ActionRoute = s.base + string(n.Page)
		}
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now
		}
	}
	if err := s.store.InsertAll(ctx, ns); err != nil {
		return fmt.Errorf("send %d notifications: %w", len(ns), err)
	}
	for _, n := range ns {
		s.changed(n.UserID)
		s.hub.Publish(n)
	}
	return nil
}

// List returns one page of the caller's notifications, newest first.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Notification], error) {
	items, total, err := s.store.List(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Notification]{}, fmt.Errorf("list notifications of user %s: %w", p.UserID, err)
	}
	return page.Of[Notification]{Items: items, Request: r, Total: total}, nil
}

// UnreadCount counts the caller's unread notifications.
func (s *Service) UnreadCount(ctx context.Context, p auth.Principal) (int64, error) {
	if s.memo == nil {
		return s.unreadCount(ctx, p.UserID)
	}
	n, ok, gen := s.memo.get(p.UserID)
	if ok {
		return n, nil
	}
	n, err := s.unreadCount(ctx, p.UserID)
	if err == nil {
		s.memo.put(p.UserID, gen, n)
	}
	return n, err
}

func (s *Service) unreadCount(ctx context.Context, userID string) (int64, error) {
	n, err := s.store.UnreadCount(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("count unread notifications of user %s: %w", userID, err)
	}
	return n, nil
}

// Get returns one notification, to its user or an admin (who sent an
// announcement); to anyone else it does not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Notification, error) {
	n, err := s.store.ByID(ctx, id)
	if err != nil {
		return Notification{}, fmt.Errorf("read notification %s: %w", id, err)
	}
	if n.UserID != p.UserID && !p.Is(auth.RoleAdmin) {
		return Notification{}, ErrNotFound
	}
	return n, nil
}

// MarkRead marks one of the caller's notifications read; someone else's is
// not found.
func (s *Service) MarkRead(ctx context.Context, p auth.Principal, id string) error {
	defer s.changed(p.UserID)
	if err := s.store.MarkRead(ctx, p.UserID, id); err != nil {
		return fmt.Errorf("mark notification %s read: %w", id, err)
	}
	return nil
}

// MarkAllRead marks all the caller's notifications read.
func (s *Service) MarkAllRead(ctx context.Context, p auth.Principal) error {
	defer s.changed(p.UserID)
	if err := s.store.MarkAllRead(ctx, p.UserID); err != nil {
		return fmt.Errorf("mark notifications of user %s read: %w", p.UserID, err)
	}
	return nil
}

// Delete deletes one of the caller's notifications.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	defer s.changed(p.UserID)
	if err := s.store.Delete(ctx, p.UserID, id); err != nil {
		return fmt.Errorf("delete notification %s: %w", id, err)
	}
	return nil
}

// ErrNoSuchUser is Announce's answer for an unknown recipient.
var ErrNoSuchUser = apperr.New(apperr.NotFound, "user_not_found", "no such user")

// Announce sends a message from the platform (admins only), held to the
// bounds of bounds.go.
func (s *Service) Announce(ctx context.Context, p auth.Principal, to, message, route string) (Notification, error) {
	if !p.Is(auth.RoleAdmin) {
		return Notification{}, auth.ErrWrongRole
	}
	message, route = strings.TrimSpace(message), strings.TrimSpace(route)
	if err := checkAnnouncement(message, route); err != nil {
		return Notification{}, err
	}
	ok, err := s.users.Exists(ctx, to)
	if err != nil {
		return Notification{}, err
	}
	if !ok {
		return Notification{}, ErrNoSuchUser
	}
	n := Notification{ID: idgen.New(), UserID: to, Message: message, Type: Announcement, ActionRoute: route,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	return n, s.Send(ctx, n)
}

// Subscribe streams the user's new notifications until its Cancel is
// called; ErrTooManyStreams or ErrStreamsFull beyond the limits.
func (s *Service) Subscribe(userID string) (Subscription, error) {
	return s.hub.Subscribe(userID)
}

// CloseStreams ends the user's open streams: their tokens were revoked.
func (s *Service) CloseStreams(userID string) { s.hub.Close(userID) }

// Connected reports whether the user has a stream or a socket open on this
// instance.
func (s *Service) Connected(userID string) bool { return s.hub.Connected(userID) }

// OpenStreams returns how many streams this process has open.
func (s *Service) OpenStreams() int { return s.hub.Open() }

// ReplayLimit is how many missed notifications a reconnecting stream gets
// at most; the rest it can list.
const ReplayLimit = 100

// Missed returns the caller's notifications created since the one called
// lastID (a stream's Last-Event-ID), oldest first, at most ReplayLimit;
// none if the user has no such notification (deleted meanwhile).
func (s *Service) Missed(ctx context.Context, userID, lastID string) ([]Notification, error) {
	ns, err := s.store.After(ctx, userID, lastID, ReplayLimit)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read notifications of user %s after %s: %w", userID, lastID, err)
	}
	return ns, nil
}

// Tail pushes to this process's streams the notifications other API
// instances store, by reading those created since the last round every
// interval. Only needed when several instances share a MongoDB; the
// embedded database is single-instance.
func (s *Service) Tail(ctx context.Context, interval time.Duration) {
	tail.Every(ctx, interval, s.now().Add(-interval), s.log, "notifications", func(ctx context.Context, since time.Time) (time.Time, error) {
		ns, err := s.store.Since(ctx, since, 500)
		if err != nil {
			return time.Time{}, err
		}
		var newest time.Time
		for _, n := range ns {
			s.hub.Publish(n)
			if n.CreatedAt.After(newest) {
				newest = n.CreatedAt
			}
		}
		return newest, nil
	})
}

// mailSubjects are the subjects of the mailed kinds.
var mailSubjects = map[Type]string{
	SubmissionApproved:  "Your submission was approved",
	RejectionOverturned: "Your submission was approved after all",
	SubmissionRejected:  "Your submission was rejected",
	WithdrawalPaid:      "Your withdrawal was paid",
	ReportDecided:       "Your report was decided",
}

// MailOptedIn mails the notifications stored since its last round to the
// users who opted into their kind, and returns how many it queued. It runs
// in the background (every instance may: a notification is queued once,
// under its id), so that sending a notification costs its request nothing.
func (s *Service) MailOptedIn(ctx context.Context) (int, error) {
	queued := 0
	for {
		ns, err := s.store.MailPending(ctx, 100)
		if err != nil {
			return queued, fmt.Errorf("find notifications to mail: %w", err)
		}
		if len(ns) == 0 {
			return queued, nil
		}
		var users, ids []string
		for _, n := range ns {
			users, ids = append(users, n.UserID), append(ids, n.ID)
		}
		rs, err := s.recipients.MailRecipients(ctx, users)
		if err != nil {
			return queued, fmt.Errorf("find recipients: %w", err)
		}
		for _, n := range ns {
			kind, _ := mailKind(n.Type)
			r, ok := rs[n.UserID]
			if !ok || !slices.Contains(r.OptIns, kind) {
				continue
			}
			text := fmt.Sprintf("Hello %s,\n\n%s\n\nOpen it: %s%s\n\nYou get this mail because you asked for it; "+
				"change what you receive in your profile's notification settings.\n", r.Name, n.Message, s.appURL, n.ActionRoute)
			if err := s.mailer.MailOnce(ctx, "notification:"+n.ID, r.Email, "Microtask: "+mailSubjects[n.Type], text); err != nil {
				return queued, fmt.Errorf("mail notification %s: %w", n.ID, err)
			}
			queued++
		}
		if err := s.store.MailDone(ctx, ids); err != nil {
			return queued, fmt.Errorf("mark %d notifications mailed: %w", len(ids), err)
		}
	}
}
