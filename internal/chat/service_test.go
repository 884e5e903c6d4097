package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"microtask/internal/app/apptest"
	"microtask/internal/auth"
	"microtask/internal/chat"
	"microtask/internal/mail"
	"microtask/internal/storage/storagetest"
	"microtask/internal/user"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var seq atomic.Int64

// verified adds an active worker with a verified email.
func verified(t *testing.T, e *apptest.Env) auth.Principal {
	t.Helper()
	id := fmt.Sprintf("reader%d", seq.Add(1))
	u := user.User{ID: id, Name: "Name of " + id, Email: id + "@example.com", Role: auth.RoleWorker, Status: user.StatusActive,
		EmailVerified: true, CreatedAt: e.Clock.Now()}
	if err := e.Stores.Users.Insert(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	return auth.Principal{UserID: id, Role: auth.RoleWorker}
}

func friends(t *testing.T, e *apptest.Env, x, y auth.Principal) {
	t.Helper()
	ctx := context.Background()
	f, _, err := e.Friends.Ask(ctx, x, y.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Friends.Accept(ctx, y, f.ID); err != nil {
		t.Fatal(err)
	}
}

func send(t *testing.T, e *apptest.Env, from auth.Principal, to, text string) chat.Message {
	t.Helper()
	m, err := e.Chat.Send(context.Background(), from, to, chat.Draft{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mailTo returns the messages in the outbox to the user.
func mailTo(t *testing.T, e *apptest.Env, p auth.Principal) []mail.Queued {
	t.Helper()
	all, err := e.Stores.Mail.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []mail.Queued
	for _, q := range all {
		if q.Message.To == p.UserID+"@example.com" && strings.Contains(q.Message.Subject, "unread messages") {
			out = append(out, q)
		}
	}
	return out
}

// TestUnreadConversationsAreMailed: a conversation left unread is mailed
// to its reader once it has been so for MailAfter, at most once per
// conversation every MailEvery, not while the reader is connected, not once
// read, and not to a reader who turned it off.
func TestUnreadConversationsAreMailed(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	round := func() int {
		t.Helper()
		n, err := e.Chat.MailUnread(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	x, y := verified(t, e), verified(t, e)
	friends(t, e, x, y)

	send(t, e, x, y.UserID, "Are you there?")
	e.Clock.Advance(chat.MailAfter - time.Second)
	if n := round(); n != 0 {
		t.Errorf("mailed %d before MailAfter", n)
	}
	e.Clock.Advance(time.Second)
	if n := round(); n != 1 {
		t.Fatalf("mailed %d at MailAfter, want 1", n)
	}
	got := mailTo(t, e, y)
	if len(got) != 1 || !strings.Contains(got[0].Message.Text, "Are you there?") || !strings.Contains(got[0].Message.Text, "/dashboard/messages/"+x.UserID) {
		t.Fatalf("mail to y = %+v", got)
	}
	if n := round(); n != 0 || len(mailTo(t, e, x)) != 0 {
		t.Errorf("a second round mailed %d; the sender got %d", n, len(mailTo(t, e, x)))
	}

	// More messages: not again within MailEvery of the last mail.
	send(t, e, x, y.UserID, "Hello?")
	e.Clock.Advance(chat.MailAfter)
	if n := round(); n != 0 {
		t.Errorf("mailed %d within MailEvery", n)
	}
	e.Clock.Advance(chat.MailEvery - chat.MailAfter)
	if n := round(); n != 1 || len(mailTo(t, e, y)) != 2 {
		t.Errorf("after MailEvery: mailed %d, y has %d mails; want 1 and 2", n, len(mailTo(t, e, y)))
	}

	// Read: nothing to mail.
	m := send(t, e, x, y.UserID, "Last one")
	if err := e.Chat.MarkRead(ctx, y, x.UserID, m.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(chat.MailEvery)
	if n := round(); n != 0 {
		t.Errorf("mailed %d about a read conversation", n)
	}

	// Connected: the reader may read it yet; mailed once they are gone.
	sub, err := e.Notifications.Subscribe(y.UserID)
	if err != nil {
		t.Fatal(err)
	}
	send(t, e, x, y.UserID, "While you are here")
	e.Clock.Advance(chat.MailEvery)
	if n := round(); n != 0 {
		t.Errorf("mailed %d to a connected reader", n)
	}
	sub.Cancel()
	e.Clock.Advance(chat.MailAfter)
	if n := round(); n != 1 {
		t.Errorf("mailed %d once the reader left, want 1", n)
	}

	// Turned off: never.
	z := verified(t, e)
	friends(t, e, x, z)
	if _, err := e.Users.SetEmailOptIns(ctx, z, z.UserID, map[string]bool{"messages": false}); err != nil {
		t.Fatal(err)
	}
	send(t, e, x, z.UserID, "You will not hear of this")
	e.Clock.Advance(chat.MailEvery)
	if n := round(); n != 0 || len(mailTo(t, e, z)) != 0 {
		t.Errorf("mailed %d to a reader who turned it off", n)
	}
}
