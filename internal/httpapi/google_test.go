package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/googleid/googleidtest"
)

// googleAPI is an API with Sign in with Google against a test provider.
func googleAPI(t *testing.T) (*testAPI, *googleidtest.Provider) {
	t.Helper()
	p := googleidtest.New(t)
	return buildAPI(t, harness{bcryptCost: bcrypt.MinCost, google: p}), p
}

func (a *testAPI) googleSignIn(t testing.TB, credential, role string) *httptest.ResponseRecorder {
	t.Helper()
	body := map[string]string{"credential": credential}
	if role != "" {
		body["role"] = role
	}
	return a.call(t, http.MethodPost, "/api/auth/google", "", body)
}

func TestGoogleSignInCreatesThenSignsIn(t *testing.T) {
	a, p := googleAPI(t)
	email := uniqueEmail("gina")
	claims := googleidtest.Claims(strings.ToUpper(email), "Gina Google")

	s := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, claims), "buyer"), http.StatusCreated)
	if s.User.Email != email || s.User.Name != "Gina Google" || s.User.Role != "buyer" || s.User.Coins != 50 ||
		s.User.PhotoURL != "https://lh3.googleusercontent.com/a/test-photo" {
		t.Errorf("new user %+v", s.User)
	}
	me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil), http.StatusOK)
	if me.ID != s.User.ID {
		t.Errorf("the token names %s, want %s", me.ID, s.User.ID)
	}

	// The second sign-in finds the account: no second bonus, and the role
	// asked for does not change it.
	again := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, claims), "worker"), http.StatusOK)
	if again.User.ID != s.User.ID || again.User.Coins != 50 || again.User.Role != "buyer" {
		t.Errorf("second sign-in %+v, want the same buyer with 50 coins", again.User)
	}

	// The account has no password: password sign-in cannot reach it.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": ""}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Passw0rd!"}),
		http.StatusUnauthorized, "invalid_credentials")
}

func TestGoogleSignInDefaultsToWorker(t *testing.T) {
	a, p := googleAPI(t)
	s := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(uniqueEmail("wes"), "Wes")), ""), http.StatusCreated)
	if s.User.Role != "worker" || s.User.Coins != 10 {
		t.Errorf("user %+v, want a worker with 10 coins", s.User)
	}
}

// TestGoogleSignInToPasswordAccount: Google reaches an account made with a
// password only once its email is verified; before, anyone could sign up
// with a victim's email and share the account the victim then signs in to
// with Google (TestGoogleCannotTakeOverAnUnverifiedAccount).
func TestGoogleSignInToPasswordAccount(t *testing.T) {
	a, p := googleAPI(t)
	existing := a.register(t, "worker")
	wantProblem(t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(existing.User.Email, "Someone")), "buyer"),
		http.StatusConflict, "account_exists_unverified")
	if err := a.userDB.SetEmailVerified(t.Context(), existing.User.ID); err != nil {
		t.Fatal(err)
	}
	s := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(existing.User.Email, "Someone")), "buyer"), http.StatusOK)
	if s.User.ID != existing.User.ID || s.User.Name != existing.User.Name || s.User.Coins != 10 {
		t.Errorf("user %+v, want the existing account unchanged", s.User)
	}
}

func TestGoogleSignInRefusals(t *testing.T) {
	a, p := googleAPI(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(change func(map[string]any)) map[string]any {
		c := googleidtest.Claims(uniqueEmail("refused"), "Refused")
		change(c)
		return c
	}
	valid := p.Sign(t, claims(func(map[string]any) {}))
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"wrong audience", map[string]string{"credential": p.Sign(t, claims(func(c map[string]any) { c["aud"] = "other.apps.googleusercontent.com" }))}, 401, "invalid_google_token"},
		{"expired", map[string]string{"credential": p.Sign(t, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))}, 401, "invalid_google_token"},
		{"bad signature", map[string]string{"credential": googleidtest.SignWith(t, otherKey, googleidtest.KeyID, claims(func(map[string]any) {}))}, 401, "invalid_google_token"},
		{"unknown key", map[string]string{"credential": googleidtest.SignWith(t, p.Key, "rotated-away", claims(func(map[string]any) {}))}, 401, "invalid_google_token"},
		{"foreign issuer", map[string]string{"credential": p.Sign(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" }))}, 401, "invalid_google_token"},
		{"unverified email", map[string]string{"credential": p.Sign(t, claims(func(c map[string]any) { c["email_verified"] = false }))}, 401, "invalid_google_token"},
		{"garbage", map[string]string{"credential": "eyJhbGciOi.not.a-token"}, 401, "invalid_google_token"},
		{"no credential", map[string]string{"role": "worker"}, 422, "invalid_fields"},
		{"admin role", map[string]string{"credential": valid, "role": "admin"}, 422, "invalid_fields"},
		{"unknown field", map[string]string{"credential": valid, "coins": "100"}, 422, "invalid_fields"},
		{"credential too long", map[string]string{"credential": strings.Repeat("a", 5000)}, 422, "invalid_fields"},
		{"not JSON", "credential=abc", 400, "malformed_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/auth/google", "", tt.body), tt.status, tt.code)
		})
	}
	// None of them created an account.
	if n, err := a.userDB.CountByRole(t.Context(), "worker"); err != nil || n != 0 {
		t.Errorf("workers = %d (%v), want none", n, err)
	}
}

func TestGoogleSignInSuspendedOrDeleted(t *testing.T) {
	a, p := googleAPI(t)
	adm := a.admin(t)
	suspended, deleted := a.register(t, "worker"), a.register(t, "worker")
	decode[userBody](t, a.call(t, http.MethodPut, "/api/admin/users/"+suspended.User.ID, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)
	if rec := a.call(t, http.MethodDelete, "/api/admin/users/"+deleted.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(suspended.User.Email, "S")), ""),
		http.StatusForbidden, "account_suspended")
	// Deleting an account frees its email, as for a password sign-up: the
	// person starts over with a new account.
	fresh := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(deleted.User.Email, "D")), ""), http.StatusCreated)
	if fresh.User.ID == deleted.User.ID {
		t.Errorf("signed in to the deleted account %s", deleted.User.ID)
	}
}

func TestGoogleKeysDown(t *testing.T) {
	a, p := googleAPI(t)
	p.SetDown(true)
	wantProblem(t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(uniqueEmail("k"), "K")), ""),
		http.StatusServiceUnavailable, "google_unavailable")
}

func TestGoogleSignInNotConfigured(t *testing.T) {
	a := newAPI(t)
	p := googleidtest.New(t)
	wantProblem(t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(uniqueEmail("n"), "N")), ""),
		http.StatusNotImplemented, "google_sign_in_not_configured")
}

// Several first sign-ins of the same person at once make one account with
// one bonus.
func TestGoogleSignInConcurrentFirstSignIns(t *testing.T) {
	a, p := googleAPI(t)
	tok := p.Sign(t, googleidtest.Claims(uniqueEmail("twin"), "Twin"))
	const n = 6
	codes := make(chan int, n)
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rec := a.googleSignIn(t, tok, "worker")
			codes <- rec.Code
			var s sessionBody
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err == nil && rec.Code < 300 {
				ids <- s.User.ID
			}
		})
	}
	wg.Wait()
	close(codes)
	close(ids)
	created := 0
	for c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Errorf("status %d", c)
		}
	}
	if created != 1 {
		t.Errorf("%d sign-ins created an account, want 1", created)
	}
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("sign-ins reached accounts %s and %s", first, id)
		}
	}
	if n, err := a.userDB.CountByRole(t.Context(), "worker"); err != nil || n != 1 {
		t.Errorf("workers = %d (%v), want 1", n, err)
	}
}
