package user

import (
	"strings"

	"microtask/internal/apperr"
	"microtask/internal/auth"
)

// Bounds of what people write about themselves, in characters. The service
// checks them; the API's request validation (httpapi's registerRequest and
// profileRequest tags) repeats them for the contract, and a test there
// requires the two to accept and refuse the same values with the same field
// errors.
const (
	MaxNameLen     = 80
	MaxPhotoURLLen = 2048
)

// check applies the sign-up rules to a normalized registration: the roles
// open to sign-up, the password policy, and the bounds of name and photo.
// The email's form is left to the API's validation.
func (r Registration) check() error {
	var errs apperr.Fields
	switch {
	case r.Role == "":
		errs.Add("role", "is required")
	case !canSignUpAs(r.Role):
		errs = append(errs, errSignupRole)
	}
	switch p := auth.PasswordProblem(r.Password); {
	case r.Password == "":
		errs.Add("password", "is required")
	case p != "":
		errs.Add("password", "%s", p)
	}
	errs.Text("name", r.Name, MaxNameLen)
	errs.URL("photo_url", r.PhotoURL, MaxPhotoURLLen)
	return errs.Err()
}

// check trims the change's fields and checks those it sets: a name cannot
// be cleared, and an empty photo URL removes the photo.
func (pr *Profile) check() error {
	var errs apperr.Fields
	if pr.Name != nil {
		name := strings.TrimSpace(*pr.Name)
		pr.Name = &name // not through the caller's pointer
		if name == "" {
			errs.Add("name", "cannot be cleared; leave it out to keep it")
		} else {
			errs.MaxText("name", name, MaxNameLen)
		}
	}
	if pr.PhotoURL != nil {
		photo := strings.TrimSpace(*pr.PhotoURL)
		pr.PhotoURL = &photo
		errs.URL("photo_url", photo, MaxPhotoURLLen)
	}
	pr.checkAbout(&errs)
	return errs.Err()
}
