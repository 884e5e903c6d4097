// Package mail sends the platform's email: messages are queued in an outbox
// kept in the database, so that a request never waits for an SMTP server and
// a crash loses nothing, and a delivery loop sends them, retrying failures
// with growing delays.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email to one recipient, in plain text.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender hands a message to a mail server.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Observer is told of every message a sender handed over, or failed to
// (metrics.Metrics).
type Observer interface {
	Called(service string, err error, d time.Duration)
}

// Observed returns s telling o of every send, as a call to service (smtp).
func Observed(s Sender, service string, o Observer) Sender {
	return observed{s: s, service: service, o: o}
}

type observed struct {
	s       Sender
	service string
	o       Observer
}

func (x observed) Send(ctx context.Context, m Message) error {
	start := time.Now()
	err := x.s.Send(ctx, m)
	x.o.Called(x.service, err, time.Since(start))
	return err
}

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	URL     string // smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465
	From    string // the sender's address, e.g. "Microtask <no-reply@example.com>"
	Timeout time.Duration
}

// ParseSMTPURL checks an SMTP_URL: scheme smtp or smtps, a host, an
// optional port, optional credentials.
func ParseSMTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("must be a URL such as smtp://user:pass@host:587")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, errors.New("must start with smtp:// or smtps://")
	}
	if u.Hostname() == "" {
		return nil, errors.New("must name a host, as in smtp://user:pass@host:587")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("has a bad port")
		}
	}
	return u, nil
}

// SMTP sends through an SMTP server with go-mail.
type SMTP struct {
	from string
	opts []gomail.Option
	host string
}

// NewSMTP returns a sender for c.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	u, err := ParseSMTPURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL %w", err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, gomail.WithSSL())
	} else {
		// STARTTLS whenever the server offers it; a local relay or a
		// development catcher may not.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	opts = append(opts, gomail.WithPort(port))
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	return &SMTP{from: c.From, opts: opts, host: u.Hostname()}, nil
}

// Send implements Sender: one connection per message, which suits the
// platform's trickle of mail.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("connect to the mail server %s: %w", s.host, err)
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// Log is the sender of development: it writes each message to the log at
// info level, where the README says to look for links.
type Log struct{ Log *slog.Logger }

// Send implements Sender.
func (l Log) Send(ctx context.Context, m Message) error {
	l.Log.InfoContext(ctx, "mail (not sent: SMTP_URL is not set)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
