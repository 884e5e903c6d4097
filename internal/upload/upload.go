// Package upload accepts images (task pictures, profile photos): it checks
// that the bytes are a PNG, JPEG, GIF or WebP image of sensible size, and
// hands them to a host, imgBB or a directory under DATA_DIR. It records each
// image stored, bounds how many a user stores a day, and deletes those that
// nothing refers to once their grace period is over.
package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers the decoders DecodeConfig needs
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

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

// Grace is how long an image nothing refers to is kept: time for the form
// it was uploaded from to be sent.
const Grace = 24 * time.Hour

// Recheck is how long an image that something refers to is kept before the
// sweep looks again: one whose task or photo was changed since goes then.
const Recheck = 7 * 24 * time.Hour

// Errors.
var (
	ErrDailyLimit  = apperr.New(apperr.RateLimited, "daily_upload_limit", "you have uploaded as many images as a day allows; retry after the time in Retry-After")
	ErrTooLarge    = apperr.New(apperr.TooLarge, "image_too_large", fmt.Sprintf("images may be at most %d MiB", MaxBytes>>20))
	ErrUnsupported = apperr.New(apperr.Unsupported, "unsupported_image", "send a PNG, JPEG, GIF or WebP image")
	ErrDimensions  = apperr.New(apperr.Invalid, "image_dimensions", fmt.Sprintf("images may be at most %d pixels wide and high", MaxSide))
	ErrUnavailable = apperr.New(apperr.Unavailable, "image_host_unavailable", "the image host cannot be reached; try again later")
	ErrMissing     = apperr.InvalidFields(apperr.FieldError{Field: "image", Message: "is required: send the file in a multipart form field named image"})
)

// Record is an image as the service keeps track of it.
type Record struct {
	Name      string
	Owner     string // the user who uploaded it; empty for the photo of a sign-up
	Host      string // Host.Name() of where it is kept
	URL       string // as the host gave it
	CreatedAt time.Time
	// CheckAt is when the sweep looks next at whether anything refers to
	// the image; zero for a host that cannot delete.
	CheckAt time.Time
}

// Store keeps the records of the images stored. storage.UploadStore
// implements it.
type Store interface {
	// Insert adds r; inserting a name again is a no-op.
	Insert(ctx context.Context, r Record) error
	// CountSince counts owner's images stored after since, and returns the
	// oldest of their times.
	CountSince(ctx context.Context, owner string, since time.Time) (int64, time.Time, error)
	// Due returns up to limit records whose CheckAt is at or before now,
	// oldest CheckAt first.
	Due(ctx context.Context, now time.Time, limit int) ([]Record, error)
	// Postpone sets the CheckAt of the record called name.
	Postpone(ctx context.Context, name string, at time.Time) error
	// Delete removes the record called name, if there is one.
	Delete(ctx context.Context, name string) error
	// Names returns the names of the records of a host.
	Names(ctx context.Context, host string) ([]string, error)
	// Known says whether an image is recorded: the one called name, or if
	// name is empty, the one stored at url.
	Known(ctx context.Context, name, url string) (bool, error)
}

// Referrer lists the image URLs its documents hold: user.Service (profile
// photos) and task.Service (task pictures) implement it.
type Referrer interface {
	EachImageURL(ctx context.Context, fn func(url string) error) error
}

// Host keeps image files. imgbb.Client and Dir implement it.
type Host interface {
	Name() string
	// Put stores data under name and returns its URL. An error of kind
	// Unavailable when the host cannot take it now.
	Put(ctx context.Context, name, contentType string, data []byte) (string, error)
}

// Deleter is a Host that can list and delete the images it keeps. Dir is one; imgBB
// is not: its API only uploads, and an image is deleted through its own
// delete_url, a page for a person in a browser, not through the API key. So
// only the images of this server are ever swept.
type Deleter interface {
	// Delete removes the image called name; a missing one is no error.
	Delete(ctx context.Context, name string) error
	// List returns the images kept, with when each was stored.
	List() ([]Stored, error)
}

// Stored is an image as its host lists it.
type Stored struct {
	Name string
	At   time.Time
}

// Service checks, stores, records and sweeps images.
type Service struct {
	host       Host
	store      Store
	referrers  []Referrer
	dailyLimit int64 // images a user may store in 24 hours; 0: no limit
	log        *slog.Logger
	now        func() time.Time
}

// NewService returns a Service storing images with host and recording them
// in store; referrers tell which images are in use. now may be nil for
// time.Now.
func NewService(host Host, store Store, referrers []Referrer, dailyLimit int, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{host: host, store: store, referrers: referrers, dailyLimit: int64(dailyLimit), log: log, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

var extensions = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}

// Save checks data and stores it under a random name for owner (empty for
// the photo of a sign-up, which has no owner yet), and records it. The type
// is decided from the bytes, never from what the client claims. An owner
// past the daily limit gets ErrDailyLimit, which says when to retry.
func (s *Service) Save(ctx context.Context, owner string, data []byte) (Image, error) {
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
	now := s.clock()
	if err := s.checkLimit(ctx, owner, now); err != nil {
		return Image{}, err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	name := hex.EncodeToString(b) + "." + ext
	url, err := s.host.Put(ctx, name, ct, data)
	if err != nil {
		s.log.ErrorContext(ctx, "store image", "host", s.host.Name(), "err", err)
		return Image{}, ErrUnavailable
	}
	img := Image{Name: name, URL: url, Width: cfg.Width, Height: cfg.Height, ContentType: ct}
	// Recorded once stored, so that a record always has its file. A crash in
	// between leaves a file without one, which Adopt finds at the next start.
	if err := s.store.Insert(ctx, s.record(img.Name, owner, url, now)); err != nil {
		if err := s.Discard(context.WithoutCancel(ctx), img); err != nil {
			s.log.ErrorContext(ctx, "discard an image not recorded", "err", err)
		}
		return Image{}, fmt.Errorf("record image %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "image stored", "host", s.host.Name(), "name", name, "bytes", len(data), "type", ct)
	return img, nil
}

func (s *Service) record(name, owner, url string, at time.Time) Record {
	r := Record{Name: name, Owner: owner, Host: s.host.Name(), URL: url, CreatedAt: at}
	if _, ok := s.host.(Deleter); ok {
		r.CheckAt = at.Add(Grace)
	}
	return r
}

// checkLimit refuses an upload of an owner who stored dailyLimit images in
// the last 24 hours, saying when the oldest of them leaves that window.
func (s *Service) checkLimit(ctx context.Context, owner string, now time.Time) error {
	if owner == "" || s.dailyLimit == 0 {
		return nil
	}
	n, oldest, err := s.store.CountSince(ctx, owner, now.Add(-24*time.Hour))
	if err != nil {
		return fmt.Errorf("count uploads of %s: %w", owner, err)
	}
	if n < s.dailyLimit {
		return nil
	}
	return limitError{retryAfter: oldest.Add(24 * time.Hour).Sub(now)}
}

// limitError is ErrDailyLimit with the time until the next upload is
// allowed, which httpapi sends as Retry-After.
type limitError struct{ retryAfter time.Duration }

func (e limitError) Error() string { return ErrDailyLimit.Error() }
func (e limitError) Unwrap() error { return ErrDailyLimit }

// RetryAfter is how long until the next upload is allowed, in whole
// seconds, at least one.
func (e limitError) RetryAfter() time.Duration {
	return time.Duration(max(1, math.Ceil(e.retryAfter.Seconds()))) * time.Second
}

// Discard deletes an image that nothing will refer to (the photo of a
// sign-up that failed), if the host can delete (see Deleter), and its
// record.
func (s *Service) Discard(ctx context.Context, img Image) error {
	d, ok := s.host.(Deleter)
	if !ok {
		return nil // kept by imgBB, recorded as stored by its uploader
	}
	if err := s.remove(ctx, d, img.Name); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "image discarded", "host", s.host.Name(), "name", img.Name)
	return nil
}

// remove deletes an image, then its record: a crash in between leaves a
// record whose file is gone, which the sweep removes.
func (s *Service) remove(ctx context.Context, d Deleter, name string) error {
	if err := d.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete image %s: %w", name, err)
	}
	if err := s.store.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete the record of image %s: %w", name, err)
	}
	return nil
}

// sweepBatch is how many records the sweep reads at a time.
const sweepBatch = 500

// Sweep deletes the images of this server that nothing refers to (no
// user's photo, no task's picture, deleted ones included) once their grace
// period is over, and returns how many it deleted. One that something
// refers to is looked at again after Recheck, so that an image replaced
// since goes too. References are read once a round, before deleting: an
// image first referred to during the round, a day or more after it was
// uploaded, may go with it. Safe to run anywhere, any number of times; with
// a host that cannot delete, it does nothing.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	d, ok := s.host.(Deleter)
	if !ok {
		return 0, nil
	}
	var inUse map[string]bool
	deleted := 0
	for {
		now := s.clock()
		due, err := s.store.Due(ctx, now, sweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("find images due for the sweep: %w", err)
		}
		if len(due) == 0 {
			return deleted, nil
		}
		if inUse == nil {
			if inUse, err = s.inUse(ctx); err != nil {
				return deleted, err
			}
		}
		var errs []error // one image that cannot go does not hold up the others
		for _, r := range due {
			if inUse[r.Name] {
				if err = s.store.Postpone(ctx, r.Name, now.Add(Recheck)); err != nil {
					err = fmt.Errorf("postpone the sweep of image %s: %w", r.Name, err)
				}
			} else if err = s.remove(ctx, d, r.Name); err == nil {
				deleted++
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 || len(due) < sweepBatch {
			return deleted, errors.Join(errs...)
		}
	}
}

// inUse returns the names of this server's images that the referrers'
// documents refer to.
func (s *Service) inUse(ctx context.Context) (map[string]bool, error) {
	names := map[string]bool{}
	for _, r := range s.referrers {
		err := r.EachImageURL(ctx, func(url string) error {
			if name, ok := NameOf(url); ok {
				names[name] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the images in use: %w", err)
		}
	}
	return names, nil
}

// Hosted says whether url is an image stored through this server: one of
// its own (at PathPrefix on any host, as NameOf reads it) or one the image
// host gave it, recorded when stored. One read.
func (s *Service) Hosted(ctx context.Context, url string) (bool, error) {
	name, _ := NameOf(url)
	ok, err := s.store.Known(ctx, name, url)
	if err != nil {
		return false, fmt.Errorf("look up image %s: %w", url, err)
	}
	return ok, nil
}

// NameOf returns the name of an image of this server from its URL, on any
// host (PUBLIC_URL, or the host a request came to); ok is false for any
// other URL.
func NameOf(url string) (name string, ok bool) {
	i := strings.LastIndex(url, PathPrefix)
	if i < 0 {
		return "", false
	}
	name = url[i+len(PathPrefix):]
	if j := strings.IndexAny(name, "?#"); j >= 0 {
		name = name[:j]
	}
	return name, validName.MatchString(name)
}

// Kept reports whether url is of an image this server keeps, or of one its
// image host took (an attachment must be one of those, not any link).
func (s *Service) Kept(url string) bool {
	if _, ok := NameOf(url); ok {
		return true
	}
	h, ok := s.host.(interface{ Serves(url string) bool })
	return ok && h.Serves(url)
}

// Adopt records the images the host keeps that have no record (stored
// before images were recorded, or when a crash came between storing and
// recording), as stored when their files were, so that the sweep sees them.
// It returns how many it recorded. A host that cannot delete has nothing
// to adopt.
func (s *Service) Adopt(ctx context.Context) (int, error) {
	d, ok := s.host.(Deleter)
	if !ok {
		return 0, nil
	}
	stored, err := d.List()
	if err != nil {
		return 0, fmt.Errorf("list images: %w", err)
	}
	known, err := s.store.Names(ctx, s.host.Name())
	if err != nil {
		return 0, fmt.Errorf("read image records: %w", err)
	}
	recorded := make(map[string]bool, len(known))
	for _, n := range known {
		recorded[n] = true
	}
	n := 0
	for _, f := range stored {
		if recorded[f.Name] {
			continue
		}
		if err := s.store.Insert(ctx, s.record(f.Name, "", PathPrefix+f.Name, f.At.UTC().Truncate(time.Millisecond))); err != nil {
			return n, fmt.Errorf("record image %s: %w", f.Name, err)
		}
		n++
	}
	return n, nil
}
