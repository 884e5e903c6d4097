// Package googleidtest stands in for Google in tests: it signs ID tokens
// with a test RSA key and serves that key's JWKS over HTTP, as Google's
// certs endpoint does, so the real verification code runs against it.
package googleidtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// ClientID is the OAuth client the tests' tokens are issued to.
const ClientID = "1234567890-microtask.apps.googleusercontent.com"

// KeyID names the provider's signing key in tokens and the JWKS.
const KeyID = "microtask-test-key"

// Provider signs ID tokens and serves the JWKS that verifies them.
type Provider struct {
	Key      *rsa.PrivateKey
	server   *httptest.Server
	requests atomic.Int64
	down     atomic.Bool
}

// New starts a provider for the test; it stops when the test ends.
func New(t testing.TB) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Key: key}
	p.server = httptest.NewServer(http.HandlerFunc(p.serveCerts))
	t.Cleanup(p.server.Close)
	return p
}

// CertsURL is where the provider serves its JWKS: GOOGLE_CERTS_URL.
func (p *Provider) CertsURL() string { return p.server.URL + "/oauth2/v3/certs" }

// SetDown makes the certs endpoint answer 503 (down) or the keys again.
func (p *Provider) SetDown(down bool) { p.down.Store(down) }

// Requests counts the JWKS fetches so far.
func (p *Provider) Requests() int64 { return p.requests.Load() }

func (p *Provider) serveCerts(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth2/v3/certs" {
		http.NotFound(w, r)
		return
	}
	p.requests.Add(1)
	if p.down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	b64 := base64.RawURLEncoding.EncodeToString
	pub := p.Key.PublicKey
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KeyID,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// Claims returns the claims of a valid token for email: issued by Google to
// ClientID now, valid for an hour, email verified. Tests change them to make
// bad tokens.
func Claims(email, name string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": ClientID, "azp": ClientID,
		"sub": "10" + big.NewInt(now.UnixNano()).String(), "email": email, "email_verified": true,
		"name": name, "picture": "https://lh3.googleusercontent.com/a/test-photo",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Sign returns the RS256 ID token for claims, signed with the provider's key.
func (p *Provider) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return SignWith(t, p.Key, KeyID, claims)
}

// SignWith signs claims with any key under any key id, for tokens that must
// not verify.
func SignWith(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}
