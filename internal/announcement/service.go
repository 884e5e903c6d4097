package announcement

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/mail"
	"microtask/internal/notification"
	"microtask/internal/platform/idgen"
)

// Bounds of an announcement, in characters. The service checks them; the
// API's request validation (httpapi's announcementRequest tags) repeats
// them for the contract.
const (
	MaxTitleLen = 200
	MaxBodyLen  = 5000
)

// Delivery: BatchSize users a batch (a read, a write of their
// notifications, one of their mail and one of the announcement: bounded
// commands, none over 100 parts), a pause between batches so that
// requests meet a free database, and a round stops after RoundFor, under
// the lease of its job, to go on in the next.
const (
	BatchSize  = 50
	BatchPause = 5 * time.Millisecond
	RoundFor   = 4 * time.Second
)

// Service sends announcements.
type Service struct {
	store  Store
	users  Users
	notify Notifier
	mailer Mailer
	appURL string
	log    *slog.Logger
	now    func() time.Time
	pause  time.Duration
}

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Users  Users
	Notify Notifier
	Mailer Mailer
	AppURL string // the app's public URL, for the links in email
	Log    *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, users: d.Users, notify: d.Notify, mailer: d.Mailer, appURL: strings.TrimRight(d.AppURL, "/"),
		log: d.Log, now: now, pause: BatchPause}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func check(d Draft) error {
	var errs apperr.Fields
	switch d.Audience {
	case AudienceAll, AudienceWorkers, AudienceBuyers:
	case "":
		errs.Add("audience", "is required")
	default:
		errs.Add("audience", "must be one of: all, workers, buyers")
	}
	errs.Text("title", d.Title, MaxTitleLen)
	errs.Text("body", d.Body, MaxBodyLen)
	return errs.Err()
}

// Create records an announcement (admins only) for the background delivery,
// with its audience counted now: the active users of the audience who
// signed up until now (those who sign up later do not get it).
func (s *Service) Create(ctx context.Context, p auth.Principal, d Draft) (Announcement, error) {
	if !p.Is(auth.RoleAdmin) {
		return Announcement{}, auth.ErrWrongRole
	}
	d.Title, d.Body = strings.TrimSpace(d.Title), strings.TrimSpace(d.Body)
	if err := check(d); err != nil {
		return Announcement{}, err
	}
	now := s.clock()
	n, err := s.users.CountAudience(ctx, d.Audience.Roles(), now)
	if err != nil {
		return Announcement{}, err
	}
	a := Announcement{ID: idgen.New(), By: p.UserID, Audience: d.Audience, Title: d.Title, Body: d.Body, Email: d.Email,
		Recipients: n, CreatedAt: now}
	if err := s.store.Insert(ctx, a); err != nil {
		return Announcement{}, fmt.Errorf("insert announcement %s: %w", a.ID, err)
	}
	s.log.InfoContext(ctx, "announcement made", "announcement_id", a.ID, "audience", string(a.Audience), "recipients", n, "email", a.Email)
	return a, nil
}

// Get returns an announcement and its progress (admins only).
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Announcement, error) {
	if !p.Is(auth.RoleAdmin) {
		return Announcement{}, auth.ErrWrongRole
	}
	a, err := s.store.ByID(ctx, id)
	if err != nil {
		return Announcement{}, fmt.Errorf("read announcement %s: %w", id, err)
	}
	return a, nil
}

// Deliver is a round of the background delivery: batch after batch of the
// announcements not done, oldest first, for at most RoundFor. It returns
// how many users it reached. Each batch's notifications and mail are sent
// under ids of the announcement and the user, and the batch is then
// recorded with a condition on where the announcement stood: a round cut
// off between the two (a crash, a restart, a lease run out) sends the
// batch again, which stores nothing twice and counts it once.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	until := time.Now().Add(RoundFor)
	reached := 0
	for time.Now().Before(until) {
		as, err := s.store.Undone(ctx, 1)
		if err != nil {
			return reached, fmt.Errorf("find announcements to deliver: %w", err)
		}
		if len(as) == 0 {
			return reached, nil
		}
		n, err := s.batch(ctx, as[0])
		reached += n
		if err != nil {
			return reached, fmt.Errorf("deliver announcement %s: %w", as[0].ID, err)
		}
		select {
		case <-ctx.Done():
			return reached, ctx.Err()
		case <-time.After(s.pause):
		}
	}
	return reached, nil
}

// batch delivers the next batch of a and records it.
func (s *Service) batch(ctx context.Context, a Announcement) (int, error) {
	users, err := s.users.Audience(ctx, a.Audience.Roles(), a.CreatedAt, a.Cursor, BatchSize)
	if err != nil {
		return 0, err
	}
	if len(users) == 0 {
		_, err := s.store.Advance(ctx, a.ID, a.Cursor, a.Cursor, 0, 0, true, s.clock())
		return 0, err
	}
	ns := make([]notification.Notification, len(users))
	var ms []mail.Once
	for i, u := range users {
		key := "announcement:" + a.ID + ":" + u.ID
		ns[i] = notification.Notification{ID: key, UserID: u.ID, Type: notification.Announcement, Message: a.Title + "\n\n" + a.Body,
			CreatedAt: a.CreatedAt}
		if a.Email && u.EmailVerified && u.WantsEmail(string(notification.AnnouncementsMail)) {
			ms = append(ms, mail.Once{ID: key, Message: mail.Message{To: u.Email, Subject: "Microtask: " + a.Title,
				Text: fmt.Sprintf("Hello %s,\n\n%s\n\n%s\n\nOpen Microtask: %s\n\nYou get announcements by email unless you turn them off "+
					"in your profile's notification settings (announcements).\n", u.Name, a.Title, a.Body, s.appURL)}})
		}
	}
	if err := s.notify.SendAll(ctx, ns); err != nil {
		return 0, err
	}
	if err := s.mailer.MailAllOnce(ctx, ms); err != nil {
		return 0, err
	}
	last := users[len(users)-1].ID
	ok, err := s.store.Advance(ctx, a.ID, a.Cursor, last, int64(len(users)), int64(len(ms)), len(users) < BatchSize, s.clock())
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil // recorded by another round: this one sent nothing new
	}
	return len(users), nil
}
