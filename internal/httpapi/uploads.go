package httpapi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"

	"microtask/internal/apperr"
	"microtask/internal/upload"
)

// MaxUploadBody is the body limit of the requests that carry an image: the
// image itself and a little for the form around it.
const MaxUploadBody = upload.MaxBytes + 64<<10

var errBadMultipart = apperr.New(apperr.Malformed, "malformed_multipart", "the request body is not a valid multipart form")

type imageResponse struct {
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// isMultipart reports whether the request carries a multipart form.
func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// multipartForm parses a multipart form and refuses fields other than
// allowed, as decodeJSON refuses unknown JSON fields.
func multipartForm(r *http.Request, allowed ...string) (*multipart.Form, error) {
	if !isMultipart(r) {
		return nil, apperr.New(apperr.Unsupported, "unsupported_media_type", "send the image as multipart/form-data")
	}
	if err := r.ParseMultipartForm(MaxUploadBody); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, upload.ErrTooLarge
		}
		return nil, errBadMultipart
	}
	var unknown []apperr.FieldError
	for name := range r.MultipartForm.Value {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, apperr.FieldError{Field: name, Message: "is not a field of this request"})
		}
	}
	for name := range r.MultipartForm.File {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, apperr.FieldError{Field: name, Message: "is not a field of this request"})
		}
	}
	if len(unknown) > 0 {
		return nil, apperr.InvalidFields(unknown...)
	}
	return r.MultipartForm, nil
}

// formFile reads the one file of a form field, at most upload.MaxBytes of
// it; ok is false when the field is absent.
func formFile(form *multipart.Form, field string) (data []byte, ok bool, err error) {
	files := form.File[field]
	if len(files) == 0 {
		return nil, false, nil
	}
	if len(files) > 1 {
		return nil, true, apperr.InvalidFields(apperr.FieldError{Field: field, Message: "send one file"})
	}
	if files[0].Size > upload.MaxBytes {
		return nil, true, upload.ErrTooLarge
	}
	f, err := files[0].Open()
	if err != nil {
		return nil, true, errBadMultipart
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, upload.MaxBytes+1))
	if err != nil {
		return nil, true, errBadMultipart
	}
	return data, true, nil
}

// absolute makes a URL of this server (/uploads/...) absolute: on PUBLIC_URL,
// or else on the host the request came to.
func (s *Server) absolute(r *http.Request, url string) string {
	if !strings.HasPrefix(url, "/") {
		return url // already absolute (imgBB)
	}
	if s.publicURL != "" {
		return s.publicURL + url
	}
	scheme := "http"
	if r.TLS != nil || (s.trustedProxies > 0 && r.Header.Get("X-Forwarded-Proto") == "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + url
}

// handleUploadCreate handles POST /api/uploads: multipart field image.
func (s *Server) handleUploadCreate(w http.ResponseWriter, r *http.Request) error {
	form, err := multipartForm(r, "image")
	if err != nil {
		return err
	}
	data, ok, err := formFile(form, "image")
	if err != nil {
		return err
	}
	if !ok {
		return upload.ErrMissing
	}
	img, err := s.uploads.Save(r.Context(), principal(r).UserID, data)
	if err != nil {
		return err
	}
	url := s.absolute(r, img.URL)
	w.Header().Set("Location", url)
	return writeJSON(w, http.StatusCreated, imageResponse{URL: url, Width: img.Width, Height: img.Height})
}

// handleUploadGet handles GET /uploads/{name}: the images kept on this
// server when no imgBB key is configured.
func (s *Server) handleUploadGet(w http.ResponseWriter, r *http.Request) error {
	if s.localUploads == nil {
		return errRouteNotFound
	}
	f, ctype, err := s.localUploads.Open(param(r, "name"))
	if errors.Is(err, os.ErrNotExist) {
		return errUploadNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable") // names are random and never reused
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")         // the app shows them from its own origin
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

var errUploadNotFound = apperr.New(apperr.NotFound, "image_not_found", "no such image")
