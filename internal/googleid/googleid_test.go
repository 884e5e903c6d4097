package googleid_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"microtask/internal/googleid"
	"microtask/internal/googleid/googleidtest"
	"microtask/internal/user"
)

func newVerifier(t *testing.T, p *googleidtest.Provider) *googleid.Verifier {
	t.Helper()
	v, err := googleid.New(context.Background(), googleidtest.ClientID, p.CertsURL(), &http.Client{Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	p := googleidtest.New(t)
	v := newVerifier(t, p)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() map[string]any { return googleidtest.Claims("alice@example.com", "Alice Smith") }
	with := func(change func(c map[string]any)) map[string]any {
		c := valid()
		change(c)
		return c
	}

	tests := []struct {
		name  string
		token string
		want  user.ExternalIdentity // zero: must be refused
	}{
		{"valid", p.Sign(t, valid()), user.ExternalIdentity{
			Email: "alice@example.com", Name: "Alice Smith", PhotoURL: "https://lh3.googleusercontent.com/a/test-photo"}},
		{"issuer without scheme", p.Sign(t, with(func(c map[string]any) { c["iss"] = "accounts.google.com" })),
			user.ExternalIdentity{Email: "alice@example.com", Name: "Alice Smith", PhotoURL: "https://lh3.googleusercontent.com/a/test-photo"}},
		{"no name: the email's local part", p.Sign(t, with(func(c map[string]any) { delete(c, "name"); delete(c, "picture") })),
			user.ExternalIdentity{Email: "alice@example.com", Name: "alice"}},
		{"email_verified as a string", p.Sign(t, with(func(c map[string]any) { c["email_verified"] = "true" })),
			user.ExternalIdentity{Email: "alice@example.com", Name: "Alice Smith", PhotoURL: "https://lh3.googleusercontent.com/a/test-photo"}},

		{"wrong audience", p.Sign(t, with(func(c map[string]any) { c["aud"] = "someone-else.apps.googleusercontent.com" })), user.ExternalIdentity{}},
		{"expired", p.Sign(t, with(func(c map[string]any) {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		})), user.ExternalIdentity{}},
		{"signed by another key", googleidtest.SignWith(t, otherKey, googleidtest.KeyID, valid()), user.ExternalIdentity{}},
		{"unknown key id", googleidtest.SignWith(t, p.Key, "another-kid", valid()), user.ExternalIdentity{}},
		{"foreign issuer", p.Sign(t, with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), user.ExternalIdentity{}},
		{"email not verified", p.Sign(t, with(func(c map[string]any) { c["email_verified"] = false })), user.ExternalIdentity{}},
		{"email_verified missing", p.Sign(t, with(func(c map[string]any) { delete(c, "email_verified") })), user.ExternalIdentity{}},
		{"no email", p.Sign(t, with(func(c map[string]any) { delete(c, "email") })), user.ExternalIdentity{}},
		{"not a JWT", "not-a-token", user.ExternalIdentity{}},
		{"empty", "", user.ExternalIdentity{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if tt.want == (user.ExternalIdentity{}) {
				if !errors.Is(err, googleid.ErrInvalid) {
					t.Fatalf("Verify = %+v, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
	// The keys are fetched from the provider through the configured URL, and
	// cached as its Cache-Control allows.
	if n := p.Requests(); n != 1 {
		t.Errorf("JWKS fetched %d times, want once", n)
	}
}

// When Google's keys cannot be fetched the token may well be good: the
// answer is "try again", not "bad credential".
func TestKeysUnavailable(t *testing.T) {
	p := googleidtest.New(t)
	tok := p.Sign(t, googleidtest.Claims("bob@example.com", "Bob"))

	unreachable, err := googleid.New(context.Background(), googleidtest.ClientID, "http://127.0.0.1:1/certs",
		&http.Client{Timeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unreachable.Verify(context.Background(), tok); !errors.Is(err, googleid.ErrUnavailable) {
		t.Errorf("Verify with the keys unreachable = %v, want ErrUnavailable", err)
	}

	v := newVerifier(t, p)
	p.SetDown(true)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, googleid.ErrUnavailable) {
		t.Errorf("Verify with the keys endpoint answering 503 = %v, want ErrUnavailable", err)
	}
	p.SetDown(false)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify once the keys are back = %v", err)
	}
}
