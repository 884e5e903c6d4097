package mail

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"microtask/internal/platform/idgen"
)

// Queued is a message in the outbox.
type Queued struct {
	ID        string
	Message   Message
	Attempts  int       // sends tried so far
	NextAt    time.Time // when it is due; zero once it has failed for good
	LastError string
	CreatedAt time.Time
}

// Store keeps the outbox. storage.MailStore implements it.
type Store interface {
	// Insert adds a message to the outbox; one whose ID is there already
	// is left as it is.
	Insert(ctx context.Context, q Queued) error
	// InsertAll adds messages in one command, as Insert adds one.
	InsertAll(ctx context.Context, qs []Queued) error
	// Due returns up to limit messages due at now, the oldest due first.
	Due(ctx context.Context, now time.Time, limit int) ([]Queued, error)
	// Claim takes the attempt number attempts+1 of a message still at
	// attempts tries, and makes it due again only at until, so that no
	// other instance sends it meanwhile. False if another took it.
	Claim(ctx context.Context, id string, attempts int, until time.Time) (bool, error)
	// Retry records a failed attempt: the message is due again at next, or
	// never if next is zero.
	Retry(ctx context.Context, id string, next time.Time, lastError string) error
	// Delete removes a message that was sent.
	Delete(ctx context.Context, id string) error
}

// MaxAttempts is how many times a message is tried before the outbox gives
// up on it (and logs an error): about two days at the delays of Backoff.
const MaxAttempts = 12

// claimFor is how long a claimed message stays out of Due while it is being
// sent: longer than any send takes, so that no instance sends it twice.
const claimFor = 5 * time.Minute

// Backoff is how long the outbox waits after the n-th failed attempt
// before the next: 30 s, doubling, at most 8 h.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 8*time.Hour; i++ {
		d *= 2
	}
	return min(d, 8*time.Hour)
}

// Outbox queues messages and delivers them.
type Outbox struct {
	store  Store
	sender Sender
	log    *slog.Logger
	now    func() time.Time
	wake   chan struct{}
}

// NewOutbox returns an outbox that delivers through sender. now may be nil
// for time.Now.
func NewOutbox(store Store, sender Sender, log *slog.Logger, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{store: store, sender: sender, log: log, now: now, wake: make(chan struct{}, 1)}
}

// Enqueue stores m for delivery and wakes the delivery loop: one database
// write, never a wait for the mail server.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	now := o.now().UTC()
	if err := o.store.Insert(ctx, Queued{ID: idgen.New(), Message: m, NextAt: now, CreatedAt: now}); err != nil {
		return fmt.Errorf("queue mail to %s: %w", m.To, err)
	}
	o.poke()
	return nil
}

// MailOnce queues a message under id: queued again (by a round repeated
// after a crash, or by another instance), it is not sent twice.
func (o *Outbox) MailOnce(ctx context.Context, id, to, subject, text string) error {
	now := o.now().UTC()
	err := o.store.Insert(ctx, Queued{ID: id, Message: Message{To: to, Subject: subject, Text: text}, NextAt: now, CreatedAt: now})
	if err != nil {
		return fmt.Errorf("queue mail to %s: %w", to, err)
	}
	o.poke()
	return nil
}

// Once is a message queued under an id, sent once however often it is
// queued.
type Once struct {
	ID string
	Message
}

// MailAllOnce queues messages as MailOnce does, in one database write: the
// bounded batches of a mailing to many users.
func (o *Outbox) MailAllOnce(ctx context.Context, ms []Once) error {
	if len(ms) == 0 {
		return nil
	}
	now := o.now().UTC()
	qs := make([]Queued, len(ms))
	for i, m := range ms {
		qs[i] = Queued{ID: m.ID, Message: m.Message, NextAt: now, CreatedAt: now}
	}
	if err := o.store.InsertAll(ctx, qs); err != nil {
		return fmt.Errorf("queue %d mails: %w", len(ms), err)
	}
	o.poke()
	return nil
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Mail queues a message: Enqueue for those who know no Message.
func (o *Outbox) Mail(ctx context.Context, to, subject, text string) error {
	return o.Enqueue(ctx, Message{To: to, Subject: subject, Text: text})
}

// Deliver sends the messages due now and returns how many it sent. A failed
// send is logged and retried later; the last failure is an error in the
// log, with the message left in the outbox for an operator.
func (o *Outbox) Deliver(ctx context.Context) (int, error) {
	due, err := o.store.Due(ctx, o.now().UTC(), 50)
	if err != nil {
		return 0, fmt.Errorf("read the outbox: %w", err)
	}
	sent := 0
	for _, q := range due {
		ok, err := o.store.Claim(ctx, q.ID, q.Attempts, o.now().UTC().Add(claimFor))
		if err != nil {
			return sent, fmt.Errorf("claim mail %s: %w", q.ID, err)
		}
		if !ok {
			continue // another instance took it
		}
		attempt := q.Attempts + 1
		sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err = o.sender.Send(sendCtx, q.Message)
		cancel()
		if err == nil {
			sent++
			if err := o.store.Delete(ctx, q.ID); err != nil {
				return sent, fmt.Errorf("delete sent mail %s: %w", q.ID, err)
			}
			continue
		}
		var next time.Time
		if attempt < MaxAttempts {
			next = o.now().UTC().Add(Backoff(attempt))
			o.log.WarnContext(ctx, "mail not sent; will retry", "mail_id", q.ID, "to", q.Message.To, "attempt", attempt,
				"retry_at", next, "err", err)
		} else {
			o.log.ErrorContext(ctx, "mail not sent; giving up", "mail_id", q.ID, "to", q.Message.To, "attempt", attempt, "err", err)
		}
		if err := o.store.Retry(ctx, q.ID, next, err.Error()); err != nil {
			return sent, fmt.Errorf("schedule mail %s again: %w", q.ID, err)
		}
	}
	return sent, nil
}

// Run delivers whenever a message is queued and every interval (for the
// retries, and for messages other instances queued), until ctx is done.
func (o *Outbox) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := o.Deliver(ctx); err != nil && ctx.Err() == nil {
			o.log.ErrorContext(ctx, "mail delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
	}
}
