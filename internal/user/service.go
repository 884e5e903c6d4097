package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// Service applies the account rules.
type Service struct {
	store  Store
	ops    operation.Runner
	ledger Ledger
	holds  Holds
	tasks  TaskHider
	admins adminlog.Recorder
	// pricing says what new accounts are given.
	pricing money.Pricing
	google  IdentityVerifier // nil when Sign in with Google is not configured
	hasher  *auth.Hasher
	tokens  *auth.Tokens
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
	cache   *authCache
	ranking ApprovedRanking

	mailer        Mailer
	accountTokens AccountTokens
	appURL        string
	throttle      Throttle
	streams       Streams
	images        Images
	viewStore     ViewStore
	views         *viewBook

	signup        operation.Kind[signup]
	accountChange operation.Kind[accountChange]
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Ops     operation.Runner
	Ledger  Ledger
	Holds   Holds
	Tasks   TaskHider
	Ranking ApprovedRanking
	Admins  adminlog.Recorder
	// Mailer mails links to the app's pages below AppURL (email
	// verification, password reset), whose tokens AccountTokens keeps.
	Mailer        Mailer
	AccountTokens AccountTokens
	AppURL        string
	Throttle      Throttle         // slows down sign-in attempts per account
	Streams       Streams          // closed for every user whose tokens this process revokes
	Images        Images           // tells the images of this server, which portfolios show
	Views         ViewStore        // keeps who viewed which profile
	Google        IdentityVerifier // nil: Sign in with Google is not configured
	Pricing       money.Pricing    // what new accounts are given
	Hasher        *auth.Hasher
	Tokens        *auth.Tokens
	// SoleWriter says that no other process writes to the database, so
	// that what the service caches stays right until it changes it itself.
	SoleWriter bool
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// NewService returns a Service running its operations on d.Ops.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, ops: d.Ops, ledger: d.Ledger, holds: d.Holds, tasks: d.Tasks, admins: d.Admins, pricing: d.Pricing,
		google: d.Google, hasher: d.Hasher, tokens: d.Tokens, log: d.Log, now: now, newID: idgen.New, cache: newAuthCache(AuthCacheTTL, now),
		ranking: d.Ranking, mailer: d.Mailer, accountTokens: d.AccountTokens, appURL: strings.TrimRight(d.AppURL, "/"),
		throttle: d.Throttle, streams: d.Streams, images: d.Images, viewStore: d.Views, views: newViewBook()}
	if d.SoleWriter {
		s.cache.ttl = SoleWriterAuthCacheTTL
	}
	// signup:<user> creates the account with its bonus from the mint, and
	// puts a worker's on the workers' board.
	s.signup = operation.Kind[signup]{Name: "signup", Commit: s.commitSignup, Settle: s.settleSignup}
	// account:<user>:<token version> changes an account's status or role.
	// The user, the visibility of their tasks and their place on the
	// workers' board change together through it, even across a crash; the
	// token version, which every change bumps, makes each change's id its
	// own.
	s.accountChange = operation.Kind[accountChange]{Name: "account", Commit: s.commitAccount, Settle: s.settleAccount}
	return s
}

// Operations returns the kinds of operation this service runs, for the
// wiring to register.
func (s *Service) Operations() []operation.Definition {
	return []operation.Definition{s.signup.Define(), s.accountChange.Define()}
}

// signup is the data of a sign-up operation: the account to create, kept
// only while the operation runs.
type signup struct {
	Name, Email, PhotoURL string
	Role                  auth.Role
	PasswordHash          []byte // nil for an account that signs in through a provider
	Google                bool   // created through Sign in with Google: its email is verified
}

// accountChange is the data of an account change: the user's status and
// role after it.
type accountChange struct {
	UserID  string
	Status  Status
	Role    auth.Role // empty in the records of earlier versions: unchanged
	Version int64     // the token version the change bumps
	Email   string
	// What the account was before, the admin who asked and why: for the
	// admin log (empty in the records of earlier versions).
	WasStatus Status
	WasRole   auth.Role
	By        string
	Reason    string
}

// SignupBonuses returns what a new worker's and a new buyer's account get.
func (s *Service) SignupBonuses() (worker, buyer money.Coins) {
	return SignupBonus(s.pricing, auth.RoleWorker), SignupBonus(s.pricing, auth.RoleBuyer)
}

// Registration is a sign-up request.
type Registration struct {
	Name     string
	Email    string
	Password string
	PhotoURL string
	Role     auth.Role
}

// Session is a signed-in user and its access token.
type Session struct {
	User      User
	Token     string
	ExpiresAt time.Time
}

// NormalizeEmail is how emails are stored and looked up: trimmed and lower
// case, so that one address cannot sign up twice in another letter case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Register creates a worker or buyer account with its sign-up bonus and signs
// it in. The account is created by the sign-up operation's commit step, so an
// account never exists without its bonus, even across a crash.
func (s *Service) Register(ctx context.Context, r Registration) (Session, error) {
	r = r.normalized()
	if err := r.check(); err != nil {
		return Session{}, err
	}
	hash, err := s.hasher.Hash(r.Password)
	if err != nil {
		return Session{}, fmt.Errorf("hash password: %w", err)
	}
	u, err := s.create(ctx, r, hash, false)
	if err != nil {
		return Session{}, err
	}
	// The account exists whatever happens to the mail: a lost link is
	// sent again on request.
	if err := s.sendVerification(ctx, u); err != nil {
		s.log.ErrorContext(ctx, "mail the verification link", "user_id", u.ID, "err", err)
	}
	return s.session(u)
}

// CheckRegistration applies the sign-up rules to r and checks that its
// email is free, creating nothing: a sign-up with a photo calls it before
// storing the photo. Register checks again, since the email may be taken
// in between.
func (s *Service) CheckRegistration(ctx context.Context, r Registration) error {
	r = r.normalized()
	if err := r.check(); err != nil {
		return err
	}
	_, _, err := s.store.Credentials(ctx, r.Email)
	switch {
	case err == nil:
		return ErrEmailTaken
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return fmt.Errorf("look up %s: %w", r.Email, err)
}

func (r Registration) normalized() Registration {
	r.Name, r.Email, r.PhotoURL = strings.TrimSpace(r.Name), NormalizeEmail(r.Email), strings.TrimSpace(r.PhotoURL)
	return r
}

// create runs the sign-up operation that creates the account (passwordHash
// nil for an account that signs in through a provider) and returns it.
func (s *Service) create(ctx context.Context, r Registration, passwordHash []byte, google bool) (User, error) {
	id := s.newID()
	var bonus []ledger.Posting // none when the configured bonus is nothing
	if b := SignupBonus(s.pricing, r.Role); b > 0 {
		bonus = ledger.Move(ledger.Mint, ledger.UserAccount(id), b)
	}
	_, err := s.signup.Run(ctx, s.ops, id, bonus,
		signup{Name: r.Name, Email: r.Email, PhotoURL: r.PhotoURL, Role: r.Role, PasswordHash: passwordHash, Google: google})
	if errors.Is(err, operation.ErrCancelled) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("sign up %s: %w", r.Email, err)
	}
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("read new user %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID, "role", string(u.Role))
	return s.withCoins(ctx, u)
}

// ErrGoogleOff answers Google sign-in when no Google client is configured.
var ErrGoogleOff = apperr.New(apperr.NotImplemented, "google_sign_in_not_configured",
	"Sign in with Google is not configured on this server (GOOGLE_CLIENT_ID)")

// SignInWithGoogle signs in the person a Google ID token names: the account
// with their (Google-verified) email, or a new worker or buyer account with
// the sign-up bonus. created says which. A second sign-in of the same person
// gets no second bonus.
func (s *Service) SignInWithGoogle(ctx context.Context, credential string, role auth.Role) (sess Session, created bool, err error) {
	if s.google == nil {
		return Session{}, false, ErrGoogleOff
	}
	if role == "" {
		role = auth.RoleWorker
	}
	if !canSignUpAs(role) {
		return Session{}, false, apperr.InvalidFields(errSignupRole)
	}
	id, err := s.google.Verify(ctx, credential)
	if err != nil {
		return Session{}, false, fmt.Errorf("verify Google ID token: %w", err)
	}
	email := NormalizeEmail(id.Email)
	for range 2 { // a simultaneous first sign-in of the same person may create the account
		u, _, err := s.store.Credentials(ctx, email)
		if err == nil {
			sess, err := s.signInWithGoogle(ctx, u)
			return sess, false, err
		}
		if !errors.Is(err, ErrNotFound) {
			return Session{}, false, fmt.Errorf("look up credentials: %w", err)
		}
		name := strings.TrimSpace(id.Name)
		if len([]rune(name)) > 80 {
			name = string([]rune(name)[:80])
		}
		u, err = s.create(ctx, Registration{Name: name, Email: email, PhotoURL: id.PhotoURL, Role: role}, nil, true)
		if errors.Is(err, ErrEmailTaken) {
			continue
		}
		if err != nil {
			return Session{}, false, err
		}
		sess, err := s.session(u)
		return sess, true, err
	}
	return Session{}, false, operation.ErrInProgress
}

// canSignUpAs reports whether people may give themselves this role: admins
// are only made by other admins.
func canSignUpAs(r auth.Role) bool { return r == auth.RoleWorker || r == auth.RoleBuyer }

var errSignupRole = apperr.FieldError{Field: "role", Message: "must be one of: worker, buyer"}

// signIn opens a session for u, whose credentials have been checked: a
// deleted account is answered like unknown credentials, a suspended one
// says so.
func (s *Service) signIn(ctx context.Context, u User) (Session, error) {
	switch u.Status {
	case StatusDeleted:
		return Session{}, ErrInvalidCredentials
	case StatusSuspended:
		return Session{}, ErrSuspended
	}
	u, err := s.withCoins(ctx, u)
	if err != nil {
		return Session{}, err
	}
	return s.session(u)
}

// commitSignup is the sign-up's commit step: it inserts the user. Inserting
// it again (recovery) finds it there and succeeds; an email taken by someone
// else cancels the operation.
func (s *Service) commitSignup(ctx context.Context, op operation.Op[signup]) (bool, error) {
	u := User{
		ID: op.Ref, Name: op.Data.Name, Email: op.Data.Email, PhotoURL: op.Data.PhotoURL,
		Role: op.Data.Role, Status: StatusActive, CreatedAt: op.At,
		EmailVerified: op.Data.Google, GoogleLinked: op.Data.Google,
	}
	err := s.store.Insert(ctx, u, op.Data.PasswordHash)
	if errors.Is(err, ErrEmailTaken) {
		if _, err := s.store.ByID(ctx, op.Ref); err == nil {
			return true, nil // inserted by an earlier attempt of this operation
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert user %s: %w", op.Ref, err)
	}
	return true, nil
}

// settleSignup puts a new worker's account on the workers' board, as of
// token version 0; any later change of the account outranks it.
func (s *Service) settleSignup(ctx context.Context, op operation.Op[signup]) error {
	board := User{Role: op.Data.Role, Status: StatusActive}.Board()
	if board == "" {
		return nil
	}
	return s.ledger.SetBoard(ctx, ledger.UserAccount(op.Ref), board, 0, op.At)
}

func (s *Service) session(u User) (Session, error) {
	tok, exp, err := s.tokens.Issue(auth.Claims{UserID: u.ID, Role: u.Role, Version: u.TokenVersion})
	if err != nil {
		return Session{}, fmt.Errorf("issue token for user %s: %w", u.ID, err)
	}
	return Session{User: u, Token: tok, ExpiresAt: exp}, nil
}

// Authenticate turns a bearer token into the principal making the request.
// It checks the token, then the account: a deleted account or a bumped token
// version revokes the token, a suspended account gets ErrSuspended.
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	c, err := s.tokens.Verify(token)
	if err != nil {
		return auth.Principal{}, err
	}
	return s.principal(ctx, c)
}

// StreamTicket issues the caller a short-lived ticket for the notification
// stream, which browsers open without headers.
func (s *Service) StreamTicket(ctx context.Context, p auth.Principal) (string, time.Time, error) {
	u, err := s.account(ctx, p.UserID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read user %s: %w", p.UserID, err)
	}
	return s.tokens.IssueTicket(auth.Claims{UserID: u.ID, Role: u.Role, Version: u.TokenVersion})
}

// AuthenticateTicket is Authenticate for a stream ticket.
func (s *Service) AuthenticateTicket(ctx context.Context, ticket string) (auth.Principal, error) {
	c, err := s.tokens.VerifyTicket(ticket)
	if err != nil {
		return auth.Principal{}, err
	}
	p, err := s.principal(ctx, c)
	if err != nil {
		return p, err
	}
	// Single use: a ticket passed around (it travels in a URL) opens one
	// stream, not thousands.
	if c.ID == "" {
		return auth.Principal{}, auth.ErrInvalidToken
	}
	fresh, err := s.accountTokens.UseOnce(ctx, AccountToken{Hash: "ticket:" + c.ID, UserID: c.UserID, Purpose: PurposeStreamTicket,
		ExpiresAt: c.ExpiresAt}, s.now().UTC())
	if err != nil {
		return auth.Principal{}, fmt.Errorf("record stream ticket: %w", err)
	}
	if !fresh {
		return auth.Principal{}, ErrTicketUsed
	}
	return p, nil
}

// account reads a user for authentication, through the cache.
func (s *Service) account(ctx context.Context, id string) (User, error) {
	u, ok, gen := s.cache.get(id)
	if ok {
		return u, nil
	}
	u, err := s.store.ByID(ctx, id)
	if err == nil {
		s.cache.put(u, gen)
	}
	return u, err
}

// principal checks the account behind verified claims.
func (s *Service) principal(ctx context.Context, c auth.Claims) (auth.Principal, error) {
	u, err := s.account(ctx, c.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return auth.Principal{}, auth.ErrTokenRevoked
	case err != nil:
		return auth.Principal{}, fmt.Errorf("look up token's user: %w", err)
	case u.Status == StatusDeleted:
		return auth.Principal{}, auth.ErrTokenRevoked
	case u.Status == StatusSuspended:
		// Before the version check: a suspension also bumps the version, and
		// the suspended user should learn why, not just sign in again.
		return auth.Principal{}, ErrSuspended
	case u.TokenVersion != c.Version:
		return auth.Principal{}, auth.ErrTokenRevoked
	}
	if _, revoked := u.RevokedTokens[c.ID]; revoked && c.ID != "" {
		return auth.Principal{}, auth.ErrTokenRevoked
	}
	return auth.Principal{UserID: u.ID, Role: u.Role}, nil
}

// Cached returns a user as Authenticate sees them, through its cache: no
// command while the user is cached. In the embedded mode every change this
// process makes drops the entry; on MongoDB what another instance changed
// may show up to AuthCacheTTL late. For what lists and checks read of a
// worker on every request: their standing.
func (s *Service) Cached(ctx context.Context, id string) (User, error) {
	u, err := s.account(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %s: %w", id, err)
	}
	return u, nil
}

// KeyOwner is the principal an API key of the user acts as: the user as
// they are now, through the same cache as Authenticate, so that suspending
// or deleting them stops their keys at once. ErrNotFound if the user is
// deleted or missing, ErrSuspended if suspended.
func (s *Service) KeyOwner(ctx context.Context, id string) (auth.Principal, error) {
	u, err := s.account(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && u.Status == StatusDeleted):
		return auth.Principal{}, ErrNotFound
	case err != nil:
		return auth.Principal{}, fmt.Errorf("look up key's owner %s: %w", id, err)
	case u.Status == StatusSuspended:
		return auth.Principal{}, ErrSuspended
	}
	return auth.Principal{UserID: u.ID, Role: u.Role}, nil
}

// Get returns a user with its coins. Deleted users are not found.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %s: %w", id, err)
	}
	if u.Status == StatusDeleted {
		return User{}, ErrNotFound
	}
	return s.withCoins(ctx, u)
}

// Exists reports whether a user exists and is not deleted.
func (s *Service) Exists(ctx context.Context, id string) (bool, error) {
	u, err := s.store.ByID(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read user %s: %w", id, err)
	}
	return u.Status != StatusDeleted, nil
}

// Public returns the users among ids that are not deleted, without their
// coins, in one read: what others may see of them (their cards).
func (s *Service) Public(ctx context.Context, ids []string) ([]User, error) {
	users, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids), err)
	}
	return slices.DeleteFunc(users, func(u User) bool { return u.Status == StatusDeleted }), nil
}

// CountAudience counts the active users of the roles who signed up at or
// before t: the recipients of an announcement to everyone.
func (s *Service) CountAudience(ctx context.Context, roles []auth.Role, t time.Time) (int64, error) {
	n, err := s.store.CountAudience(ctx, roles, t)
	if err != nil {
		return 0, fmt.Errorf("count users of %v: %w", roles, err)
	}
	return n, nil
}

// Audience returns the next limit active users of the roles who signed up
// at or before t, after the user after in the order of IDs: an
// announcement's next batch.
func (s *Service) Audience(ctx context.Context, roles []auth.Role, t time.Time, after string, limit int) ([]User, error) {
	us, err := s.store.Audience(ctx, roles, t, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users of %v after %q: %w", roles, after, err)
	}
	return us, nil
}

// Contact returns a user's name, email and when the account was created.
func (s *Service) Contact(ctx context.Context, id string) (name, email string, since time.Time, verified bool, err error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return "", "", time.Time{}, false, fmt.Errorf("read user %s: %w", id, err)
	}
	return u.Name, u.Email, u.CreatedAt, u.EmailVerified, nil
}

// Name returns a user's name.
func (s *Service) Name(ctx context.Context, id string) (string, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read user %s: %w", id, err)
	}
	return u.Name, nil
}

// EachImageURL calls fn with the photo URL of every user that has one,
// deleted ones included: the images in use, for the sweep of uploads.
func (s *Service) EachImageURL(ctx context.Context, fn func(url string) error) error {
	return s.store.EachPhotoURL(ctx, fn)
}

// Profile is a change to what a user may change about themselves: a nil
// field stays as it is, and an empty one (but the name) is removed.
type Profile struct {
	Name      *string
	PhotoURL  *string
	Headline  *string
	Bio       *string
	Skills    *[]string
	Languages *[]string
	Country   *string
	Company   *string
	Website   *string
}

// UpdateProfile changes a user's name, photo and what their public profile
// tells (About), held to their bounds. Users change their own; admins
// anyone's.
func (s *Service) UpdateProfile(ctx context.Context, p auth.Principal, id string, pr Profile) (User, error) {
	if p.UserID != id && !p.Is(auth.RoleAdmin) {
		return User{}, ErrNotFound // someone else's account answers as a missing one
	}
	if err := pr.check(); err != nil {
		return User{}, err
	}
	u, err := s.store.UpdateProfile(ctx, id, pr)
	if err != nil {
		return User{}, fmt.Errorf("update profile of user %s: %w", id, err)
	}
	s.cache.drop(id) // Cached tells what the profile says too
	return s.withCoins(ctx, u)
}

// Delete deletes an account (admins only): it can no longer sign in, its
// tokens stop working and its email is free for a new account. Nothing leaves
// the ledger: its coins stay, frozen, in its ledger account, where the audit
// still counts them. Its tasks leave the lists as a suspended buyer's do;
// work already submitted is still reviewed (or approved automatically) and
// paid from escrow, and unfilled slots are refunded to the frozen account when
// the tasks expire.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	return s.changeAccount(ctx, p, id, "", func(c *accountChange) { c.Status = StatusDeleted })
}

// SetStatus suspends or reinstates an account (admins only). Either way its
// tokens are revoked (a reinstated user signs in again), and a suspended
// buyer's tasks leave the lists until reinstatement.
func (s *Service) SetStatus(ctx context.Context, p auth.Principal, id string, st Status, reason string) error {
	if st != StatusActive && st != StatusSuspended {
		return apperr.InvalidFields(apperr.FieldError{Field: "status", Message: "must be one of: active, suspended"})
	}
	return s.changeAccount(ctx, p, id, reason, func(c *accountChange) { c.Status = st })
}

// changeAccount runs the operation that applies change to the account as it
// is now (admins only, not on themselves), for the reason given.
func (s *Service) changeAccount(ctx context.Context, p auth.Principal, id, reason string, change func(*accountChange)) error {
	if !p.Is(auth.RoleAdmin) {
		return auth.ErrWrongRole
	}
	if p.UserID == id {
		return ErrSelf
	}
	for range 3 { // another change may land between the read and the commit
		u, err := s.store.ByID(ctx, id)
		if err != nil {
			return fmt.Errorf("read user %s: %w", id, err)
		}
		if u.Status == StatusDeleted {
			return ErrNotFound
		}
		c := accountChange{UserID: id, Status: u.Status, Role: u.Role, Version: u.TokenVersion, Email: u.Email,
			WasStatus: u.Status, WasRole: u.Role, By: p.UserID, Reason: reason}
		change(&c)
		_, err = s.accountChange.Run(ctx, s.ops, fmt.Sprintf("%s:%d", id, u.TokenVersion), nil, c)
		if errors.Is(err, operation.ErrCancelled) {
			continue
		}
		if err != nil {
			return err
		}
		s.cache.drop(id)
		s.tokensChanged(id)
		s.log.InfoContext(ctx, "account changed", "target_user_id", id, "status", string(c.Status), "role", string(c.Role))
		return nil
	}
	return operation.ErrInProgress
}

func (s *Service) commitAccount(ctx context.Context, op operation.Op[accountChange]) (bool, error) {
	return s.store.ChangeAccount(ctx, AccountChange{
		Op: op.ID, ID: op.Data.UserID, Version: op.Data.Version, Status: op.Data.Status, Role: op.Data.Role,
		Email: op.Data.Email, At: s.now().UTC(),
	})
}

// settleAccount shows or hides the user's tasks and jobs to match the new status and
// role (a buyer no longer active, or no longer a buyer, cannot run them),
// puts the account on the board the user belongs on now, and records the
// admin's action. The board is read from the user as it is, numbered by its
// token version: a settle run late, after a later change, writes nothing
// older than what is there.
func (s *Service) settleAccount(ctx context.Context, op operation.Op[accountChange]) error {
	s.cache.drop(op.Data.UserID)
	if err := s.tasks.SetHidden(ctx, op.Data.UserID, op.Data.Status != StatusActive || op.Data.Role != auth.RoleBuyer); err != nil {
		return fmt.Errorf("show or hide the tasks and jobs of user %s: %w", op.Data.UserID, err)
	}
	u, err := s.store.ByID(ctx, op.Data.UserID)
	if err != nil {
		return fmt.Errorf("read user %s: %w", op.Data.UserID, err)
	}
	if err := s.ledger.SetBoard(ctx, ledger.UserAccount(u.ID), u.Board(), u.TokenVersion, s.now().UTC()); err != nil {
		return err
	}
	return s.recordAdmin(ctx, op.Data.entry(op.ID, op.At))
}

// entry is the admin log's entry of the change.
func (c accountChange) entry(id string, at time.Time) adminlog.Entry {
	e := adminlog.Entry{ID: id, AdminID: c.By, TargetType: "user", TargetID: c.UserID, Reason: c.Reason, At: at}
	switch {
	case c.WasRole != "" && c.Role != c.WasRole:
		e.Kind, e.Summary = adminlog.UserRoleChanged, fmt.Sprintf("role %s → %s", c.WasRole, c.Role)
	default:
		e.Kind = map[Status]adminlog.Kind{StatusActive: adminlog.UserReinstated, StatusSuspended: adminlog.UserSuspended,
			StatusDeleted: adminlog.UserDeleted}[c.Status]
		e.Summary = "status " + string(c.Status)
	}
	return e
}

// recordAdmin records an admin's action; operations from before actions
// were recorded name no admin, and are not.
func (s *Service) recordAdmin(ctx context.Context, e adminlog.Entry) error {
	if e.AdminID == "" {
		return nil
	}
	return s.admins.Record(ctx, e)
}

var errRoleField = apperr.InvalidFields(apperr.FieldError{Field: "role", Message: "must be one of: worker, buyer, admin"})

// SetRole changes a user's role (admins only, not their own) and revokes
// their tokens; their next sign-in carries the new role. It is an account
// change: the role, the workers' board and the admin log change together.
func (s *Service) SetRole(ctx context.Context, p auth.Principal, id string, role auth.Role, reason string) error {
	if !p.Is(auth.RoleAdmin) {
		return auth.ErrWrongRole
	}
	if !role.Valid() {
		return errRoleField
	}
	return s.changeAccount(ctx, p, id, reason, func(c *accountChange) { c.Role = role })
}

// Filter selects users for the admins' list.
type Filter struct {
	Query  string // words in the name or email
	Role   auth.Role
	Status Status
}

// List returns a page of users, newest first, with their coins (admins).
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter, r page.Request) (page.Of[User], error) {
	if !p.Is(auth.RoleAdmin) {
		return page.Of[User]{}, auth.ErrWrongRole
	}
	users, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[User]{}, fmt.Errorf("list users: %w", err)
	}
	if err := s.fillCoins(ctx, users); err != nil {
		return page.Of[User]{}, err
	}
	return page.Of[User]{Items: users, Request: r, Total: total}, nil
}

// AdminIDs returns the IDs of the active admins, whom the platform tells
// about what needs an admin (a refunded or disputed purchase).
func (s *Service) AdminIDs(ctx context.Context) ([]string, error) {
	var ids []string
	f := Filter{Role: auth.RoleAdmin, Status: StatusActive}
	for n := 1; ; n++ {
		admins, total, err := s.store.List(ctx, f, page.Request{Number: n, Limit: page.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("list admins: %w", err)
		}
		for _, u := range admins {
			ids = append(ids, u.ID)
		}
		if len(admins) < page.MaxLimit || int64(len(ids)) >= total {
			return ids, nil
		}
	}
}

// TopWorkersCount is how many workers the home page shows.
const TopWorkersCount = 6

// TopWorkers returns the active workers with the most coins, most first:
// the leaders of the workers' board, two reads whatever the number of other
// accounts. A change of role or status moves an account on or off the board
// in its operation's last step; until then the user is checked here too,
// and the few spare leaders read make up for one leaving.
func (s *Service) TopWorkers(ctx context.Context) ([]User, error) {
	accts, err := s.ledger.Leaders(ctx, WorkersBoard, 2*TopWorkersCount)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(accts))
	coins := make(map[string]money.Coins, len(accts))
	for i, a := range accts {
		ids[i] = ledger.AccountOwner(a.Name)
		coins[ids[i]] = a.Balance
	}
	top, err := s.activeWorkers(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range top {
		top[i].Coins = coins[top[i].ID]
	}
	return top, nil
}

// activeWorkers reads the users of ids in one command and returns those
// still active workers, in the order of ids, at most TopWorkersCount: the
// leaders of a ranking, some of whom may have left the board since.
func (s *Service) activeWorkers(ctx context.Context, ids []string) ([]User, error) {
	users, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read top users: %w", err)
	}
	byID := make(map[string]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	var top []User
	for _, id := range ids {
		u, ok := byID[id]
		if !ok || u.Board() != WorkersBoard {
			continue
		}
		if top = append(top, u); len(top) == TopWorkersCount {
			break
		}
	}
	return top, nil
}

// TopWorkersByApproved returns the active workers with the most approved
// work, most first, with their coins: three reads (the ranking, the users,
// their balances). A few spare leaders make up for users who are no longer
// active workers.
func (s *Service) TopWorkersByApproved(ctx context.Context) ([]User, error) {
	ids, err := s.ranking.TopApproved(ctx, 2*TopWorkersCount)
	if err != nil {
		return nil, err
	}
	top, err := s.activeWorkers(ctx, ids)
	if err != nil {
		return nil, err
	}
	accts := make([]string, len(top))
	for i, u := range top {
		accts[i] = ledger.UserAccount(u.ID)
	}
	if len(accts) == 0 {
		return top, nil
	}
	coins, err := s.ledger.Balances(ctx, accts)
	if err != nil {
		return nil, err
	}
	for i := range top {
		top[i].Coins = coins[accts[i]]
	}
	return top, nil
}

// EnsureAdmin creates an admin with this email and password unless a user
// with the email exists, whom it leaves untouched. It reports whether it
// created one.
func (s *Service) EnsureAdmin(ctx context.Context, name, email, password string) (bool, error) {
	email = NormalizeEmail(email)
	if p := auth.PasswordProblem(password); p != "" {
		return false, fmt.Errorf("ADMIN_PASSWORD %s", p)
	}
	_, _, err := s.store.Credentials(ctx, email)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("look up credentials: %w", err)
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return false, fmt.Errorf("hash password: %w", err)
	}
	// The operator chose the address: it counts as verified.
	u := User{ID: s.newID(), Name: name, Email: email, Role: auth.RoleAdmin, Status: StatusActive, CreatedAt: s.now().UTC(),
		EmailVerified: true}
	if err := s.store.Insert(ctx, u, hash); errors.Is(err, ErrEmailTaken) {
		return false, nil // another instance created it first
	} else if err != nil {
		return false, fmt.Errorf("insert admin %s: %w", u.ID, err)
	}
	s.log.InfoContext(ctx, "admin created", "user_id", u.ID, "email", email)
	return true, nil
}

// withCoins fills in u's coins from its ledger account, and those its
// pending withdrawals hold.
func (s *Service) withCoins(ctx context.Context, u User) (User, error) {
	users := []User{u}
	if err := s.fillCoins(ctx, users); err != nil {
		return User{}, err
	}
	return users[0], nil
}

// fillCoins fills in the users' coins, in one read of the ledger and one of
// the holds. Holds are read whatever the users' roles: only workers ask for
// withdrawals, but a worker whose role an admin changed keeps those pending.
func (s *Service) fillCoins(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	accts := make([]string, len(users))
	ids := make([]string, len(users))
	for i, u := range users {
		accts[i], ids[i] = ledger.UserAccount(u.ID), u.ID
	}
	coins, err := s.ledger.Balances(ctx, accts)
	if err != nil {
		return err
	}
	held, err := s.holds.HeldCoins(ctx, ids)
	if err != nil {
		return fmt.Errorf("read coins on hold of %d users: %w", len(ids), err)
	}
	for i := range users {
		users[i].Coins, users[i].CoinsOnHold = coins[accts[i]], held[users[i].ID]
	}
	return nil
}

// Preferences returns the user whose preferences the caller may see: their
// own, or anyone's for an admin; someone else's account answers as a
// missing one.
func (s *Service) Preferences(ctx context.Context, p auth.Principal, id string) (User, error) {
	if p.UserID != id && !p.Is(auth.RoleAdmin) {
		return User{}, ErrNotFound
	}
	return s.Get(ctx, id)
}

// SetEmailOptIns changes which kinds of notification are mailed to the
// user: change says, per kind, whether it is now wanted; kinds it does not
// name stay as they were.
func (s *Service) SetEmailOptIns(ctx context.Context, p auth.Principal, id string, change map[string]bool) (User, error) {
	u, err := s.Preferences(ctx, p, id)
	if err != nil {
		return User{}, err
	}
	var kinds, outs []string
	for _, k := range u.EmailOptIns {
		if wanted, named := change[k]; !named || wanted {
			kinds = append(kinds, k)
		}
	}
	for _, k := range u.EmailOptOuts {
		if wanted, named := change[k]; !named || !wanted {
			outs = append(outs, k)
		}
	}
	for k, wanted := range change {
		switch {
		case OnByDefault(k):
			if !wanted && !slices.Contains(outs, k) {
				outs = append(outs, k)
			}
		case wanted && !slices.Contains(kinds, k):
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	slices.Sort(outs)
	u, err = s.store.SetEmailOptIns(ctx, id, kinds, outs)
	if err != nil {
		return User{}, fmt.Errorf("set email opt-ins of user %s: %w", id, err)
	}
	return u, nil
}

// Mailable returns the users among ids who may be mailed: active, with a
// verified email.
func (s *Service) Mailable(ctx context.Context, ids []string) ([]User, error) {
	users, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids), err)
	}
	out := users[:0]
	for _, u := range users {
		if u.Status == StatusActive && u.EmailVerified {
			out = append(out, u)
		}
	}
	return out, nil
}

// Members returns the users among ids, deleted ones included: whose
// records package reputation works standings out of.
func (s *Service) Members(ctx context.Context, ids []string) ([]User, error) {
	users, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids), err)
	}
	return users, nil
}

// SyncQualifications rewrites the copy of a worker's qualification scores
// kept with the user from what read returns (package qualification reads
// its grants), and forgets what the authentication cache holds of the
// user. Safe to repeat; a later call mends an earlier one that failed.
func (s *Service) SyncQualifications(ctx context.Context, id string, read func(context.Context) (map[string]int, error)) error {
	err := s.store.SetQualifications(ctx, id, read)
	s.cache.drop(id)
	if err != nil {
		return fmt.Errorf("set the qualifications of user %s: %w", id, err)
	}
	return nil
}

// SetStanding keeps the copy of a user's standing worked out at seq (by
// package reputation), unless a later one is there, and forgets what the
// authentication cache holds of the user: the available tasks of a worker
// read their standing through it.
func (s *Service) SetStanding(ctx context.Context, id string, st Standing, seq int64) error {
	if err := s.store.SetStanding(ctx, id, st, seq); err != nil {
		return fmt.Errorf("set the standing of user %s: %w", id, err)
	}
	s.cache.drop(id)
	return nil
}
