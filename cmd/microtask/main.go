// Command microtask serves the Microtask API.
//
//	microtask [serve]   start the HTTP server (the default)
//	microtask migrate   apply database migrations and exit
//	microtask audit     check the coin ledger, print a report, exit 1 if anything is off
//	microtask healthcheck  ask the server on HTTP_ADDR (or PORT) whether it is up, exit 1 if not
//
// Configuration comes from the environment and an optional .env file; see
// README.md. With MONGODB_URI empty it runs its own embedded database under
// DATA_DIR.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/joho/godotenv"

	"microtask/internal/app"
	"microtask/internal/auth"
	"microtask/internal/checkout"
	"microtask/internal/docdb"
	"microtask/internal/googleid"
	"microtask/internal/httpapi"
	"microtask/internal/imgbb"
	"microtask/internal/ledger"
	"microtask/internal/mail"
	"microtask/internal/platform/config"
	"microtask/internal/platform/job"
	"microtask/internal/platform/logging"
	"microtask/internal/platform/metrics"
	"microtask/internal/safehttp"
	"microtask/internal/storage"
	"microtask/internal/upload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A .env file fills in variables the environment does not set.
	if err := godotenv.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "microtask: read .env:", err)
		os.Exit(1)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "microtask:", err)
		os.Exit(1)
	}
}

const usage = `usage: microtask [command]

commands:
  serve     start the HTTP server (default)
  migrate   apply database migrations and exit
  audit     check the coin ledger; exit status 1 if anything is off
  healthcheck
            ask the server of this configuration (HTTP_ADDR or PORT) whether
            it is up (GET /api/health); exit status 1 if not. For container
            health checks: the image has no shell or curl.

Configuration is read from the environment and .env; see README.md.
`

// run is main without the process: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve", "migrate", "audit", "healthcheck":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cmd == "healthcheck" {
		return healthcheck(ctx, cfg.HTTPAddr, stdout)
	}
	logOut := stdout
	if cmd != "serve" {
		logOut = stderr // keep stdout for the command's report
	}
	log := logging.New(logOut, cfg.LogLevel, principalAttrs)
	for _, w := range config.Lookalikes(getenv) {
		log.Warn(w)
	}

	// One registry for the process, handed to what it measures; served on
	// METRICS_ADDR or DEBUG_ADDR.
	m := metrics.New()
	db, closeDB, err := openDatabase(ctx, cfg, log,
		docdb.WithCommandMonitor(m.CommandMonitor()), docdb.WithObserver(m))
	if err != nil {
		return err
	}
	defer closeDB()
	if _, err := storage.Migrate(ctx, db, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cmd == "migrate" {
		fmt.Fprintln(stdout, "migrations: up to date")
		return nil
	}
	a, err := build(ctx, cfg, log, db, m)
	if err != nil {
		return err
	}
	if cmd == "audit" {
		return audit(ctx, a.Ledger, stdout)
	}
	return serve(ctx, cfg, log, db, a, m)
}

// build assembles the services on db as the configuration says.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, db *docdb.DB, m *metrics.Metrics) (*app.App, error) {
	secret, err := jwtSecret(cfg)
	if err != nil {
		return nil, err
	}
	hasher, err := auth.NewHasher(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	c := app.Config{
		Log: log, Hasher: hasher, Tokens: auth.NewTokens(secret, cfg.JWTTTL, nil),
		// The embedded database (or a FerretDB, which takes a single
		// writer): this process is its only writer.
		SoleWriter:        db.SoleWriter(),
		AutoApproveAfter:  cfg.AutoApproveAfter,
		WithdrawalMethods: cfg.WithdrawalMethods,
		Pricing:           cfg.Pricing,
		RouteBase:         cfg.RouteBase,
		ImageHost:         localUploads(cfg),
		DailyUploadLimit:  cfg.DailyUploadLimit,
		Metrics:           m,
		ReservationsPer:   cfg.ReservationsPer,
		RevisionWindow:    cfg.RevisionWindow,
		AutoRelease:       cfg.MilestoneAutoRelease,
		AppURL:            cfg.AppURL,
		StreamsPerUser:    cfg.StreamsPerUser,
		StreamsMax:        cfg.StreamsMax,
		HookClient: safehttp.New(safehttp.Config{AllowPrivate: cfg.WebhooksAllowPrivate,
			Wrap: func(rt http.RoundTripper) http.RoundTripper { return m.Transport("webhook", rt) }}),
	}
	if cfg.WebhooksAllowPrivate {
		log.Warn("WEBHOOKS_ALLOW_PRIVATE is on: webhook endpoints may be plain http and reach private, loopback and link-local addresses")
	}
	if cfg.SMTPURL != "" {
		sender, err := mail.NewSMTP(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.MailFrom, Timeout: cfg.OutboundTimeout})
		if err != nil {
			return nil, err
		}
		c.Mailer = mail.Observed(sender, "smtp", m)
	} else {
		log.Info("SMTP_URL is not set: email is written to the log (look for \"mail (not sent\")")
	}
	if cfg.GoogleClientID != "" {
		client := &http.Client{Timeout: cfg.OutboundTimeout, Transport: m.Transport("google", nil)}
		verifier, err := googleid.New(ctx, cfg.GoogleClientID, cfg.GoogleCertsURL, client, log)
		if err != nil {
			return nil, err
		}
		c.Google = verifier
	}
	if cfg.ImgBBKey != "" {
		c.ImageHost = imgbb.New(cfg.ImgBBURL, cfg.ImgBBKey, cfg.OutboundTimeout).WithTransport(m.Transport("imgbb", nil))
	}
	for _, loss := range cfg.Pricing.Losses() {
		log.Warn("a coin package pays out more than it sells for: a buyer can buy it, pay a worker of their own and withdraw a profit; "+
			"raise its price or WITHDRAWAL_COINS_PER_DOLLAR", "package", loss)
	}
	switch cfg.PaymentGateway {
	case config.GatewayStripe:
		stripe := checkout.NewStripe(checkout.StripeConfig{
			SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret, APIURL: cfg.StripeAPIURL,
			SuccessURL: cfg.PaymentSuccessURL, CancelURL: cfg.PaymentCancelURL, Timeout: cfg.OutboundTimeout,
			Transport: m.Transport("stripe", nil),
		})
		c.Gateway, c.Webhooks = stripe, stripe
	case config.GatewayDummy:
		c.Gateway = checkout.Dummy{SuccessURL: cfg.PaymentSuccessURL}
		log.Warn("payments use the dummy gateway: any buyer can confirm their own purchases and get coins for nothing; " +
			"set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET) for real payments")
	default:
		log.Warn("payments are not configured: coin purchases answer 503 payments_not_configured; " +
			"set STRIPE_SECRET_KEY, or PAYMENT_GATEWAY=dummy for a demo")
	}
	return app.New(db, c)
}

// internalHandlers are what the private listeners serve, by address:
// /metrics on METRICS_ADDR, and net/http/pprof's profiles with /metrics
// beside them on DEBUG_ADDR; one listener when both name one address.
func internalHandlers(cfg config.Config, m *metrics.Metrics) map[string]*http.ServeMux {
	muxes := map[string]*http.ServeMux{}
	for _, addr := range []string{cfg.DebugAddr, cfg.MetricsAddr} {
		if addr != "" && muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
			muxes[addr].Handle("/metrics", m.Handler())
		}
	}
	if mux := muxes[cfg.DebugAddr]; mux != nil {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return muxes
}

// instanceID names this process in job leases.
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// principalAttrs adds the signed-in user to every log line of a request.
func principalAttrs(ctx context.Context) []slog.Attr {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return []slog.Attr{slog.String("user_id", p.UserID)}
	}
	return nil
}

// openDatabase connects to MONGODB_URI, or opens the embedded database
// under DATA_DIR. The returned function closes it.
func openDatabase(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...docdb.Option) (*docdb.DB, func(), error) {
	var (
		db  *docdb.DB
		err error
	)
	if cfg.Embedded() {
		db, err = docdb.OpenEmbedded(ctx, filepath.Join(cfg.DataDir, "db"), cfg.MongoDatabase, log, opts...)
		if err == nil {
			log.InfoContext(ctx, "embedded database: single instance only; set MONGODB_URI for production")
		}
	} else {
		db, err = docdb.Open(ctx, cfg.MongoURI, cfg.MongoDatabase, log, opts...)
	}
	if err != nil {
		return nil, nil, err
	}
	return db, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := db.Close(ctx); err != nil {
			log.WarnContext(ctx, "close database", "err", err)
		}
	}, nil
}

// jwtSecret returns JWT_SECRET, or in embedded mode the secret kept in
// DATA_DIR/jwt-secret, generated on first start, so that tokens survive
// restarts without any set-up.
func jwtSecret(cfg config.Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	path := filepath.Join(cfg.DataDir, "jwt-secret")
	b, err := os.ReadFile(path)
	if err == nil {
		secret := strings.TrimSpace(string(b))
		if len(secret) < config.MinJWTSecretLen {
			return nil, fmt.Errorf("%s holds a secret shorter than %d characters; delete it to generate a new one", path, config.MinJWTSecretLen)
		}
		return []byte(secret), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read JWT secret: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	// O_EXCL: if two processes race on first start, one secret wins and the
	// other process reads it back.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return jwtSecret(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("write JWT secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write JWT secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write JWT secret: %w", err)
	}
	return []byte(secret), nil
}

// audit runs the ledger audit and prints its report.
func audit(ctx context.Context, l *ledger.Ledger, out io.Writer) error {
	r, err := l.Audit(ctx)
	if err != nil {
		return err
	}
	verdict := "BALANCED"
	if !r.Balanced {
		verdict = "NOT BALANCED"
	}
	fmt.Fprintf(out, "ledger audit: %s\n  accounts:  %d\n  operations moving coins: %d (%d in flight)\n  sum of balances: %d\n",
		verdict, r.Accounts, r.Movements, r.InFlight, r.Sum)
	if r.InFlight > 0 {
		fmt.Fprintf(out, "  applied by the operations in flight: %d (the sum is this until they end)\n", r.InFlightSum)
	}
	if r.Uncleared > 0 {
		fmt.Fprintf(out, "  operations awaiting clean-up: %d (the next ledger recovery clears them)\n", r.Uncleared)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(out, "  problem: %s\n", p)
	}
	if !r.Balanced {
		return fmt.Errorf("ledger audit found %d problem(s)", len(r.Problems))
	}
	return nil
}

// healthcheck asks the server listening on addr (HTTP_ADDR) for
// /api/health: liveness, so that a container whose database is briefly
// away is not marked unhealthy and restarted for it (readiness is for load
// balancers: /api/ready).
func healthcheck(ctx context.Context, addr string, out io.Writer) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // listening on every interface: ask over loopback
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/api/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "microtask-healthcheck")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s = %d", url, resp.StatusCode)
	}
	fmt.Fprintf(out, "healthy: GET %s = %d\n", url, resp.StatusCode)
	return nil
}

// localUploads is the directory of the images this server keeps.
func localUploads(cfg config.Config) upload.Dir {
	return upload.Dir{Path: filepath.Join(cfg.DataDir, "uploads")}
}

// serve runs the HTTP server and the background workers until ctx is
// cancelled, then shuts down gracefully: stop accepting, finish in-flight
// requests, stop the workers; the caller closes the database.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, db *docdb.DB, a *app.App, m *metrics.Metrics) error {
	if cfg.ImgBBKey == "" && !cfg.Embedded() {
		log.WarnContext(ctx, "images are kept in DATA_DIR/uploads of this instance; with several instances set IMGBB_API_KEY")
	}
	if cfg.AdminEmail != "" {
		if _, err := a.Users.EnsureAdmin(ctx, cfg.AdminName, cfg.AdminEmail, cfg.AdminPassword); err != nil {
			return fmt.Errorf("create admin: %w", err)
		}
	}

	api := httpapi.NewServer(a.ServerOptions(cfg))
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// No WriteTimeout: server-sent event streams stay open; handlers
		// bound their own work with context deadlines.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}

	srv.RegisterOnShutdown(api.CloseStreams)

	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	leases, owner := storage.NewLeaseStore(db), instanceID()
	for _, j := range a.Jobs(cfg) {
		wg.Go(func() {
			if j.First != nil {
				j.First(workers)
			}
			if j.Loop != nil {
				j.Loop(workers, j.Interval)
				return
			}
			// Each round this instance runs is logged and measured.
			job.Every(workers, log, leases, owner, j.Name, j.Interval, func(ctx context.Context) error {
				start := time.Now()
				n, err := j.Round(ctx)
				if n > 0 {
					log.InfoContext(ctx, j.Did, "count", n)
				}
				m.JobRan(j.Name, err, time.Since(start))
				return err
			})
		})
	}

	// Metrics and profiles on listeners of their own, never on the public
	// one.
	for addr, mux := range internalHandlers(cfg, m) {
		iln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = ln.Close()
			stopWorkers()
			wg.Wait()
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		internal := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := internal.Serve(iln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.ErrorContext(ctx, "internal server", "err", err)
			}
		}()
		defer internal.Close()
		serves := "/metrics"
		if addr == cfg.DebugAddr {
			serves = "/metrics, /debug/pprof/"
		}
		log.InfoContext(ctx, "internal server listening", "addr", iln.Addr().String(), "serves", serves)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "config", cfg)

	select {
	case err := <-serveErr:
		stopWorkers()
		wg.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Readiness fails at once; the listener stays open for the drain delay,
	// so that a load balancer that polls /api/ready stops sending first.
	api.Drain()
	log.InfoContext(ctx, "shutting down", "drain", cfg.DrainDelay.String(), "timeout", cfg.ShutdownTimeout.String())
	time.Sleep(cfg.DrainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopWorkers()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.InfoContext(shutdownCtx, "stopped")
	return nil
}
