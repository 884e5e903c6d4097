package chat

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// dueSide is a side of a conversation the mail round looks at.
type dueSide struct {
	c    Conversation
	side int
}

// MailUnread mails the users who left a conversation unread since
// MailAfter, are not connected to this instance, and want mail about
// messages (preference messages, on by default): at most once per
// conversation every MailEvery, through the outbox under an id of the
// conversation's state, so that a round repeated after a crash, or by
// another instance, mails nothing twice. It returns how many it queued.
func (s *Service) MailUnread(ctx context.Context) (int, error) {
	now := s.clock()
	cs, err := s.store.MailDue(ctx, now, 100)
	if err != nil {
		return 0, fmt.Errorf("find unread conversations: %w", err)
	}
	var due []dueSide
	var ids []string
	for _, c := range cs {
		for i, sd := range c.Sides {
			if !sd.NotifyAt.IsZero() && !sd.NotifyAt.After(now) {
				due = append(due, dueSide{c, i})
				ids = append(ids, sd.UserID, c.Sides[1-i].UserID)
			}
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	rs, err := s.recipients.MessageRecipients(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("find recipients: %w", err)
	}
	cards, err := s.cards(ctx, ids)
	if err != nil {
		return 0, err
	}
	queued := 0
	var errs []error
	for _, d := range due {
		sd, other := d.c.Sides[d.side], d.c.Sides[1-d.side].UserID
		next, mailed := time.Time{}, time.Time{}
		r, wants := rs[sd.UserID]
		switch {
		case sd.Unread == 0 || !wants:
		case !sd.MailedAt.IsZero() && now.Before(sd.MailedAt.Add(MailEvery)):
			next = sd.MailedAt.Add(MailEvery)
		case s.presence.Connected(sd.UserID):
			next = now.Add(MailAfter) // they may read it yet
		default:
			text := fmt.Sprintf("Hello %s,\n\n%s wrote to you on Microtask, and %d message(s) are unread:\n\n“%s”\n\nRead and answer: %s/%s\n\n"+
				"You get this mail because messages are mailed when left unread; turn it off in your profile's notification settings (messages).\n",
				r.Name, cards[other].Name, sd.Unread, snippet(d.c.LastText, 300), s.messagesURL, other)
			id := "chat:" + d.c.ID + ":" + sd.UserID + ":" + d.c.LastID
			if err := s.mailer.MailOnce(ctx, id, r.Email, "Microtask: unread messages from "+cards[other].Name, text); err != nil {
				errs = append(errs, fmt.Errorf("mail conversation %s to %s: %w", d.c.ID, sd.UserID, err))
				continue
			}
			mailed = now
			queued++
		}
		if err := s.store.SetNotify(ctx, d.c.ID, d.side, sd.NotifyAt, next, mailed); err != nil && !errors.Is(err, ErrStale) {
			errs = append(errs, fmt.Errorf("update conversation %s: %w", d.c.ID, err))
		}
	}
	return queued, errors.Join(errs...)
}
