package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// CacheTTL is how long a key read from the store is trusted when other
// processes may delete keys (MongoDB): a key deleted through another
// instance stops working within this long. The owner's status is checked
// on every request (Owners), so a suspension stops keys at once.
const CacheTTL = 5 * time.Second

// soleWriterCacheTTL replaces CacheTTL when this process alone writes the
// database: every deletion goes through it and drops the cache.
const soleWriterCacheTTL = time.Hour

// Service makes, lists, deletes and checks API keys.
type Service struct {
	store  Store
	owners Owners
	log    *slog.Logger
	now    func() time.Time

	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]cached // by hash
	gen     uint64
}

type cached struct {
	key     Key
	until   time.Time
	touched time.Time
}

// Deps is what a Service is built with.
type Deps struct {
	Store  Store
	Owners Owners
	// SoleWriter says that no other process writes to the database, so
	// that keys read once stay right until this process deletes them.
	SoleWriter bool
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, owners: d.Owners, log: d.Log, now: now, ttl: CacheTTL, entries: map[string]cached{}}
	if d.SoleWriter {
		s.ttl = soleWriterCacheTTL
	}
	return s
}

// NewKey is what a key is made with.
type NewKey struct {
	Name   string
	Scopes []auth.Scope
}

func (in NewKey) check() error {
	var bad []apperr.FieldError
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > MaxNameLen {
		bad = append(bad, apperr.FieldError{Field: "name", Message: fmt.Sprintf("must be 1 to %d characters", MaxNameLen)})
	}
	seen := map[auth.Scope]bool{}
	switch {
	case len(in.Scopes) == 0:
		bad = append(bad, apperr.FieldError{Field: "scopes", Message: "must name at least one scope"})
	default:
		for _, sc := range in.Scopes {
			if !sc.Valid() || seen[sc] {
				bad = append(bad, apperr.FieldError{Field: "scopes", Message: "each must be one of: " + scopeNames() + ", none twice"})
				break
			}
			seen[sc] = true
		}
	}
	if len(bad) > 0 {
		return apperr.InvalidFields(bad...)
	}
	return nil
}

func scopeNames() string {
	names := make([]string, len(auth.Scopes))
	for i, s := range auth.Scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// manager checks that p may manage keys: a buyer or a worker, signed in
// with a session. A key never manages keys.
func manager(p auth.Principal) error {
	if p.KeyID != "" {
		return auth.ErrInsufficientScope
	}
	if !p.Is(auth.RoleBuyer, auth.RoleWorker) {
		return auth.ErrWrongRole
	}
	return nil
}

// Create makes a key for p and returns it with the secret, which is never
// shown again: only its hash is kept.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewKey) (Key, string, error) {
	if err := manager(p); err != nil {
		return Key{}, "", err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := in.check(); err != nil {
		return Key{}, "", err
	}
	n, err := s.store.Count(ctx, p.UserID)
	if err != nil {
		return Key{}, "", fmt.Errorf("count keys of %s: %w", p.UserID, err)
	}
	if n >= MaxPerUser {
		return Key{}, "", ErrTooMany
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return Key{}, "", fmt.Errorf("make a key: %w", err)
	}
	secret := Prefix + base64.RawURLEncoding.EncodeToString(b)
	k := Key{ID: idgen.New(), UserID: p.UserID, Name: in.Name, Prefix: secret[:len(Prefix)+6], Hash: hash(secret),
		Scopes: auth.NewScopeSet(in.Scopes...), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.Insert(ctx, k); err != nil {
		return Key{}, "", fmt.Errorf("insert key of %s: %w", p.UserID, err)
	}
	s.log.InfoContext(ctx, "api key created", "key_id", k.ID, "scopes", len(in.Scopes))
	return k, secret, nil
}

// hash is what the store keeps of a key. A fast hash is enough: the key is
// 192 random bits, which no one guesses whatever the hash's speed.
func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// List returns a page of p's keys, newest first.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Key], error) {
	if err := manager(p); err != nil {
		return page.Of[Key]{}, err
	}
	items, total, err := s.store.List(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Key]{}, fmt.Errorf("list keys of %s: %w", p.UserID, err)
	}
	return page.Of[Key]{Items: items, Request: r, Total: total}, nil
}

// Get returns one of p's keys.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Key, error) {
	if err := manager(p); err != nil {
		return Key{}, err
	}
	k, err := s.store.ByID(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && k.UserID != p.UserID) {
		return Key{}, ErrNotFound // someone else's answers as none
	}
	return k, err
}

// Delete deletes one of p's keys: it stops working at once here, and
// within CacheTTL on other instances.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if err := manager(p); err != nil {
		return err
	}
	ok, err := s.store.Delete(ctx, p.UserID, id)
	if err != nil {
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	s.forgetAll() // deletions are rare: forget every key rather than look up this one's hash
	if !ok {
		return ErrNotFound
	}
	s.log.InfoContext(ctx, "api key deleted", "key_id", id)
	return nil
}

// Authenticate turns a key into the principal it acts as: its owner as they
// are now, limited to its scopes. ErrInvalidKey for an unknown key or a
// deleted owner; a suspended owner's user.ErrSuspended.
func (s *Service) Authenticate(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return auth.Principal{}, ErrInvalidKey
	}
	h := hash(secret)
	k, err := s.lookup(ctx, h)
	if err != nil {
		return auth.Principal{}, err
	}
	p, err := s.owners.KeyOwner(ctx, k.UserID)
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae) && ae.Kind == apperr.NotFound:
		return auth.Principal{}, ErrInvalidKey
	case err != nil:
		return auth.Principal{}, err
	}
	p.KeyID, p.Scopes = k.ID, k.Scopes
	s.touch(ctx, h, k)
	return p, nil
}

// lookup reads a key by hash, through the cache.
func (s *Service) lookup(ctx context.Context, h string) (Key, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.entries[h]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.key, nil
	}
	k, err := s.store.ByHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Key{}, ErrInvalidKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("look up api key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen { // no deletion since the read: it may be remembered
		if len(s.entries) >= 10_000 {
			clear(s.entries) // bounded: read again what is in use
		}
		s.entries[h] = cached{key: k, until: now.Add(s.ttl), touched: k.LastUsedAt}
	}
	return k, nil
}

// touch records the key's use, at most every TouchEvery: a write per
// request would cost more than the request.
func (s *Service) touch(ctx context.Context, h string, k Key) {
	now := s.now().UTC().Truncate(time.Millisecond)
	s.mu.Lock()
	e, ok := s.entries[h]
	due := !ok || now.Sub(e.touched) >= TouchEvery
	if ok && due {
		e.touched = now
		s.entries[h] = e
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if err := s.store.Touch(ctx, k.ID, now); err != nil {
		s.log.WarnContext(ctx, "record api key use", "key_id", k.ID, "err", err)
	}
}

func (s *Service) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.entries)
	s.gen++
}
