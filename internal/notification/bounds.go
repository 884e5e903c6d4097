package notification

import (
	"strings"

	"microtask/internal/apperr"
)

// Bounds of an announcement, in characters. The service checks them; the
// API's request validation (httpapi's announceRequest tags) repeats them
// for the contract, and a test there requires the two to refuse the same
// values with the same field errors.
const (
	MaxMessageLen = 500
	MaxRouteLen   = 200
)

// checkAnnouncement checks an announcement's message and the route of the
// app it points to, trimmed: a path on the app, never another site.
func checkAnnouncement(message, route string) error {
	var errs apperr.Fields
	errs.Text("message", message, MaxMessageLen)
	switch {
	case route == "":
	case len([]rune(route)) > MaxRouteLen:
		errs.MaxText("action_route", route, MaxRouteLen)
	case !strings.HasPrefix(route, "/"):
		errs.Add("action_route", "is not valid (startswith)") // as the API has always said
	}
	return errs.Err()
}
