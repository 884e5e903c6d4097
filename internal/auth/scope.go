package auth

import (
	"slices"

	"microtask/internal/apperr"
)

// Scope is one thing an API key may be allowed to do. A request made with a
// session token may do whatever its role allows; one made with an API key
// only what its role allows within the key's scopes.
type Scope string

// The scopes a key may have.
const (
	ScopeTasksRead         Scope = "tasks:read"
	ScopeTasksWrite        Scope = "tasks:write"
	ScopeSubmissionsRead   Scope = "submissions:read"
	ScopeSubmissionsReview Scope = "submissions:review"
	ScopeBatches           Scope = "batches"
	ScopeQualifications    Scope = "qualifications"
	ScopeWebhooks          Scope = "webhooks"
)

// Scopes lists every scope, in the order of their bits in a ScopeSet.
var Scopes = []Scope{ScopeTasksRead, ScopeTasksWrite, ScopeSubmissionsRead, ScopeSubmissionsReview, ScopeBatches,
	ScopeQualifications, ScopeWebhooks}

// Valid reports whether s is one of Scopes.
func (s Scope) Valid() bool { return slices.Contains(Scopes, s) }

// ScopeSet is a set of scopes, one bit each: a Principal stays comparable.
type ScopeSet uint16

// NewScopeSet returns the set of the valid scopes among ss.
func NewScopeSet(ss ...Scope) ScopeSet {
	var set ScopeSet
	for _, s := range ss {
		if i := slices.Index(Scopes, s); i >= 0 {
			set |= 1 << i
		}
	}
	return set
}

// Has reports whether s is in the set.
func (set ScopeSet) Has(s Scope) bool {
	i := slices.Index(Scopes, s)
	return i >= 0 && set&(1<<i) != 0
}

// List returns the scopes in the set, in the order of Scopes.
func (set ScopeSet) List() []Scope {
	out := []Scope{}
	for i, s := range Scopes {
		if set&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// Allows reports whether the principal may do what scope s covers: always
// with a session token, and with an API key when the key has s.
func (p Principal) Allows(s Scope) bool { return p.KeyID == "" || p.Scopes.Has(s) }

// ErrInsufficientScope refuses a request made with an API key whose scopes
// do not cover it, or one no key may make (changing the account, its
// password, email or keys).
var ErrInsufficientScope = apperr.New(apperr.Forbidden, "insufficient_scope",
	"this API key's scopes do not allow this request; sign in, or use a key with the scope it needs")
