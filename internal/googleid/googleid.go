// Package googleid verifies the ID tokens Google Identity Services gives a
// single-page app ("Sign in with Google"), with google.golang.org/api's
// idtoken, and says who they name.
package googleid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"microtask/internal/apperr"
	"microtask/internal/user"
)

// CertsURL is where Google publishes the keys that sign ID tokens; idtoken
// fetches it itself.
const CertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// Errors.
var (
	ErrInvalid     = apperr.New(apperr.Unauthenticated, "invalid_google_token", "the Google credential could not be verified; sign in with Google again")
	ErrUnavailable = apperr.New(apperr.Unavailable, "google_unavailable", "Google's signing keys cannot be fetched right now; try again later")
)

// Verifier checks ID tokens for one OAuth client. It implements
// user.IdentityVerifier.
type Verifier struct {
	validator *idtoken.Validator
	clientID  string
	log       *slog.Logger
}

var _ user.IdentityVerifier = (*Verifier)(nil)

// New returns a Verifier for tokens issued to clientID. client fetches
// Google's keys; with certsURL set, requests for them go there instead (tests
// serve their own keys; a proxy could).
func New(ctx context.Context, clientID, certsURL string, client *http.Client, log *slog.Logger) (*Verifier, error) {
	t := keysTransport{base: client.Transport}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if certsURL != "" {
		u, err := url.Parse(certsURL)
		if err != nil {
			return nil, fmt.Errorf("google certs URL: %w", err)
		}
		t.to = u
	}
	client = &http.Client{Timeout: client.Timeout, Transport: t}
	v, err := idtoken.NewValidator(ctx, option.WithHTTPClient(client))
	if err != nil {
		return nil, fmt.Errorf("google ID-token validator: %w", err)
	}
	return &Verifier{validator: v, clientID: clientID, log: log}, nil
}

// Verify checks the token's signature, audience (this client), expiry and
// issuer, which idtoken does not check, and that Google verified the email.
// The reason a token is refused goes to the log, not to the client: a wrong
// GOOGLE_CLIENT_ID shows up there as an audience mismatch.
func (v *Verifier) Verify(ctx context.Context, credential string) (user.ExternalIdentity, error) {
	p, err := v.validator.Validate(ctx, credential, v.clientID)
	if urlErr := (*url.Error)(nil); errors.As(err, &urlErr) {
		// Every failure to get the keys is a *url.Error (see keysTransport):
		// the token may be fine, the client should try again.
		v.log.ErrorContext(ctx, "fetch Google's signing keys", "err", err)
		return user.ExternalIdentity{}, ErrUnavailable
	}
	if err != nil {
		return user.ExternalIdentity{}, v.refuse(ctx, err.Error())
	}
	if p.Issuer != "accounts.google.com" && p.Issuer != "https://accounts.google.com" {
		return user.ExternalIdentity{}, v.refuse(ctx, "issuer "+p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	verified := p.Claims["email_verified"] == true || p.Claims["email_verified"] == "true"
	if email == "" || !verified {
		return user.ExternalIdentity{}, v.refuse(ctx, "no verified email")
	}
	name, _ := p.Claims["name"].(string)
	if strings.TrimSpace(name) == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	picture, _ := p.Claims["picture"].(string)
	return user.ExternalIdentity{Email: email, Name: name, PhotoURL: picture}, nil
}

func (v *Verifier) refuse(ctx context.Context, reason string) error {
	v.log.InfoContext(ctx, "Google credential refused", "reason", reason)
	return ErrInvalid
}

// keysTransport sends the requests for Google's keys to another URL when to
// is set, and turns an answer other than 200 into an error, so that every
// failure to get the keys reaches Verify as a *url.Error. (idtoken reports
// a bad status as a plain error, indistinguishable from a bad token.)
type keysTransport struct {
	to   *url.URL
	base http.RoundTripper
}

func (t keysTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.String() == CertsURL && t.to != nil {
		req = req.Clone(req.Context())
		req.URL = t.to
		req.Host = t.to.Host
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("signing keys: %s", resp.Status)
	}
	return resp, err
}
