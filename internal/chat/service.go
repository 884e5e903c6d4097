package chat

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/tail"
	"microtask/internal/submission"
	"microtask/internal/task"
	"microtask/internal/user"
	"microtask/internal/webhook"
)

// Mail about unread conversations: a side left unread MailAfter after its
// first unread message is mailed, unless its user is connected, and a
// conversation is mailed to a user at most once every MailEvery.
const (
	MailAfter = 5 * time.Minute
	MailEvery = 15 * time.Minute
)

// Errors of the service's own.
var (
	ErrNoSuchConversation = apperr.New(apperr.NotFound, "conversation_not_found", "you have no conversation with this user")
)

// Service applies the conversation rules.
type Service struct {
	store        Store
	users        Users
	blocks       Blocks
	friends      Friends
	tasks        Tasks
	reservations Reservations
	submissions  Submissions
	projects     Projects
	images       Images
	presence     Presence
	mailer       Mailer
	recipients   Recipients
	events       Events
	messagesURL  string
	hub          *Hub
	log          *slog.Logger
	now          func() time.Time

	idMu   sync.Mutex
	lastMs uint64
	seq    uint16

	typingMu sync.Mutex
	typing   map[string]time.Time // "from>to": when a typing event was last relayed
}

// Deps is what a Service is built with.
type Deps struct {
	Store        Store
	Users        Users
	Blocks       Blocks
	Friends      Friends
	Tasks        Tasks
	Reservations Reservations
	Submissions  Submissions
	Projects     Projects // a job's buyer and its proposers, a contract's parties
	Images       Images
	Presence     Presence
	Mailer       Mailer
	Recipients   Recipients
	Events       Events // message.received for the recipients' webhooks
	// MessagesURL is the app's page of conversations, for the links in
	// email; the other user's id is added.
	MessagesURL string
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, users: d.Users, blocks: d.Blocks, friends: d.Friends, tasks: d.Tasks,
		reservations: d.Reservations, submissions: d.Submissions, projects: d.Projects, images: d.Images, presence: d.Presence,
		mailer: d.Mailer, recipients: d.Recipients, events: d.Events, messagesURL: strings.TrimRight(d.MessagesURL, "/"),
		hub: NewHub(), log: d.Log, now: now, typing: map[string]time.Time{}}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// newID returns a message ID that sorts after every ID this process made
// before: the time in milliseconds, a counter within the millisecond and
// random bytes, in 24 hex characters like every other ID. Across instances
// IDs sort by time, which is what the history's cursor needs: a page never
// repeats or skips a message, whatever arrives meanwhile.
func (s *Service) newID(at time.Time) string {
	s.idMu.Lock()
	ms := uint64(at.UnixMilli())
	if ms <= s.lastMs {
		ms = s.lastMs
		s.seq++
		if s.seq == 0 {
			ms++
		}
	} else {
		s.seq = 0
	}
	s.lastMs = ms
	seq := s.seq
	s.idMu.Unlock()
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	binary.BigEndian.PutUint16(b[6:8], seq)
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

var messageID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// party is a user as the rules see them.
type party struct {
	ID   string
	Role auth.Role
}

// Send sends a message from the caller to the user `to`, if the rules
// allow (ErrCannotMessage otherwise, also when the user does not exist),
// and pushes it to both users' sockets and streams. On MongoDB it costs
// the recipient's read, the conversation's, the blocks' (one command for
// both users' lists) and, for a first message to a friend, the friendship's,
// then the message and the conversation's update.
func (s *Service) Send(ctx context.Context, p auth.Principal, to string, d Draft) (Message, error) {
	d.Text = strings.TrimSpace(d.Text)
	d.About.ID = strings.TrimSpace(d.About.ID)
	if errs := d.check(s.images); len(errs) > 0 {
		return Message{}, errs.Err()
	}
	if to == p.UserID || to == "" {
		return Message{}, ErrCannotMessage
	}
	found, err := s.users.Public(ctx, []string{to})
	if err != nil {
		return Message{}, fmt.Errorf("read user %s: %w", to, err)
	}
	if len(found) == 0 || found[0].Status != user.StatusActive {
		return Message{}, ErrCannotMessage
	}
	recipient := party{ID: to, Role: found[0].Role}
	sender := party{ID: p.UserID, Role: p.Role}
	c, err := s.conversation(ctx, p.UserID, to)
	if err != nil {
		return Message{}, err
	}
	if err := s.mayWrite(ctx, sender, recipient, c); err != nil {
		return Message{}, err
	}
	owner, subject, err := s.checkAbout(ctx, p, d.About)
	if err != nil {
		return Message{}, err
	}
	wants, err := s.events.Wants(ctx, to, webhook.MessageReceived)
	if err != nil {
		return Message{}, fmt.Errorf("read the webhooks of %s: %w", to, err)
	}
	now := s.clock()
	m := Message{ID: s.newID(now), ConversationID: c.ID, From: p.UserID, To: to, Text: d.Text, About: d.About,
		AboutOwner: owner, Attachments: d.Attachments, CreatedAt: now, Subject: subject, EventPending: wants}
	if err := s.store.InsertMessage(ctx, m); err != nil {
		return Message{}, fmt.Errorf("store message %s: %w", m.ID, err)
	}
	var notifyAt time.Time
	if side := c.Sides[c.Of(to)]; side.NotifyAt.IsZero() {
		notifyAt = now.Add(MailAfter)
	}
	if err := s.store.Record(ctx, c, m, notifyAt); err != nil {
		return Message{}, fmt.Errorf("record message %s in conversation %s: %w", m.ID, c.ID, err)
	}
	if m.EventPending {
		// The message is sent whatever happens here: a failure leaves the
		// mark, and EmitPending stores the event later.
		if err := s.emit(ctx, m); err != nil {
			s.log.WarnContext(ctx, "store message.received, left to the next round", "message_id", m.ID, "err", err)
		}
	}
	s.publish(m)
	return m, nil
}

// emit stores the message.received event of m for its recipient's
// webhooks, once however often it runs (its key is the message's id), then
// takes the mark off the message.
func (s *Service) emit(ctx context.Context, m Message) error {
	data := webhook.MessageData{ID: m.ID, ConversationID: m.ConversationID, FromID: m.From, Text: m.Text,
		AboutType: string(m.About.Type), AboutID: m.About.ID, Attachments: m.Attachments, CreatedAt: m.CreatedAt}
	if err := s.events.Emit(ctx, m.To, webhook.MessageReceived, "message:"+m.ID, m.CreatedAt, data); err != nil {
		return fmt.Errorf("emit message.received for %s: %w", m.ID, err)
	}
	if err := s.store.EventStored(ctx, m.ID); err != nil {
		return fmt.Errorf("mark the event of message %s stored: %w", m.ID, err)
	}
	return nil
}

// EventGrace is how old a message still owing its event must be for
// EmitPending to store it: Send stores it itself within moments.
const EventGrace = time.Minute

// EmitPending stores the message.received events that messages still owe
// (Send failed to, or its process died between the message and the event),
// up to 100 a round, and returns how many. Safe to run in every instance:
// an event stored twice is stored once.
func (s *Service) EmitPending(ctx context.Context) (int, error) {
	ms, err := s.store.EventsPending(ctx, s.clock().Add(-EventGrace), 100)
	if err != nil {
		return 0, fmt.Errorf("read messages owing their event: %w", err)
	}
	for i, m := range ms {
		if err := s.emit(ctx, m); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

// conversation reads the conversation of a and b, or the empty one.
func (s *Service) conversation(ctx context.Context, a, b string) (Conversation, error) {
	c, err := s.store.Conversation(ctx, PairID(a, b))
	if errors.Is(err, ErrNoConversation) {
		return newConversation(a, b), nil
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("read conversation %s: %w", PairID(a, b), err)
	}
	return c, nil
}

// publish pushes a message to both users' sockets and streams in this
// process; the tail brings it to the other instances'.
func (s *Service) publish(m Message) {
	e := Event{Type: EventMessage, Message: m}
	s.hub.Publish(m.To, "m:"+m.ID+">"+m.To, e)
	s.hub.Publish(m.From, "m:"+m.ID+">"+m.From, e)
}

// checkAbout checks what a draft is about, as the sender may see it, and
// returns whose it is when it is a task (its buyer), and how it is now.
func (s *Service) checkAbout(ctx context.Context, p auth.Principal, ref Ref) (owner string, sub Subject, err error) {
	missing := func(what string) error {
		return apperr.InvalidFields(apperr.FieldError{Field: "about", Message: "no such " + what})
	}
	switch ref.Type {
	case "":
		return "", Subject{}, nil
	case AboutTask:
		t, err := s.tasks.Get(ctx, ref.ID)
		if errors.Is(err, task.ErrNotFound) {
			return "", Subject{}, missing("task")
		}
		if err != nil {
			return "", Subject{}, fmt.Errorf("read task %s: %w", ref.ID, err)
		}
		return t.Buyer.ID, Subject{Ref: ref, Title: t.Title, Status: string(s.tasks.StatusNow(t))}, nil
	case AboutSubmission:
		x, err := s.submissions.Get(ctx, ref.ID)
		if errors.Is(err, submission.ErrNotFound) || (err == nil && x.Worker.ID != p.UserID && x.Buyer.ID != p.UserID) {
			return "", Subject{}, missing("submission") // someone else's: as a missing one
		}
		if err != nil {
			return "", Subject{}, fmt.Errorf("read submission %s: %w", ref.ID, err)
		}
		return "", Subject{Ref: ref, Title: x.TaskTitle, Status: string(x.Status)}, nil
	case AboutUser:
		us, err := s.users.Public(ctx, []string{ref.ID})
		if err != nil {
			return "", Subject{}, fmt.Errorf("read user %s: %w", ref.ID, err)
		}
		if len(us) == 0 {
			return "", Subject{}, missing("user")
		}
		return "", Subject{Ref: ref, Title: us[0].Name, Status: string(us[0].Status)}, nil
	case AboutJob, AboutContract:
		pr, err := s.project(ctx, p.UserID, ref)
		if errors.Is(err, ErrNoProject) {
			return "", Subject{}, missing(string(ref.Type)) // a contract not the sender's: as a missing one
		}
		if err != nil {
			return "", Subject{}, err
		}
		return "", Subject{Ref: ref, Title: pr.Title, Status: pr.Status}, nil
	}
	return "", Subject{}, apperr.InvalidFields(apperr.FieldError{Field: "about", Message: "must name one of: " + aboutNames})
}

// project returns the job or the contract ref names; a contract only to
// one of its parties, userID.
func (s *Service) project(ctx context.Context, userID string, ref Ref) (Project, error) {
	var pr Project
	var err error
	if ref.Type == AboutJob {
		pr, err = s.projects.Job(ctx, ref.ID)
	} else {
		pr, err = s.projects.Contract(ctx, userID, ref.ID)
	}
	if err != nil && !errors.Is(err, ErrNoProject) {
		return Project{}, fmt.Errorf("read %s %s: %w", ref.Type, ref.ID, err)
	}
	return pr, err
}

// Get returns one message to either of its users; to anyone else it does
// not exist.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Message, error) {
	if !messageID.MatchString(id) {
		return Message{}, ErrMessageNotFound
	}
	m, err := s.store.Message(ctx, id)
	if err != nil {
		return Message{}, fmt.Errorf("read message %s: %w", id, err)
	}
	if m.From != p.UserID && m.To != p.UserID {
		return Message{}, ErrMessageNotFound
	}
	ms, err := s.withSubjects(ctx, []Message{m})
	if err != nil {
		return Message{}, err
	}
	return ms[0], nil
}

// List returns a page of the caller's conversations, the most recently
// active first, each with the other user's card and the caller's unread
// count: one find, one count and one read of the cards.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Summary], error) {
	cs, total, err := s.store.List(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Summary]{}, fmt.Errorf("list conversations of user %s: %w", p.UserID, err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Other(p.UserID)
	}
	cards, err := s.cards(ctx, ids)
	if err != nil {
		return page.Of[Summary]{}, err
	}
	out := make([]Summary, len(cs))
	for i, c := range cs {
		out[i] = Summary{Conversation: c, With: cards[ids[i]], Unread: c.Sides[c.Of(p.UserID)].Unread}
	}
	return page.Of[Summary]{Items: out, Request: r, Total: total}, nil
}

// DeletedName is the name a deleted user's card shows.
const DeletedName = "Deleted user"

// cards returns the cards of the users ids, in one read; a deleted user's
// card keeps only its id.
func (s *Service) cards(ctx context.Context, ids []string) (map[string]Card, error) {
	out := make(map[string]Card, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	us, err := s.users.Public(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids), err)
	}
	for _, id := range ids {
		out[id] = Card{ID: id, Name: DeletedName}
	}
	for _, u := range us {
		out[u.ID] = CardOf(u)
	}
	return out, nil
}

// Cards returns the cards of the users ids, for the packages that show
// users beside their own things (friends).
func (s *Service) Cards(ctx context.Context, ids []string) (map[string]Card, error) {
	return s.cards(ctx, ids)
}

// History returns a page of the caller's conversation with the user, newest
// first: the messages older than before (the newest if empty), at most
// limit, with what they are about as it is now. Paged by the cursor, never
// by skipping, so that messages arriving meanwhile neither repeat nor hide
// one. No conversation is an empty page.
func (s *Service) History(ctx context.Context, p auth.Principal, with, before string, limit int) (Thread, error) {
	if before != "" && !messageID.MatchString(before) {
		return Thread{}, apperr.InvalidFields(apperr.FieldError{Field: "before", Message: "must be a message id (next_before of the previous page)"})
	}
	c, err := s.store.Conversation(ctx, PairID(p.UserID, with))
	if errors.Is(err, ErrNoConversation) || with == p.UserID {
		return Thread{Messages: []Message{}}, nil
	}
	if err != nil {
		return Thread{}, fmt.Errorf("read conversation %s: %w", PairID(p.UserID, with), err)
	}
	ms, err := s.store.Messages(ctx, c.ID, before, limit+1)
	if err != nil {
		return Thread{}, fmt.Errorf("read messages of conversation %s: %w", c.ID, err)
	}
	th := Thread{Messages: ms, TheirReadUpTo: c.Sides[c.Of(with)].ReadUpTo}
	if len(ms) > limit {
		th.Messages = ms[:limit]
		th.NextBefore = ms[limit-1].ID
	}
	if th.Messages, err = s.withSubjects(ctx, th.Messages); err != nil {
		return Thread{}, err
	}
	return th, nil
}

// withSubjects gives each message what it is about as it is now.
func (s *Service) withSubjects(ctx context.Context, ms []Message) ([]Message, error) {
	subs, err := s.subjects(ctx, ms)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if !ms[i].About.IsZero() {
			ms[i].Subject = subs[ms[i].About]
		}
	}
	return ms, nil
}

// subjects returns what the messages are about, as it is now: the live
// title and status of each task, submission and user they point at, or
// gone, never an error, for one that no longer exists. A task or a
// submission is a read each; the users, one read together.
func (s *Service) subjects(ctx context.Context, ms []Message) (map[Ref]Subject, error) {
	out := map[Ref]Subject{}
	var userIDs []string
	for _, m := range ms {
		ref := m.About
		if _, done := out[ref]; done || ref.IsZero() {
			continue
		}
		sub := Subject{Ref: ref, Gone: true}
		switch ref.Type {
		case AboutTask:
			t, err := s.tasks.Get(ctx, ref.ID)
			if err != nil && !errors.Is(err, task.ErrNotFound) {
				return nil, fmt.Errorf("read task %s: %w", ref.ID, err)
			}
			if err == nil {
				sub = Subject{Ref: ref, Title: t.Title, Status: string(s.tasks.StatusNow(t))}
			}
		case AboutSubmission:
			x, err := s.submissions.Get(ctx, ref.ID)
			if err != nil && !errors.Is(err, submission.ErrNotFound) {
				return nil, fmt.Errorf("read submission %s: %w", ref.ID, err)
			}
			if err == nil {
				sub = Subject{Ref: ref, Title: x.TaskTitle, Status: string(x.Status)}
			}
		case AboutUser:
			userIDs = append(userIDs, ref.ID)
		case AboutJob, AboutContract:
			// A contract shows to whoever its sender, a party, wrote to.
			pr, err := s.project(ctx, m.From, ref)
			if err != nil && !errors.Is(err, ErrNoProject) {
				return nil, err
			}
			if err == nil {
				sub = Subject{Ref: ref, Title: pr.Title, Status: pr.Status}
			}
		}
		out[ref] = sub
	}
	if len(userIDs) > 0 {
		us, err := s.users.Public(ctx, userIDs)
		if err != nil {
			return nil, fmt.Errorf("read %d users: %w", len(userIDs), err)
		}
		for _, u := range us {
			ref := Ref{Type: AboutUser, ID: u.ID}
			out[ref] = Subject{Ref: ref, Title: u.Name, Status: string(u.Status)}
		}
	}
	return out, nil
}

// MarkRead marks the caller's conversation with the user read up to the
// message upTo (the last one at most), and tells both users' sockets. A
// read pointer only moves forward.
func (s *Service) MarkRead(ctx context.Context, p auth.Principal, with, upTo string) error {
	if !messageID.MatchString(upTo) {
		return apperr.InvalidFields(apperr.FieldError{Field: "up_to", Message: "must be a message id"})
	}
	for range 10 { // each try that loses has lost to a new message, which is recorded
		c, err := s.store.Conversation(ctx, PairID(p.UserID, with))
		if errors.Is(err, ErrNoConversation) || with == p.UserID {
			return ErrNoSuchConversation
		}
		if err != nil {
			return fmt.Errorf("read conversation %s: %w", PairID(p.UserID, with), err)
		}
		side := c.Of(p.UserID)
		to := min(upTo, c.LastID)
		if to <= c.Sides[side].ReadUpTo {
			return nil
		}
		n, err := s.store.CountUnread(ctx, c.ID, with, to)
		if err != nil {
			return fmt.Errorf("count unread messages of conversation %s: %w", c.ID, err)
		}
		switch err := s.store.MarkRead(ctx, c.ID, side, to, n, c.LastID); {
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return fmt.Errorf("mark conversation %s read: %w", c.ID, err)
		}
		e := Event{Type: EventRead, User: p.UserID, UpTo: to}
		key := "r:" + c.ID + ":" + p.UserID + ":" + to
		s.hub.Publish(with, key+">"+with, e)
		s.hub.Publish(p.UserID, key+">"+p.UserID, e)
		return nil
	}
	return fmt.Errorf("mark conversation with %s read: %w", with, ErrStale)
}

// UnreadCount adds up the caller's unread messages.
func (s *Service) UnreadCount(ctx context.Context, p auth.Principal) (int64, error) {
	n, err := s.store.Unread(ctx, p.UserID)
	if err != nil {
		return 0, fmt.Errorf("count unread messages of user %s: %w", p.UserID, err)
	}
	return n, nil
}

// typingEvery is how often a typing event of one user to another is relayed
// at most; the rest are dropped.
const typingEvery = 2 * time.Second

// Typing relays that the caller is typing to the user, if they have a
// conversation and neither blocked the other. It is never stored, and
// reaches only the sockets of this instance.
func (s *Service) Typing(ctx context.Context, p auth.Principal, to string) error {
	key := p.UserID + ">" + to
	now := time.Now()
	s.typingMu.Lock()
	last, seen := s.typing[key]
	if seen && now.Sub(last) < typingEvery {
		s.typingMu.Unlock()
		return nil
	}
	if len(s.typing) > 10_000 { // bounded: forget everyone rather than grow
		clear(s.typing)
	}
	s.typing[key] = now
	s.typingMu.Unlock()
	if _, err := s.store.Conversation(ctx, PairID(p.UserID, to)); err != nil || to == p.UserID {
		if errors.Is(err, ErrNoConversation) || to == p.UserID {
			return nil
		}
		return fmt.Errorf("read conversation %s: %w", PairID(p.UserID, to), err)
	}
	blocked, err := s.blocks.EitherBlocked(ctx, p.UserID, to)
	if err != nil || blocked {
		return err
	}
	s.hub.Publish(to, "", Event{Type: EventTyping, User: p.UserID})
	return nil
}

// Subscribe opens a subscription to the user's events: messages to and
// from them, read receipts and typing. Cancel it when the socket or stream
// ends.
func (s *Service) Subscribe(userID string) Subscription { return s.hub.Subscribe(userID) }

// Tail pushes to this process's sockets and streams the messages other API
// instances store, reading those created since the last round every
// interval. Only needed when several instances share a MongoDB.
func (s *Service) Tail(ctx context.Context, interval time.Duration) {
	tail.Every(ctx, interval, s.now().Add(-interval), s.log, "messages", func(ctx context.Context, since time.Time) (time.Time, error) {
		ms, err := s.store.Since(ctx, since, 500)
		if err != nil {
			return time.Time{}, err
		}
		if ms, err = s.withSubjects(ctx, ms); err != nil {
			return time.Time{}, err
		}
		var newest time.Time
		for _, m := range ms {
			s.publish(m)
			if m.CreatedAt.After(newest) {
				newest = m.CreatedAt
			}
		}
		return newest, nil
	})
}

// Reportable returns a message the caller may report: one they sent or
// received; any other is not found.
func (s *Service) Reportable(ctx context.Context, p auth.Principal, id string) (Message, error) {
	return s.Get(ctx, p, id)
}

// Evidence is a reported message with its context, for the admin deciding
// the report.
type Evidence struct {
	Message  Message
	Before   []Message // up to EvidenceBefore messages before it, oldest first
	From, To Card
}

// EvidenceBefore is how many earlier messages of its conversation a
// reported message is shown with.
const EvidenceBefore = 10

// Evidence returns a message with its context (for admins; the report
// service checks the role). ErrMessageNotFound if there is none.
func (s *Service) Evidence(ctx context.Context, id string) (Evidence, error) {
	m, err := s.store.Message(ctx, id)
	if err != nil {
		return Evidence{}, fmt.Errorf("read message %s: %w", id, err)
	}
	before, err := s.store.Messages(ctx, m.ConversationID, m.ID, EvidenceBefore)
	if err != nil {
		return Evidence{}, fmt.Errorf("read messages before %s: %w", id, err)
	}
	for i, j := 0, len(before)-1; i < j; i, j = i+1, j-1 {
		before[i], before[j] = before[j], before[i]
	}
	cards, err := s.cards(ctx, []string{m.From, m.To})
	if err != nil {
		return Evidence{}, err
	}
	ms, err := s.withSubjects(ctx, []Message{m})
	if err != nil {
		return Evidence{}, err
	}
	return Evidence{Message: ms[0], Before: before, From: cards[m.From], To: cards[m.To]}, nil
}

// EachImageURL calls fn with every image messages carry: the images in use,
// for the sweep of uploads.
func (s *Service) EachImageURL(ctx context.Context, fn func(url string) error) error {
	return s.store.EachAttachment(ctx, fn)
}

// Between returns the latest messages between two users, up to limit,
// oldest first: the context of a dispute between a contract's parties,
// for the admin deciding it (the report service checks the role). None
// when they never wrote to each other.
func (s *Service) Between(ctx context.Context, a, b string, limit int) ([]Message, error) {
	c, err := s.store.Conversation(ctx, PairID(a, b))
	if errors.Is(err, ErrNoConversation) || a == b {
		return []Message{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read conversation %s: %w", PairID(a, b), err)
	}
	ms, err := s.store.Messages(ctx, c.ID, "", limit)
	if err != nil {
		return nil, fmt.Errorf("read messages of conversation %s: %w", c.ID, err)
	}
	slices.Reverse(ms)
	return ms, nil
}
