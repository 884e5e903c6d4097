// Package apptest builds Microtask's services for tests, as internal/app
// builds them for the server: on a real test database (storagetest), with a
// clock the test moves, and with what tests need around them (users made
// directly, coins granted, balances, the audit checked at the end).
package apptest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
	"microtask/internal/auth"
	"microtask/internal/checkout"
	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/operation"
	"microtask/internal/payment"
	"microtask/internal/platform/clocktest"
	"microtask/internal/platform/logging"
	"microtask/internal/safehttp"
	"microtask/internal/storage/storagetest"
	"microtask/internal/upload"
	"microtask/internal/user"
)

// Env is the services on one test database.
type Env struct {
	DB    *docdb.DB
	Clock *clocktest.Clock
	*app.App
}

// Start is the time a new Env's clock shows.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Grant is an operation of the tests: coins from the mint, as a purchase
// would give them. Build registers it.
var Grant = operation.Kind[struct{}]{Name: "grant"}

// New builds the services on a fresh database of the test's own, with a
// clock at Start, and checks at the end of the test that the ledger audit
// balances with nothing in flight. configure changes the configuration,
// whose defaults suit most tests (bcrypt's lowest cost, the dummy gateway).
func New(t testing.TB, configure ...func(*app.Config)) *Env {
	t.Helper()
	e := Build(t, storagetest.NewDB(t), clocktest.New(Start), configure...)
	t.Cleanup(func() { e.WantAudit(t) })
	return e
}

// Build builds the services on db with clock, as a process would at start:
// tests that restart a process after a crash call it again on the same
// database.
func Build(t testing.TB, db *docdb.DB, clock *clocktest.Clock, configure ...func(*app.Config)) *Env {
	t.Helper()
	h, err := auth.NewHasher(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c := app.Config{
		Log: logging.Discard(), Now: clock.Now, Hasher: h,
		Tokens:           auth.NewTokens([]byte("apptest-secret-apptest-secret-32"), time.Hour, nil),
		SoleWriter:       db.SoleWriter(), // as main does
		AutoApproveAfter: 72 * time.Hour, Gateway: checkout.Dummy{SuccessURL: "http://localhost:5173/paid"},
		WithdrawalMethods: []string{"stripe", "bkash", "rocket", "nagad"}, Pricing: money.DefaultPricing(),
		ImageHost: upload.Dir{Path: t.TempDir()},
		// Tests receive webhooks on httptest servers, on the loopback.
		HookClient: safehttp.New(safehttp.Config{AllowPrivate: true}),
	}
	for _, f := range configure {
		f(&c)
	}
	a, err := app.New(db, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Operations.Register(Grant.Define()); err != nil {
		t.Fatal(err)
	}
	return &Env{DB: db, Clock: clock, App: a}
}

var seq atomic.Int64

// User adds an active user of the role, without the sign-up bonus (nor,
// for a worker, a place on the workers' board, which the sign-up gives),
// and returns them as a principal.
func (e *Env) User(t testing.TB, role auth.Role) auth.Principal {
	t.Helper()
	id := fmt.Sprintf("%s%d", role, seq.Add(1))
	u := user.User{ID: id, Name: "Name of " + id, Email: id + "@example.com", Role: role, Status: user.StatusActive,
		CreatedAt: e.Clock.Now()}
	if err := e.Stores.Users.Insert(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	return auth.Principal{UserID: id, Role: role}
}

// Give grants a user coins from the mint.
func (e *Env) Give(t testing.TB, userID string, coins money.Coins) {
	t.Helper()
	ref := fmt.Sprintf("%s-%d", userID, seq.Add(1))
	if _, err := Grant.Run(context.Background(), e.Operations, ref, ledger.Move(ledger.Mint, ledger.UserAccount(userID), coins), struct{}{}); err != nil {
		t.Fatal(err)
	}
}

// Balance is an account's balance.
func (e *Env) Balance(t testing.TB, account string) money.Coins {
	t.Helper()
	b, err := e.Ledger.Balance(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Coins is a user's balance.
func (e *Env) Coins(t testing.TB, userID string) money.Coins {
	t.Helper()
	return e.Balance(t, ledger.UserAccount(userID))
}

// WantAudit fails the test unless the ledger audit balances with nothing in
// flight and nothing left to clean up.
func (e *Env) WantAudit(t testing.TB) {
	t.Helper()
	r, err := e.Ledger.Audit(context.Background())
	if err != nil {
		t.Errorf("audit: %v", err)
		return
	}
	if !r.Balanced || r.InFlight != 0 || r.Uncleared != 0 {
		t.Errorf("ledger audit: balanced %v, in flight %d, uncleared %d, problems %q", r.Balanced, r.InFlight, r.Uncleared, r.Problems)
	}
}

// Gateway is the dummy gateway as a test steers it: under the provider
// name the test sets, so that a purchase its buyer confirms can pass for one
// paid through a real gateway (Provider "stripe"), which is what revenue and
// risk count; and unreachable while Down, like a provider that cannot be
// reached.
type Gateway struct {
	checkout.Dummy
	Provider string // empty: the dummy gateway's own name
	Down     atomic.Bool
}

// Name implements payment.Gateway.
func (g *Gateway) Name() string {
	if g.Provider == "" {
		return g.Dummy.Name()
	}
	return g.Provider
}

// Start implements payment.Gateway.
func (g *Gateway) Start(ctx context.Context, c payment.Checkout) (payment.Session, error) {
	if g.Down.Load() {
		return payment.Session{}, errors.New("connection refused")
	}
	return g.Dummy.Start(ctx, c)
}

// RealGateway configures the services with gw, which starts as a real
// gateway ("stripe").
func RealGateway(gw *Gateway) func(*app.Config) {
	return func(c *app.Config) {
		gw.Dummy.SuccessURL = "http://localhost:5173/paid"
		if gw.Provider == "" {
			gw.Provider = "stripe"
		}
		c.Gateway = gw
	}
}
