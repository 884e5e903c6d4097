package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/app"
	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/checkout"
	"microtask/internal/checkout/checkouttest"
	"microtask/internal/docdb"
	"microtask/internal/googleid"
	"microtask/internal/googleid/googleidtest"
	"microtask/internal/httpapi"
	"microtask/internal/idempotency"
	"microtask/internal/ledger"
	"microtask/internal/mail"
	"microtask/internal/mail/mailtest"
	"microtask/internal/payment"
	"microtask/internal/platform/clocktest"
	"microtask/internal/platform/config"
	"microtask/internal/platform/logging"
	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/upload"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m, checkouttest.Stop) }

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAppURL is where the links in the mail point.
const testAppURL = "http://app.test"

var testSecret = []byte("test-secret-test-secret-test-secret!")

// testAPI is the real Server over real services on a database of the test's
// own.
type testAPI struct {
	db          *docdb.DB
	srv         *httpapi.Server
	logs        *syncBuffer
	clock       *clocktest.Clock // the services' clock; tokens use the real one
	env         *apptest.Env
	ledger      *ledger.Ledger
	users       *user.Service
	userDB      *storage.UserStore
	tasks       *task.Service
	submissions *submission.Service
	paymentDB   *storage.PaymentStore
	uploadDir   upload.Dir
	mail        *mailtest.Server // the SMTP server mail goes to; nil unless harness.smtp
}

// harness chooses how the services are built.
type harness struct {
	bcryptCost   int
	stripe       bool                   // the Stripe gateway against stripe-mock; else the dummy one
	gateway      payment.Gateway        // a gateway of the test's own instead of the dummy one
	noGateway    bool                   // no gateway configured, as on MongoDB without Stripe
	lostAnswers  bool                   // idempotency keys never keep their answers, as if the process died first
	google       *googleidtest.Provider // Sign in with Google against this provider; nil: not configured
	imageHost    upload.Host            // where images go; nil: a directory of the test's own
	dailyUploads int                    // the daily upload limit; 0: none
	smtp         bool                   // mail goes to an SMTP server of the test's own (testAPI.mail)
	services     func(*app.Config)      // changes the services' configuration last; nil: nothing
	// asOnMongoDB builds the services as main does on MongoDB, on a database
	// that sends every read to the server: each read is a command, as
	// MongoDB would receive it. Tests that count commands use it.
	asOnMongoDB bool
}

// newAPI builds the API for one test. Passwords are hashed at bcrypt's
// minimum cost to keep the tests quick; the benchmarks use the real cost.
// When the test ends, the ledger audit must balance.
func newAPI(t testing.TB, configure ...func(*httpapi.Options)) *testAPI {
	t.Helper()
	return buildAPI(t, harness{bcryptCost: bcrypt.MinCost}, configure...)
}

func buildAPI(t testing.TB, h harness, configure ...func(*httpapi.Options)) *testAPI {
	t.Helper()
	a := &testAPI{logs: &syncBuffer{}, clock: clocktest.New(time.Now().UTC().Truncate(time.Millisecond))}
	if h.asOnMongoDB {
		a.db = storagetest.NewServerReadsDB(t)
	} else {
		a.db = storagetest.NewDB(t)
	}
	log := logging.New(a.logs, slog.LevelDebug)
	hasher, err := auth.NewHasher(h.bcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	a.uploadDir = upload.Dir{Path: t.TempDir()}
	env := apptest.Build(t, a.db, a.clock, func(c *app.Config) {
		c.Log, c.Hasher, c.Tokens = log, hasher, auth.NewTokens(testSecret, time.Hour, nil)
		c.ImageHost, c.DailyUploadLimit = a.uploadDir, h.dailyUploads
		if h.imageHost != nil {
			c.ImageHost = h.imageHost
		}
		c.Gateway = checkout.Dummy{SuccessURL: "http://localhost:5173/dashboard/payment/success"}
		if h.stripe {
			st := checkout.NewStripe(checkout.StripeConfig{
				SecretKey: "sk_test_microtask", WebhookSecret: checkouttest.WebhookSecret, APIURL: checkouttest.StripeMockURL(t),
				SuccessURL: "http://localhost:5173/paid", CancelURL: "http://localhost:5173/buy", Timeout: 10 * time.Second,
			})
			c.Gateway, c.Webhooks = st, st
		}
		if h.gateway != nil {
			c.Gateway = h.gateway
		}
		if h.noGateway {
			c.Gateway = nil
		}
		c.AppURL = testAppURL
		if h.google != nil {
			v, err := googleid.New(context.Background(), googleidtest.ClientID, h.google.CertsURL(), &http.Client{Timeout: 5 * time.Second}, log)
			if err != nil {
				t.Fatal(err)
			}
			c.Google = v
		}
		if h.services != nil {
			h.services(c)
		}
		if h.smtp {
			a.mail = mailtest.New(t)
			sender, err := mail.NewSMTP(mail.SMTPConfig{URL: a.mail.URL(), From: "Microtask <no-reply@example.com>", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c.Mailer = sender
		}
	})
	if h.smtp {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); env.Outbox.Run(ctx, time.Second) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	svc := env.App
	a.env = env
	a.ledger, a.users, a.userDB, a.tasks, a.submissions, a.paymentDB = svc.Ledger, svc.Users, svc.Stores.Users, svc.Tasks, svc.Submissions, svc.Stores.Payments
	o := svc.ServerOptions(config.Config{CORSOrigins: []string{"http://localhost:5173"}})
	if h.lostAnswers {
		o.Keys = idempotency.NewKeys(lostAnswers{storage.NewIdempotencyStore(a.db)}, a.clock.Now)
	}
	for _, f := range configure {
		f(&o)
	}
	a.srv = httpapi.NewServer(o)
	t.Cleanup(func() { env.WantAudit(t) })
	return a
}

// request is one call to the API.
type request struct {
	method string
	path   string
	body   io.Reader
	token  string
	header http.Header
	remote string // the client's address; empty: httptest's
}

// do serves req and checks the response against api/openapi.yaml.
func (a *testAPI) do(t testing.TB, r request) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), r.method, r.path, r.body)
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	checkResponse(t, req, rec)
	return rec
}

func (a *testAPI) get(t testing.TB, path string) *httptest.ResponseRecorder {
	t.Helper()
	return a.do(t, request{method: http.MethodGet, path: path})
}

// call sends a JSON body (a string is sent as is) with an optional token.
func (a *testAPI) call(t testing.TB, method, path, token string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	return a.do(t, request{method: method, path: path, body: rd, token: token})
}

// decode fails the test unless rec has status want, and decodes its body.
func decode[T any](t testing.TB, rec *httptest.ResponseRecorder, want int) T {
	t.Helper()
	var v T
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, rec.Body, err)
	}
	return v
}

type userBody struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Verified    bool   `json:"email_verified"`
	PhotoURL    string `json:"photo_url"`
	Role        string `json:"role"`
	Coins       int64  `json:"coins"`
	CoinsOnHold int64  `json:"coins_on_hold"`
	Status      string `json:"status"`
	CreatedAt   string `json:"created_at"`
}

type sessionBody struct {
	Token     string   `json:"token"`
	ExpiresAt string   `json:"expires_at"`
	User      userBody `json:"user"`
}

var emailSeq atomic.Int64

// uniqueEmail returns a fresh address for a test user.
func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s%d@example.com", prefix, emailSeq.Add(1))
}

// register signs up a user with a fresh email and returns its session.
func (a *testAPI) register(t testing.TB, role string) sessionBody {
	t.Helper()
	rec := a.call(t, http.MethodPost, "/api/auth/register", "", map[string]string{
		"name": "Test " + role, "email": uniqueEmail(role), "password": "Passw0rd!", "role": role,
	})
	return decode[sessionBody](t, rec, http.StatusCreated)
}

// admin creates an admin and returns its session.
func (a *testAPI) admin(t testing.TB) sessionBody {
	t.Helper()
	email := uniqueEmail("admin")
	if _, err := a.users.EnsureAdmin(context.Background(), "Ada Admin", email, "Adm1nPassword"); err != nil {
		t.Fatal(err)
	}
	rec := a.call(t, http.MethodPost, "/api/auth/login", "", map[string]string{"email": email, "password": "Adm1nPassword"})
	return decode[sessionBody](t, rec, http.StatusOK)
}

type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem fails the test unless rec is a problem with this status and
// code, and returns it.
func wantProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) problemBody {
	t.Helper()
	var p problemBody
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if rec.Code != status || p.Status != status || p.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", rec.Code, p.Code, p.Detail, status, code)
	}
	return p
}

// wantFieldError fails the test unless the problem names field.
func wantFieldError(t testing.TB, p problemBody, field string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Errorf("problem errors %+v do not name %q", p.Errors, field)
}
