package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/go-chi/httprate"

	"microtask/internal/apperr"
	"microtask/internal/platform/logging"
)

// MaxBodyBytes is the largest request body accepted by default.
const MaxBodyBytes = 1 << 20

// validRequestID accepts a client's X-Request-Id when it is short and plain,
// so that it can be logged and echoed without escaping.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID puts a request ID in the context and echoes it as X-Request-Id:
// the client's own when it sent a sane one, else a fresh random one.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// caller is who a request turned out to be from: authenticate fills it in
// for the access log, which runs outside it.
type caller struct {
	userID     string
	noRoute    bool // no route matched: chi's pattern is then a mount's "/api/*"
	keyAllowed bool // the route takes the request's API key (scoped)
}

type callerKey struct{}

// noteCaller records the authenticated user for the access log.
func noteCaller(r *http.Request, userID string) {
	if c, ok := r.Context().Value(callerKey{}).(*caller); ok {
		c.userID = userID
	}
}

// probes are the paths load balancers poll: their answers are logged at
// debug, so that the log stays about users.
var probes = map[string]bool{"/api/health": true, "/api/ready": true}

// accessLog logs one JSON line per request once it is answered, with the
// route's pattern (to group by endpoint), the signed-in user and the user
// agent.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &caller{}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if probes[r.URL.Path] && status < 500 {
			level = slog.LevelDebug
		}
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil {
			route = rc.RoutePattern()
		}
		if c.noRoute {
			route = ""
		}
		s.metrics.Request(route, r.Method, status, time.Since(start))
		s.log.Log(r.Context(), level, "http request",
			"method", r.Method,
			"path", r.URL.Path,
			"route", route,
			"status", status,
			"bytes", ww.BytesWritten(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"ip", middleware.GetClientIP(r.Context()),
			"user_id", c.userID,
			"user_agent", r.UserAgent(),
		)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 problem.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response; let it through
			}
			s.log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeProblem(w, r, http.StatusInternalServerError, errInternal)
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every JSON API response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies larger than the request's limit (see
// bodyLimit): at once when Content-Length says so, and otherwise when the
// handler reads past it.
func limitBody(bodyLimit func(*http.Request) int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := bodyLimit(r)
			if r.ContentLength > n {
				writeProblem(w, r, http.StatusRequestEntityTooLarge,
					errTooLarge.WithMessage("the request body is larger than %d bytes", n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// bodyLimit is MaxBodyBytes, except for the requests that carry an image:
// an upload, and a sign-up sent as a multipart form with a photo.
func bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && (r.URL.Path == "/api/uploads" || r.URL.Path == "/api/auth/register") && isMultipart(r) {
		return MaxUploadBody
	}
	if r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/api/batches" && isMultipart(r) {
		return MaxBatchBody
	}
	return MaxBodyBytes
}

// rateLimitByUser allows perMinute requests per signed-in user; it must run
// after authenticate. perMinute 0 disables it.
func rateLimitByUser(perMinute int) func(http.Handler) http.Handler {
	return rateLimit(perMinute, func(r *http.Request) string { return principal(r).UserID })
}

// forMultipart applies limit to multipart requests only: on sign-up, those
// are the ones that may carry a photo to store.
func forMultipart(limit func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		limited := limit(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isMultipart(r) {
				limited.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientIP resolves the client's address into the context for logging and
// rate limiting. Behind trusted reverse proxies the address comes from
// X-Forwarded-For; otherwise from the connection, which cannot be spoofed.
func clientIP(trustedProxies int) func(http.Handler) http.Handler {
	if trustedProxies > 0 {
		return middleware.ClientIPFromXFFTrustedProxies(trustedProxies)
	}
	return middleware.ClientIPFromRemoteAddr
}

var errRateLimited = apperr.New(apperr.RateLimited, "rate_limited", "too many requests; retry after the time in Retry-After")

// rateLimitByIP allows perMinute requests per client IP (IPv6 by /64).
// perMinute 0 disables it.
func rateLimitByIP(perMinute int) func(http.Handler) http.Handler {
	return rateLimit(perMinute, func(r *http.Request) string {
		return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context()))
	})
}

// rateLimit allows perMinute requests per key and answers the rest with 429
// and Retry-After. perMinute 0 disables it.
func rateLimit(perMinute int, key func(*http.Request) string) func(http.Handler) http.Handler {
	if perMinute <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return httprate.LimitBy(perMinute, time.Minute,
		func(r *http.Request) (string, error) { return key(r), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			// httprate says the whole window in Retry-After; the time left
			// until its X-RateLimit-Reset is what the client should wait.
			if reset, err := strconv.ParseInt(w.Header().Get("X-RateLimit-Reset"), 10, 64); err == nil {
				left := max(1, int64(math.Ceil(time.Until(time.Unix(reset, 0)).Seconds())))
				w.Header().Set("Retry-After", strconv.FormatInt(left, 10))
			}
			writeProblem(w, r, http.StatusTooManyRequests, errRateLimited)
		}),
	)
}

// corsFor answers preflight requests from the allowed origins and marks
// their responses readable. Tokens travel in the Authorization header, not
// cookies, so credentials are not allowed.
func corsFor(origins []string) func(http.Handler) http.Handler {
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"},
		ExposedHeaders: []string{"X-Request-Id", "Retry-After", "Location", "Idempotent-Replayed",
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		MaxAge: 600,
	})
}
