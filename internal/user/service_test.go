package user_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func newService(t *testing.T) (*user.Service, *storage.UserStore) {
	t.Helper()
	db := storagetest.NewDB(t)
	l := ledger.NewService(storage.NewLedgerStore(db), logging.Discard(), nil)
	h, err := auth.NewHasher(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	store := storage.NewUserStore(db)
	return user.NewService(store, l, storage.NewTaskStore(db), h, auth.NewTokens([]byte("k"), time.Hour, nil), logging.Discard(), nil), store
}

// TestCommitSignupIsIdempotent is what recovery relies on: running the
// sign-up commit again after a crash finds the user it inserted and goes on;
// another sign-up with the same email is cancelled.
func TestCommitSignupIsIdempotent(t *testing.T) {
	s, store := newService(t)
	ctx := context.Background()
	tr := ledger.Transfer{
		ID:        "signup:u1",
		Meta:      map[string]string{"role": "worker"},
		Private:   map[string]string{"name": "Una", "email": "una@example.com", "password_hash": "x"},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	for i := range 2 {
		ok, err := s.CommitSignup(ctx, tr)
		if err != nil || !ok {
			t.Fatalf("commitSignup() run %d = %v, %v; want true", i+1, ok, err)
		}
	}
	u, err := store.ByID(ctx, "u1")
	if err != nil || u.Email != "una@example.com" || u.Role != auth.RoleWorker || !u.CreatedAt.Equal(tr.CreatedAt) {
		t.Errorf("inserted user = %+v, %v", u, err)
	}

	other := tr
	other.ID = "signup:u2"
	if ok, err := s.CommitSignup(ctx, other); err != nil || ok {
		t.Errorf("commitSignup() with a taken email = %v, %v; want false (cancel)", ok, err)
	}
}

func TestSignupBonus(t *testing.T) {
	for role, want := range map[auth.Role]int64{auth.RoleWorker: 10, auth.RoleBuyer: 50, auth.RoleAdmin: 0} {
		if got := user.SignupBonus(role); int64(got) != want {
			t.Errorf("SignupBonus(%s) = %d, want %d", role, got, want)
		}
	}
}

// BenchmarkAuthenticate measures the per-request token check (signature,
// then the user's status and token version by _id) as the users collection
// grows.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			db := storagetest.NewDB(b)
			l := ledger.NewService(storage.NewLedgerStore(db), logging.Discard(), nil)
			h, _ := auth.NewHasher(bcrypt.MinCost)
			tokens := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
			store := storage.NewUserStore(db)
			s := user.NewService(store, l, storage.NewTaskStore(db), h, tokens, logging.Discard(), nil)
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
	db := storagetest.NewDB(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := ledger.NewService(storage.NewLedgerStore(db), logging.Discard(), nil)
	h, _ := auth.NewHasher(bcrypt.MinCost)
	tokens := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), 24*time.Hour, nil)
	store := storage.NewUserStore(db)
	s := user.NewService(store, l, storage.NewTaskStore(db), h, tokens, logging.Discard(), clock)
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
	now = now.Add(user.AuthCacheTTL + time.Millisecond)
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, user.ErrSuspended) {
		t.Errorf("Authenticate() after the TTL = %v, want ErrSuspended", err)
	}
}
