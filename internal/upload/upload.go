// Package upload accepts images (task pictures, profile photos): it checks
// that the bytes are a PNG, JPEG, GIF or WebP image of sensible size, and
// hands them to a host, imgBB or a directory under DATA_DIR.
package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // registers the decoders DecodeConfig needs
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"net/http"

	_ "golang.org/x/image/webp"

	"microtask/internal/apperr"
)

// MaxBytes is the largest image accepted.
const MaxBytes = 5 << 20

// MaxSide is the largest width or height accepted, against images that
// decompress into gigabytes.
const MaxSide = 12000

// Image is a stored image.
type Image struct {
	Name        string // the random name Save gave it
	URL         string // absolute (imgBB) or a path on this server (/uploads/...)
	Width       int
	Height      int
	ContentType string
}

// Errors.
var (
	ErrTooLarge    = apperr.New(apperr.TooLarge, "image_too_large", fmt.Sprintf("images may be at most %d MiB", MaxBytes>>20))
	ErrUnsupported = apperr.New(apperr.Unsupported, "unsupported_image", "send a PNG, JPEG, GIF or WebP image")
	ErrDimensions  = apperr.New(apperr.Invalid, "image_dimensions", fmt.Sprintf("images may be at most %d pixels wide and high", MaxSide))
	ErrUnavailable = apperr.New(apperr.Unavailable, "image_host_unavailable", "the image host cannot be reached; try again later")
	ErrMissing     = apperr.InvalidFields(apperr.FieldError{Field: "image", Message: "is required: send the file in a multipart form field named image"})
)

// Host keeps image files. imgbb.Client and Dir implement it.
type Host interface {
	Name() string
	// Put stores data under name and returns its URL. An error of kind
	// Unavailable when the host cannot take it now.
	Put(ctx context.Context, name, contentType string, data []byte) (string, error)
}

// Deleter is a Host that can delete the images it keeps. Dir is one; imgBB
// is not: its API only uploads, and an image is deleted through its own
// delete_url, a page for a person in a browser, not through the API key.
type Deleter interface {
	// Delete removes the image called name; a missing one is no error.
	Delete(ctx context.Context, name string) error
}

// Service checks and stores images.
type Service struct {
	host Host
	log  *slog.Logger
}

// NewService returns a Service storing images with host.
func NewService(host Host, log *slog.Logger) *Service {
	return &Service{host: host, log: log}
}

var extensions = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}

// Save checks data and stores it under a random name. The type is decided
// from the bytes, never from what the client claims.
func (s *Service) Save(ctx context.Context, data []byte) (Image, error) {
	if len(data) > MaxBytes {
		return Image{}, ErrTooLarge
	}
	ct := http.DetectContentType(data)
	ext, ok := extensions[ct]
	if !ok {
		return Image{}, ErrUnsupported
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Image{}, ErrUnsupported // right signature, broken image
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return Image{}, ErrDimensions
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	name := hex.EncodeToString(b) + "." + ext
	url, err := s.host.Put(ctx, name, ct, data)
	if err != nil {
		s.log.ErrorContext(ctx, "store image", "host", s.host.Name(), "err", err)
		return Image{}, ErrUnavailable
	}
	s.log.InfoContext(ctx, "image stored", "host", s.host.Name(), "bytes", len(data), "type", ct)
	return Image{Name: name, URL: url, Width: cfg.Width, Height: cfg.Height, ContentType: ct}, nil
}

// Discard deletes an image that nothing will refer to (the photo of a
// sign-up that failed), if the host can delete; see Deleter.
func (s *Service) Discard(ctx context.Context, img Image) error {
	d, ok := s.host.(Deleter)
	if !ok {
		return nil
	}
	if err := d.Delete(ctx, img.Name); err != nil {
		return fmt.Errorf("delete image %s: %w", img.Name, err)
	}
	s.log.InfoContext(ctx, "image discarded", "host", s.host.Name(), "name", img.Name)
	return nil
}
