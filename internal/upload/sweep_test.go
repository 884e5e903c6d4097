package upload_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/task"
	"microtask/internal/upload"
	"microtask/internal/user"
)

// sweepEnv is the services with their images in a directory of the test's
// own, which the test looks into.
func sweepEnv(t *testing.T, dailyLimit int) (*apptest.Env, upload.Dir) {
	t.Helper()
	dir := upload.Dir{Path: t.TempDir()}
	e := apptest.New(t, func(c *app.Config) { c.ImageHost, c.DailyUploadLimit = dir, dailyLimit })
	return e, dir
}

// keptNames lists the names of the images in dir.
func keptNames(t *testing.T, dir upload.Dir) []string {
	t.Helper()
	files, err := dir.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// TestSweep: an image nothing refers to is deleted once its grace period is
// over, with its record; one that a user's photo or a task's picture refers
// to (on whatever host its URL names) is kept, and goes once nothing does,
// at its next look.
func TestSweep(t *testing.T) {
	e, dir := sweepEnv(t, 0)
	ctx := t.Context()
	data := images(t)["image/png"]
	buyer := e.User(t, auth.RoleBuyer)
	e.Give(t, buyer.UserID, 100)
	admin := e.User(t, auth.RoleAdmin)

	var photoOf string // the user whose photo is the "replaced photo" image
	var taskOf string  // the task whose picture is the "deleted task's picture" image
	tests := []struct {
		name      string
		use       func(t *testing.T, url string) // refer to the image; nil: nothing does
		unuse     func(t *testing.T)             // then stop, after the first sweep; nil: never
		wantFirst bool                           // kept by the first sweep, a day and more after the upload
		wantLater bool                           // kept by the sweep a week later
	}{
		{name: "unused"},
		{name: "a user's photo", use: func(t *testing.T, url string) {
			if _, err := e.Users.Register(ctx, user.Registration{Name: "Pia", Email: "pia@example.com", Password: "Passw0rd!",
				Role: auth.RoleWorker, PhotoURL: "http://localhost:5000" + url}); err != nil {
				t.Fatal(err)
			}
		}, wantFirst: true, wantLater: true},
		{name: "a replaced photo", use: func(t *testing.T, url string) {
			s, err := e.Users.Register(ctx, user.Registration{Name: "Rob", Email: "rob@example.com", Password: "Passw0rd!",
				Role: auth.RoleWorker, PhotoURL: "https://api.example.com" + url})
			if err != nil {
				t.Fatal(err)
			}
			photoOf = s.User.ID
		}, unuse: func(t *testing.T) {
			photo := "https://img.example/rob.png"
			if _, err := e.Users.UpdateProfile(ctx, admin, photoOf, user.Profile{PhotoURL: &photo}); err != nil {
				t.Fatal(err)
			}
		}, wantFirst: true},
		{name: "a deleted task's picture", use: func(t *testing.T, url string) {
			tk, err := e.Tasks.Create(ctx, buyer, task.NewTask{
				Text:    task.Text{Title: "Watch", Detail: "Watch a video", SubmissionInfo: "A screenshot", ImageURL: "https://api.example.com" + url},
				Workers: 1, Pay: 10, CompletionDate: e.Clock.Now().Add(30 * 24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			taskOf = tk.ID
			if _, err := e.Tasks.Delete(ctx, buyer, taskOf); err != nil {
				t.Fatal(err)
			}
		}, wantFirst: true, wantLater: true},
		{name: "a portfolio's image", use: func(t *testing.T, url string) {
			url = "https://api.example.com" + url
			if _, err := e.Users.AddPortfolioItem(ctx, buyer, buyer.UserID, user.PortfolioEdit{Title: &url, ImageURL: &url}); err != nil {
				t.Fatal(err)
			}
		}, wantFirst: true, wantLater: true},
		{name: "a deleted portfolio item's image", use: func(t *testing.T, url string) {
			url = "https://api.example.com" + url
			if _, err := e.Users.AddPortfolioItem(ctx, admin, admin.UserID, user.PortfolioEdit{Title: &url, ImageURL: &url}); err != nil {
				t.Fatal(err)
			}
		}, unuse: func(t *testing.T) {
			u, err := e.Users.Get(ctx, admin.UserID)
			if err != nil || len(u.Portfolio) != 1 {
				t.Fatalf("portfolio = %+v, %v", u.Portfolio, err)
			}
			if err := e.Users.DeletePortfolioItem(ctx, admin, admin.UserID, u.Portfolio[0].ID); err != nil {
				t.Fatal(err)
			}
		}, wantFirst: true},
	}
	saved := make([]upload.Image, len(tests))
	for i, tt := range tests {
		img, err := e.Uploads.Save(ctx, buyer.UserID, data)
		if err != nil {
			t.Fatal(err)
		}
		saved[i] = img
		if tt.use != nil {
			tt.use(t, img.URL)
		}
	}
	// One more, uploaded later: still in its grace period at the first sweep.
	e.Clock.Advance(2 * time.Hour)
	young, err := e.Uploads.Save(ctx, "", data)
	if err != nil {
		t.Fatal(err)
	}

	sweep := func(after time.Duration, wantYoung bool, want func(i int) bool) {
		t.Helper()
		e.Clock.Advance(after)
		if _, err := e.Uploads.Sweep(ctx); err != nil {
			t.Fatalf("Sweep() error = %v", err)
		}
		files := keptNames(t, dir)
		for i, tt := range tests {
			if got := slices.Contains(files, saved[i].Name); got != want(i) {
				t.Errorf("%s: kept %v, want %v", tt.name, got, want(i))
			}
		}
		if got := slices.Contains(files, young.Name); got != wantYoung {
			t.Errorf("an image uploaded 23 hours ago: kept %v, want %v", got, wantYoung)
		}
	}
	sweep(upload.Grace-time.Hour, true, func(i int) bool { return tests[i].wantFirst })
	for _, tt := range tests {
		if tt.unuse != nil {
			tt.unuse(t)
		}
	}
	sweep(upload.Recheck, false, func(i int) bool { return tests[i].wantLater })

	// A swept image leaves no record: adopting the directory finds nothing
	// new, and sweeping again deletes nothing more.
	if n, err := e.Uploads.Adopt(ctx); err != nil || n != 0 {
		t.Errorf("Adopt() = %d, %v; want 0", n, err)
	}
	if n, err := e.Uploads.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep() again = %d, %v; want 0", n, err)
	}
}

// TestDailyLimit: an owner may store DailyUploadLimit images in 24 hours;
// the next is refused until the first of them is a day old, which the error
// says. Other owners and sign-up photos are not counted.
func TestDailyLimit(t *testing.T) {
	e, _ := sweepEnv(t, 3)
	ctx := t.Context()
	data := images(t)["image/png"]
	save := func(owner string) error {
		_, err := e.Uploads.Save(ctx, owner, data)
		return err
	}
	for range 3 {
		if err := save("u1"); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
	}
	err := save("u1")
	var later interface{ RetryAfter() time.Duration }
	if !errors.Is(err, upload.ErrDailyLimit) || !errors.As(err, &later) || later.RetryAfter() != 21*time.Hour {
		t.Fatalf("fourth Save() = %v, want ErrDailyLimit retrying after 21h", err)
	}
	if err := save("u2"); err != nil {
		t.Errorf("Save() of another owner = %v", err)
	}
	if err := save(""); err != nil {
		t.Errorf("Save() of a sign-up photo = %v", err)
	}
	e.Clock.Advance(21 * time.Hour)
	if err := save("u1"); err != nil {
		t.Errorf("Save() once the first upload is a day old = %v", err)
	}
}

// TestAdopt: images stored before they were recorded (or when a crash came
// between storing and recording) are recorded as stored when their files
// were, and swept as any other.
func TestAdopt(t *testing.T) {
	e, dir := sweepEnv(t, 0)
	ctx := t.Context()
	recorded, err := e.Uploads.Save(ctx, "u1", images(t)["image/png"])
	if err != nil {
		t.Fatal(err)
	}
	old := e.Clock.Now().Add(-48 * time.Hour)
	legacy := []string{"0123456789abcdef0123456789abcdef.png", "fedcba9876543210fedcba9876543210.jpg"}
	for _, name := range append(legacy, ".upload-123", "notes.txt") { // the last two are no images of Save's
		path := filepath.Join(dir.Path, name)
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []int{2, 0} { // safe to repeat
		if n, err := e.Uploads.Adopt(ctx); err != nil || n != want {
			t.Fatalf("Adopt() run %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	if n, err := e.Uploads.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("Sweep() = %d, %v; want the two adopted images, two days old", n, err)
	}
	if got := keptNames(t, dir); !slices.Equal(got, []string{recorded.Name}) {
		t.Errorf("images kept = %v, want only %s, in its grace period", got, recorded.Name)
	}
}

// TestSweepLeavesImagesItCannotDelete: imgBB's images cannot be deleted
// through its API; their records stay and nothing fails.
func TestSweepLeavesImagesItCannotDelete(t *testing.T) {
	var stored []string
	host := hostFunc(func(name, _ string, _ []byte) (string, error) {
		stored = append(stored, name)
		return "https://i.ibb.co/x/" + name, nil
	})
	e := apptest.New(t, func(c *app.Config) { c.ImageHost = host })
	if _, err := e.Uploads.Save(t.Context(), "u1", images(t)["image/png"]); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(upload.Grace + upload.Recheck)
	for _, run := range []func(context.Context) (int, error){e.Uploads.Sweep, e.Uploads.Adopt} {
		if n, err := run(t.Context()); err != nil || n != 0 {
			t.Errorf("= %d, %v; want 0, nil", n, err)
		}
	}
	if len(stored) != 1 {
		t.Errorf("imgBB got %d images, want 1", len(stored))
	}
}
