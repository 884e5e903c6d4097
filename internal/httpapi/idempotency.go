package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"

	"microtask/internal/apperr"
	"microtask/internal/idempotency"
)

// idempotencyKey accepts what clients put in Idempotency-Key: up to 255
// visible ASCII characters.
var idempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

var errBadIdempotencyKey = apperr.InvalidFields(apperr.FieldError{Field: "Idempotency-Key",
	Message: "must be 1 to 255 visible ASCII characters"})

// replayedHeader marks an answer sent again for a retried key.
const replayedHeader = "Idempotent-Replayed"

// keptHeaders are the response headers an answer is sent again with.
var keptHeaders = []string{"Content-Type", "Location", "Cache-Control"}

// idempotent makes a request that moves coins safe to retry with an
// Idempotency-Key, per user: the same key with the same method, path and
// body gets the first answer again (status, headers, body) with nothing
// done again; with anything else 409 idempotency_key_reused; while the
// first still runs 409 idempotency_key_in_progress. A server error is not
// kept, so a retry runs the request again. Requests without the header run
// as they are. It runs after authentication: keys belong to a user.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !idempotencyKey.MatchString(key) {
			s.writeError(w, r, errBadIdempotencyKey)
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx, userID := r.Context(), principal(r).UserID
		res, replay, err := s.keys.Begin(ctx, userID, key, fingerprint(r, body))
		if errors.Is(err, idempotency.ErrInProgress) {
			w.Header().Set("Retry-After", "1")
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if replay {
			for name, v := range res.Header {
				w.Header().Set(name, v)
			}
			w.Header().Set(replayedHeader, "true")
			w.WriteHeader(res.Status)
			_, _ = w.Write(res.Body)
			return
		}

		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// The answer is kept even if the client has gone: its retry is what
		// the key is for.
		ctx = context.WithoutCancel(ctx)
		if rec.status >= 500 {
			err = s.keys.Release(ctx, userID, key)
		} else {
			err = s.keys.Finish(ctx, userID, key, rec.response())
		}
		if err != nil {
			// The claim stays until its lease runs out; the request's
			// effects are derived from the key, so a retry then finds them.
			s.log.ErrorContext(ctx, "keep idempotent answer", "err", err)
		}
	})
}

// fingerprint hashes what makes two requests the same request.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	if !hashParts(h, r, body) {
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashParts hashes a multipart form by its parts (names, file names,
// contents) rather than its bytes: a retry whose client drew another
// boundary, as curl -F does each time, is the same request. False if the
// body is not a multipart form it can read.
func hashParts(h hash.Hash, r *http.Request, body []byte) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var parts bytes.Buffer
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return false
		}
		fmt.Fprintf(&parts, "%q %q %d\n", p.FormName(), p.FileName(), len(data))
		parts.Write(data)
	}
	h.Write(parts.Bytes())
	return true
}

// readBody reads the whole request body, within the body limit.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, errTooLarge.WithMessage("the request body is larger than %d bytes", maxErr.Limit)
	}
	if err != nil {
		return nil, errBadJSON.WithMessage("the request body could not be read")
	}
	return body, nil
}

// recorder passes a response through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) response() idempotency.Response {
	h := map[string]string{}
	for _, name := range keptHeaders {
		if v := r.Header().Get(name); v != "" {
			h[name] = v
		}
	}
	return idempotency.Response{Status: r.status, Header: h, Body: r.body.Bytes()}
}
