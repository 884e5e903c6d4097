package notification

// Type says what a notification is about, so that the app can pick its
// icon and wording without reading the message.
type Type string

// The types.
const (
	SubmissionReceived  Type = "submission_received"  // to the buyer: a worker submitted work on their task
	SubmissionApproved  Type = "submission_approved"  // to the worker: paid
	SubmissionRejected  Type = "submission_rejected"  // to the worker, with the reason
	SubmissionCancelled Type = "submission_cancelled" // to the worker: an admin removed the task
	RejectionOverturned Type = "rejection_overturned" // to the worker: paid after a dispute
	BonusPaid           Type = "bonus_paid"           // to the worker: a buyer's bonus for their work
	RevisionRequested   Type = "revision_requested"   // to the worker: revise by the deadline
	SubmissionRevised   Type = "submission_revised"   // to the buyer: the worker resubmitted
	// SubmissionsAutoApproved goes to the buyer: their pending work on a
	// task was approved automatically, one notification per task and round.
	SubmissionsAutoApproved Type = "submissions_auto_approved"
	TaskRefunded            Type = "task_refunded"       // to the buyer: escrow back after expiry, deletion or removal
	PaymentCompleted        Type = "payment_completed"   // to the buyer: coins credited
	PaymentReversed         Type = "payment_reversed"    // to the buyer: coins taken back after a refund or dispute
	PurchasesBlocked        Type = "purchases_blocked"   // to admins: a buyer's purchases are blocked
	PurchasesUnblocked      Type = "purchases_unblocked" // to the buyer
	WithdrawalPaid          Type = "withdrawal_paid"     // to the worker
	WithdrawalRejected      Type = "withdrawal_rejected" // to the worker, with the reason
	ReportDecided           Type = "report_decided"      // to the reporter
	Announcement            Type = "announcement"        // from an admin
	Other                   Type = "other"               // notifications from before types
	FriendRequest           Type = "friend_request"      // to the user asked: someone wants to be their friend
	FriendAccepted          Type = "friend_accepted"     // to the user who asked: their request was accepted
	ProposalReceived        Type = "proposal_received"   // to a job's buyer: a worker sent a proposal
	ProposalDeclined        Type = "proposal_declined"   // to the worker: declined, another hired, or the job closed
	ContractStarted         Type = "contract_started"    // to the worker: hired; the first milestone or week is in escrow
	MilestoneFunded         Type = "milestone_funded"    // to the worker: a milestone's coins are in escrow
	MilestoneSubmitted      Type = "milestone_submitted" // to the buyer: review it
	MilestoneReleased       Type = "milestone_released"  // to the worker: paid (and to the buyer when released automatically)
	ChangesRequested        Type = "changes_requested"   // to the worker: a milestone sent back, with the buyer's note
	ContractEnded           Type = "contract_ended"      // to the other party
	MilestoneDisputed       Type = "milestone_disputed"  // to both parties: a submitted milestone is disputed; an admin decides
	DisputeDecided          Type = "dispute_decided"     // to both parties: the admin's decision of a dispute
	ContractPaused          Type = "contract_paused"     // to both parties: the buyer could not fund an hourly contract's week
	MilestoneProposed       Type = "milestone_proposed"  // to the worker: a milestone beyond the agreed price awaits their answer
	MilestoneAccepted       Type = "milestone_accepted"  // to the buyer: the worker accepted a proposed milestone
	MilestoneDeclined       Type = "milestone_declined"  // to the buyer: the worker declined a proposed milestone
	WeekRefunded            Type = "week_refunded"       // to both parties: a week never logged went back to the buyer after the grace
)

// Kinds of email that are not notifications of one type: each user gets
// them unless they turned them off (PUT /users/{id}/preferences).
const (
	MessagesMail      Type = "messages"      // conversations left unread (package chat)
	AnnouncementsMail Type = "announcements" // announcements to everyone (package announcement)
)

// MailKinds are the types a user may have mailed to them as well (each
// opted into, PUT /users/{id}/preferences).
var MailKinds = []Type{SubmissionApproved, SubmissionRejected, WithdrawalPaid, ReportDecided}

// mailKind is the opt-in that decides whether a notification of type t is
// mailed: its own, or SubmissionApproved for an overturned rejection, which
// is an approval too.
func mailKind(t Type) (Type, bool) {
	if t == RejectionOverturned {
		return SubmissionApproved, true
	}
	for _, k := range MailKinds {
		if k == t {
			return k, true
		}
	}
	return "", false
}

// Page is a page of the app a notification opens, below the configured
// base of the app's routes (APP_ROUTE_BASE, /dashboard by default).
type Page string

// The pages.
const (
	TaskToReview   Page = "/task-to-review"
	MySubmissions  Page = "/my-submissions"
	MyTasks        Page = "/my-tasks"
	PaymentHistory Page = "/payment-history"
	PurchaseCoin   Page = "/purchase-coin"
	Withdrawals    Page = "/withdrawals"
	MyReports      Page = "/my-reports"
	PurchaseBlocks Page = "/purchase-blocks"
	Friends        Page = "/friends"
	Messages       Page = "/messages"
	MyJobs         Page = "/my-jobs"
	MyProposals    Page = "/my-proposals"
	Contracts      Page = "/contracts"
)

// DefaultRouteBase is where the app's dashboard pages live.
const DefaultRouteBase = "/dashboard"
