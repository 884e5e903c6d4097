package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"microtask/internal/money"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	got, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr:            ":5000",
		MongoDatabase:       "microtask",
		DataDir:             "./data",
		JWTTTL:              24 * time.Hour,
		BcryptCost:          10,
		AdminName:           "Admin",
		CORSOrigins:         []string{"http://localhost:5173", "http://localhost:3000"},
		LogLevel:            slog.LevelInfo,
		AuthRateLimitPerMin: 20,
		ShutdownTimeout:     15 * time.Second,
		DrainDelay:          3 * time.Second,
		RecoveryInterval:    5 * time.Second,
		AutoApproveAfter:    72 * time.Hour,
		JobsInterval:        time.Minute,
		StripeAPIURL:        "https://api.stripe.com",
		PaymentGateway:      GatewayDummy,
		PaymentSuccessURL:   "http://localhost:5173/dashboard/payment/success",
		PaymentCancelURL:    "http://localhost:5173/dashboard/purchase-coin",
		WithdrawalMethods:   []string{"stripe", "bkash", "rocket", "nagad"},
		RouteBase:           "/dashboard",
		Pricing:             money.DefaultPricing(),
		OutboundTimeout:     10 * time.Second,
		ImgBBURL:            "https://api.imgbb.com/1/upload",
		UploadRateLimit:     10,
		DailyUploadLimit:    100,
		ReservationsPer:     3,
		RevisionWindow:      48 * time.Hour,
		MailFrom:            "Microtask <no-reply@localhost>",
		AppURL:              "http://localhost:5173",
		StreamsPerUser:      5,
		StreamsMax:          500,
		MessageRateLimit:    30,
		APIKeyRateLimit:     300,

		MilestoneAutoRelease: 14 * 24 * time.Hour,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() defaults (-want +got):\n%s", diff)
	}
	if !got.Embedded() {
		t.Errorf("Embedded() = false without MONGODB_URI")
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	secret := strings.Repeat("s", 40)
	got, err := Load(env(map[string]string{
		"PORT":                        "8080",
		"MONGODB_URI":                 "mongodb+srv://u:p@cluster.example.net/?retryWrites=true",
		"MONGODB_DATABASE":            "prod",
		"DATA_DIR":                    "/var/lib/microtask",
		"JWT_SECRET":                  secret,
		"JWT_TTL":                     "2h",
		"BCRYPT_COST":                 "12",
		"ADMIN_EMAIL":                 "root@example.com",
		"ADMIN_PASSWORD":              " Pass word1 ",
		"ADMIN_NAME":                  "Root",
		"CORS_ORIGINS":                " https://app.example.com/ , https://admin.example.com",
		"LOG_LEVEL":                   "debug",
		"AUTH_RATE_LIMIT_PER_MIN":     "0",
		"TRUSTED_PROXIES":             "1",
		"SHUTDOWN_TIMEOUT":            "5s",
		"DRAIN_DELAY":                 "0",
		"LEDGER_RECOVERY_INTERVAL":    "1m",
		"AUTO_APPROVE_AFTER":          "24h",
		"JOBS_INTERVAL":               "30s",
		"DEBUG_ADDR":                  "127.0.0.1:6060",
		"METRICS_ADDR":                ":9090",
		"STRIPE_SECRET_KEY":           "sk_test_abc",
		"STRIPE_WEBHOOK_SECRET":       "whsec_xyz",
		"STRIPE_API_URL":              "http://127.0.0.1:12111",
		"PAYMENT_SUCCESS_URL":         "https://app.example.com/paid/",
		"PAYMENT_CANCEL_URL":          "https://app.example.com/buy",
		"WITHDRAWAL_METHODS":          " PayPal, bkash ",
		"SIGNUP_BONUS_WORKER":         "0",
		"SIGNUP_BONUS_BUYER":          "25",
		"COIN_PACKAGES":               " 1000:40 , 100:4.5,10:0.99",
		"WITHDRAWAL_COINS_PER_DOLLAR": "25",
		"WITHDRAWAL_MIN_COINS":        "500",
		"OUTBOUND_TIMEOUT":            "3s",
		"PUBLIC_URL":                  "https://api.example.com/",
		"APP_ROUTE_BASE":              "/app",
		"IMGBB_API_KEY":               "imgbb-key",
		"IMGBB_URL":                   "http://127.0.0.1:9999/1/upload",
		"UPLOAD_RATE_LIMIT_PER_MIN":   "30",
		"UPLOAD_DAILY_LIMIT":          "7",
		"RESERVATIONS_PER_WORKER":     "5",
		"REVISION_WINDOW":             "24h",
		"MILESTONE_AUTO_RELEASE":      "72h",
		"GOOGLE_CLIENT_ID":            "123.apps.googleusercontent.com",
		"GOOGLE_CERTS_URL":            "http://127.0.0.1:9998/certs",
		"SMTP_URL":                    "smtps://mailer:secret@smtp.example.com:465",
		"MAIL_FROM":                   "Microtask <no-reply@example.com>",
		"APP_URL":                     "https://app.example.com/",
		"STREAMS_PER_USER":            "3",
		"STREAMS_MAX":                 "100",
		"MESSAGE_RATE_LIMIT_PER_MIN":  "12",
		"API_KEY_RATE_LIMIT_PER_MIN":  "60",
		"WEBHOOKS_ALLOW_PRIVATE":      "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr:            ":8080", // PORT, since HTTP_ADDR is unset
		MongoURI:            "mongodb+srv://u:p@cluster.example.net/?retryWrites=true",
		MongoDatabase:       "prod",
		DataDir:             "/var/lib/microtask",
		JWTSecret:           secret,
		JWTTTL:              2 * time.Hour,
		BcryptCost:          12,
		AdminEmail:          "root@example.com",
		AdminPassword:       " Pass word1 ",
		AdminName:           "Root",
		CORSOrigins:         []string{"https://app.example.com", "https://admin.example.com"},
		LogLevel:            slog.LevelDebug,
		AuthRateLimitPerMin: 0,
		TrustedProxies:      1,
		ShutdownTimeout:     5 * time.Second,
		DrainDelay:          0,
		RecoveryInterval:    time.Minute,
		AutoApproveAfter:    24 * time.Hour,
		JobsInterval:        30 * time.Second,
		DebugAddr:           "127.0.0.1:6060",
		MetricsAddr:         ":9090",
		PaymentGateway:      GatewayStripe,
		StripeSecretKey:     "sk_test_abc",
		StripeWebhookSecret: "whsec_xyz",
		StripeAPIURL:        "http://127.0.0.1:12111",
		PaymentSuccessURL:   "https://app.example.com/paid",
		PaymentCancelURL:    "https://app.example.com/buy",
		WithdrawalMethods:   []string{"paypal", "bkash"},
		Pricing: money.Pricing{WorkerBonus: 0, BuyerBonus: 25, CoinsPerDollar: 25, MinWithdrawal: 500,
			Packages: []money.Package{{Coins: 10, Price: 99}, {Coins: 100, Price: 450}, {Coins: 1000, Price: 4000}}},
		OutboundTimeout:      3 * time.Second,
		PublicURL:            "https://api.example.com",
		RouteBase:            "/app",
		ImgBBKey:             "imgbb-key",
		ImgBBURL:             "http://127.0.0.1:9999/1/upload",
		UploadRateLimit:      30,
		DailyUploadLimit:     7,
		ReservationsPer:      5,
		RevisionWindow:       24 * time.Hour,
		MilestoneAutoRelease: 72 * time.Hour,
		GoogleClientID:       "123.apps.googleusercontent.com",
		GoogleCertsURL:       "http://127.0.0.1:9998/certs",
		SMTPURL:              "smtps://mailer:secret@smtp.example.com:465",
		MailFrom:             "Microtask <no-reply@example.com>",
		AppURL:               "https://app.example.com",
		StreamsPerUser:       3,
		StreamsMax:           100,
		MessageRateLimit:     12,
		APIKeyRateLimit:      60,
	}
	want.WebhooksAllowPrivate = true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() (-want +got):\n%s", diff)
	}
	got, err = Load(env(map[string]string{"PORT": "8080", "HTTP_ADDR": "127.0.0.1:9000"}))
	if err != nil || got.HTTPAddr != "127.0.0.1:9000" {
		t.Errorf("HTTP_ADDR = %q, %v; want it to win over PORT", got.HTTPAddr, err)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"port", map[string]string{"PORT": "99999"}, []string{"PORT must be a whole number from 1 to 65535"}},
		{"flag", map[string]string{"WEBHOOKS_ALLOW_PRIVATE": "yes"}, []string{"WEBHOOKS_ALLOW_PRIVATE must be 1 or 0"}},
		{"addr", map[string]string{"HTTP_ADDR": "localhost"}, []string{"HTTP_ADDR must be host:port"}},
		{"uri scheme", map[string]string{"MONGODB_URI": "postgres://x", "JWT_SECRET": strings.Repeat("s", 32)}, []string{"MONGODB_URI must start with"}},
		{"secret required", map[string]string{"MONGODB_URI": "mongodb://x"}, []string{"JWT_SECRET is required"}},
		{"smtp url", map[string]string{"SMTP_URL": "http://mail.example.com"}, []string{"SMTP_URL must be smtp://"}},
		{"mail from", map[string]string{"MAIL_FROM": "nobody"}, []string{"MAIL_FROM must be an email address"}},
		{"secret short", map[string]string{"JWT_SECRET": "short"}, []string{"JWT_SECRET must be at least 32"}},
		{"database name", map[string]string{"MONGODB_DATABASE": "a.b"}, []string{"MONGODB_DATABASE must be a plain name"}},
		{"origin", map[string]string{"CORS_ORIGINS": "localhost:5173"}, []string{"CORS_ORIGINS must be a comma list"}},
		{"origin with path", map[string]string{"CORS_ORIGINS": "https://a.example/app"}, []string{"CORS_ORIGINS must be a comma list"}},
		{"level", map[string]string{"LOG_LEVEL": "chatty"}, []string{"LOG_LEVEL must be debug"}},
		{"duration", map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, []string{"SHUTDOWN_TIMEOUT must be a positive duration"}},
		{"stripe key", map[string]string{"STRIPE_SECRET_KEY": "pk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}, []string{"STRIPE_SECRET_KEY must be a Stripe secret key"}},
		{"stripe without webhook secret", map[string]string{"STRIPE_SECRET_KEY": "sk_test_1"}, []string{"STRIPE_WEBHOOK_SECRET must be the webhook signing secret"}},
		{"gateway", map[string]string{"PAYMENT_GATEWAY": "paypal"}, []string{"PAYMENT_GATEWAY must be stripe or dummy"}},
		{"stripe gateway without a key", map[string]string{"PAYMENT_GATEWAY": "stripe"}, []string{"PAYMENT_GATEWAY is stripe but STRIPE_SECRET_KEY is not set"}},
		{"dummy gateway with a key", map[string]string{"PAYMENT_GATEWAY": "dummy", "STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"},
			[]string{"PAYMENT_GATEWAY is dummy but STRIPE_SECRET_KEY is set"}},
		{"route base", map[string]string{"APP_ROUTE_BASE": "dashboard"}, []string{"APP_ROUTE_BASE must be a path"}},
		{"success url", map[string]string{"PAYMENT_SUCCESS_URL": "/paid"}, []string{"PAYMENT_SUCCESS_URL must be an absolute http(s) URL"}},
		{"bonus", map[string]string{"SIGNUP_BONUS_BUYER": "-1"}, []string{"SIGNUP_BONUS_BUYER must be a whole number"}},
		{"payout rate", map[string]string{"WITHDRAWAL_COINS_PER_DOLLAR": "0"}, []string{"WITHDRAWAL_COINS_PER_DOLLAR must be a whole number from 1"}},
		{"minimum withdrawal", map[string]string{"WITHDRAWAL_MIN_COINS": "x"}, []string{"WITHDRAWAL_MIN_COINS must be a whole number"}},
		{"package without price", map[string]string{"COIN_PACKAGES": "10"}, []string{"COIN_PACKAGES must be a comma list of coins:dollars"}},
		{"package priced in fractions of a cent", map[string]string{"COIN_PACKAGES": "10:0.999"}, []string{"COIN_PACKAGES must be a comma list"}},
		{"package for nothing", map[string]string{"COIN_PACKAGES": "10:0"}, []string{"COIN_PACKAGES must be a comma list"}},
		{"package of no coins", map[string]string{"COIN_PACKAGES": "0:1"}, []string{"COIN_PACKAGES must be a comma list"}},
		{"package twice", map[string]string{"COIN_PACKAGES": "10:1,10:2"}, []string{"COIN_PACKAGES lists 10 coins twice"}},
		{"no packages", map[string]string{"COIN_PACKAGES": " , "}, []string{"COIN_PACKAGES must"}},
		{"methods", map[string]string{"WITHDRAWAL_METHODS": "bank transfer"}, []string{"WITHDRAWAL_METHODS must be a comma list"}},
		{"no methods", map[string]string{"WITHDRAWAL_METHODS": " , "}, []string{"WITHDRAWAL_METHODS must list at least one"}},
		{"public url", map[string]string{"PUBLIC_URL": "api.example.com"}, []string{"PUBLIC_URL must be an absolute http(s) URL"}},
		{"debug addr", map[string]string{"DEBUG_ADDR": "6060"}, []string{"DEBUG_ADDR must be host:port"}},
		{"metrics addr", map[string]string{"METRICS_ADDR": "9090"}, []string{"METRICS_ADDR must be host:port"}},
		{"bcrypt cost", map[string]string{"BCRYPT_COST": "31"}, []string{"BCRYPT_COST must be a whole number from 4 to 16"}},
		{"admin half set", map[string]string{"ADMIN_EMAIL": "a@b.c"}, []string{"ADMIN_EMAIL and ADMIN_PASSWORD must be set together"}},
		{"drain delay", map[string]string{"DRAIN_DELAY": "-1s"}, []string{"DRAIN_DELAY must be a positive duration"}},
		{"jwt ttl", map[string]string{"JWT_TTL": "forever"}, []string{"JWT_TTL must be a positive duration"}},
		{"several at once", map[string]string{"PORT": "x", "TRUSTED_PROXIES": "-2"}, []string{"PORT must", "TRUSTED_PROXIES must"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load() error = nil, want %q", tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Load() error spans lines: %q", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestPaymentGateway: the dummy gateway mints coins for whoever asks, so a
// production deployment (MONGODB_URI) only gets it when it says so.
func TestPaymentGateway(t *testing.T) {
	mongo := map[string]string{"MONGODB_URI": "mongodb://db", "JWT_SECRET": strings.Repeat("s", 32)}
	stripe := map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}
	with := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			maps.Copy(out, m)
		}
		return out
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded, nothing said: the demo's dummy", nil, GatewayDummy},
		{"embedded with Stripe", stripe, GatewayStripe},
		{"embedded, dummy said", map[string]string{"PAYMENT_GATEWAY": "dummy"}, GatewayDummy},
		{"MongoDB, nothing said: none", mongo, GatewayNone},
		{"MongoDB, dummy said", with(mongo, map[string]string{"PAYMENT_GATEWAY": "Dummy"}), GatewayDummy},
		{"MongoDB with Stripe", with(mongo, stripe), GatewayStripe},
		{"MongoDB, stripe said", with(mongo, stripe, map[string]string{"PAYMENT_GATEWAY": "stripe"}), GatewayStripe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(env(tt.env))
			if err != nil || got.PaymentGateway != tt.want {
				t.Errorf("PaymentGateway = %q, %v; want %q", got.PaymentGateway, err, tt.want)
			}
		})
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MONGODB_URI":           "mongodb://admin:hunter2@db.example:27017/?authSource=admin",
		"JWT_SECRET":            strings.Repeat("k", 48),
		"ADMIN_EMAIL":           "root@example.com",
		"ADMIN_PASSWORD":        "Sup3rSecretAdmin",
		"STRIPE_SECRET_KEY":     "sk_live_topsecret",
		"STRIPE_WEBHOOK_SECRET": "whsec_topsecret",
		"IMGBB_API_KEY":         "imgbb-topsecret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, strings.Repeat("k", 48)) || strings.Contains(out, "Sup3rSecretAdmin") ||
		strings.Contains(out, "topsecret") {
		t.Errorf("log leaks a secret: %s", out)
	}
	if !strings.Contains(out, "admin:REDACTED@db.example") || !strings.Contains(out, `"jwt_secret_set":true`) {
		t.Errorf("log = %s, want the redacted URI and jwt_secret_set", out)
	}
}

func TestLookalikes(t *testing.T) {
	if got := Lookalikes(env(nil)); len(got) != 0 {
		t.Errorf("Lookalikes() with nothing set = %q", got)
	}
	got := Lookalikes(env(map[string]string{"MONGO_URI": "mongodb://db", "MONGODB_URI": "", "IMGBB_KEY": "k", "PORT": "1"}))
	want := []string{"IMGBB_KEY is set but not read: did you mean IMGBB_API_KEY?", "MONGO_URI is set but not read: did you mean MONGODB_URI?"}
	if !slices.Equal(got, want) {
		t.Errorf("Lookalikes() = %q, want %q", got, want)
	}
	// None of them is a variable of ours; what they point at is.
	read := map[string]bool{}
	_, _ = Load(func(k string) string { read[k] = true; return "" })
	for name, ours := range lookalikes {
		if read[name] || !read[ours] {
			t.Errorf("%s -> %s: ours read %v, lookalike read %v", name, ours, read[ours], read[name])
		}
	}
}

// TestLogValueDurations: every duration in the configuration is in the
// start-up line, and as a Go duration ("48h0m0s"), not as nanoseconds
// (issue 20).
func TestLogValueDurations(t *testing.T) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	want := map[string]string{} // field name → the value the log must show
	for i := range v.NumField() {
		if f := v.Field(i); f.Type() == reflect.TypeFor[time.Duration]() {
			d := time.Duration(i+1)*time.Hour + 30*time.Second
			f.SetInt(int64(d))
			want[v.Type().Field(i).Name] = d.String()
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("listening", "config", c)
	var line struct{ Config map[string]any }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for key, val := range line.Config {
		if s, ok := val.(string); ok {
			logged[s] = true
		}
		if n, ok := val.(float64); ok && n >= float64(time.Hour) {
			t.Errorf("%s = %v: a duration logged as nanoseconds", key, val)
		}
	}
	for field, d := range want {
		if !logged[d] {
			t.Errorf("Config.%s (%s) is not in the log line as a duration: %s", field, d, buf.String())
		}
	}
}
