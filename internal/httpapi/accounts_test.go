package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/googleid/googleidtest"
	"microtask/internal/httpapi"
	"microtask/internal/mail/mailtest"
	"microtask/internal/user"
)

// mailAPI is an API whose mail goes to an SMTP server of the test's own.
func mailAPI(t *testing.T, configure ...func(*httpapi.Options)) *testAPI {
	t.Helper()
	return buildAPI(t, harness{bcryptCost: bcrypt.MinCost, smtp: true}, configure...)
}

// signUp registers a user with this email and password.
func (a *testAPI) signUp(t *testing.T, email, password string) sessionBody {
	t.Helper()
	return decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{
		"name": "Sam", "email": email, "password": password, "role": "worker"}), http.StatusCreated)
}

// mailedToken waits for the mail to `to` about subject and returns the token
// of its link, checking that the link leads to the app's page.
func (a *testAPI) mailedToken(t *testing.T, to, subject, page string) string {
	t.Helper()
	m := a.mail.Wait(t, to, subject)
	if !strings.Contains(m.Text, testAppURL+"/"+page+"?token=") {
		t.Fatalf("mail %q has no link to %s/%s", m.Text, testAppURL, page)
	}
	return mailtest.Token(t, m)
}

func (a *testAPI) me(t *testing.T, token string) userBody {
	t.Helper()
	return decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", token, nil), http.StatusOK)
}

func TestVerifyEmail(t *testing.T) {
	a := mailAPI(t)
	email := uniqueEmail("vera")
	s := a.signUp(t, email, "Passw0rd!")
	if s.User.Verified {
		t.Fatalf("a new account is verified before its link is followed")
	}
	token := a.mailedToken(t, email, "Verify your email", "verify-email")

	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed", `{"token":`, http.StatusBadRequest, "malformed_json"},
		{"no token", map[string]string{}, http.StatusUnprocessableEntity, "invalid_fields"},
		{"unknown token", map[string]string{"token": "not-a-token"}, http.StatusUnprocessableEntity, "invalid_link_token"},
		{"unknown field", map[string]string{"token": token, "email": email}, http.StatusUnprocessableEntity, "invalid_fields"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email", "", tt.body), tt.status, tt.code)
		})
	}

	if rec := a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": token}); rec.Code != http.StatusNoContent {
		t.Fatalf("verify = %d %s", rec.Code, rec.Body)
	}
	if !a.me(t, s.Token).Verified {
		t.Errorf("email_verified is false after the link was followed")
	}
	// Single use.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": token}),
		http.StatusUnprocessableEntity, "invalid_link_token")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email/resend", s.Token, nil), http.StatusConflict, "email_already_verified")
}

func TestVerifyEmailResend(t *testing.T) {
	a := mailAPI(t)
	email := uniqueEmail("rex")
	s := a.signUp(t, email, "Passw0rd!")
	first := a.mailedToken(t, email, "Verify your email", "verify-email")

	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email/resend", "", nil), http.StatusUnauthorized, "missing_token")
	if rec := a.call(t, http.MethodPost, "/api/auth/verify-email/resend", s.Token, nil); rec.Code != http.StatusAccepted {
		t.Fatalf("resend = %d %s", rec.Code, rec.Body)
	}
	waitForMails(t, a.mail, email, 2)
	second := mailtest.Token(t, a.mail.Messages()[len(a.mail.Messages())-1])
	if second == first {
		t.Fatalf("the resent link is the first one")
	}
	// Only the newest link works.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": first}),
		http.StatusUnprocessableEntity, "invalid_link_token")

	// Rate limited per user.
	a.call(t, http.MethodPost, "/api/auth/verify-email/resend", s.Token, nil)
	rec := a.call(t, http.MethodPost, "/api/auth/verify-email/resend", s.Token, nil)
	wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")

	// Links expire after 24 hours.
	a.clock.Advance(user.VerifyEmailTTL)
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": second}),
		http.StatusUnprocessableEntity, "invalid_link_token")
}

// waitForMails waits until n messages went to `to`.
func waitForMails(t *testing.T, srv *mailtest.Server, to string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Count(to) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d mails to %s, want %d", srv.Count(to), to, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGoogleCannotTakeOverAnUnverifiedAccount(t *testing.T) {
	p := googleidtest.New(t)
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, google: p, smtp: true})
	victim := uniqueEmail("victim")
	// The attacker signs up first with the victim's email.
	attacker := a.signUp(t, victim, "Attack3rPass")

	rec := a.googleSignIn(t, p.Sign(t, googleidtest.Claims(victim, "Victim")), "")
	prob := wantProblem(t, rec, http.StatusConflict, "account_exists_unverified")
	if !strings.Contains(prob.Detail, "password-reset") || !strings.Contains(prob.Detail, "verify") {
		t.Errorf("detail %q does not say how to proceed", prob.Detail)
	}
	if rec.Header().Get("Cache-Control") == "" && rec.Body.Len() == 0 {
		t.Fatal("empty answer")
	}

	// The victim resets the password through their mailbox: the attacker's
	// password and token stop working, and Google now reaches the account.
	if rec := a.call(t, http.MethodPost, "/api/auth/password-reset", "", map[string]string{"email": victim}); rec.Code != http.StatusAccepted {
		t.Fatalf("reset = %d", rec.Code)
	}
	token := a.mailedToken(t, victim, "Reset your password", "reset-password")
	if rec := a.call(t, http.MethodPost, "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "new_password": "Vict1mPass"}); rec.Code != http.StatusNoContent {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", attacker.Token, nil), http.StatusUnauthorized, "token_revoked")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": victim, "password": "Attack3rPass"}),
		http.StatusUnauthorized, "invalid_credentials")
	s := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(victim, "Victim")), ""), http.StatusOK)
	if s.User.ID != attacker.User.ID || !s.User.Verified {
		t.Errorf("google sign-in %+v, want the account, verified", s.User)
	}
}

func TestGoogleLinkRevokesOtherTokens(t *testing.T) {
	p := googleidtest.New(t)
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, google: p, smtp: true})
	email := uniqueEmail("linda")
	pw := a.signUp(t, email, "Passw0rd!")
	a.verify(t, email)

	g := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(email, "Linda")), ""), http.StatusOK)
	if g.User.ID != pw.User.ID {
		t.Fatalf("google reached %s, want %s", g.User.ID, pw.User.ID)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", pw.Token, nil), http.StatusUnauthorized, "token_revoked")
	// Linked once: the next Google sign-in revokes nothing.
	decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(email, "Linda")), ""), http.StatusOK)
	a.me(t, g.Token)
	// The password still works.
	decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Passw0rd!"}), http.StatusOK)
}

// verify follows the verification link mailed to email.
func (a *testAPI) verify(t *testing.T, email string) {
	t.Helper()
	token := a.mailedToken(t, email, "Verify your email", "verify-email")
	if rec := a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": token}); rec.Code != http.StatusNoContent {
		t.Fatalf("verify = %d %s", rec.Code, rec.Body)
	}
}

func TestPasswordChange(t *testing.T) {
	a := mailAPI(t)
	email := uniqueEmail("paco")
	s := a.signUp(t, email, "Passw0rd!")
	other := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Passw0rd!"}), http.StatusOK)

	for _, tt := range []struct {
		name   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"no token", "", map[string]string{"current_password": "Passw0rd!", "new_password": "N3wPassword"}, http.StatusUnauthorized, "missing_token", ""},
		{"malformed", s.Token, `{"current_password":`, http.StatusBadRequest, "malformed_json", ""},
		{"missing fields", s.Token, map[string]string{}, http.StatusUnprocessableEntity, "invalid_fields", "new_password"},
		{"wrong current", s.Token, map[string]string{"current_password": "Wr0ngPass", "new_password": "N3wPassword"}, http.StatusUnprocessableEntity, "invalid_fields", "current_password"},
		{"weak new", s.Token, map[string]string{"current_password": "Passw0rd!", "new_password": "short"}, http.StatusUnprocessableEntity, "invalid_fields", "new_password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPut, "/api/auth/password", tt.token, tt.body), tt.status, tt.code)
			if tt.field != "" {
				wantFieldError(t, p, tt.field)
			}
		})
	}
	rec := a.call(t, http.MethodPut, "/api/auth/password", s.Token, map[string]string{"current_password": "Passw0rd!", "new_password": "N3wPassword"})
	fresh := decode[sessionBody](t, rec, http.StatusOK)
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
	}
	a.me(t, fresh.Token)
	for _, old := range []string{s.Token, other.Token} {
		wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", old, nil), http.StatusUnauthorized, "token_revoked")
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Passw0rd!"}),
		http.StatusUnauthorized, "invalid_credentials")
	decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "N3wPassword"}), http.StatusOK)
}

func TestPasswordReset(t *testing.T) {
	a := mailAPI(t)
	email := uniqueEmail("rita")
	s := a.signUp(t, email, "Passw0rd!")

	// No enumeration: an unknown email gets the same answer, and no mail.
	nobody := uniqueEmail("nobody")
	for _, e := range []string{nobody, email} {
		if rec := a.call(t, http.MethodPost, "/api/auth/password-reset", "", map[string]string{"email": e}); rec.Code != http.StatusAccepted {
			t.Fatalf("reset for %s = %d %s", e, rec.Code, rec.Body)
		}
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/password-reset", "", map[string]string{}), http.StatusUnprocessableEntity, "invalid_fields")
	token := a.mailedToken(t, email, "Reset your password", "reset-password")
	if n := a.mail.Count(nobody); n != 0 {
		t.Errorf("%d mails to an email without an account", n)
	}

	confirm := func(token, pw string) *httptest.ResponseRecorder {
		return a.call(t, http.MethodPost, "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "new_password": pw})
	}
	wantFieldError(t, wantProblem(t, confirm(token, "weak"), http.StatusUnprocessableEntity, "invalid_fields"), "new_password")
	wantProblem(t, confirm("nope", "N3wPassword"), http.StatusUnprocessableEntity, "invalid_link_token")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/password-reset/confirm", "", map[string]string{"token": token}),
		http.StatusUnprocessableEntity, "invalid_fields")
	if rec := confirm(token, "N3wPassword"); rec.Code != http.StatusNoContent {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, confirm(token, "An0therPass"), http.StatusUnprocessableEntity, "invalid_link_token")
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil), http.StatusUnauthorized, "token_revoked")
	fresh := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "N3wPassword"}), http.StatusOK)
	if !fresh.User.Verified {
		t.Errorf("a reset through the mailbox leaves the email unverified")
	}

	// A reset link expires after an hour.
	a.call(t, http.MethodPost, "/api/auth/password-reset", "", map[string]string{"email": email})
	waitForMails(t, a.mail, email, 3)
	late := mailtest.Token(t, a.mail.Messages()[len(a.mail.Messages())-1])
	a.clock.Advance(user.ResetPasswordTTL)
	wantProblem(t, confirm(late, "Lat3Password"), http.StatusUnprocessableEntity, "invalid_link_token")
}

func TestPasswordResetGivesGoogleAccountAPassword(t *testing.T) {
	p := googleidtest.New(t)
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, google: p, smtp: true})
	email := uniqueEmail("gil")
	g := decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(email, "Gil")), ""), http.StatusCreated)
	if !g.User.Verified {
		t.Errorf("a Google account is not verified")
	}
	a.call(t, http.MethodPost, "/api/auth/password-reset", "", map[string]string{"email": email})
	token := a.mailedToken(t, email, "Reset your password", "reset-password")
	if rec := a.call(t, http.MethodPost, "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "new_password": "G00glePass"}); rec.Code != http.StatusNoContent {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	s := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "G00glePass"}), http.StatusOK)
	if s.User.ID != g.User.ID {
		t.Errorf("signed in to %s, want %s", s.User.ID, g.User.ID)
	}
	decode[sessionBody](t, a.googleSignIn(t, p.Sign(t, googleidtest.Claims(email, "Gil")), ""), http.StatusOK)
}

func TestLogout(t *testing.T) {
	a := newAPI(t)
	s := a.register(t, "worker")
	login := func() sessionBody {
		return decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": s.User.Email, "password": "Passw0rd!"}), http.StatusOK)
	}
	phone, laptop := login(), login()

	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/logout", "", nil), http.StatusUnauthorized, "missing_token")
	if rec := a.call(t, http.MethodPost, "/api/auth/logout", phone.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("logout = %d %s", rec.Code, rec.Body)
	}
	// At once, not after the cache's few seconds.
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", phone.Token, nil), http.StatusUnauthorized, "token_revoked")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/logout", phone.Token, nil), http.StatusUnauthorized, "token_revoked")
	a.me(t, laptop.Token)
	a.me(t, s.Token)

	if rec := a.call(t, http.MethodPost, "/api/auth/logout-all", laptop.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("logout-all = %d %s", rec.Code, rec.Body)
	}
	for _, tok := range []string{laptop.Token, s.Token} {
		wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", tok, nil), http.StatusUnauthorized, "token_revoked")
	}
	a.me(t, login().Token)
}

func TestLogoutIsSeenByAnotherInstance(t *testing.T) {
	// Two services on one database, as two instances: the second has just
	// authenticated the token (and caches the user) when the first revokes
	// it; it must stop accepting it without waiting for its cache.
	a := newAPI(t)
	s := a.register(t, "worker")
	other := a.sibling(t)
	if _, err := other.Authenticate(t.Context(), s.Token); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go other.WatchTokenChanges(ctx, 20*time.Millisecond)
	if rec := a.call(t, http.MethodPost, "/api/auth/logout", s.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("logout = %d", rec.Code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := other.Authenticate(ctx, s.Token)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance still accepts the revoked token")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoginThrottledPerAccount(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.AuthRateLimitPerMin = 20 })
	s := a.register(t, "worker")
	login := func(ip int, pw string) *httptest.ResponseRecorder {
		body, _ := json.Marshal(map[string]string{"email": s.User.Email, "password": pw})
		return a.do(t, request{method: http.MethodPost, path: "/api/auth/login", body: bytes.NewReader(body),
			remote: fmt.Sprintf("198.51.100.%d:4000", ip)})
	}
	// Every guess from another address: the per-IP limit never bites.
	for ip := 1; ip < user.FreeLoginFailures; ip++ {
		wantProblem(t, login(ip, "Wr0ngGuess"), http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, login(50, "Wr0ngGuess"), http.StatusUnauthorized, "invalid_credentials") // the fifth failure starts the delay
	for ip := 60; ip < 70; ip++ {
		rec := login(ip, "Wr0ngGuess")
		wantProblem(t, rec, http.StatusTooManyRequests, "login_throttled")
		if rec.Header().Get("Retry-After") != "15" {
			t.Errorf("Retry-After = %q, want 15", rec.Header().Get("Retry-After"))
		}
	}
	// Even the right password waits: the delay is the account's.
	wantProblem(t, login(99, "Passw0rd!"), http.StatusTooManyRequests, "login_throttled")
	// Each failure after the delay doubles it.
	a.clock.Advance(user.FirstLoginDelay)
	wantProblem(t, login(100, "Wr0ngGuess"), http.StatusUnauthorized, "invalid_credentials")
	if rec := login(101, "Passw0rd!"); rec.Header().Get("Retry-After") != "30" {
		t.Errorf("Retry-After after the sixth failure = %q, want 30", rec.Header().Get("Retry-After"))
	}
	// Not a lock-out: once the delay is over the owner signs in, which
	// clears the count.
	a.clock.Advance(2 * user.FirstLoginDelay)
	decode[sessionBody](t, login(102, "Passw0rd!"), http.StatusOK)
	wantProblem(t, login(103, "Wr0ngGuess"), http.StatusUnauthorized, "invalid_credentials")
	decode[sessionBody](t, login(104, "Passw0rd!"), http.StatusOK)

	// Guesses at an email without an account count too (no enumeration),
	// and are forgotten after a day.
	nobody := map[string]string{"email": uniqueEmail("nobody"), "password": "Wr0ngGuess"}
	for range user.FreeLoginFailures {
		wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", nobody), http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", nobody), http.StatusTooManyRequests, "login_throttled")
	a.clock.Advance(user.LoginFailureWindow + time.Second)
	if n, err := a.users.ForgetLoginFailures(t.Context()); n != 1 || err != nil {
		t.Errorf("ForgetLoginFailures() = %d, %v; want the unknown email's", n, err)
	}
}

func TestLoginDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 0, 4: 0, 5: 15 * time.Second, 6: 30 * time.Second, 9: 4 * time.Minute, 10: 8 * time.Minute, 11: 15 * time.Minute, 40: 15 * time.Minute} {
		if got := user.LoginDelay(n); got != want {
			t.Errorf("LoginDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

// sibling builds the services a second time on the test's database, as a
// second API instance would run them.
func (a *testAPI) sibling(t *testing.T) *user.Service {
	t.Helper()
	env := apptest.Build(t, a.db, a.clock, func(c *app.Config) {
		c.Tokens = auth.NewTokens(testSecret, time.Hour, nil)
	})
	return env.Users
}

// TestWithdrawalRiskShowsTheVerifiedEmail: the admin judging a withdrawal
// sees whether its worker had verified their email when they asked.
func TestWithdrawalRiskShowsTheVerifiedEmail(t *testing.T) {
	a := mailAPI(t)
	adm := a.admin(t)
	verified, unverified := uniqueEmail("vic"), uniqueEmail("una")
	for _, email := range []string{verified, unverified} {
		s := a.signUp(t, email, "Passw0rd!")
		token := a.mailedToken(t, email, "Verify your email", "verify-email")
		if email == verified {
			if rec := a.call(t, http.MethodPost, "/api/auth/verify-email", "", map[string]string{"token": token}); rec.Code != http.StatusNoContent {
				t.Fatalf("verify = %d %s", rec.Code, rec.Body)
			}
		}
		a.grant(t, s.User.ID, 400)
		wd := decode[withdrawalBody](t, a.call(t, http.MethodPost, "/api/withdrawals", s.Token, withdrawalRequest(200)), http.StatusCreated)
		got := decode[struct {
			Risk struct {
				EmailVerified bool `json:"email_verified"`
			} `json:"risk"`
		}](t, a.call(t, http.MethodGet, "/api/withdrawals/"+wd.ID, adm.Token, nil), http.StatusOK)
		if got.Risk.EmailVerified != (email == verified) {
			t.Errorf("%s: risk email_verified = %v", email, got.Risk.EmailVerified)
		}
	}
}
