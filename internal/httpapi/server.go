// Package httpapi serves the JSON API under /api: chi routes, middleware,
// request and response types, and the one place where errors become RFC 9457
// problem responses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-playground/validator/v10"

	"microtask/internal/adminlog"
	"microtask/internal/announcement"
	"microtask/internal/apikey"
	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/batch"
	"microtask/internal/block"
	"microtask/internal/chat"
	"microtask/internal/contract"
	"microtask/internal/friend"
	"microtask/internal/idempotency"
	"microtask/internal/invoice"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/notification"
	"microtask/internal/payment"
	"microtask/internal/qualification"
	"microtask/internal/report"
	"microtask/internal/reputation"
	"microtask/internal/reservation"
	"microtask/internal/review"
	"microtask/internal/stats"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/upload"
	"microtask/internal/user"
	"microtask/internal/webhook"
	"microtask/internal/withdrawal"
)

// Readiness reports whether the database can serve requests, and if not,
// why (an apperr.Unavailable error). docdb.DB implements it.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Observer learns of every answered request and every open notification
// stream, for metrics. *metrics.Metrics implements it.
type Observer interface {
	// Request is called once a request is answered, with its route
	// pattern ("" when no route matched).
	Request(route, method string, status int, d time.Duration)
	// StreamOpened is called when a stream opens; it returns the function
	// to call when it closes.
	StreamOpened() (closed func())
}

type noObserver struct{}

func (noObserver) Request(string, string, int, time.Duration) {}
func (noObserver) StreamOpened() func()                       { return func() {} }

// Options configures a Server.
type Options struct {
	Log                 *slog.Logger
	Metrics             Observer // nil: none
	DB                  Readiness
	Users               *user.Service
	Tasks               *task.Service
	Submissions         *submission.Service
	Blocks              *block.Service
	Records             *reputation.Service
	Reservations        *reservation.Service
	Reviews             *review.Service
	Notifications       *notification.Service
	Payments            *payment.Service
	Withdrawals         *withdrawal.Service
	Reports             *report.Service
	Stats               *stats.Service
	Ledger              *ledger.Ledger
	Uploads             *upload.Service
	Keys                *idempotency.Keys
	AdminLog            *adminlog.Log
	LocalUploads        *upload.Dir // the directory /uploads/ serves; nil when images go to imgBB
	PublicURL           string      // this server's public base URL, for absolute image URLs; empty: the request's host
	UploadRateLimit     int         // uploads per user per minute, and sign-ups with a photo per IP; 0 disables
	CORSOrigins         []string
	TrustedProxies      int // reverse proxies whose X-Forwarded-For entries are trusted
	AuthRateLimitPerMin int // per client IP on sign-up and login; 0 disables
	Chat                *chat.Service
	Friends             *friend.Service
	Announcements       *announcement.Service
	MessageRateLimit    int // messages per user per minute; 0 disables
	APIKeys             *apikey.Service
	APIKeyRateLimit     int // requests per API key per minute; 0 disables
	Qualifications      *qualification.Service
	Webhooks            *webhook.Service
	Batches             *batch.Service
	Invoices            *invoice.Service
	Jobs                *job.Service
	Contracts           *contract.Service
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	log            *slog.Logger
	db             Readiness
	users          *user.Service
	tasks          *task.Service
	submissions    *submission.Service
	blocks         *block.Service
	reputation     *reputation.Service
	reservations   *reservation.Service
	reviews        *review.Service
	notifications  *notification.Service
	payments       *payment.Service
	withdrawals    *withdrawal.Service
	reports        *report.Service
	stats          *stats.Service
	ledger         *ledger.Ledger
	uploads        *upload.Service
	keys           *idempotency.Keys
	adminLog       *adminlog.Log
	localUploads   *upload.Dir
	publicURL      string
	trustedProxies int
	uploadLimit    func(http.Handler) http.Handler
	photoLimit     func(http.Handler) http.Handler // the upload limit per IP, for sign-ups with a photo
	validator      *validator.Validate
	authLimit      func(http.Handler) http.Handler // the per-IP limit for sign-up and login
	apiKeys        *apikey.Service
	qualifications *qualification.Service
	webhooks       *webhook.Service
	batches        *batch.Service
	invoices       *invoice.Service
	jobs           *job.Service
	contracts      *contract.Service
	keyLimit       func(http.Handler) http.Handler // the per-key limit of requests with an API key
	handler        http.Handler
	metrics        Observer
	chat           *chat.Service
	friends        *friend.Service
	announcements  *announcement.Service
	messageLimit   func(http.Handler) http.Handler // messages per user
	// The browser origins allowed to open a socket (CORS_ORIGINS), or any.
	socketOrigins   []string
	anySocketOrigin bool

	closing   chan struct{} // closed by CloseStreams
	closeOnce sync.Once
	draining  atomic.Bool // set by Drain: not ready any more
}

// resendPerMinute is how many verification mails a user may ask for per
// minute.
const resendPerMinute = 2

// NewServer returns the API server.
func NewServer(o Options) *Server {
	s := &Server{
		log:            o.Log,
		db:             o.DB,
		users:          o.Users,
		tasks:          o.Tasks,
		submissions:    o.Submissions,
		blocks:         o.Blocks,
		reputation:     o.Records,
		reservations:   o.Reservations,
		reviews:        o.Reviews,
		notifications:  o.Notifications,
		payments:       o.Payments,
		withdrawals:    o.Withdrawals,
		reports:        o.Reports,
		stats:          o.Stats,
		ledger:         o.Ledger,
		uploads:        o.Uploads,
		keys:           o.Keys,
		adminLog:       o.AdminLog,
		localUploads:   o.LocalUploads,
		publicURL:      strings.TrimRight(o.PublicURL, "/"),
		trustedProxies: o.TrustedProxies,
		uploadLimit:    rateLimitByUser(o.UploadRateLimit),
		photoLimit:     forMultipart(rateLimitByIP(o.UploadRateLimit)),
		validator:      newValidator(),
		authLimit:      rateLimitByIP(o.AuthRateLimitPerMin),
		apiKeys:        o.APIKeys,
		qualifications: o.Qualifications,
		webhooks:       o.Webhooks,
		batches:        o.Batches,
		invoices:       o.Invoices,
		jobs:           o.Jobs,
		contracts:      o.Contracts,
		keyLimit:       rateLimit(o.APIKeyRateLimit, func(r *http.Request) string { return principal(r).KeyID }),
		closing:        make(chan struct{}),
		metrics:        o.Metrics,
		chat:           o.Chat,
		friends:        o.Friends,
		announcements:  o.Announcements,
		messageLimit:   rateLimitByUser(o.MessageRateLimit),
	}
	s.socketOrigins, s.anySocketOrigin = socketOrigins(o.CORSOrigins)
	if s.metrics == nil {
		s.metrics = noObserver{}
	}
	s.handler = s.routes(o)
	return s
}

// CloseStreams ends every open notification stream. Call it when shutting
// down: http.Server.Shutdown waits for connections to go idle, which a
// stream never does.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

var (
	errRouteNotFound    = apperr.New(apperr.NotFound, "route_not_found", "no such endpoint; see /api/openapi.yaml")
	errMethodNotAllowed = apperr.New(apperr.Malformed, "method_not_allowed", "this endpoint does not accept that method")
)

func (s *Server) routes(o Options) http.Handler {
	r := chi.NewRouter()
	table := &routeTable{} // filled once every route is in
	r.Use(requestID, clientIP(o.TrustedProxies), s.accessLog, s.recoverPanics, securityHeaders,
		corsFor(o.CORSOrigins), limitBody(bodyLimit), table.guard)
	r.NotFound(routeNotFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		// chi does not tell a custom 405 handler which methods the path has
		// (the guard answers most 405s before chi routes).
		methodNotAllowed(w, req, table.methods(routingPath(req)))
	})

	// Image URLs point at the root (short, cacheable); the contract's
	// /api/uploads/{name} serves the same files for generated clients,
	// which call every operation below the spec's one server URL.
	r.Get(upload.PathPrefix+"{name}", s.handle(s.handleUploadGet))

	r.Route("/api", func(r chi.Router) {
		r.Get("/health", s.handle(s.handleHealth))
		r.Head("/health", s.handle(s.handleHealth))
		r.Get("/ready", s.handle(s.handleReady))
		r.Head("/ready", s.handle(s.handleReady))
		r.Get("/openapi.yaml", s.handle(handleOpenAPI))
		r.Head("/openapi.yaml", s.handle(handleOpenAPI))
		r.Get("/docs", s.handle(s.handleDocs))
		r.Head("/docs", s.handle(s.handleDocs))
		r.Get("/docs/{file}", s.handle(s.handleDocs)) // the page's scripts, styles and copy of the contract
		r.Get("/config", s.handle(s.handleConfig))

		r.Route("/auth", func(r chi.Router) {
			r.With(s.authLimit, s.photoLimit).Post("/register", s.handle(s.handleAuthRegister))
			r.With(s.authLimit).Post("/login", s.handle(s.handleAuthLogin))
			r.With(s.authLimit).Post("/google", s.handle(s.handleAuthGoogle))
			r.With(s.authenticate, s.scoped("")).Get("/me", s.handle(s.handleAuthMe)) // any key may ask whose it is
			r.With(s.authLimit).Post("/verify-email", s.handle(s.handleVerifyEmail))
			r.With(s.authLimit).Post("/password-reset", s.handle(s.handlePasswordReset))
			r.With(s.authLimit).Post("/password-reset/confirm", s.handle(s.handlePasswordResetConfirm))
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				// A mail per request: a few a minute per user at most.
				r.With(rateLimitByUser(resendPerMinute)).Post("/verify-email/resend", s.handle(s.handleVerifyEmailResend))
				r.With(s.authLimit).Put("/password", s.handle(s.handlePasswordChange))
				r.Post("/logout", s.handle(s.handleLogout))
				r.Post("/logout-all", s.handle(s.handleLogoutAll))
			})
		})
		r.Get("/workers", s.handle(s.handleWorkerSearch))
		r.Route("/users", func(r chi.Router) {
			r.Get("/top-workers", s.handle(s.handleTopWorkers))
			// Public; the user and admins also see the profile's views.
			r.With(s.identify).Get("/{id}", s.handle(s.handleUserProfile))
			r.Get("/{id}/reviews", s.handle(s.handleUserReviews))
			r.Get("/{id}/portfolio/{item_id}", s.handle(s.handlePortfolioGet))
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Get("/blocks", s.handle(s.handleBlockList))
				r.Post("/{id}/blocks", s.handle(s.handleBlockCreate))
				r.Delete("/{id}/blocks", s.handle(s.handleBlockDelete))
				r.Post("/friend-request", s.handle(s.handleFriendAsk))
				r.Get("/friend-request/{id}", s.handle(s.handleFriendRequestGet))
				r.Put("/friend-request/{id}/accept", s.handle(s.handleFriendAccept))
				r.Put("/friend-request/{id}/decline", s.handle(s.handleFriendDecline))
				r.Delete("/friend-request/{id}", s.handle(s.handleFriendWithdraw))
				r.Get("/friend-requests", s.handle(s.handleFriendRequests))
				r.Get("/friends", s.handle(s.handleFriendList))
				r.Delete("/friends/{user_id}", s.handle(s.handleUnfriend))
			})
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Put("/{id}", s.handle(s.handleUserUpdate))
				r.Patch("/{id}", s.handle(s.handleUserUpdate))
				r.Get("/{id}/preferences", s.handle(s.handlePreferencesGet))
				r.Put("/{id}/preferences", s.handle(s.handlePreferencesUpdate))
				r.Post("/{id}/portfolio", s.handle(s.handlePortfolioAdd))
				r.Patch("/{id}/portfolio/{item_id}", s.handle(s.handlePortfolioEdit))
				r.Delete("/{id}/portfolio/{item_id}", s.handle(s.handlePortfolioDelete))
				r.With(s.requireRole(auth.RoleAdmin)).Delete("/{id}", s.handle(s.handleUserDelete))
			})
		})

		r.Route("/tasks", func(r chi.Router) {
			// Public; a signed-in worker also sees their own submissions.
			read := s.scoped(auth.ScopeTasksRead)
			r.With(s.identify, read).Get("/", s.handle(s.handleTaskList))
			r.With(s.identify, read).Get("/available", s.handle(s.handleTaskAvailable))
			r.With(s.identify, read).Get("/{id}", s.handle(s.handleTaskGet))
			r.With(s.authenticate, s.requireRole(auth.RoleBuyer, auth.RoleAdmin), s.scoped(auth.ScopeSubmissionsRead)).
				Get("/{id}/submissions", s.handle(s.handleTaskSubmissions))
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleBuyer), s.scopedBy(auth.ScopeTasksRead, auth.ScopeTasksWrite))
				r.Get("/my", s.handle(s.handleTaskMine))
				r.With(s.idempotent).Post("/", s.handle(s.handleTaskCreate))
				r.Put("/{id}", s.handle(s.handleTaskUpdate))
				r.Patch("/{id}", s.handle(s.handleTaskUpdate))
				r.With(s.idempotent).Post("/{id}/slots", s.handle(s.handleTaskAddSlots))
				r.Put("/{id}/completion-date", s.handle(s.handleTaskExtend))
				r.Post("/{id}/close", s.handle(s.handleTaskClose))
				r.Post("/{id}/pause", s.handle(s.handleTaskPause(true)))
				r.Post("/{id}/resume", s.handle(s.handleTaskPause(false)))
				r.Delete("/{id}", s.handle(s.handleTaskDelete))
			})
		})

		r.Route("/jobs", func(r chi.Router) {
			// Public; a signed-in worker also sees their own proposal, and
			// may ask for the jobs open to them only.
			r.With(s.identify).Get("/", s.handle(s.handleJobList))
			r.With(s.identify).Get("/{id}", s.handle(s.handleJobGet))
			r.With(s.authenticate).Get("/{id}/invoice", s.handle(s.handleJobInvoices)) // the invoices of its contracts
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleBuyer))
				r.Get("/my", s.handle(s.handleJobMine))
				r.Post("/", s.handle(s.handleJobCreate))
				r.Patch("/{id}", s.handle(s.handleJobUpdate))
				r.Post("/{id}/close", s.handle(s.handleJobClose))
				r.Get("/{id}/proposals", s.handle(s.handleJobProposals))
				r.With(s.idempotent).Post("/{id}/hire", s.handle(s.handleHire))
				r.With(s.idempotent).Put("/{id}/hire", s.handle(s.handleHire)) // the specification's method
			})
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleWorker))
				r.Post("/{id}/proposals", s.handle(s.handleProposalCreate))
				r.Post("/{id}/bid", s.handle(s.handleProposalCreate)) // the specification's path
			})
		})
		r.Route("/contracts", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/my", s.handle(s.handleContractMine))
			r.Get("/{id}", s.handle(s.handleContractGet)) // its parties and admins
			r.Get("/{id}/invoices", s.handle(s.handleContractInvoices))
			r.Get("/{id}/milestones/{mid}", s.handle(s.handleMilestoneGet))
			r.With(s.idempotent).Post("/{id}/end", s.handle(s.handleContractEnd)) // either party
			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(auth.RoleBuyer))
				r.Post("/{id}/milestones", s.handle(s.handleMilestoneAdd))
				r.With(s.idempotent).Post("/{id}/milestones/{mid}/fund", s.handle(s.handleMilestoneFund))
				r.With(s.idempotent).Post("/{id}/payment", s.handle(s.handleContractPayment)) // the specification's path
				r.With(s.idempotent).Post("/{id}/milestones/{mid}/approve", s.handle(s.handleMilestoneApprove))
				r.Post("/{id}/milestones/{mid}/request-changes", s.handle(s.handleMilestoneChanges))
				r.With(s.idempotent).Post("/{id}/milestones/{mid}/refund", s.handle(s.handleMilestoneRefund)) // a missed rework
				r.With(s.idempotent).Post("/{id}/resume", s.handle(s.handleContractResume))
			})
			r.With(s.requireRole(auth.RoleWorker)).Post("/{id}/timesheets", s.handle(s.handleTimesheetCreate))
			r.Get("/{id}/timesheets", s.handle(s.handleTimesheets))   // its parties and admins
			r.Post("/{id}/disputes", s.handle(s.handleDisputeCreate)) // either party
			r.With(s.requireRole(auth.RoleWorker)).Post("/{id}/milestones/{mid}/submit", s.handle(s.handleMilestoneSubmit))
			r.With(s.requireRole(auth.RoleWorker)).Post("/{id}/milestones/{mid}/accept", s.handle(s.handleMilestoneAccept))
			r.With(s.requireRole(auth.RoleWorker)).Post("/{id}/milestones/{mid}/decline", s.handle(s.handleMilestoneDecline))
		})
		r.With(s.authenticate, s.requireRole(auth.RoleBuyer)).Put("/timesheets/{id}/approve", s.handle(s.handleTimesheetApprove))
		r.Route("/proposals", func(r chi.Router) {
			r.Use(s.authenticate)
			r.With(s.requireRole(auth.RoleWorker)).Get("/my", s.handle(s.handleProposalMine))
			r.Get("/{id}", s.handle(s.handleProposalGet)) // its worker or its job's buyer
			r.With(s.requireRole(auth.RoleWorker)).Delete("/{id}", s.handle(s.handleProposalWithdraw))
			r.With(s.requireRole(auth.RoleBuyer)).Put("/{id}/decline", s.handle(s.handleProposalDecline))
		})

		r.With(s.authenticate, s.requireRole(auth.RoleWorker)).Post("/tasks/{id}/reservations", s.handle(s.handleReservationCreate))
		r.Route("/reservations", func(r chi.Router) {
			r.Use(s.authenticate, s.requireRole(auth.RoleWorker))
			r.Get("/my", s.handle(s.handleReservationMine))
			r.Get("/{id}", s.handle(s.handleReservationGet))
			r.Delete("/{id}", s.handle(s.handleReservationDelete))
		})

		r.Route("/submissions", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(auth.RoleWorker))
				r.Post("/", s.handle(s.handleSubmissionCreate))
				r.With(s.scoped(auth.ScopeSubmissionsRead)).Get("/my", s.handle(s.handleSubmissionMine))
				r.With(s.scoped(auth.ScopeSubmissionsRead)).Get("/approved", s.handle(s.handleSubmissionApproved))
				r.Put("/{id}", s.handle(s.handleSubmissionResubmit))
			})
			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(auth.RoleBuyer), s.scopedBy(auth.ScopeSubmissionsRead, auth.ScopeSubmissionsReview))
				r.Get("/to-review", s.handle(s.handleSubmissionToReview))
				r.Post("/reviews", s.handle(s.handleSubmissionReviews))
				r.Put("/{id}/approve", s.handle(s.handleSubmissionApprove))
				r.Put("/{id}/reject", s.handle(s.handleSubmissionReject))
				r.Put("/{id}/request-revision", s.handle(s.handleSubmissionRequestRevision))
				r.With(s.idempotent).Post("/{id}/bonus", s.handle(s.handleSubmissionBonus))
			})
			r.With(s.scoped(auth.ScopeSubmissionsRead)).Get("/{id}", s.handle(s.handleSubmissionGet)) // its worker, its buyer or an admin
		})

		r.Route("/reviews", func(r chi.Router) {
			r.With(s.authenticate, s.requireRole(auth.RoleWorker, auth.RoleBuyer)).Post("/", s.handle(s.handleReviewCreate))
			// Public once visible; before, its author and admins.
			r.With(s.identify).Get("/{id}", s.handle(s.handleReviewGet))
			r.With(s.authenticate).Post("/{id}/reply", s.handle(s.handleReviewReply)) // the reviewee
		})

		r.With(s.authenticate).Get("/dashboard/stats", s.handle(s.handleDashboardStats))

		r.Get("/ws", s.handle(s.handleSocket)) // authenticates itself: ?ticket=
		r.Route("/chats", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/", s.handle(s.handleChatList))
			r.Get("/unread-count", s.handle(s.handleChatUnreadCount))
			r.Get("/{user_id}", s.handle(s.handleChatHistory))
			r.With(s.messageLimit).Post("/{user_id}", s.handle(s.handleChatSend))
			r.Put("/{user_id}/read", s.handle(s.handleChatRead))
		})
		r.With(s.authenticate).Get("/messages/{id}", s.handle(s.handleMessageGet))

		r.Route("/notifications", func(r chi.Router) {
			r.Get("/stream", s.handle(s.handleNotificationStream)) // authenticates itself: ?ticket=
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Get("/", s.handle(s.handleNotificationList))
				r.Get("/unread/count", s.handle(s.handleNotificationUnreadCount))
				r.Put("/read-all", s.handle(s.handleNotificationReadAll))
				r.Get("/{id}", s.handle(s.handleNotificationGet))
				r.Put("/{id}", s.handle(s.handleNotificationRead))
				r.Delete("/{id}", s.handle(s.handleNotificationDelete))
				r.Post("/stream-ticket", s.handle(s.handleStreamTicket))
				r.With(s.requireRole(auth.RoleAdmin)).Post("/", s.handle(s.handleNotificationAnnounce))
			})
		})

		r.Route("/payments", func(r chi.Router) {
			r.Get("/packages", s.handle(s.handlePaymentPackages))
			r.Post("/webhook", s.handle(s.handlePaymentWebhook)) // Stripe: verified by its signature
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleBuyer))
				r.With(s.idempotent).Post("/create", s.handle(s.handlePaymentCreate))
				r.With(s.idempotent).Post("/{id}/confirm", s.handle(s.handlePaymentConfirm))
				r.Get("/history", s.handle(s.handlePaymentHistory))
			})
			r.With(s.authenticate).Get("/{id}", s.handle(s.handlePaymentGet)) // its buyer, or an admin
		})

		r.Route("/invoices", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/", s.handle(s.handleInvoiceList))
			r.Get("/{id}", s.handle(s.handleInvoiceGet)) // its seller, its buyer, or an admin
		})

		r.Route("/withdrawals", func(r chi.Router) {
			r.Get("/methods", s.handle(s.handleWithdrawalMethods))
			r.Get("/terms", s.handle(s.handleWithdrawalTerms))
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleWorker))
				r.With(s.idempotent).Post("/", s.handle(s.handleWithdrawalCreate))
				r.Get("/my", s.handle(s.handleWithdrawalMine))
			})
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Get("/{id}", s.handle(s.handleWithdrawalGet)) // its worker, or an admin
			})
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate, s.requireRole(auth.RoleAdmin))
				r.Get("/pending", s.handle(s.handleWithdrawalPending))
				r.Put("/{id}/approve", s.handle(s.handleWithdrawalApprove))
				r.Put("/{id}/reject", s.handle(s.handleWithdrawalReject))
			})
		})

		r.With(s.authenticate, s.uploadLimit).Post("/uploads", s.handle(s.handleUploadCreate))
		r.Get("/uploads/{name}", s.handle(s.handleUploadGet))

		r.Route("/reports", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Post("/", s.handle(s.handleReportCreate))
			r.Get("/my", s.handle(s.handleReportMine))
			r.Get("/{id}", s.handle(s.handleReportGet)) // its reporter, or an admin
		})

		r.Route("/qualifications", func(r chi.Router) {
			r.Use(s.authenticate, s.scoped(auth.ScopeQualifications))
			r.Post("/", s.handle(s.handleQualificationCreate))
			r.Get("/", s.handle(s.handleQualificationList))
			r.Get("/my", s.handle(s.handleQualificationMine))
			r.Get("/{id}", s.handle(s.handleQualificationGet))
			r.Patch("/{id}", s.handle(s.handleQualificationUpdate))
			r.Delete("/{id}", s.handle(s.handleQualificationDelete))
			r.Post("/{id}/grants", s.handle(s.handleGrantSet))
			r.Get("/{id}/grants", s.handle(s.handleGrantList))
			r.Delete("/{id}/grants/{worker_id}", s.handle(s.handleGrantDelete))
			r.Post("/{id}/attempts", s.handle(s.handleAttemptCreate))
		})

		r.Route("/batches", func(r chi.Router) {
			r.Use(s.authenticate, s.requireRole(auth.RoleBuyer), s.scoped(auth.ScopeBatches))
			r.With(s.idempotent).Post("/", s.handle(s.handleBatchCreate))
			r.Get("/", s.handle(s.handleBatchList))
			r.Get("/{id}", s.handle(s.handleBatchGet))
			r.Post("/{id}/close", s.handle(s.handleBatchClose))
			r.Get("/{id}/results.csv", s.handle(s.handleBatchResults))
		})

		r.Route("/webhooks", func(r chi.Router) {
			r.Use(s.authenticate, s.scoped(auth.ScopeWebhooks))
			r.Post("/", s.handle(s.handleWebhookCreate))
			r.Get("/", s.handle(s.handleWebhookList))
			r.Get("/{id}", s.handle(s.handleWebhookGet))
			r.Patch("/{id}", s.handle(s.handleWebhookUpdate))
			r.Delete("/{id}", s.handle(s.handleWebhookDelete))
			r.Post("/{id}/test", s.handle(s.handleWebhookTest))
			r.Get("/{id}/deliveries", s.handle(s.handleWebhookDeliveries))
		})
		r.With(s.authenticate, s.scoped(auth.ScopeWebhooks)).Post("/webhook-deliveries/{id}/retry", s.handle(s.handleWebhookRetry))

		// A key never manages keys: these routes take no scope (keyRefused).
		r.Route("/api-keys", func(r chi.Router) {
			r.Use(s.authenticate)
			r.Post("/", s.handle(s.handleAPIKeyCreate))
			r.Get("/", s.handle(s.handleAPIKeyList))
			r.Get("/{id}", s.handle(s.handleAPIKeyGet))
			r.Delete("/{id}", s.handle(s.handleAPIKeyDelete))
		})

		r.Route("/admin", func(r chi.Router) {
			r.Use(s.authenticate, s.requireRole(auth.RoleAdmin))
			r.Get("/stats", s.handle(s.handleAdminStats))
			r.Get("/audit", s.handle(s.handleAdminAudit))
			r.Get("/actions", s.handle(s.handleAdminActions))
			r.Get("/submissions", s.handle(s.handleAdminSubmissions))
			r.Get("/withdrawals", s.handle(s.handleAdminWithdrawals))
			r.Get("/users", s.handle(s.handleAdminUsers))
			r.Put("/users/{id}", s.handle(s.handleAdminUserUpdate))
			r.Delete("/users/{id}", s.handle(s.handleUserDelete))
			r.Delete("/users/{id}/purchase-block", s.handle(s.handleAdminPurchaseBlockClear))
			r.Get("/purchase-blocks", s.handle(s.handleAdminPurchaseBlocks))
			r.Get("/tasks", s.handle(s.handleAdminTasks))
			r.Delete("/tasks/{id}", s.handle(s.handleAdminTaskDelete))
			r.Get("/reports", s.handle(s.handleAdminReports))
			r.Get("/reports/{id}", s.handle(s.handleAdminReportGet))
			r.Put("/reports/{id}", s.handle(s.handleAdminReportDecide))
			r.Post("/announcements", s.handle(s.handleAnnouncementCreate))
			r.Get("/announcements/{id}", s.handle(s.handleAnnouncementGet))
			r.Delete("/reviews/{id}", s.handle(s.handleAdminReviewDelete))
		})
	})
	*table = *newRouteTable(r)
	return r
}

// Routes lists every route as "METHOD /path", for the test that keeps
// api/openapi.yaml in step with the router.
func (s *Server) Routes() ([]string, error) {
	var out []string
	err := chi.Walk(s.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, method+" "+route)
		return nil
	})
	return out, err
}
