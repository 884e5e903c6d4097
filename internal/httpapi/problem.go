package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/payment"
	"microtask/internal/platform/logging"
)

// problem is an RFC 9457 problem details body. Clients switch on Code; Type
// is about:blank because the codes are documented in docs/problems.md rather
// than at dereferenceable URLs.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Instance  string         `json:"instance"`
	Code      string         `json:"code"`
	Errors    []fieldProblem `json:"errors,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// statusOf is the one table from error kinds to HTTP statuses.
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.Malformed:
		return http.StatusBadRequest
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.NotAcceptable:
		return http.StatusNotAcceptable
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.Unsupported:
		return http.StatusUnsupportedMediaType
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.NotImplemented:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

var errInternal = apperr.New(apperr.Internal, "internal_error", "internal error")

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: a returned error becomes a problem response.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if keyRefused(r) { // every handler refuses keys, but where a scope allows them
			s.writeError(w, r, auth.ErrInsufficientScope)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// writeError is the only place errors become HTTP responses. Errors that are
// not *apperr.Error are bugs or outages: the client learns nothing but the
// request ID, and the whole chain is logged here, once.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := s.clientError(r, err)
	var later interface{ RetryAfter() time.Duration } // a limit that knows when it lifts
	if errors.As(err, &later) {
		w.Header().Set("Retry-After", strconv.Itoa(int(later.RetryAfter().Seconds())))
	}
	writeProblem(w, r, statusOf(ae.Kind), ae)
}

// clientError is what the client is told of err: the *apperr.Error in its
// chain, or internal_error, logged with what the client is not told.
func (s *Server) clientError(r *http.Request, err error) *apperr.Error {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		ctx := r.Context()
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			// The client went away; nobody reads this response.
			s.log.InfoContext(ctx, "request canceled by client", "err", err)
		default:
			s.log.ErrorContext(ctx, "request failed", "err", err, "method", r.Method, "path", r.URL.Path)
		}
		return errInternal
	}
	switch {
	case expectedUnavailable(err):
		s.log.DebugContext(r.Context(), "request refused", "err", err, "method", r.Method, "path", r.URL.Path)
	case ae.Kind == apperr.Unavailable || ae.Kind == apperr.Internal:
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	return ae
}

// expectedUnavailable reports whether err is a 503 that says what this
// instance is doing (draining, so every readiness probe gets one) or how
// it is configured, rather than that something failed: the access log has
// each such answer, and an error line for it would only be noise.
func expectedUnavailable(err error) bool {
	return errors.Is(err, errShuttingDown) || errors.Is(err, payment.ErrNotConfigured)
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, e *apperr.Error) {
	p := problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Instance:  r.URL.Path,
		Code:      e.Code,
		RequestID: logging.RequestIDFrom(r.Context()),
	}
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, fieldProblem(f))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="microtask"`) // RFC 6750: say how to authenticate
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as a JSON response. v is encoded before anything is
// written, so an encoding error can still become a 500 problem.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a failed write means the client left
	return nil
}
