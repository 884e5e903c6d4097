package apperr

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Fields collects the bad fields of one request as a service checks its
// bounds, so that one Invalid error lists them all. Its checks say what the
// API's request validation says of the same fault (httpapi's
// validationMessage), since a request type's tags only repeat a service's
// bounds.
type Fields []FieldError

// Add adds a bad field.
func (f *Fields) Add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// AddFrom adds the bad fields of an Invalid error, and nothing for nil.
func (f *Fields) AddFrom(err error) {
	var e *Error
	if errors.As(err, &e) {
		*f = append(*f, e.Fields...)
	}
}

// Text checks text a field must have: not empty, at most max characters.
func (f *Fields) Text(field, v string, max int) {
	if v == "" {
		f.Add(field, "is required")
		return
	}
	f.MaxText(field, v, max)
}

// MaxText checks text of at most max characters.
func (f *Fields) MaxText(field, v string, max int) {
	if utf8.RuneCountInString(v) > max {
		f.Add(field, "must be at most %d characters", max)
	}
}

// URL checks a URL a field may have: none, or an absolute http or https
// URL with a host, of at most max characters.
func (f *Fields) URL(field, v string, max int) {
	switch {
	case v == "":
	case utf8.RuneCountInString(v) > max:
		f.MaxText(field, v, max)
	case !isHTTPURL(v):
		f.Add(field, "must be an http or https URL")
	}
}

func isHTTPURL(v string) bool {
	u, err := url.Parse(strings.ToLower(v))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Count checks a count a field must have: from 1 to max.
func (f *Fields) Count(field string, n, max int64) {
	switch {
	case n == 0:
		f.Add(field, "is required")
	case n < 1:
		f.Add(field, "must be at least 1")
	case n > max:
		f.Add(field, "must be at most %d", max)
	}
}

// Err is an Invalid error listing the bad fields, or nil if there is none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return InvalidFields(f...)
}
