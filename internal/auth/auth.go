// Package auth holds the identity primitives every capability shares: roles,
// the signed-in Principal carried in the context, password hashing and
// policy, and JWT access tokens. Signing up and signing in are the user
// package's; this package knows nothing about storage.
package auth

import (
	"context"

	"microtask/internal/apperr"
)

// Role is what a user may do on the platform.
type Role string

// The roles.
const (
	RoleWorker Role = "worker"
	RoleBuyer  Role = "buyer"
	RoleAdmin  Role = "admin"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	return r == RoleWorker || r == RoleBuyer || r == RoleAdmin
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID string
	Role   Role
	// KeyID is the API key the request came with, empty for a session
	// token; a request with a key may do only what Scopes allow (Allows).
	KeyID  string
	Scopes ScopeSet
}

// Is reports whether the principal has one of the roles.
func (p Principal) Is(roles ...Role) bool {
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx and whether there is one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Errors about who is calling.
var (
	ErrMissingToken = apperr.New(apperr.Unauthenticated, "missing_token",
		"sign in and send the token as Authorization: Bearer <token>")
	ErrInvalidToken = apperr.New(apperr.Unauthenticated, "invalid_token", "the token is not valid; sign in again")
	ErrTokenExpired = apperr.New(apperr.Unauthenticated, "token_expired", "the token has expired; sign in again")
	ErrTokenRevoked = apperr.New(apperr.Unauthenticated, "token_revoked",
		"the token was revoked (password, role or account changed); sign in again")
	ErrWrongRole = apperr.New(apperr.Forbidden, "wrong_role", "your role does not allow this")
)
