package apptest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is a requester's webhook endpoint for tests: an httptest
// server that checks each delivery's signature exactly as the README tells
// receivers to (Microtask-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" keyed by the endpoint's secret>, t within five minutes of
// its clock), and keeps every request and its answer.
type Receiver struct {
	URL string

	mu     sync.Mutex
	secret string
	now    func() time.Time
	fail   func(eventType string, attempt int) int // the status to answer; 0: 200
	got    []Received
	ok     map[string]int // event id -> requests answered 200
}

// Received is one request the receiver got.
type Received struct {
	EventID    string
	Type       string
	Body       []byte
	Delivery   string // Microtask-Delivery
	Valid      bool   // the signature verified
	Status     int    // what the receiver answered
	ReceivedAt time.Time
}

// NewReceiver starts a receiver checking timestamps against now (the
// services' clock), closed at the end of the test.
func NewReceiver(t testing.TB, now func() time.Time) *Receiver {
	t.Helper()
	r := &Receiver{now: now, ok: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks"
	return r
}

// SetSecret sets the endpoint's signing secret, answered when it was made.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

// FailWith makes the receiver answer f's status (0 for 200) to the
// attempt-th delivery (from 1) of each event of a type.
func (r *Receiver) FailWith(f func(eventType string, attempt int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	got := Received{EventID: ev.ID, Type: ev.Type, Body: body, Delivery: req.Header.Get("Microtask-Delivery"),
		Valid: verify(r.secret, req.Header.Get("Microtask-Signature"), body, r.now()), ReceivedAt: r.now()}
	attempt := 1
	for _, g := range r.got {
		if g.EventID == ev.ID && g.Delivery == got.Delivery {
			attempt++
		}
	}
	got.Status = http.StatusOK
	if !got.Valid {
		got.Status = http.StatusBadRequest
	} else if r.fail != nil {
		if s := r.fail(ev.Type, attempt); s != 0 {
			got.Status = s
		}
	}
	r.got = append(r.got, got)
	if got.Status == http.StatusOK {
		r.ok[ev.ID]++
	}
	w.WriteHeader(got.Status)
	_, _ = w.Write([]byte(strings.Repeat("ok", 1000))) // more than the sender reads
}

// verify is the receiver's side of the signature, written from the
// README rather than from package webhook.
func verify(secret, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// Got returns every request received, in order.
func (r *Receiver) Got() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Succeeded returns how many requests of each event were answered 200: a
// receiver that keeps the ids it has handled handles each of those events
// once.
func (r *Receiver) Succeeded() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.ok))
	for id, n := range r.ok {
		out[id] = n
	}
	return out
}
