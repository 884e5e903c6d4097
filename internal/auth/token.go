package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const issuer = "microtask"

// Audiences keep the two kinds of token apart: an access token is not a
// stream ticket, and a ticket (which travels in a URL) opens nothing but the
// notification stream.
const (
	audienceAPI    = "api"
	audienceStream = "stream"
)

// TicketTTL is how long a stream ticket may be used to open a stream.
const TicketTTL = time.Minute

// Claims are what an access token says.
type Claims struct {
	UserID  string
	Role    Role
	Version int64 // the user's token version when it was issued
	// ID names the token, so that signing out revokes it alone; Verify
	// fills it and ExpiresAt, Issue makes up a fresh ID.
	ID        string
	ExpiresAt time.Time
}

type jwtClaims struct {
	Role    Role  `json:"role"`
	Version int64 `json:"ver"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies HS256 access tokens.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns Tokens signing with secret; tokens live for ttl. now may
// be nil for time.Now.
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{secret: secret, ttl: ttl, now: now}
}

// Issue returns a signed access token for c and when it expires.
func (t *Tokens) Issue(c Claims) (string, time.Time, error) {
	return t.issue(c, audienceAPI, t.ttl)
}

// IssueTicket returns a signed stream ticket for c, valid for TicketTTL.
func (t *Tokens) IssueTicket(c Claims) (string, time.Time, error) {
	return t.issue(c, audienceStream, TicketTTL)
}

func (t *Tokens) issue(c Claims, audience string, ttl time.Duration) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{
		Role:    c.Role,
		Version: c.Version,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.UserID,
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        newTokenID(),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks an access token's signature (HS256 only: "none" and every
// other algorithm are refused), issuer, audience and expiry, and returns its
// claims. It returns ErrTokenExpired or ErrInvalidToken.
func (t *Tokens) Verify(token string) (Claims, error) {
	return t.verify(token, audienceAPI)
}

// VerifyTicket checks a stream ticket as Verify checks an access token.
func (t *Tokens) VerifyTicket(ticket string) (Claims, error) {
	return t.verify(ticket, audienceStream)
}

func (t *Tokens) verify(token, audience string) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c,
		func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	case err != nil:
		return Claims{}, ErrInvalidToken
	case c.Subject == "" || !c.Role.Valid():
		return Claims{}, ErrInvalidToken
	}
	return Claims{UserID: c.Subject, Role: c.Role, Version: c.Version, ID: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// newTokenID returns 96 random bits, base64url.
func newTokenID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
