package user_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/user"
)

func invalidFields(err error) []apperr.FieldError {
	var e *apperr.Error
	if errors.As(err, &e) && e.Kind == apperr.Invalid {
		return e.Fields
	}
	return nil
}

// TestBoundsAreTheService: a caller of the service cannot sign up or
// change a profile with what the API would refuse: each bad field is named
// as the API spells it, and a refused change changes nothing.
func TestBoundsAreTheService(t *testing.T) {
	e := apptest.New(t)
	ctx := t.Context()
	fe := func(field, msg string) apperr.FieldError { return apperr.FieldError{Field: field, Message: msg} }
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	photo := "https://example.com/" + strings.Repeat("a", user.MaxPhotoURLLen-len("https://example.com/"))

	t.Run("sign-up", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			r    user.Registration
			want []apperr.FieldError
		}{
			{"at the bounds", user.Registration{Name: " " + long(user.MaxNameLen) + " ", PhotoURL: photo, Password: "Passw0rd!", Role: auth.RoleWorker}, nil},
			{"nothing", user.Registration{Name: " ", Password: "", Role: ""}, []apperr.FieldError{
				fe("role", "is required"), fe("password", "is required"), fe("name", "is required")}},
			{"past the bounds", user.Registration{Name: long(user.MaxNameLen + 1), PhotoURL: photo + "a", Role: auth.RoleAdmin, Password: "short"},
				[]apperr.FieldError{fe("role", "must be one of: worker, buyer"), fe("password", "must be at least 8 characters"),
					fe("name", "must be at most 80 characters"), fe("photo_url", "must be at most 2048 characters")}},
			{"a photo not on the web", user.Registration{Name: "Ray", PhotoURL: "file:///etc/passwd", Password: "Passw0rd!", Role: auth.RoleBuyer},
				[]apperr.FieldError{fe("photo_url", "must be an http or https URL")}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := tt.r
				r.Email = "bounds-" + strings.ReplaceAll(tt.name, " ", "-") + "@example.com"
				sess, err := e.Users.Register(ctx, r)
				if tt.want == nil {
					if err != nil || sess.User.Name != long(user.MaxNameLen) {
						t.Fatalf("Register() = name %q, %v; want the name trimmed", sess.User.Name, err)
					}
					return
				}
				if diff := cmp.Diff(tt.want, invalidFields(err)); diff != "" {
					t.Errorf("Register() error = %v; field errors (-want +got):\n%s", err, diff)
				}
			})
		}
	})

	t.Run("profile", func(t *testing.T) {
		p := e.User(t, auth.RoleWorker)
		str := func(s string) *string { return &s }
		for _, tt := range []struct {
			name string
			pr   user.Profile
			want []apperr.FieldError
		}{
			{"a cleared name", user.Profile{Name: str("  ")}, []apperr.FieldError{fe("name", "cannot be cleared; leave it out to keep it")}},
			{"past the bounds", user.Profile{Name: str(long(user.MaxNameLen + 1)), PhotoURL: str("ftp://example.com/a.png")},
				[]apperr.FieldError{fe("name", "must be at most 80 characters"), fe("photo_url", "must be an http or https URL")}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before, err := e.Users.Get(ctx, p.UserID)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.Users.UpdateProfile(ctx, p, p.UserID, tt.pr)
				if diff := cmp.Diff(tt.want, invalidFields(err)); diff != "" {
					t.Errorf("UpdateProfile() error = %v; field errors (-want +got):\n%s", err, diff)
				}
				if after, err := e.Users.Get(ctx, p.UserID); err != nil || after.Name != before.Name || after.PhotoURL != before.PhotoURL {
					t.Errorf("a refused change left name %q, photo %q (%v); want %q, %q", after.Name, after.PhotoURL, err, before.Name, before.PhotoURL)
				}
			})
		}
		// At the bounds, trimmed.
		got, err := e.Users.UpdateProfile(ctx, p, p.UserID, user.Profile{Name: str(" " + long(user.MaxNameLen) + "\n"), PhotoURL: str(" " + photo)})
		if err != nil || got.Name != long(user.MaxNameLen) || got.PhotoURL != photo {
			t.Errorf("UpdateProfile() at the bounds = %q, %q, %v", got.Name, got.PhotoURL, err)
		}
	})
}
