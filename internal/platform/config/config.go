// Package config turns the environment into a Config: defaults, parsing and
// one error that names every bad variable. No other package reads the
// environment.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"microtask/internal/money"
)

// Config is everything the server is configured with.
type Config struct {
	HTTPAddr            string        // HTTP_ADDR, default ":" + PORT
	MongoURI            string        // MONGODB_URI; empty runs the embedded database
	MongoDatabase       string        // MONGODB_DATABASE
	DataDir             string        // DATA_DIR: embedded database files, generated secrets
	JWTSecret           string        // JWT_SECRET; in embedded mode may be empty (generated under DataDir)
	JWTTTL              time.Duration // JWT_TTL: how long an access token lives
	BcryptCost          int           // BCRYPT_COST
	AdminEmail          string        // ADMIN_EMAIL: with ADMIN_PASSWORD, an admin created at start-up if absent
	AdminPassword       string        // ADMIN_PASSWORD
	AdminName           string        // ADMIN_NAME
	CORSOrigins         []string      // CORS_ORIGINS
	LogLevel            slog.Level    // LOG_LEVEL
	AuthRateLimitPerMin int           // AUTH_RATE_LIMIT_PER_MIN; 0 disables
	TrustedProxies      int           // TRUSTED_PROXIES: reverse proxies in front that append to X-Forwarded-For
	ShutdownTimeout     time.Duration // SHUTDOWN_TIMEOUT
	DrainDelay          time.Duration // DRAIN_DELAY: between readiness failing and the listener closing
	RecoveryInterval    time.Duration // LEDGER_RECOVERY_INTERVAL
	AutoApproveAfter    time.Duration // AUTO_APPROVE_AFTER: default review time of new tasks
	JobsInterval        time.Duration // JOBS_INTERVAL: how often auto-approval and expiry run
	DebugAddr           string        // DEBUG_ADDR: serve net/http/pprof (and /metrics) there; empty: off
	MetricsAddr         string        // METRICS_ADDR: serve Prometheus's /metrics there; empty: off (unless DEBUG_ADDR)
	PaymentGateway      string        // PAYMENT_GATEWAY, resolved: GatewayStripe, GatewayDummy or GatewayNone
	StripeSecretKey     string        // STRIPE_SECRET_KEY
	StripeWebhookSecret string        // STRIPE_WEBHOOK_SECRET
	StripeAPIURL        string        // STRIPE_API_URL: Stripe's API, or a stripe-mock
	PaymentSuccessURL   string        // PAYMENT_SUCCESS_URL: where the buyer lands after paying
	PaymentCancelURL    string        // PAYMENT_CANCEL_URL: where the buyer lands after giving up
	WithdrawalMethods   []string      // WITHDRAWAL_METHODS
	Pricing             money.Pricing // SIGNUP_BONUS_WORKER, SIGNUP_BONUS_BUYER, COIN_PACKAGES, WITHDRAWAL_COINS_PER_DOLLAR, WITHDRAWAL_MIN_COINS
	OutboundTimeout     time.Duration // OUTBOUND_TIMEOUT: for each call to Stripe, imgBB or Google
	PublicURL           string        // PUBLIC_URL: this server's public base URL; empty: each request's host
	RouteBase           string        // APP_ROUTE_BASE: where the app's pages live, for notifications' routes
	ImgBBKey            string        // IMGBB_API_KEY; empty: images are kept under DATA_DIR/uploads
	ImgBBURL            string        // IMGBB_URL
	UploadRateLimit     int           // UPLOAD_RATE_LIMIT_PER_MIN, per user (sign-ups with a photo: per IP); 0 disables
	DailyUploadLimit    int           // UPLOAD_DAILY_LIMIT: images per user in 24 hours; 0 disables
	ReservationsPer     int           // RESERVATIONS_PER_WORKER: live reservations a worker may hold
	RevisionWindow      time.Duration // REVISION_WINDOW: how long a worker has to revise a submission
	GoogleClientID      string        // GOOGLE_CLIENT_ID; empty: no Sign in with Google
	GoogleCertsURL      string        // GOOGLE_CERTS_URL: where Google's signing keys are fetched; empty: Google's own
	SMTPURL             string        // SMTP_URL: smtp://user:pass@host:587 or smtps://...; empty: mail is written to the log
	MailFrom            string        // MAIL_FROM: the sender of the platform's email
	AppURL              string        // APP_URL: the public URL of the app's pages, for the links in email
	StreamsPerUser      int           // STREAMS_PER_USER: open notification streams per user
	StreamsMax          int           // STREAMS_MAX: open notification streams on this instance
	MessageRateLimit    int           // MESSAGE_RATE_LIMIT_PER_MIN: messages a user may send per minute; 0 disables
	APIKeyRateLimit     int           // API_KEY_RATE_LIMIT_PER_MIN: requests per API key per minute; 0 disables
	// WebhooksAllowPrivate (WEBHOOKS_ALLOW_PRIVATE=1) lets webhook endpoints
	// be plain http and resolve to private, loopback or link-local
	// addresses: for tests and private deployments.
	WebhooksAllowPrivate bool

	// Projects (issue 22).
	MilestoneAutoRelease time.Duration // MILESTONE_AUTO_RELEASE: how long a submitted milestone waits for its buyer
}

// The payment gateways.
const (
	GatewayStripe = "stripe"
	GatewayDummy  = "dummy" // buyers confirm their own payments: coins for nothing
	GatewayNone   = "none"  // purchases answer 503 payments_not_configured
)

// Embedded reports whether the server runs its own embedded database.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// MinJWTSecretLen is the shortest JWT_SECRET accepted: HS256 wants a key at
// least as long as its 256-bit output.
const MinJWTSecretLen = 32

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests). It returns one error naming every variable that is missing or
// malformed.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	port := p.int("PORT", 5000, 1, 65535)
	c := Config{
		HTTPAddr:            p.str("HTTP_ADDR", ":"+strconv.Itoa(port)),
		MongoURI:            p.str("MONGODB_URI", ""),
		MongoDatabase:       p.str("MONGODB_DATABASE", "microtask"),
		DataDir:             p.str("DATA_DIR", "./data"),
		JWTSecret:           p.str("JWT_SECRET", ""),
		JWTTTL:              p.duration("JWT_TTL", 24*time.Hour),
		BcryptCost:          p.int("BCRYPT_COST", 10, 4, 16),
		AdminEmail:          p.str("ADMIN_EMAIL", ""),
		AdminPassword:       p.getenv("ADMIN_PASSWORD"), // not trimmed: spaces may be part of it
		AdminName:           p.str("ADMIN_NAME", "Admin"),
		CORSOrigins:         p.origins("CORS_ORIGINS", "http://localhost:5173,http://localhost:3000"),
		LogLevel:            p.level("LOG_LEVEL", slog.LevelInfo),
		AuthRateLimitPerMin: p.int("AUTH_RATE_LIMIT_PER_MIN", 20, 0, 1_000_000),
		TrustedProxies:      p.int("TRUSTED_PROXIES", 0, 0, 10),
		ShutdownTimeout:     p.duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		DrainDelay:          p.durationOrZero("DRAIN_DELAY", 3*time.Second),
		RecoveryInterval:    p.duration("LEDGER_RECOVERY_INTERVAL", 5*time.Second),
		AutoApproveAfter:    p.duration("AUTO_APPROVE_AFTER", 72*time.Hour),
		RevisionWindow:      p.duration("REVISION_WINDOW", 48*time.Hour),
		JobsInterval:        p.duration("JOBS_INTERVAL", time.Minute),
		DebugAddr:           p.str("DEBUG_ADDR", ""),
		MetricsAddr:         p.str("METRICS_ADDR", ""),
		StripeSecretKey:     p.str("STRIPE_SECRET_KEY", ""),
		StripeWebhookSecret: p.str("STRIPE_WEBHOOK_SECRET", ""),
		StripeAPIURL:        p.url("STRIPE_API_URL", "https://api.stripe.com"),
		PaymentSuccessURL:   p.url("PAYMENT_SUCCESS_URL", "http://localhost:5173/dashboard/payment/success"),
		PaymentCancelURL:    p.url("PAYMENT_CANCEL_URL", "http://localhost:5173/dashboard/purchase-coin"),
		WithdrawalMethods:   p.names("WITHDRAWAL_METHODS", "stripe,bkash,rocket,nagad"),
		OutboundTimeout:     p.duration("OUTBOUND_TIMEOUT", 10*time.Second),
		ImgBBKey:            p.str("IMGBB_API_KEY", ""),
		ImgBBURL:            p.url("IMGBB_URL", "https://api.imgbb.com/1/upload"),
		UploadRateLimit:     p.int("UPLOAD_RATE_LIMIT_PER_MIN", 10, 0, 1_000_000),
		DailyUploadLimit:    p.int("UPLOAD_DAILY_LIMIT", 100, 0, 1_000_000),
		ReservationsPer:     p.int("RESERVATIONS_PER_WORKER", 3, 1, 100),
		GoogleClientID:      p.str("GOOGLE_CLIENT_ID", ""),
		MailFrom:            p.str("MAIL_FROM", "Microtask <no-reply@localhost>"),
		AppURL:              strings.TrimRight(p.url("APP_URL", "http://localhost:5173"), "/"),
		StreamsPerUser:      p.int("STREAMS_PER_USER", 5, 1, 1000),
		StreamsMax:          p.int("STREAMS_MAX", 500, 1, 1_000_000),
		MessageRateLimit:    p.int("MESSAGE_RATE_LIMIT_PER_MIN", 30, 0, 1_000_000),
		APIKeyRateLimit:     p.int("API_KEY_RATE_LIMIT_PER_MIN", 300, 0, 1_000_000),
	}
	c.WebhooksAllowPrivate = p.flag("WEBHOOKS_ALLOW_PRIVATE")
	c.MilestoneAutoRelease = p.duration("MILESTONE_AUTO_RELEASE", 14*24*time.Hour)
	if v := p.str("SMTP_URL", ""); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			p.fail("SMTP_URL", "must be smtp://user:pass@host:587 or smtps://user:pass@host:465")
		}
		c.SMTPURL = v
	}
	if !strings.Contains(c.MailFrom, "@") {
		p.fail("MAIL_FROM", "must be an email address, e.g. Microtask <no-reply@example.com>")
	}
	c.Pricing = money.Pricing{
		WorkerBonus:    money.Coins(p.int("SIGNUP_BONUS_WORKER", 10, 0, 1_000_000)),
		BuyerBonus:     money.Coins(p.int("SIGNUP_BONUS_BUYER", 50, 0, 1_000_000)),
		Packages:       p.packages("COIN_PACKAGES", "10:1.00,150:10.00,500:20.00,1000:35.00"),
		CoinsPerDollar: int64(p.int("WITHDRAWAL_COINS_PER_DOLLAR", 20, 1, 1_000_000)),
		MinWithdrawal:  money.Coins(p.int("WITHDRAWAL_MIN_COINS", 200, 1, 100_000_000)),
	}
	if c.RouteBase = p.str("APP_ROUTE_BASE", "/dashboard"); !strings.HasPrefix(c.RouteBase, "/") {
		p.fail("APP_ROUTE_BASE", fmt.Sprintf("must be a path such as /dashboard, got %q", c.RouteBase))
	}
	if v := p.str("PUBLIC_URL", ""); v != "" {
		c.PublicURL = p.url("PUBLIC_URL", "")
	}
	if v := p.str("GOOGLE_CERTS_URL", ""); v != "" {
		c.GoogleCertsURL = p.url("GOOGLE_CERTS_URL", "")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p.fail("HTTP_ADDR", "must be host:port, e.g. :5000 or 127.0.0.1:5000")
	}
	if c.MongoURI != "" {
		if !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
			p.fail("MONGODB_URI", "must start with mongodb:// or mongodb+srv://")
		}
		if c.JWTSecret == "" {
			p.fail("JWT_SECRET", "is required when MONGODB_URI is set (every instance must share it)")
		}
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < MinJWTSecretLen {
		p.fail("JWT_SECRET", fmt.Sprintf("must be at least %d characters", MinJWTSecretLen))
	}
	if strings.ContainsAny(c.MongoDatabase, `/\. "$`) || c.MongoDatabase == "" {
		p.fail("MONGODB_DATABASE", `must be a plain name without / \ . space " or $`)
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			p.fail("DEBUG_ADDR", "must be host:port, e.g. 127.0.0.1:6060")
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p.fail("METRICS_ADDR", "must be host:port, e.g. :9090")
		}
	}
	if c.StripeSecretKey != "" {
		if !strings.HasPrefix(c.StripeSecretKey, "sk_") && !strings.HasPrefix(c.StripeSecretKey, "rk_") {
			p.fail("STRIPE_SECRET_KEY", "must be a Stripe secret key (sk_test_..., sk_live_... or rk_...)")
		}
		if !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
			p.fail("STRIPE_WEBHOOK_SECRET", "must be the webhook signing secret (whsec_...) when STRIPE_SECRET_KEY is set: without it no payment can be confirmed")
		}
	}
	c.PaymentGateway = p.gateway(c)
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		p.fail("ADMIN_EMAIL", "and ADMIN_PASSWORD must be set together")
	} else if c.AdminEmail != "" && !strings.Contains(c.AdminEmail, "@") {
		p.fail("ADMIN_EMAIL", "must be an email address")
	}
	if c.DataDir == "" {
		p.fail("DATA_DIR", "must not be empty")
	}
	if len(p.problems) > 0 {
		return Config{}, errors.New("configuration: " + strings.Join(p.problems, "; "))
	}
	return c, nil
}

// LogValue logs the configuration with its secrets redacted and its
// durations as Go durations ("72h0m0s"), not nanoseconds.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.String("mongodb_uri", redactURI(c.MongoURI)),
		slog.String("mongodb_database", c.MongoDatabase),
		slog.String("data_dir", c.DataDir),
		slog.Bool("jwt_secret_set", c.JWTSecret != ""),
		slog.String("jwt_ttl", c.JWTTTL.String()),
		slog.Int("bcrypt_cost", c.BcryptCost),
		slog.String("admin_email", c.AdminEmail),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.String("log_level", c.LogLevel.String()),
		slog.Int("auth_rate_limit_per_min", c.AuthRateLimitPerMin),
		slog.Int("trusted_proxies", c.TrustedProxies),
		slog.String("auto_approve_after", c.AutoApproveAfter.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("drain_delay", c.DrainDelay.String()),
		slog.String("ledger_recovery_interval", c.RecoveryInterval.String()),
		slog.String("jobs_interval", c.JobsInterval.String()),
		slog.String("debug_addr", c.DebugAddr),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.String("payment_gateway", c.PaymentGateway),
		slog.String("stripe_api_url", c.StripeAPIURL),
		slog.Any("withdrawal_methods", c.WithdrawalMethods),
		slog.Any("pricing", c.Pricing),
		slog.String("outbound_timeout", c.OutboundTimeout.String()),
		slog.String("public_url", c.PublicURL),
		slog.String("app_route_base", c.RouteBase),
		slog.Bool("imgbb", c.ImgBBKey != ""),
		slog.Int("upload_rate_limit_per_min", c.UploadRateLimit),
		slog.Int("upload_daily_limit", c.DailyUploadLimit),
		slog.Int("reservations_per_worker", c.ReservationsPer),
		slog.String("revision_window", c.RevisionWindow.String()),
		slog.Bool("google_sign_in", c.GoogleClientID != ""),
		slog.String("smtp_url", redactURI(c.SMTPURL)),
		slog.String("mail_from", c.MailFrom),
		slog.String("app_url", c.AppURL),
		slog.Int("streams_per_user", c.StreamsPerUser),
		slog.Int("streams_max", c.StreamsMax),
		slog.Int("message_rate_limit_per_min", c.MessageRateLimit),
		slog.Int("api_key_rate_limit_per_min", c.APIKeyRateLimit),
		slog.Bool("webhooks_allow_private", c.WebhooksAllowPrivate),
		slog.String("milestone_auto_release", c.MilestoneAutoRelease.String()),
	)
}

// redactURI hides the password of a connection string.
func redactURI(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}

// gateway resolves PAYMENT_GATEWAY. Unset, it is Stripe when a key is
// configured; otherwise the dummy gateway on the embedded database (so that
// `make run` is a whole demo) and none on MongoDB: a production deployment
// must never mint coins for whoever asks because a variable was forgotten.
func (p *parser) gateway(c Config) string {
	switch v := strings.ToLower(p.str("PAYMENT_GATEWAY", "")); v {
	case "":
		switch {
		case c.StripeSecretKey != "":
			return GatewayStripe
		case c.Embedded():
			return GatewayDummy
		}
		return GatewayNone
	case GatewayStripe:
		if c.StripeSecretKey == "" {
			p.fail("PAYMENT_GATEWAY", "is stripe but STRIPE_SECRET_KEY is not set")
		}
		return v
	case GatewayDummy:
		if c.StripeSecretKey != "" {
			p.fail("PAYMENT_GATEWAY", "is dummy but STRIPE_SECRET_KEY is set: unset one of them")
		}
		return v
	default:
		p.fail("PAYMENT_GATEWAY", fmt.Sprintf("must be stripe or dummy, got %q", v))
		return GatewayNone
	}
}

type parser struct {
	getenv   func(string) string
	problems []string
}

func (p *parser) fail(name, msg string) { p.problems = append(p.problems, name+" "+msg) }

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

// flag reads a switch: 1 or true turns it on, 0, false or unset off.
func (p *parser) flag(name string) bool {
	switch v := strings.ToLower(strings.TrimSpace(p.getenv(name))); v {
	case "", "0", "false":
		return false
	case "1", "true":
		return true
	default:
		p.fail(name, fmt.Sprintf("must be 1 or 0, got %q", v))
		return false
	}
}

func (p *parser) int(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("must be a whole number from %d to %d, got %q", lo, hi, v))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, fmt.Sprintf("must be a positive duration such as 30s or 24h, got %q", v))
		return def
	}
	return d
}

// durationOrZero is duration, where 0 (or 0s) is allowed too.
func (p *parser) durationOrZero(name string, def time.Duration) time.Duration {
	if v := strings.TrimSpace(p.getenv(name)); v == "0" || v == "0s" {
		return 0
	}
	return p.duration(name, def)
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, fmt.Sprintf("must be debug, info, warn or error, got %q", v))
		return def
	}
	return l
}

// url reads an absolute http(s) URL.
func (p *parser) url(name, def string) string {
	v := p.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, fmt.Sprintf("must be an absolute http(s) URL, got %q", v))
		return def
	}
	return strings.TrimRight(v, "/")
}

// names reads a comma list of lower-case names such as bkash,rocket.
func (p *parser) names(name, def string) []string {
	var out []string
	for _, n := range strings.Split(p.str(name, def), ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
			p.fail(name, fmt.Sprintf("must be a comma list of names made of letters, digits, _ and -, got %q", n))
			continue
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		p.fail(name, "must list at least one name")
	}
	return out
}

// packages parses a comma list of coin packages such as 10:1.00,150:10,
// coins and the price in dollars (to the cent), each size once; it returns
// them smallest first.
func (p *parser) packages(name, def string) []money.Package {
	var out []money.Package
	bad := func(item string) {
		p.fail(name, fmt.Sprintf("must be a comma list of coins:dollars such as 10:1.00,150:10.00, got %q", item))
	}
	for _, item := range strings.Split(p.str(name, def), ",") {
		item = strings.TrimSpace(item)
		coins, price, ok := strings.Cut(item, ":")
		n, err := strconv.ParseInt(strings.TrimSpace(coins), 10, 64)
		cents, cerr := parseDollars(strings.TrimSpace(price))
		if !ok || err != nil || cerr != nil || n <= 0 || cents <= 0 {
			bad(item)
			continue
		}
		if slices.ContainsFunc(out, func(pkg money.Package) bool { return pkg.Coins == money.Coins(n) }) {
			p.fail(name, fmt.Sprintf("lists %d coins twice", n))
			continue
		}
		out = append(out, money.Package{Coins: money.Coins(n), Price: cents})
	}
	if len(out) == 0 {
		p.fail(name, "must list at least one package")
	}
	slices.SortFunc(out, func(a, b money.Package) int { return cmp.Compare(a.Coins, b.Coins) })
	return out
}

// parseDollars reads a price such as 35, 35.5 or 35.00 as cents, with no
// float in between.
func parseDollars(s string) (money.Cents, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 || whole == "" {
		return 0, errors.New("not dollars and cents")
	}
	d, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || d < 0 || d > 1_000_000 {
		return 0, errors.New("not dollars and cents")
	}
	c := int64(0)
	if frac != "" {
		if c, err = strconv.ParseInt(frac+strings.Repeat("0", 2-len(frac)), 10, 64); err != nil || c < 0 {
			return 0, errors.New("not dollars and cents")
		}
	}
	return money.Cents(d*100 + c), nil
}

// origins parses a comma list of origins such as https://app.example.com.
// "*" allows every origin.
func (p *parser) origins(name, def string) []string {
	var out []string
	for _, o := range strings.Split(p.str(name, def), ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				p.fail(name, fmt.Sprintf("must be a comma list of origins like https://app.example.com, got %q", o))
				continue
			}
		}
		out = append(out, o)
	}
	return out
}
