package app

import (
	"context"
	"time"

	"microtask/internal/httpapi"
	"microtask/internal/platform/config"
	"microtask/internal/upload"
)

// ServerOptions are the options of the HTTP server over a's services: its
// web settings from cfg, and /uploads/ serving the directory that keeps
// the images, when a directory keeps them (not imgBB).
func (a *App) ServerOptions(cfg config.Config) httpapi.Options {
	o := httpapi.Options{
		Log:                 a.config.Log,
		DB:                  a.db,
		Users:               a.Users,
		Tasks:               a.Tasks,
		Submissions:         a.Submissions,
		Blocks:              a.Blocks,
		Records:             a.Records,
		Reservations:        a.Reservations,
		Reviews:             a.Reviews,
		Notifications:       a.Notifications,
		Payments:            a.Payments,
		Withdrawals:         a.Withdrawals,
		Reports:             a.Reports,
		Stats:               a.Stats,
		Ledger:              a.Ledger,
		Keys:                a.Keys,
		AdminLog:            a.AdminLog,
		Uploads:             a.Uploads,
		Chat:                a.Chat,
		Friends:             a.Friends,
		Announcements:       a.Announcements,
		MessageRateLimit:    cfg.MessageRateLimit,
		PublicURL:           cfg.PublicURL,
		UploadRateLimit:     cfg.UploadRateLimit,
		CORSOrigins:         cfg.CORSOrigins,
		TrustedProxies:      cfg.TrustedProxies,
		AuthRateLimitPerMin: cfg.AuthRateLimitPerMin,
		APIKeys:             a.APIKeys,
		APIKeyRateLimit:     cfg.APIKeyRateLimit,
		Qualifications:      a.Qualifications,
		Webhooks:            a.Webhooks,
		Batches:             a.Batches,
		Invoices:            a.Invoices,
		Jobs:                a.Projects,
		Contracts:           a.Contracts,
	}
	if a.config.Metrics != nil { // a nil *metrics.Metrics is not a nil Observer
		o.Metrics = a.config.Metrics
	}
	if dir, ok := a.config.ImageHost.(upload.Dir); ok {
		o.LocalUploads = &dir
	}
	return o
}

// Job is background work of the services, which serve runs until it
// stops. A job has a Round or a Loop.
type Job struct {
	Name     string        // names the job's lease and its metrics
	Interval time.Duration // between rounds
	// Round does one round and says how many things it did, which Did
	// names in the log ("tasks expired"). Rounds are shared out: every
	// Interval, the instance that gets the lease called Name does one.
	Round func(ctx context.Context) (int64, error)
	Did   string
	// First, if set, runs once on every instance before its first round,
	// or before its Loop.
	First func(ctx context.Context)
	// Loop is work every instance does for itself, every interval until
	// ctx is done.
	Loop func(ctx context.Context, interval time.Duration)
}

// Jobs is the services' background work, at the intervals of cfg.
func (a *App) Jobs(cfg config.Config) []Job {
	log := a.config.Log
	jobs := []Job{
		{Name: "recover-operations", Interval: cfg.RecoveryInterval, Loop: a.Operations.RunRecovery,
			First: func(ctx context.Context) {
				if !a.config.SoleWriter {
					return // another instance may be running them: their leases say when they are abandoned
				}
				// The only writer, just started: what is in flight was a
				// dead process's, to finish now rather than a lease later.
				if n, err := a.Operations.RecoverAbandoned(ctx); err != nil && ctx.Err() == nil {
					log.ErrorContext(ctx, "recover operations left in flight", "err", err)
				} else if n > 0 {
					log.InfoContext(ctx, "operations left in flight recovered", "count", n)
				}
			}},
		// Every instance delivers the outbox: a message is claimed before
		// it is sent, so none goes out twice. Retries are due at most
		// every 30 s.
		{Name: "deliver-mail", Interval: 30 * time.Second, Loop: a.Outbox.Run},
		// And the webhooks' outbox, likewise claimed before each post. An
		// event stored here wakes the loop at once; every 5 s it also picks
		// up retries and what other instances stored.
		{Name: "deliver-webhooks", Interval: 5 * time.Second, Loop: a.Webhooks.Run},
		{Name: "forget-webhook-deliveries", Interval: time.Hour, Round: a.Webhooks.Forget, Did: "old webhook deliveries forgotten"},
		{Name: "auto-approve", Interval: cfg.JobsInterval, Round: counted(a.Submissions.AutoApproveDue),
			Did: "submissions approved automatically"},
		{Name: "release-milestones", Interval: cfg.JobsInterval, Round: counted(a.Contracts.ReleaseDue),
			Did: "milestones released and timesheets approved automatically"},
		{Name: "fund-weeks", Interval: cfg.JobsInterval, Round: counted(a.Contracts.FundWeeks),
			Did: "weeks of hourly contracts funded"},
		{Name: "refund-unlogged-weeks", Interval: cfg.JobsInterval, Round: counted(a.Contracts.RefundUnlogged),
			Did: "weeks never logged refunded to their buyers"},
		{Name: "expire-tasks", Interval: cfg.JobsInterval, Round: counted(a.Tasks.ExpireDue), Did: "tasks expired"},
		{Name: "complete-batches", Interval: cfg.JobsInterval, Round: counted(a.Batches.CompleteDue), Did: "batches completed"},
		{Name: "reject-overdue-revisions", Interval: cfg.JobsInterval, Round: counted(a.Submissions.RejectOverdue),
			Did: "overdue revisions rejected"},
		{Name: "expire-reservations", Interval: cfg.JobsInterval, Round: counted(a.Reservations.ExpireDue), Did: "reservations expired"},
		// Every instance works out at once the standings (levels, ratings)
		// that its own changes marked, and the others' every interval: a
		// record is marked in the write that changes it, so none is lost.
		{Name: "refresh-standings", Interval: cfg.JobsInterval, Loop: a.Records.RunRefresh},
		// Every instance counts the reviews it revealed at once, and those
		// that became visible by time every interval.
		{Name: "count-reviews", Interval: cfg.JobsInterval, Loop: a.Reviews.RunCounting},
		// Every instance writes the profile views it noted in memory.
		{Name: "flush-profile-views", Interval: 10 * time.Second, Loop: a.Users.RunViews},
		{Name: "forget-idempotency-keys", Interval: cfg.JobsInterval, Round: a.Keys.Sweep, Did: "idempotency keys forgotten"},
		{Name: "forget-login-failures", Interval: cfg.JobsInterval, Round: a.Users.ForgetLoginFailures, Did: "failed sign-ins forgotten"},
		// Notifications users want mailed too: each instance may run a
		// round, since each is queued once under its notification's id.
		{Name: "mail-notifications", Interval: 30 * time.Second, Round: counted(a.Notifications.MailOptedIn), Did: "notifications mailed"},
		// Conversations left unread: each mailed once per state, under
		// the conversation's and its last message's ids.
		{Name: "mail-unread-messages", Interval: time.Minute, Round: counted(a.Chat.MailUnread), Did: "unread conversations mailed"},
		// message.received events a message still owes (its sender's
		// process died before storing it): each instance may run a
		// round, since an event is stored once under its message's id.
		{Name: "emit-message-events", Interval: cfg.JobsInterval, Round: counted(a.Chat.EmitPending), Did: "message events stored"},
		// Announcements to everyone, in bounded batches; a round cut off
		// (a restart) is gone on from by the next, which sends nothing twice.
		{Name: "deliver-announcements", Interval: 5 * time.Second, Round: counted(a.Announcements.Deliver), Did: "users reached by announcements"},
		// The directory is this instance's: each adopts its own files. The
		// sweep then deletes the images nothing refers to, hourly: each
		// round reads every photo and task picture URL once.
		{Name: "sweep-uploads", Interval: time.Hour, Round: counted(a.Uploads.Sweep), Did: "unused images deleted",
			First: func(ctx context.Context) {
				if n, err := a.Uploads.Adopt(ctx); err != nil && ctx.Err() == nil {
					log.ErrorContext(ctx, "adopt unrecorded images", "err", err)
				} else if n > 0 {
					log.InfoContext(ctx, "unrecorded images adopted", "count", n)
				}
			}},
	}
	if !a.config.SoleWriter {
		jobs = append(jobs,
			// Several instances may share this database: pick up the
			// notifications the others store, for this instance's streams.
			Job{Name: "tail-notifications", Interval: time.Second, Loop: a.Notifications.Tail},
			// And the messages they store, for this instance's sockets.
			Job{Name: "tail-messages", Interval: time.Second, Loop: a.Chat.Tail},
			// And drop what this instance caches of users whose tokens
			// another revoked (sign-out, password change): a revoked token
			// stops working everywhere within about a second.
			Job{Name: "watch-token-changes", Interval: time.Second, Loop: a.Users.WatchTokenChanges})
	}
	return jobs
}

// counted is a round that counts in int as one that counts in int64.
func counted(round func(context.Context) (int, error)) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		n, err := round(ctx)
		return int64(n), err
	}
}
