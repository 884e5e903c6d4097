package user_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/platform/clocktest"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
	"microtask/internal/withdrawal"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// newService builds the services as main does on MongoDB (other instances
// may change accounts), with tokens and clock of the test's own, and returns
// the user service and its store.
func newService(t testing.TB, tokens *auth.Tokens, clock *clocktest.Clock) (*user.Service, *storage.UserStore) {
	t.Helper()
	e := apptest.Build(t, storagetest.NewDB(t), clock, func(c *app.Config) { c.Tokens, c.SoleWriter = tokens, false })
	return e.Users, e.Stores.Users
}

// TestCommitSignupIsIdempotent is what recovery relies on: running the
// sign-up commit again after a crash finds the user it inserted and goes on;
// another sign-up with the same email is cancelled.
func TestCommitSignupIsIdempotent(t *testing.T) {
	s, store := newService(t, auth.NewTokens([]byte("k"), time.Hour, nil), clocktest.New(apptest.Start))
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 2 {
		ok, err := s.CommitSignup(ctx, "u1", "Una", "una@example.com", auth.RoleWorker, []byte("x"), at)
		if err != nil || !ok {
			t.Fatalf("commitSignup() run %d = %v, %v; want true", i+1, ok, err)
		}
	}
	u, err := store.ByID(ctx, "u1")
	if err != nil || u.Email != "una@example.com" || u.Role != auth.RoleWorker || !u.CreatedAt.Equal(at) {
		t.Errorf("inserted user = %+v, %v", u, err)
	}
	if ok, err := s.CommitSignup(ctx, "u2", "Una", "una@example.com", auth.RoleWorker, []byte("x"), at); err != nil || ok {
		t.Errorf("commitSignup() with a taken email = %v, %v; want false (cancel)", ok, err)
	}
}

func TestSignupBonus(t *testing.T) {
	for role, want := range map[auth.Role]int64{auth.RoleWorker: 10, auth.RoleBuyer: 50, auth.RoleAdmin: 0} {
		if got := user.SignupBonus(money.DefaultPricing(), role); int64(got) != want {
			t.Errorf("SignupBonus(%s) = %d, want %d", role, got, want)
		}
	}
}

// TestConfiguredSignupBonus: the bonuses are the configured ones.
func TestConfiguredSignupBonus(t *testing.T) {
	e := apptest.New(t, func(c *app.Config) { c.Pricing.WorkerBonus, c.Pricing.BuyerBonus = 0, 7 })
	for role, want := range map[auth.Role]money.Coins{auth.RoleWorker: 0, auth.RoleBuyer: 7} {
		s, err := e.Users.Register(t.Context(), user.Registration{Name: "N", Email: string(role) + "@example.com", Password: "Passw0rd!", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Coins(t, s.User.ID); got != want || s.User.Coins != want {
			t.Errorf("a new %s has %d coins (says %d), want %d", role, got, s.User.Coins, want)
		}
	}
}

// BenchmarkAuthenticate measures the per-request token check (signature,
// then the user's status and token version by _id) as the users collection
// grows.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			tokens := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
			s, store := newService(b, tokens, clocktest.New(apptest.Start))
			ctx := context.Background()
			for i := range n {
				u := user.User{ID: fmt.Sprintf("u%05d", i), Name: "U", Email: fmt.Sprintf("u%d@example.com", i),
					Role: auth.RoleWorker, Status: user.StatusActive}
				if err := store.Insert(ctx, u, nil); err != nil {
					b.Fatal(err)
				}
			}
			tok, _, _ := tokens.Issue(auth.Claims{UserID: fmt.Sprintf("u%05d", n/2), Role: auth.RoleWorker})
			b.ResetTimer()
			for range b.N {
				if _, err := s.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAuthenticateCachesBriefly: a change made elsewhere (another API
// instance, here the store directly) is seen within AuthCacheTTL; changes
// made through the service are seen at once (see the HTTP tests).
func TestAuthenticateCachesBriefly(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tokens := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), 24*time.Hour, nil)
	s, store := newService(t, tokens, clock)
	ctx := context.Background()
	if err := store.Insert(ctx, user.User{ID: "u1", Name: "U", Email: "u@example.com", Role: auth.RoleWorker, Status: user.StatusActive}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, _ := tokens.Issue(auth.Claims{UserID: "u1", Role: auth.RoleWorker})
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.ChangeAccount(ctx, user.AccountChange{Op: "account:u1:0", ID: "u1", Status: user.StatusSuspended}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Errorf("Authenticate() within the TTL = %v, want the cached answer", err)
	}
	clock.Advance(user.AuthCacheTTL + time.Millisecond)
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, user.ErrSuspended) {
		t.Errorf("Authenticate() after the TTL = %v, want ErrSuspended", err)
	}
}

// TestAdminIDsAreTheActiveAdmins: those told about what needs an admin.
func TestAdminIDsAreTheActiveAdmins(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	a1, a2, gone := e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin), e.User(t, auth.RoleAdmin)
	e.User(t, auth.RoleBuyer)
	e.User(t, auth.RoleWorker)
	if err := e.Users.SetStatus(t.Context(), a1, gone.UserID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.Users.AdminIDs(t.Context())
	slices.Sort(got)
	want := []string{a1.UserID, a2.UserID}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("AdminIDs() = %v, %v; want %v", got, err, want)
	}
}

// TestCheckRegistration: the sign-up's rules, checked before anything is
// stored (a photo), agree with what Register refuses.
func TestCheckRegistration(t *testing.T) {
	e := apptest.New(t)
	ctx := t.Context()
	reg := func(email, password string, role auth.Role) user.Registration {
		return user.Registration{Name: "Ray", Email: email, Password: password, Role: role}
	}
	if _, err := e.Users.Register(ctx, reg("taken@example.com", "Passw0rd!", auth.RoleWorker)); err != nil {
		t.Fatal(err)
	}
	gone, err := e.Users.Register(ctx, reg("gone@example.com", "Passw0rd!", auth.RoleWorker))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Users.Delete(ctx, e.User(t, auth.RoleAdmin), gone.User.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		r       user.Registration
		want    error
		invalid bool // want invalid fields
	}{
		{name: "free", r: reg("new@example.com", "Passw0rd!", auth.RoleBuyer)},
		{name: "taken", r: reg("taken@example.com", "Passw0rd!", auth.RoleBuyer), want: user.ErrEmailTaken},
		{name: "taken, in other letters", r: reg(" Taken@Example.com ", "Passw0rd!", auth.RoleBuyer), want: user.ErrEmailTaken},
		{name: "freed by a deletion", r: reg("gone@example.com", "Passw0rd!", auth.RoleBuyer)},
		{name: "weak password", r: reg("new@example.com", "short", auth.RoleBuyer), invalid: true},
		{name: "admin role", r: reg("new@example.com", "Passw0rd!", auth.RoleAdmin), invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Users.CheckRegistration(ctx, tt.r)
			var ae *apperr.Error
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("CheckRegistration() = %v, want %v", err, tt.want)
			case tt.invalid && (!errors.As(err, &ae) || ae.Kind != apperr.Invalid):
				t.Errorf("CheckRegistration() = %v, want invalid fields", err)
			case tt.want == nil && !tt.invalid && err != nil:
				t.Errorf("CheckRegistration() = %v, want nil", err)
			}
		})
	}
}

// TestCoinsOnHoldSurviveARoleChange: the coins a worker's pending
// withdrawal holds stay theirs, and shown as on hold, whatever role an admin
// gives them meanwhile.
func TestCoinsOnHoldSurviveARoleChange(t *testing.T) {
	e := apptest.New(t)
	ctx := t.Context()
	admin := e.User(t, auth.RoleAdmin)
	for _, role := range []auth.Role{auth.RoleWorker, auth.RoleBuyer, auth.RoleAdmin} {
		t.Run(string(role), func(t *testing.T) {
			w := e.User(t, auth.RoleWorker)
			e.Give(t, w.UserID, 250)
			if _, err := e.Withdrawals.Request(ctx, w, withdrawal.Request{Coins: 200, System: "bkash", AccountNumber: "01700000000"}); err != nil {
				t.Fatal(err)
			}
			if role != auth.RoleWorker {
				if err := e.Users.SetRole(ctx, admin, w.UserID, role, ""); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.Users.Get(ctx, w.UserID)
			if err != nil || got.Role != role || got.Coins != 50 || got.CoinsOnHold != 200 {
				t.Errorf("Get() = %s with %d coins, %d on hold (%v); want %s with 50, 200 on hold", got.Role, got.Coins, got.CoinsOnHold, err, role)
			}
			list, err := e.Users.List(ctx, admin, user.Filter{Query: w.UserID + "@"}, page.Request{Number: 1, Limit: 10})
			if err != nil || len(list.Items) != 1 || list.Items[0].CoinsOnHold != 200 {
				t.Errorf("List() = %+v, %v; want the user with 200 coins on hold", list.Items, err)
			}
		})
	}
}
