// Package apikey lets buyers and workers call the API from their own
// systems: long-lived keys (mt_live_…) that act as their owner within the
// scopes they were given. Only a hash of each key is stored; the key itself
// is answered once, when it is made.
package apikey

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
)

// Prefix starts every key, so that a leaked one is recognised by secret
// scanners and the API tells a key from a session token without parsing.
const Prefix = "mt_live_"

// Key is an API key as stored: never the key itself.
type Key struct {
	ID         string
	UserID     string
	Name       string
	Prefix     string // the first characters of the key, to recognise it by
	Hash       string // SHA-256 of the key, hex
	Scopes     auth.ScopeSet
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used; kept to the minute (TouchEvery)
}

// Bounds of a key.
const (
	MaxPerUser  = 20
	MaxNameLen  = 100
	TouchEvery  = time.Minute // LastUsedAt is written at most this often per key
	secretBytes = 24          // 192 random bits: no guessing, so a plain hash suffices
)

// Errors.
var (
	ErrNotFound   = apperr.New(apperr.NotFound, "api_key_not_found", "no such API key among yours")
	ErrInvalidKey = apperr.New(apperr.Unauthenticated, "invalid_api_key",
		"the API key is not valid: unknown, deleted, or its owner's account was deleted")
	ErrTooMany = apperr.New(apperr.Conflict, "too_many_api_keys", "you have 20 API keys already; delete one first")
)

// Store persists keys. storage.APIKeyStore implements it.
type Store interface {
	// Insert adds a key.
	Insert(ctx context.Context, k Key) error
	// ByHash returns the key with this hash. ErrNotFound if none.
	ByHash(ctx context.Context, hash string) (Key, error)
	// ByID returns a key. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Key, error)
	// List returns a page of the user's keys, newest first, and their count.
	List(ctx context.Context, userID string, p page.Request) ([]Key, int64, error)
	// Count counts the user's keys.
	Count(ctx context.Context, userID string) (int64, error)
	// Delete deletes the user's key. False if the user has no such key.
	Delete(ctx context.Context, userID, id string) (bool, error)
	// Touch records that the key was used at.
	Touch(ctx context.Context, id string, at time.Time) error
}

// Owners tells whom a key acts as; user.Service implements it. KeyOwner
// returns the owner as they are now: user.ErrNotFound when deleted,
// user.ErrSuspended when suspended.
type Owners interface {
	KeyOwner(ctx context.Context, userID string) (auth.Principal, error)
}
