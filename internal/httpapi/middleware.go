package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

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

// accessLog logs one JSON line per request once it is answered.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.log.InfoContext(r.Context(), "http request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", status,
			"bytes", ww.BytesWritten(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"ip", middleware.GetClientIP(r.Context()),
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
		ExposedHeaders: []string{"X-Request-Id", "Retry-After", "Location"},
		MaxAge:         600,
	})
}
