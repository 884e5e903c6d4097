package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"microtask/internal/apikey"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/user"
)

// registerRequest is the body of POST /api/auth/register. Its tags repeat
// the user service's rules (user.Registration; the email's form is the
// API's alone) for the contract; TestUserBoundsAreTheService holds the two
// together.
type registerRequest struct {
	Name     string    `json:"name" validate:"required,max=80"`
	Email    string    `json:"email" validate:"required,max=254,email"`
	Password string    `json:"password" validate:"required,password"`
	PhotoURL string    `json:"photo_url" validate:"omitempty,max=2048,http_url"`
	Role     auth.Role `json:"role" validate:"required,oneof=worker buyer"`
}

// trim removes the spaces people paste around text fields, before
// validation sees them. Passwords are taken as typed.
func (r *registerRequest) trim() {
	r.Name, r.Email, r.PhotoURL = strings.TrimSpace(r.Name), strings.TrimSpace(r.Email), strings.TrimSpace(r.PhotoURL)
}

type loginRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=1024"`
}

// profileRequest is the body of PUT and PATCH /api/users/{id}: the fields it
// has change, the others stay. Its tags repeat the user service's bounds;
// the profile's fields (user.About) are checked by the service only, which
// lists every bad one at once.
type profileRequest struct {
	Name      optional[string]   `json:"name" validate:"omitnil,kept,max=80"`
	PhotoURL  optional[string]   `json:"photo_url" validate:"omitempty,max=2048,http_url"`
	Headline  optional[string]   `json:"headline"`
	Bio       optional[string]   `json:"bio"`
	Skills    optional[[]string] `json:"skills"`
	Languages optional[[]string] `json:"languages"`
	Country   optional[string]   `json:"country"`
	Company   optional[string]   `json:"company"`
	Website   optional[string]   `json:"website"`
}

func (r profileRequest) profile() user.Profile {
	return user.Profile{Name: r.Name.ptr(), PhotoURL: r.PhotoURL.ptr(), Headline: r.Headline.ptr(), Bio: r.Bio.ptr(),
		Skills: r.Skills.ptr(), Languages: r.Languages.ptr(), Country: r.Country.ptr(), Company: r.Company.ptr(), Website: r.Website.ptr()}
}

func (r *profileRequest) trim() {
	r.Name, r.PhotoURL = trimmed(r.Name), trimmed(r.PhotoURL)
}

type userResponse struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Verified  bool      `json:"email_verified"`
	PhotoURL  string    `json:"photo_url"`
	Role      auth.Role `json:"role"`
	Coins     int64     `json:"coins"`
	OnHold    int64     `json:"coins_on_hold"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	aboutResponse
}

// aboutResponse is what a user tells about themselves, as their own user
// and on their public profile.
type aboutResponse struct {
	Headline  string   `json:"headline"`
	Bio       string   `json:"bio"`
	Skills    []string `json:"skills"`
	Languages []string `json:"languages"`
	Country   string   `json:"country"`
	Company   string   `json:"company"`
	Website   string   `json:"website"`
}

func toAbout(a user.About) aboutResponse {
	return aboutResponse{Headline: a.Headline, Bio: a.Bio, Skills: nonNilStrings(a.Skills), Languages: nonNilStrings(a.Languages),
		Country: a.Country, Company: a.Company, Website: a.Website}
}

// nonNilStrings answers no entries as [] rather than null.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type sessionResponse struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
	User      userResponse `json:"user"`
}

type workerCardResponse struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	PhotoURL     string                `json:"photo_url"`
	Coins        int64                 `json:"coins"`
	WorkerRecord *workerRecordResponse `json:"worker_record"`
	Rating       ratingResponse        `json:"rating"`
	Level        int                   `json:"level"`
}

func toUserResponse(u user.User) userResponse {
	return userResponse{ID: u.ID, Name: u.Name, Email: u.Email, Verified: u.EmailVerified, PhotoURL: u.PhotoURL, Role: u.Role,
		Coins: int64(u.Coins), OnHold: int64(u.CoinsOnHold), Status: string(u.Status), CreatedAt: u.CreatedAt.UTC(), aboutResponse: toAbout(u.About)}
}

// writeSession answers with a session. It carries a token: no cache may
// keep it.
func writeSession(w http.ResponseWriter, status int, sess user.Session) error {
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, status, toSessionResponse(sess))
}

func toSessionResponse(s user.Session) sessionResponse {
	return sessionResponse{Token: s.Token, ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Second), User: toUserResponse(s.User)}
}

// handleAuthRegister handles POST /api/auth/register, sent as JSON or as a
// multipart form with an optional photo.
func (s *Server) handleAuthRegister(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	var photo []byte
	var err error
	if isMultipart(r) {
		req, photo, err = s.registerFromForm(r)
	} else {
		err = s.readRequest(r, &req)
	}
	if err != nil {
		return err
	}
	reg := user.Registration{Name: req.Name, Email: req.Email, Password: req.Password, PhotoURL: req.PhotoURL, Role: req.Role}
	var sess user.Session
	if photo != nil {
		sess, err = s.registerWithPhoto(r, reg, photo)
	} else {
		sess, err = s.users.Register(r.Context(), reg)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/auth/me")
	return writeSession(w, http.StatusCreated, sess)
}

// registerWithPhoto signs up with a photo, stored only for a sign-up that
// can succeed: the rules and the email are checked first (five tries with a
// taken email used to leave five files nothing refers to). A photo whose
// account was refused after all (its email taken meanwhile) is deleted; one
// whose sign-up failed otherwise may still get its account (recovery ends an
// interrupted sign-up), so it is left to the sweep of unused images.
func (s *Server) registerWithPhoto(r *http.Request, reg user.Registration, photo []byte) (user.Session, error) {
	ctx := r.Context()
	if err := s.users.CheckRegistration(ctx, reg); err != nil {
		return user.Session{}, err
	}
	img, err := s.uploads.Save(ctx, "", photo) // no owner yet: bounded by the account it makes
	if err != nil {
		return user.Session{}, err
	}
	reg.PhotoURL = s.absolute(r, img.URL)
	sess, err := s.users.Register(ctx, reg)
	if errors.Is(err, user.ErrEmailTaken) {
		if err := s.uploads.Discard(context.WithoutCancel(ctx), img); err != nil {
			s.log.ErrorContext(ctx, "discard the photo of a refused sign-up", "err", err)
		}
	}
	return sess, err
}

// handleAuthLogin handles POST /api/auth/login.
func (s *Server) handleAuthLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sess, err := s.users.Login(r.Context(), req.Email, req.Password)
	if err != nil {
		return err
	}
	return writeSession(w, http.StatusOK, sess)
}

// handleAuthMe handles GET /api/auth/me.
func (s *Server) handleAuthMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.users.Get(r.Context(), principal(r).UserID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toUserResponse(u))
}

// handleUserUpdate handles PUT /api/users/{id}.
func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request) error {
	var req profileRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	u, err := s.users.UpdateProfile(r.Context(), principal(r), param(r, "id"), req.profile())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toUserResponse(u))
}

// handleUserDelete handles DELETE /api/users/{id}.
func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.users.Delete(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTopWorkers handles GET /api/users/top-workers: ?by=coins (the
// default), ?by=approved work or ?by=rating, each card with the worker's
// record.
func (s *Server) handleTopWorkers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	by := q.oneOf("by", "coins", "coins", "approved", "rating")
	if err := q.err(); err != nil {
		return err
	}
	var top []user.User
	var err error
	switch by {
	case "approved":
		top, err = s.users.TopWorkersByApproved(r.Context())
	case "rating":
		top, err = s.users.TopWorkersByRating(r.Context())
	default:
		top, err = s.users.TopWorkers(r.Context())
	}
	if err != nil {
		return err
	}
	ids := make([]string, len(top))
	for i, u := range top {
		ids[i] = u.ID
	}
	recs, err := s.records(r.Context(), ids)
	if err != nil {
		return err
	}
	out := make([]workerCardResponse, len(top))
	for i, u := range top {
		out[i] = workerCardResponse{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL, Coins: int64(u.Coins), WorkerRecord: toWorkerRecord(recs[u.ID]),
			Rating: toRating(recs[u.ID]), Level: recs[u.ID].Level}
	}
	w.Header().Set("Cache-Control", "public, max-age=30")
	return writeJSON(w, http.StatusOK, out)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, trimmed; ok is false without such a header.
func bearerToken(r *http.Request) (token string, ok bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// authenticate verifies the bearer token, a session's JWT or an API key
// (mt_live_…), and puts the caller's auth.Principal in the request context.
// A request with a key goes no further than a route that allows it
// (scoped): every other answers 403 insufficient_scope (Server.handle).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok || token == "" {
			s.writeError(w, r, auth.ErrMissingToken)
			return
		}
		var p auth.Principal
		var err error
		if strings.HasPrefix(token, apikey.Prefix) {
			p, err = s.apiKeys.Authenticate(r.Context(), token)
		} else {
			p, err = s.users.Authenticate(r.Context(), token)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		noteCaller(r, p.UserID)
		// What a signed-in user is shown is theirs: no cache keeps it.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// identify is authenticate for public endpoints that show a signed-in
// caller more: without an Authorization header the request goes on
// anonymous, and with one the token must be good.
func (s *Server) identify(next http.Handler) http.Handler {
	authed := s.authenticate(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			next.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// requireRole lets through only callers with one of the roles. It must run
// after authenticate.
func (s *Server) requireRole(roles ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !principal(r).Is(roles...) {
				s.writeError(w, r, auth.ErrWrongRole)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// scoped lets a request made with an API key go on if the key has scope
// (any key, for the empty scope), within the key's rate limit; others pass
// as they are. It must run after authenticate (or identify).
func (s *Server) scoped(scope auth.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		limited := s.keyLimit(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principal(r)
			if p.KeyID == "" {
				next.ServeHTTP(w, r)
				return
			}
			if scope != "" && !p.Allows(scope) {
				s.writeError(w, r, auth.ErrInsufficientScope)
				return
			}
			if c, ok := r.Context().Value(callerKey{}).(*caller); ok {
				c.keyAllowed = true
			}
			limited.ServeHTTP(w, r)
		})
	}
}

// scopedBy is scoped with read for the requests that read (GET, HEAD)
// and write for the others.
func (s *Server) scopedBy(read, write auth.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		reads, writes := s.scoped(read)(next), s.scoped(write)(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				reads.ServeHTTP(w, r)
				return
			}
			writes.ServeHTTP(w, r)
		})
	}
}

// keyRefused reports whether the request came with an API key and reached
// a handler that no scope opened to keys (scoped): changing the account,
// its password or its keys, and everything else not meant for automation.
func keyRefused(r *http.Request) bool {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok || p.KeyID == "" {
		return false
	}
	c, ok := r.Context().Value(callerKey{}).(*caller)
	return !ok || !c.keyAllowed
}

// principal returns the caller; authenticate has put it there.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	return p
}

type googleRequest struct {
	Credential string    `json:"credential" validate:"required,max=4096"`
	Role       auth.Role `json:"role" validate:"omitempty,oneof=worker buyer"`
}

// handleAuthGoogle handles POST /api/auth/google: 201 for a new account, 200
// for an existing one.
func (s *Server) handleAuthGoogle(w http.ResponseWriter, r *http.Request) error {
	var req googleRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	sess, created, err := s.users.SignInWithGoogle(r.Context(), req.Credential, req.Role)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/auth/me")
	}
	return writeSession(w, status, sess)
}

// registerFromForm reads POST /api/auth/register sent as a multipart form:
// the JSON fields as form fields, plus an optional photo file, to be stored
// like an upload and used as photo_url.
func (s *Server) registerFromForm(r *http.Request) (registerRequest, []byte, error) {
	form, err := multipartForm(r, "name", "email", "password", "role", "photo_url", "photo")
	if err != nil {
		return registerRequest{}, nil, err
	}
	value := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req := registerRequest{Name: value("name"), Email: value("email"), Password: value("password"),
		PhotoURL: value("photo_url"), Role: auth.Role(value("role"))}
	if err := s.check(&req); err != nil {
		return req, nil, err
	}
	data, ok, err := formFile(form, "photo")
	if err != nil || !ok {
		return req, nil, err
	}
	if req.PhotoURL != "" {
		return req, nil, apperr.InvalidFields(apperr.FieldError{Field: "photo", Message: "send a photo or a photo_url, not both"})
	}
	return req, data, nil
}
