package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/chat"
	"microtask/internal/docdb"
	"microtask/internal/page"
)

// ChatStore keeps the conversations collection (one document per pair of
// users, its two sides in flat fields suffixed _a and _b, a being the user
// whose ID sorts first) and the messages collection. It implements
// chat.Store.
type ChatStore struct {
	conversations docdb.Collection
	messages      docdb.Collection
}

// NewChatStore returns the conversations store on d.
func NewChatStore(d *docdb.DB) *ChatStore {
	return &ChatStore{conversations: d.Collection("conversations"), messages: d.Collection("messages")}
}

var _ chat.Store = (*ChatStore)(nil)

type conversationDoc struct {
	ID        string     `bson:"_id"`
	A         string     `bson:"a"`
	B         string     `bson:"b"`
	Users     []string   `bson:"users"`
	LastID    string     `bson:"last_id"`
	LastFrom  string     `bson:"last_from"`
	LastText  string     `bson:"last_text"`
	LastAt    time.Time  `bson:"last_at"`
	CreatedAt time.Time  `bson:"created_at"`
	UnreadA   int64      `bson:"unread_a"`
	UnreadB   int64      `bson:"unread_b"`
	ReadA     string     `bson:"read_a,omitempty"`
	ReadB     string     `bson:"read_b,omitempty"`
	WroteA    bool       `bson:"wrote_a,omitempty"`
	WroteB    bool       `bson:"wrote_b,omitempty"`
	NotifyA   *time.Time `bson:"notify_a,omitempty"`
	NotifyB   *time.Time `bson:"notify_b,omitempty"`
	MailedA   *time.Time `bson:"mailed_a,omitempty"`
	MailedB   *time.Time `bson:"mailed_b,omitempty"`
}

type messageDoc struct {
	ID          string    `bson:"_id"`
	Conv        string    `bson:"conv"`
	From        string    `bson:"from"`
	To          string    `bson:"to"`
	Text        string    `bson:"text"`
	AboutType   string    `bson:"about_type,omitempty"`
	AboutID     string    `bson:"about_id,omitempty"`
	AboutOwner  string    `bson:"about_owner,omitempty"`
	Attachments []string  `bson:"attachments,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	// EventPending marks a message owing its message.received event
	// (chat.Message.EventPending), until it is stored.
	EventPending bool `bson:"event_pending,omitempty"`
}

// sideSuffix names a side's fields: side 0 is a, side 1 is b.
func sideSuffix(side int) string {
	if side == 0 {
		return "_a"
	}
	return "_b"
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func conversationFromDoc(d conversationDoc) chat.Conversation {
	return chat.Conversation{
		ID: d.ID, LastID: d.LastID, LastFrom: d.LastFrom, LastText: d.LastText, LastAt: d.LastAt, CreatedAt: d.CreatedAt,
		Sides: [2]chat.Side{
			{UserID: d.A, Unread: d.UnreadA, ReadUpTo: d.ReadA, Wrote: d.WroteA, NotifyAt: timeOf(d.NotifyA), MailedAt: timeOf(d.MailedA)},
			{UserID: d.B, Unread: d.UnreadB, ReadUpTo: d.ReadB, Wrote: d.WroteB, NotifyAt: timeOf(d.NotifyB), MailedAt: timeOf(d.MailedB)},
		},
	}
}

func messageFromDoc(d messageDoc) chat.Message {
	return chat.Message{ID: d.ID, ConversationID: d.Conv, From: d.From, To: d.To, Text: d.Text,
		About: chat.Ref{Type: chat.AboutType(d.AboutType), ID: d.AboutID}, AboutOwner: d.AboutOwner,
		Attachments: d.Attachments, CreatedAt: d.CreatedAt, EventPending: d.EventPending}
}

func messageToDoc(m chat.Message) messageDoc {
	return messageDoc{ID: m.ID, Conv: m.ConversationID, From: m.From, To: m.To, Text: m.Text, AboutType: string(m.About.Type),
		AboutID: m.About.ID, AboutOwner: m.AboutOwner, Attachments: m.Attachments, CreatedAt: m.CreatedAt, EventPending: m.EventPending}
}

// lastTextLen is how much of the last message a conversation keeps.
const lastTextLen = 200

// Conversation implements chat.Store.
func (s *ChatStore) Conversation(ctx context.Context, id string) (chat.Conversation, error) {
	var d conversationDoc
	err := s.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return chat.Conversation{}, chat.ErrNoConversation
	}
	if err != nil {
		return chat.Conversation{}, err
	}
	return conversationFromDoc(d), nil
}

// InsertConversations adds conversations in one command, each as it is
// given (both sides' unread counts, read marks and mail times included),
// with no message recorded through Record: for the load generator's seed,
// which inserts their messages with InsertMessages. A duplicate ID stops
// it; those before it stay.
func (s *ChatStore) InsertConversations(ctx context.Context, cs []chat.Conversation) error {
	docs := make([]any, len(cs))
	for i, c := range cs {
		a, b := c.Sides[0], c.Sides[1]
		text := []rune(c.LastText)
		if len(text) > lastTextLen {
			text = text[:lastTextLen]
		}
		docs[i] = conversationDoc{ID: c.ID, A: a.UserID, B: b.UserID, Users: []string{a.UserID, b.UserID},
			LastID: c.LastID, LastFrom: c.LastFrom, LastText: string(text), LastAt: c.LastAt, CreatedAt: c.CreatedAt,
			UnreadA: a.Unread, UnreadB: b.Unread, ReadA: a.ReadUpTo, ReadB: b.ReadUpTo, WroteA: a.Wrote, WroteB: b.Wrote,
			NotifyA: optTime(a.NotifyAt), NotifyB: optTime(b.NotifyAt), MailedA: optTime(a.MailedAt), MailedB: optTime(b.MailedAt)}
	}
	return s.conversations.InsertMany(ctx, docs, true)
}

// InsertMessages adds messages in one command, each as it is given,
// without touching their conversations: for the load generator's seed
// (see InsertConversations). A duplicate ID stops it; those before it
// stay.
func (s *ChatStore) InsertMessages(ctx context.Context, ms []chat.Message) error {
	docs := make([]any, len(ms))
	for i, m := range ms {
		docs[i] = messageToDoc(m)
	}
	return s.messages.InsertMany(ctx, docs, true)
}

// InsertMessage implements chat.Store.
func (s *ChatStore) InsertMessage(ctx context.Context, m chat.Message) error {
	return s.messages.InsertOne(ctx, messageToDoc(m))
}

// EventStored implements chat.Store.
func (s *ChatStore) EventStored(ctx context.Context, id string) error {
	_, err := s.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "event_pending", Value: true}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "event_pending", Value: ""}}}}, false)
	return err
}

// EventsPending implements chat.Store, through the index on
// event_pending, which holds the few messages marked.
func (s *ChatStore) EventsPending(ctx context.Context, before time.Time, limit int) ([]chat.Message, error) {
	var out []chat.Message
	err := docdb.Each(ctx, s.messages, bson.D{{Key: "event_pending", Value: true}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: before}}}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)},
		func(d messageDoc) error {
			out = append(out, messageFromDoc(d))
			return nil
		})
	return out, err
}

// Record implements chat.Store: one write, two when the conversation is
// new and another message created it first, or when a later message was
// recorded first.
func (s *ChatStore) Record(ctx context.Context, c chat.Conversation, m chat.Message, notifyAt time.Time) error {
	from := c.Of(m.From)
	wrote, unread, notify := "wrote"+sideSuffix(from), "unread"+sideSuffix(1-from), "notify"+sideSuffix(1-from)
	text := []rune(m.Text)
	if len(text) > lastTextLen {
		text = text[:lastTextLen]
	}
	if c.CreatedAt.IsZero() {
		d := conversationDoc{ID: c.ID, A: c.Sides[0].UserID, B: c.Sides[1].UserID, Users: []string{c.Sides[0].UserID, c.Sides[1].UserID},
			LastID: m.ID, LastFrom: m.From, LastText: string(text), LastAt: m.CreatedAt, CreatedAt: m.CreatedAt}
		if from == 0 {
			d.WroteA, d.UnreadB = true, 1
		} else {
			d.WroteB, d.UnreadA = true, 1
		}
		if !notifyAt.IsZero() {
			if from == 0 {
				d.NotifyB = &notifyAt
			} else {
				d.NotifyA = &notifyAt
			}
		}
		err := s.conversations.InsertOne(ctx, d)
		if !docdb.IsDuplicate(err) {
			return err
		}
		// Another first message made it meanwhile: record this one in it.
	}
	set := bson.D{{Key: wrote, Value: true}}
	if !notifyAt.IsZero() {
		set = append(set, bson.E{Key: notify, Value: notifyAt})
	}
	inc := bson.D{{Key: unread, Value: int64(1)}}
	last := append(bson.D{{Key: "last_id", Value: m.ID}, {Key: "last_from", Value: m.From}, {Key: "last_text", Value: string(text)},
		{Key: "last_at", Value: m.CreatedAt}}, set...)
	n, err := s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "last_id", Value: bson.D{{Key: "$lt", Value: m.ID}}}},
		bson.D{{Key: "$set", Value: last}, {Key: "$inc", Value: inc}}, false)
	if err != nil || n == 1 {
		return err
	}
	// A later message is the last one already: count this one only.
	_, err = s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}},
		bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: inc}}, false)
	return err
}

// Message implements chat.Store.
func (s *ChatStore) Message(ctx context.Context, id string) (chat.Message, error) {
	var d messageDoc
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return chat.Message{}, chat.ErrMessageNotFound
	}
	if err != nil {
		return chat.Message{}, err
	}
	return messageFromDoc(d), nil
}

// Messages implements chat.Store: one find on the index of the
// conversation's messages by id.
func (s *ChatStore) Messages(ctx context.Context, conversationID, before string, limit int) ([]chat.Message, error) {
	q := bson.D{{Key: "conv", Value: conversationID}}
	if before != "" {
		q = append(q, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	ms, err := docdb.FindAll(ctx, s.messages, q, docdb.Query{Sort: bson.D{{Key: "_id", Value: -1}}, Limit: int64(limit)}, messageFromDoc)
	if ms == nil {
		ms = []chat.Message{}
	}
	return ms, err
}

// List implements chat.Store: one find and one count.
func (s *ChatStore) List(ctx context.Context, userID string, p page.Request) ([]chat.Conversation, int64, error) {
	return docdb.FindPage(ctx, s.conversations, bson.D{{Key: "users", Value: userID}},
		bson.D{{Key: "last_at", Value: -1}, {Key: "_id", Value: -1}}, p, conversationFromDoc)
}

// CountUnread implements chat.Store.
func (s *ChatStore) CountUnread(ctx context.Context, conversationID, from, after string) (int64, error) {
	return s.messages.Count(ctx, bson.D{{Key: "conv", Value: conversationID}, {Key: "from", Value: from},
		{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}})
}

// MarkRead implements chat.Store.
func (s *ChatStore) MarkRead(ctx context.Context, id string, side int, upTo string, unread int64, lastID string) error {
	n, err := s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "last_id", Value: lastID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "read" + sideSuffix(side), Value: upTo}, {Key: "unread" + sideSuffix(side), Value: unread}}}}, false)
	if err == nil && n == 0 {
		return chat.ErrStale
	}
	return err
}

// Unread implements chat.Store: two sums, the user's conversations as a
// and as b.
func (s *ChatStore) Unread(ctx context.Context, userID string) (int64, error) {
	a, err := s.conversations.Sum(ctx, bson.D{{Key: "a", Value: userID}}, "unread_a")
	if err != nil {
		return 0, err
	}
	b, err := s.conversations.Sum(ctx, bson.D{{Key: "b", Value: userID}}, "unread_b")
	return a + b, err
}

// Since implements chat.Store.
func (s *ChatStore) Since(ctx context.Context, t time.Time, limit int) ([]chat.Message, error) {
	return docdb.FindAll(ctx, s.messages, bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: t}}}},
		docdb.Query{Sort: bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, Limit: int64(limit)}, messageFromDoc)
}

// Received implements chat.Store (index messages_to_about_owner).
func (s *ChatStore) Received(ctx context.Context, userID, owner string) (bool, error) {
	var d struct {
		ID string `bson:"_id"`
	}
	err := s.messages.FindOne(ctx, bson.D{{Key: "to", Value: userID}, {Key: "about_owner", Value: owner}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return false, nil
	}
	return err == nil, err
}

// MailDue implements chat.Store.
func (s *ChatStore) MailDue(ctx context.Context, now time.Time, limit int) ([]chat.Conversation, error) {
	due := bson.D{{Key: "$lte", Value: now}}
	return docdb.FindAll(ctx, s.conversations,
		bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "notify_a", Value: due}}, bson.D{{Key: "notify_b", Value: due}}}}},
		docdb.Query{Limit: int64(limit)}, conversationFromDoc)
}

// SetNotify implements chat.Store.
func (s *ChatStore) SetNotify(ctx context.Context, id string, side int, was, next, mailedAt time.Time) error {
	notify, mailed := "notify"+sideSuffix(side), "mailed"+sideSuffix(side)
	var set, unset bson.D
	if next.IsZero() {
		unset = bson.D{{Key: notify, Value: ""}}
	} else {
		set = bson.D{{Key: notify, Value: next}}
	}
	if !mailedAt.IsZero() {
		set = append(set, bson.E{Key: mailed, Value: mailedAt})
	}
	var update bson.D
	if set != nil {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if unset != nil {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	n, err := s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: notify, Value: was}}, update, false)
	if err == nil && n == 0 {
		return chat.ErrStale
	}
	return err
}

// EachAttachment implements chat.Store.
func (s *ChatStore) EachAttachment(ctx context.Context, fn func(string) error) error {
	return docdb.Each(ctx, s.messages, bson.D{{Key: "attachments", Value: bson.D{{Key: "$exists", Value: true}}}},
		docdb.Query{Fields: []string{"attachments"}}, func(d struct {
			Attachments []string `bson:"attachments"`
		}) error {
			for _, u := range d.Attachments {
				if err := fn(u); err != nil {
					return err
				}
			}
			return nil
		})
}
