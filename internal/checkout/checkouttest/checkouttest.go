// Package checkouttest runs stripe-mock, Stripe's official mock of its API,
// for the tests of the Stripe gateway, and signs webhook payloads as Stripe
// does.
package checkouttest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// WebhookSecret is the signing secret tests configure and sign with.
const WebhookSecret = "whsec_test_microtask"

var (
	once    sync.Once
	cmd     *exec.Cmd
	baseURL string
	err     error
)

// StripeMockURL returns the HTTP address of a stripe-mock started for this
// test binary. It looks for the binary in $STRIPE_MOCK, then in the module's
// bin/ (where make test installs it), then on the PATH.
func StripeMockURL(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if err != nil {
		t.Fatalf("stripe-mock: %v", err)
	}
	return baseURL
}

func find() (string, error) {
	if p := os.Getenv("STRIPE_MOCK"); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "bin", "stripe-mock")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
		}
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("not found: run make test, which installs it into ./bin, or go install github.com/stripe/stripe-mock@v0.203.0")
}

func start() {
	bin, e := find()
	if e != nil {
		err = e
		return
	}
	ln, e := net.Listen("tcp", "127.0.0.1:0")
	if e != nil {
		err = e
		return
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd = exec.Command(bin, "-http-addr", addr, "-https-addr", "127.0.0.1:0")
	setParentDeathSignal(cmd)
	if e := cmd.Start(); e != nil {
		err = fmt.Errorf("start %s: %w", bin, e)
		return
	}
	// It loads Stripe's OpenAPI document first: give it time.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, e := net.Dial("tcp", addr); e == nil {
			c.Close()
			baseURL = "http://" + addr
			return
		}
	}
	_ = cmd.Process.Kill()
	err = fmt.Errorf("not listening on %s after 60s", addr)
}

// Stop stops stripe-mock if it was started. Call it from TestMain.
func Stop() {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// Session is the part of a Checkout Session a webhook event carries.
type Session struct {
	ID            string
	PaymentID     string // metadata.payment_id
	PaymentIntent string // empty: null, as before the session is paid
	PaymentStatus string // "paid", "unpaid"
	AmountTotal   int64
	Currency      string
}

// Event returns the JSON of a webhook event of the given type about s, as
// Stripe sends it.
func Event(t testing.TB, eventID, typ string, s Session) []byte {
	t.Helper()
	return event(t, eventID, typ, map[string]any{
		"id": s.ID, "object": "checkout.session", "payment_status": s.PaymentStatus, "amount_total": s.AmountTotal,
		"currency": s.Currency, "client_reference_id": s.PaymentID, "mode": "payment", "status": "complete",
		"metadata": map[string]string{"payment_id": s.PaymentID}, "payment_intent": orNull(s.PaymentIntent),
	})
}

// Charge is the part of a charge a charge.refunded event carries.
type Charge struct {
	ID             string
	PaymentIntent  string
	Amount         int64
	AmountRefunded int64 // every refund so far
	Currency       string
}

// RefundEvent returns the JSON of a charge.refunded event about c.
func RefundEvent(t testing.TB, eventID string, c Charge) []byte {
	t.Helper()
	return event(t, eventID, "charge.refunded", map[string]any{
		"id": c.ID, "object": "charge", "payment_intent": orNull(c.PaymentIntent), "amount": c.Amount,
		"amount_captured": c.Amount, "amount_refunded": c.AmountRefunded, "currency": c.Currency,
		"refunded": c.AmountRefunded == c.Amount, "paid": true, "status": "succeeded", "metadata": map[string]string{},
	})
}

// Dispute is the part of a dispute a charge.dispute.created event carries.
type Dispute struct {
	ID            string
	Charge        string
	PaymentIntent string
	Amount        int64
	Currency      string
}

// DisputeEvent returns the JSON of a charge.dispute.created event about d.
func DisputeEvent(t testing.TB, eventID string, d Dispute) []byte {
	t.Helper()
	return event(t, eventID, "charge.dispute.created", map[string]any{
		"id": d.ID, "object": "dispute", "charge": d.Charge, "payment_intent": orNull(d.PaymentIntent),
		"amount": d.Amount, "currency": d.Currency, "reason": "fraudulent", "status": "needs_response",
		"metadata": map[string]string{},
	})
}

func event(t testing.TB, eventID, typ string, obj map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": eventID, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "data": map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func orNull(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// Sign returns the Stripe-Signature header for payload, signed with secret
// at time at.
func Sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}
