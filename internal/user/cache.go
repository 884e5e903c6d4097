package user

import (
	"sync"
	"time"
)

// AuthCacheTTL is how long Authenticate trusts what it read about a user.
// Every authenticated request needs the user's status and token version; on
// the embedded database that read costs 3 ms at a thousand users and 16 ms at
// five thousand (BenchmarkAuthenticate), on MongoDB a fraction of a
// millisecond. Changes made through this process drop the entry at once; an
// API instance elsewhere may honour a revoked token for up to this long.
const AuthCacheTTL = 5 * time.Second

// SoleWriterAuthCacheTTL replaces AuthCacheTTL when this process is the only
// one writing to the database (the embedded mode): every change then drops
// its entry, so entries can live long; they expire only to bound memory.
const SoleWriterAuthCacheTTL = time.Hour

// authCache remembers recently read users for Authenticate.
//
// A user read while a change to it is landing must not be remembered after
// the change has dropped the entry, or a revoked token would keep working
// for the whole TTL: every drop bumps a generation, and put keeps a user
// only if no drop happened since the get that missed.
type authCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedUser
	gen     uint64
}

type cachedUser struct {
	u     User
	until time.Time
}

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	return &authCache{ttl: ttl, now: now, entries: map[string]cachedUser{}}
}

// get returns the remembered user, or else the generation to pass to put.
func (c *authCache) get(id string) (u User, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || c.now().After(e.until) {
		return User{}, false, c.gen
	}
	return e.u, true, c.gen
}

// put remembers u unless an entry was dropped since get returned gen.
func (c *authCache) put(u User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	now := c.now()
	if len(c.entries) >= 10_000 { // keep it bounded: sweep what has expired
		for id, e := range c.entries {
			if now.After(e.until) {
				delete(c.entries, id)
			}
		}
	}
	c.entries[u.ID] = cachedUser{u: u, until: now.Add(c.ttl)}
}

// drop forgets the user; call it after every change to a user's status,
// role or token version.
func (c *authCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
	c.gen++
}
