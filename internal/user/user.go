// Package user is the accounts capability: signing up (with the sign-up
// bonus), signing in, authenticating tokens, profiles, deletion and the
// top-workers board. The identity primitives it uses (roles, passwords,
// tokens) are in package auth.
package user

import (
	"context"
	"slices"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/page"
)

// Status is whether an account may be used.
type Status string

// The statuses.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended" // set by an admin; every request gets 403
	StatusDeleted   Status = "deleted"   // cannot sign in; its coins stay, frozen, in its ledger account
)

// User is an account.
type User struct {
	ID           string
	Name         string
	Email        string
	PhotoURL     string
	Role         auth.Role
	Status       Status
	TokenVersion int64 // bumped to revoke every token issued before
	// EmailVerified says the user proved they read mail at Email: through
	// the link mailed at sign-up, a password reset, or Google's word.
	EmailVerified bool
	// GoogleLinked says Sign in with Google reaches the account: it was
	// created through Google, or linked once its email was verified.
	GoogleLinked bool
	// HasPassword says the account has a password (Google-only accounts
	// have none until a reset gives them one).
	HasPassword bool
	// RevokedTokens are the ids of the tokens signed out one by one, with
	// when each expires anyway: read with the user, they cost no command.
	RevokedTokens map[string]time.Time
	// EmailOptIns are the kinds of notification the user wants mailed as
	// well (package notification names them).
	EmailOptIns []string
	// EmailOptOuts are the kinds of email mailed unless turned off
	// (OnByDefault) that the user turned off.
	EmailOptOuts []string
	CreatedAt    time.Time
	Coins        money.Coins // the balance of the user's ledger account
	CoinsOnHold  money.Coins // held by the user's pending withdrawals: theirs, but not to spend
	// About and Portfolio are the user's public profile; ProfileViews the
	// distinct signed-in users who viewed it in the ViewWindow before
	// ProfileViewsOn, when it was last counted.
	About
	Portfolio      []PortfolioItem
	ProfileViews   int64
	ProfileViewsOn time.Time
	// Standing is a copy of the user's standing, which package reputation
	// works out of their record, kept here for the lists that filter and
	// sort on it: the available tasks of a worker (with the user read
	// through the authentication cache, no command), and the worker search.
	Standing Standing
	// Qualifications are a copy of the worker's scores by qualification
	// type, which package qualification keeps (SyncQualifications), kept
	// here for the requirements of tasks: a worker's available tasks read
	// them through the authentication cache, at no command.
	Qualifications map[string]int
}

// Standing is a worker's level, rating and approved work, as package
// reputation last worked them out.
type Standing struct {
	Level    int
	Rating   float64 // the average of the stars; 0 before any review counts
	Reviews  int64   // how many reviews the rating counts
	Approved int64
}

// OnByDefault reports whether a kind of email is mailed to users who did
// not turn it off, rather than to those who opted in: mail about unread
// messages and announcements to everyone.
func OnByDefault(kind string) bool { return kind == "messages" || kind == "announcements" }

// WantsEmail reports whether the user wants the kind of email.
func (u User) WantsEmail(kind string) bool {
	if OnByDefault(kind) {
		return !slices.Contains(u.EmailOptOuts, kind)
	}
	return slices.Contains(u.EmailOptIns, kind)
}

// WorkersBoard is the ledger board of the active workers' accounts, from
// which TopWorkers reads.
const WorkersBoard = "workers"

// Board is the ledger board u's account belongs on: the workers' board for
// an active worker, none ("") for anyone else. The sign-up and every change
// of role or status put the account there.
func (u User) Board() string {
	if u.Role == auth.RoleWorker && u.Status == StatusActive {
		return WorkersBoard
	}
	return ""
}

// SignupBonus is what a new account of role r gets from the mint, at
// these prices.
func SignupBonus(p money.Pricing, r auth.Role) money.Coins {
	switch r {
	case auth.RoleWorker:
		return p.WorkerBonus
	case auth.RoleBuyer:
		return p.BuyerBonus
	}
	return 0
}

// Errors.
var (
	ErrEmailTaken         = apperr.New(apperr.Conflict, "email_taken", "an account with this email already exists")
	ErrInvalidCredentials = apperr.New(apperr.Unauthenticated, "invalid_credentials", "wrong email or password")
	ErrSuspended          = apperr.New(apperr.Forbidden, "account_suspended", "this account is suspended; contact support")
	ErrNotFound           = apperr.New(apperr.NotFound, "user_not_found", "no such user")
	ErrSelf               = apperr.New(apperr.Forbidden, "own_account", "admins cannot do this to their own account")
	ErrAccountUnverified  = apperr.New(apperr.Conflict, "account_exists_unverified",
		"an account with this email was created with a password and its email is not verified; "+
			"sign in with the password and verify the email through the link mailed to it (POST /api/auth/verify-email/resend sends another), "+
			"or reset the password (POST /api/auth/password-reset) if you did not create it; then Sign in with Google works")
	ErrBadToken = apperr.New(apperr.Invalid, "invalid_link_token",
		"the link is not valid: it was used already, has expired or was replaced by a newer one; ask for a new one")
	ErrTicketUsed = apperr.New(apperr.Unauthenticated, "ticket_used",
		"this stream ticket was used already; get a new one (POST /api/notifications/stream-ticket) for each stream")
	ErrAlreadyVerified = apperr.New(apperr.Conflict, "email_already_verified", "the email of this account is verified already")
	ErrWrongPassword   = apperr.InvalidFields(apperr.FieldError{Field: "current_password", Message: "is wrong"})
	ErrLoginThrottled  = apperr.New(apperr.RateLimited, "login_throttled",
		"too many failed sign-ins for this account; wait for the time in Retry-After, or reset the password")
)

// Store persists users. storage.UserStore implements it.
type Store interface {
	// Insert adds u with its password hash (nil for none). ErrEmailTaken if
	// the email or the ID is in use.
	Insert(ctx context.Context, u User, passwordHash []byte) error
	// ByID returns a user, deleted ones included. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (User, error)
	// ByIDs returns the users that exist among ids, in no particular order.
	ByIDs(ctx context.Context, ids []string) ([]User, error)
	// Credentials returns the user with this (lower-case) email and its
	// password hash. ErrNotFound if none.
	Credentials(ctx context.Context, email string) (User, []byte, error)
	// UpdateProfile sets the fields pr sets of a user that is not deleted
	// and returns it. ErrNotFound if missing or deleted.
	UpdateProfile(ctx context.Context, id string, pr Profile) (User, error)
	// UpdatePortfolio replaces the portfolio of a user who is not deleted
	// with what change makes of it, and returns the user: change's error,
	// or ErrNotFound, stops it. change may run more than once, if the
	// portfolio changes meanwhile.
	UpdatePortfolio(ctx context.Context, id string, change func([]PortfolioItem) ([]PortfolioItem, error)) (User, error)
	// SetProfileViews records the count of the viewers of a user's
	// profile, counted on day.
	SetProfileViews(ctx context.Context, id string, n int64, day time.Time) error
	// Workers returns a page of the active workers matching f, sorted by
	// f.Sort, and their count. f's skills and language are Keys.
	Workers(ctx context.Context, f WorkerFilter, p page.Request) ([]User, int64, error)
	// TopRated returns up to limit active workers whose rating counts at
	// least minReviews reviews, the best rated first.
	TopRated(ctx context.Context, minReviews int64, limit int) ([]User, error)
	// ChangeAccount commits c: the user, if its token version is still
	// c.Version, gets c.Status (deletion also frees its email), c.Role
	// unless empty, and a new token version, recording c.Op. True if it did
	// now or had already.
	ChangeAccount(ctx context.Context, c AccountChange) (bool, error)
	// List returns a page of users matching f, newest first, and their count.
	List(ctx context.Context, f Filter, p page.Request) ([]User, int64, error)
	// EachPhotoURL calls fn with every user's photo URL and portfolio
	// image URL that is not empty.
	EachPhotoURL(ctx context.Context, fn func(string) error) error
	// SetEmailOptIns sets the kinds of notification mailed to a user who
	// is not deleted (those opted into, and those of OnByDefault turned
	// off), and returns the user. ErrNotFound if missing or deleted.
	SetEmailOptIns(ctx context.Context, id string, optIns, optOuts []string) (User, error)
	// SetEmailVerified marks a user's email verified.
	SetEmailVerified(ctx context.Context, id string) error
	// ChangeTokens commits c if the user's token version is still c.Version
	// and the user is not deleted: it applies c's changes and bumps the
	// token version, revoking every token issued before. False if the
	// version moved on.
	ChangeTokens(ctx context.Context, c TokenChange) (bool, error)
	// RevokeToken records one revoked token of the user until it expires,
	// and forgets the revoked tokens that have expired by now.
	RevokeToken(ctx context.Context, id, tokenID string, expires, now time.Time) error
	// CountAudience counts the active users of the roles created at or
	// before t.
	CountAudience(ctx context.Context, roles []auth.Role, t time.Time) (int64, error)
	// Audience returns up to limit active users of the roles created at or
	// before t, whose IDs sort after after, in the order of their IDs.
	Audience(ctx context.Context, roles []auth.Role, t time.Time, after string, limit int) ([]User, error)
	// TokensChangedSince returns the ids of the users whose tokens were
	// revoked at or after t, for the other instances' caches.
	TokensChangedSince(ctx context.Context, t time.Time) ([]string, error)
	// SetStanding gives the user st, worked out at seq, unless the user
	// has one worked out at seq or later.
	SetStanding(ctx context.Context, id string, st Standing, seq int64) error
	// SetQualifications rewrites the user's copy of their scores with what
	// read returns, under a count of its rewrites: read is called again
	// if another rewrite came between, so that the last rewrite read the
	// scores after every change before it. ErrNotFound if no such user.
	SetQualifications(ctx context.Context, id string, read func(context.Context) (map[string]int, error)) error
}

// TokenChange is a change that revokes a user's tokens.
type TokenChange struct {
	ID            string
	Version       int64
	PasswordHash  []byte // non-nil: the new password
	EmailVerified bool   // set the email verified
	GoogleLinked  bool   // link Sign in with Google
	At            time.Time
}

// Purposes of the single-use tokens mailed to users.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
	PurposeStreamTicket  = "stream_ticket" // a used one, refused the second time
)

// AccountToken is a single-use token mailed to a user, kept as a hash.
type AccountToken struct {
	Hash      string // of the token; the token itself is only in the mail
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// AccountTokens keeps the mailed tokens. storage.AccountTokenStore
// implements it.
type AccountTokens interface {
	// Replace stores t in place of the user's earlier tokens of its
	// purpose, so that only the newest link works.
	Replace(ctx context.Context, t AccountToken) error
	// Consume removes the token with this hash and purpose and returns it;
	// ErrBadToken if there is none (never issued, or used already).
	Consume(ctx context.Context, hash, purpose string) (AccountToken, error)
	// UseOnce records t (a stream ticket's id as its Hash) and reports
	// whether it was new, forgetting the user's tokens of the purpose that
	// expired before now.
	UseOnce(ctx context.Context, t AccountToken, now time.Time) (bool, error)
}

// Mailer queues email; mail.Outbox implements it.
type Mailer interface {
	Mail(ctx context.Context, to, subject, text string) error
}

// Throttle counts failed sign-ins per account. storage.LoginThrottleStore
// implements it.
type Throttle interface {
	// Get returns the failures counted for key and until when sign-ins
	// are refused.
	Get(ctx context.Context, key string) (failures int, blockedUntil time.Time, err error)
	// Fail records one more failure (forgetting those older than since)
	// and blocks sign-ins until the time block returns for the new count.
	Fail(ctx context.Context, key string, now, since time.Time, block func(failures int) time.Time) error
	// Clear forgets the failures of key.
	Clear(ctx context.Context, key string) error
	// Forget forgets the failures of every key whose last failure was
	// before t, and returns how many keys it forgot.
	Forget(ctx context.Context, t time.Time) (int64, error)
}

// AccountChange is the commit of a change of status or role.
type AccountChange struct {
	Op      string
	ID      string
	Version int64
	Status  Status
	Role    auth.Role // empty: unchanged
	Email   string    // the user's email, kept aside on deletion
	At      time.Time
}

// ExternalIdentity is a person an identity provider vouches for.
type ExternalIdentity struct {
	Email    string // verified by the provider (Google: its email_verified claim)
	Name     string
	PhotoURL string
}

// IdentityVerifier checks a provider's credential; googleid.Verifier
// implements it. Any credential that does not verify is an error of kind
// Unauthenticated.
type IdentityVerifier interface {
	Verify(ctx context.Context, credential string) (ExternalIdentity, error)
}

// TaskHider shows and hides a buyer's tasks (and jobs); the wiring
// implements it over task.Service and job.Service.
type TaskHider interface {
	SetHidden(ctx context.Context, buyerID string, hidden bool) error
}

// Streams closes a user's live notification streams;
// notification.Service implements it.
type Streams interface {
	CloseStreams(userID string)
}

// ApprovedRanking ranks users by approved work; reputation.Service
// implements it.
type ApprovedRanking interface {
	TopApproved(ctx context.Context, limit int) ([]string, error)
}

// Holds tells how many coins the users' pending withdrawals hold;
// storage.WithdrawalStore implements it.
type Holds interface {
	HeldCoins(ctx context.Context, userIDs []string) (map[string]money.Coins, error)
}

// Ledger is what this package uses of the coin ledger: balances, and the
// workers' board. ledger.Ledger implements it.
type Ledger interface {
	Balance(ctx context.Context, account string) (money.Coins, error)
	Balances(ctx context.Context, accounts []string) (map[string]money.Coins, error)
	SetBoard(ctx context.Context, account, board string, seq int64, now time.Time) error
	Leaders(ctx context.Context, board string, limit int) ([]ledger.Account, error)
}
