// Package apperr defines the error kinds shared by every package. It knows
// nothing about HTTP: httpapi maps each Kind to a status code in one place.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds, in the order of the HTTP statuses they become.
const (
	Internal        Kind = iota // a bug or an outage; the client is told nothing more
	Malformed                   // the request cannot be parsed
	Unauthenticated             // no or bad credentials
	Forbidden                   // authenticated but not allowed
	NotFound                    // no such resource (or not visible to the caller)
	NotAcceptable               // none of the media types the client accepts can be sent
	Conflict                    // the resource's state does not allow the operation
	TooLarge                    // the request body is too large
	Invalid                     // well-formed, but some fields are not acceptable
	Unsupported                 // the body's media type is not accepted
	RateLimited                 // too many requests
	Unavailable                 // a dependency is down; retry later
	NotImplemented              // the feature is not configured on this server
)

var kindNames = [...]string{"internal", "malformed", "unauthenticated", "forbidden", "not_found",
	"not_acceptable", "conflict", "too_large", "invalid", "unsupported", "rate_limited", "unavailable", "not_implemented"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError says what is wrong with one input field. Field uses the name the
// client sent (the JSON name, or a query parameter).
type FieldError struct {
	Field   string
	Message string
}

// Error is an error that is safe to show to a client: Code is stable and
// machine-readable, Message is a sentence for people.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
}

// New returns an Error. Packages declare their errors once, as variables:
//
//	var ErrInsufficientCoins = apperr.New(apperr.Conflict, "insufficient_coins", "not enough coins for this operation")
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same Code, so that an error
// returned with extra fields or a different message still matches its declared
// variable with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithMessage returns a copy of e with another message, for errors whose
// sentence depends on the request.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// InvalidFields returns an Error of kind Invalid listing every bad field.
func InvalidFields(fields ...FieldError) *Error {
	return &Error{Kind: Invalid, Code: "invalid_fields", Message: "some fields are not valid", Fields: fields}
}

// KindOf returns the Kind of the first *Error in err's chain, and Internal when
// there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
