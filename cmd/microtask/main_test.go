package main

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"microtask/internal/googleid/googleidtest"
	"microtask/internal/imgbb/imgbbtest"
)

// lockedBuffer is written by the server goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var listeningLine = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// startServer runs `microtask serve` in the background and returns its base
// URL, its output, and a function that stops it and returns run's error.
func startServer(t *testing.T, env map[string]string) (string, *lockedBuffer, func() error) {
	t.Helper()
	if _, ok := env["DRAIN_DELAY"]; !ok {
		env["DRAIN_DELAY"] = "0" // nothing polls readiness here
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envFrom(env), &out, &out) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listeningLine.FindStringSubmatch(out.String()); m != nil {
			return "http://" + m[1], &out, func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(30 * time.Second):
					t.Fatal("server did not stop within 30s")
					return nil
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run() returned before listening: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start within 30s:\n%s", out.String())
		}
	}
}

func TestServeOnEmbeddedDatabase(t *testing.T) {
	dataDir := t.TempDir()
	// MONGO_URI is the specification's name, not ours: said, and ignored.
	env := map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0", "MONGO_URI": "mongodb://elsewhere"}
	base, out, stop := startServer(t, env)

	for _, path := range []string{"/api/health", "/api/ready"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s = %d (request id %q), want 200 with a request id", path, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown: run() error = %v", err)
	}
	if strings.Contains(out.String(), `"component":"ferretdb"`) {
		t.Errorf("FerretDB's routine logs reached the output:\n%s", out.String())
	}
	// The embedded demo runs the dummy gateway, and the specification's
	// 500- and 1000-coin packages pay out more than they sell for: both are
	// said out loud.
	logs := out.String()
	if !strings.Contains(logs, "payments use the dummy gateway") ||
		strings.Count(logs, "a coin package pays out more than it sells for") != 2 ||
		!strings.Contains(logs, "500 coins sell for $20.00 and pay out $25.00") ||
		!strings.Contains(logs, "MONGO_URI is set but not read: did you mean MONGODB_URI?") {
		t.Errorf("start-up warnings missing:\n%s", logs)
	}

	// The embedded database and the generated JWT secret live in DATA_DIR
	// and survive a restart.
	secret, err := os.ReadFile(filepath.Join(dataDir, "jwt-secret"))
	if err != nil || len(strings.TrimSpace(string(secret))) < 32 {
		t.Fatalf("jwt-secret = %q, %v; want a generated secret", secret, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "db", "microtask.db")); err != nil {
		t.Errorf("embedded database file: %v", err)
	}
	base, _, stop = startServer(t, env)
	resp, err := http.Get(base + "/api/ready")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("after restart GET /api/ready = %v, %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dataDir, "jwt-secret"))
	if !bytes.Equal(secret, again) {
		t.Errorf("jwt-secret changed across restarts")
	}
}

// TestShutdownFailsReadinessFirst: on SIGTERM readiness answers 503 at
// once while the listener stays open for the drain delay, so that a load
// balancer stops sending before connections are refused.
func TestShutdownFailsReadinessFirst(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "DRAIN_DELAY": "2s"}
	base, _, stop := startServer(t, env)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, base+"/api/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /api/ready before shutdown = %v, %v", method, resp, err)
		}
		resp.Body.Close()
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		resp, err := http.Get(base + "/api/ready")
		if err != nil {
			t.Fatalf("the listener closed before the drain delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness still %d during shutdown", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := http.Get(base + "/api/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health while draining = %v, %v; want 200 (the process is up)", resp, err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestMigrateAndAuditCommands(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, envFrom(env), &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "up to date") || !strings.Contains(errOut.String(), `"msg":"migration applied"`) {
		t.Errorf("migrate printed %q and logged %q", out.String(), errOut.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit"}, envFrom(env), &out, &errOut); err != nil {
		t.Fatalf("audit: %v", err)
	}
	if !strings.Contains(out.String(), "ledger audit: BALANCED") {
		t.Errorf("audit printed %q, want BALANCED", out.String())
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"bad port", nil, map[string]string{"PORT": "eighty"}, "PORT must be a whole number"},
		{"uri without secret", nil, map[string]string{"MONGODB_URI": "mongodb://db:27017"}, "JWT_SECRET is required"},
		{"bad log level", []string{"migrate"}, map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, envFrom(tt.env), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, envFrom(nil), &out, &out); err != nil || !strings.Contains(out.String(), "usage: microtask") {
		t.Errorf("help = %v, %q", err, out.String())
	}
}

func TestServeRefusesAShortJWTSecretFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwt-secret"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), nil, envFrom(map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0"}), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "shorter than 32") {
		t.Errorf("run() error = %v, want the short secret refused", err)
	}
}

func TestServeCreatesTheConfiguredAdmin(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "BCRYPT_COST": "4",
		"ADMIN_EMAIL": "Boss@Example.com", "ADMIN_PASSWORD": "B0ssPassword"}
	base, _, stop := startServer(t, env)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	resp, err := http.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"boss@example.com","password":"B0ssPassword"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Token string
		User  struct{ Role string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK || s.User.Role != "admin" {
		t.Errorf("admin login = %d %+v %v", resp.StatusCode, s, err)
	}
}

// The wiring of the outside services: Google's keys and imgBB from their
// variables, and local images under DATA_DIR when imgBB is off.
func TestServeWithGoogleAndImages(t *testing.T) {
	google, imgBB := googleidtest.New(t), imgbbtest.New(t)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
		"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

	signIn := func(t *testing.T, base string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"credential": google.Sign(t, googleidtest.Claims("gus@example.com", "Gus")), "role": "buyer"})
		resp, err := http.Post(base+"/api/auth/google", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("Google sign-in = %d, %v", resp.StatusCode, err)
		}
		return s.Token
	}
	upload := func(t *testing.T, base, token string) string {
		t.Helper()
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		part, _ := w.CreateFormFile("image", "dot.png")
		_, _ = part.Write(png)
		_ = w.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/uploads", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var img struct{ URL string }
		if err := json.NewDecoder(resp.Body).Decode(&img); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload = %d, %v", resp.StatusCode, err)
		}
		return img.URL
	}
	serve := func(t *testing.T, env map[string]string) string {
		t.Helper()
		base, _, stop := startServer(t, env)
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Error(err)
			}
		})
		return base
	}

	t.Run("imgBB", func(t *testing.T) {
		base := serve(t, map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0",
			"GOOGLE_CLIENT_ID": googleidtest.ClientID, "GOOGLE_CERTS_URL": google.CertsURL(),
			"IMGBB_API_KEY": imgbbtest.Key, "IMGBB_URL": imgBB.URL()})
		if url := upload(t, base, signIn(t, base)); !strings.HasPrefix(url, "https://i.ibb.co/") || len(imgBB.Uploads()) != 1 {
			t.Errorf("url %q, imgBB got %d images", url, len(imgBB.Uploads()))
		}
	})
	t.Run("local", func(t *testing.T) {
		dataDir := t.TempDir()
		base := serve(t, map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0",
			"GOOGLE_CLIENT_ID": googleidtest.ClientID, "GOOGLE_CERTS_URL": google.CertsURL(),
			"PUBLIC_URL": "https://cdn.example.com"})
		url := upload(t, base, signIn(t, base))
		name, ok := strings.CutPrefix(url, "https://cdn.example.com/uploads/")
		if !ok {
			t.Fatalf("url %q is not on PUBLIC_URL", url)
		}
		stored, err := os.ReadFile(filepath.Join(dataDir, "uploads", name))
		if err != nil || !bytes.Equal(stored, png) {
			t.Errorf("stored image: %v", err)
		}
		resp, err := http.Get(base + "/uploads/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("GET image = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestHealthcheckCommand: `microtask healthcheck`, the container's health
// check, passes while the server of the same configuration is up and fails
// once it is gone, also when HTTP_ADDR names every interface.
func TestHealthcheckCommand(t *testing.T) {
	base, _, stop := startServer(t, map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0"})
	hostPort := strings.TrimPrefix(base, "http://")
	_, port, _ := strings.Cut(hostPort, ":")
	check := func(addr string) error {
		var out bytes.Buffer
		return run(context.Background(), []string{"healthcheck"}, envFrom(map[string]string{"HTTP_ADDR": addr}), &out, &out)
	}
	for _, addr := range []string{hostPort, ":" + port, "0.0.0.0:" + port} {
		if err := check(addr); err != nil {
			t.Errorf("healthcheck with HTTP_ADDR=%s while serving: %v", addr, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := check(hostPort); err == nil {
		t.Errorf("healthcheck passed with the server stopped")
	}
}
