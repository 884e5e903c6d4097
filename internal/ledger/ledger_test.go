package ledger_test

import (
	"slices"
	"testing"

	"microtask/internal/ledger"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		ps   []ledger.Posting
		ok   bool
	}{
		{"none", nil, true},
		{"a move", ledger.Move(ledger.Mint, "user:a", 5), true},
		{"three ways", []ledger.Posting{{Account: "user:a", Amount: -3}, {Account: "user:b", Amount: -5}, {Account: "escrow:t", Amount: 8}}, true},
		{"one posting", []ledger.Posting{{Account: "user:a", Amount: 1}}, false},
		{"does not sum to zero", []ledger.Posting{{Account: ledger.Mint, Amount: -1}, {Account: "user:a", Amount: 2}}, false},
		{"zero amount", ledger.Move(ledger.Mint, "user:a", 0), false},
		{"unknown kind of account", ledger.Move(ledger.Mint, "bank:a", 1), false},
		{"no owner", ledger.Move(ledger.Mint, "user:", 1), false},
		{"same account twice", ledger.Move("user:a", "user:a", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ledger.Validate(tt.ps); (err == nil) != tt.ok {
				t.Errorf("Validate(%v) = %v, want ok %v", tt.ps, err, tt.ok)
			}
		})
	}
}

func TestOrderedPutsDebitsFirst(t *testing.T) {
	ps := []ledger.Posting{{Account: "escrow:t", Amount: 8}, {Account: "user:b", Amount: -5}, {Account: "user:a", Amount: -3}}
	got := ledger.Ordered(ps)
	want := []ledger.Posting{{Account: "user:a", Amount: -3}, {Account: "user:b", Amount: -5}, {Account: "escrow:t", Amount: 8}}
	if !slices.Equal(got, want) {
		t.Errorf("Ordered() = %v, want %v", got, want)
	}
	if ps[0].Account != "escrow:t" {
		t.Errorf("Ordered() changed its argument")
	}
}
