package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"microtask/internal/auth"
	"microtask/internal/httpapi"
	"microtask/internal/ledger"
	"microtask/internal/money"
	"microtask/internal/user"
)

func TestRegisterGivesTheSignupBonus(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		role      string
		wantCoins int64
	}{
		{"worker", 10},
		{"buyer", 50},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			rec := a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{
				"name": "  Rosa Parks ", "email": "  Rosa." + tt.role + "@Example.COM ", "password": "Passw0rd!",
				"photo_url": "https://i.ibb.co/abc/rosa.png", "role": tt.role,
			})
			s := decode[sessionBody](t, rec, http.StatusCreated)
			want := userBody{ID: s.User.ID, Name: "Rosa Parks", Email: "rosa." + tt.role + "@example.com",
				PhotoURL: "https://i.ibb.co/abc/rosa.png", Role: tt.role, Coins: tt.wantCoins, Status: "active",
				CreatedAt: s.User.CreatedAt}
			if s.User != want || s.Token == "" || s.User.ID == "" {
				t.Errorf("register = %+v, want %+v with a token", s, want)
			}
			if loc := rec.Header().Get("Location"); loc != "/api/auth/me" {
				t.Errorf("Location = %q", loc)
			}
			if strings.Contains(strings.ToLower(rec.Body.String()), "password") {
				t.Errorf("response mentions a password: %s", rec.Body)
			}

			me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil), http.StatusOK)
			if me != want {
				t.Errorf("me = %+v, want %+v", me, want)
			}
			bal, err := a.ledger.Balance(context.Background(), ledger.UserAccount(s.User.ID))
			if err != nil || bal != money.Coins(tt.wantCoins) {
				t.Errorf("ledger balance = %d, %v; want %d", bal, err, tt.wantCoins)
			}
		})
	}
	if mint := a.balance(t, ledger.Mint); mint != -60 {
		t.Errorf("mint = %d, want -60: one bonus per sign-up", mint)
	}
}

func TestRegisterRefusesBadInput(t *testing.T) {
	a := newAPI(t)
	valid := `"name":"Ann","email":"ann@example.com","password":"Passw0rd!","role":"worker"`
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"missing everything", `{}`, 422, "invalid_fields", "email"},
		{"bad email", `{"name":"Ann","email":"ann-at-example.com","password":"Passw0rd!","role":"worker"}`, 422, "invalid_fields", "email"},
		{"short password", `{"name":"Ann","email":"ann@example.com","password":"Pa55w","role":"worker"}`, 422, "invalid_fields", "password"},
		{"no upper case", `{"name":"Ann","email":"ann@example.com","password":"passw0rd!","role":"worker"}`, 422, "invalid_fields", "password"},
		{"no digit", `{"name":"Ann","email":"ann@example.com","password":"Password!","role":"worker"}`, 422, "invalid_fields", "password"},
		{"over 72 bytes", `{"name":"Ann","email":"ann@example.com","password":"Aa1` + strings.Repeat("x", 70) + `","role":"worker"}`, 422, "invalid_fields", "password"},
		{"name too long", `{"name":"` + strings.Repeat("n", 81) + `","email":"ann@example.com","password":"Passw0rd!","role":"worker"}`, 422, "invalid_fields", "name"},
		{"blank name", `{"name":"   ","email":"ann@example.com","password":"Passw0rd!","role":"worker"}`, 422, "invalid_fields", "name"},
		{"ftp photo", `{` + valid + `,"photo_url":"ftp://x/y.png"}`, 422, "invalid_fields", "photo_url"},
		{"script photo", `{` + valid + `,"photo_url":"javascript:alert(1)"}`, 422, "invalid_fields", "photo_url"},
		{"admin role", `{"name":"Ann","email":"ann@example.com","password":"Passw0rd!","role":"admin"}`, 422, "invalid_fields", "role"},
		{"unknown role", `{"name":"Ann","email":"ann@example.com","password":"Passw0rd!","role":"boss"}`, 422, "invalid_fields", "role"},
		{"smuggled coins", `{` + valid + `,"coins":100000}`, 422, "invalid_fields", "coins"},
		{"smuggled status", `{` + valid + `,"status":"active"}`, 422, "invalid_fields", "status"},
		{"operator object for email", `{"name":"Ann","email":{"$gt":""},"password":"Passw0rd!","role":"worker"}`, 422, "invalid_fields", "email"},
		{"number for role", `{"name":"Ann","email":"ann@example.com","password":"Passw0rd!","role":5}`, 422, "invalid_fields", "role"},
		{"malformed", `{"name":"Ann",`, 400, "malformed_json", ""},
		{"empty", ``, 400, "empty_body", ""},
		{"array", `[]`, 400, "malformed_json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.call(t, http.MethodPost, "/api/auth/register", "", tt.body), tt.status, tt.code)
			if tt.field != "" {
				wantFieldError(t, p, tt.field)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		rec := a.do(t, request{method: http.MethodPost, path: "/api/auth/register", body: strings.NewReader("name=Ann"),
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
		wantProblem(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	t.Run("every field error at once", func(t *testing.T) {
		p := wantProblem(t, a.call(t, http.MethodPost, "/api/auth/register", "",
			`{"name":"","email":"x","password":"short","role":"admin"}`), 422, "invalid_fields")
		for _, f := range []string{"name", "email", "password", "role"} {
			wantFieldError(t, p, f)
		}
	})

	// Nothing was created: no user can sign in, no coins moved.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "ann@example.com", "password": "Passw0rd!"}),
		http.StatusUnauthorized, "invalid_credentials")
	r, err := a.ledger.Audit(context.Background())
	if err != nil || r.Movements != 0 {
		t.Errorf("audit = %+v, %v; want no movements", r, err)
	}
}

func TestRegisterRefusesATakenEmailInAnyCase(t *testing.T) {
	a := newAPI(t)
	body := func(email string) map[string]string {
		return map[string]string{"name": "Bo", "email": email, "password": "Passw0rd!", "role": "buyer"}
	}
	decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/register", "", body("bo@example.com")), http.StatusCreated)
	for _, email := range []string{"bo@example.com", "BO@Example.com", " Bo@EXAMPLE.COM "} {
		wantProblem(t, a.call(t, http.MethodPost, "/api/auth/register", "", body(email)), http.StatusConflict, "email_taken")
	}
	if mint := a.balance(t, ledger.Mint); mint != -50 {
		t.Errorf("mint = %d, want -50: refused sign-ups move nothing", mint)
	}
}

func TestConcurrentRegistrationsWithOneEmail(t *testing.T) {
	a := newAPI(t)
	const n = 10
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{
				"name": fmt.Sprint("Twin ", i), "email": "twin@example.com", "password": "Passw0rd!", "role": "worker",
			})
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	slices.Sort(codes)
	want := append([]int{http.StatusCreated}, slices.Repeat([]int{http.StatusConflict}, n-1)...)
	if !slices.Equal(codes, want) {
		t.Errorf("statuses = %v, want one 201 and nine 409", codes)
	}
	if mint := a.balance(t, ledger.Mint); mint != -10 {
		t.Errorf("mint = %d, want -10: one bonus", mint)
	}
}

func TestLogin(t *testing.T) {
	a := newAPI(t)
	s := a.register(t, "worker")
	email := s.User.Email

	t.Run("right password, any email case", func(t *testing.T) {
		got := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "",
			map[string]string{"email": strings.ToUpper(email), "password": "Passw0rd!"}), http.StatusOK)
		if got.User.ID != s.User.ID || got.User.Coins != 10 || got.Token == "" {
			t.Errorf("login = %+v", got)
		}
		if rec := a.call(t, http.MethodGet, "/api/auth/me", got.Token, nil); rec.Code != http.StatusOK {
			t.Errorf("me with the login token = %d", rec.Code)
		}
	})

	wrong := a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Passw0rd?"})
	unknown := a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "Passw0rd!"})
	pw := wantProblem(t, wrong, http.StatusUnauthorized, "invalid_credentials")
	pu := wantProblem(t, unknown, http.StatusUnauthorized, "invalid_credentials")
	if pw.Detail != pu.Detail {
		t.Errorf("wrong password and unknown email differ: %q vs %q", pw.Detail, pu.Detail)
	}

	tests := []struct {
		name, body, code string
		status           int
	}{
		{"missing password", `{"email":"a@b.c"}`, "invalid_fields", 422},
		{"operator object", `{"email":{"$ne":null},"password":"x"}`, "invalid_fields", 422},
		{"unknown field", `{"email":"a@b.c","password":"x","role":"admin"}`, "invalid_fields", 422},
		{"malformed", `{`, "malformed_json", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", tt.body), tt.status, tt.code)
		})
	}
}

func TestSuspendedUser(t *testing.T) {
	a := newAPI(t)
	s := a.register(t, "buyer")
	adm := a.admin(t)
	// The token was just used, so the check is cached; suspension must still
	// take effect at once.
	if rec := a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if err := a.users.SetStatus(context.Background(), principalOf(adm), s.User.ID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil), http.StatusForbidden, "account_suspended")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": s.User.Email, "password": "Passw0rd!"}),
		http.StatusForbidden, "account_suspended")
	// A wrong password does not reveal the suspension.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": s.User.Email, "password": "Wr0ngPass"}),
		http.StatusUnauthorized, "invalid_credentials")

	// Reinstated, the user signs in again; the old token stays revoked.
	if err := a.users.SetStatus(context.Background(), principalOf(adm), s.User.ID, user.StatusActive, ""); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", s.Token, nil), http.StatusUnauthorized, "token_revoked")
	again := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "",
		map[string]string{"email": s.User.Email, "password": "Passw0rd!"}), http.StatusOK)
	if rec := a.call(t, http.MethodGet, "/api/auth/me", again.Token, nil); rec.Code != http.StatusOK {
		t.Errorf("me after reinstatement = %d", rec.Code)
	}
}

// forgeToken builds a JWT by hand: header and claims as given, signed with
// HS256 and key unless sign is false.
func forgeToken(t *testing.T, header, claims map[string]any, key []byte, sign bool) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	if !sign {
		return in + "."
	}
	sig, err := jwt.SigningMethodHS256.Sign(in, key)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// principalOf is the principal a session's token authenticates as.
func principalOf(s sessionBody) auth.Principal {
	return auth.Principal{UserID: s.User.ID, Role: auth.Role(s.User.Role)}
}

func TestTokenChecks(t *testing.T) {
	a := newAPI(t)
	s := a.register(t, "worker")
	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"sub": s.User.ID, "role": "worker", "ver": 0, "iss": "microtask", "aud": "api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	parts := strings.Split(s.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"role":"worker"`, `"role":"admin"`, 1)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(claims(nil))).SignedString(testSecret)
	expired, _, _ := auth.NewTokens(testSecret, time.Minute, func() time.Time { return now.Add(-2 * time.Hour) }).
		Issue(auth.Claims{UserID: s.User.ID, Role: auth.RoleWorker})

	tests := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{"valid", "Bearer " + s.Token, 200, ""},
		{"lower-case scheme", "bearer " + s.Token, 200, ""},
		{"hand-made valid token", "Bearer " + forgeToken(t, hs256, claims(nil), testSecret, true), 200, ""},
		{"no header", "", 401, "missing_token"},
		{"basic auth", "Basic dXNlcjpwYXNz", 401, "missing_token"},
		{"empty bearer", "Bearer ", 401, "missing_token"},
		{"garbage", "Bearer not.a.jwt", 401, "invalid_token"},
		{"expired", "Bearer " + expired, 401, "token_expired"},
		{"alg none", "Bearer " + forgeToken(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil, false), 401, "invalid_token"},
		{"HS512", "Bearer " + hs512, 401, "invalid_token"},
		{"wrong secret", "Bearer " + forgeToken(t, hs256, claims(nil), []byte("another-secret-another-secret-xx"), true), 401, "invalid_token"},
		{"tampered claims", "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2], 401, "invalid_token"},
		{"no expiry", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { delete(c, "exp") }), testSecret, true), 401, "invalid_token"},
		{"other issuer", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { c["iss"] = "elsewhere" }), testSecret, true), 401, "invalid_token"},
		{"stream ticket audience", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { c["aud"] = "stream" }), testSecret, true), 401, "invalid_token"},
		{"no audience", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { delete(c, "aud") }), testSecret, true), 401, "invalid_token"},
		{"unknown role", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { c["role"] = "root" }), testSecret, true), 401, "invalid_token"},
		{"old token version", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { c["ver"] = -1 }), testSecret, true), 401, "token_revoked"},
		{"unknown user", "Bearer " + forgeToken(t, hs256, claims(func(c map[string]any) { c["sub"] = "nobody" }), testSecret, true), 401, "token_revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			rec := a.do(t, request{method: http.MethodGet, path: "/api/auth/me", header: h})
			if tt.code == "" {
				if rec.Code != tt.status {
					t.Errorf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
				}
				return
			}
			wantProblem(t, rec, tt.status, tt.code)
		})
	}
}

func TestUpdateProfile(t *testing.T) {
	a := newAPI(t)
	w := a.register(t, "worker")
	other := a.register(t, "buyer")
	adm := a.admin(t)
	path := "/api/users/" + w.User.ID

	got := decode[userBody](t, a.call(t, http.MethodPut, path, w.Token,
		map[string]string{"name": " Wanda ", "photo_url": "https://example.com/w.png"}), http.StatusOK)
	if got.Name != "Wanda" || got.PhotoURL != "https://example.com/w.png" || got.Coins != 10 || got.Email != w.User.Email {
		t.Errorf("own update = %+v", got)
	}
	// What the body leaves out stays; null or "" clears the photo.
	got = decode[userBody](t, a.call(t, http.MethodPut, path, adm.Token, map[string]string{"name": "Renamed by admin"}), http.StatusOK)
	if got.Name != "Renamed by admin" || got.PhotoURL != "https://example.com/w.png" {
		t.Errorf("admin update of the name = %+v, want the photo kept", got)
	}
	got = decode[userBody](t, a.call(t, http.MethodPatch, path, w.Token, `{"photo_url":"https://example.com/w2.png"}`), http.StatusOK)
	if got.Name != "Renamed by admin" || got.PhotoURL != "https://example.com/w2.png" {
		t.Errorf("update of the photo alone = %+v", got)
	}
	got = decode[userBody](t, a.call(t, http.MethodPatch, path, w.Token, `{"photo_url":null}`), http.StatusOK)
	if got.Name != "Renamed by admin" || got.PhotoURL != "" {
		t.Errorf("photo cleared by null = %+v", got)
	}
	got = decode[userBody](t, a.call(t, http.MethodPut, path, w.Token, `{"photo_url":"https://example.com/w3.png"}`), http.StatusOK)
	got = decode[userBody](t, a.call(t, http.MethodPut, path, w.Token, `{"photo_url":""}`), http.StatusOK)
	if got.Name != "Renamed by admin" || got.PhotoURL != "" {
		t.Errorf("photo cleared by empty text = %+v", got)
	}

	tests := []struct {
		name   string
		token  string
		path   string
		body   string
		status int
		code   string
	}{
		{"someone else's", other.Token, path, `{"name":"Mallory"}`, 404, "user_not_found"},
		{"no token", "", path, `{"name":"Mallory"}`, 401, "missing_token"},
		{"role", w.Token, path, `{"name":"W","role":"admin"}`, 422, "invalid_fields"},
		{"email", w.Token, path, `{"name":"W","email":"x@y.z"}`, 422, "invalid_fields"},
		{"coins", w.Token, path, `{"name":"W","coins":1000000}`, 422, "invalid_fields"},
		{"empty name", w.Token, path, `{"name":""}`, 422, "invalid_fields"},
		{"blank name", w.Token, path, `{"name":"  "}`, 422, "invalid_fields"},
		{"null name", w.Token, path, `{"name":null}`, 422, "invalid_fields"},
		{"name not text", w.Token, path, `{"name":["W"]}`, 422, "invalid_fields"},
		{"bad photo", w.Token, path, `{"name":"W","photo_url":"data:image/png;base64,AAAA"}`, 422, "invalid_fields"},
		{"unknown user", adm.Token, "/api/users/000000000000000000000000", `{"name":"Ghost"}`, 404, "user_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPut, http.MethodPatch} {
				wantProblem(t, a.call(t, method, tt.path, tt.token, tt.body), tt.status, tt.code)
			}
		})
	}
	me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil), http.StatusOK)
	if me.Name != "Renamed by admin" || me.Role != "worker" || me.Coins != 10 {
		t.Errorf("after refused updates, me = %+v", me)
	}
}

func TestDeleteUser(t *testing.T) {
	a := newAPI(t)
	w := a.register(t, "worker")
	b := a.register(t, "buyer")
	adm := a.admin(t)
	path := "/api/users/" + w.User.ID
	// Used once, so the token check is cached: deletion must still revoke it.
	if rec := a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}

	wantProblem(t, a.call(t, http.MethodDelete, path, b.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodDelete, path, w.Token, nil), http.StatusForbidden, "wrong_role")
	wantProblem(t, a.call(t, http.MethodDelete, path, "", nil), http.StatusUnauthorized, "missing_token")
	wantProblem(t, a.call(t, http.MethodDelete, "/api/users/"+adm.User.ID, adm.Token, nil), http.StatusForbidden, "own_account")

	if rec := a.call(t, http.MethodDelete, path, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("admin delete = %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil), http.StatusUnauthorized, "token_revoked")
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": w.User.Email, "password": "Passw0rd!"}),
		http.StatusUnauthorized, "invalid_credentials")
	wantProblem(t, a.call(t, http.MethodDelete, path, adm.Token, nil), http.StatusNotFound, "user_not_found")
	wantProblem(t, a.call(t, http.MethodPut, path, adm.Token, map[string]string{"name": "Zombie"}), http.StatusNotFound, "user_not_found")

	// The coins stay in the ledger, frozen; the email can sign up again.
	if bal := a.coins(t, w.User.ID); bal != 10 {
		t.Errorf("deleted user's ledger balance = %d, want 10", bal)
	}
	again := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{
		"name": "Back", "email": w.User.Email, "password": "Passw0rd!", "role": "worker"}), http.StatusCreated)
	if again.User.ID == w.User.ID || again.User.Coins != 10 {
		t.Errorf("re-registration = %+v, want a new account with a new bonus", again.User)
	}
}

func TestTopWorkers(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	if got := decode[[]map[string]any](t, a.get(t, "/api/users/top-workers"), http.StatusOK); len(got) != 0 {
		t.Errorf("top workers of an empty platform = %v", got)
	}

	// Eight workers whose coins differ, a richer buyer, a suspended and a
	// deleted rich worker.
	var workers []sessionBody
	for i := range 8 {
		w := a.register(t, "worker")
		a.grant(t, w.User.ID, money.Coins(100*(i+1)))
		workers = append(workers, w)
	}
	rich := a.register(t, "buyer")
	a.grant(t, rich.User.ID, 100000)
	suspended := a.register(t, "worker")
	a.grant(t, suspended.User.ID, 50000)
	adm := a.admin(t)
	if err := a.users.SetStatus(ctx, principalOf(adm), suspended.User.ID, user.StatusSuspended, ""); err != nil {
		t.Fatal(err)
	}
	deleted := a.register(t, "worker")
	a.grant(t, deleted.User.ID, 40000)
	if rec := a.call(t, http.MethodDelete, "/api/users/"+deleted.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatal(rec.Code)
	}

	type card struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		PhotoURL string `json:"photo_url"`
		Coins    int64  `json:"coins"`
	}
	got := decode[[]card](t, a.get(t, "/api/users/top-workers"), http.StatusOK)
	var want []card
	for i := 7; i >= 2; i-- {
		want = append(want, card{ID: workers[i].User.ID, Name: "Test worker", Coins: int64(100*(i+1) + 10)})
	}
	if !slices.Equal(got, want) {
		t.Errorf("top workers =\n%v\nwant\n%v", got, want)
	}
}

func TestAuthRateLimit(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.AuthRateLimitPerMin = 3 })
	login := func() *httptest.ResponseRecorder {
		return a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": "x@example.com", "password": "Passw0rd!"})
	}
	for range 3 {
		wantProblem(t, login(), http.StatusUnauthorized, "invalid_credentials")
	}
	rec := login()
	wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// Registration shares the per-IP budget; other endpoints are not limited.
	wantProblem(t, a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{}), http.StatusTooManyRequests, "rate_limited")
	if rec := a.get(t, "/api/users/top-workers"); rec.Code != http.StatusOK {
		t.Errorf("top workers under the auth limit = %d", rec.Code)
	}
}

func TestEnsureAdmin(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	created, err := a.users.EnsureAdmin(ctx, "Root", "Root@Example.com", "R00tPassword")
	if err != nil || !created {
		t.Fatalf("EnsureAdmin() = %v, %v; want created", created, err)
	}
	// A second start with another password changes nothing.
	if created, err := a.users.EnsureAdmin(ctx, "Root", "root@example.com", "0therPassword"); err != nil || created {
		t.Fatalf("second EnsureAdmin() = %v, %v; want nothing created", created, err)
	}
	s := decode[sessionBody](t, a.call(t, http.MethodPost, "/api/auth/login", "",
		map[string]string{"email": "root@example.com", "password": "R00tPassword"}), http.StatusOK)
	if s.User.Role != "admin" || s.User.Coins != 0 {
		t.Errorf("admin = %+v, want role admin and no bonus", s.User)
	}
	// An existing worker with the email is never promoted.
	w := a.register(t, "worker")
	if created, err := a.users.EnsureAdmin(ctx, "Root", w.User.Email, "R00tPassword"); err != nil || created {
		t.Fatalf("EnsureAdmin() over a worker = %v, %v", created, err)
	}
	me := decode[userBody](t, a.call(t, http.MethodGet, "/api/auth/me", w.Token, nil), http.StatusOK)
	if me.Role != "worker" {
		t.Errorf("worker became %s", me.Role)
	}
	if _, err := a.users.EnsureAdmin(ctx, "Root", "weak@example.com", "weak"); err == nil {
		t.Errorf("EnsureAdmin() with a weak password: no error")
	}
}

// BenchmarkLogin measures POST /api/auth/login over the real handler at the
// production bcrypt cost, and reports the median besides the mean.
func BenchmarkLogin(b *testing.B) {
	a := buildAPI(b, harness{bcryptCost: auth.DefaultBcryptCost})
	s := a.register(b, "worker")
	body := fmt.Sprintf(`{"email":%q,"password":"Passw0rd!"}`, s.User.Email)
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		a.srv.ServeHTTP(rec, req)
		durations = append(durations, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("login = %d %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "median-ms")
}
