// Package user is the accounts capability: signing up (with the sign-up
// bonus), signing in, authenticating tokens, profiles, deletion and the
// top-workers board. The identity primitives it uses (roles, passwords,
// tokens) are in package auth.
package user

import (
	"context"
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
	CreatedAt    time.Time
	Coins        money.Coins // the balance of the user's ledger account
	CoinsOnHold  money.Coins // held by the user's pending withdrawals: theirs, but not to spend
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
	// UpdateProfile sets name and photo URL of a user that is not deleted and
	// returns it. ErrNotFound if missing or deleted.
	UpdateProfile(ctx context.Context, id string, pr Profile) (User, error)
	// ChangeAccount commits c: the user, if its token version is still
	// c.Version, gets c.Status (deletion also frees its email), c.Role
	// unless empty, and a new token version, recording c.Op. True if it did
	// now or had already.
	ChangeAccount(ctx context.Context, c AccountChange) (bool, error)
	// List returns a page of users matching f, newest first, and their count.
	List(ctx context.Context, f Filter, p page.Request) ([]User, int64, error)
	// EachPhotoURL calls fn with every user's photo URL that is not empty.
	EachPhotoURL(ctx context.Context, fn func(string) error) error
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
	Email    string // verified by the provider
	Name     string
	PhotoURL string
}

// IdentityVerifier checks a provider's credential; googleid.Verifier
// implements it. Any credential that does not verify is an error of kind
// Unauthenticated.
type IdentityVerifier interface {
	Verify(ctx context.Context, credential string) (ExternalIdentity, error)
}

// TaskHider shows and hides a buyer's tasks; task.Service implements it.
type TaskHider interface {
	SetHidden(ctx context.Context, buyerID string, hidden bool) error
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
