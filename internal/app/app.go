// Package app assembles Microtask's services on a database: the one place
// that builds them, each whole from its collaborators, breaks the cycles
// between them (later), registers the kinds of operation they run with the
// operation engine and the invariants they add to the ledger's audit, and
// says what the HTTP server is given (ServerOptions) and which background
// jobs run (Jobs). cmd/microtask serves what it builds; the HTTP tests and
// the crash test build the same.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"microtask/internal/adminlog"
	"microtask/internal/announcement"
	"microtask/internal/apikey"
	"microtask/internal/auth"
	"microtask/internal/batch"
	"microtask/internal/block"
	"microtask/internal/chat"
	"microtask/internal/contract"
	"microtask/internal/docdb"
	"microtask/internal/friend"
	"microtask/internal/httpapi"
	"microtask/internal/idempotency"
	"microtask/internal/invoice"
	"microtask/internal/job"
	"microtask/internal/ledger"
	"microtask/internal/mail"
	"microtask/internal/money"
	"microtask/internal/notification"
	"microtask/internal/operation"
	"microtask/internal/payment"
	"microtask/internal/platform/metrics"
	"microtask/internal/qualification"
	"microtask/internal/report"
	"microtask/internal/reputation"
	"microtask/internal/reservation"
	"microtask/internal/review"
	"microtask/internal/safehttp"
	"microtask/internal/stats"
	"microtask/internal/storage"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/upload"
	"microtask/internal/user"
	"microtask/internal/webhook"
	"microtask/internal/withdrawal"
)

// Config is what the services need besides the database.
type Config struct {
	Log    *slog.Logger
	Now    func() time.Time // nil for time.Now; tests pass a clock they move
	Hasher *auth.Hasher
	Tokens *auth.Tokens
	// SoleWriter says that no other process writes to the database (the
	// embedded one), so that what the services cache stays right until they
	// change it themselves.
	SoleWriter        bool
	AutoApproveAfter  time.Duration
	Gateway           payment.Gateway
	Webhooks          payment.Webhooks // nil with the dummy gateway
	WithdrawalMethods []string
	Pricing           money.Pricing         // what coins are worth
	RouteBase         string                // where the app's pages live, for notifications' routes; "" for /dashboard
	ImageHost         upload.Host           // imgBB, or a directory of this server
	DailyUploadLimit  int                   // images a user may upload in 24 hours; 0: no limit
	ReservationsPer   int                   // live reservations a worker may hold; 0: reservation.DefaultPerWorker
	RevisionWindow    time.Duration         // how long a worker has to revise; 0: submission.DefaultRevisionWindow
	Mailer            mail.Sender           // where email goes; nil: to the log
	AppURL            string                // the public URL of the app's pages, for links in email
	StreamsPerUser    int                   // open notification streams per user; 0: DefaultStreamsPerUser
	StreamsMax        int                   // open notification streams in the process; 0: DefaultStreamsMax
	Metrics           *metrics.Metrics      // nil: none
	Google            user.IdentityVerifier // nil: Sign in with Google is not configured
	// HookClient posts webhooks; nil: https to public addresses only
	// (safehttp's defaults).
	HookClient *safehttp.Client

	// AutoRelease is how long a contract's submitted milestone waits for
	// its buyer; 0: contract.DefaultAutoRelease.
	AutoRelease time.Duration
}

// The default limits of live notification streams.
const (
	DefaultStreamsPerUser = 5
	DefaultStreamsMax     = 500
)

// Stores are the stores the services keep their documents in, for the tests
// that look at documents directly.
type Stores struct {
	Users          *storage.UserStore
	Tasks          *storage.TaskStore
	Submissions    *storage.SubmissionStore
	Notifications  *storage.NotificationStore
	Payments       *storage.PaymentStore
	PurchaseBlocks *storage.PurchaseBlockStore
	Withdrawals    *storage.WithdrawalStore
	Uploads        *storage.UploadStore
	Reservations   *storage.ReservationStore
	Mail           *storage.MailStore
	Chat           *storage.ChatStore
	Invoices       *storage.InvoiceStore
}

// App is the services on one database.
type App struct {
	Ledger        *ledger.Ledger
	Operations    *operation.Engine
	Users         *user.Service
	Notifications *notification.Service
	Tasks         *task.Service
	Submissions   *submission.Service
	Reservations  *reservation.Service
	Payments      *payment.Service
	Withdrawals   *withdrawal.Service
	Reports       *report.Service
	Stats         *stats.Service
	Keys          *idempotency.Keys
	AdminLog      *adminlog.Log
	Uploads       *upload.Service
	Blocks        *block.Service
	Records       *reputation.Service
	Reviews       *review.Service
	Outbox        *mail.Outbox
	Chat          *chat.Service
	Friends       *friend.Service
	Announcements *announcement.Service
	Invoices      *invoice.Service
	Stores        Stores

	// The requesters' tools.
	APIKeys        *apikey.Service
	Qualifications *qualification.Service
	Webhooks       *webhook.Service
	Batches        *batch.Service

	// Projects.
	Projects  *job.Service // jobs and their proposals (not Jobs: the background jobs are)
	Contracts *contract.Service

	db     *docdb.DB
	config Config
}

// New builds the services on db and registers their operations and audit
// checks. A kind of operation or a check registered twice is an error.
func New(db *docdb.DB, c Config) (*App, error) {
	now := c.Now
	a := &App{db: db, config: c, Stores: Stores{
		Users: storage.NewUserStore(db), Tasks: storage.NewTaskStore(db), Submissions: storage.NewSubmissionStore(db),
		Notifications: storage.NewNotificationStore(db), Payments: storage.NewPaymentStore(db),
		PurchaseBlocks: storage.NewPurchaseBlockStore(db), Withdrawals: storage.NewWithdrawalStore(db),
		Uploads: storage.NewUploadStore(db), Reservations: storage.NewReservationStore(db), Mail: storage.NewMailStore(db),
		Chat: storage.NewChatStore(db), Invoices: storage.NewInvoiceStore(db),
	}}
	st := a.Stores
	mailer := c.Mailer
	if mailer == nil {
		mailer = mail.Log{Log: c.Log}
	}
	a.Outbox = mail.NewOutbox(st.Mail, mailer, c.Log, now)
	l := &later{} // services that need each other reach the one built second through l
	a.Records = reputation.NewService(reputation.Deps{Store: storage.NewRecordStore(db), Members: members{l}, Log: c.Log, Now: now})
	a.AdminLog = adminlog.New(storage.NewAdminLogStore(db), now)
	a.Ledger = ledger.New(storage.NewLedgerStore(db), c.Log)
	var observer operation.Observer // a nil *metrics.Metrics is not a nil Observer
	if c.Metrics != nil {
		observer = c.Metrics
	}
	a.Operations = operation.NewEngine(storage.NewOperationStore(db), a.Ledger, observer, c.Log, now)
	a.Users = user.NewService(user.Deps{
		Store: st.Users, Ops: a.Operations, Ledger: a.Ledger, Holds: st.Withdrawals, Tasks: l, Ranking: a.Records, Admins: a.AdminLog,
		Mailer: a.Outbox, AccountTokens: storage.NewAccountTokenStore(db), AppURL: c.AppURL,
		Throttle: storage.NewLoginThrottleStore(db), Streams: l, Images: l, Views: storage.NewProfileViewStore(db), Google: c.Google,
		Pricing: c.Pricing, Hasher: c.Hasher, Tokens: c.Tokens, SoleWriter: c.SoleWriter, Log: c.Log, Now: now,
	})
	l.users = a.Users
	a.Notifications = notification.NewService(notification.Deps{
		Store: st.Notifications, Users: a.Users, Mailer: a.Outbox, Recipients: mailRecipients{a.Users}, AppURL: c.AppURL,
		RouteBase: c.RouteBase, StreamsPerUser: cmp.Or(c.StreamsPerUser, DefaultStreamsPerUser), StreamsMax: cmp.Or(c.StreamsMax, DefaultStreamsMax),
		SoleWriter: c.SoleWriter, Log: c.Log, Now: now,
	})
	l.notifications = a.Notifications
	hooks := c.HookClient
	if hooks == nil {
		hooks = safehttp.New(safehttp.Config{})
	}
	a.Webhooks = webhook.NewService(webhook.Deps{
		Store: storage.NewWebhookStore(db), Sender: hookSender{hooks}, Encoder: httpapi.EventEncoder{}, Mailer: a.Outbox, Users: a.Users,
		SoleWriter: c.SoleWriter, Log: c.Log, Now: now,
	})
	a.Qualifications = qualification.NewService(qualification.Deps{
		Store: storage.NewQualificationStore(db), Users: a.Users, Holders: a.Users, Tasks: l, Log: c.Log, Now: now,
	})
	a.Tasks = task.NewService(task.Deps{
		Store: st.Tasks, Ops: a.Operations, Notify: a.Notifications, Users: a.Users, Submissions: l, Reservations: l, Blocks: l,
		Records: a.Records, Workers: candidates{a.Users}, Qualifications: a.Qualifications, Admins: a.AdminLog, Events: a.Webhooks,
		AutoApproveAfter: c.AutoApproveAfter,
		Log:              c.Log, Now: now,
	})
	l.tasks = a.Tasks
	a.Blocks = block.NewService(storage.NewBlockStore(db), a.Tasks, a.Users, c.Log, now)
	l.blocks = a.Blocks
	a.Reservations = reservation.NewService(reservation.Deps{
		Store: st.Reservations, Tasks: a.Tasks, Submissions: l, Blocks: a.Blocks, Workers: candidates{a.Users}, Ops: a.Operations,
		PerWorker: c.ReservationsPer, Log: c.Log, Now: now,
	})
	l.reservations = a.Reservations
	a.Submissions = submission.NewService(submission.Deps{
		Store: st.Submissions, Tasks: a.Tasks, Ops: a.Operations, Notify: a.Notifications, Users: a.Users,
		Reservations: a.Reservations, Blocks: a.Blocks, Records: a.Records, Workers: candidates{a.Users}, Admins: a.AdminLog,
		Events: a.Webhooks, RevisionWindow: c.RevisionWindow, Log: c.Log, Now: now,
	})
	l.submissions = a.Submissions
	a.Invoices = invoice.NewService(invoice.Deps{Store: st.Invoices, Users: a.Users, Pricing: c.Pricing, Log: c.Log})
	a.Payments = payment.NewService(payment.Deps{
		Store: st.Payments, Blocks: st.PurchaseBlocks, Gateway: c.Gateway, Webhooks: c.Webhooks, Ops: a.Operations, Balances: a.Ledger,
		Notify: a.Notifications, Events: a.Webhooks, Invoices: a.Invoices, Admins: a.Users, AdminLog: a.AdminLog, Pricing: c.Pricing,
		Log: c.Log, Now: now,
	})
	a.Withdrawals = withdrawal.NewService(withdrawal.Deps{
		Store: st.Withdrawals, Ops: a.Operations, Notify: a.Notifications, Users: a.Users, Earnings: st.Submissions,
		Purchases: st.Payments, Admins: a.AdminLog, Pricing: c.Pricing, Systems: c.WithdrawalMethods, Log: c.Log, Now: now,
	})
	a.Projects = job.NewService(job.Deps{Store: storage.NewJobStore(db), Notify: a.Notifications, Users: a.Users,
		Workers: candidates{a.Users}, Qualifications: a.Qualifications, Log: c.Log, Now: now})
	l.jobs = a.Projects
	a.Contracts = contract.NewService(contract.Deps{Store: storage.NewContractStore(db), Ops: a.Operations, Jobs: a.Projects,
		Notify: a.Notifications, Events: a.Webhooks, Invoices: contractInvoices{a.Invoices}, Disputes: disputeReports{storage.NewReportStore(db)},
		Admins: a.AdminLog, AutoRelease: c.AutoRelease, Log: c.Log, Now: now})
	a.Friends = friend.NewService(friend.Deps{
		Store: storage.NewFriendStore(db), Users: a.Users, Blocks: a.Blocks, Notify: a.Notifications, Log: c.Log, Now: now,
	})
	a.Chat = chat.NewService(chat.Deps{
		Store: st.Chat, Users: a.Users, Blocks: a.Blocks, Friends: a.Friends, Tasks: a.Tasks, Reservations: a.Reservations,
		Submissions: a.Submissions, Projects: projects{a.Projects, a.Contracts}, Images: l, Presence: a.Notifications, Mailer: a.Outbox, Recipients: messageRecipients{a.Users},
		Events:      a.Webhooks,
		MessagesURL: strings.TrimRight(c.AppURL, "/") + cmp.Or(c.RouteBase, notification.DefaultRouteBase) + string(notification.Messages),
		Log:         c.Log, Now: now,
	})
	a.Announcements = announcement.NewService(announcement.Deps{
		Store: storage.NewAnnouncementStore(db), Users: a.Users, Notify: a.Notifications, Mailer: a.Outbox, AppURL: c.AppURL,
		Log: c.Log, Now: now,
	})
	a.Reports = report.NewService(report.Deps{
		Store: storage.NewReportStore(db), Tasks: a.Tasks, Submissions: a.Submissions, Users: a.Users, Messages: a.Chat, Contracts: a.Contracts,
		Notify: a.Notifications, Admins: a.AdminLog, Log: c.Log, Now: now,
	})
	a.Reviews = review.NewService(review.Deps{
		Store: storage.NewReviewStore(db), Subjects: subjects{a.Submissions, a.Contracts}, Ratings: a.Records, Users: a.Users, Admins: a.AdminLog,
		Log: c.Log, Now: now,
	})
	a.Batches = batch.NewService(batch.Deps{
		Store: storage.NewBatchStore(db), Tasks: a.Tasks, Submissions: a.Submissions, Events: a.Webhooks, Ops: a.Operations, Log: c.Log, Now: now,
	})
	a.Stats = stats.NewService(storage.NewStatsStore(db), now)
	a.APIKeys = apikey.NewService(apikey.Deps{Store: storage.NewAPIKeyStore(db), Owners: a.Users, SoleWriter: c.SoleWriter, Log: c.Log, Now: now})
	a.Keys = idempotency.NewKeys(storage.NewIdempotencyStore(db), now)
	// Profile photos, task pictures and messages' attachments are the
	// images in use.
	a.Uploads = upload.NewService(c.ImageHost, st.Uploads, []upload.Referrer{a.Users, a.Tasks, a.Chat}, c.DailyUploadLimit, c.Log, now)
	l.uploads = a.Uploads

	for _, defs := range [][]operation.Definition{
		a.Users.Operations(), a.Tasks.Operations(), a.Submissions.Operations(), a.Reservations.Operations(),
		a.Payments.Operations(), a.Withdrawals.Operations(), a.Batches.Operations(), a.Contracts.Operations(),
	} {
		if err := a.Operations.Register(defs...); err != nil {
			return nil, fmt.Errorf("register operations: %w", err)
		}
	}
	if err := a.Ledger.AddCheck("escrow", a.Tasks.CheckEscrow); err != nil {
		return nil, err
	}
	if err := a.Ledger.AddCheck("contract escrow", a.Contracts.CheckEscrow); err != nil {
		return nil, err
	}
	return a, nil
}

// disputeReports files the disputes of milestones in the admins' queue of
// reports (contract.Disputes), as reports about the milestone by the party
// who disputed it.
type disputeReports struct{ store *storage.ReportStore }

// File implements contract.Disputes: a dispute filed already (by an
// earlier run of the same step: its ID is the report's) is left.
func (d disputeReports) File(ctx context.Context, dp contract.Dispute) error {
	err := d.store.Insert(ctx, report.Report{ID: dp.ID, Reporter: task.Party{ID: dp.By.ID, Name: dp.By.Name}, TargetType: report.TargetMilestone,
		TargetID: dp.ItemID, Reason: dp.Reason, Status: report.StatusOpen, CreatedAt: dp.At})
	if errors.Is(err, report.ErrAlreadyReported) {
		return nil
	}
	return err
}

// contractInvoices makes the invoice of a contract's payment
// (contract.Invoices): the worker sells to the buyer, one line naming the
// job and what was paid for, listed under the contract and the job.
type contractInvoices struct{ s *invoice.Service }

func (iv contractInvoices) Released(ctx context.Context, p contract.Payment) error {
	_, err := iv.s.Issue(ctx, invoice.Request{Ref: p.OperationID, Date: p.At,
		SellerID: p.Worker.ID, SellerName: p.Worker.Name, BuyerID: p.Buyer.ID, BuyerName: p.Buyer.Name,
		Lines:    []invoice.Line{{Description: invoice.Describe(p.JobTitle + ": " + p.MilestoneTitle), Coins: p.Coins}},
		Subjects: []invoice.Subject{{Type: invoice.SubjectContract, ID: p.ContractID}, {Type: invoice.SubjectJob, ID: p.JobID}}})
	return err
}

// hookSender is the webhook service's view of safehttp.
type hookSender struct{ c *safehttp.Client }

func (h hookSender) Check(ctx context.Context, url string) error { return h.c.Check(ctx, url) }

func (h hookSender) Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error) {
	a, err := h.c.Post(ctx, url, headers, body)
	return a.Status, err
}

// mailRecipients is the notification service's view of the users it may
// mail.
type mailRecipients struct{ users *user.Service }

func (m mailRecipients) MailRecipients(ctx context.Context, ids []string) (map[string]notification.Recipient, error) {
	users, err := m.users.Mailable(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]notification.Recipient, len(users))
	for _, u := range users {
		r := notification.Recipient{Email: u.Email, Name: u.Name}
		for _, k := range u.EmailOptIns {
			r.OptIns = append(r.OptIns, notification.Type(k))
		}
		out[u.ID] = r
	}
	return out, nil
}

// messageRecipients is the chat service's view of the users it may mail
// about unread messages.
type messageRecipients struct{ users *user.Service }

func (m messageRecipients) MessageRecipients(ctx context.Context, ids []string) (map[string]chat.Recipient, error) {
	users, err := m.users.Mailable(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]chat.Recipient, len(users))
	for _, u := range users {
		if u.WantsEmail(string(notification.MessagesMail)) {
			out[u.ID] = chat.Recipient{Email: u.Email, Name: u.Name}
		}
	}
	return out, nil
}

// projects is the chat's view of jobs and contracts (chat.Projects).
type projects struct {
	jobs      *job.Service
	contracts *contract.Service
}

func (p projects) Proposed(ctx context.Context, buyerID, workerID string) (bool, error) {
	return p.jobs.Proposed(ctx, buyerID, workerID)
}

func (p projects) Contracted(ctx context.Context, buyerID, workerID string) (bool, error) {
	return p.contracts.Contracted(ctx, buyerID, workerID)
}

func (p projects) Job(ctx context.Context, id string) (chat.Project, error) {
	j, err := p.jobs.Get(ctx, id)
	if errors.Is(err, job.ErrNotFound) {
		return chat.Project{}, chat.ErrNoProject
	}
	return chat.Project{Title: j.Title, Status: string(j.Status)}, err
}

func (p projects) Contract(ctx context.Context, userID, id string) (chat.Project, error) {
	c, err := p.contracts.Of(ctx, userID, id)
	if errors.Is(err, contract.ErrNotFound) {
		return chat.Project{}, chat.ErrNoProject
	}
	return chat.Project{Title: c.JobTitle, Status: string(c.Status)}, err
}

// candidates is what tasks, reservations and submissions read of a worker
// for the requirements of tasks (task.Candidates): the standing kept with
// the user, read through the authentication cache, so that asking costs no
// command for a signed-in worker.
type candidates struct{ users *user.Service }

func (c candidates) Candidate(ctx context.Context, workerID string) (task.Candidate, error) {
	u, err := c.users.Cached(ctx, workerID)
	if err != nil {
		return task.Candidate{}, err
	}
	return task.Candidate{Level: u.Standing.Level, Rating: u.Standing.Rating, Country: u.Country, Scores: u.Qualifications}, nil
}

// subjects is what reviews are about (review.Subjects): a submission, whose
// parties are its task's buyer and its worker, decided once approved or
// rejected; or a contract, whose parties are its buyer and its worker,
// decided once ended (by either).
type subjects struct {
	submissions *submission.Service
	contracts   *contract.Service
}

func (s subjects) Subject(ctx context.Context, ref review.Ref, userID string) (review.Subject, error) {
	switch ref.Type {
	case review.SubjectContract:
		c, err := s.contracts.Of(ctx, userID, ref.ID)
		if err != nil {
			return review.Subject{}, err
		}
		return review.Subject{Ref: ref, Title: c.JobTitle, Buyer: review.Party(c.Buyer), Worker: review.Party(c.Worker),
			Decided: c.Status == contract.StatusEnded, DecidedAt: c.EndedAt}, nil
	case review.SubjectSubmission:
	default:
		return review.Subject{}, fmt.Errorf("reviews of %s: not a kind of work", ref.Type)
	}
	sub, err := s.submissions.Get(ctx, ref.ID)
	if err != nil {
		return review.Subject{}, err
	}
	if userID != sub.Worker.ID && userID != sub.Buyer.ID {
		return review.Subject{}, submission.ErrNotFound // as for none: an ID tells nothing
	}
	decided := sub.Status == submission.StatusApproved || sub.Status == submission.StatusRejected
	return review.Subject{Ref: ref, Title: sub.TaskTitle, Buyer: review.Party(sub.Buyer), Worker: review.Party(sub.Worker),
		Decided: decided, DecidedAt: sub.ReviewedAt}, nil
}

// members is the records' view of the users (reputation.Members): the
// standing worked out of a record is kept with its user.
type members struct{ l *later }

func (m members) Members(ctx context.Context, ids []string) (map[string]reputation.Member, error) {
	users, err := m.l.users.Members(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]reputation.Member, len(users))
	for _, u := range users {
		out[u.ID] = reputation.Member{Since: u.CreatedAt, Worker: u.Role == auth.RoleWorker}
	}
	return out, nil
}

func (m members) SetStanding(ctx context.Context, userID string, st reputation.Standing, seq int64) error {
	return m.l.users.SetStanding(ctx, userID, user.Standing(st), seq)
}

// later stands in for services that New has not built yet: the one place
// where the cycles between services are broken. Of two services that need
// each other, the one built first takes later in place of the other; New
// sets later's field as soon as it builds that other, and nothing calls
// through later before New returns. The cycles:
//   - records and users: a standing is kept with its user; users rank
//     workers by their records
//   - users and tasks (and jobs): a suspended buyer's tasks and jobs are
//     hidden; a task names its buyer
//   - users and notifications: revoked tokens close their streams; a
//     notification goes to a user who exists
//   - users and uploads: a portfolio shows images of this server; the
//     images users show are in use
//   - tasks and submissions: removing a task cancels its pending submissions
//   - tasks and reservations: a refund ends the reservations of the slots
//     it takes
//   - tasks and blocks: a new task takes its buyer's blocks; a block
//     reaches the buyer's tasks
//   - reservations and submissions: a worker who submitted reserves no
//     slot; a submission takes the slot its worker reserved
//   - conversations and uploads: an attachment is an image kept here; the
//     images messages carry are in use
type later struct {
	users         *user.Service
	tasks         *task.Service
	jobs          *job.Service
	notifications *notification.Service
	submissions   *submission.Service
	reservations  *reservation.Service
	blocks        *block.Service
	uploads       *upload.Service
}

// Hosted implements user.Images.
func (l *later) Hosted(ctx context.Context, url string) (bool, error) {
	return l.uploads.Hosted(ctx, url)
}

// RequiredByOpenTask implements qualification.Tasks: an open task's
// requirements and an open job's alike.
func (l *later) RequiredByOpenTask(ctx context.Context, typeID string) (bool, error) {
	if required, err := l.tasks.RequiredByOpenTask(ctx, typeID); err != nil || required {
		return required, err
	}
	return l.jobs.RequiredByOpenJob(ctx, typeID)
}

// Kept implements chat.Images.
func (l *later) Kept(url string) bool { return l.uploads.Kept(url) }

// SetHidden implements user.TaskHider: a buyer's tasks and jobs alike.
func (l *later) SetHidden(ctx context.Context, buyerID string, hidden bool) error {
	if err := l.tasks.SetHidden(ctx, buyerID, hidden); err != nil {
		return err
	}
	return l.jobs.SetHidden(ctx, buyerID, hidden)
}

// CloseStreams implements user.Streams.
func (l *later) CloseStreams(userID string) { l.notifications.CloseStreams(userID) }

// CancelPending implements task.PendingCanceller.
func (l *later) CancelPending(ctx context.Context, taskID string, submissionIDs []string) error {
	return l.submissions.CancelPending(ctx, taskID, submissionIDs)
}

// CancelHeld implements task.Reservations.
func (l *later) CancelHeld(ctx context.Context, held []string, at time.Time) error {
	return l.reservations.CancelHeld(ctx, held, at)
}

// SyncTask implements task.BlockLists.
func (l *later) SyncTask(ctx context.Context, buyerID, taskID string) error {
	return l.blocks.SyncTask(ctx, buyerID, taskID)
}

// Submitted implements reservation.Submissions.
func (l *later) Submitted(ctx context.Context, taskID, workerID string) (bool, error) {
	return l.submissions.Submitted(ctx, taskID, workerID)
}
