package user_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/user"
)

func ptr[T any](v T) *T { return &v }

// TestProfileAbout: what a user tells about themselves is trimmed,
// compared without case where the issue says so, and held to its bounds;
// a field left out stays.
func TestProfileAbout(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	w := e.User(t, auth.RoleWorker)
	u, err := e.Users.UpdateProfile(ctx, w, w.UserID, user.Profile{
		Headline: ptr("  Data entry, fast  "), Skills: ptr([]string{" Go", "go", "SQL ", "Excel"}),
		Languages: ptr([]string{"English", "english", "Deutsch"}), Country: ptr("de"), Website: ptr("https://example.com/me"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := user.About{Headline: "Data entry, fast", Skills: []string{"Go", "SQL", "Excel"}, Languages: []string{"English", "Deutsch"},
		Country: "DE", Website: "https://example.com/me"}
	if fmt.Sprint(u.About) != fmt.Sprint(want) {
		t.Errorf("About = %+v, want %+v", u.About, want)
	}
	u, err = e.Users.UpdateProfile(ctx, w, w.UserID, user.Profile{Bio: ptr("Ten years of it."), Country: ptr("")})
	if err != nil || u.Bio != "Ten years of it." || u.Country != "" || u.Headline != want.Headline {
		t.Errorf("after a second change: %+v, %v", u.About, err)
	}

	many := make([]string, user.MaxSkills+1)
	for i := range many {
		many[i] = fmt.Sprintf("skill %d", i)
	}
	for _, tt := range []struct {
		name   string
		pr     user.Profile
		fields []string
	}{
		{"a headline too long", user.Profile{Headline: ptr(string(make([]rune, user.MaxHeadlineLen+1)))}, []string{"headline"}},
		{"too many skills", user.Profile{Skills: &many}, []string{"skills"}},
		{"an empty skill", user.Profile{Skills: ptr([]string{"Go", " "})}, []string{"skills"}},
		{"a country that is none", user.Profile{Country: ptr("XX")}, []string{"country"}},
		{"a country of three letters", user.Profile{Country: ptr("DEU")}, []string{"country"}},
		{"an http website", user.Profile{Website: ptr("http://example.com")}, []string{"website"}},
		{"all at once", user.Profile{Country: ptr("UK"), Website: ptr("ftp://x"), Languages: ptr([]string{""})},
			[]string{"country", "languages", "website"}},
	} {
		_, err := e.Users.UpdateProfile(ctx, w, w.UserID, tt.pr)
		if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
			t.Errorf("%s: bad fields %v (%v), want %v", tt.name, got, err, tt.fields)
		}
	}
	other := e.User(t, auth.RoleWorker)
	if _, err := e.Users.UpdateProfile(ctx, other, w.UserID, user.Profile{Bio: ptr("mine now")}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("someone else's profile: %v, want %v", err, user.ErrNotFound)
	}
}

func fieldsOf(err error) []string {
	var names []string
	if e := (*apperr.Error)(nil); errors.As(err, &e) {
		for _, f := range e.Fields {
			names = append(names, f.Field)
		}
	}
	slices.Sort(names)
	return names
}

// TestProfileViews: a signed-in viewer counts once a day, noted in memory
// and written by a flush; the owner and admins do not count; the count is
// of distinct viewers in the last 30 days, counted again once old.
func TestProfileViews(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	owner, admin := e.User(t, auth.RoleWorker), e.User(t, auth.RoleAdmin)
	viewers := []auth.Principal{e.User(t, auth.RoleBuyer), e.User(t, auth.RoleBuyer), e.User(t, auth.RoleWorker)}
	view := func(p auth.Principal) user.PublicProfile {
		t.Helper()
		prof, err := e.Users.Profile(ctx, p, owner.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return prof
	}
	flush := func(wantWritten int) {
		t.Helper()
		if n, err := e.Users.FlushViews(ctx); err != nil || n != wantWritten {
			t.Fatalf("FlushViews() = %d, %v; want %d written", n, err, wantWritten)
		}
	}
	for range 3 {
		view(viewers[0])
	}
	view(viewers[1])
	view(owner)
	view(admin)
	view(auth.Principal{}) // anonymous: no one to count
	if got := view(owner).ProfileViews; got != 0 {
		t.Errorf("views before a flush = %d, want 0", got)
	}
	flush(2)
	prof := view(owner)
	if !prof.Own || prof.ProfileViews != 2 {
		t.Errorf("owner sees %+v views %d, want own and 2", prof.Own, prof.ProfileViews)
	}
	if view(viewers[2]).Own {
		t.Errorf("another user's view is their own")
	}

	// Twenty days on, the first viewer comes back; the others do not.
	e.Clock.Advance(20 * 24 * time.Hour)
	view(viewers[0])
	flush(2) // viewers[0] again, and viewers[2] of before
	if got := view(owner).ProfileViews; got != 3 {
		t.Errorf("views = %d, want 3 distinct in 30 days", got)
	}
	// Fifteen days later viewers[1] has left the window: the owner's read
	// of an old count asks for a recount.
	e.Clock.Advance(15 * 24 * time.Hour)
	view(owner)
	flush(0)
	if got := view(owner).ProfileViews; got != 1 {
		t.Errorf("views = %d, want 1 (only viewers[0] within 30 days)", got)
	}
}

// TestProfileOfSuspendedUser: a suspended or deleted user has no public
// profile.
func TestProfileOfSuspendedUser(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	admin, w, d := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleWorker), e.User(t, auth.RoleWorker)
	if err := e.Users.SetStatus(ctx, admin, w.UserID, user.StatusSuspended, "spam"); err != nil {
		t.Fatal(err)
	}
	if err := e.Users.Delete(ctx, admin, d.UserID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.UserID, d.UserID, "nobody"} {
		for _, viewer := range []auth.Principal{{}, admin} {
			if _, err := e.Users.Profile(ctx, viewer, id); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("Profile(%s) to %q = %v, want %v", id, viewer.Role, err, user.ErrNotFound)
			}
		}
	}
}

// TestWorkerSearch: the search filters on the profile and on the copy of
// the standing, and sorts by rating, approved work or age.
func TestWorkerSearch(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	type w struct {
		name   string
		about  user.Profile
		st     user.Standing
		role   auth.Role
		status user.Status
	}
	ids := map[string]string{}
	for i, x := range []w{
		{"ana", user.Profile{Headline: ptr("Translator"), Skills: ptr([]string{"Go", "SQL"}), Country: ptr("DE"), Languages: ptr([]string{"German"})},
			user.Standing{Level: 2, Rating: 4.8, Reviews: 10, Approved: 120}, auth.RoleWorker, user.StatusActive},
		{"bo", user.Profile{Skills: ptr([]string{"go"}), Country: ptr("FR")}, user.Standing{Level: 1, Rating: 4.2, Reviews: 3, Approved: 300},
			auth.RoleWorker, user.StatusActive},
		{"cy", user.Profile{Skills: ptr([]string{"SQL"}), Country: ptr("DE")}, user.Standing{}, auth.RoleWorker, user.StatusActive},
		{"dee", user.Profile{Skills: ptr([]string{"Go", "SQL"})}, user.Standing{Level: 3, Rating: 5, Reviews: 50, Approved: 600},
			auth.RoleWorker, user.StatusSuspended},
		{"eve", user.Profile{Skills: ptr([]string{"Go", "SQL"})}, user.Standing{}, auth.RoleBuyer, user.StatusActive},
	} {
		e.Clock.Advance(time.Minute)
		p := e.User(t, x.role)
		ids[p.UserID], ids[x.name] = x.name, p.UserID
		x.about.Name = ptr(x.name)
		if _, err := e.Users.UpdateProfile(ctx, p, p.UserID, x.about); err != nil {
			t.Fatal(err)
		}
		if err := e.Users.SetStanding(ctx, p.UserID, x.st, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		if x.status != user.StatusActive {
			if err := e.Users.SetStatus(ctx, e.User(t, auth.RoleAdmin), p.UserID, x.status, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		f    user.WorkerFilter
		want []string
	}{
		{user.WorkerFilter{}, []string{"ana", "bo", "cy"}},
		{user.WorkerFilter{Sort: user.SortApproved}, []string{"bo", "ana", "cy"}},
		{user.WorkerFilter{Sort: user.SortNewest}, []string{"cy", "bo", "ana"}},
		{user.WorkerFilter{Skills: []string{"GO"}}, []string{"ana", "bo"}},
		{user.WorkerFilter{Skills: []string{"go", "sql"}}, []string{"ana"}},
		{user.WorkerFilter{Country: "de"}, []string{"ana", "cy"}},
		{user.WorkerFilter{Language: "GERMAN"}, []string{"ana"}},
		{user.WorkerFilter{MinRating: 4.5}, []string{"ana"}},
		{user.WorkerFilter{MinLevel: 1}, []string{"ana", "bo"}},
		{user.WorkerFilter{Query: "transl"}, []string{"ana"}},
		{user.WorkerFilter{Query: "b"}, []string{"bo"}},
	} {
		res, err := e.Users.Workers(ctx, tt.f, page.Request{Number: 1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range res.Items {
			got = append(got, ids[u.ID])
		}
		if !slices.Equal(got, tt.want) || res.Total != int64(len(tt.want)) {
			t.Errorf("Workers(%+v) = %v (total %d), want %v", tt.f, got, res.Total, tt.want)
		}
	}
	if _, err := e.Users.Workers(ctx, user.WorkerFilter{Country: "Germany"}, page.Request{Number: 1, Limit: 10}); !slices.Equal(fieldsOf(err), []string{"country"}) {
		t.Errorf("a country by name: %v, want a bad country", err)
	}
	top, err := e.Users.TopWorkersByRating(ctx)
	if err != nil || len(top) != 2 || top[0].ID != ids["ana"] || top[1].ID != ids["bo"] {
		t.Errorf("TopWorkersByRating() = %+v, %v; want ana, bo (cy has no reviews, dee is suspended)", top, err)
	}
}

// TestRunViewsFlushesWhenStopped: the views noted in memory are written
// when the loop stops, not lost with the process's clean shutdown.
func TestRunViewsFlushesWhenStopped(t *testing.T) {
	e := apptest.New(t)
	owner, viewer := e.User(t, auth.RoleWorker), e.User(t, auth.RoleBuyer)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Users.RunViews(ctx, time.Hour) }()
	if _, err := e.Users.Profile(context.Background(), viewer, owner.UserID); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	prof, err := e.Users.Profile(context.Background(), owner, owner.UserID)
	if err != nil || prof.ProfileViews != 1 {
		t.Errorf("views after the loop stopped = %d, %v; want 1", prof.ProfileViews, err)
	}
}
