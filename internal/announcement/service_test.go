package announcement_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/announcement"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/mail"
	"microtask/internal/notification"
	"microtask/internal/page"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// seed adds n users through the store's bulk insert: every third a buyer,
// every second with a verified email, every fifth with announcements by
// email turned off, every seventh suspended.
func seed(t *testing.T, e *apptest.Env, n int) (active, mailable int) {
	t.Helper()
	ctx := context.Background()
	at := e.Clock.Now().Add(-time.Hour)
	var batch []user.User
	for i := range n {
		u := user.User{ID: fmt.Sprintf("u%06d", i), Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("u%06d@example.com", i),
			Role: auth.RoleWorker, Status: user.StatusActive, EmailVerified: i%2 == 0, CreatedAt: at}
		if i%3 == 0 {
			u.Role = auth.RoleBuyer
		}
		if i%5 == 0 {
			u.EmailOptOuts = []string{"announcements"}
		}
		if i%7 == 0 {
			u.Status = user.StatusSuspended
		} else {
			active++
			if u.EmailVerified && i%5 != 0 {
				mailable++
			}
		}
		batch = append(batch, u)
		if len(batch) == 1000 || i == n-1 {
			if err := e.Stores.Users.InsertMany(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return active, mailable
}

// crashing fails the n-th batch after its notifications (or its mail) are
// sent, as a process killed before it recorded the batch.
type crashing struct {
	notify announcement.Notifier
	mailer announcement.Mailer
	at     int64
	calls  atomic.Int64
}

var errCrash = errors.New("killed")

func (c *crashing) SendAll(ctx context.Context, ns []notification.Notification) error {
	if err := c.notify.SendAll(ctx, ns); err != nil {
		return err
	}
	if c.calls.Add(1) == c.at {
		return errCrash
	}
	return nil
}

func (c *crashing) MailAllOnce(ctx context.Context, ms []mail.Once) error {
	if err := c.mailer.MailAllOnce(ctx, ms); err != nil {
		return err
	}
	if c.calls.Load() == c.at-1 && len(ms) > 0 { // the batch before: after its mail
		c.calls.Add(1)
		return errCrash
	}
	return nil
}

// TestAnnouncementToTwentyThousandSurvivesARestart: an announcement to
// 20,000 users, whose first process dies midway (after a batch's
// notifications, and once after a batch's mail, before either was
// recorded), is finished by the restarted process in the background while
// it answers requests; every active user is notified once and every one
// who wants it mailed once.
func TestAnnouncementToTwentyThousandSurvivesARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 users")
	}
	e := apptest.New(t)
	ctx := context.Background()
	active, mailable := seed(t, e, 20_000)
	adm := auth.Principal{UserID: "admin", Role: auth.RoleAdmin}
	a, err := e.Announcements.Create(ctx, adm, announcement.Draft{Audience: announcement.AudienceAll, Title: "Maintenance",
		Body: "Down on Sunday.", Email: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Recipients != int64(active) {
		t.Fatalf("recipients = %d, want the %d active users", a.Recipients, active)
	}

	// The first process: killed after its 100th batch's notifications.
	first := &crashing{notify: e.Notifications, mailer: e.Outbox, at: 100}
	dying := announcement.NewService(announcement.Deps{Store: storage.NewAnnouncementStore(e.DB), Users: e.Users, Notify: first,
		Mailer: first, Log: slog.New(slog.DiscardHandler), Now: e.Clock.Now})
	for {
		if _, err := dying.Deliver(ctx); errors.Is(err, errCrash) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	mid, err := e.Announcements.Get(ctx, adm, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Done || mid.Delivered == 0 {
		t.Fatalf("after the crash: %+v", mid)
	}

	// The restarted process delivers the rest in the background.
	restarted := apptest.Build(t, e.DB, e.Clock)
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		for {
			n, err := restarted.Announcements.Deliver(ctx)
			if err != nil || n == 0 {
				done <- err
				return
			}
		}
	}()
	// Meanwhile requests are answered: reads, and sign-ups that write.
	var during, served int
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
			if _, err := restarted.Users.Register(ctx, user.Registration{Name: "New", Email: fmt.Sprintf("new%d@example.com", served),
				Password: "Passw0rd!", Role: auth.RoleWorker}); err != nil {
				t.Fatal(err)
			}
			p, err := restarted.Announcements.Get(ctx, adm, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			served++
			if !p.Done && p.Delivered > mid.Delivered {
				during++ // answered while the delivery was under way
			}
		}
	}
	t.Logf("the restarted process delivered %d users in %v, answering %d sign-ups and reads meanwhile (%d while it ran)",
		int64(active)-mid.Delivered, time.Since(start).Round(time.Millisecond), served, during)
	if during == 0 {
		t.Errorf("no request was answered while the delivery ran (%d in all)", served)
	}
	got, err := restarted.Announcements.Get(ctx, adm, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Done || got.Delivered != int64(active) || got.Emailed != int64(mailable) {
		t.Errorf("at the end: delivered %d of %d, emailed %d (want %d), done %v", got.Delivered, active, got.Emailed, mailable, got.Done)
	}

	// Once each: one notification per active user, none for the suspended
	// or those who signed up after, one mail per user who wants it.
	notes, err := e.DB.Collection("notifications").Count(ctx, bson.D{{Key: "type", Value: string(notification.Announcement)}})
	if err != nil {
		t.Fatal(err)
	}
	if notes != int64(active) {
		t.Errorf("%d announcement notifications, want one per active user: %d", notes, active)
	}
	queued, err := e.Stores.Mail.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mailed := map[string]int{}
	for _, q := range queued {
		if strings.HasPrefix(q.Message.Subject, "Microtask: Maintenance") {
			mailed[q.Message.To]++
		}
	}
	if len(mailed) != mailable {
		t.Errorf("mailed %d users, want %d", len(mailed), mailable)
	}
	for to, n := range mailed {
		if n != 1 {
			t.Errorf("%s mailed %d times", to, n)
		}
	}
	ns, err := restarted.Notifications.List(ctx, auth.Principal{UserID: "u000001"}, page.Request{Number: 1, Limit: 10})
	if err != nil || ns.Total != 1 || ns.Items[0].Message != "Maintenance\n\nDown on Sunday." {
		t.Errorf("a worker's notifications = %+v, %v", ns, err)
	}
}

// TestAnnouncementAudiences: workers or buyers only; every batch recorded
// once even when two rounds run at once.
func TestAnnouncementAudiences(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	seed(t, e, 300)
	adm := auth.Principal{UserID: "admin", Role: auth.RoleAdmin}
	a, err := e.Announcements.Create(ctx, adm, announcement.Draft{Audience: announcement.AudienceBuyers, Title: "To buyers", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := e.Announcements.Deliver(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := e.Announcements.Get(ctx, adm, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Done || got.Delivered != got.Recipients || got.Emailed != 0 || got.Recipients == 0 {
		t.Errorf("to buyers: %+v", got)
	}
	for _, tt := range []struct {
		name string
		d    announcement.Draft
		p    auth.Principal
		want string
	}{
		{"not an admin", announcement.Draft{Audience: "all", Title: "x", Body: "y"}, auth.Principal{UserID: "w", Role: auth.RoleWorker}, "wrong_role"},
		{"no audience", announcement.Draft{Title: "x", Body: "y"}, adm, "invalid_fields"},
		{"a title too long", announcement.Draft{Audience: "all", Title: strings.Repeat("x", announcement.MaxTitleLen+1), Body: "y"}, adm, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Announcements.Create(ctx, tt.p, tt.d); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create() = %v, want %s", err, tt.want)
			}
		})
	}
}
