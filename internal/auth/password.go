package auth

import (
	"errors"
	"fmt"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// DefaultBcryptCost takes about 90 ms per hash on the 2-core machine the
// project is developed on (cost 9: 44 ms, 11: 173 ms): slow enough to make
// guessing expensive, fast enough for a login.
const DefaultBcryptCost = 10

// MaxPasswordBytes is bcrypt's limit: it ignores everything after 72 bytes,
// so longer passwords are refused rather than silently truncated.
const MaxPasswordBytes = 72

// PasswordProblem returns why a password breaks the policy (at least 8
// characters with an upper-case letter, a lower-case letter and a digit, at
// most 72 bytes), or "" if it does not.
func PasswordProblem(pw string) string {
	var upper, lower, digit bool
	n := 0
	for _, r := range pw {
		n++
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	switch {
	case n < 8:
		return "must be at least 8 characters"
	case len(pw) > MaxPasswordBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes)
	case !upper || !lower || !digit:
		return "must contain an upper-case letter, a lower-case letter and a digit"
	}
	return ""
}

// Hasher hashes and checks passwords with bcrypt.
type Hasher struct {
	cost  int
	dummy []byte // a hash to compare against when there is no user, to spend the same time
}

// NewHasher returns a Hasher of the given bcrypt cost.
func NewHasher(cost int) (*Hasher, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("not-a-real-password-0"), cost)
	if err != nil {
		return nil, fmt.Errorf("bcrypt cost %d: %w", cost, err)
	}
	return &Hasher{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of pw.
func (h *Hasher) Hash(pw string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(pw), h.cost)
}

// Check reports whether pw matches hash. A nil hash (no such user, or a user
// without a password) is compared against a dummy hash, so that the answer
// takes as long as for a real user and timing does not reveal which emails
// exist.
func (h *Hasher) Check(hash []byte, pw string) (bool, error) {
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(pw))
		return false, nil
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pw))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return false, nil
	}
	return err == nil, err
}
