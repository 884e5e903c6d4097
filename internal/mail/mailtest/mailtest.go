// Package mailtest runs a real SMTP server in the test process that keeps
// the messages it receives, so that tests read the links out of the mail
// the platform sends and follow them.
package mailtest

import (
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is a message the server received.
type Message struct {
	From    string
	To      []string
	Subject string
	Text    string // the body, decoded
}

// Server is an SMTP server on a loopback port.
type Server struct {
	srv *smtp.Server
	url string

	mu       sync.Mutex
	messages []Message
	failNext int
	changed  chan struct{} // closed and replaced whenever a message arrives
}

// New starts a server that the test stops at its end.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{url: "smtp://" + ln.Addr().String(), changed: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// URL is the server's SMTP_URL.
func (s *Server) URL() string { return s.url }

// FailNext has the server refuse the next n messages with a temporary error.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the first message to `to` whose subject contains subject,
// waiting for it for up to 20 s.
func (s *Server) Wait(t testing.TB, to, subject string) Message {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.messages {
			if contains(m.To, to) && strings.Contains(m.Subject, subject) {
				s.mu.Unlock()
				return m
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no mail to %s about %q; received %+v", to, subject, s.Messages())
			return Message{}
		}
	}
}

// Count returns how many messages were received for to.
func (s *Server) Count(to string) int {
	n := 0
	for _, m := range s.Messages() {
		if contains(m.To, to) {
			n++
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

var tokenRe = regexp.MustCompile(`[?&]token=([A-Za-z0-9_-]+)`)

// Token returns the token of the first link in m that carries one.
func Token(t testing.TB, m Message) string {
	t.Helper()
	match := tokenRe.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no link with a token in %q", m.Text)
	}
	return match[1]
}

func (s *Server) receive(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return errors.New("bad subject")
	}
	return x.s.receive(Message{From: x.from, To: x.to, Subject: subject, Text: string(text)})
}
