// Package chat carries conversations between users: one per pair, messages
// that may point at what they are about (a task, a submission, a user
// recommended), unread counts and read receipts, the rules of who may write
// to whom, and a per-process hub that pushes messages, read receipts and
// typing to the user's open sockets and streams. Unread conversations are
// mailed by a background round.
package chat

import (
	"context"
	"errors"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
	"microtask/internal/webhook"
)

// Card is what others see of a user beside a conversation or a friend: a
// small card of its own until the public profile (issue 21) gives one.
type Card struct {
	ID       string
	Name     string
	PhotoURL string
	Role     auth.Role
}

// CardOf is u's card.
func CardOf(u user.User) Card {
	return Card{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL, Role: u.Role}
}

// AboutType is the kind of thing a message may be about.
type AboutType string

// The things a message may be about.
const (
	AboutTask       AboutType = "task"
	AboutSubmission AboutType = "submission"
	AboutUser       AboutType = "user" // a user recommended
	AboutJob        AboutType = "job"  // a job shared
	AboutContract   AboutType = "contract"
)

// aboutNames are the request's names of what a message may be about.
const aboutNames = "task_id, submission_id, job_id, contract_id, user_id"

// Ref names what a message is about; the zero Ref is nothing.
type Ref struct {
	Type AboutType
	ID   string
}

// IsZero reports whether r names nothing.
func (r Ref) IsZero() bool { return r.Type == "" }

// Subject is what a message is about as it is now: its live title and
// status, or Gone when it no longer exists (a deleted task, a deleted user),
// which is never an error.
type Subject struct {
	Ref
	Title  string
	Status string
	Gone   bool
}

// Message is one message of a conversation.
type Message struct {
	ID             string // grows with time: the history is paged by it
	ConversationID string
	From, To       string
	Text           string
	About          Ref
	// AboutOwner is whose the thing it is about is (a task's buyer): a
	// worker shared a buyer's task may write to that buyer.
	AboutOwner  string
	Attachments []string // image URLs
	CreatedAt   time.Time
	// EventPending marks a message whose recipient's webhooks take
	// message.received, until the event is stored: written with the
	// message, so that a crash between the two leaves the mark, and the
	// round of EmitPending stores the event.
	EventPending bool
	// Subject is what About names as it is now, when the service looked it
	// up (sending, reading the history or one message); not stored.
	Subject Subject
}

// Side is one user's state in a conversation.
type Side struct {
	UserID   string
	Unread   int64  // messages of the other user after ReadUpTo
	ReadUpTo string // the last message the user has read
	Wrote    bool   // the user has written in the conversation
	// NotifyAt is when the round mailing unread conversations looks at
	// this side; zero when there is nothing to mail.
	NotifyAt time.Time
	MailedAt time.Time // the last mail about this conversation
}

// Conversation is the one conversation of a pair of users.
type Conversation struct {
	ID        string  // PairID of the two
	Sides     [2]Side // Sides[0] is the user whose ID sorts first
	LastID    string
	LastFrom  string
	LastText  string // the start of the last message
	LastAt    time.Time
	CreatedAt time.Time
}

// PairID is the ID of the conversation (and of a friendship) of two users,
// the same whichever of them asks.
func PairID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + ":" + b
}

// Of returns the index of the user's side, or -1 if the user is not in the
// conversation.
func (c Conversation) Of(userID string) int {
	switch userID {
	case c.Sides[0].UserID:
		return 0
	case c.Sides[1].UserID:
		return 1
	}
	return -1
}

// Other returns the other user of the conversation.
func (c Conversation) Other(userID string) string {
	if c.Sides[0].UserID == userID {
		return c.Sides[1].UserID
	}
	return c.Sides[0].UserID
}

// newConversation is the empty conversation of a and b.
func newConversation(a, b string) Conversation {
	if b < a {
		a, b = b, a
	}
	return Conversation{ID: PairID(a, b), Sides: [2]Side{{UserID: a}, {UserID: b}}}
}

// Thread is a page of a conversation's history, newest first, each message
// with its Subject.
type Thread struct {
	Messages []Message
	// NextBefore is the cursor of the older page: pass it as before. Empty
	// when there is none.
	NextBefore string
	// TheirReadUpTo is the last message the other user has read, for the
	// read receipts.
	TheirReadUpTo string
}

// Summary is one conversation in the caller's list.
type Summary struct {
	Conversation
	With   Card
	Unread int64
}

// Errors.
var (
	// ErrCannotMessage is the one answer to a message the rules refuse, and
	// to one for a user who does not exist: it tells nothing about whether
	// the user exists or blocked the sender.
	ErrCannotMessage = apperr.New(apperr.Forbidden, "cannot_message",
		"you cannot message this user: write to friends, to the people you work with, or answer those who wrote to you")
	ErrMessageNotFound = apperr.New(apperr.NotFound, "message_not_found", "no such message")
	// ErrNoConversation is returned by Store.Conversation for a pair that
	// never wrote.
	ErrNoConversation = errors.New("no conversation")
	// ErrStale is returned by Store methods whose condition no longer holds.
	ErrStale = errors.New("conversation changed")
)

// Store keeps conversations and messages. storage.ChatStore implements it.
type Store interface {
	// Conversation returns a conversation. ErrNoConversation if none.
	Conversation(ctx context.Context, id string) (Conversation, error)
	// InsertMessage stores m, marked as owing its message.received event
	// when m.EventPending.
	InsertMessage(ctx context.Context, m Message) error
	// EventStored takes the mark off a message whose event is stored.
	EventStored(ctx context.Context, id string) error
	// EventsPending returns up to limit messages created before t that
	// are still marked as owing their event, oldest first.
	EventsPending(ctx context.Context, before time.Time, limit int) ([]Message, error)
	// Record brings m's conversation up to date with it: created if new
	// (from c, the conversation as the sender read it), its last message
	// (unless a later one is recorded already), one more unread for the
	// recipient, the sender's side marked as having written, and the
	// recipient's NotifyAt set when notifyAt is not zero.
	Record(ctx context.Context, c Conversation, m Message, notifyAt time.Time) error
	// Message returns one message. ErrMessageNotFound if none.
	Message(ctx context.Context, id string) (Message, error)
	// Messages returns up to limit messages of the conversation older than
	// the message before (all if empty), newest first.
	Messages(ctx context.Context, conversationID, before string, limit int) ([]Message, error)
	// List returns a page of the user's conversations, the most recently
	// active first, and their count.
	List(ctx context.Context, userID string, p page.Request) ([]Conversation, int64, error)
	// CountUnread counts the messages from `from` in the conversation after
	// the message after.
	CountUnread(ctx context.Context, conversationID, from, after string) (int64, error)
	// MarkRead sets side's read pointer and unread count if the
	// conversation's last message is still lastID. ErrStale otherwise.
	MarkRead(ctx context.Context, id string, side int, upTo string, unread int64, lastID string) error
	// Unread adds up the user's unread messages over their conversations.
	Unread(ctx context.Context, userID string) (int64, error)
	// Since returns up to limit messages created after t, oldest first.
	Since(ctx context.Context, t time.Time, limit int) ([]Message, error)
	// Received reports whether the user received a message about something
	// of owner's (a task of the buyer shared with them).
	Received(ctx context.Context, userID, owner string) (bool, error)
	// MailDue returns up to limit conversations with a side whose NotifyAt
	// is at or before now.
	MailDue(ctx context.Context, now time.Time, limit int) ([]Conversation, error)
	// SetNotify changes a side's NotifyAt (zero: none) and, if mailedAt is
	// not zero, its MailedAt, if its NotifyAt is still was. ErrStale
	// otherwise.
	SetNotify(ctx context.Context, id string, side int, was, next, mailedAt time.Time) error
	// EachAttachment calls fn with every image URL messages carry.
	EachAttachment(ctx context.Context, fn func(url string) error) error
}

// Events stores webhook events for the recipients' endpoints;
// webhook.Service implements it. Wants costs no command (what it reads
// is remembered); Emit stores an event once however often it is called
// with the same key.
type Events interface {
	Wants(ctx context.Context, userID string, t webhook.EventType) (bool, error)
	Emit(ctx context.Context, userID string, t webhook.EventType, key string, at time.Time, data any) error
}

// Users finds users. user.Service implements it.
type Users interface {
	// Public returns the users among ids that are not deleted, in no order.
	Public(ctx context.Context, ids []string) ([]user.User, error)
}

// Blocks tells whether either of two users blocked the other.
// block.Service implements it.
type Blocks interface {
	EitherBlocked(ctx context.Context, a, b string) (bool, error)
}

// Friends tells whether two users are friends. friend.Service implements
// it.
type Friends interface {
	Friends(ctx context.Context, a, b string) (bool, error)
}

// Tasks finds tasks and tells whether a worker and a buyer know each other
// through the buyer's tasks. task.Service implements it.
type Tasks interface {
	Get(ctx context.Context, id string) (task.Task, error)
	StatusNow(t task.Task) task.Status
	// Acquainted reports whether the worker submitted to one of the
	// buyer's tasks, reserved one of reserved, or (if open) may see a task
	// of the buyer's that takes work.
	Acquainted(ctx context.Context, buyerID, workerID string, reserved []string, open bool) (bool, error)
}

// Reservations lists the tasks a worker reserved. reservation.Service
// implements it.
type Reservations interface {
	ReservedTasks(ctx context.Context, workerID string) ([]string, error)
}

// Projects tells who work together on projects; the wiring implements it
// over job.Service and contract.Service. Each answer is one read.
type Projects interface {
	// Job returns a job's title and status; ErrNoProject if none.
	Job(ctx context.Context, id string) (Project, error)
	// Contract returns a contract's title (its job's) and status if userID
	// is one of its parties; ErrNoProject otherwise.
	Contract(ctx context.Context, userID, id string) (Project, error)
	// Proposed reports whether the worker sent a proposal for one of the
	// buyer's jobs (whatever became of it).
	Proposed(ctx context.Context, buyerID, workerID string) (bool, error)
	// Contracted reports whether the buyer and the worker have a
	// contract, active or ended.
	Contracted(ctx context.Context, buyerID, workerID string) (bool, error)
}

// Project is a job or a contract as a message about it shows it.
type Project struct {
	Title  string
	Status string
}

// ErrNoProject is a job that does not exist, or a contract that does not or
// is not the user's, for Projects.
var ErrNoProject = errors.New("no such job or contract")

// Submissions finds submissions. submission.Service implements it.
type Submissions interface {
	Get(ctx context.Context, id string) (submission.Submission, error)
}

// Presence tells whether a user has a socket or a stream open on this
// instance; notification.Service implements it.
type Presence interface {
	Connected(userID string) bool
}

// Mailer queues a message once per id; mail.Outbox implements it.
type Mailer interface {
	MailOnce(ctx context.Context, id, to, subject, text string) error
}

// Recipient is a user who may be mailed about messages: active, with a
// verified email, who wants mail about messages.
type Recipient struct {
	Email string
	Name  string
}

// Recipients finds whom to mail; the wiring fills it from the users.
type Recipients interface {
	// MessageRecipients returns the users among ids who want mail about
	// unread messages.
	MessageRecipients(ctx context.Context, ids []string) (map[string]Recipient, error)
}

// snippet is the start of a text, for the conversation list and the mail.
func snippet(text string, n int) string {
	r := []rune(strings.TrimSpace(text))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
