package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
)

// How long the mailed links work.
const (
	VerifyEmailTTL   = 24 * time.Hour
	ResetPasswordTTL = time.Hour
)

// Sign-in throttling per account: the first FreeLoginFailures failures in a
// row cost nothing; each one after blocks the account's sign-in for a delay
// that starts at FirstLoginDelay and doubles up to MaxLoginDelay. Failures
// older than LoginFailureWindow are forgotten, and a successful sign-in or
// password reset clears them: an attacker can slow the owner down, never
// lock them out for good.
const (
	FreeLoginFailures  = 5
	FirstLoginDelay    = 15 * time.Second
	MaxLoginDelay      = 15 * time.Minute
	LoginFailureWindow = 24 * time.Hour
)

// LoginDelay is how long sign-in is refused after the n-th failure in a
// row.
func LoginDelay(n int) time.Duration {
	if n < FreeLoginFailures {
		return 0
	}
	d := FirstLoginDelay
	for i := FreeLoginFailures; i < n && d < MaxLoginDelay; i++ {
		d *= 2
	}
	return min(d, MaxLoginDelay)
}

// throttledError is ErrLoginThrottled with the time until sign-in opens
// again, which httpapi sends as Retry-After.
type throttledError struct{ wait time.Duration }

func (e throttledError) Error() string { return ErrLoginThrottled.Error() }
func (e throttledError) Unwrap() error { return ErrLoginThrottled }

// RetryAfter is the wait in whole seconds, at least one.
func (e throttledError) RetryAfter() time.Duration {
	return time.Duration(max(1, math.Ceil(e.wait.Seconds()))) * time.Second
}

// Login checks an email and password and signs the user in. Unknown emails
// and wrong passwords get the same error after the same bcrypt work, and
// count against the email's sign-in throttle alike, so that neither
// reveals which emails have accounts.
func (s *Service) Login(ctx context.Context, email, password string) (Session, error) {
	email = NormalizeEmail(email)
	failures, err := s.checkThrottle(ctx, email)
	if err != nil {
		return Session{}, err
	}
	u, hash, err := s.store.Credentials(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, fmt.Errorf("look up credentials: %w", err)
	}
	ok, err := s.hasher.Check(hash, password) // a nil hash costs the same as a real one
	if err != nil {
		return Session{}, fmt.Errorf("check password: %w", err)
	}
	if !ok {
		s.loginFailed(ctx, email)
		return Session{}, ErrInvalidCredentials
	}
	if failures > 0 {
		s.clearThrottle(ctx, email)
	}
	return s.signIn(ctx, u)
}

// checkThrottle refuses a sign-in while the email's failures block it, and
// returns how many failures are counted.
func (s *Service) checkThrottle(ctx context.Context, email string) (int, error) {
	failures, until, err := s.throttle.Get(ctx, email)
	if err != nil {
		return 0, fmt.Errorf("read sign-in throttle: %w", err)
	}
	if wait := until.Sub(s.now()); wait > 0 {
		return failures, throttledError{wait: wait}
	}
	return failures, nil
}

func (s *Service) loginFailed(ctx context.Context, email string) {
	now := s.now().UTC()
	err := s.throttle.Fail(ctx, email, now, now.Add(-LoginFailureWindow), func(n int) time.Time { return now.Add(LoginDelay(n)) })
	if err != nil {
		s.log.ErrorContext(ctx, "count a failed sign-in", "err", err)
	}
}

// ForgetLoginFailures forgets the failed sign-ins older than
// LoginFailureWindow, which no longer count: guesses at emails that have no
// account would otherwise pile up.
func (s *Service) ForgetLoginFailures(ctx context.Context) (int64, error) {
	return s.throttle.Forget(ctx, s.now().UTC().Add(-LoginFailureWindow))
}

func (s *Service) clearThrottle(ctx context.Context, email string) {
	if err := s.throttle.Clear(ctx, email); err != nil {
		s.log.ErrorContext(ctx, "clear sign-in throttle", "err", err)
	}
}

// newSecret returns a token for a link: 256 random bits, base64url, and the
// hash under which it is stored.
func newSecret() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashSecret(token)
}

func hashSecret(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// mailLink stores a new single-use token for u and mails u a link to the
// app's page with it.
func (s *Service) mailLink(ctx context.Context, u User, purpose string, ttl time.Duration, page, subject, text string) error {
	token, hash := newSecret()
	now := s.now().UTC()
	if err := s.accountTokens.Replace(ctx, AccountToken{Hash: hash, UserID: u.ID, Purpose: purpose, ExpiresAt: now.Add(ttl), CreatedAt: now}); err != nil {
		return fmt.Errorf("store %s token: %w", purpose, err)
	}
	link := fmt.Sprintf("%s/%s?token=%s", s.appURL, page, token)
	if err := s.mailer.Mail(ctx, u.Email, subject, fmt.Sprintf(text, u.Name, link)); err != nil {
		return fmt.Errorf("mail %s link to user %s: %w", purpose, u.ID, err)
	}
	return nil
}

func (s *Service) sendVerification(ctx context.Context, u User) error {
	return s.mailLink(ctx, u, PurposeVerifyEmail, VerifyEmailTTL, "verify-email", "Verify your email",
		"Hello %s,\n\nplease confirm that this is your email address by opening this link within 24 hours:\n\n%s\n\n"+
			"If you did not sign up for Microtask, ignore this message.\n")
}

// consume takes a mailed token of the purpose, once, and returns its user.
func (s *Service) consume(ctx context.Context, token, purpose string) (User, error) {
	t, err := s.accountTokens.Consume(ctx, hashSecret(token), purpose)
	if err != nil {
		return User{}, fmt.Errorf("consume %s token: %w", purpose, err)
	}
	if !s.now().Before(t.ExpiresAt) {
		return User{}, ErrBadToken
	}
	u, err := s.store.ByID(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) || u.Status == StatusDeleted {
		return User{}, ErrBadToken
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %s: %w", t.UserID, err)
	}
	return u, nil
}

// VerifyEmail marks the email of the token's user verified.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	u, err := s.consume(ctx, token, PurposeVerifyEmail)
	if err != nil {
		return err
	}
	if err := s.store.SetEmailVerified(ctx, u.ID); err != nil {
		return fmt.Errorf("mark email of user %s verified: %w", u.ID, err)
	}
	s.cache.drop(u.ID)
	s.log.InfoContext(ctx, "email verified", "user_id", u.ID)
	return nil
}

// ResendVerification mails the caller a new verification link; the
// earlier one stops working.
func (s *Service) ResendVerification(ctx context.Context, p auth.Principal) error {
	u, err := s.store.ByID(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("read user %s: %w", p.UserID, err)
	}
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	return s.sendVerification(ctx, u)
}

// signInWithGoogle signs in to the existing account u with a Google
// identity for its email. An account made with a password whose email
// nobody has verified may be someone else's trap (anyone can sign up with
// a victim's email and wait): Google is linked only to a verified account,
// and linking revokes the account's other tokens.
func (s *Service) signInWithGoogle(ctx context.Context, u User) (Session, error) {
	if u.GoogleLinked || u.Status != StatusActive {
		return s.signIn(ctx, u)
	}
	if u.HasPassword && !u.EmailVerified {
		return Session{}, ErrAccountUnverified
	}
	u, err := s.changeTokens(ctx, u, TokenChange{EmailVerified: true, GoogleLinked: true})
	if err != nil {
		return Session{}, err
	}
	s.log.InfoContext(ctx, "google sign-in linked", "user_id", u.ID)
	return s.signIn(ctx, u)
}

// changeTokens applies c to u, revoking all its tokens, retrying on a
// change that landed in between, and returns the user as it is now.
func (s *Service) changeTokens(ctx context.Context, u User, c TokenChange) (User, error) {
	for range 3 {
		c.ID, c.Version, c.At = u.ID, u.TokenVersion, s.now().UTC()
		ok, err := s.store.ChangeTokens(ctx, c)
		s.cache.drop(u.ID)
		if err != nil {
			return User{}, fmt.Errorf("change tokens of user %s: %w", u.ID, err)
		}
		if u, err = s.store.ByID(ctx, u.ID); err != nil {
			return User{}, fmt.Errorf("read user %s: %w", u.ID, err)
		}
		if ok {
			s.tokensChanged(u.ID)
			return u, nil
		}
		if u.Status == StatusDeleted {
			return User{}, ErrNotFound
		}
	}
	return User{}, apperr.New(apperr.Conflict, "account_busy", "the account changed meanwhile; try again")
}

// tokensChanged closes the live streams of a user whose tokens this
// process revoked.
func (s *Service) tokensChanged(id string) { s.streams.CloseStreams(id) }

var errNewPassword = func(p string) error {
	return apperr.InvalidFields(apperr.FieldError{Field: "new_password", Message: p})
}

// ChangePassword sets the caller's password after checking the current
// one, revokes every other token of theirs, and returns a new session for
// the caller to go on with.
func (s *Service) ChangePassword(ctx context.Context, p auth.Principal, current, next string) (Session, error) {
	if msg := auth.PasswordProblem(next); msg != "" {
		return Session{}, errNewPassword(msg)
	}
	u, err := s.store.ByID(ctx, p.UserID)
	if err != nil {
		return Session{}, fmt.Errorf("read user %s: %w", p.UserID, err)
	}
	_, hash, err := s.store.Credentials(ctx, u.Email)
	if err != nil {
		return Session{}, fmt.Errorf("read credentials of user %s: %w", u.ID, err)
	}
	ok, err := s.hasher.Check(hash, current)
	if err != nil {
		return Session{}, fmt.Errorf("check password: %w", err)
	}
	if !ok {
		return Session{}, ErrWrongPassword
	}
	newHash, err := s.hasher.Hash(next)
	if err != nil {
		return Session{}, fmt.Errorf("hash password: %w", err)
	}
	if u, err = s.changeTokens(ctx, u, TokenChange{PasswordHash: newHash}); err != nil {
		return Session{}, err
	}
	s.log.InfoContext(ctx, "password changed", "user_id", u.ID)
	return s.signIn(ctx, u)
}

// RequestPasswordReset mails a reset link to the account with this email,
// if there is one. It answers the same either way, so that nobody learns
// which emails have accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	u, _, err := s.store.Credentials(ctx, NormalizeEmail(email))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("look up credentials: %w", err)
	case u.Status == StatusDeleted:
		return nil
	}
	return s.mailLink(ctx, u, PurposeResetPassword, ResetPasswordTTL, "reset-password", "Reset your password",
		"Hello %s,\n\nsomeone asked to reset the password of your Microtask account. To choose a new one, open this link within an hour:\n\n%s\n\n"+
			"If it was not you, ignore this message: your password stays as it is.\n")
}

// ResetPassword sets the password of the token's user (a Google-only
// account gains one), marks the email verified (the link came to it),
// revokes every token of the user and clears the sign-in throttle.
func (s *Service) ResetPassword(ctx context.Context, token, next string) error {
	if msg := auth.PasswordProblem(next); msg != "" {
		return errNewPassword(msg)
	}
	u, err := s.consume(ctx, token, PurposeResetPassword)
	if err != nil {
		return err
	}
	hash, err := s.hasher.Hash(next)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if _, err := s.changeTokens(ctx, u, TokenChange{PasswordHash: hash, EmailVerified: true}); err != nil {
		return err
	}
	s.clearThrottle(ctx, u.Email)
	s.log.InfoContext(ctx, "password reset", "user_id", u.ID)
	return nil
}

// Logout revokes the token presented, at once.
func (s *Service) Logout(ctx context.Context, token string) error {
	c, err := s.tokens.Verify(token)
	if err != nil {
		return err
	}
	if c.ID == "" { // issued before tokens had ids: only revoking all of them reaches it
		return s.LogoutAll(ctx, auth.Principal{UserID: c.UserID})
	}
	if err := s.store.RevokeToken(ctx, c.UserID, c.ID, c.ExpiresAt, s.now().UTC()); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.cache.drop(c.UserID)
	s.tokensChanged(c.UserID)
	return nil
}

// LogoutAll revokes every token of the caller.
func (s *Service) LogoutAll(ctx context.Context, p auth.Principal) error {
	u, err := s.store.ByID(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("read user %s: %w", p.UserID, err)
	}
	_, err = s.changeTokens(ctx, u, TokenChange{})
	return err
}

// WatchTokenChanges drops from the cache, every interval, the users whose
// tokens another instance revoked, until ctx is done: with several
// instances, a revoked token stops working everywhere within about an
// interval rather than AuthCacheTTL. One indexed read per interval, none
// per request.
func (s *Service) WatchTokenChanges(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	since := s.now().UTC()
	var seen map[string]bool // in the last round: the windows overlap
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Clocks of instances differ a little: look a little further back.
		start := s.now().UTC()
		ids, err := s.store.TokensChangedSince(ctx, since.Add(-2*time.Second))
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "watch token changes", "err", err)
			}
			continue
		}
		now := map[string]bool{}
		for _, id := range ids {
			now[id] = true
			s.cache.drop(id)
			if !seen[id] {
				s.tokensChanged(id)
			}
		}
		since, seen = start, now
	}
}
