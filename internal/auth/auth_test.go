package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordProblem(t *testing.T) {
	tests := []struct {
		pw   string
		want string
	}{
		{"Passw0rd", ""},
		{"Pässw0rdé", ""},
		{"Pa5sw", "must be at least 8 characters"},
		{"password1", "must contain an upper-case letter, a lower-case letter and a digit"},
		{"PASSWORD1", "must contain an upper-case letter, a lower-case letter and a digit"},
		{"Password", "must contain an upper-case letter, a lower-case letter and a digit"},
		{"Aa1" + strings.Repeat("x", 69), ""},
		{"Aa1" + strings.Repeat("x", 70), "must be at most 72 bytes"},
		{"Aa1" + strings.Repeat("é", 35), "must be at most 72 bytes"}, // 73 bytes, 38 characters
	}
	for _, tt := range tests {
		if got := PasswordProblem(tt.pw); got != tt.want {
			t.Errorf("PasswordProblem(%q) = %q, want %q", tt.pw, got, tt.want)
		}
	}
}

func TestHasher(t *testing.T) {
	h, err := NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash("Passw0rd")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		hash []byte
		pw   string
		want bool
	}{
		{hash, "Passw0rd", true},
		{hash, "passw0rd", false},
		{nil, "Passw0rd", false},
	} {
		if got, err := h.Check(tt.hash, tt.pw); got != tt.want || err != nil {
			t.Errorf("Check(%q) = %v, %v; want %v", tt.pw, got, err, tt.want)
		}
	}
}

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tk := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, clock)
	tok, exp, err := tk.Issue(Claims{UserID: "u1", Role: RoleBuyer, Version: 3})
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("Issue() = %v, %v", exp, err)
	}
	c, err := tk.Verify(tok)
	if err != nil || c.ID == "" || !c.ExpiresAt.Equal(now.Add(time.Hour)) ||
		c != (Claims{UserID: "u1", Role: RoleBuyer, Version: 3, ID: c.ID, ExpiresAt: c.ExpiresAt}) {
		t.Errorf("Verify() = %+v, %v", c, err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := tk.Verify(tok); err != ErrTokenExpired {
		t.Errorf("Verify() after expiry error = %v, want ErrTokenExpired", err)
	}
}

func TestTicketsAndTokensAreNotInterchangeable(t *testing.T) {
	tk := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, nil)
	c := Claims{UserID: "u1", Role: RoleWorker}
	access, _, _ := tk.Issue(c)
	ticket, exp, _ := tk.IssueTicket(c)
	if d := time.Until(exp); d > TicketTTL || d < TicketTTL-time.Second {
		t.Errorf("ticket lives %v, want %v", d, TicketTTL)
	}
	if _, err := tk.VerifyTicket(ticket); err != nil {
		t.Errorf("VerifyTicket(ticket) = %v", err)
	}
	if _, err := tk.Verify(ticket); err != ErrInvalidToken {
		t.Errorf("Verify(ticket) = %v, want ErrInvalidToken", err)
	}
	if _, err := tk.VerifyTicket(access); err != ErrInvalidToken {
		t.Errorf("VerifyTicket(access token) = %v, want ErrInvalidToken", err)
	}
}
