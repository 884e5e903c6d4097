package config

import (
	"fmt"
	"slices"
)

// lookalikes are variables that look like ours but are not read: names
// other stacks and older versions of this app's specification use. Set by
// mistake, each is silently ignored; MONGO_URI, for one, would leave a
// deployment on the embedded database.
var lookalikes = map[string]string{
	"MONGO_URI":              "MONGODB_URI",
	"MONGO_URL":              "MONGODB_URI",
	"MONGODB_URL":            "MONGODB_URI",
	"DATABASE_URL":           "MONGODB_URI",
	"DB_URI":                 "MONGODB_URI",
	"DB_NAME":                "MONGODB_DATABASE",
	"MONGO_DB":               "MONGODB_DATABASE",
	"ACCESS_TOKEN_SECRET":    "JWT_SECRET",
	"JWT_KEY":                "JWT_SECRET",
	"TOKEN_SECRET":           "JWT_SECRET",
	"STRIPE_KEY":             "STRIPE_SECRET_KEY",
	"STRIPE_SECRET":          "STRIPE_SECRET_KEY",
	"STRIPE_SK":              "STRIPE_SECRET_KEY",
	"STRIPE_WEBHOOK_KEY":     "STRIPE_WEBHOOK_SECRET",
	"PAYMENT_GATEWAY_KEY":    "STRIPE_SECRET_KEY",
	"IMGBB_KEY":              "IMGBB_API_KEY",
	"IMAGE_HOSTING_KEY":      "IMGBB_API_KEY",
	"VITE_IMAGE_HOSTING_KEY": "IMGBB_API_KEY",
	"GOOGLE_OAUTH_CLIENT_ID": "GOOGLE_CLIENT_ID",
	"CLIENT_URL":             "CORS_ORIGINS",
	"FRONTEND_URL":           "CORS_ORIGINS",
	"CORS_ORIGIN":            "CORS_ORIGINS",
	"ALLOWED_ORIGINS":        "CORS_ORIGINS",
	"WITHDRAW_MIN_COINS":     "WITHDRAWAL_MIN_COINS",
	"METRICS_PORT":           "METRICS_ADDR",
	"PROMETHEUS_ADDR":        "METRICS_ADDR",
	"SMTP_URI":               "SMTP_URL",
	"EMAIL_FROM":             "MAIL_FROM",
	"FRONTEND_APP_URL":       "APP_URL",
	"WEBHOOK_ALLOW_PRIVATE":  "WEBHOOKS_ALLOW_PRIVATE",
	"API_KEYS_RATE_LIMIT":    "API_KEY_RATE_LIMIT_PER_MIN",
}

// Lookalikes returns a warning for every variable set in the environment
// that looks like one of ours but is not read.
func Lookalikes(getenv func(string) string) []string {
	var out []string
	for name, ours := range lookalikes {
		if getenv(name) != "" {
			out = append(out, fmt.Sprintf("%s is set but not read: did you mean %s?", name, ours))
		}
	}
	slices.Sort(out)
	return out
}
